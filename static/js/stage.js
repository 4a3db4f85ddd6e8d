// Presenter mode's stage: the controls in a drawer the presenter opens, and every grid sized so that the whole
// view (drawing, formula, sum) fits the screen: a search over the height the grids are given.
import { stageFit } from "./grid.js";

const presenting = () => document.body.classList.contains("presenter");

/** Whether the page shows whole, without scrolling, in the window. */
export function fitsScreen() {
  const doc = document.documentElement;
  return doc.scrollHeight <= window.innerHeight && doc.scrollWidth <= window.innerWidth;
}

/**
 * relayout() lays the view's grids out again (each CellGrid.layout scales the height it is given by
 * stageFit.scale in presenter mode). Out of presenter mode the scale is 1; in it, the largest scale that fits.
 */
export function fitStage(relayout) {
  if (!presenting()) {
    if (stageFit.scale !== 1) { stageFit.scale = 1; relayout(); }
    delete document.body.dataset.stageFit;
    return;
  }
  window.scrollTo(0, 0);
  search(relayout);
  document.body.dataset.stageFit = stageFit.scale.toFixed(3);
}

function search(relayout) {
  let lo = 0.05;
  let hi = 2.5;
  stageFit.scale = hi;
  relayout();
  if (fitsScreen()) return;
  for (let i = 0; i < 8; i++) {
    const mid = (lo + hi) / 2;
    stageFit.scale = mid;
    relayout();
    if (fitsScreen()) lo = mid; else hi = mid;
  }
  stageFit.scale = lo;
  relayout();
}

/** The "controls" button: in presenter mode the form is a drawer over the stage, closed until opened. */
export function bindDrawer(onToggle = () => {}) {
  const button = document.getElementById("controls-toggle");
  if (!button) return;
  const set = (open) => {
    document.body.classList.toggle("drawer-open", open);
    button.setAttribute("aria-expanded", String(open));
    onToggle(open);
  };
  button.addEventListener("click", () => set(!document.body.classList.contains("drawer-open")));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && document.body.classList.contains("drawer-open")) { set(false); button.focus(); }
  });
  return set;
}

/** Plotly charts follow presenter mode's type size (ticks and labels at least 16 px). */
export function plotFonts() {
  const Plotly = window.Plotly;
  if (!Plotly) return;
  const size = presenting() ? 16 : 12;
  for (const el of document.querySelectorAll(".js-plotly-plot")) Plotly.relayout(el, { "font.size": size });
}
