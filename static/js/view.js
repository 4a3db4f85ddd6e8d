// What every animator page shares: controls <-> URL, the player, presenter mode and its keys, the exports,
// and the API's error sentence next to the control it is about.
import { ApiError, post } from "./api.js";
import { clearErrors, debounce, showError } from "./controls.js";
import { Player } from "./player.js";
import { bindDrawer, fitStage, plotFonts } from "./stage.js";
import * as url from "./urlstate.js";

/**
 * spec: {name, names (error loc -> control name), load(params) -> Promise (fetch and draw; throws ApiError),
 *        frame(k) (draw frame k), label(k), json() -> the trace to download, pytorch() -> code, resize()}.
 * Returns {player, params(), refresh()}.
 */
export function setupView(spec) {
  const form = document.getElementById("controls");
  const playerRoot = document.getElementById("player");
  const roots = [form, playerRoot];
  const stage = document.getElementById("stage");
  // The frame is in the link too: written as it changes (scrubbing, stepping, playing), at most 4× a second.
  let saveTimer = null;
  const saveSoon = () => {
    if (saveTimer === null) saveTimer = setTimeout(() => { saveTimer = null; url.save(roots); }, 250);
  };
  const player = new Player(playerRoot, { onFrame: (k) => { spec.frame(k); saveSoon(); }, onStop: () => url.save(roots) });
  url.restore(roots);
  const urlFrame = new URLSearchParams(window.location.search).get("frame");
  const startFrame = urlFrame === null ? (spec.startAtEnd ? Infinity : 0) : Number(urlFrame) || 0;
  const params = () => url.values(form);
  let generation = 0;
  let firstLoad = true;

  async function refresh() {
    const mine = ++generation;
    drawnFor = JSON.stringify(params());
    player.pause();
    form.setAttribute("aria-busy", "true");
    try {
      const frames = await spec.load(params());
      if (mine !== generation) return;
      clearErrors(form);
      player.setFrames(frames, spec.label, firstLoad ? startFrame : spec.startAtEnd ? Infinity : player.frame);
      fitView(spec);
      document.body.dataset.error = "";
      stage.classList.remove("stale");
    } catch (err) {
      if (mine !== generation) return;
      if (!(err instanceof ApiError)) throw err;
      showError(form, err, spec.names || {});
      document.body.dataset.error = err.message;
      stage.classList.add("stale"); // the drawing is of the last good parameters: greyed in place, not moved
    } finally {
      if (mine === generation) {
        form.removeAttribute("aria-busy");
        settle();
        url.save(roots);
        firstLoad = false;
        if (!document.body.dataset.ready) {
          document.body.dataset.ready = "true";
          performance.mark("convscope:ready");
        }
      }
    }
  }

  // an edit redraws; a change event that only repeats the last input (a text box losing focus) does not
  let drawnFor = null;
  // data-pending: an edit is waiting for its drawing (tools and tests wait for it to go)
  const settle = () => { if (JSON.stringify(params()) === drawnFor) delete form.dataset.pending; };
  const debounced = debounce(() => { if (JSON.stringify(params()) !== drawnFor) refresh(); else settle(); }, 180);
  const changed = () => { form.dataset.pending = "true"; debounced(); };
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  playerRoot.querySelector("select[name=speed]").addEventListener("change", () => url.save(roots));

  bindPresenter(player, spec);
  bindExports(spec);
  let resizeTimer;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => fitView(spec), 120); });
  refresh();
  return { player, params, refresh };
}

// Inputs that take no typed text: the player's keys act on the animation even while one has focus.
const UNTYPED = new Set(["range", "checkbox", "radio", "button", "submit", "reset", "color", "file", "image"]);

function typing(target) {
  const tag = target.tagName;
  if (tag === "INPUT") return !UNTYPED.has(target.type);
  return tag === "SELECT" || tag === "TEXTAREA" || target.isContentEditable;
}

/** A focused button (or summary) would also act on the space key's release: that key belongs to the player. */
function pressable(target) {
  return target.tagName === "BUTTON" || target.tagName === "SUMMARY" || (target.tagName === "INPUT" && UNTYPED.has(target.type));
}

/** Presenter mode: full screen and large type; keys: p, space, ←/→, +/−. The keys work outside it too. */
function bindPresenter(player, spec) {
  const button = document.getElementById("presenter");
  const toggle = async () => {
    const on = !document.body.classList.contains("presenter");
    document.body.classList.toggle("presenter", on);
    button.setAttribute("aria-pressed", String(on));
    try {
      if (on && !document.fullscreenElement) await document.documentElement.requestFullscreen?.();
      if (!on && document.fullscreenElement) await document.exitFullscreen();
    } catch { /* full screen refused (e.g. no user gesture): large type still applies */ }
    fitView(spec);
    plotFonts();
  };
  button.addEventListener("click", toggle);
  bindDrawer();
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement && document.body.classList.contains("presenter")) toggle();
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "p" || e.key === "P") toggle();
    else if (e.key === " ") { if (!e.repeat) player.toggle(); }
    else if (e.key === "ArrowRight") player.step(1);
    else if (e.key === "ArrowLeft") player.step(-1);
    else if (e.key === "+" || e.key === "=") player.faster(1);
    else if (e.key === "-" || e.key === "_") player.faster(-1);
    else return;
    e.preventDefault();
  });
  document.addEventListener("keyup", (e) => {
    if (e.key === " " && !typing(e.target) && pressable(e.target)) e.preventDefault();
  });
}

/** Grids laid out again; in presenter mode, as big as the screen allows with the whole view on it. */
function fitView(spec) {
  if (spec.resize) fitStage(spec.resize);
}

/** The exports: their module (and the PNG's painter) is fetched on the first click, not before the first drawing. */
function bindExports(spec) {
  const status = document.getElementById("export-status");
  const say = (text) => { status.textContent = text; };
  const exporter = () => import("./exporter.js");
  document.getElementById("export-png").addEventListener("click", async () => {
    say("drawing…");
    await (await exporter()).exportPng(document.getElementById("stage"), `convscope-${spec.name}.png`);
    say("PNG saved");
  });
  document.getElementById("export-json").addEventListener("click", async () => {
    const trace = spec.json(); // the drawing's own numbers, as they are at the click
    (await exporter()).downloadJson(trace, `convscope-${spec.name}-trace.json`);
    say("trace saved");
  });
  document.getElementById("export-pytorch").addEventListener("click", async () => {
    const pre = document.getElementById("pytorch-code");
    const copied = await (await exporter()).copyText(pre.textContent, pre);
    say(copied ? "PyTorch call copied" : "selected: press Ctrl+C to copy");
  });
}

let spec;
/** Whether the running server has an endpoint (from its OpenAPI spec: no 404 in the console asking). */
export async function apiHas(path) {
  const listed = document.querySelector('meta[name="api-paths"]'); // written by the server into every page
  if (listed) return listed.content.split(" ").includes(`/api/v1${path}`);
  spec = spec || fetch("/openapi.json").then((r) => r.json()).catch(() => ({ paths: {} }));
  return Boolean((await spec).paths?.[`/api/v1${path}`]);
}

/** POST /shapes for one layer's formula with the numbers, or null while that endpoint does not exist. */
export async function layerFormula(inputShape, layer) {
  if (!(await apiHas("/shapes"))) return null;
  try {
    const res = await post("/shapes", { input_shape: inputShape, layers: [layer] });
    return res.layers?.[0] || null;
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}
