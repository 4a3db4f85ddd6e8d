// /pool: max and average pooling window by window, the remembered indices, max-unpooling by those indices,
// and upsampling the pooled map three ways. Every number and every link comes from the server's traces.
import { post } from "../api.js";
import { announce } from "../controls.js";
import { LECTURE_POOL, randomTensor, rng } from "../data.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { TraceIndex, outRc, sumText } from "../trace.js";
import { intOrPair } from "../urlstate.js";
import { setupView } from "../view.js";
import { checkInts, dims, onePlane, planeCell, pythonCall, tensorLiteral } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {}, idx: {} };
// error loc -> control; input follows the typed box
const NAMES = { input: "h", indices: "kernel_size", output_size: "kernel_size", scale_factor: "scale" };
const UPSAMPLED = ["near", "bil0", "bil1"]; // the upsampling panels, each with its mode in the server's calls

function inputPlane(p) {
  const typed = onePlane(p.values_x, "values_x"); // your numbers, when typed, replace the menu's
  for (const name of ["input", "h", "w", "seed"]) document.querySelector(`[name=${name}]`).disabled = Boolean(typed);
  NAMES.input = typed ? "values_x" : "h";
  if (typed) return typed;
  if (p.input === "lecture") return LECTURE_POOL;
  checkInts(p, { h: [1, 64], w: [1, 64], seed: [0, 2 ** 31] });
  return randomTensor([Number(p.h), Number(p.w)], 0, 9, rng(p.seed));
}

/** The body of POST /api/v1/views/pool: the input and every panel's parameters (each op takes its own). */
function requests(p) {
  const x = [[inputPlane(p)]];
  const view = { input: x, kernel_size: intOrPair(p.kernel_size, 2), padding: intOrPair(p.padding, 0),
    ceil_mode: p.ceil_mode, dilation: intOrPair(p.dilation, 1), count_include_pad: p.count_include_pad };
  if (String(p.stride).trim()) view.stride = intOrPair(p.stride);
  const scale = Number(p.scale);
  view.scale_factor = String(p.scale).trim() !== "" && Number.isFinite(scale) ? scale : p.scale;
  return { x, view };
}

// The server's panel names (POST /api/v1/views/pool) -> this page's
const PANELS = { max: "max", avg: "avg", unpool: "unpool", nearest: "near", bilinear: "bil0", bilinear_align_corners: "bil1" };

/** All six panels in one request: the server pools, unpools by the max's indices and upsamples the max's output
 * (each panel what /ops answers for its op; a panel's refusal is shown in that panel instead of stopping the view). */
async function load(p) {
  const req = requests(p);
  const answer = await post("/views/pool", req.view);
  const res = Object.fromEntries(Object.entries(PANELS).map(([name, id]) => [id, answer[name]]));
  const calls = Object.fromEntries(Object.entries(PANELS).map(([name, id]) => [id, answer.calls[name]]));
  Object.assign(S, { p, req, res, calls });
  render();
  return res.max.trace.cells.length;
}

// ---------------------------------------------------------------- drawing
function grid(id, label, res, extra = {}) {
  const host = $(`g-${id}`);
  if (res?.error) {
    S.grids[id] = null;
    S.idx[id] = null;
    host.innerHTML = "";
    const note = document.createElement("p");
    note.className = "error";
    note.textContent = res.error;
    host.append(note);
    return null;
  }
  const g = new CellGrid(host, { label, describe: (r, c) => describe(id, r, c), onHover: (r, c) => hover(id, r, c),
    onLeave: () => drawFrame(S.frame), onClick: id === "max" ? (r, c) => jump(r, c) : undefined, ...extra });
  S.grids[id] = g;
  S.idx[id] = res?.trace ? new TraceIndex(res.trace) : null;
  return g;
}

function render() {
  const { max, avg, unpool } = S.res;
  const x = S.req.x[0][0];
  const [[pt, pb], [pl, pr]] = max.trace.padding;
  const gin = grid("in", "input");
  gin.setCells({ rows: x.length + pt + pb, cols: x[0].length + pl + pr, row0: -pt, col0: -pl,
    cell: (r, c) => (r >= 0 && r < x.length && c >= 0 && c < x[0].length ? { kind: "real", v: x[r][c] }
      : { kind: "pad", text: "" }) });
  grid("max", "max pool output", max).setCells({ rows: max.shape[2], cols: max.shape[3], cell: planeCell(max.output[0][0]) });
  grid("idx", "indices", null, { colorscale: "Cividis" })
    .setCells({ rows: max.shape[2], cols: max.shape[3], cell: planeCell(max.indices[0][0]) });
  grid("avg", "average pool output", avg)?.setCells({ rows: avg.shape[2], cols: avg.shape[3], cell: planeCell(avg.output[0][0]) });
  grid("unpool", "max unpool output", unpool)?.setCells({ rows: unpool.shape[2], cols: unpool.shape[3],
    cell: (r, c) => ({ kind: "real", v: unpool.output[0][0][r][c], dim: !unpool.trace.cells[S.idxOf("unpool", r, c)]?.reads.length }) });
  for (const id of UPSAMPLED) {
    const res = S.res[id];
    grid(id, `${$(`t-${id}`).textContent} output`, res)?.setCells({ rows: res.shape[2], cols: res.shape[3],
      cell: planeCell(res.output[0][0]) });
  }
  readyAt();
  const k = max.trace.dilation?.some((d) => d > 1) ? " (avg_pool2d has no dilation: drawn with its own windows)" : "";
  $("t-in").textContent = `input x · ${dims(max.trace.input_shape)}${max.trace.padding.flat().some(Boolean) ? " · padded" : ""}`;
  $("t-max").textContent = `max_pool2d → ${dims(max.shape)}`;
  $("t-avg").textContent = `avg_pool2d → ${avg.shape ? dims(avg.shape) : "—"}${k}`;
  $("t-idx").textContent = "indices (flat position in the input plane)";
  $("t-unpool").textContent = `max_unpool2d → ${unpool.shape ? dims(unpool.shape) : "—"}`;
  for (const id of UPSAMPLED) {
    const res = S.res[id];
    const { mode, align_corners: corners } = S.calls[id];
    const name = mode + (corners === undefined ? "" : `, align_corners=${corners ? "True" : "False"}`);
    $(`t-${id}`).textContent = `${name}${res.shape ? ` → ${dims(res.shape)}` : ""}`;
  }
  layout();
}

S.idxOf = (id, r, c) => S.idx[id]?.outAt(0, r, c);

/** Per unpool/upsampling panel: [frame, r, c] for each cell, the frame being the last max-pool cell (in the
 * pool's order) that the cell reads, as its trace says; a cell that reads none (an unpool zero) is there from
 * the start. The panels then build up with the pool, frame by frame. */
function readyAt() {
  S.ready = {};
  for (const id of ["unpool", ...UPSAMPLED]) {
    if (!S.idx[id]) continue;
    S.ready[id] = S.idx[id].cells.map((cell) => {
      const frame = cell.reads.reduce((last, read) => Math.max(last, S.idxOf("max", read[1], read[2]) ?? -1), -1);
      return [frame, ...outRc(cell.out).slice(1)];
    });
  }
}

function layout() {
  const big = document.body.classList.contains("presenter");
  const grids = Object.values(S.grids).filter(Boolean);
  // every host's width first, then every grid sized: one layout, not one forced by each grid's read after the last
  // grid's write (a host's width is its panel's share of the row, not its grid's)
  const widths = grids.map((g) => g.el.parentElement.clientWidth);
  grids.forEach((g, i) => {
    g.opts.maxCell = big ? 72 : 52;
    g.layout(Math.max(140, widths[i] - 4), big ? window.innerHeight * 0.4 : 300);
  });
  if (S.res) drawFrame(S.frame ?? 0);
}

// ---------------------------------------------------------------- frames and hovering
const at2 = (read) => [read.at[1], read.at[2]];

/** Marks for max-pool output cell i: its window, its max, where its value goes. */
function maxMarks(i, marks) {
  const { max: mi } = S.idx;
  const cell = mi.cells[i];
  const [, y, x] = outRc(cell.out);
  const reads = mi.reads(i);
  marks.in = { lit: reads.map(at2), stars: [at2(reads[cell.argmax])] };
  marks.max = { ...marks.max, current: [[y, x]] };
  marks.idx = { ...marks.idx, current: [[y, x]] };
  for (const id of ["unpool", ...UPSAMPLED]) {
    if (!S.idx[id]) continue;
    const fed = S.idx[id].feeds(0, y, x).direct.map((j) => outRc(S.idx[id].cells[j].out).slice(1));
    marks[id] = { fed };
  }
  const a = S.idxOf("avg", y, x);
  if (a !== undefined) marks.avg = { ...marks.avg, current: [[y, x]] };
  return [cell, a];
}

function apply(marks) {
  for (const [id, g] of Object.entries(S.grids)) g?.mark(marks[id] || {});
}

function veil(id, k) {
  const index = S.idx[id];
  if (!index) return [];
  return index.cells.filter((_, j) => j > k).map((cell) => outRc(cell.out).slice(1));
}

function drawFrame(k) {
  S.frame = k;
  const marks = { max: { veil: veil("max", k) }, idx: { veil: veil("max", k) } };
  const [cell, a] = maxMarks(k, marks);
  if (a !== undefined) marks.avg.veil = veil("avg", a);
  for (const [id, order] of Object.entries(S.ready || {})) marks[id] = { ...marks[id], veilAfter: { order, k } };
  apply(marks);
  $("sum").textContent = frameText(cell, a);
}

function frameText(cell, a) {
  const [, y, x] = outRc(cell.out);
  const full = Math.max(...S.idx.max.cells.map((c) => c.reads.length));
  const partial = cell.reads.length < full ? ` — a partial window (${cell.reads.length} of ${full} cells): ceil_mode kept it` : "";
  const avg = a !== undefined ? ` · avg: ${sumText(S.idx.avg.cells[a])}` : "";
  return `(${y}, ${x}) max: ${sumText(cell)}${partial}${avg}`;
}

function hover(id, r, c) {
  S.view.player.pause();
  const marks = {};
  let text = describe(id, r, c);
  if (id === "max" || id === "idx") {
    const i = S.idxOf("max", r, c);
    const [cell, a] = maxMarks(i, marks);
    text = frameText(cell, a);
  } else if (id === "in") {
    marks.in = { current: [[r, c]] };
    for (const pid of ["max", "avg"]) {
      if (!S.idx[pid]) continue;
      const fed = S.idx[pid].feeds(0, r, c).direct.map((j) => outRc(S.idx[pid].cells[j].out).slice(1));
      marks[pid] = { fed };
      if (pid === "max") marks.idx = { fed };
    }
  } else if (id === "avg") {
    const i = S.idxOf("avg", r, c);
    marks.in = { lit: S.idx.avg.reads(i).map(at2) };
    marks.avg = { current: [[r, c]] };
  } else {
    const i = S.idxOf(id, r, c);
    const reads = S.idx[id].reads(i);
    marks[id] = { current: [[r, c]] };
    marks.max = { lit: reads.map(at2), labels: id === "unpool" ? [] : reads.map((rd) => ({ r: rd.at[1], c: rd.at[2], text: `×${f(rd.weight)}` })) };
    if (id === "unpool" && reads.length) {
      const m = S.idxOf("max", reads[0].at[1], reads[0].at[2]);
      const mcell = S.idx.max.cells[m];
      marks.in = { stars: [at2(S.idx.max.reads(m)[mcell.argmax])] };
    }
  }
  apply(marks);
  $("sum").textContent = text;
  announce(text);
}

function describe(id, r, c) {
  const i = id === "in" ? undefined : S.idxOf(id === "idx" ? "max" : id, r, c);
  if (id === "in") {
    const x = S.req.x[0][0];
    const inside = r >= 0 && r < x.length && c >= 0 && c < x[0].length;
    if (!inside) return `padding (${r}, ${c}): −∞ for max pooling, 0 for average pooling (counted in the divisor only with count_include_pad)`;
    const n = S.idx.max.feeds(0, r, c).direct.length;
    return `x(${r}, ${c}) = ${f(x[r][c])}; in ${n} max-pool window${n === 1 ? "" : "s"}`;
  }
  if (i === undefined) return "";
  const cell = S.idx[id === "idx" ? "max" : id].cells[i];
  if (id === "idx") return `index ${cell.index}: the max of window (${r}, ${c}) sits at input cell ${cell.index} (row-major)`;
  if (id === "unpool") {
    return cell.reads.length ? `(${r}, ${c}) = ${f(cell.value)}: index ${cell.index} is where pooled cell ` +
      `(${cell.reads[0][1]}, ${cell.reads[0][2]}) came from` : `(${r}, ${c}) = 0: no index points here`;
  }
  return `(${r}, ${c}) = ${sumText(cell, { maxTerms: 16 })}`;
}

function jump(r, c) {
  const i = S.idxOf("max", r, c);
  if (i !== undefined) S.view.player.step(i - S.view.player.frame);
}

/** The server's calls (the parameters each panel's op was given), as PyTorch. */
function pytorch() {
  const { req, calls } = S;
  const params = (id, extra = {}) => { const { op, ...rest } = calls[id]; return { ...rest, ...extra }; };
  const lines = ["import torch", "import torch.nn.functional as F", "", `x = ${tensorLiteral(req.x)}`,
    `y, idx = ${pythonCall("F.max_pool2d", ["x"], params("max", { return_indices: true }))}`,
    `a = ${pythonCall("F.avg_pool2d", ["x"], params("avg"))}`,
    `u = ${pythonCall("F.max_unpool2d", ["y", "idx"], params("unpool"))}`];
  for (const id of UPSAMPLED) lines.push(`${id} = ${pythonCall("F.interpolate", ["y"], params(id))}`);
  return lines.join("\n");
}

S.view = setupView({
  name: "pool",
  names: NAMES,
  load: async (p) => {
    for (const name of ["h", "w", "seed"]) document.querySelector(`[name=${name}]`).disabled = p.input === "lecture";
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => drawFrame(k),
  label: (k) => { const [, y, x] = outRc(S.idx.max.cells[k].out); return `window (${y}, ${x})`; },
  json: () => Object.fromEntries(Object.entries(S.res).map(([id, r]) => [id, r.trace || r])),
  resize: () => S.res && layout(),
});
