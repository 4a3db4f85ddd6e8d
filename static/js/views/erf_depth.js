// The effective field against depth, a panel of /receptive-field: the server measures (POST
// /effective-field/depth and /compare-stacks); this module only lays the numbers out as an SVG chart and tables.
import { ApiError, post } from "../api.js";
import { formatCount, formatNumber as f } from "../plot.js";

const $ = (id) => document.getElementById(id);
const DEPTHS = [1, 2, 3, 5, 8, 10, 15, 20, 30, 40];
const SERIES = [["r", "theoretical r", "#999999"], ["law_std", "√(2n/3)", "#000000"], ["uniform", "uniform", "#0072B2"],
  ["random", "random", "#E69F00"], ["random_relu", "random+ReLU", "#009E73"]];
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const valueOf = (row, key) => (typeof row[key] === "number" ? row[key] : row[key].std);

function chart(rows) {
  const host = $("erf-depth-plot");
  host.innerHTML = "";
  const W = 640, H = 300, L = 48, B = 36, T = 10, R = 130;
  const maxN = Math.max(...rows.map((r) => r.n));
  const maxY = Math.max(...rows.map((r) => r.r));
  const x = (n) => L + (n / maxN) * (W - L - R);
  const y = (v) => H - B - (v / maxY) * (H - B - T);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", class: "erf-svg" });
  svg.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#333" }),
    el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#333" }),
    el("text", { x: (W - R + L) / 2, y: H - 6, "text-anchor": "middle" }, "depth n"),
    el("text", { x: 12, y: T + 12 }, "pixels"));
  for (const n of [0, maxN / 2, maxN]) svg.append(el("text", { x: x(n), y: H - B + 16, "text-anchor": "middle" }, f(n)));
  for (const v of [0, maxY / 2, maxY]) svg.append(el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, f(Math.round(v))));
  SERIES.forEach(([key, label, colour], i) => {
    const pts = rows.map((r) => `${x(r.n)},${y(valueOf(r, key))}`).join(" ");
    svg.append(el("polyline", { points: pts, fill: "none", stroke: colour, "stroke-width": 2,
      "stroke-dasharray": key === "law_std" ? "5 4" : "" }));
    svg.append(el("text", { x: W - R + 8, y: T + 16 + 18 * i, fill: colour }, label));
  });
  svg.style.maxWidth = "760px";
  host.append(svg);
}

function tables(depth, cmp) {
  const body = $("erf-depth-table").querySelector("tbody");
  body.innerHTML = "";
  for (const r of depth.depths) {
    const tr = document.createElement("tr");
    for (const v of [r.n, r.r, f(r.law_std), f(r.uniform.std), f(r.random.std), f(r.random_relu.std),
      r.uniform.width95, r.random.width95, r.random_relu.width95]) {
      const td = document.createElement("td");
      td.textContent = String(v);
      tr.append(td);
    }
    body.append(tr);
  }
  const cb = $("erf-compare-table").querySelector("tbody");
  cb.innerHTML = "";
  for (const pair of cmp.pairs) {
    for (const [name, row] of [["single", pair.single], ["stack", pair.stack]]) {
      const tr = document.createElement("tr");
      for (const v of [row.layers.join(" → "), row.r, formatCount(row.params), formatCount(row.macs),
        name === "stack" ? `params ${f(pair.ratio_params)} · MACs ${f(pair.ratio_macs)}` : ""]) {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.append(td);
      }
      cb.append(tr);
    }
  }
}

async function start() {
  try {
    const [depth, cmp] = await Promise.all([post("/effective-field/depth", { depths: DEPTHS, kernel_size: 3, trials: 8 }),
      post("/effective-field/compare-stacks", { channels: 64, size: 56 })]);
    chart(depth.depths);
    tables(depth, cmp);
    $("erf-depth").dataset.ready = "true";
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("erf-depth-error").hidden = false;
    $("erf-depth-error").textContent = err.message;
  }
}

/** The panel is measured after the page's own first drawing (body[data-ready]), so the two do not share the
 * server's cores while the lecture waits for the first; if that drawing never comes, after 3 s anyway. */
function afterFirstDrawing(fn) {
  const body = document.body;
  if (body.dataset.ready === "true") return fn();
  let done = false;
  const go = () => { if (!done) { done = true; watch.disconnect(); fn(); } };
  const watch = new MutationObserver(() => { if (body.dataset.ready === "true") go(); });
  watch.observe(body, { attributes: true, attributeFilter: ["data-ready"] });
  setTimeout(go, 3000);
}

afterFirstDrawing(start);
