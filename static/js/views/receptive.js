// /receptive-field: the n/j/r/start table of a stack, a unit's field drawn through every layer, and the
// pixels that really reach it (the effective field, by autograd on the server). All numbers are the server's:
// the field in layer i comes from POST /receptive-field on the stack from layer i up to the unit.
import { get, post } from "../api.js";
import { announce } from "../controls.js";
import { CellGrid } from "../grid.js";
import { clearPlot, heatmap, formatNumber as f, whenPlotlyReady } from "../plot.js";
import { clearHeatmap, drawHeatmap } from "../heatcanvas.js";
import { apiHas, setupView } from "../view.js";
import { channelFigure, fail } from "./shared.js";
import { LayerTable, downloadText, pair } from "./layer_table.js";
import { ModelChoice } from "./model_choice.js";
import { NetworkEditor } from "./network_editor.js";
import { wrappedBoxes, wrappedText } from "../reach.js";
import { graphOf } from "./network_graph.js";
import "./erf_depth.js"; // the panel below the view (templates/_erf_depth.html): measured after the first drawing

const $ = (id) => document.getElementById(id);
const form = document.getElementById("controls");
const field = (name) => form.querySelector(`[name=${name}]`);
const PATH_COLORS = ["#009E73", "#CC79A7", "#56B4E9", "#D55E00"]; // Okabe–Ito, less the unit's and the field's
const S = { presets: [], grids: [] };

const editor = new NetworkEditor($("stack-rows"), field("stack"), () => {
  field("preset").value = "custom";
  resetUnit();
  field("stack").dispatchEvent(new Event("input", { bubbles: true }));
});
$("add-layer").addEventListener("click", () => editor.add());
$("add-merge").addEventListener("click", () => editor.addMerge("add"));
$("add-concat").addEventListener("click", () => editor.addMerge("concat"));
const choice = new ModelChoice(field("model"), $("model-file"), $("model-note"));
field("model").addEventListener("change", () => {
  resetUnit();
  if (field("model").value) { field("preset").value = "custom"; $("preset-note").textContent = ""; }
});
const table = new LayerTable($("rf-table").querySelector("tbody"), (k, y, x) => pick(k, y, x));
$("export-csv").addEventListener("click", () =>
  downloadText(table.csv(), `convscope-receptive-field-${S.modelId || "network"}.csv`));
$("unfold-all").addEventListener("click", () => table.foldAll(false));
$("fold-all").addEventListener("click", () => table.foldAll(true));

function resetUnit() {
  for (const n of ["ul", "uy", "ux"]) field(n).value = "";
}

async function loadPresets() {
  if (!(await apiHas("/presets"))) {
    $("preset-note").textContent = "This server has no /api/v1/presets yet: build a stack by hand.";
    return;
  }
  const { presets } = await get("/presets");
  S.presets = presets;
  for (const p of presets) field("preset").append(new Option(p.title, p.id));
  field("preset").value = "dilated-1-2-4";
  field("preset").addEventListener("change", () => { field("model").value = ""; usePreset(field("preset").value); });
}

/** Set the preset's network; `draw: false` leaves the editor's rows to be drawn once the server has named them. */
function usePreset(id, { draw = true } = {}) {
  const preset = S.presets.find((p) => p.id === id);
  if (!preset) return;
  field("h").value = preset.input_size[0];
  field("w").value = preset.input_size[1];
  if (preset.input_shape) field("c").value = preset.input_shape[0];
  resetUnit();
  editor.set(preset.layers, { silent: true, draw });
  $("preset-note").textContent = `${preset.description} — ${preset.source}`;
}

// ---------------------------------------------------------------- loading
async function load(p) {
  if (!(await apiHas("/receptive-field"))) fail("preset", "This server has no /api/v1/receptive-field yet.");
  try {
    return await compute(p);
  } finally {
    if (!p.model) editor.ensureDrawn(); // drawn once, with the server's names, after the requests have left
  }
}

async function compute(p) {
  const layers = await networkOf(p);
  $("layers-box").open = layers.length <= 8 || Boolean(p.model);
  $("layers-count").textContent = `layers (${layers.length})`;
  if (!layers.length) fail("stack", "The stack is empty: add a layer or pick a preset.");
  const size = [Number(field("h").value), Number(field("w").value)]; // a preset or model may have just set them
  const shape = [Number(field("c").value), ...size];
  // The table, the unit and its field on every level below it and through each path, in one answer: each part is
  // what /shapes or /receptive-field answers for it (the server picks the unit where the link's does not fit).
  const inLink = (v) => (v !== "" && Number.isInteger(Number(v)) ? Number(v) : undefined);
  const asked = post("/views/receptive-field", { input_shape: shape, layers,
    unit: { layer: inLink(p.ul), y: inLink(p.uy), x: inLink(p.ux) }, effective: Boolean(p.effective) });
  const view = await asked;
  const { shapes, receptive_field: rf, unit, levels } = view;
  const graph = graphOf(shapes);
  if (!p.model) editor.setNames(graph.names);
  Object.assign(S, { p, layers, size, shape, shapes, rf, graph, levels, unit, pickable: view.pickable, deep: view.deep });
  S.fields = new Map(view.fields.map(({ level, effective_error: effectiveError, ...fld }) =>
    [level, effectiveError ? { ...fld, effectiveError } : fld]));
  S.paths = view.paths.map((path, i) => ({ ...path, color: PATH_COLORS[i % PATH_COLORS.length] }));
  render();
  return view.fields.length + 1;
}

/** The layers to compute: the chosen model's (shown read-only in the editor) or the editor's own. */
async function networkOf(p) {
  S.modelId = p.model || "";
  if (!p.model) {
    if (editor.problem) fail("stack", `In the address, ${editor.problem}.`);
    if (editor.model) editor.showModel(null);
    if (!editor.layers.length && p.preset !== "custom") usePreset(p.preset, { draw: false });
    return editor.layers; // the rows are drawn by load(), with the names the server gives
  }
  const { title, network } = await choice.model(p.model);
  if (choice.takeShape) {
    choice.takeShape = false;
    [field("c").value, field("h").value, field("w").value] = network.input_shape;
  }
  const copy = network.layers.length <= 50 ? () => {
    field("model").value = "";
    editor.set(network.layers);
  } : null;
  editor.showModel({ title, layers: network.layers, copy });
  return network.layers;
}

// ---------------------------------------------------------------- drawing
function render() {
  const { rf, levels, unit } = S;
  table.render({ rf, shapes: S.shapes, inputShape: S.shape, unit, pickable: S.pickable });
  $("rf-note").textContent = "Per axis [height, width] where they differ. Click a row to pick its centre unit." +
    (S.deep ? ` ${S.deep} levels feed this unit: its field is drawn on the input only.` : "");
  const eff = S.fields.get(0)?.effective;
  const host = $("levels");
  host.replaceChildren();
  S.grids = [...levels].reverse().filter((k) => k <= unit.layer || k === levels[levels.length - 1]).map((k) => {
    const e = rf.layers[k];
    const fig = channelFigure(host, `${k === 0 ? "input" : e.name} · n ${pair(e.n)} · j ${pair(e.j)} · r ${pair(e.r)}`);
    const inside = (y, x) => y >= 0 && x >= 0 && y < e.n[0] && x < e.n[1];
    const grid = new CellGrid(fig.body, { label: `${e.name}: ${e.n.join(" by ")} units`, colorscale: "Viridis",
      describe: (y, x) => (inside(y, x) ? `${k === 0 ? "pixel" : `unit of ${e.name}`} (${y}, ${x})${effAt(k, y, x)} · click: draw its field`
        : `outside the map (${y}, ${x}): padding, where the field reaches past the edge`),
      onClick: (y, x) => inside(y, x) && pick(k, y, x) });
    grid.level = k;
    const values = k === 0 && eff ? effValues(eff) : null;
    const ring = padRing(S.fields.get(k)?.region, e.n);
    grid.setCells({ ...ring, zmin: 0, zmax: eff?.heatmap.max || 1,
      cell: (y, x) => (!inside(y, x) ? { kind: "pad", text: "" }
        : values ? { kind: "real", v: values[y][x], text: "" } : { kind: "plain" }) });
    return grid;
  });
  drawEffective(eff);
  layout();
}

/** The cells drawn for a level: its map, and around it the padding ring that the unclipped field (the server's
 * region) reaches into, so the dashed box is drawn whole. */
function padRing(region, n) {
  if (!region) return { rows: n[0], cols: n[1] };
  const row0 = Math.min(0, Math.floor(region.y0));
  const col0 = Math.min(0, Math.floor(region.x0));
  return { row0, col0, rows: Math.max(n[0], Math.ceil(region.y1)) - row0, cols: Math.max(n[1], Math.ceil(region.x1)) - col0 };
}

function effAt(k, y, x) {
  const eff = S.fields.get(0)?.effective;
  if (k !== 0 || !eff) return "";
  const v = effValues(eff)[y][x];
  return v ? `: |∂unit/∂x| = ${f(v)}` : ": does not reach the unit";
}

/** The heatmap as rows of numbers: a nested list, or base64 uint8 scaled to [min, max] (decoded, not computed). */
function effValues(eff) {
  const h = eff.heatmap;
  if (h.encoding === "list") return h.data;
  if (h._rows) return h._rows;
  const bytes = Uint8Array.from(atob(h.data), (ch) => ch.charCodeAt(0));
  const rows = [];
  for (let y = 0; y < h.height; y++) rows.push(Array.from(bytes.subarray(y * h.width, (y + 1) * h.width), (b) => h.min + (b / 255) * (h.max - h.min)));
  h._rows = rows;
  return rows;
}

// The effective field is drawn on a canvas at once; when the browser is idle the same numbers become a Plotly chart
// (zoom, pan), so Plotly.js is fetched only after the field is on screen, and the canvas stays if it cannot load.
const chart = { interactive: false, upgrading: false, eff: null };

function upgradeEffective() {
  if (chart.upgrading) return;
  chart.upgrading = true;
  const later = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
  later(() => whenPlotlyReady().then(() => {
    chart.interactive = true;
    clearHeatmap($("plot-effective"));
    drawEffective(chart.eff);
  }).catch(() => { chart.upgrading = false; }));
}

function drawEffective(eff) {
  const plot = $("plot-effective");
  const note = S.fields.get(0)?.effectiveError;
  chart.eff = eff;
  if (!eff) {
    const text = note || (S.p.effective ? "" : "Tick “measure the effective field” to see which pixels reach the unit.");
    if (chart.interactive) clearPlot(plot, text); else clearHeatmap(plot, text);
    $("t-eff").textContent = "effective receptive field |∂unit/∂x|";
    return;
  }
  $("t-eff").textContent = `effective receptive field |∂unit/∂x| · ${eff.nonzero} pixels reach the unit`;
  const opts = { showValues: false, zmin: eff.heatmap.min, zmax: eff.heatmap.max,
    dtick: eff.heatmap.width > 16 ? Math.ceil(eff.heatmap.width / 64) * 8 : 1, gap: eff.heatmap.width > 48 ? 0 : 1 };
  if (chart.interactive) {
    heatmap(plot, effValues(eff), { ...opts, colorscale: "Viridis" });
    return;
  }
  drawHeatmap(plot, effValues(eff), opts);
  upgradeEffective();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  const width = $("levels").clientWidth;
  for (const g of S.grids) {
    g.opts.maxCell = big ? 72 : 48;
    g.opts.minCell = 1;
    const side = g.level === 0 ? Math.min(width - 20, big ? 640 : 460) : Math.min(width / 3 - 24, big ? 360 : 260);
    g.layout(side, side);
  }
  if (S.rf) drawFrame(S.frame ?? 0);
}

/** Frame k: the field drawn from the unit's layer down through k more levels. */
function drawFrame(k) {
  S.frame = k;
  const { unit } = S;
  const shown = S.levels.filter((lv) => lv <= unit.layer).reverse().slice(0, k + 1);
  const eff = S.fields.get(0)?.effective;
  for (const g of S.grids) {
    const marks = {};
    if (g.level === unit.layer) marks.current = [[unit.y, unit.x]];
    const fld = S.fields.get(g.level);
    if (fld && shown.includes(g.level)) {
      const c = fld.clipped;
      const r = fld.region;
      marks.boxes = [{ r0: r.y0, r1: r.y1, c0: r.x0, c1: r.x1, color: "#e69f00", dash: true, width: 2 },
        { r0: c.y0, r1: c.y1, c0: c.x0, c1: c.x1, color: "#e69f00", width: 3 }];
      // pixels read through reflect, replicate or circular padding, outside the clipped field: dotted
      const parts = wrappedBoxes(c, fld.wrapped);
      for (const w of parts) marks.boxes.push({ r0: w.y0, r1: w.y1, c0: w.x0, c1: w.x1, color: "#e69f00", width: 2, dash: [2, 3] });
      g.el.dataset.wrapped = parts.map((w) => [w.y0, w.y1, w.x0, w.x1].join(",")).join(";");
      if (g.level === 0 && eff) marks.cross = holes(c, effValues(eff));
    }
    if (g.level === 0 && marks.boxes) {
      for (const path of S.paths) {
        const c = path.clipped;
        marks.boxes.push({ r0: c.y0, r1: c.y1, c0: c.x0, c1: c.x1, color: path.color, width: 2, dash: true });
      }
      g.el.dataset.paths = S.paths.map((path) => [path.clipped.y0, path.clipped.y1, path.clipped.x0, path.clipped.x1].join(",")).join(";");
    }
    if (!marks.boxes) g.el.dataset.wrapped = "";
    g.mark(marks);
    g.el.dataset.field = marks.boxes ? [fld.clipped.y0, fld.clipped.y1, fld.clipped.x0, fld.clipped.x1].join(",") : "";
  }
  drawPaths(shown.includes(0));
  $("sum").textContent = describeUnit(shown.length === S.levels.filter((lv) => lv <= unit.layer).length);
}

/** Each path's field, in its colour, under the drawing: the merge's field is their envelope. */
function drawPaths(visible) {
  const host = $("paths");
  host.replaceChildren();
  if (!visible || !S.paths.length) return;
  host.append(`Through each input of ${S.paths[0].merge} (dashed on the input; the field is their envelope): `);
  S.paths.forEach((path, i) => {
    const c = path.clipped;
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.borderColor = path.color;
    sw.style.borderStyle = "dashed";
    host.append(...(i ? [" · "] : []), sw, ` via ${path.via}: r = ${pair(path.r)}, y [${c.y0}, ${c.y1}) × x [${c.x0}, ${c.x1})`);
  });
}

/** Pixels inside the clipped field whose gradient is exactly zero: they never reach the unit. */
function holes(box, values) {
  const out = [];
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) if (!values[y][x]) out.push([y, x]);
  return out;
}

function describeUnit(complete) {
  const { unit, rf } = S;
  const e = rf.layers[unit.layer];
  const input = S.fields.get(0);
  if (!input) return `the input pixel (${unit.y}, ${unit.x})`;
  const r = input.region;
  const c = input.clipped;
  let text = `unit (${unit.y}, ${unit.x}) of ${e.name}: r = ${pair(e.r)}, centre (${input.unit.centre.map(f).join(", ")}); ` +
    `field y [${f(r.y0)}, ${f(r.y1)}) × x [${f(r.x0)}, ${f(r.x1)}), clipped to y [${c.y0}, ${c.y1}) × x [${c.x0}, ${c.x1})`;
  const through = wrappedText(input.wrapped);
  if (through) text += `; it also reads ${through} through the padding (dotted: ${whyWrapped()})`;
  const eff = input.effective;
  if (eff) {
    const h = holes(c, effValues(eff)).length;
    text += ` · ${eff.nonzero} pixels reach it${h ? `; ${h} inside the field do not (${whyHoles()})` : ""}`;
  }
  return complete ? text : `${text} · stepping down: ${S.frame + 1} of ${S.levels.filter((lv) => lv <= unit.layer).length} levels`;
}

/** Which copying padding modes the layers below the unit use, as a phrase. */
function whyWrapped() {
  const modes = [...new Set(S.layers.slice(0, S.unit.layer).map((l) => l.padding_mode).filter((m) => m && m !== "zeros"))];
  return modes.length ? `${modes.join(" and ")} padding copies pixels from elsewhere in the map` : "the padding copies pixels";
}

/** Why pixels inside the field can have no gradient, read off the stack's own settings. */
function whyHoles() {
  const below = S.layers.slice(0, S.unit.layer);
  const reasons = [];
  const dilated = (l) => [].concat(l.dilation ?? 1).some((d) => d > 1);
  if (below.some(dilated)) reasons.push("dilation leaves gaps: gridding");
  if (below.some((l) => l.op === "max_pool2d")) reasons.push("max pooling passes the gradient to one cell per window");
  if (below.some((l) => l.op === "conv_transpose2d" || l.op === "max_unpool2d")) reasons.push("upsampling scatters unevenly");
  return reasons.join("; ") || "zero gradient";
}

function pick(layer, y, x) {
  field("ul").value = layer;
  field("uy").value = y;
  field("ux").value = x;
  form.dispatchEvent(new Event("change"));
  announce(`picked unit (${y}, ${x}) of ${S.rf.layers[layer].name}`);
}

/** The stack as runnable PyTorch: the server writes it from the same walk that gives the table. */
function pytorch() {
  return S.rf.pytorch || "";
}

choice.fromAddress();
choice.loadCatalogue().catch((err) => choice.say(`The catalogue could not be listed: ${err.message}`, true)); // titles fill in when they come: the view does not wait for the catalogue
await Promise.all([loadPresets(), editor.loadKinds()]);
const linked = new URLSearchParams(window.location.search);
if (linked.has("stack") && !linked.has("c")) { // a link without c: the channels its first layer names, if any
  let first = {};
  try { first = JSON.parse(linked.get("stack"))[0] || {}; } catch { /* the load explains a broken stack */ }
  const c = first.in_channels ?? first.num_features;
  if (Number.isInteger(c)) field("c").value = c;
}
S.view = setupView({
  name: "receptive-field",
  names: { layers: "stack", input_size: "h", input_shape: "c", unit: "ul", effective: "effective", model: "model" },
  load: async (p) => {
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => drawFrame(k),
  label: (k) => (k ? `${k} level${k > 1 ? "s" : ""} down` : "the unit"),
  startAtEnd: true, // the whole field at first; stepping back peels it off level by level
  json: () => ({ input_size: S.size, layers: S.layers, receptive_field: S.rf, unit: S.unit,
    fields: Object.fromEntries(S.fields) }),
  resize: () => S.rf && layout(),
});
