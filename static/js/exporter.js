// Export: the view as one PNG (its grids, Plotly and SVG charts, tables, legend swatches, badges and text,
// where they sit on screen), the trace as JSON, and the PyTorch call as text.
import { paintBoxes, paintSvgs, paintText } from "./export_dom.js";
import { plotImage } from "./plot.js";

/** Save a Blob as a file from the page. */
export function download(blob, filename) {
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
  paintBoxes(g, root, at);
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
  await paintSvgs(g, root, at, loadImage);
  paintText(g, root);
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
