// /backprop: the backward pass of conv2d (channels, groups) and pooling, cell by cell. The numbers are autograd's
// and every term comes from the server's backward_trace; this module only draws and writes the sums out.
import { post } from "../api.js";
import { announce } from "../controls.js";
import { randomTensor, rng } from "../data.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { intOrPair } from "../urlstate.js";
import { setupView } from "../view.js";
import { channelFigure, checkInts, dims, fail, fitAll, pythonCall, tensorLiteral } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {} };
const IDS = ["x", "w", "g", "gi", "gw"];
const paren = (v) => (v < 0 ? `(${f(v)})` : f(v));
const yx = (at) => [at[at.length - 2], at[at.length - 1]];
/** The plane a coordinate lies in: the channel of x, grad_output, grad_input; (o, c') of a weight. */
const planeOf = (id, at) => (id === "w" || id === "gw" ? `${at[0]},${at[1]}` : String(at[1]));

function body(p) {
  checkInts(p, { h: [1, 12], w: [1, 12], channels: [1, 4], seed: [0, 2 ** 31] });
  const conv = p.op === "conv2d";
  if (conv) checkInts(p, { out_channels: [1, 4], groups: [1, 4] });
  const [C, O, G] = [Number(p.channels), Number(p.out_channels), Number(p.groups)];
  if (conv && (C % G || O % G)) {
    fail("groups", `groups must divide both channels (${C}) and out channels (${O}): each group takes C/groups ` +
      "input channels to O/groups output channels.");
  }
  const next = rng(p.seed);
  const x = [Array.from({ length: C }, () => randomTensor([Number(p.h), Number(p.w)], -3, 3, next))];
  const k = intOrPair(p.kernel_size, 3);
  const common = { input: x, stride: intOrPair(p.stride, 1), padding: intOrPair(p.padding, 0) };
  if (conv) {
    const [kh, kw] = Array.isArray(k) ? k : [k, k];
    const weight = Array.from({ length: O }, () => Array.from({ length: C / G }, () => randomTensor([kh, kw], -2, 2, next)));
    return { ...common, weight, bias: Array(O).fill(0), dilation: intOrPair(p.dilation, 1), groups: G };
  }
  const req = { ...common, kernel_size: k, ceil_mode: p.ceil_mode };
  if (p.op === "max_pool2d") return { ...req, dilation: intOrPair(p.dilation, 1) };
  req.count_include_pad = p.count_include_pad;
  if (String(p.divisor_override).trim() !== "") req.divisor_override = intOrPair(p.divisor_override, null);
  return req;
}

async function load(p) {
  const req = body(p);
  // one request: the server draws grad_output in the op's output shape from the seed, as data.js would
  const { grad_output: g, answer: res } = await post("/views/backprop", { op: p.op, ...req,
    grad_seed: Number(p.seed) + 7919 });
  const full = { ...req, grad_output: g, extras: ["backward_trace"] };
  const bt = res.backward_trace;
  // Frames: every grad_input cell, then (conv) every grad_weight tap.
  const frames = bt.grad_input.map((cell) => ({ which: "gi", cell }));
  for (const cell of bt.grad_weight || []) frames.push({ which: "gw", cell });
  Object.assign(S, { p, req, full, res, bt, frames });
  render();
  return frames.length;
}

/** One grid per plane of a tensor: channels of 4-D activations, (o, c') slices of a weight. */
function grids(id, label, tensor, isWeight, groupOf) {
  const host = $(`g-${id}`);
  host.innerHTML = "";
  host.classList.add("channels");
  S.grids[id] = {};
  const planes = isWeight ? tensor.flatMap((slices, o) => slices.map((pl, c) => [`${o},${c}`, pl, groupOf(o)]))
    : tensor[0].map((pl, c) => [String(c), pl, groupOf(c)]);
  for (const [key, pl, group] of planes) {
    const fig = channelFigure(host, `${label}[${key}]`, S.bt.family === "conv" && S.bt.groups > 1 ? group : null);
    const grid = new CellGrid(fig.body, { label: `${label}, plane ${key}`, colorscale: isWeight ? "Cividis" : "Viridis",
      describe: (r, c) => `${label}[${key}, ${r}, ${c}] = ${f(pl[r][c])}` });
    grid.setCells({ rows: pl.length, cols: pl[0].length, cell: (r, c) => ({ kind: "real", v: pl[r][c] }) });
    S.grids[id][key] = grid;
  }
}

function render() {
  const { res, req, bt } = S;
  S.grids = {};
  const conv = bt.family === "conv";
  const inGroup = conv ? bt.input_shape[1] / bt.groups : 1;
  const outGroup = conv ? bt.output_shape[1] / bt.groups : 1;
  const byIn = (c) => Math.floor(c / inGroup);
  const byOut = (o) => Math.floor(o / outGroup);
  grids("x", "x", req.input, false, byIn);
  grids("g", "grad_output", S.full.grad_output, false, conv ? byOut : byIn);
  grids("gi", "grad_input", res.grad_input, false, byIn);
  for (const id of ["w", "gw"]) $(`g-${id}`).parentElement.hidden = !conv;
  $("t-gb").parentElement.hidden = !conv;
  if (conv) {
    grids("w", "w", req.weight, true, byOut);
    grids("gw", "grad_weight", res.grad_weight, true, byOut);
    $("gb").replaceChildren(...bt.grad_bias.map((b) => {
      const line = document.createElement("p");
      line.className = "sum";
      line.textContent = `grad_bias[${b.at[0]}] = ${b.terms.map((t) => paren(t.grad_output)).join(" + ")} = ${f(b.value)}`;
      return line;
    }));
  }
  $("t-x").textContent = `input x · ${dims(bt.input_shape)}`;
  $("t-g").textContent = `grad_output = ∂L/∂y · ${dims(bt.output_shape)}`;
  $("t-w").textContent = conv ? `weight · ${dims(bt.weight_shape)}${bt.groups > 1 ? ` · groups ${bt.groups}` : ""}` : "weight";
  $("t-gi").textContent = conv ? "grad_input = conv_transpose2d(grad_output, weight)" :
    bt.family === "max_pool" ? "grad_input: each gradient to its argmax" : "grad_input: spread, ÷ divisor";
  $("t-gw").textContent = "grad_weight = correlation of x with grad_output";
  $("rule").textContent = rule(bt);
  layout();
}

/** What decides the numbers of this backward pass, in words, from the trace's header. */
function rule(bt) {
  if (bt.family === "conv") {
    return bt.groups > 1 ? `groups = ${bt.groups}: output channel o reads only the ${bt.weight_shape[1]} input ` +
      `channels of its group, so grad_input[c] gathers only from the output channels of c's group ` +
      "of c's group and each weight slice correlates one input channel with one grad_output channel."
      : "every output channel reads every input channel (groups = 1).";
  }
  if (bt.family === "max_pool") {
    return "each output cell sends its whole gradient to the one input cell torch's indices name; in a tie " +
      "(several cells hold the maximum) that is the first in row-major order, and the others get nothing.";
  }
  if (bt.divisor_override) return `divisor_override = ${bt.divisor_override}: every window divides by it, whatever its size.`;
  return bt.count_include_pad ? "count_include_pad: the divisor counts the window's cells inside the padded input " +
    "(padding included, cells past it not)." : "count_include_pad off: the divisor counts only the window's real cells.";
}

function layout() {
  const big = document.body.classList.contains("presenter");
  fitAll(Object.entries(S.grids).map(([id, set]) => [Object.values(set), $(`g-${id}`), 0.5,
    id === "w" || id === "gw" ? Math.max(1, S.bt.weight_shape?.[1] || 1) : 2]), big);
  if (S.frames) drawFrame(Math.min(S.frame ?? 0, S.frames.length - 1));
}

function termText(which, t) {
  if (which === "gw") return `${paren(t.grad_output)}·${paren(t.input_value)}`;
  if (t.weight !== undefined) return `${paren(t.grad_output)}·${paren(t.weight)}`;
  if (t.divisor !== undefined) return `${paren(t.grad_output)}/${t.divisor}`;
  return paren(t.grad_output);
}

/** The sum of one gradient cell, term by term, with the server's numbers. */
function sumText(which, cell) {
  const name = which === "gi" ? "grad_input" : "grad_weight";
  const at = cell.at.join(", ");
  if (!cell.terms.length) return `${name}[${at}] = 0 (no output cell sends a gradient here)`;
  let text = `${name}[${at}] = ${cell.terms.map((t) => termText(which, t)).join(" + ")} = ${f(cell.value)}`;
  for (const t of cell.terms.filter((u) => u.tied_with)) {
    text += ` · tie in the window of grad_output[${t.out.join(", ")}]: ${t.tied_with.map((c) => `(${c.join(", ")})`).join(", ")} ` +
      "all hold the maximum; torch's index picks this cell";
  }
  return text;
}

function drawFrame(k) {
  S.frame = k;
  const { which, cell } = S.frames[k];
  const marks = {};
  const add = (id, at, kind, point = yx(at)) => {
    const key = `${id}:${planeOf(id, at)}`;
    (marks[key] ||= { current: [], lit: [], veil: [] })[kind].push(point);
  };
  for (const fr of S.frames.slice(k + 1)) if (fr.which === which) add(which, fr.cell.at, "veil");
  add(which, cell.at, "current");
  for (const t of cell.terms) {
    add("g", t.out, "lit");
    if (which === "gi" && t.tap) add("w", t.tap, "lit");
    if (which === "gw") add("x", t.input, "lit");
    for (const c of t.tied_with || []) add("x", [0, cell.at[1], ...c], "lit");
  }
  if (which === "gi") add("x", cell.at, "current");
  if (which === "gw") add("w", cell.at, "current");
  for (const [id, set] of Object.entries(S.grids)) {
    for (const [key, g] of Object.entries(set)) g.mark(marks[`${id}:${key}`] || {});
  }
  const text = sumText(which, cell);
  $("sum").textContent = text;
  return text;
}

function pytorch() {
  const { p, req, full } = S;
  const lines = ["import torch", "import torch.nn.functional as F", "",
    `x = ${tensorLiteral(req.input)}.requires_grad_()`];
  let call;
  if (p.op === "conv2d") {
    lines.push(`w = ${tensorLiteral(req.weight)}.requires_grad_()`, `b = ${tensorLiteral(req.bias)}.requires_grad_()`);
    call = pythonCall("F.conv2d", ["x", "w", "b"], { stride: req.stride, padding: req.padding, dilation: req.dilation,
      groups: req.groups });
  } else {
    const { input, ...kw } = req;
    call = pythonCall(`F.${p.op}`, ["x"], kw);
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
    const conv = p.op === "conv2d";
    for (const [name, on] of [["dilation", p.op !== "avg_pool2d"], ["out_channels", conv], ["groups", conv],
      ["count_include_pad", p.op === "avg_pool2d"], ["divisor_override", p.op === "avg_pool2d"], ["ceil_mode", !conv]]) {
      document.querySelector(`[name=${name}]`).disabled = !on;
    }
    const frames = await load(p);
    $("pytorch-code").textContent = pytorch();
    return frames;
  },
  frame: (k) => announce(drawFrame(k)),
  label: (k) => `${S.frames[k].which === "gi" ? "grad_input" : "grad_weight"}[${S.frames[k].cell.at.slice(S.frames[k].which === "gi" ? 1 : 0).join(", ")}]`,
  json: () => S.bt,
  resize: () => S.res && layout(),
});
