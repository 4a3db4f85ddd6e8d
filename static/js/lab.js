// The image lab: choose an image, a small pipeline, run it, see every feature map.
import { ApiError, get, post } from "./api.js";
import { formatNumber } from "./plot.js";
import { decodeBytes, drawMap, drawRGB, pixelUnder, valueAt } from "./featuremaps.js";

const PRESETS = {
  "edges: sobel_x, relu, max pool 2": [
    { op: "conv2d", kernel: "sobel_x", mode: "shared", padding: 1 }, { op: "relu" },
    { op: "max_pool2d", kernel_size: 2 }],
  "blur: gaussian 5×5 σ=2": [
    { op: "conv2d", kernel: { name: "gaussian", params: { size: 5, sigma: 2 } }, padding: 2 }],
  "conv 3→16 random, relu, max pool 2": [
    { op: "conv2d", kernel: "random", seed: 0, out_channels: 16, padding: 1 }, { op: "relu" },
    { op: "max_pool2d", kernel_size: 2 }],
  "pool then unpool": [
    { op: "max_pool2d", kernel_size: 4 }, { op: "max_unpool2d", from: 0 }],
};

const KERNEL_SIDE = { gaussian: 5, gabor: 7 };  // the catalogue's default sizes other than 3
const $ = (id) => document.getElementById(id);
const state = { image: null, info: null, result: null, layers: [] };

function showError(message) {
  const box = $("lab-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function describe(info, label) {
  let text = `${label}: ${info.width}×${info.height}, ${info.channels === 1 ? "grayscale" : "colour"}`;
  if (info.resized) {
    text += ` (resized from ${info.original_width}×${info.original_height} to fit ${Math.max(info.width, info.height)} px)`;
  }
  $("lab-image-info").textContent = text + ".";
}

async function chooseSample(name) {
  const info = await get(`/samples/${encodeURIComponent(name)}`);
  state.image = { sample: name };
  state.info = info;
  describe(info, `sample “${info.title || name}”`);
}

async function upload(file) {
  showError("");
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name || "pasted.png");
  $("lab-status").textContent = "Uploading…";
  try {
    const response = await fetch("/api/v1/images", { method: "POST", body: form });
    const data = await response.json();
    if (!response.ok || data.ok === false) throw new ApiError({ status: response.status, ...data });
    state.image = { id: data.id };
    $("lab-sample").value = "";
    state.info = data;
    describe(data, `upload ${file.name || ""}`.trim());
    $("lab-status").textContent = "Uploaded; press Run.";
  } catch (err) {
    $("lab-status").textContent = "";
    showError(err.message);
  }
}

function figure(title, canvas, map, layerIndex, short = title) {
  const fig = document.createElement("figure");
  fig.className = "lab-map";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", title);
  canvas.addEventListener("mousemove", (event) => {
    const p = pixelUnder(event, canvas, map);
    const q = map.bytes[p.dy * map.width + p.dx];
    const where = map.factor > 1 ? `rows ${p.y}–${p.y + map.factor - 1}, cols ${p.x}–${p.x + map.factor - 1} (mean)` : `(${p.y}, ${p.x})`;
    $("lab-hover").textContent = `${title} ${where}: ${formatNumber(valueAt(map, q))}`;
  });
  if (layerIndex >= 0) canvas.addEventListener("click", (event) => receptiveField(event, canvas, map, layerIndex));
  const cap = document.createElement("figcaption");
  cap.textContent = `${short} [${formatNumber(map.min)}, ${formatNumber(map.max)}]`;
  fig.append(canvas, cap);
  return fig;
}

function renderRow(title, block, layerIndex) {
  const row = document.createElement("section");
  row.className = "lab-layer";
  const h = document.createElement("h3");
  const [c, hgt, w] = block.shape;
  const factor = block.maps[0].factor;
  h.textContent = `${title} — ${c}×${hgt}×${w}${factor > 1 ? ` (shown at 1/${factor})` : ""}`;
  const grid = document.createElement("div");
  grid.className = block.maps.length <= 4 ? "lab-grid big" : "lab-grid";
  const decoded = block.maps.map((m) => decodeBytes(m));
  block.maps.forEach((m, i) => { m.bytes = decoded[i]; });
  if (layerIndex < 0 && block.maps.length === 3) {
    const canvas = drawRGB(block.maps, decoded);
    canvas.id = "lab-input-canvas";
    grid.append(figure("input RGB", canvas, block.maps[0], -1, "RGB"));
  }
  block.maps.forEach((m, i) => grid.append(figure(`${title} ch ${i}`, drawMap(m, decoded[i]), m, layerIndex, `ch ${i}`)));
  row.append(h, grid);
  return row;
}

function render(result) {
  const root = $("lab-maps");
  root.replaceChildren();
  root.append(renderRow("input", result.input, -1));
  result.layers.forEach((layer, i) => root.append(renderRow(`layer ${i}: ${layer.op}`, layer, i)));
}

async function run() {
  showError("");
  let layers;
  try {
    layers = JSON.parse($("lab-layers").value);
  } catch (err) {
    showError(`The layers are not valid JSON: ${err.message}`);
    return;
  }
  if (!state.image) { showError("Choose a sample or upload an image first."); return; }
  $("lab-status").textContent = "Running…";
  const started = performance.now();
  try {
    const maxSide = Number($("lab-max-side").value) || 256;
    const result = await post("/pipeline", { image: state.image, layers, max_side: maxSide, encoding: "raw" });
    state.result = result;
    state.layers = layers;
    render(result);
    const n = result.layers.reduce((s, l) => s + l.maps.length, 0);
    $("lab-status").textContent = `${n} feature maps from ${result.layers.length} layers in ${Math.round(performance.now() - started)} ms (computed on ${result.device}).`;
    document.body.dataset.ran = "true";
  } catch (err) {
    $("lab-status").textContent = "";
    showError(err.message);
  }
}

// Click a feature-map pixel: its theoretical receptive field, drawn on the input.
function rfLayer(layer) {
  if (layer.op === "relu" || layer.op === "batch_norm2d") return { op: layer.op };
  if (layer.op !== "conv2d" && layer.op !== "max_pool2d" && layer.op !== "avg_pool2d") return undefined;
  let k = layer.kernel_size || (layer.op === "conv2d" ? 3 : 2);
  const named = layer.kernel && (layer.kernel.name || layer.kernel);
  if (layer.op === "conv2d" && KERNEL_SIDE[named]) k = KERNEL_SIDE[named];
  if (layer.op === "conv2d" && layer.kernel && layer.kernel.params && layer.kernel.params.size) k = layer.kernel.params.size;
  if (layer.op === "conv2d" && layer.kernel && layer.kernel.custom) k = [layer.kernel.custom.length, layer.kernel.custom[0].length];
  const out = { op: layer.op, kernel_size: k, stride: layer.stride || (layer.op === "conv2d" ? 1 : k),
                padding: layer.padding || 0 };
  if (layer.op !== "avg_pool2d") out.dilation = layer.dilation || 1;
  if (layer.op === "conv2d") out.out_channels = 1;
  return out;
}

async function receptiveField(event, canvas, map, layerIndex) {
  const p = pixelUnder(event, canvas, map);
  const layers = [];
  for (const layer of state.layers.slice(0, layerIndex + 1)) {
    const l = rfLayer(layer);
    if (l === undefined) { $("lab-hover").textContent = `No receptive field through ${layer.op}.`; return; }
    layers.push(l);
  }
  if (!layers.length) return;
  const info = state.result.input.shape;
  try {
    const rf = await post("/receptive-field", { input_size: [info[1], info[2]], layers,
      unit: { layer: layers.length, y: p.y, x: p.x } });
    drawBox(rf.clipped || rf.region);
    $("lab-hover").textContent = `Receptive field of (${p.y}, ${p.x}): rows ${rf.region.y0}…${rf.region.y1 - 1}, cols ${rf.region.x0}…${rf.region.x1 - 1}`;
  } catch (err) {
    $("lab-hover").textContent = err.status === 404 ? "The receptive-field service is not available on this server." : err.message;
  }
}

function drawBox(region) {
  const input = $("lab-maps").querySelector(".lab-layer canvas");
  if (!input || !region) return;
  const m = state.result.input.maps[0];
  const ctx = input.getContext("2d");
  const fresh = state.result.input.maps.length === 3 ? drawRGB(state.result.input.maps, state.result.input.maps.map((x) => x.bytes)) : drawMap(m, m.bytes);
  ctx.drawImage(fresh, 0, 0);
  ctx.strokeStyle = "#e4572e";
  ctx.lineWidth = Math.max(1, m.width / 128);
  ctx.strokeRect(region.x0 / m.factor, region.y0 / m.factor, (region.x1 - region.x0) / m.factor, (region.y1 - region.y0) / m.factor);
}

async function init() {
  const presetSelect = $("lab-preset");
  for (const name of Object.keys(PRESETS)) presetSelect.append(new Option(name, name));
  const setPreset = () => { $("lab-layers").value = JSON.stringify(PRESETS[presetSelect.value], null, 1); };
  presetSelect.addEventListener("change", setPreset);
  setPreset();
  const { samples } = await get("/samples");
  const sampleSelect = $("lab-sample");
  sampleSelect.append(new Option("(your upload)", "", false, false));
  sampleSelect.options[0].disabled = true;
  for (const s of samples) sampleSelect.append(new Option(`${s.title} (${s.width}×${s.height})`, s.id));
  sampleSelect.addEventListener("change", () => chooseSample(sampleSelect.value).catch((e) => showError(e.message)));
  if (samples.length) await chooseSample(samples.find((s) => s.id === "camera") ? "camera" : samples[0].id);
  if (samples.some((s) => s.id === "camera")) sampleSelect.value = "camera";
  $("lab-file").addEventListener("change", (e) => upload(e.target.files[0]));
  const drop = $("lab-drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files[0]); });
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith("image/"));
    if (item) upload(item.getAsFile());
  });
  $("lab-run").addEventListener("click", run);
  document.body.dataset.ready = "true";
}

init().catch((err) => showError(err.message));
