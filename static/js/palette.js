// Colours: Okabe–Ito for categories (colour-blind safe), Viridis and Cividis for values.
export const OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
export const ROLE = {
  current: "#0072B2", // the cell being computed
  lit: "#E69F00", // what it reads
  fed: "#D55E00", // what an input cell feeds
  source: "#009E73", // where a copied padding value comes from
  pad: "#CC79A7", // padding
  veil: "rgba(251, 251, 253, 0.82)", // not computed yet
};

const STOPS = {
  Viridis: ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70", "#7ad151",
    "#bddf26", "#fde725"],
  Cividis: ["#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678", "#a59c74", "#c3b369", "#e1cc55",
    "#fee838"],
};

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const TABLES = Object.fromEntries(Object.entries(STOPS).map(([name, stops]) => [name, buildTable(stops.map(hex))]));

function buildTable(rgb) {
  // 256 entries interpolated between the stops, computed once per scale.
  const table = [];
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1);
    const lo = Math.min(Math.floor(t), rgb.length - 2);
    const f = t - lo;
    const c = rgb[lo].map((v, j) => Math.round(v + (rgb[lo + 1][j] - v) * f));
    const luminance = (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
    table.push({ fill: `rgb(${c.join(",")})`, ink: luminance > 0.5 ? "#1d1d1f" : "#ffffff" });
  }
  return table;
}

/** A function value -> {fill, ink} over [zmin, zmax]; a flat range maps to the middle. */
export function colorScale(name, zmin, zmax) {
  const table = TABLES[name] || TABLES.Viridis;
  const span = zmax - zmin;
  return (v) => {
    if (v === null || v === undefined || Number.isNaN(v)) return { fill: "#ffffff", ink: "#1d1d1f" };
    const i = span > 0 ? Math.round(((v - zmin) / span) * 255) : 128;
    return table[Math.max(0, Math.min(255, i))];
  };
}

export function groupColor(g) {
  return OKABE_ITO[g % OKABE_ITO.length];
}
