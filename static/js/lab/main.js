// The image lab: pick an image and layers, run them (streamed, with progress and cancel), explore the maps.
import { get, patiently } from "../api.js";
import { LayerEditor, OPS, PRESETS } from "./editor.js";
import { mapsOf, streamPipeline } from "./frames.js";
import { MapBoard, heatBitmap } from "./maps.js";
import { probeUnit } from "./probe.js";
import { ImageSource } from "./source.js";
import { Sweep } from "./sweep.js";

const $ = (id) => document.getElementById(id);
const state = { body: null, controller: null, blocks: [] };

function showError(message) {
  $("lab-error").textContent = message || "";
  $("lab-error").hidden = !message;
}

function status(text) {
  $("lab-status").textContent = text;
}

const board = new MapBoard($("lab-maps"), {
  onHover: (text) => { $("lab-hover").textContent = text; },
  onUnit: (unit) => probe(unit),
});
const source = new ImageSource({
  onChange: () => { $("lab-image-info").textContent = source.describe(workSide()); saveUrl(); },
  onError: showError,
  onStatus: status,
});
const editor = new LayerEditor({ list: $("lab-layers"), json: $("lab-json"), onChange: () => saveUrl() });
const sweep = new Sweep({
  select: $("lab-sweep-layer"), unitSelect: $("lab-sweep-unit"), zoomSelect: $("lab-sweep-zoom"), player: document.getElementById("player"),
  input: $("lab-sweep-in"), output: $("lab-sweep-out"), inputCap: $("lab-sweep-in-cap"),
  outputCap: $("lab-sweep-out-cap"), text: $("lab-sweep-text"),
});

function workSide() {
  return Number($("lab-side").value);
}

function saveUrl() {
  const params = new URLSearchParams();
  if (source.ref && source.ref.sample) params.set("sample", source.ref.sample);
  params.set("side", $("lab-side").value);
  params.set("layers", JSON.stringify(editor.layers));
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
}

function title(entry, header) {
  return entry === 0 ? "input" : `layer ${header.index}: ${header.op}`;
}

async function run() {
  showError("");
  if (!source.ref) { showError("Choose a sample or upload an image first."); return; }
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const layers = editor.layers;
  const progress = $("lab-progress");
  progress.max = layers.length + 1;
  progress.value = 0;
  progress.hidden = false;
  $("lab-cancel").hidden = false;
  $("lab-probe").hidden = true;
  document.body.dataset.ran = "false";
  status("Running…");
  const started = performance.now();
  let received = 0;
  try {
    const wait = (s) => status(`The server is busy with other students; trying again in ${Math.ceil(s)} s…`);
    await patiently(() => source.withImage(async (ref) => {
      state.body = { image: ref, image_max_side: workSide(), layers, max_side: Number($("lab-max-side").value) };
      state.blocks = [];
      received = 0;
      await streamPipeline({ ...state.body, encoding: $("lab-exact").checked ? "f32" : "raw" }, {
        signal: controller.signal,
        onFrame: (header, payload) => {
          if (header.event === "start") { state.device = header.device; return; }
          if (header.event !== "maps") return;
          const block = { ...header, maps: mapsOf(header, payload) };
          if (header.index === -1) board.reset(block.shape[1], block.shape[2]);
          board.add(block, title(state.blocks.length, header));
          state.blocks.push(block);
          received += 1;
          progress.value = received;
          status(`${received} of ${layers.length + 1} map stacks…`);
        },
      });
    }), { onWait: wait });
    const n = state.blocks.slice(1).reduce((s, b) => s + b.maps.length, 0);
    status(`${n} feature maps from ${layers.length} layers in ${Math.round(performance.now() - started)} ms (computed on ${state.device}).`);
    const firsts = state.blocks.map((_, e) => board.figures.find((f) => f.entry === e).image);
    sweep.setBlocks(state.blocks, firsts);
    document.body.dataset.ran = "true";
  } catch (err) {
    if (err.name === "AbortError") status(`Cancelled after ${received} of ${layers.length + 1} map stacks; the server stopped too.`);
    else { status(""); showError(err.message); }
  } finally {
    if (state.controller === controller) state.controller = null;
    progress.hidden = true;
    $("lab-cancel").hidden = true;
  }
}

async function probe(unit) {
  if (!state.body) return;
  try {
    await patiently(() => probeUnit({ body: state.body, unit, board, panel: $("lab-probe"), text: $("lab-probe-text"),
      plot: $("lab-hypercolumn"), showHeat: $("lab-show-erf").checked }),
    { onWait: (s) => status(`The server is busy; asking again in ${Math.ceil(s)} s…`) });
  } catch (err) {
    showError(err.message);
  }
}

function restoreUrl() {
  const params = new URLSearchParams(window.location.search);
  if (params.has("side") && [...$("lab-side").options].some((o) => o.value === params.get("side"))) $("lab-side").value = params.get("side");
  if (params.has("layers")) {
    try { return JSON.parse(params.get("layers")); } catch { showError("The layers in the link are not valid JSON."); }
  }
  return null;
}

async function init() {
  const fromUrl = restoreUrl();
  const { kernels } = await get("/kernels");
  editor.setKernels(kernels);
  for (const name of Object.keys(PRESETS)) $("lab-preset").append(new Option(name, name));
  for (const op of OPS) $("lab-add").append(new Option(op, op));
  $("lab-preset").addEventListener("change", () => editor.set(PRESETS[$("lab-preset").value]));
  $("lab-add").addEventListener("change", () => { if ($("lab-add").value) editor.add($("lab-add").value); $("lab-add").value = ""; });
  $("lab-json-apply").addEventListener("click", () => {
    try { editor.applyJson(); showError(""); } catch (err) { showError(`The layers are not valid JSON: ${err.message}`); }
  });
  editor.set(fromUrl || PRESETS[$("lab-preset").value]);

  const { samples } = await get("/samples");
  const pick = $("lab-sample");
  pick.append(new Option("(your upload)", "", false, false));
  pick.options[0].disabled = true;
  for (const s of samples) pick.append(new Option(`${s.title} (${s.width}×${s.height})`, s.id));
  pick.addEventListener("change", () => source.chooseSample(pick.value).catch((e) => showError(e.message)));
  const wanted = new URLSearchParams(window.location.search).get("sample");
  const first = samples.find((s) => s.id === wanted) || samples.find((s) => s.id === "camera") || samples[0];
  if (first) { pick.value = first.id; await source.chooseSample(first.id); }
  source.wire({ fileInput: $("lab-file"), drop: $("lab-drop"), camera: $("lab-camera"), video: $("lab-video"),
    box: $("lab-webcam"), snap: $("lab-snap"), close: $("lab-camera-close") });
  source.onChange = ((inner) => (s) => { inner(s); pick.value = s.ref.sample || ""; })(source.onChange);
  $("lab-side").addEventListener("change", () => { $("lab-image-info").textContent = source.describe(workSide()); saveUrl(); });
  $("lab-run").addEventListener("click", run);
  $("lab-cancel").addEventListener("click", () => state.controller && state.controller.abort());
  $("lab-reset-view").addEventListener("click", () => board.resetView());
  $("lab-show-erf").addEventListener("change", () => {
    const m = board.overlay.heatMap;
    board.setOverlay({ heat: $("lab-show-erf").checked && m ? heatBitmap(m) : null });
  });
  document.body.dataset.ready = "true";
}

init().catch((err) => showError(err.message));
