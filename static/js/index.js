// The home page's first convolution: one API call, three heatmaps. No arithmetic here: the server sends it all.
import { post } from "./api.js";
import { heatmap, whenPlotlyReady } from "./plot.js";

const INPUT = [...Array(6)].map((_, y) => [...Array(6)].map((_, x) => ((x + 2 * y) % 5) - 1));
const KERNEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]];

const form = document.getElementById("demo-form");
const errorBox = document.getElementById("demo-error");

async function draw() {
  const params = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, Number(v)]));
  try {
    const result = await post("/ops/conv2d", { input: [[INPUT]], weight: [[KERNEL]], ...params });
    errorBox.hidden = true;
    const out = result.output[0][0];
    heatmap(document.getElementById("plot-input"), INPUT);
    heatmap(document.getElementById("plot-kernel"), KERNEL);
    heatmap(document.getElementById("plot-output"), out);
    document.getElementById("output-caption").textContent = `output ${result.shape[2]}×${result.shape[3]}`;
    const { stride: s, padding: p, dilation: d } = params;
    document.getElementById("demo-formula").textContent =
      `o = ⌊(i + 2p − d(k−1) − 1) / s⌋ + 1 = ⌊(6 + 2·${p} − ${d}·2 − 1) / ${s}⌋ + 1 = ${result.shape[2]}`;
    if (!document.body.dataset.ready) performance.mark("convscope:ready");
    document.body.dataset.ready = "true";
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.hidden = false;
    document.body.dataset.ready = "true";
  }
}

form.addEventListener("input", draw);
whenPlotlyReady().then(draw);
