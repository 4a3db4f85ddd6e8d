// A grid of cells drawn on two stacked canvases: the cells (redrawn when the data changes) and the
// highlights (redrawn every animation frame: a handful of rectangles, so a frame costs well under a millisecond).
// Coordinates are the caller's frame: (row, col) may start below 0 (a padding ring).
import { blend, colorScale, hexRgb, inkFor, ROLE } from "./palette.js";
import { formatNumber } from "./plot.js";

const PAD_FILL = "#f6e3ee";
const FILL = { inserted: "#e9ebef", plain: "#e6eaf0", gap: "#ffffff" }; // every other non-value kind: PAD_FILL
const FILL_RGB = Object.fromEntries(Object.entries({ ...FILL, pad: PAD_FILL }).map(([k, v]) => [k, hexRgb(v)]));
const TINT = { lit: [hexRgb(ROLE.lit), 0.22], fed: [hexRgb(ROLE.fed), 0.18] };
const AXIS_FONT = "11px system-ui, sans-serif";
const HATCHED = new Set(["pad", "unread", "op", "copy"]);

/**
 * Presenter mode (body.presenter): cells may grow up to PRESENTER_MAX_CELL px (fitGrids) and every text drawn on a grid is at
 * least 16 px at 1080p (the same share of the height on a smaller screen: 11 px at 720p); a value is written at
 * 0.42 × the cell (so at least 24 px from 57 px cells up, at most 40 px) and left out when that would be under
 * the minimum (cells under 38 px at 1080p: hover or focus the cell for it).
 * stageFit.scale multiplies the height each grid is given, so that the page can fit the whole stage to the screen.
 */
export const PRESENTER_MAX_CELL = 96;
export const PRESENTER_MIN_TEXT = 16;
export const stageFit = { scale: 1 };
const presenting = () => document.body.classList.contains("presenter");
/** The smallest text drawn in presenter mode: 16 px at 1080p, the same share of a smaller screen's height. */
const minText = () => Math.round(PRESENTER_MIN_TEXT * Math.min(1, window.innerHeight / 1080));
let tip; // one tooltip for every grid

function tooltip() {
  if (!tip) {
    tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    document.body.append(tip);
  }
  return tip;
}

export const key = (r, c) => `${r},${c}`;

export class CellGrid {
  /**
   * host: the element the grid is drawn in. options: label (for screen readers), colorscale,
   * describe(r, c) -> tooltip text, onHover(r, c), onLeave(), onClick(r, c), axes (draw row/col numbers).
   */
  constructor(host, options = {}) {
    this.opts = { colorscale: "Viridis", maxCell: 46, minCell: 3, axes: true, ...options };
    this.el = document.createElement("div");
    this.el.className = "grid";
    this.el.tabIndex = 0;
    this.el.setAttribute("role", "group");
    this.el.setAttribute("aria-roledescription", "grid");
    this.el.setAttribute("aria-label", `${this.opts.label || "grid"}; arrow keys move the cursor, Enter selects`);
    this.base = document.createElement("canvas");
    this.over = document.createElement("canvas");
    this.over.className = "over";
    this.el.append(this.base, this.over);
    host.replaceChildren(this.el);
    this.rows = 0; this.cols = 0; this.row0 = 0; this.col0 = 0;
    this.cellAt = () => null;
    this.size = 20; this.margin = 0;
    this.marks = {};
    this.hover = null; this.cursor = null;
    this._bindPointer();
    this._bindKeys();
  }

  /** cell(r, c) -> {v, kind, text?, dim?}; kinds: real, pad, copy, unread, inserted, gap, op, empty. */
  setCells({ rows, cols, row0 = 0, col0 = 0, cell, zmin, zmax }) {
    Object.assign(this, { rows, cols, row0, col0, cellAt: cell });
    if (zmin === undefined || zmax === undefined) {
      const values = [];
      this.each((r, c) => { const x = cell(r, c); if (x && x.kind === "real") values.push(x.v); });
      zmin = Math.min(...values); zmax = Math.max(...values);
    }
    this.color = colorScale(this.opts.colorscale, zmin, zmax);
    Object.assign(this.el.dataset, { rows, cols, row0, col0, zmin, zmax }); // the colour scale's ends, for tests and tools
  }

  each(fn) {
    for (let r = this.row0; r < this.row0 + this.rows; r++) for (let c = this.col0; c < this.col0 + this.cols; c++) fn(r, c);
  }

  /** Fit the cells into maxWidth × maxHeight CSS pixels, then draw. */
  layout(maxWidth, maxHeight = maxWidth) {
    this.big = presenting();
    if (this.big) maxHeight *= stageFit.scale;
    const axes = this.opts.axes ? (this.big ? 30 : 20) : 0;
    const exact = Math.min((maxWidth - axes) / this.cols, (maxHeight - axes) / this.rows);
    // whole pixels per cell while they are big enough to count; below 4 px, fractions, so a 227-pixel map fits
    const fit = exact >= 4 ? Math.floor(exact) : Math.floor(exact * 4) / 4;
    this.size = Math.max(this.opts.minCell, Math.min(this.opts.maxCell, fit));
    this.margin = this.opts.axes && this.size >= 12 ? axes : 0;
    const w = this.margin + this.cols * this.size;
    const h = this.margin + this.rows * this.size;
    const dpr = window.devicePixelRatio || 1;
    for (const canvas of [this.base, this.over]) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
      canvas.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    this.el.style.width = `${w}px`;
    this.el.style.height = `${h}px`;
    const font = this.valueFont();
    Object.assign(this.el.dataset, { cell: this.size, margin: this.margin, font: font || 0,
      axisFont: this.margin ? (this.big ? minText() : 11) : 0 });
    this.draw();
    this.mark(this.marks);
  }

  xy(r, c) {
    return [this.margin + (c - this.col0) * this.size, this.margin + (r - this.row0) * this.size];
  }

  /** The px size values are written at in this layout, or 0 when the cells are too small to hold one. */
  valueFont() {
    const s = this.size;
    if (this.big) {
      const px = Math.min(40, Math.round(s * 0.42));
      return px >= minText() ? px : 0;
    }
    return s >= 16 ? Math.max(9, Math.round(s * 0.36)) : 0;
  }

  draw() {
    const g = this.base.getContext("2d");
    g.clearRect(0, 0, this.base.width, this.base.height);
    const font = this.valueFont();
    g.font = `${font}px system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    this.each((r, c) => this._paint(g, r, c, font));
    if (this.margin) this._axes(g);
  }

  /**
   * One cell: its fill, hatching and value. tint: [rgb, alpha] composited into the fill (a highlight), the value
   * then written in the ink that contrasts with the tinted fill, so a highlight never darkens what it points at.
   */
  _paint(g, r, c, font, tint = null, lifted = false) {
    const cell = this.cellAt(r, c);
    if (!cell || cell.kind === "empty") return;
    const s = this.size;
    const gap = s >= 8 ? 1 : 0;
    const [x, y] = this.xy(r, c);
    const value = cell.kind === "real" || cell.kind === "copy";
    const col = value ? this.color(cell.v) : null;
    let ink = col ? col.ink : "#1d1d1f";
    if (tint) {
      let rgb = col ? col.rgb : FILL_RGB[cell.kind] || FILL_RGB.pad;
      if (cell.dim) rgb = blend(rgb, [255, 255, 255], 0.6);
      rgb = blend(rgb, tint[0], tint[1]);
      g.fillStyle = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
      ink = inkFor(rgb);
    } else g.fillStyle = col ? col.fill : FILL[cell.kind] || PAD_FILL; // pad, unread, op: PAD_FILL
    g.fillRect(x, y, s - gap, s - gap);
    if (HATCHED.has(cell.kind)) {
      hatch(g, x, y, s - gap, cell.kind === "op" ? ROLE.fed : ROLE.pad, cell.kind === "copy" ? 0.9 : 0.55);
    }
    if (cell.kind === "gap") {
      g.strokeStyle = "#c4c8cf"; g.setLineDash([2, 2]); g.strokeRect(x + 0.5, y + 0.5, s - gap - 1, s - gap - 1);
      g.setLineDash([]);
    }
    if (cell.dim && !tint) { g.fillStyle = "rgba(255,255,255,0.6)"; g.fillRect(x, y, s - gap, s - gap); }
    const text = cell.text ?? (["gap", "unread", "plain"].includes(cell.kind) ? "" : formatNumber(cell.v));
    if (font && text) {
      const muted = cell.dim || cell.kind === "pad" || cell.kind === "op" || cell.kind === "inserted";
      g.fillStyle = muted && !tint ? "#5f6368" : ink;
      g.fillText(text, x + (s - gap) / 2, y + (lifted ? s * 0.36 : (s - gap) / 2 + 1), s - 2);
    }
  }

  _axes(g) {
    const s = this.size;
    g.font = this.big ? `${minText()}px system-ui, sans-serif` : AXIS_FONT;
    g.fillStyle = "#5f6368";
    g.textAlign = "center";
    g.textBaseline = "middle";
    const every = this.big ? Math.max(1, Math.ceil(24 / s)) : s >= 18 ? 1 : s >= 12 ? 2 : 4;
    for (let c = this.col0; c < this.col0 + this.cols; c++) {
      if ((c - this.col0) % every === 0) g.fillText(String(c), this.xy(0, c)[0] + s / 2, this.margin / 2);
    }
    g.textAlign = "right";
    for (let r = this.row0; r < this.row0 + this.rows; r++) {
      if ((r - this.row0) % every === 0) g.fillText(String(r), this.margin - 3, this.xy(r, 0)[1] + s / 2);
    }
  }

  /**
   * Highlights, redrawn every frame. marks: {current, lit, fed, source, veil: [[r, c], ...], labels: [{r, c, text}],
   * stars: [[r, c]]}. data-lit / data-current / data-fed list the cells as "r,c;r,c" for tests and tools.
   */
  mark(marks = {}) {
    this.marks = marks;
    const g = this.over.getContext("2d");
    const s = this.size;
    g.clearRect(0, 0, this.over.width, this.over.height);
    g.fillStyle = ROLE.veil;
    let veiled = 0;
    if (marks.veil && marks.veil.length) {
      for (const [r, c] of marks.veil) { const [x, y] = this.xy(r, c); g.fillRect(x, y, s, s); }
      veiled += marks.veil.length;
    }
    if (marks.veilAfter) {
      // {order: [[frame, r, c], ...], k}: veil the cells of frames after k, one rectangle per run of a row
      const { order, k } = marks.veilAfter;
      const x0 = this.margin - this.col0 * s;
      const y0 = this.margin - this.row0 * s;
      for (const run of runsOf(order)) {
        const frames = run.frames;
        const n = frames.length;
        if (frames[n - 1] <= k) continue;
        let i = 0;
        while (frames[i] <= k) i++;
        g.fillRect(x0 + (run.c + i) * s, y0 + run.r * s, (n - i) * s, s);
        veiled += n - i;
      }
    }
    this.el.dataset.veiled = String(veiled); // how many cells are faded (not computed yet), for tests and tools
    const font = this.valueFont();
    const labelFont = this._labelFont();
    const lifted = labelFont && marks.labels ? new Set(marks.labels.map(({ r, c }) => key(r, c))) : null;
    g.font = `${font}px system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    const box = (cells, color, width, tint) => {
      if (!cells) return;
      for (const [r, c] of cells) {
        const [x, y] = this.xy(r, c);
        if (tint) this._paint(g, r, c, font, tint, lifted?.has(key(r, c)));
        g.lineWidth = width;
        g.strokeStyle = color;
        g.strokeRect(x + width / 2, y + width / 2, s - width - (s >= 8 ? 1 : 0) + 1, s - width - (s >= 8 ? 1 : 0) + 1);
      }
    };
    const w = Math.max(2, Math.min(4, Math.round(s / 9)));
    g.setLineDash(s >= 10 ? [4, 3] : []);
    box(marks.source, ROLE.source, w);
    g.setLineDash([]);
    box(marks.fed, ROLE.fed, w, TINT.fed);
    box(marks.lit, ROLE.lit, w, TINT.lit);
    box(marks.current, ROLE.current, w + 1);
    for (const b of marks.boxes || []) {
      // a region with half-open, possibly fractional bounds, in this grid's frame
      const [x0, y0] = this.xy(b.r0, b.c0);
      const [x1, y1] = this.xy(b.r1, b.c1);
      g.lineWidth = b.width || 3;
      g.strokeStyle = b.color || ROLE.current;
      g.setLineDash(Array.isArray(b.dash) ? b.dash : b.dash ? [6, 4] : []);
      g.strokeRect(x0, y0, x1 - x0, y1 - y0);
      g.setLineDash([]);
    }
    if (marks.cross && marks.cross.length && s < 6) {
      g.fillStyle = "rgba(213, 94, 0, 0.7)"; // too small for a cross: a solid mark
      for (const [r, c] of marks.cross) { const [x, y] = this.xy(r, c); g.fillRect(x, y, s, s); }
    } else if (marks.cross && marks.cross.length) {
      g.strokeStyle = ROLE.fed;
      g.lineWidth = Math.max(1, s / 8);
      for (const [r, c] of marks.cross) {
        const [x, y] = this.xy(r, c);
        g.beginPath();
        g.moveTo(x + s * 0.2, y + s * 0.2); g.lineTo(x + s * 0.8, y + s * 0.8);
        g.moveTo(x + s * 0.8, y + s * 0.2); g.lineTo(x + s * 0.2, y + s * 0.8);
        g.stroke();
      }
    }
    if (marks.stars && s >= 10) {
      g.fillStyle = ROLE.fed;
      g.font = `${Math.round(s * 0.42)}px system-ui, sans-serif`;
      g.textAlign = "right"; g.textBaseline = "top";
      for (const [r, c] of marks.stars) { const [x, y] = this.xy(r, c); g.fillText("★", x + s - 2, y + 1); }
    }
    if (marks.labels && labelFont) {
      g.font = `600 ${labelFont}px system-ui, sans-serif`;
      g.textAlign = "center"; g.textBaseline = "bottom";
      for (const { r, c, text } of marks.labels) {
        const [x, y] = this.xy(r, c);
        g.fillStyle = "rgba(255,255,255,0.85)";
        g.fillRect(x + 1, y + s * 0.66, s - 3, s * 0.33 - 1);
        g.fillStyle = "#1d1d1f";
        g.fillText(text, x + s / 2, y + s - 1, s - 3);
      }
    }
    const list = (cells) => (cells || []).map(([r, c]) => key(r, c)).join(";");
    this.el.dataset.lit = list(marks.lit);
    this.el.dataset.current = list(marks.current);
    this.el.dataset.fed = list(marks.fed);
    this.el.dataset.cross = list(marks.cross);
  }

  /** The px size of the tap labels (×w) written under values, or 0 when they are left out. */
  _labelFont() {
    const s = this.size;
    if (this.big) return s * 0.33 >= minText() + 2 ? Math.max(minText(), Math.round(s * 0.28)) : 0;
    return s >= 22 ? Math.max(9, Math.round(s * 0.26)) : 0;
  }

  /** The grid drawn into one canvas (cells and highlights), for the PNG export. */
  snapshot() {
    return [this.base, this.over];
  }

  cellFromEvent(event) {
    const rect = this.over.getBoundingClientRect();
    const col = Math.floor((event.clientX - rect.left - this.margin) / this.size) + this.col0;
    const row = Math.floor((event.clientY - rect.top - this.margin) / this.size) + this.row0;
    const inside = row >= this.row0 && row < this.row0 + this.rows && col >= this.col0 && col < this.col0 + this.cols;
    return inside ? [row, col] : null;
  }

  _enter(r, c, anchor) {
    if (this.hover && this.hover[0] === r && this.hover[1] === c) return;
    this.hover = [r, c];
    this.opts.onHover?.(r, c);
    const text = this.opts.describe?.(r, c);
    const t = tooltip();
    if (text) {
      t.textContent = text;
      t.hidden = false;
      t.style.left = `${anchor.x + 14}px`;
      t.style.top = `${anchor.y + 14}px`;
    } else t.hidden = true;
  }

  _leave() {
    if (!this.hover) return;
    this.hover = null;
    tooltip().hidden = true;
    this.opts.onLeave?.();
  }

  _bindPointer() {
    this.over.addEventListener("mousemove", (e) => {
      const cell = this.cellFromEvent(e);
      if (!cell) return this._leave();
      const cellObj = this.cellAt(...cell);
      if (!cellObj || cellObj.kind === "empty") return this._leave();
      this._enter(cell[0], cell[1], { x: e.pageX, y: e.pageY });
    });
    this.over.addEventListener("mouseleave", () => this._leave());
    this.over.addEventListener("click", (e) => {
      const cell = this.cellFromEvent(e);
      if (cell) this.opts.onClick?.(...cell);
    });
  }

  _bindKeys() {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    this.el.addEventListener("focus", () => {
      if (!this.rows) return;
      this.cursor = this.cursor || [this.row0, this.col0];
      this._cursorMoved();
    });
    this.el.addEventListener("blur", () => this._leave());
    this.el.addEventListener("keydown", (e) => {
      if (!this.rows) return;
      let [r, c] = this.cursor || [this.row0, this.col0];
      if (moves[e.key]) {
        r = Math.max(this.row0, Math.min(this.row0 + this.rows - 1, r + moves[e.key][0]));
        c = Math.max(this.col0, Math.min(this.col0 + this.cols - 1, c + moves[e.key][1]));
      } else if (e.key === "Home") [r, c] = [this.row0, this.col0];
      else if (e.key === "End") [r, c] = [this.row0 + this.rows - 1, this.col0 + this.cols - 1];
      else if (e.key === "Enter") { this.opts.onClick?.(r, c); e.preventDefault(); e.stopPropagation(); return; }
      else if (e.key === "Escape") { this.el.blur(); return; }
      else return;
      e.preventDefault();
      e.stopPropagation(); // the arrows move this cursor, not the animation
      this.cursor = [r, c];
      this._cursorMoved();
    });
  }

  _cursorMoved() {
    const [r, c] = this.cursor;
    const [x, y] = this.xy(r, c);
    const rect = this.over.getBoundingClientRect();
    this.hover = null;
    this._enter(r, c, { x: rect.left + window.scrollX + x + this.size / 2, y: rect.top + window.scrollY + y + this.size / 2 });
  }
}

const RUNS = new WeakMap();
/**
 * An order [[frame, r, c], ...] as runs of cells side by side in a row with frames that never decrease: the cells
 * of a run after frame k are its tail, veiled with one rectangle. Computed once per order array.
 */
function runsOf(order) {
  let runs = RUNS.get(order);
  if (runs) return runs;
  runs = [];
  let run = null;
  for (const [frame, r, c] of order) {
    const frames = run?.frames;
    if (run && r === run.r && c === run.c + frames.length && frame >= frames[frames.length - 1]) frames.push(frame);
    else { run = { r, c, frames: [frame] }; runs.push(run); }
  }
  RUNS.set(order, runs);
  return runs;
}

function hatch(g, x, y, s, color, alpha) {
  g.save();
  g.beginPath();
  g.rect(x, y, s, s);
  g.clip();
  g.strokeStyle = color;
  g.globalAlpha = alpha;
  g.lineWidth = 1;
  const step = Math.max(4, Math.round(s / 4));
  for (let d = -s; d < s; d += step) {
    g.beginPath();
    g.moveTo(x + d, y + s);
    g.lineTo(x + d + s, y);
    g.stroke();
  }
  g.restore();
}
