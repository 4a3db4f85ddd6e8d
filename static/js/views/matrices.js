// /matrices: conv2d as im2col · w and as C · x, linked both ways to the sliding window.
// Row i of im2col and of C is trace cell i (both are row-major over the output, as the API documents);
// column j of im2col is read j of that cell; C's columns are the input cells in row-major order.
import { post } from "../api.js";
import { announce } from "../controls.js";
import { flipSpatial, randomTensor, rng } from "../data.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { TraceIndex, outRc, sumText } from "../trace.js";
import { intOrPair } from "../urlstate.js";
import { setupView } from "../view.js";
import { channelFigure, checkInts, dilatedKernel, dims, fitGrids, parsePlanes, pythonCall, symmetricRange, tensorLiteral } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {} };
const NAMES = { weight: "kh", input: "h", extras: "h" }; // error loc -> control; input/weight follow the typed boxes

async function load(p) {
  // typed numbers replace the seeded ones: a plane per input channel, a kernel slice per channel
  const [tx, tw] = [parsePlanes(p.values_x), parsePlanes(p.values_w)];
  for (const [name, off] of [["h", tx], ["w", tx], ["c", tx], ["kh", tw], ["kw", tw]]) document.querySelector(`[name=${name}]`).disabled = Boolean(off);
  NAMES.input = tx ? "values_x" : "h";
  NAMES.weight = tw ? "values_w" : "kh";
  const ranges = { c: [1, 4], kh: [1, 7], kw: [1, 7], seed: [0, 2 ** 31] };
  if (tx) delete ranges.c;
  else Object.assign(ranges, { h: [1, 24], w: [1, 24] });
  if (tw) { delete ranges.kh; delete ranges.kw; }
  checkInts(p, ranges);
  const next = rng(p.seed);
  const C = tx ? tx.length : Number(p.c);
  const body = { input: tx ? [tx] : randomTensor([1, C, Number(p.h), Number(p.w)], 0, 9, next),
    weight: flipIf(p.flip, tw ? [tw] : randomTensor([1, C, Number(p.kh), Number(p.kw)], -2, 2, next)), stride: intOrPair(p.stride, 1),
    padding: intOrPair(p.padding, 0), dilation: intOrPair(p.dilation, 1), padding_mode: p.padding_mode,
    extras: ["trace", "im2col", "toeplitz"] };
  const flipped = Boolean(p.flip);
  const res = await post("/ops/conv2d", body);
  Object.assign(S, { body: { ...body, flipped }, request: body, res, trace: res.trace, t: new TraceIndex(res.trace) });
  tables();
  render();
  return S.trace.cells.length;
}

const flipIf = (flip, w) => (flip ? flipSpatial(w, 2) : w); // true convolution: torch cross-correlates with K flipped

function tables() {
  S.inputs = []; // C's columns: the input cells, row-major
  S.colOf = new Map();
  S.body.input[0].forEach((ch, c) => ch.forEach((row, y) => row.forEach((_, x) => {
    S.colOf.set(`${c},${y},${x}`, S.inputs.length);
    S.inputs.push([c, y, x]);
  })));
  S.tapped = new Set(); // "row,col" of C where output row reads input col through a kernel tap (even one of weight 0)
  S.t.cells.forEach((_, i) => S.t.reads(i).forEach((rd) => {
    const real = rd.pad ? rd.source : rd.at;
    if (real) S.tapped.add(`${i},${S.colOf.get(real.join(","))}`);
  }));
  S.taps = []; // w's rows, in im2col's column order (c, ky, kx)
  S.body.weight[0].forEach((ch, c) => ch.forEach((row, ky) => row.forEach((v, kx) => S.taps.push({ c, ky, kx, v }))));
}

function grid(id, host, label, extra = {}) {
  const g = new CellGrid(host, { label, describe: (r, c) => describe(id, r, c), onHover: (r, c) => hover(id, r, c),
    onLeave: () => drawFrame(S.frame), onClick: (r, c) => click(id, r, c), ...extra });
  return g;
}

function render() {
  const { trace, body, res, t } = S;
  const [, C, H, W] = trace.input_shape;
  const [[pt, pb], [pl, pr]] = trace.padding;
  const copied = trace.padding_mode !== "zeros";
  $("g-x").replaceChildren();
  $("g-k").replaceChildren();
  S.grids.x = [...Array(C).keys()].map((c) => {
    const g = grid("x", channelFigure($("g-x"), `x[${c}]`).body, `input channel ${c}`, {
      onHover: (y, x) => { hover.channel = c; hover("x", y, x); }, describe: (y, x) => describe("x", y, x, c) });
    g.setCells({ rows: H + pt + pb, cols: W + pl + pr, row0: -pt, col0: -pl, cell: (y, x) => {
      if (y >= 0 && y < H && x >= 0 && x < W) return { kind: "real", v: body.input[0][c][y][x] };
      const info = t.padInfo.get(`${c},${y},${x}`);
      return info ? { kind: copied ? "copy" : "pad", v: info.value } : { kind: "unread" };
    } });
    return g;
  });
  const [dh, dw] = trace.dilation;
  S.kernels = body.weight[0].map((plane) => dilatedKernel(plane, dh, dw));
  S.grids.k = S.kernels.map((k, c) => {
    const g = grid("k", channelFigure($("g-k"), `w[0, ${c}]`).body, `kernel slice ${c}`, { colorscale: "Cividis", axes: false });
    g.channel = c;
    g.setCells({ ...k, ...symmetricRange(body.weight) });
    return g;
  });
  S.grids.y = grid("y", $("g-y"), "output");
  S.grids.y.setCells({ rows: res.shape[2], cols: res.shape[3], cell: (y, x) => ({ kind: "real", v: res.output[0][0][y][x] }) });
  const rows = S.trace.cells.length;
  const im = res.im2col[0];
  S.grids.im2col = grid("im2col", $("g-im2col"), "im2col matrix");
  S.grids.im2col.setCells({ rows, cols: im[0].length, cell: (r, j) => {
    const cell = t.cells[r];
    return { kind: cell.padding[j] ? (copied ? "copy" : "pad") : "real", v: im[r][j] };
  } });
  const vec = (id, values, label, extra) => {
    const g = grid(id, $(`g-${id}`), label, extra);
    g.setCells({ rows: values.length, cols: 1, cell: (r) => ({ kind: "real", v: values[r] }) });
    S.grids[id] = g;
  };
  vec("wv", S.taps.map((tp) => tp.v), "kernel as a column", { colorscale: "Cividis", axes: false });
  vec("yv1", t.cells.map((cell) => cell.value), "output as a column", { axes: false });
  vec("yv2", t.cells.map((cell) => cell.value), "output as a column", { axes: false });
  vec("xv", S.inputs.map(([c, y, x]) => body.input[0][c][y][x]), "input as a column", { axes: false });
  const C_ = res.toeplitz;
  S.grids.toeplitz = grid("toeplitz", $("g-toeplitz"), "Toeplitz matrix C", { colorscale: "Cividis" });
  S.grids.toeplitz.setCells({ rows: C_.length, cols: C_[0].length,
    cell: (r, c) => (S.tapped.has(`${r},${c}`) ? { kind: "real", v: C_[r][c] } : { kind: "inserted", text: "" }) });
  $("t-x").textContent = `input x · ${dims(trace.input_shape)}${pt + pb + pl + pr ? ` · padding ${trace.padding_mode}` : ""}`;
  $("t-k").textContent = `kernel w · ${dims([1, C, body.weight[0][0].length, body.weight[0][0][0].length])} · ${S.body.flipped
    ? "K flipped (true convolution), applied as a cross-correlation" : "applied as a cross-correlation (not flipped)"}`;
  $("t-y").textContent = `output y · ${dims(res.shape)}`;
  $("t-im2col").textContent = `im2col (${dims([rows, im[0].length])}): row i = the window of output cell i, unrolled (c, ky, kx) · w = y`;
  $("t-toeplitz").textContent = `Toeplitz C (${dims([C_.length, C_[0].length])}): a row per output cell, a column per input cell · x = y` +
    " · blank: structural zeros (outside the window); a coloured 0: a tap whose weight is 0";
  layout();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  fitGrids(S.grids.x, $("g-x"), big, 0.8);
  fitGrids(S.grids.k, $("g-k"), big, 0.6);
  S.grids.y.opts.maxCell = big ? 72 : 46;
  S.grids.y.layout(Math.max(120, $("g-y").clientWidth), big ? 420 : 300);
  const tall = big ? window.innerHeight * 0.8 : 520;
  for (const id of ["im2col", "toeplitz"]) {
    const g = S.grids[id];
    g.opts.maxCell = big ? 72 : 30;
    // the matrix and its two vectors share one row: in presenter mode that row may be a column of the stage
    const width = (big && g.el.closest(".row-stage")?.clientWidth) || $("stage").clientWidth;
    g.layout(width - 190, tall);
    for (const v of id === "im2col" ? ["wv", "yv1"] : ["xv", "yv2"]) {
      S.grids[v].opts.maxCell = g.size; // vectors share their matrix's cell size
      S.grids[v].opts.minCell = Math.min(g.size, 3);
      S.grids[v].layout(g.size, g.size * S.grids[v].rows);
    }
  }
  if (S.trace) drawFrame(S.frame ?? 0);
}

// ---------------------------------------------------------------- marks
function base() {
  return { x: S.grids.x.map(() => ({})), k: S.grids.k.map(() => ({})) };
}

/** Output cell i: its window, its taps, its im2col row and its row of C. */
function cellMarks(i, marks = base()) {
  const reads = S.t.reads(i);
  const [, y, x] = outRc(S.t.cells[i].out);
  for (const m of [...marks.x, ...marks.k]) Object.assign(m, { lit: [], labels: [], source: [] });
  const rowLit = [];
  const cLit = [];
  reads.forEach((rd, j) => {
    const [c, ry, rx] = rd.at;
    marks.x[c].lit.push([ry, rx]);
    marks.x[c].labels.push({ r: ry, c: rx, text: `×${f(rd.weight)}` });
    if (rd.source) marks.x[rd.source[0]].source.push([rd.source[1], rd.source[2]]);
    marks.k[rd.tap[1]].lit.push(S.kernels[rd.tap[1]].place(rd.tap[2], rd.tap[3]));
    rowLit.push([i, j]);
    const real = rd.pad ? rd.source : rd.at;
    if (real) cLit.push([i, S.colOf.get(real.join(","))]);
  });
  Object.assign(marks, {
    y: { current: [[y, x]] }, im2col: { lit: rowLit }, toeplitz: { lit: cLit },
    wv: { lit: S.taps.map((_, j) => [j, 0]) }, yv1: { current: [[i, 0]] }, yv2: { current: [[i, 0]] },
    xv: { lit: cLit.map(([, col]) => [col, 0]) },
  });
  return marks;
}

function apply(marks, text) {
  S.grids.x.forEach((g, c) => g.mark(marks.x[c] || {}));
  S.grids.k.forEach((g, c) => g.mark(marks.k[c] || {}));
  for (const id of ["y", "im2col", "toeplitz", "wv", "yv1", "yv2", "xv"]) S.grids[id].mark(marks[id] || {});
  $("sum").textContent = text;
}

function label(i) {
  const [, y, x] = outRc(S.t.cells[i].out);
  return `row ${i} = output (${y}, ${x})`;
}

function drawFrame(k) {
  S.frame = k;
  const marks = cellMarks(k);
  const later = S.t.cells.map((cell, j) => [cell, j]).filter(([, j]) => j > k);
  marks.y.veil = later.map(([cell]) => outRc(cell.out).slice(1));
  marks.yv1.veil = marks.yv2.veil = later.map(([, j]) => [j, 0]);
  apply(marks, `${label(k)}: ${sumText(S.t.cells[k])}`);
}

function hover(id, r, c) {
  S.view.player.pause();
  let marks;
  let text = describe(id, r, c);
  if (id === "y") marks = cellMarks(S.t.outAt(0, r, c));
  else if (id === "yv1" || id === "yv2") marks = cellMarks(r);
  else if (id === "im2col") {
    marks = cellMarks(r);
    const rd = S.t.reads(r)[c];
    marks.x[rd.at[0]].current = [[rd.at[1], rd.at[2]]];
    marks.k[rd.tap[1]].current = [S.kernels[rd.tap[1]].place(rd.tap[2], rd.tap[3])];
    marks.im2col.current = [[r, c]];
    marks.wv.current = [[c, 0]];
  } else if (id === "toeplitz") {
    marks = cellMarks(r);
    const [ch, y, x] = S.inputs[c];
    marks.x[ch].current = [[y, x]];
    marks.toeplitz.current = [[r, c]];
    marks.xv.current = [[c, 0]];
  } else if (id === "x" || id === "xv") {
    const [ch, y, x] = id === "xv" ? S.inputs[r] : [hover.channel, r, c];
    marks = inputMarks(ch, y, x);
    text = describe("x", y, x, ch);
  } else if (id === "wv") {
    marks = base();
    const tp = S.taps[r];
    marks.k[tp.c].current = [S.kernels[tp.c].place(tp.ky, tp.kx)];
    marks.wv = { current: [[r, 0]] };
    marks.im2col = { lit: S.t.cells.map((_, i) => [i, r]) };
  } else return;
  apply(marks, text);
  announce(text);
}

/** Input cell (c, y, x): every window that reads it, directly or as a padding copy. */
function inputMarks(c, y, x) {
  const marks = base();
  marks.x[c] = { current: [[y, x]] };
  const { direct, copies } = S.t.feeds(c, y, x);
  const at = [...direct.map((i) => [i, [c, y, x]]), ...copies.map((cp) => [cp.idx, cp.at])];
  const col = S.colOf.get(`${c},${y},${x}`);
  marks.y = { fed: [] };
  marks.im2col = { fed: [] };
  marks.toeplitz = { fed: [] };
  marks.yv1 = { fed: [] };
  marks.yv2 = { fed: [] };
  marks.xv = { current: col === undefined ? [] : [[col, 0]] };
  for (const [i, pos] of at) {
    marks.y.fed.push(outRc(S.t.cells[i].out).slice(1));
    S.t.cells[i].reads.forEach((rd, j) => { if (rd.join(",") === pos.join(",")) marks.im2col.fed.push([i, j]); });
    if (col !== undefined) marks.toeplitz.fed.push([i, col]);
    marks.yv1.fed.push([i, 0]);
    marks.yv2.fed.push([i, 0]);
  }
  return marks;
}

function click(id, r, c) {
  const i = id === "y" ? S.t.outAt(0, r, c) : ["im2col", "toeplitz", "yv1", "yv2"].includes(id) ? r : undefined;
  if (i !== undefined) S.view.player.step(i - S.view.player.frame);
}

function describe(id, r, c, channel) {
  if (id === "x") {
    const ch = channel ?? hover.channel ?? 0;
    const info = S.t.padInfo.get(`${ch},${r},${c}`);
    const n = S.t.feeds(ch, r, c);
    const count = n.direct.length + n.copies.length;
    if (info) return `padding (${r}, ${c}) = ${f(info.value)}${info.source ? `, copied from (${info.source[1]}, ${info.source[2]})` : ""}: in ${count} window(s); C has no column for it`;
    const col = S.colOf.get(`${ch},${r},${c}`);
    if (col === undefined) return `padding (${r}, ${c}): never read`;
    return `x[${ch}](${r}, ${c}) = ${f(S.body.input[0][ch][r][c])}: column ${col} of C, in ${count} window(s)`;
  }
  if (id === "im2col") {
    const rd = S.t.reads(r)[c];
    return `im2col[${r}, ${c}] = ${f(rd.input)}: x[${rd.at[0]}](${rd.at[1]}, ${rd.at[2]})${rd.pad ? " (padding)" : ""} under tap w[0, ${rd.tap[1]}, ${rd.tap[2]}, ${rd.tap[3]}] = ${f(rd.weight)}`;
  }
  if (id === "toeplitz") {
    const [ch, y, x] = S.inputs[c];
    if (!S.tapped.has(`${r},${c}`)) return `C[${r}, ${c}] = 0, structurally: x[${ch}](${y}, ${x}) is outside the window of ${label(r)}`;
    return `C[${r}, ${c}] = ${f(S.res.toeplitz[r][c])}: how much x[${ch}](${y}, ${x}) counts in ${label(r)}` +
      (S.res.toeplitz[r][c] === 0 ? " (inside the window, under a tap whose weight is 0)" : "");
  }
  if (id === "wv") { const tp = S.taps[r]; return `w[0, ${tp.c}, ${tp.ky}, ${tp.kx}] = ${f(tp.v)} (column ${r} of im2col)`; }
  if (id === "xv") { const [ch, y, x] = S.inputs[r]; return `x[${ch}](${y}, ${x}) = ${f(S.body.input[0][ch][y][x])}`; }
  if (id === "k") return "a kernel tap";
  const i = id === "y" ? S.t.outAt(0, r, c) : r;
  return i === undefined ? "" : `${label(i)}: ${sumText(S.t.cells[i], { maxTerms: 12 })}`;
}

function pytorch() {
  const b = S.body;
  // The padding the server applied, written out (any mode, "same" included): F.unfold only takes numbers.
  const amounts = [...S.trace.padding].reverse().flat();
  const mode = b.padding_mode === "zeros" ? "constant" : b.padding_mode;
  const conv = `F.conv2d(F.pad(t, (${amounts.join(", ")}), mode="${mode}"), w, stride=${JSON.stringify(S.trace.stride)}, `
    + `dilation=${JSON.stringify(S.trace.dilation)})`.replaceAll("[", "(").replaceAll("]", ")");
  return ["import torch", "import torch.nn.functional as F", "", `x = ${tensorLiteral(b.input)}`,
    `w = ${tensorLiteral(b.weight)}${b.flipped ? "  # the kernel flipped: torch cross-correlates" : ""}`,
    `conv = lambda t: ${conv}`,
    "y = conv(x)",
    `xp = F.pad(x, (${amounts.join(", ")}), mode="${mode}")`,
    `cols = ${pythonCall("F.unfold", ["xp", "w.shape[-2:]"], { dilation: S.trace.dilation, stride: S.trace.stride })}`
      + ".transpose(1, 2)[0]  # im2col: one row per output cell",
    "y_im2col = cols @ w.flatten()  # = y.flatten()",
    "C = torch.func.jacfwd(conv)(x).reshape(y.numel(), x.numel())  # Toeplitz: y.flatten() = C @ x.flatten()",
  ].join("\n");
}

S.view = setupView({
  name: "matrices",
  names: NAMES,
  load: async (p) => {
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => drawFrame(k),
  label: (k) => label(k),
  json: () => ({ request: S.request, trace: S.trace, im2col: S.res.im2col, toeplitz: S.res.toeplitz }),
  resize: () => S.trace && layout(),
});
