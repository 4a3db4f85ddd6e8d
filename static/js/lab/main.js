// The image lab: pick an image and layers, run them (streamed, with progress and cancel), explore the maps.
import { get, patiently } from "../api.js";
import { LayerEditor } from "./editor.js";
import { mapsOf, streamPipeline } from "./frames.js";
import { buildGroups, stagesOf } from "./groups.js";
import { MapBoard, heatBitmap } from "./maps.js";
import { LabModels } from "./models.js";
import { probeUnit } from "./probe.js";
import { bindDrawer } from "../stage.js";
import { ImageSource } from "./source.js";
import { Summary } from "./summary.js";
import { Sweep } from "./sweep.js";

const $ = (id) => document.getElementById(id);
const state = { body: null, controller: null, blocks: [], ready: false, timer: 0, runs: 0, presets: [], lastEdit: -1e9 };
const WANTED_SAMPLE = new URLSearchParams(window.location.search).get("sample");
// Every edit is a discrete change event and runs at once (in a microtask: the request leaves before the page is laid
// out and painted again, and the changes of one event fold into one run); an edit within DEBOUNCE_MS of the one
// before waits that long, which folds a burst (a held spinner) into one run, and a run still in flight is cancelled
// by the next.
const DEBOUNCE_MS = 60;
// A model's layer shows this many of its channels at first (ResNet-50 has 26,000 maps): a button draws the rest.
const MODEL_CHANNELS = 8;

function showError(message) {
  $("lab-error").textContent = message || "";
  $("lab-error").hidden = !message;
}

function status(text) {
  $("lab-status").textContent = text;
}

const board = new MapBoard($("lab-maps"), {
  onHover: (text) => { $("lab-hover").textContent = text; },
  onUnit: (unit, canvas) => probe(unit, canvas),
});
const source = new ImageSource({
  onChange: () => { $("lab-image-info").textContent = source.describe(workSide()); edited(); },
  onError: showError,
  onStatus: status,
});
const editor = new LayerEditor({ list: $("lab-layers"), json: $("lab-json"), onChange: () => edited() });
const models = new LabModels({
  select: $("lab-model"), file: $("lab-model-file"), note: $("lab-model-note"), editorBox: $("lab-editor-box"),
  modelBox: $("lab-model-box"), list: $("lab-model-layers"), about: $("lab-model-about"), side: $("lab-side"),
  sideNote: $("lab-side-note"),
  onChoose: () => { $("lab-image-info").textContent = source.describe(workSide()); edited(); },
});
const summary = new Summary({ table: $("lab-summary-table"), line: $("lab-summary-line"), csvButton: $("lab-summary-csv"),
  onError: showError });
const sweep = new Sweep({
  select: $("lab-sweep-layer"), unitSelect: $("lab-sweep-unit"), zoomSelect: $("lab-sweep-zoom"), player: document.getElementById("player"),
  input: $("lab-sweep-in"), output: $("lab-sweep-out"), inputCap: $("lab-sweep-in-cap"),
  outputCap: $("lab-sweep-out-cap"), text: $("lab-sweep-text"),
});

/** The side the layers work at; a model makes its own input from the photo as stored (Infinity: no resize). */
function workSide() {
  return models.ref() ? Infinity : Number($("lab-side").value);
}

/** Every edit: the URL follows, the preset menu names what the layers are, the maps are marked stale and re-run. */
function edited() {
  if (!state.ready) return;
  scheduleRun();
  queueMicrotask(() => { saveUrl(); showPreset(); });  // after the run's request has left
}

function scheduleRun() {
  document.body.dataset.stale = "true";
  status("Changed; running again…");
  clearTimeout(state.timer);
  const now = performance.now();
  const burst = now - state.lastEdit < DEBOUNCE_MS;
  state.lastEdit = now;
  const token = {};
  state.pending = token;
  if (burst) state.timer = setTimeout(run, DEBOUNCE_MS);
  else queueMicrotask(() => { if (state.pending === token) run(); });
}

function showPreset() {
  if (models.ref()) return;
  const now = JSON.stringify(editor.layers);
  const preset = state.presets.find((p) => JSON.stringify(p.layers) === now);
  $("lab-preset").value = preset ? preset.title : "";
}

function saveUrl() {
  const params = new URLSearchParams();
  if (source.ref && source.ref.sample) params.set("sample", source.ref.sample);
  params.set("side", $("lab-side").value);
  if (models.ref()) params.set("model", models.ref().id);
  else params.set("layers", JSON.stringify(editor.layers));
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
}

function title(entry, header, model) {
  if (entry === 0) return model ? "input (the tensor the model receives)" : "input";
  return model ? `${header.index}: ${header.name} (${header.op})` : `layer ${header.index}: ${header.op}`;
}

async function run({ live = false } = {}) {
  clearTimeout(state.timer);
  state.pending = null;
  if (!live) stopLive();
  showError("");
  if (!source.ref) { showError("Choose a sample or upload an image first."); return; }
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const model = models.ref();
  const layers = model ? [] : editor.layers;
  let count = layers.length;  // a model's count comes with the start frame
  const progress = $("lab-progress");
  progress.max = layers.length + 1;
  progress.value = 0;
  progress.hidden = false;
  $("lab-cancel").hidden = false;
  if (!live) $("lab-probe").hidden = true;
  document.body.dataset.ran = "false";
  state.runs += 1;
  status("Running…");
  const started = performance.now();
  let received = 0;
  try {
    const wait = (s) => status(`The server is busy with other students; trying again in ${Math.ceil(s)} s…`);
    let parents = new Map();
    await patiently(() => models.withModel(() => source.withImage(async (ref) => {
      state.body = { image: ref, ...(model ? { model } : { image_max_side: workSide(), layers }),
        max_side: Number($("lab-max-side").value) };
      state.blocks = [];
      received = 0;
      await streamPipeline({ ...state.body, encoding: $("lab-exact").checked ? "f32" : "raw" }, {
        signal: controller.signal,
        onFrame: (header, payload) => {
          if (header.event === "start") {
            Object.assign(state, { device: header.device, network: header.network });
            count = header.layers;
            progress.max = count + 1;
            if (model && !live) models.describe(header.model, header.network);
            return;
          }
          if (header.event !== "maps") return;
          const block = { ...header, maps: mapsOf(header, payload) };
          const entry = state.blocks.length;
          if (header.index === -1) {
            board.reset(block.shape[1], block.shape[2]);
            board.root.classList.toggle("grouped", Boolean(model));
          }
          board.add(block, title(entry, header, model), model && entry ? { parent: parents.get(entry), limit: MODEL_CHANNELS } : {});
          if (model && entry === 0) parents = buildGroups(board.root, stagesOf(state.network.layers));
          state.blocks.push(block);
          received += 1;
          progress.value = received;
          status(`${received} of ${count + 1} map stacks…`);
        },
      });
    })), { onWait: wait });
    const n = state.blocks.slice(1).reduce((s, b) => s + b.maps.length, 0);
    status(`${n} feature maps from ${count} layers in ${Math.round(performance.now() - started)} ms (computed on ${state.device}).`);
    const firsts = state.blocks.map((_, e) => board.firstImage(e));
    sweep.setBlocks(state.blocks, firsts, (b, e) => title(e, b, model)); // the menu names layers as the maps do
    if (!model) editor.setNames(["input", ...state.blocks.slice(1).map((b) => b.name)]);
    if (!live) summary.show(state.network, models.label());
    document.body.dataset.ran = "true";
    document.body.dataset.stale = "false";
    document.body.dataset.runs = String(state.runs);
  } catch (err) {
    if (state.controller !== controller) return;  // superseded by a newer run: that one speaks now
    if (err.name === "AbortError") status(`Cancelled after ${received} of ${count + 1} map stacks; the server stopped too.`);
    else { status(""); showError(err.message); }
  } finally {
    if (state.controller === controller) {  // a superseded run leaves the progress bar to the newer one
      state.controller = null;
      progress.hidden = true;
      $("lab-cancel").hidden = true;
    }
  }
}

async function probe(unit, canvas) {
  if (!state.body) return;
  try {
    await patiently(() => models.withModel(() => probeUnit({ body: state.body, unit, board, panel: $("lab-probe"), text: $("lab-probe-text"),
      plot: $("lab-hypercolumn"), zoom: $("lab-probe-zoom"), showHeat: $("lab-show-erf").checked,
      place: () => placeBeside($("lab-probe"), canvas) })),
    { onWait: (s) => status(`The server is busy; asking again in ${Math.ceil(s)} s…`) });
  } catch (err) {
    // a model's input size is its own: a unit it cannot probe here stays unprobed, and the page says why
    const tooBig = state.body.model && err.status === 413;
    showError(tooBig ? `${err.message} The model's input size is fixed, so its units cannot be probed on this ` +
      "server (its maps, hover and the sweep still work)." : err.message);
  }
}

/** Put the floating probe panel beside the map that was probed, inside the viewport. */
function placeBeside(panel, canvas) {
  panel.hidden = false;
  const r = canvas.getBoundingClientRect();
  const p = panel.getBoundingClientRect();
  const gap = 12;
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  let left = r.right + gap;
  if (left + p.width > vw) left = r.left - gap - p.width;
  left = Math.max(4, Math.min(left, vw - p.width - 4));
  const top = Math.max(4, Math.min(r.top, vh - p.height - 4));
  panel.style.left = `${left}px`;
  panel.style.top = `${top}px`;
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
  // every start-up question at once: the first run waits on the slowest answer, not on their sum
  const samplesAsked = get("/samples");
  const modelsReady = models.init().catch((err) => showError(err.message));
  const [{ kernels }, { layers: kinds }, { presets }] = await Promise.all([get("/kernels"), get("/layers"), get("/pipeline/presets")]);
  editor.setKernels(kernels);
  editor.setKinds(kinds);
  state.presets = presets;
  $("lab-preset").append(new Option("custom", ""));
  $("lab-preset").options[0].disabled = true;
  for (const p of presets) $("lab-preset").append(new Option(p.title, p.title));
  for (const kind of kinds) $("lab-add").append(Object.assign(new Option(kind.op, kind.op), { title: kind.meaning }));
  const presetOf = (title) => presets.find((p) => p.title === title);
  $("lab-preset").addEventListener("change", () => { if (presetOf($("lab-preset").value)) editor.set(presetOf($("lab-preset").value).layers); });
  $("lab-add").addEventListener("change", () => { if ($("lab-add").value) editor.add($("lab-add").value); $("lab-add").value = ""; });
  $("lab-json-apply").addEventListener("click", () => {
    try { editor.applyJson(); showError(""); } catch (err) { showError(`The layers are not valid JSON: ${err.message}`); }
  });
  editor.set(fromUrl || presets[0].layers);
  await modelsReady;

  const { samples } = await samplesAsked;
  const pick = $("lab-sample");
  pick.append(new Option("(your upload)", "", false, false));
  pick.options[0].disabled = true;
  for (const s of samples) pick.append(new Option(`${s.title} (${s.width}×${s.height})`, s.id));
  pick.addEventListener("change", () => source.chooseSample(pick.value).catch((e) => showError(e.message)));
  const first = samples.find((s) => s.id === WANTED_SAMPLE) || samples.find((s) => s.id === "camera") || samples[0];
  if (first) { pick.value = first.id; await source.chooseSample(first.id); }
  source.wire({ fileInput: $("lab-file"), drop: $("lab-drop"), camera: $("lab-camera"), video: $("lab-video"),
    box: $("lab-webcam"), snap: $("lab-snap"), close: $("lab-camera-close") });
  source.onChange = ((inner) => (s) => { inner(s); pick.value = s.ref.sample || ""; })(source.onChange);
  $("lab-side").addEventListener("change", () => { $("lab-image-info").textContent = source.describe(workSide()); edited(); });
  $("lab-max-side").addEventListener("change", edited);
  $("lab-exact").addEventListener("change", () => { if (state.ready) scheduleRun(); });
  $("lab-probe-close").addEventListener("click", () => { $("lab-probe").hidden = true; });
  bindPresenter();
  $("lab-live").addEventListener("click", () => (state.live ? stopLive() : startLive()));
  $("lab-camera-close").addEventListener("click", stopLive);
  $("lab-run").addEventListener("click", run);
  $("lab-cancel").addEventListener("click", () => state.controller && state.controller.abort());
  $("lab-reset-view").addEventListener("click", () => board.resetView());
  $("lab-show-erf").addEventListener("change", () => {
    const m = board.overlay.heatMap;
    board.setOverlay({ heat: $("lab-show-erf").checked && m ? heatBitmap(m) : null });
  });
  state.ready = true;
  document.body.dataset.ready = "true";
  const firstRun = run();
  showPreset();
  // the link is written once the first maps are drawn: a first replaceState of a long URL takes 9–14 ms, which
  // would otherwise hold up the drawing of the answer (run() itself never rejects)
  firstRun.finally(saveUrl);
}

/** Live camera: one frame in flight at a time; when it returns, the newest frame goes (frames between are dropped). */
async function startLive() {
  const video = $("lab-video");
  state.live = { updates: 0, since: performance.now() };
  $("lab-live").setAttribute("aria-pressed", "true");
  const live = state.live;
  while (state.live === live) {
    if (!video.videoWidth) { await new Promise((resolve) => setTimeout(resolve, 30)); continue; }  // not playing yet
    try {
      await source.frame(video, workSide());
      if (state.live !== live) break;
      await run({ live: true });
    } catch (err) { showError(err.message); break; }
    live.updates += 1;
    const rate = (live.updates * 1000) / (performance.now() - live.since);
    document.body.dataset.liveUpdates = String(live.updates);
    document.body.dataset.liveRate = rate.toFixed(2);
    status(`live: ${rate.toFixed(1)} updates/s (${live.updates} frames; one in flight, the rest dropped)`);
  }
}

function stopLive() {
  if (!state.live) return;
  state.live = null;
  $("lab-live").setAttribute("aria-pressed", "false");
}

/** Presenter mode: large type, one screen; the p key or the button toggles it. */
function bindPresenter() {
  const button = $("presenter");
  const toggle = () => {
    const on = document.body.classList.toggle("presenter");
    button.setAttribute("aria-pressed", String(on));
    if (state.body && !state.live) run();  // the maps are drawn again at presenter size
  };
  button.addEventListener("click", toggle);
  bindDrawer();  // presenter mode: the image and layers panel is a drawer, opened by "image & layers…"
  document.addEventListener("keydown", (e) => {
    const tag = e.target.tagName;
    if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "SELECT", "TEXTAREA"].includes(tag)) return;
    if (e.key === "p" || e.key === "P") toggle();
  });
}

init().catch((err) => showError(err.message));
