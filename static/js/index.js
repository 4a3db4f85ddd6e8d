// The home page's first convolution: one API call, three heatmaps. No arithmetic here: the server sends it all,
// the size formula with its numbers included (POST /shapes).
import { post } from "./api.js";
import { heatmap, whenPlotlyReady } from "./plot.js";
import { clearHeatmap, drawHeatmap } from "./heatcanvas.js";

const INPUT = [...Array(6)].map((_, y) => [...Array(6)].map((_, x) => ((x + 2 * y) % 5) - 1));
const KERNEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]];

const form = document.getElementById("demo-form");
const errorBox = document.getElementById("demo-error");
const formula = document.getElementById("demo-formula");
const plots = document.querySelector(".demo .heatmaps");
let generation = 0;
let interactive = false; // Plotly.js is fetched after the first drawing, which is on canvases
let shown = null; // the grids on screen
const PLOTS = ["plot-input", "plot-kernel", "plot-output"].map((id) => document.getElementById(id));

function paint(grids) {
  shown = grids;
  PLOTS.forEach((el, i) => (interactive ? heatmap(el, grids[i]) : drawHeatmap(el, grids[i])));
}

/** Once the page has drawn and the browser is idle, the same heatmaps become Plotly charts (zoom, pan). */
function upgrade() {
  const later = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
  later(() => whenPlotlyReady().then(() => {
    interactive = true;
    PLOTS.forEach((el) => clearHeatmap(el)); // swapped in the same task: never a moment without a drawing
    paint(shown);
  }).catch(() => {})); // the canvases stay: they show the same numbers
}

async function draw() {
  const mine = ++generation;
  const params = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, Number(v)]));
  try {
    const [result, shapes] = await Promise.all([
      post("/ops/conv2d", { input: [[INPUT]], weight: [[KERNEL]], ...params }),
      post("/shapes", { input_shape: [1, 6, 6], layers: [{ op: "conv2d", out_channels: 1, kernel_size: 3, ...params }] }),
    ]);
    if (mine !== generation) return; // a later edit's answer wins
    errorBox.hidden = true;
    plots.classList.remove("stale");
    const out = result.output[0][0];
    paint([INPUT, KERNEL, out]);
    document.getElementById("output-caption").textContent = `output ${result.shape[2]}×${result.shape[3]}`;
    formula.textContent = `o = ${shapes.layers[0].formula}`;
    if (!document.body.dataset.ready) { performance.mark("convscope:ready"); upgrade(); }
    document.body.dataset.ready = "true";
  } catch (err) {
    if (mine !== generation) return;
    errorBox.textContent = err.message;
    errorBox.hidden = false;
    plots.classList.add("stale"); // the last good drawing, greyed where it is
    formula.textContent = `o: no output size for stride ${params.stride}, padding ${params.padding}, dilation ${params.dilation}`;
    document.body.dataset.ready = "true";
  }
}

form.addEventListener("input", draw);
draw();
