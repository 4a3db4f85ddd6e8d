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

const DARK = [29, 29, 31];
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];

const STOPS = {
  Viridis: ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70", "#7ad151",
    "#bddf26", "#fde725"],
  Cividis: ["#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678", "#a59c74", "#c3b369", "#e1cc55",
    "#fee838"],
};

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const TABLES = {}; // each scale's table, built when it is first asked for (not while the page's modules load)
const table = (name) => TABLES[name] || (TABLES[name] = buildTable(STOPS[name].map(hex)));

function buildTable(rgb) {
  // 256 entries interpolated between the stops, computed once per scale.
  const table = [];
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1);
    const lo = Math.min(Math.floor(t), rgb.length - 2);
    const f = t - lo;
    const c = rgb[lo].map((v, j) => Math.round(v + (rgb[lo + 1][j] - v) * f));
    table.push({ fill: `rgb(${c.join(",")})`, rgb: c, ink: inkFor(c) });
  }
  return table;
}

/** WCAG relative luminance of an [r, g, b] colour (0–255 channels). */
export function luminance(rgb) {
  const lin = (v) => { const x = v / 255; return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
}

/** WCAG contrast ratio of two [r, g, b] colours (1 to 21). */
export function contrast(a, b) {
  return ratio(luminance(a), luminance(b));
}

const ratio = (la, lb) => (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
const INKS = { dark: luminance(DARK), white: luminance(WHITE), black: luminance(BLACK) };

/**
 * The ink for a value written on a cell of colour rgb: dark or white, whichever contrasts more; pure black
 * where neither reaches 4.7:1 (mid-luminance fills), so a value is always readable at better than 4.5:1.
 */
export function inkFor(rgb) {
  const l = luminance(rgb); // once, not once per ink compared
  const dark = ratio(l, INKS.dark);
  const white = ratio(l, INKS.white);
  if (white >= dark && white >= 4.7) return "#ffffff";
  if (dark >= 4.7) return "#1d1d1f";
  return white >= ratio(l, INKS.black) ? "#ffffff" : "#000000";
}

/** A tint of alpha over an opaque colour, as the canvas would composite it: [r, g, b]. */
export function blend(rgb, tint, alpha) {
  return rgb.map((v, i) => Math.round(v * (1 - alpha) + tint[i] * alpha));
}

export const hexRgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

/** A function value -> {fill, ink} over [zmin, zmax]; a flat range maps to the middle. */
export function colorScale(name, zmin, zmax) {
  const entries = table(name in STOPS ? name : "Viridis");
  const span = zmax - zmin;
  return (v) => {
    if (v === null || v === undefined || Number.isNaN(v)) return { fill: "#ffffff", rgb: WHITE, ink: "#1d1d1f" };
    const i = span > 0 ? Math.round(((v - zmin) / span) * 255) : 128;
    return entries[Math.max(0, Math.min(255, i))];
  };
}

export function groupColor(g) {
  return OKABE_ITO[g % OKABE_ITO.length];
}
