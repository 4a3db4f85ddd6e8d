// /backprop: the backward pass of conv2d and pooling, cell by cell. The numbers are autograd's and every
// term comes from the server's backward_trace; this module only draws and writes the sums out.
import { post } from "../api.js";
import { announce } from "../controls.js";
import { randomTensor, rng } from "../data.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { intOrPair } from "../urlstate.js";
import { setupView } from "../view.js";
import { checkInts, dims, planeCell, pythonCall, tensorLiteral } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {} };
const paren = (v) => (v < 0 ? `(${f(v)})` : f(v));
const yx = (at) => [at[at.length - 2], at[at.length - 1]];

function body(p) {
  checkInts(p, { h: [1, 12], w: [1, 12], seed: [0, 2 ** 31] });
  const next = rng(p.seed);
  const x = [[randomTensor([Number(p.h), Number(p.w)], -3, 3, next)]];
  const k = intOrPair(p.kernel_size, 3);
  const common = { input: x, stride: intOrPair(p.stride, 1), padding: intOrPair(p.padding, 0) };
  if (p.op === "conv2d") {
    const [kh, kw] = Array.isArray(k) ? k : [k, k];
    return { ...common, weight: [[randomTensor([kh, kw], -2, 2, next)]], bias: [0], dilation: intOrPair(p.dilation, 1) };
  }
  return { ...common, kernel_size: k };
}

async function load(p) {
  const req = body(p);
  const fwd = await post(`/ops/${p.op}`, req);
  const next = rng(Number(p.seed) + 7919);
  const g = [[randomTensor(fwd.shape.slice(2), -2, 2, next)]];
  const full = { ...req, grad_output: g, extras: ["backward_trace"] };
  const res = await post(`/ops/${p.op}`, full);
  const bt = res.backward_trace;
  // Frames: every grad_input cell, then (conv) every grad_weight tap.
  const frames = bt.grad_input.map((cell) => ({ which: "gi", cell }));
  for (const cell of bt.grad_weight || []) frames.push({ which: "gw", cell });
  Object.assign(S, { p, req, full, res, bt, frames });
  render();
  return frames.length;
}

function grid(id, label, plane) {
  const g = new CellGrid($(`g-${id}`), { label, describe: (r, c) => describe(id, r, c) });
  g.setCells({ rows: plane.length, cols: plane[0].length, cell: planeCell(plane) });
  S.grids[id] = g;
  return g;
}

function render() {
  const { res, req, bt } = S;
  for (const id of Object.keys(S.grids)) $(`g-${id}`).innerHTML = "";
  S.grids = {};
  grid("x", "input", req.input[0][0]);
  grid("g", "grad_output", S.full.grad_output[0][0]);
  grid("gi", "grad_input", res.grad_input[0][0]);
  const conv = bt.family === "conv";
  for (const id of ["w", "gw"]) $(`g-${id}`).parentElement.hidden = !conv;
  $("t-gb").parentElement.hidden = !conv;
  if (conv) {
    grid("w", "weight", req.weight[0][0]);
    grid("gw", "grad_weight", res.grad_weight[0][0]);
    const b = bt.grad_bias[0];
    $("gb").textContent = `grad_bias[0] = ${b.terms.map((t) => paren(t.grad_output)).join(" + ")} = ${f(b.value)}`;
  }
  $("t-x").textContent = `input x · ${dims(bt.input_shape)}`;
  $("t-g").textContent = `grad_output = ∂L/∂y · ${dims(bt.output_shape)}`;
  $("t-w").textContent = conv ? `weight · ${dims(bt.weight_shape)} (cross-correlation, as torch)` : "weight";
  $("t-gi").textContent = conv ? "grad_input = conv_transpose2d(grad_output, weight)" :
    bt.family === "max_pool" ? "grad_input: each gradient to its argmax" : "grad_input: spread, ÷ divisor";
  $("t-gw").textContent = "grad_weight = correlation of x with grad_output";
  layout();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  for (const g of Object.values(S.grids)) {
    g.opts.maxCell = big ? 72 : 46;
    g.layout(Math.max(140, g.el.parentElement.clientWidth - 4), big ? window.innerHeight * 0.35 : 280);
  }
  if (S.frames) drawFrame(Math.min(S.frame ?? 0, S.frames.length - 1));
}

/** The sum of one gradient cell, term by term, with the server's numbers. */
function sumText(which, cell) {
  const at = cell.at.join(", ");
  if (!cell.terms.length) return `grad_${which === "gi" ? "input" : "weight"}[${at}] = 0 (no output cell sends a gradient here)`;
  const terms = cell.terms.map((t) => {
    if (which === "gw") return `${paren(t.grad_output)}·${paren(t.input_value)}`;
    if (t.weight !== undefined) return `${paren(t.grad_output)}·${paren(t.weight)}`;
    if (t.divisor !== undefined) return `${paren(t.grad_output)}/${t.divisor}`;
    return paren(t.grad_output);
  });
  const name = which === "gi" ? "grad_input" : "grad_weight";
  return `${name}[${at}] = ${terms.join(" + ")} = ${f(cell.value)}`;
}

function drawFrame(k) {
  S.frame = k;
  const { which, cell } = S.frames[k];
  const marks = { x: {}, w: {}, g: {}, gi: {}, gw: {} };
  const done = S.frames.slice(k + 1).filter((fr) => fr.which === which).map((fr) => yx(fr.cell.at));
  marks[which] = { current: [yx(cell.at)], veil: done };
  marks.g.lit = cell.terms.map((t) => yx(t.out));
  if (which === "gi") marks.w.lit = cell.terms.filter((t) => t.tap).map((t) => yx(t.tap));
  else marks.x.lit = cell.terms.map((t) => yx(t.input));
  if (which === "gi") marks.x.current = [yx(cell.at)];
  if (which === "gw") marks.w.current = [yx(cell.at)];
  for (const [id, g] of Object.entries(S.grids)) g.mark(marks[id] || {});
  const text = sumText(which, cell);
  $("sum").textContent = text;
  return text;
}

function describe(id, r, c) {
  const plane = { x: S.req.input, w: S.req.weight, g: S.full.grad_output, gi: S.res.grad_input,
    gw: S.res.grad_weight }[id];
  return plane ? `(${r}, ${c}) = ${f(plane[0][0][r][c])}` : "";
}

function pytorch() {
  const { p, req, full } = S;
  const lines = ["import torch", "import torch.nn.functional as F", "",
    `x = ${tensorLiteral(req.input)}.requires_grad_()`];
  let call;
  if (p.op === "conv2d") {
    lines.push(`w = ${tensorLiteral(req.weight)}.requires_grad_()`, `b = ${tensorLiteral(req.bias)}.requires_grad_()`);
    call = pythonCall("F.conv2d", ["x", "w", "b"], { stride: req.stride, padding: req.padding, dilation: req.dilation });
  } else {
    call = pythonCall(`F.${p.op}`, ["x"], { kernel_size: req.kernel_size, stride: req.stride, padding: req.padding });
  }
  lines.push(`y = ${call}`, `grad_output = ${tensorLiteral(full.grad_output)}`, "y.backward(grad_output)",
    "print(x.grad)");
  if (p.op === "conv2d") lines.push("print(w.grad)", "print(b.grad)");
  return lines.join("\n");
}

S.view = setupView({
  name: "backprop",
  names: { input: "h", weight: "kernel_size", grad_output: "h" },
  load: async (p) => {
    document.querySelector("[name=dilation]").disabled = p.op !== "conv2d";
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => announce(drawFrame(k)),
  label: (k) => `${S.frames[k].which === "gi" ? "grad_input" : "grad_weight"} (${S.frames[k].cell.at.slice(2).join(", ")})`,
  json: () => S.bt,
  resize: () => S.res && layout(),
});
