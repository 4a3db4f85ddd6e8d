// Feature maps over the image, all sharing one view: a rectangle of input pixels that wheel zooms and drag pans.
// A map is placed by its layer's receptive-field geometry from the server: unit u of an axis is centred at
// start + u·j input pixels, so display pixel d (factor f units) spans start + (d·f − ½)·j … start + ((d+1)·f − ½)·j.
import { formatNumber } from "../plot.js";

const MIN_VIEW = 4; // input pixels across, at the deepest zoom

export function valueAt(map, q) {
  return map.min + (q / 255) * (map.max - map.min);
}

function bitmap(width, height, fill) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  fill(img.data);
  ctx.putImageData(img, 0, 0);
  return canvas;
}

// Each code's opaque grey pixel as one 32-bit word, written through byte views so it holds for either byte order.
const GRAY = (() => {
  const words = new Uint32Array(256);
  const bytes = new Uint8Array(words.buffer);
  for (let v = 0; v < 256; v += 1) bytes.set([v, v, v, 255], v * 4);
  return words;
})();

function grayBitmap(m) {
  return bitmap(m.width, m.height, (px) => {
    const out = new Uint32Array(px.buffer, px.byteOffset, px.length >> 2);
    const { bytes } = m;
    for (let i = 0; i < bytes.length; i += 1) out[i] = GRAY[bytes[i]];
  });
}

function rgbBitmap(maps) {
  const [m] = maps;
  return bitmap(m.width, m.height, (px) => {
    for (let c = 0; c < 3; c += 1) {  // undo each channel's own stretch: true colour
      const { min, max, bytes } = maps[c];
      for (let i = 0; i < bytes.length; i += 1) px[i * 4 + c] = Math.round(255 * (min + (bytes[i] / 255) * (max - min)));
    }
    for (let i = 0; i < m.width * m.height; i += 1) px[i * 4 + 3] = 255;
  });
}

/** The effective-field map as a translucent orange heat layer (alpha follows the gradient's magnitude). */
export function heatBitmap(m) {
  return bitmap(m.width, m.height, (px) => {
    for (let i = 0; i < m.bytes.length; i += 1) {
      const a = m.bytes[i];
      px[i * 4] = 230; px[i * 4 + 1] = 97; px[i * 4 + 2] = 0;
      px[i * 4 + 3] = a ? Math.max(60, a) : 0;
    }
  });
}

export class MapBoard {
  constructor(root, { onHover, onUnit }) {
    this.root = root;
    this.onHover = onHover;
    this.onUnit = onUnit;
    this.blocks = [];
    this.figures = [];
    this.overlay = { box: null, wrapped: [], heat: null, heatMap: null, unit: null };
    this.cursor = null;
    this.size = [1, 1];
    this.view = { x0: 0, y0: 0, w: 1, h: 1 };
    this._queued = false;
    this.pending = [];  // sections in closed <details>, drawn when opened
    root.addEventListener("toggle", () => this.flush(), true);  // toggle does not bubble: caught on the way down
  }

  reset(height, width) {
    this.size = [height, width];
    this.blocks = [];
    this.figures = [];
    this.overlay = { box: null, wrapped: [], heat: null, heatMap: null, unit: null };
    this.cursor = null;
    this.pending = [];
    this.root.replaceChildren();
    this.resetView();
  }

  resetView() {
    const [h, w] = this.size;
    this.view = { x0: 0, y0: 0, w, h };
    this.redraw();
  }

  /** Add one block (the input, entry 0, or a layer's output) as its frame arrives, as a section in parent
   *  (default: the board). In a closed <details> only its heading is made; its maps are drawn when it opens.
   *  limit: the channels drawn at first (a button draws the rest). */
  add(block, title, { parent = this.root, limit = Infinity } = {}) {
    const entry = this.blocks.length;
    this.blocks.push(block);
    const row = document.createElement("section");
    row.className = "lab-layer";
    row.dataset.entry = String(entry);
    const h = document.createElement("h3");
    const [c, hh, ww] = block.shape;
    const factor = block.maps[0].factor;
    h.textContent = `${title} — ${[c, hh, ww].filter((v) => v !== undefined).join("×")}${factor > 1 ? ` (sent at 1/${factor})` : ""}`;
    row.append(h);
    if (block.stats) row.append(statsLine(block.stats));
    parent.append(row);
    const fill = () => this.fill(row, block, entry, limit);
    if (row.closest("details:not([open])")) {
      row.dataset.drawn = "false";
      this.pending.push({ row, fill });
    } else fill();
  }

  /** Draw the maps of sections whose <details> have all been opened since they arrived. */
  flush() {
    const open = this.pending.filter((p) => !p.row.closest("details:not([open])"));
    if (!open.length) return;
    this.pending = this.pending.filter((p) => !open.includes(p));
    for (const p of open) p.fill();
  }

  fill(row, block, entry, limit) {
    row.dataset.drawn = "true";
    const grid = document.createElement("div");
    const rgb = entry === 0 && block.maps.length === 3;
    grid.className = block.maps.length <= 4 && !rgb ? "lab-grid big" : "lab-grid";
    if (rgb) grid.append(this.figure(block, entry, -1, rgbBitmap(block.maps), "RGB"));
    const draw = (from, to) => block.maps.slice(from, to).forEach((m, i) => grid.append(this.figure(block, entry, from + i,
      grayBitmap(m), `ch ${from + i} [${formatNumber(m.min)}, ${formatNumber(m.max)}]`)));
    const first = Math.min(block.maps.length, limit);
    draw(0, first);
    row.append(grid);
    if (first < block.maps.length) {
      const more = document.createElement("button");
      more.type = "button";
      more.className = "lab-more";
      more.textContent = `show all ${block.maps.length} channels`;
      more.addEventListener("click", () => { more.remove(); draw(first, block.maps.length); this.redraw(); });
      row.append(more);
    }
    this.redraw();
  }

  /** Entry e's first map as a bitmap (RGB for a colour image), drawn or not. */
  firstImage(e) {
    const drawn = this.figures.find((f) => f.entry === e);
    if (drawn) return drawn.image;
    const b = this.blocks[e];
    return e === 0 && b.maps.length === 3 ? rgbBitmap(b.maps) : grayBitmap(b.maps[0]);
  }

  figure(block, entry, channel, image, caption) {
    const fig = document.createElement("figure");
    fig.className = channel < 0 ? "lab-map rgb" : "lab-map";
    const canvas = document.createElement("canvas");
    const big = block.maps.length <= 4 && !(entry === 0 && block.maps.length === 3 && channel >= 0);
    const [h, w] = this.size;
    const scale = document.body.classList.contains("presenter") ? Math.min(1.6, Math.max(1, window.innerWidth / 1280)) : 1;
    const cssW = Math.round((big || channel < 0 ? 240 : 112) * scale);
    const cssH = Math.max(8, Math.round((cssW * h) / w));
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    const name = entry === 0 ? "input" : `layer ${entry - 1} (${block.op})`;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${name} ${channel < 0 ? "RGB" : `channel ${channel}`}`);
    canvas.setAttribute("aria-describedby", "lab-map-keys");
    canvas.dataset.entry = String(entry);
    canvas.dataset.channel = String(channel);
    const cap = document.createElement("figcaption");
    cap.textContent = caption;
    fig.append(canvas, cap);
    const item = { block, entry, channel: Math.max(0, channel), image, canvas, name };
    this.figures.push(item);
    this.listen(item);
    return fig;
  }

  /** Input-pixel coordinates under a pointer event on a canvas. */
  inputAt(event, canvas) {
    const r = canvas.getBoundingClientRect();
    const v = this.view;
    return { x: v.x0 + ((event.clientX - r.left) / r.width) * v.w, y: v.y0 + ((event.clientY - r.top) / r.height) * v.h };
  }

  /** The unit of a map under input point p (full-resolution indices), or null off the map. */
  unitAt(item, p) {
    const f = item.block.field;
    const m = item.block.maps[item.channel];
    const ux = Math.floor((p.x - (f.start[1] - f.j[1] / 2)) / f.j[1]);
    const uy = Math.floor((p.y - (f.start[0] - f.j[0] / 2)) / f.j[0]);
    if (ux < 0 || uy < 0 || ux >= m.full_width || uy >= m.full_height) return null;
    return { y: uy, x: ux, dy: Math.floor(uy / m.factor), dx: Math.floor(ux / m.factor) };
  }

  /** Say what a unit holds (hover and the keyboard cursor both come here). */
  describe(item, u) {
    if (!u) { this.onHover(`${item.name}: outside the map here`); return; }
    const m = item.block.maps[item.channel];
    const q = m.bytes[u.dy * m.width + u.dx];
    const step = (m.max - m.min) / 255;
    const where = m.factor > 1 ? `units (${u.dy * m.factor}…, ${u.dx * m.factor}…), mean of ${m.factor}×${m.factor}` : `unit (${u.y}, ${u.x})`;
    const value = m.values ? `= ${m.values[u.dy * m.width + u.dx].toPrecision(7)}`
      : `≈ ${formatNumber(valueAt(m, q))} (± ${formatNumber(step / 2)}; click for the exact value)`;
    this.onHover(`${item.name} ch ${item.channel} ${where}: ${value}`);
  }

  /** The one mapping from a pointer event to a unit, used by hover and click alike. */
  pointerUnit(item, event) {
    return this.unitAt(item, this.inputAt(event, item.canvas));
  }

  listen(item) {
    const { canvas } = item;
    let drag = null;
    canvas.tabIndex = 0;
    canvas.addEventListener("pointermove", (event) => {
      if (drag) {
        const r = canvas.getBoundingClientRect();
        this.view.x0 = drag.x0 - ((event.clientX - drag.cx) / r.width) * this.view.w;
        this.view.y0 = drag.y0 - ((event.clientY - drag.cy) / r.height) * this.view.h;
        drag.moved = drag.moved || Math.abs(event.clientX - drag.cx) + Math.abs(event.clientY - drag.cy) > 3;
        this.redraw();
        return;
      }
      this.describe(item, this.pointerUnit(item, event));
    });
    canvas.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      canvas.setPointerCapture(event.pointerId);
      drag = { cx: event.clientX, cy: event.clientY, x0: this.view.x0, y0: this.view.y0, moved: false };
    });
    const end = (event) => {
      if (!drag) return;
      const wasClick = !drag.moved;
      drag = null;
      if (event.type !== "pointerup" || !wasClick) return;
      const u = this.pointerUnit(item, event);
      if (u) this.pick(item, u);
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("keydown", (event) => this.key(item, event));
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const p = this.inputAt(event, canvas);
      this.zoom(event.deltaY < 0 ? 0.8 : 1.25, p);
    }, { passive: false });
  }

  pick(item, u) {
    this.cursor = { item, y: u.y, x: u.x };
    this.onUnit({ layer: item.entry, channel: item.channel, y: u.y, x: u.x }, item.canvas);
  }

  /** Keyboard: arrows move a unit cursor over the focused map (shift: 8 at a time), Enter probes it;
   *  + / − zoom all maps about the view's centre, Ctrl+arrows pan by an eighth of the view, 0 resets it. */
  key(item, event) {
    const m = item.block.maps[item.channel];
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (this.viewKey(event, moves)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    let c = this.cursor && this.cursor.item === item ? this.cursor
      : { item, y: Math.floor(m.full_height / 2), x: Math.floor(m.full_width / 2) };
    if (moves[event.key]) {
      const k = event.shiftKey ? 8 : 1;
      const [dy, dx] = moves[event.key];
      c = { item, y: Math.min(m.full_height - 1, Math.max(0, c.y + dy * k)), x: Math.min(m.full_width - 1, Math.max(0, c.x + dx * k)) };
    } else if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    event.stopPropagation();
    const u = { y: c.y, x: c.x, dy: Math.floor(c.y / m.factor), dx: Math.floor(c.x / m.factor) };
    this.cursor = c;
    item.canvas.dataset.cursor = `${c.y},${c.x}`;
    if (event.key === "Enter" || event.key === " ") { this.pick(item, u); return; }
    this.describe(item, u);
    this.setOverlay({ cursor: { layer: item.entry, y: c.y, x: c.x } });
  }

  viewKey(event, moves) {
    const v = this.view;
    const centre = { x: v.x0 + v.w / 2, y: v.y0 + v.h / 2 };
    if (event.key === "+" || event.key === "=") this.zoom(0.8, centre);
    else if (event.key === "-" || event.key === "_") this.zoom(1.25, centre);
    else if (event.key === "0") this.resetView();
    else if (event.ctrlKey && moves[event.key]) {
      const [dy, dx] = moves[event.key];
      this.view = { ...v, x0: v.x0 + (dx * v.w) / 8, y0: v.y0 + (dy * v.h) / 8 };
      this.redraw();
    } else return false;
    return true;
  }

  zoom(k, p) {
    const v = this.view;
    const [h, w] = this.size;
    const nw = Math.min(w * 4, Math.max(MIN_VIEW, v.w * k));
    const s = nw / v.w;
    this.view = { x0: p.x - (p.x - v.x0) * s, y0: p.y - (p.y - v.y0) * s, w: nw, h: (nw * h) / w };
    this.redraw();
  }

  setOverlay(overlay) {
    this.overlay = { ...this.overlay, ...overlay };
    this.redraw();
  }

  redraw() {
    if (this._queued) return;
    this._queued = true;
    requestAnimationFrame(() => {
      this._queued = false;
      for (const item of this.figures) this.draw(item);
      this.root.dataset.view = [this.view.x0, this.view.y0, this.view.w].map((v) => v.toFixed(2)).join(",");
    });
  }

  /** ctx with the view's transform: drawing in input pixels. */
  context(canvas) {
    const ctx = canvas.getContext("2d");
    const s = canvas.width / this.view.w;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#eef0f3";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(s, 0, 0, s, -this.view.x0 * s, -this.view.y0 * s);
    ctx.imageSmoothingEnabled = false;
    return { ctx, s };
  }

  draw(item) {
    const { ctx, s } = this.context(item.canvas);
    const f = item.block.field;
    const m = item.block.maps[item.channel];
    place(ctx, item.image, f, m);
    const o = this.overlay;
    if (o.heat && o.heatMap && item.entry === 0) {
      ctx.globalAlpha = 0.75;
      place(ctx, o.heat, this.blocks[0].field, o.heatMap);
      ctx.globalAlpha = 1;
    }
    if (o.box) outlined(ctx, s, o.box, "#e4572e");
    for (const b of o.wrapped || []) outlined(ctx, s, b, "#cc79a7", [6 / s, 4 / s]);  // read through padding
    for (const [u, colour] of [[o.unit, "#0072b2"], [o.cursor, "#009e73"]]) {
      if (!u || u.layer !== item.entry) continue;
      const x0 = f.start[1] + (u.x - 0.5) * f.j[1];
      const y0 = f.start[0] + (u.y - 0.5) * f.j[0];
      outlined(ctx, s, { x0, y0, x1: x0 + f.j[1], y1: y0 + f.j[0] }, colour);
    }
  }
}

const MIN_BOX = 8; // device pixels: a box never drawn smaller than this, so a 1-pixel field still shows

/** A box (in input pixels) with a white halo under a 2-pixel coloured stroke, at least MIN_BOX across on screen. */
function outlined(ctx, s, b, colour, dash = []) {
  const grow = (a0, a1) => {
    const need = Math.max(0, MIN_BOX / s - (a1 - a0)) / 2;
    return [a0 - need, a1 + need];
  };
  const [x0, x1] = grow(b.x0, b.x1);
  const [y0, y1] = grow(b.y0, b.y1);
  ctx.lineWidth = 5 / s;
  ctx.strokeStyle = "#fff";
  ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  ctx.lineWidth = 2.5 / s;
  ctx.strokeStyle = colour;
  ctx.setLineDash(dash);
  ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  ctx.setLineDash([]);
}

/** Draw a map's display image at its place over the input. */
export function place(ctx, image, field, m) {
  const left = field.start[1] - field.j[1] / 2;
  const top = field.start[0] - field.j[0] / 2;
  ctx.drawImage(image, left, top, m.width * m.factor * field.j[1], m.height * m.factor * field.j[0]);
}

function statsLine(stats) {
  const p = document.createElement("p");
  p.className = "lab-stats";
  const list = (v) => v.slice(0, 8).map(formatNumber).join(", ") + (v.length > 8 ? ", …" : "");
  if (stats.training) {
    p.textContent = `train mode: each channel normalised by this image's own mean (${list(stats.mean)}) and variance ` +
      `(${list(stats.var)}), ε = ${stats.eps}; the running statistics move ${stats.momentum} of the way: ` +
      `mean → ${list(stats.running_mean)}, var → ${list(stats.running_var)} (unbiased). In eval mode the running ` +
      "statistics would be used instead.";
  } else {
    p.textContent = `eval mode: normalised by the running statistics, mean ${list(stats.mean)} and variance ` +
      `${list(stats.var)}, ε = ${stats.eps}, whatever this image holds (train mode would use the image's own).`;
  }
  return p;
}
