// Export: the view as one PNG (its grids, Plotly charts and captions where they sit on screen),
// the trace as JSON, and the PyTorch call as text.
import { plotImage } from "./plot.js";

const TEXT = ".panel-title, figcaption, .formula, .sum, .legend-line";

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadJson(data, filename) {
  download(new Blob([JSON.stringify(data, null, 1)], { type: "application/json" }), filename);
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = reject;
    img.src = src;
  });
}

function wrap(g, text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (g.measureText(next).width > width && line) { lines.push(line); line = word; } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** Draw everything visible under root into one PNG and download it. */
export async function exportPng(root, filename) {
  const box = root.getBoundingClientRect();
  const scale = Math.max(2, window.devicePixelRatio || 1);
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(box.width * scale);
  canvas.height = Math.ceil(box.height * scale);
  const g = canvas.getContext("2d");
  g.scale(scale, scale);
  g.fillStyle = "#ffffff";
  g.fillRect(0, 0, box.width, box.height);
  const at = (el) => { const r = el.getBoundingClientRect(); return [r.left - box.left, r.top - box.top, r.width, r.height]; };
  for (const el of root.querySelectorAll("canvas")) {
    if (!el.offsetParent) continue;
    const [x, y, w, h] = at(el);
    g.drawImage(el, x, y, w, h);
  }
  for (const el of root.querySelectorAll(".js-plotly-plot")) {
    if (!el.offsetParent) continue;
    const [x, y, w, h] = at(el);
    g.drawImage(await loadImage(await plotImage(el, w, h)), x, y, w, h);
  }
  for (const el of root.querySelectorAll(TEXT)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const style = getComputedStyle(el);
    const [x, y, w] = at(el);
    g.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    g.fillStyle = style.color;
    g.textBaseline = "top";
    const lineHeight = parseFloat(style.fontSize) * 1.3;
    wrap(g, el.textContent.trim(), Math.max(w, 40)).forEach((line, i) => g.fillText(line, x, y + 2 + i * lineHeight));
  }
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  download(blob, filename);
}

/** Copy text; where the clipboard is not available (plain http), select it in its <pre> for Ctrl+C. */
export async function copyText(text, pre) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (pre) {
      pre.closest("details")?.setAttribute("open", "");
      const range = document.createRange();
      range.selectNodeContents(pre);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    return false;
  }
}
