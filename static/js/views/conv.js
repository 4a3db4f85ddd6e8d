// /conv: conv2d and conv1d, stepped cell by cell through the server's trace.
// Frame k is trace cell k. Nothing here computes a size or an index: the grids' frames come from the
// trace header, what each output reads from its cell, and what each input feeds from the inverted trace.
import { post } from "../api.js";
import { announce } from "../controls.js";
import { count, flipSpatial, randomTensor, rng } from "../data.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { TraceIndex, outRc, sumText } from "../trace.js";
import { intOrPair } from "../urlstate.js";
import { layerFormula, setupView } from "../view.js";
import { channelFigure, checkInts, chunks, fitAll, fitGrids, parsePlanes, pythonCall, symmetricRange, tensorLiteral } from "./shared.js";

const MAX_SIDE = 128; // what the animator draws comfortably; the server's own caps apply beyond
const $ = (id) => document.getElementById(id);
const S = { grids: { input: [], kernel: [], output: [] } };
const NAMES = { weight: "kh", input: "h", bias: "bias" }; // error loc -> control; input/weight follow the typed boxes

/** Typed input and kernel (null where the box is empty). 2-D: a plane per channel or slice; 1-D: a line each. */
function typedValues(p, one) {
  const flat = (planes) => (planes && one ? planes.flat() : planes);
  return { x: flat(parsePlanes(p.values_x)), w: flat(parsePlanes(p.values_w)) };
}

function buildRequest(p) {
  const one = p.dims === "1";
  const typed = typedValues(p, one);
  NAMES.input = typed.x ? "values_x" : "h";
  NAMES.weight = typed.w ? "values_w" : "kh";
  const ranges = { c: [1, 16], o: [1, 16], kh: [1, 32], kw: [1, 32], groups: [1, 16], seed: [0, 2 ** 31] };
  if (!typed.x) Object.assign(ranges, { h: [1, MAX_SIDE], w: [1, MAX_SIDE] });
  if (typed.x) delete ranges.c;
  if (typed.w) { delete ranges.o; delete ranges.kh; delete ranges.kw; }
  checkInts(p, ranges);
  const G = Number(p.groups);
  const C = typed.x ? typed.x.length : Number(p.c);
  const O = Number(p.o);
  const next = rng(p.seed);
  const spatial = one ? [Number(p.w)] : [Number(p.h), Number(p.w)];
  const kernel = one ? [Number(p.kw)] : [Number(p.kh), Number(p.kw)];
  const input = typed.x ? [typed.x] : randomTensor([1, C, ...spatial], 0, 9, next);
  // The weight is O × C/groups × kernel; when groups does not divide C the API says so.
  const perGroup = Number.isInteger(C / G) ? C / G : C;
  const original = typed.w ? chunks(typed.w, perGroup) : randomTensor([O, perGroup, ...kernel], -2, 2, next);
  const weight = p.flip ? flipSpatial(original, one ? 1 : 2) : original;
  const body = { input, weight, stride: intOrPair(p.stride, 1), padding: intOrPair(p.padding, 0),
    dilation: intOrPair(p.dilation, 1), groups: G, padding_mode: p.padding_mode, extras: ["trace"] };
  if (p.bias) body.bias = randomTensor([original.length], -3, 3, next);
  return { op: one ? "conv1d" : "conv2d", one, body, params: p };
}

async function load(p) {
  // the size controls a typed box replaces, and the height ones in 1-D, are greyed
  const [tx, tw] = [p.values_x, p.values_w].map((v) => Boolean(String(v ?? "").trim()));
  const off = { h: p.dims === "1" || tx, w: tx, c: tx, kh: p.dims === "1" || tw, kw: tw, o: tw };
  for (const [name, disabled] of Object.entries(off)) document.querySelector(`[name=${name}]`).disabled = disabled;
  const req = buildRequest(p);
  const res = await post(`/ops/${req.op}`, req.body);
  Object.assign(S, { req, res, trace: res.trace, index: new TraceIndex(res.trace), hover: null, o: null });
  render();
  describeLayer();
  return S.trace.cells.length;
}

// ---------------------------------------------------------------- drawing
function inputValue(c, y, x) {
  const plane = S.req.body.input[0][c];
  return S.req.one ? plane[x] : plane[y][x];
}

function render() {
  const { trace, req, index } = S;
  const [C, ...size] = trace.input_shape.slice(1);
  const [H, W] = req.one ? [1, size[0]] : size;
  const pads = req.one ? [[0, 0], trace.padding[0]] : trace.padding;
  const copied = trace.padding_mode !== "zeros";
  groupColours();
  const host = $("input-grids");
  host.replaceChildren();
  S.grids.input = [...Array(C).keys()].map((c) => {
    const fig = channelFigure(host, `x[${c}]`, S.groupOfIn[c]);
    const grid = new CellGrid(fig.body, { label: `input channel ${c}`, describe: (y, x) => describeInput(c, y, x),
      onHover: (y, x) => hoverInput(c, y, x), onLeave: leave });
    grid.setCells({ rows: H + pads[0][0] + pads[0][1], cols: W + pads[1][0] + pads[1][1], row0: -pads[0][0],
      col0: -pads[1][0], cell: (y, x) => {
        if (y >= 0 && y < H && x >= 0 && x < W) {
          const fed = index.feeds(c, y, x);
          return { kind: "real", v: inputValue(c, y, x), dim: !fed.direct.length && !fed.copies.length };
        }
        const info = index.padInfo.get(`${c},${y},${x}`);
        if (!info) return { kind: "unread" };
        return { kind: copied ? "copy" : "pad", v: info.value };
      } });
    grid.el.dataset.channel = c;
    return grid;
  });
  const outHost = $("output-grids");
  outHost.replaceChildren();
  const [O, ...osize] = trace.output_shape.slice(1);
  const [Ho, Wo] = req.one ? [1, osize[0]] : osize;
  S.order = [...Array(O)].map(() => []);
  trace.cells.forEach((cell, idx) => { const [o, y, x] = outRc(cell.out); S.order[o].push([idx, y, x]); });
  S.grids.output = [...Array(O).keys()].map((o) => {
    const fig = channelFigure(outHost, `y[${o}]`, S.groupOfOut[o]);
    const grid = new CellGrid(fig.body, { label: `output channel ${o}`, describe: (y, x) => describeOutput(o, y, x),
      onHover: (y, x) => hoverOutput(o, y, x), onLeave: leave, onClick: (y, x) => jump(o, y, x) });
    const plane = S.res.output[0][o];
    grid.setCells({ rows: Ho, cols: Wo, cell: (y, x) => ({ kind: "real", v: req.one ? plane[x] : plane[y][x] }) });
    grid.el.dataset.channel = o;
    return grid;
  });
  $("t-input").textContent = `input x · ${trace.input_shape.join("×")} (N×C×${req.one ? "L" : "H×W"})` +
    (pads.flat().some(Boolean) ? ` · padding ${trace.padding_mode}` : "");
  $("t-output").textContent = `output y · ${trace.output_shape.join("×")}`;
  S.o = null;
  layout();
}

function showKernel(o) {
  if (S.o === o) return;
  S.o = o;
  const { req, trace } = S;
  const slices = req.body.weight[o];
  const [dh, dw] = req.one ? [1, trace.dilation[0]] : trace.dilation;
  const host = $("kernel-grids");
  host.replaceChildren();
  // The kernel drawn with its dilation: tap (ky, kx) at (ky·d, kx·d), the cells between left empty.
  S.grids.kernel = slices.map((slice, cl) => {
    const taps = req.one ? [slice] : slice;
    const fig = channelFigure(host, `w[${o}, ${cl}]`, S.groupOfOut[o]);
    const grid = new CellGrid(fig.body, { label: `kernel of output channel ${o}, slice ${cl}`, colorscale: "Cividis",
      axes: false, describe: (y, x) => (y % dh || x % dw ? "dilation gap: no weight here"
        : `w[${o}, ${cl}, ${req.one ? "" : `${y / dh}, `}${x / dw}] = ${f(taps[y / dh][x / dw])}`) });
    grid.setCells({ rows: dh * (taps.length - 1) + 1, cols: dw * (taps[0].length - 1) + 1, ...symmetricRange(req.body.weight),
      cell: (y, x) => (y % dh || x % dw ? { kind: "gap" } : { kind: "real", v: taps[y / dh][x / dw] }) });
    return grid;
  });
  const cc = trace.cross_correlation ? "applied as a cross-correlation" : "";
  $("t-kernel").textContent = `kernel w[${o}] · ${req.params.flip ? `K flipped (true convolution), ${cc}` : `${cc} (not flipped)`}`;
  layoutKernel();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  fitAll([[S.grids.input, $("input-grids")], [S.grids.output, $("output-grids")],
    [S.grids.kernel, $("kernel-grids"), 0.8, 1]], big);
  if (S.trace) drawFrame(S.frame ?? 0);
}

function layoutKernel() {
  fitGrids(S.grids.kernel, $("kernel-grids"), document.body.classList.contains("presenter"), 0.8, 1);
}

/** Which group each channel is in, read off the trace: outputs that read the same input channels share one. */
function groupColours() {
  const { trace } = S;
  const sets = new Map();
  S.groupOfOut = [];
  S.groupOfIn = [];
  for (const cell of trace.cells) {
    const [o] = outRc(cell.out);
    if (S.groupOfOut[o] !== undefined) continue;
    const chans = [...new Set(cell.reads.map((r) => r[0]))];
    const keyOf = chans.join(",");
    if (!sets.has(keyOf)) sets.set(keyOf, sets.size);
    S.groupOfOut[o] = trace.groups > 1 ? sets.get(keyOf) : null;
    for (const c of chans) S.groupOfIn[c] = S.groupOfOut[o];
  }
}

// ---------------------------------------------------------------- frames and hovering
function marksFor(idx) {
  const reads = S.index.reads(idx);
  const inputs = S.grids.input.map(() => ({ lit: [], labels: [], source: [] }));
  const kernels = S.grids.kernel.map(() => ({ lit: [] }));
  const [dh, dw] = S.req.one ? [1, S.trace.dilation[0]] : S.trace.dilation;
  for (const read of reads) {
    const [c, y, x] = read.at;
    inputs[c].lit.push([y, x]);
    inputs[c].labels.push({ r: y, c: x, text: `×${f(read.weight)}` });
    if (read.source) inputs[read.source[0]].source.push([read.source[1], read.source[2]]);
    const tap = read.tap; // [o, c_local, ky, kx] or [o, c_local, kx]
    const [ky, kx] = S.req.one ? [0, tap[2]] : [tap[2], tap[3]];
    kernels[tap[1]]?.lit.push([ky * dh, kx * dw]);
  }
  return { inputs, kernels };
}

function drawFrame(k, hovered = null) {
  S.frame = k;
  const idx = hovered ?? k;
  const cell = S.trace.cells[idx];
  if (!cell) return;
  const [o, y, x] = outRc(cell.out);
  showKernel(o);
  const { inputs, kernels } = marksFor(idx);
  S.grids.input.forEach((g, c) => g.mark(inputs[c]));
  S.grids.kernel.forEach((g, cl) => g.mark(kernels[cl]));
  S.grids.output.forEach((g, oc) => g.mark({
    current: oc === o ? [[y, x]] : [],
    veilAfter: { order: S.order[oc], k },
  }));
  $("sum").textContent = `${label(idx)} = ${sumText(cell)}`;
}

function label(idx) {
  const [o, y, x] = outRc(S.trace.cells[idx].out);
  return S.req.one ? `y[${o}](${x})` : `y[${o}](${y}, ${x})`;
}

function hoverOutput(o, y, x) {
  const idx = S.index.outAt(o, y, x);
  if (idx === undefined) return;
  S.view.player.pause();
  drawFrame(S.frame, idx);
  announce(`${label(idx)} = ${sumText(S.trace.cells[idx])}`);
}

function jump(o, y, x) {
  const idx = S.index.outAt(o, y, x);
  if (idx !== undefined) S.view.player.step(idx - S.view.player.frame);
}

function hoverInput(c, y, x) {
  S.view.player.pause();
  const { direct, copies } = S.index.feeds(c, y, x);
  const fed = S.grids.output.map(() => []);
  for (const idx of [...direct, ...copies.map((cp) => cp.idx)]) {
    const [o, oy, ox] = outRc(S.trace.cells[idx].out);
    fed[o].push([oy, ox]);
  }
  S.grids.output.forEach((g, o) => g.mark({ fed: fed[o] }));
  const info = S.index.padInfo.get(`${c},${y},${x}`);
  S.grids.input.forEach((g, ch) => g.mark({
    current: ch === c ? [[y, x]] : [],
    source: [
      ...(info?.source && info.source[0] === ch ? [[info.source[1], info.source[2]]] : []),
      ...(ch === c ? copies.map((cp) => [cp.at[1], cp.at[2]]) : []),
    ],
  }));
  S.grids.kernel.forEach((g) => g.mark({}));
  const text = describeInput(c, y, x);
  $("sum").textContent = text;
  announce(text);
}

function leave() {
  drawFrame(S.frame);
}

function where(y, x) {
  return S.req.one ? `(${x})` : `(${y}, ${x})`;
}

function describeInput(c, y, x) {
  const { direct, copies } = S.index.feeds(c, y, x);
  const info = S.index.padInfo.get(`${c},${y},${x}`);
  const feeds = `feeds ${direct.length + copies.length} output cell${direct.length + copies.length === 1 ? "" : "s"}`;
  if (info) {
    const from = info.source ? `, copied from ${where(info.source[1], info.source[2])} (${S.trace.padding_mode})` : " (zero padding)";
    return `padding x[${c}]${where(y, x)} = ${f(info.value)}${from}; ${feeds}`;
  }
  const inside = S.grids.input[c].cellAt(y, x);
  if (inside?.kind === "unread") return `padding x[${c}]${where(y, x)}: no output reads it`;
  const copyNote = copies.length ? ` (${copies.length} of them through padding copies)` : "";
  return direct.length + copies.length
    ? `x[${c}]${where(y, x)} = ${f(inputValue(c, y, x))}; ${feeds}${copyNote}`
    : `x[${c}]${where(y, x)} = ${f(inputValue(c, y, x))}: never read (the stride steps over it)`;
}

function describeOutput(o, y, x) {
  const idx = S.index.outAt(o, y, x);
  return idx === undefined ? "" : `${label(idx)} = ${sumText(S.trace.cells[idx], { maxTerms: 12 })}`;
}

// ---------------------------------------------------------------- words, numbers and exports
async function describeLayer() {
  const { req, trace } = S;
  const b = req.body;
  const wshape = shapeOf(b.weight);
  const groups = trace.groups;
  let text = `weights: ${count(b.weight)} (${wshape.join("×")})${b.bias ? ` + ${count(b.bias)} bias` : ""}`;
  if (groups > 1) text += ` · groups = ${groups}: each filter sees ${wshape[1]} of the ${trace.input_shape[1]} input ` +
    `channels, so ${groups}× fewer weights than groups = 1`;
  $("weights").textContent = text;
  $("formula").textContent = `output shape ${trace.output_shape.join("×")} (from the server)`;
  if (req.one) return;
  const layer = await layerFormula(trace.input_shape.slice(1), { op: "conv2d", out_channels: trace.output_shape[1],
    kernel_size: wshape.slice(2), stride: b.stride, padding: b.padding, dilation: b.dilation, groups,
    padding_mode: b.padding_mode, bias: Boolean(b.bias) });
  if (layer?.formula && S.req === req) {
    $("formula").textContent = `${layer.formula} → ${layer.output_shape.join("×")}` +
      (layer.params !== undefined ? ` · ${layer.params} parameters` : "");
  }
}

function shapeOf(t) {
  const shape = [];
  for (let x = t; Array.isArray(x); x = x[0]) shape.push(x.length);
  return shape;
}

function pytorch() {
  const { req, trace } = S;
  const b = req.body;
  const fn = req.one ? "F.conv1d" : "F.conv2d";
  const lines = ["import torch", "import torch.nn.functional as F", "",
    `x = ${tensorLiteral(b.input)}  # ${trace.input_shape.join("×")}`,
    `w = ${tensorLiteral(b.weight)}  # ${shapeOf(b.weight).join("×")}${req.params.flip ? ", flipped: true convolution" : ""}`];
  if (b.bias) lines.push(`b = ${tensorLiteral(b.bias)}`);
  const args = { stride: b.stride, padding: b.padding, dilation: b.dilation, groups: b.groups };
  if (b.padding_mode !== "zeros") {
    // torch.nn.functional has no padding_mode: pad first (F.pad takes the last axis first), then convolve.
    const amounts = [...trace.padding].reverse().flat();
    lines.push(`x = F.pad(x, (${amounts.join(", ")}), mode="${b.padding_mode}")`);
    args.padding = 0;
  }
  lines.push(`y = ${pythonCall(fn, ["x", "w", b.bias ? "b" : "None"], args)}  # ${trace.output_shape.join("×")}`);
  if (trace.cross_correlation) lines.push("# torch's conv is cross-correlation: the kernel is not flipped");
  return lines.join("\n");
}

S.view = setupView({
  name: "conv",
  names: NAMES,
  load: async (p) => {
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => drawFrame(k),
  label: (k) => label(k),
  json: () => ({ op: S.req.op, request: { ...S.req.body, input: S.req.body.input }, trace: S.trace }),
  resize: () => S.trace && layout(),
});
