// /fully-convolutional: the server builds the classifier and its twin, runs both ways and measures; this module
// steps through the sliding-window crops (one frame per crop: its classifier output lands in the map beside the
// twin's map) and writes the same construction as PyTorch.
import { post } from "../api.js";
import { announce } from "../controls.js";
import { CellGrid } from "../grid.js";
import { formatCount, formatNumber as f } from "../plot.js";
import { setupView } from "../view.js";
import { checkInts, fitAll } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {} };

function rowsOf(tbody, rows) {
  tbody.innerHTML = "";
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const v of row) { const td = document.createElement("td"); td.textContent = String(v); tr.append(td); }
    tbody.append(tr);
  }
}

async function load(p) {
  checkInts(p, { size: [12, 64], seed: [0, 2 ** 31], cls: [0, 3] });
  const res = await post("/fully-convolutional", { size: Number(p.size), seed: Number(p.seed), classes: 4 });
  Object.assign(S, { res, p, cls: Number(p.cls) });
  rowsOf($("fcn-logits").querySelector("tbody"), res.classifier_logits.map((v, i) => [i, f(v), f(res.twin_on_train_size[i])]));
  $("fcn-equal").textContent = `largest difference: ${res.max_abs_difference} (float64); the twin's map vs sliding: ` +
    `${res.map_vs_sliding_max_abs_difference.toExponential(1)}`;
  const c = res.cost;
  rowsOf($("fcn-cost").querySelector("tbody"), [
    ["twin: one pass over the whole image", c.twin.windows, formatCount(c.twin.macs), `${(c.twin.seconds * 1e3).toFixed(2)} ms`],
    ["classifier on every crop", c.sliding.windows, formatCount(c.sliding.macs), `${(c.sliding.seconds * 1e3).toFixed(2)} ms`],
    ["ratio (crops ÷ twin)", "", `${f(c.macs_ratio)}×`, `${f(c.sliding.seconds / c.twin.seconds)}×`]]);
  $("pytorch-code").textContent = pytorch(res, p);
  build();
  return res.map_shape[2] * res.map_shape[3];
}

function grid(id, label, plane, colorscale = "Viridis") {
  const g = new CellGrid($(`g-${id}`), { label, colorscale, describe: (r, c) => `(${r}, ${c}) = ${f(plane[r][c])}` });
  g.setCells({ rows: plane.length, cols: plane[0].length, cell: (r, c) => ({ kind: "real", v: plane[r][c] }) });
  S.grids[id] = g;
}

function build() {
  const { res, cls } = S;
  S.grids = {};
  grid("img", "the larger image, channel 0", res.image[0], "Cividis");
  grid("map", `the twin's map, class ${cls}`, res.map[cls]);
  grid("slide", `the classifier slid over crops, class ${cls}`, res.sliding[cls]);
  const [n, m] = res.map_shape.slice(2);
  $("t-img").textContent = `the ${res.size}×${res.size} image (channel 0 of 3) · the crop being classified`;
  $("t-map").textContent = `the twin's map · class ${cls} · ${n}×${m}, one pass`;
  $("t-slide").textContent = `the classifier on each ${res.train_size}×${res.train_size} crop · class ${cls}`;
  // The order the crops are visited in (row by row): [frame, r, c] for the grid's veil.
  S.order = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) S.order.push([i * m + j, i, j]);
  layout();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  fitAll(["img", "map", "slide"].map((id) => [[S.grids[id]], $(`g-${id}`), 0.6, 1]), big);
  if (S.frame !== undefined) drawFrame(Math.min(S.frame, S.order.length - 1));
}

function drawFrame(k) {
  S.frame = k;
  const { res, cls } = S;
  const m = res.map_shape[3];
  const [i, j] = [Math.floor(k / m), k % m];
  const [r0, c0] = [i * res.stride, j * res.stride];
  const crop = [];
  for (let r = r0; r < r0 + res.train_size; r++) for (let c = c0; c < c0 + res.train_size; c++) crop.push([r, c]);
  S.grids.img.mark({ lit: crop });
  S.grids.map.mark({ current: [[i, j]] });
  S.grids.slide.mark({ current: [[i, j]], veilAfter: { order: S.order, k } });
  const logits = res.sliding.map((plane) => f(plane[i][j]));
  const text = `crop (${i}, ${j}): rows ${r0}–${r0 + res.train_size - 1}, columns ${c0}–${c0 + res.train_size - 1} → ` +
    `the classifier's logits [${logits.join(", ")}]; class ${cls}: ${f(res.sliding[cls][i][j])} on the crop, ` +
    `${f(res.map[cls][i][j])} in the twin's map at (${i}, ${j})`;
  $("sum").textContent = text;
  return text;
}

function pytorch(res, p) {
  return ["import torch", "import torch.nn.functional as F", "",
    `g = torch.Generator().manual_seed(${p.seed})`,
    "r = lambda *s: torch.randn(*s, dtype=torch.float64, generator=g) * 0.3",
    "w1, b1, w2, b2 = r(8, 3, 3, 3), r(8), r(16, 8, 3, 3), r(16)",
    `wl, bl = r(${res.classes}, 144), r(${res.classes})`,
    "features = lambda x: F.relu(F.conv2d(F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), 2), w2, b2))",
    "classifier = lambda x: F.linear(features(x).flatten(1), wl, bl)",
    `twin = lambda x: F.conv2d(features(x), wl.view(${res.classes}, 16, 3, 3), bl)`,
    `g2 = torch.Generator().manual_seed(${Number(p.seed) + 1})`,
    "small = torch.randn(1, 3, 12, 12, dtype=torch.float64, generator=g2)",
    `big = torch.randn(1, 3, ${res.size}, ${res.size}, dtype=torch.float64, generator=g2)`,
    "print(classifier(small), twin(small).flatten(1))  # equal",
    "print(twin(big))  # the map of outputs",
    `n = ${res.map_shape[2]}  # crops per side, ${res.stride} pixels apart`,
    `crops = [[classifier(big[:, :, ${res.stride} * i:${res.stride} * i + 12, ${res.stride} * j:${res.stride} * j + 12])[0] for j in range(n)] for i in range(n)]`,
    "print(torch.stack([torch.stack(row, -1) for row in crops], -2))  # the same map, crop by crop"].join("\n");
}

S.view = setupView({
  name: "fcn",
  names: {},
  load,
  frame: (k) => announce(drawFrame(k)),
  label: (k) => `crop (${Math.floor(k / S.res.map_shape[3])}, ${k % S.res.map_shape[3]})`,
  json: () => S.res,
  resize: () => S.res && layout(),
});
