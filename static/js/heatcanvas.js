// A heatmap on a canvas, without Plotly.js: cells coloured by Viridis, a colour-scale legend with its numbers,
// values written in when the cells are big enough, and the exact value of the cell under the pointer.
import { formatNumber } from "./plot.js";

const VIRIDIS = ["#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e", "#26828e", "#21918c",
  "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30", "#d8e219", "#fde725"]
  .map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));

/** The Viridis colour of t in [0, 1], as [r, g, b]. */
export function viridis(t) {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const a = VIRIDIS[i], b = VIRIDIS[i + 1], s = u - i;
  return a.map((v, k) => Math.round(v + (b[k] - v) * s));
}

/** Draw `pixels` (ImageData) into g's box (x, y, w, h), each pixel a sharp-edged block. */
function paintScaled(g, pixels, x, y, w, h) {
  const source = document.createElement("canvas");
  source.width = pixels.width;
  source.height = pixels.height;
  source.getContext("2d").putImageData(pixels, 0, 0);
  g.save();
  g.imageSmoothingEnabled = false;
  g.drawImage(source, x, y, w, h);
  g.restore();
}
const LEGEND = 64; // px right of the cells: the colour bar and its numbers

function parts(element) {
  if (element._heat) return element._heat;
  element.textContent = "";
  element.classList.add("heatcanvas");
  const canvas = document.createElement("canvas");
  const tip = document.createElement("div");
  tip.className = "heat-tip";
  tip.hidden = true;
  element.append(canvas, tip);
  const heat = { canvas, tip };
  canvas.addEventListener("mousemove", (e) => hover(element, e));
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  element._heat = heat;
  return heat;
}

function hover(element, e) {
  const h = element._heat;
  if (!h.grid) return;
  const box = h.canvas.getBoundingClientRect();
  const c = Math.floor((e.clientX - box.left - h.x0) / h.cell);
  const r = Math.floor((e.clientY - box.top - h.y0) / h.cell);
  if (r < 0 || c < 0 || r >= h.grid.length || c >= h.grid[0].length) { h.tip.hidden = true; return; }
  h.tip.textContent = `row ${r}, col ${c}: ${formatNumber(h.grid[r][c])}`;
  h.tip.hidden = false;
  h.tip.style.left = `${e.clientX - box.left + 12}px`;
  h.tip.style.top = `${e.clientY - box.top + 12}px`;
}

/** Remove the heatmap, leaving `text` in its place. */
export function clearHeatmap(element, text = "") {
  element._heat = null;
  element.classList.remove("heatcanvas");
  element.textContent = text;
}

/**
 * Draw grid (rows of numbers) into element, sized to the element's box. zmin/zmax default to the grid's range;
 * dtick spaces the row and column numbers; values are written in when every cell is at least 18 px.
 */
export function drawHeatmap(element, grid, { showValues = true, zmin, zmax, dtick = 1, gap = 1 } = {}) {
  const h = parts(element);
  const rows = grid.length, cols = grid[0].length;
  const flat = grid.flat();
  const lo = zmin ?? Math.min(...flat), hi = zmax ?? Math.max(...flat);
  const big = document.body.classList.contains("presenter");
  const font = big ? 16 : 12;
  const W = element.clientWidth || 320, H = element.clientHeight || 320;
  const pad = font + 8;
  const cell = Math.max(1, Math.min((W - pad - LEGEND) / cols, (H - pad - 4) / rows));
  const dpr = window.devicePixelRatio || 1;
  h.canvas.width = Math.round(W * dpr);
  h.canvas.height = Math.round(H * dpr);
  h.canvas.style.width = `${W}px`;
  h.canvas.style.height = `${H}px`;
  const g = h.canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  Object.assign(h, { grid, cell, x0: pad, y0: pad });
  const span = hi - lo || 1;
  const gp = cell >= 8 ? gap : 0;
  // one pixel per cell, scaled up unsmoothed, then the gaps between cells cut out: a fillRect and a colour string
  // per cell took ~50 ms for a 100 × 100 field
  const pixels = new ImageData(cols, rows);
  for (let r = 0, k = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++, k += 4) {
      const [red, green, blue] = viridis((grid[r][c] - lo) / span);
      pixels.data[k] = red; pixels.data[k + 1] = green; pixels.data[k + 2] = blue; pixels.data[k + 3] = 255;
    }
  }
  paintScaled(g, pixels, pad, pad, cols * cell, rows * cell);
  if (gp > 0) {
    for (let c = 0; c < cols; c++) g.clearRect(pad + (c + 1) * cell - gp, pad, gp, rows * cell);
    for (let r = 0; r < rows; r++) g.clearRect(pad, pad + (r + 1) * cell - gp, cols * cell, gp);
  }
  g.font = `${font}px sans-serif`;
  g.fillStyle = "#333";
  g.textAlign = "center";
  g.textBaseline = "middle";
  for (let c = 0; c < cols; c += dtick) g.fillText(String(c), pad + (c + 0.5) * cell, pad / 2);
  g.textAlign = "right";
  for (let r = 0; r < rows; r += dtick) g.fillText(String(r), pad - 4, pad + (r + 0.5) * cell);
  if (showValues && cell >= 18 && rows * cols <= 400) {
    g.textAlign = "center";
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const t = (grid[r][c] - lo) / span;
        g.fillStyle = t > 0.6 ? "#000" : "#fff";
        g.fillText(formatNumber(grid[r][c]), pad + (c + 0.5) * cell, pad + (r + 0.5) * cell);
      }
    }
  }
  legend(g, pad + cols * cell + 10, pad, Math.max(40, rows * cell), lo, hi, font);
  element.dataset.zmin = String(lo);
  element.dataset.zmax = String(hi);
}

function legend(g, x, y, height, lo, hi, font) {
  const w = 12;
  const steps = Math.max(1, Math.round(height));
  const bar = new ImageData(1, steps);
  for (let i = 0; i < steps; i++) {
    bar.data.set([...viridis(1 - i / Math.max(1, steps - 1)), 255], 4 * i);
  }
  paintScaled(g, bar, x, y, w, height);
  g.strokeStyle = "#666";
  g.strokeRect(x + 0.5, y + 0.5, w, height - 1);
  g.fillStyle = "#333";
  g.textAlign = "left";
  g.textBaseline = "middle";
  g.font = `${font}px sans-serif`;
  g.fillText(formatNumber(hi), x + w + 4, y + font / 2);
  g.fillText(formatNumber((lo + hi) / 2), x + w + 4, y + height / 2);
  g.fillText(formatNumber(lo), x + w + 4, y + height - font / 2);
}
