// The only module that touches window.Plotly. Grids are drawn as heatmaps with their values written in.
const PALETTE = "Viridis"; // perceptually uniform and colour-blind safe

function plotly() {
  if (!window.Plotly) throw new Error("Plotly.js did not load");
  return window.Plotly;
}

let loading = null;

/**
 * Plotly.js when a chart is first shown. A page that draws a chart at once loads it with a deferred script;
 * a page whose charts come later names its hashed same-origin URL in <meta name="plotly-src"> and it is
 * fetched here, on the first call.
 */
export function whenPlotlyReady() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    const meta = document.querySelector('meta[name="plotly-src"]');
    loading = new Promise((resolve, reject) => {
      if (!meta) {
        window.addEventListener("load", () => resolve(plotly()), { once: true });
        return;
      }
      const script = document.createElement("script");
      script.src = meta.content;
      script.onload = () => resolve(plotly());
      script.onerror = () => { loading = null; reject(new Error("Plotly.js could not be loaded.")); };
      document.head.append(script);
    });
  }
  return loading;
}

/** Remove a plot (and what Plotly keeps on its element), leaving `text` in its place. */
export function clearPlot(element, text = "") {
  if (window.Plotly && element.data) window.Plotly.purge(element);
  element.textContent = text;
}

export function heatmap(element, grid, { title = "", showValues = true, zmin, zmax, colorscale = PALETTE, dtick = 1, gap = 1 } = {}) {
  if (!element.data) element.textContent = ""; // a note written in its place before the first plot
  const rows = grid.length;
  const cols = grid[0].length;
  const text = grid.map((row) => row.map((v) => formatNumber(v)));
  const trace = {
    type: "heatmap", z: grid, colorscale, zmin, zmax, showscale: false,
    text, texttemplate: showValues && rows * cols <= 400 ? "%{text}" : "",
    hovertemplate: "row %{y}, col %{x}<br>%{text}<extra></extra>",
    xgap: gap, ygap: gap,
  };
  const big = document.body.classList.contains("presenter"); // every text ≥ 16 px on the projector
  const layout = {
    title: title ? { text: title, font: { size: big ? 18 : 14 } } : undefined,
    font: { size: big ? 16 : 12 },
    margin: big ? { l: 44, r: 10, t: title ? 36 : 26, b: 30 } : { l: 30, r: 10, t: title ? 30 : 10, b: 30 },
    yaxis: { autorange: "reversed", scaleanchor: "x", dtick, constrain: "domain" },
    xaxis: { dtick, constrain: "domain", side: "top" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  };
  return plotly().react(element, [trace], layout, { displayModeBar: false, responsive: true, staticPlot: false });
}

export function formatNumber(v) {
  if (v === null || v === undefined) return "";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e4) ? v.toExponential(1) : v.toFixed(2).replace(/\.?0+$/, "");
}

// A whole count with en-US thousands commas, as toLocaleString("en-US") writes it, without starting ICU's number
// formatter before a page's first drawing (its first use took 10–23 ms, more than the table it fills); fractions
// go to it (and −0, which String writes as "0" and it as "-0").
export const formatCount = (v) => (Number.isSafeInteger(Number(v)) && !Object.is(Number(v), -0)
  ? String(Number(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : Number(v).toLocaleString("en-US"));

/** A PNG data URL of a drawn plot (for the view's PNG export). */
export function plotImage(element, width, height) {
  return plotly().toImage(element, { format: "png", width: Math.round(width), height: Math.round(height), scale: 2 });
}

/** Call fn(point) when the pointer is over a point of the plot, and leave() when it leaves. */
export function onPlotHover(element, fn, leave = () => {}) {
  element.on("plotly_hover", (event) => fn(event.points[0]));
  element.on("plotly_unhover", leave);
}

/** Replace the plot's shapes (outlines drawn over a heatmap). */
export function setShapes(element, shapes) {
  return plotly().relayout(element, { shapes });
}

/** Bars (one per value), coloured by group, with a label per bar on hover: the lab's hypercolumn. */
export function bars(element, { values, groups, labels, title = "" }) {
  const colours = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#000000"];
  const names = [...new Set(groups)];
  const traces = names.map((name, k) => {
    const idx = groups.map((g, i) => (g === name ? i : -1)).filter((i) => i >= 0);
    return { type: "bar", name, x: idx, y: idx.map((i) => values[i]), text: idx.map((i) => labels[i]), textposition: "none",
      hovertemplate: "%{text}: %{y:.4g}<extra></extra>", marker: { color: colours[k % colours.length] } };
  });
  const layout = { title: title ? { text: title, font: { size: 14 } } : undefined, barmode: "overlay", bargap: 0.05,
    margin: { l: 50, r: 10, t: title ? 30 : 10, b: 40 }, xaxis: { title: { text: "feature index" } },
    legend: { orientation: "h" }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
  return plotly().react(element, traces, layout, { displayModeBar: false, responsive: true });
}
