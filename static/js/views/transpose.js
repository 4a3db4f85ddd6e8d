// /transpose: conv_transpose2d as a scatter of weighted kernel copies, as a direct convolution over the
// zero-stretched input (from POST /api/v1/views/transpose), and as the matrix Cᵀ (the op's toeplitz extra).
import { ApiError, post } from "../api.js";
import { announce } from "../controls.js";
import { randomTensor, rng } from "../data.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { TraceIndex, outRc, sumText } from "../trace.js";
import { intOrPair } from "../urlstate.js";
import { setupView } from "../view.js";
import { checkInts, dilatedKernel, dims, fail, onePlane, planeCell, pythonCall, tensorLiteral } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {} };
const NAMES = { weight: "k", input: "h" }; // error loc -> control; input/weight follow the typed boxes
const KIND = { input: "real", inserted: "inserted", padding: "pad", output_padding: "op" };

async function load(p) {
  // typed numbers replace the seeded ones (one plane each: this page draws one channel)
  const [tx, tw] = [onePlane(p.values_x, "values_x"), onePlane(p.values_w, "values_w")];
  for (const [name, off] of [["h", tx], ["w", tx], ["k", tw]]) document.querySelector(`[name=${name}]`).disabled = Boolean(off);
  NAMES.input = tx ? "values_x" : "h";
  NAMES.weight = tw ? "values_w" : "k";
  checkInts(p, tx ? { seed: [0, 2 ** 31] } : { h: [1, 24], w: [1, 24], seed: [0, 2 ** 31] });
  let [kh, kw] = [1, 1];
  if (!tw) {
    const k = intOrPair(p.k, 3);
    [kh, kw] = typeof k === "number" ? [k, k] : Array.isArray(k) ? k : fail("k", `kernel must be a number or height,width, got "${p.k}".`);
    if (!(kh >= 1 && kw >= 1 && kh <= 9 && kw <= 9)) fail("k", `kernel sizes must be between 1 and 9 on this page, got ${kh}×${kw}.`);
  }
  const next = rng(p.seed);
  const x = tx || randomTensor([Number(p.h), Number(p.w)], 1, 4, next);
  const w = tw || randomTensor([kh, kw], 1, 3, next);
  const body = { input: [[x]],
    weight: [[w]], stride: intOrPair(p.stride, 1), padding: intOrPair(p.padding, 0),
    output_padding: intOrPair(p.output_padding, 0), dilation: intOrPair(p.dilation, 1) };
  // one request: the direct-convolution view, with what /ops answers for the trace and the matrix
  const view = await post("/views/transpose", body);
  const { trace: tr, toeplitz } = view.ops;
  if (tr.status) throw new ApiError(tr);
  const toe = toeplitz.status ? { error: toeplitz.error } : toeplitz;
  Object.assign(S, { p, body, tr, view, toe, t: new TraceIndex(tr.trace), d: new TraceIndex(view.direct.trace) });
  index();
  render();
  return p.animate === "gather" ? S.t.cells.length : S.inputs.length;
}

/** Lookup tables: input cells in row-major order (the Toeplitz columns), and where each sits when stretched. */
function index() {
  const x = S.body.input[0][0];
  S.inputs = [];
  S.colOf = new Map();
  x.forEach((row, iy) => row.forEach((_, ix) => { S.colOf.set(`${iy},${ix}`, S.inputs.length); S.inputs.push([iy, ix]); }));
  S.tapped = new Set(); // "row,col" of Cᵀ where output row meets input col through a kernel tap (even one of weight 0)
  S.t.cells.forEach((cell, i) => cell.reads.forEach((read) => S.tapped.add(`${i},${S.colOf.get(`${read[1]},${read[2]}`)}`)));
  S.stretchedOf = new Map();
  S.view.origin.forEach((row, sy) => row.forEach((o, sx) => { if (o) S.stretchedOf.set(`${o[0]},${o[1]}`, [sy, sx]); }));
}

function grid(id, label, extra = {}) {
  const g = new CellGrid($(`g-${id}`), { label, describe: (r, c) => describe(id, r, c),
    onHover: (r, c) => hover(id, r, c), onLeave: () => drawFrame(S.frame), ...extra });
  S.grids[id] = g;
  return g;
}

function render() {
  const { body, tr, view, toe } = S;
  const [dh, dw] = tr.trace.dilation;
  S.kw = dilatedKernel(body.weight[0][0], dh, dw);
  S.kf = dilatedKernel(view.flipped_weight[0][0], dh, dw);
  grid("x", "input x").setCells({ rows: body.input[0][0].length, cols: body.input[0][0][0].length, cell: planeCell(body.input[0][0]) });
  grid("w", "kernel w", { colorscale: "Cividis", axes: false }).setCells(S.kw);
  grid("y", "output y").setCells({ rows: tr.shape[2], cols: tr.shape[3], cell: planeCell(tr.output[0][0]) });
  // one colour scale for every step of the scatter: the range of the server's running sums
  S.yRange = { zmin: Infinity, zmax: -Infinity };
  for (const v of tr.trace.cells.flatMap((cell) => (cell.scatter || []).map(([, sum]) => sum)).concat(tr.output[0][0].flat())) {
    S.yRange.zmin = Math.min(S.yRange.zmin, v);
    S.yRange.zmax = Math.max(S.yRange.zmax, v);
  }
  S.shownAt = null;
  const st = view.stretched[0][0];
  grid("s", "stretched, padded input").setCells({ rows: st.length, cols: st[0].length,
    cell: (r, c) => ({ kind: KIND[view.kinds[r][c]], v: st[r][c] }) });
  grid("f", "flipped kernel", { colorscale: "Cividis", axes: false }).setCells(S.kf);
  grid("d", "output of the direct convolution").setCells({ rows: view.shape[2], cols: view.shape[3],
    cell: planeCell(view.direct.output[0][0]) });
  if (toe.error) {
    S.grids.c = null;
    $("g-c").innerHTML = `<p class="error"></p>`;
    $("g-c").firstChild.textContent = toe.error;
  } else {
    grid("c", "matrix C transposed", { colorscale: "Cividis" }).setCells({ rows: toe.toeplitz.length,
      cols: toe.toeplitz[0].length, cell: (r, c) => (S.tapped.has(`${r},${c}`) ? { kind: "real", v: toe.toeplitz[r][c] }
        : { kind: "inserted", text: "" }) });
  }
  const side = (v) => (v < 0 ? `cropped ${-v}` : `${v}`);
  const axes = view.pad.map(([lo, hi]) => `${side(lo)} before, ${side(hi)} after`);
  const pad = axes[0] === axes[1] ? axes[0] : axes.join("; ");
  $("t-x").textContent = `input x · ${dims(tr.trace.input_shape)}`;
  $("t-w").textContent = `kernel w · ${dims([body.weight[0][0].length, body.weight[0][0][0].length])} · stamped as is; ` +
    "the direct form cross-correlates with it flipped";
  $("t-y").textContent = `output y · ${dims(tr.shape)}`;
  $("t-s").textContent = `x stretched (stride ${tr.trace.stride.join("×")}), padded ${pad} · ${dims(view.stretched_shape)}`;
  $("t-f").textContent = "w flipped · cross-correlation";
  $("t-d").textContent = `output y · ${dims(view.shape)}${view.matches ? " · equals the scatter ✓" : " · DIFFERS"}`;
  $("t-c").textContent = toe.error ? "3 · As a matrix: y = Cᵀ x" : `3 · As a matrix: y = Cᵀ x · Cᵀ is ${toe.toeplitz.length}×${toe.toeplitz[0].length}: ` +
    "a row per output cell, a column per input cell · blank: structural zeros; a coloured 0: a tap whose weight is 0";
  layout();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  const grids = Object.entries(S.grids).filter(([, g]) => g);
  // every width read before any grid is sized: one layout, not one per grid (as in pool.js)
  const widths = grids.map(([id, g]) => (id === "c" ? $("stage").clientWidth * 0.45 : g.el.parentElement.clientWidth - 4));
  grids.forEach(([id, g], i) => {
    g.opts.maxCell = big ? 72 : 48;
    g.layout(Math.max(120, widths[i]), id === "c" ? (big ? 700 : 560) : (big ? window.innerHeight * 0.42 : 300));
  });
  if (S.tr) drawFrame(S.frame ?? 0);
}

// ---------------------------------------------------------------- marks
const yx = (at) => [at[1], at[2]];

function scatterMarks(iy, ix, step = null) {
  const fed = S.t.feeds(0, iy, ix).direct;
  const marks = { x: { current: [[iy, ix]] }, y: { fed: [], labels: [] }, d: { fed: [] }, w: { lit: [] } };
  const parts = [];
  for (const i of fed) {
    const [, oy, ox] = outRc(S.t.cells[i].out);
    const read = S.t.reads(i).find((r) => r.at[1] === iy && r.at[2] === ix);
    marks.y.fed.push([oy, ox]);
    marks.y.labels.push({ r: oy, c: ox, text: `+${f(read.term)}` });
    marks.d.fed.push([oy, ox]);
    marks.w.lit.push(S.kw.place(read.tap[2], read.tap[3]));
    const now = step === null ? null : soFar(oy, ox, step);
    parts.push(`(${oy}, ${ox}) += ${f(read.input)}·${f(read.weight)}${now === null ? "" : ` → ${f(now)}`}`);
  }
  const s = S.stretchedOf.get(`${iy},${ix}`);
  marks.s = { current: s ? [s] : [] };
  const col = S.colOf.get(`${iy},${ix}`);
  if (S.grids.c) marks.c = { lit: fed.map((r) => [r, col]) };
  const text = `x(${iy}, ${ix}) = ${f(S.body.input[0][0][iy][ix])} adds a copy of w × ${f(S.body.input[0][0][iy][ix])}: ${parts.join(", ")}`;
  return [marks, text];
}

function gatherMarks(i) {
  const [, oy, ox] = outRc(S.t.cells[i].out);
  const reads = S.t.reads(i);
  const j = S.d.outAt(0, oy, ox);
  const dreads = S.d.reads(j);
  const marks = {
    y: { current: [[oy, ox]] }, d: { current: [[oy, ox]] },
    x: { lit: reads.map((r) => yx(r.at)), labels: reads.map((r) => ({ r: r.at[1], c: r.at[2], text: `×${f(r.weight)}` })) },
    w: { lit: reads.map((r) => S.kw.place(r.tap[2], r.tap[3])) },
    s: { lit: dreads.map((r) => yx(r.at)), labels: dreads.map((r) => ({ r: r.at[1], c: r.at[2], text: `×${f(r.weight)}` })) },
    f: { lit: dreads.map((r) => S.kf.place(r.tap[2], r.tap[3])) },
  };
  if (S.grids.c) marks.c = { lit: reads.map((r) => [i, S.colOf.get(`${r.at[1]},${r.at[2]}`)]) };
  const text = `y(${oy}, ${ox}) = ${sumText(S.t.cells[i])}   ·   direct: ${sumText(S.d.cells[j], { maxTerms: 40 })}`;
  return [marks, text];
}

function apply([marks, text], veilUpTo = null) {
  if (veilUpTo !== null) {
    const veil = S.t.cells.filter((_, j) => j > veilUpTo).map((c) => outRc(c.out).slice(1));
    marks.y = { ...marks.y, veil };
    marks.d = { ...marks.d, veil };
  }
  for (const [id, g] of Object.entries(S.grids)) g?.mark(marks[id] || {});
  $("sum").textContent = text;
  return text;
}

/** The value output cell (r, c) holds once the scatter has stamped input cells 0..k: the server's running sum
 * (the trace's `scatter`), or null while no stamp has reached it. */
function soFar(r, c, k) {
  let v = null;
  for (const [t, sum] of S.t.cells[S.t.outAt(0, r, c)].scatter || []) {
    if (t > k) break;
    v = sum;
  }
  return v;
}

/** The output grid as it stands after step k of the scatter (k = null: complete); cells not reached yet are
 * left blank and faded. */
function showOutput(k) {
  const g = S.grids.y;
  const out = S.tr.output[0][0];
  if (S.shownAt === k) return;
  S.shownAt = k;
  const { zmin, zmax } = S.yRange;
  g.setCells({ rows: S.tr.shape[2], cols: S.tr.shape[3], zmin, zmax, cell: k === null ? planeCell(out)
    : (r, c) => { const v = soFar(r, c, k); return v === null ? { kind: "plain" } : { kind: "real", v }; } });
  g.draw();
}

function drawFrame(k) {
  S.frame = k;
  if (S.p.animate === "gather") { showOutput(null); apply(gatherMarks(k), k); return; }
  showOutput(k);
  const [marks, text] = scatterMarks(...S.inputs[k], k);
  const unreached = [];
  S.t.cells.forEach((cell) => { const [, oy, ox] = outRc(cell.out); if (soFar(oy, ox, k) === null) unreached.push([oy, ox]); });
  marks.y = { ...marks.y, veil: unreached };
  apply([marks, text]);
}

function hover(id, r, c) {
  S.view_.player.pause();
  showOutput(null); // what a hovered cell describes is the complete output
  let text;
  if (id === "x") text = apply(scatterMarks(r, c));
  else if (id === "y" || id === "d") text = apply(gatherMarks(S.t.outAt(0, r, c)));
  else if (id === "c") {
    const [iy, ix] = S.inputs[c];
    const [marks] = gatherMarks(r);
    marks.x = { current: [[iy, ix]] };
    marks.c = { current: [[r, c]] };
    const [, oy, ox] = outRc(S.t.cells[r].out);
    text = apply([marks, `Cᵀ[${r}, ${c}] = ${f(S.toe.toeplitz[r][c])}: output (${oy}, ${ox}) gets ${f(S.toe.toeplitz[r][c])} × x(${iy}, ${ix})`]);
  } else if (id === "s") {
    const fed = S.d.feeds(0, r, c).direct.map((j) => outRc(S.d.cells[j].out).slice(1));
    text = apply([{ s: { current: [[r, c]] }, d: { fed } }, describe(id, r, c)]);
  } else return;
  announce(text);
}

function describe(id, r, c) {
  const { view } = S;
  if (id === "s") {
    const kind = view.kinds[r][c];
    const o = view.origin[r][c];
    if (kind === "input") return `x(${o[0]}, ${o[1]}) = ${f(view.stretched[0][0][r][c])}, stretched to (${r}, ${c})`;
    return { inserted: "an inserted zero (stride − 1 between input cells)", padding: "padding: d(k−1)−p zeros",
      output_padding: "output_padding: extra zeros at the bottom/right" }[kind];
  }
  if (id === "w" || id === "f") {
    const k = (id === "w" ? S.kw : S.kf).tapAt(r, c);
    const t = id === "w" ? S.body.weight[0][0] : view.flipped_weight[0][0];
    return k ? `${id === "w" ? "w" : "w flipped"}[${k[0]}, ${k[1]}] = ${f(t[k[0]][k[1]])}` : "dilation gap";
  }
  if (id === "x") return `input x(${r}, ${c}) = ${f(S.body.input[0][0][r][c])}`;
  if (id === "c") {
    if (!S.tapped.has(`${r},${c}`)) return `row ${r} (an output cell), column ${c} (an input cell): 0, structurally (no kernel tap joins them)`;
    return `row ${r} (an output cell), column ${c} (an input cell): ${f(S.toe.toeplitz[r][c])}` +
      (S.toe.toeplitz[r][c] === 0 ? " (joined by a kernel tap whose weight is 0)" : "");
  }
  const i = S.t.outAt(0, r, c);
  return i === undefined ? "" : `output y(${r}, ${c}) = ${sumText(S.t.cells[i], { maxTerms: 12 })}`;
}

function pytorch() {
  const b = S.body;
  return ["import torch", "import torch.nn.functional as F", "", `x = ${tensorLiteral(b.input)}`, `w = ${tensorLiteral(b.weight)}`,
    `y = ${pythonCall("F.conv_transpose2d", ["x", "w"], { stride: b.stride, padding: b.padding,
      output_padding: b.output_padding, dilation: b.dilation })}`,
    "# the same y as a direct convolution:",
    `xs = ${tensorLiteral(S.view.stretched)}  # stretched and padded`,
    `y2 = F.conv2d(xs, w.transpose(0, 1).flip(-1, -2), dilation=${JSON.stringify(b.dilation)})`].join("\n");
}

S.view_ = setupView({
  name: "transpose",
  names: NAMES,
  load: async (p) => {
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => drawFrame(k),
  label: (k) => {
    if (S.p.animate === "gather") { const [, y, x] = outRc(S.t.cells[k].out); return `output (${y}, ${x})`; }
    return `input (${S.inputs[k][0]}, ${S.inputs[k][1]})`;
  },
  json: () => ({ request: S.body, conv_transpose2d: S.tr.trace, direct: S.view.direct.trace, stretched: S.view.stretched,
    kinds: S.view.kinds, toeplitz: S.toe.toeplitz }),
  resize: () => S.tr && layout(),
});
