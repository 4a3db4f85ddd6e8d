// /fully-convolutional: the server builds the classifier and its twin, runs both ways and measures; this module
// lays out the numbers (class by class, one frame per class) and writes the same construction as PyTorch.
import { post } from "../api.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { setupView } from "../view.js";
import { checkInts, planeCell } from "./shared.js";

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
  checkInts(p, { size: [12, 64], seed: [0, 2 ** 31] });
  const res = await post("/fully-convolutional", { size: Number(p.size), seed: Number(p.seed), classes: 4 });
  S.res = res;
  S.p = p;
  rowsOf($("fcn-logits").querySelector("tbody"), res.classifier_logits.map((v, i) => [i, f(v), f(res.twin_on_train_size[i])]));
  $("fcn-equal").textContent = `largest difference: ${res.max_abs_difference} (float64); the twin's map vs sliding: ` +
    `${res.map_vs_sliding_max_abs_difference.toExponential(1)}`;
  const c = res.cost;
  rowsOf($("fcn-cost").querySelector("tbody"), [
    ["twin: one pass over the whole image", c.twin.windows, c.twin.macs.toLocaleString("en"), `${(c.twin.seconds * 1e3).toFixed(2)} ms`],
    ["classifier on every crop", c.sliding.windows, c.sliding.macs.toLocaleString("en"), `${(c.sliding.seconds * 1e3).toFixed(2)} ms`],
    ["ratio (crops ÷ twin)", "", `${f(c.macs_ratio)}×`, `${f(c.sliding.seconds / c.twin.seconds)}×`]]);
  $("pytorch-code").textContent = pytorch(res, p);
  return res.classes;
}

function drawFrame(k) {
  const { res } = S;
  for (const [id, data, title] of [["map", res.map, "the twin's map"], ["slide", res.sliding, "the classifier slid over crops"]]) {
    $(`g-${id}`).innerHTML = "";
    const g = new CellGrid($(`g-${id}`), { label: `${title}, class ${k}`, describe: (r, c) => `(${r}, ${c}) = ${f(data[k][r][c])}` });
    g.setCells({ rows: data[k].length, cols: data[k][0].length, cell: planeCell(data[k]) });
    g.opts.maxCell = document.body.classList.contains("presenter") ? 72 : 46;
    g.layout(Math.max(140, g.el.parentElement.clientWidth - 4), 360);
    $(`t-${id}`).textContent = `${title} · class ${k} · ${res.map_shape.slice(2).join("×")}`;
  }
  $("sum").textContent = `class ${k}: the same ${res.map_shape[2]}×${res.map_shape[3]} map both ways; cell (i, j) is the classifier on the crop starting at (${res.stride}i, ${res.stride}j)`;
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
    "print(twin(big))  # the map of outputs"].join("\n");
}

S.view = setupView({
  name: "fcn",
  names: {},
  load,
  frame: (k) => drawFrame(k),
  label: (k) => `class ${k}`,
  json: () => S.res,
  resize: () => S.res && drawFrame(S.view.player.frame),
});
