// The sweep: a layer's window moving over its input at image scale, its output filling in beside it.
// Geometry comes from the server (block.sweep): along each axis, output o reads input starts[o] + taps[t]
// ("window": conv, pools) or input o writes output starts[o] + taps[t] ("scatter": transposed conv).
import { Player } from "../player.js";

const PAD = "rgba(204, 121, 167, 0.35)";
const TAP = "#e69f00";
const CURRENT = "#0072b2";
// Stepping cell by cell walks a patch of this many cells a side (a 256² map would be 65,536 frames);
// a click on the stepped map moves the patch there.
const PATCH = 16;

export class Sweep {
  constructor({ select, unitSelect, zoomSelect, player, input, output, inputCap, outputCap, text }) {
    Object.assign(this, { select, unitSelect, zoomSelect, input, output, inputCap, outputCap, text });
    this.player = new Player(player, { onFrame: (k) => this.draw(k) });
    this.layers = [];
    select.addEventListener("change", () => this.choose());
    unitSelect.addEventListener("change", () => {
      // A 16×16 patch is a dot on a whole large map: zoom in around it when the map is larger than 64.
      const side = this.patch ? Math.max(this.patch.rows, this.patch.cols) : 0;
      if (unitSelect.value === "cell" && zoomSelect.value === "1" && side > 64) zoomSelect.value = "4";
      this.choose();
    });
    zoomSelect.addEventListener("change", () => this.draw(this.player.frame));
    for (const canvas of [input, output]) canvas.addEventListener("click", (e) => this.movePatch(canvas, e));
    // The animator's keys, while the pointer or the focus is in the sweep: space plays, arrows step, +/− speed.
    const panel = player.closest("section");
    let inside = false;
    panel.addEventListener("mouseenter", () => { inside = true; });
    panel.addEventListener("mouseleave", () => { inside = false; });
    document.addEventListener("keydown", (e) => {
      if (!(inside || panel.contains(document.activeElement)) || e.target.matches("input, select, textarea")) return;
      const act = { " ": () => this.player.toggle(), ArrowRight: () => this.player.step(1), ArrowLeft: () => this.player.step(-1),
        "+": () => this.player.faster(1), "=": () => this.player.faster(1), "-": () => this.player.faster(-1) }[e.key];
      if (act) { e.preventDefault(); act(); }
    });
  }

  /** blocks[e] is entry e (0 = the image); images[e] its drawable bitmap (channel 0, or RGB); label(block, e)
   * the name the menu gives it (by default "layer k: op"). */
  setBlocks(blocks, images, label = (b, e) => `layer ${e - 1}: ${b.op}`) {
    this.blocks = blocks;
    this.images = images;
    const keep = this.select.value;
    this.select.replaceChildren(...blocks.map((b, e) => [b, e]).filter(([b]) => b.sweep)
      .map(([b, e]) => new Option(label(b, e), String(e))));
    if ([...this.select.options].some((o) => o.value === keep)) this.select.value = keep;
    this.choose();
  }

  choose() {
    const e = Number(this.select.value);
    const block = this.blocks && this.blocks[e];
    if (!block || !block.sweep) { this.player.setFrames(0); return; }  // no layer with a window
    this.entry = e;
    this.block = block;
    const [ay, ax] = block.sweep.axes;
    this.byRow = this.unitSelect.value === "row";
    const rows = block.sweep.kind === "window" ? ay.n_out : ay.n_in;
    const cols = block.sweep.kind === "window" ? ax.n_out : ax.n_in;
    this.rows = rows;
    this.cols = cols;
    this.sizeCanvas(this.input, ay.n_in + ay.padding[0] + ay.padding[1], ax.n_in + ax.padding[0] + ax.padding[1]);
    this.sizeCanvas(this.output, ay.n_out, ax.n_out);
    const what = block.sweep.kind === "window" ? "output" : "input";
    const h = Math.min(PATCH, rows);
    const w = Math.min(PATCH, cols);
    const keep = this.patch && this.patch.rows === rows && this.patch.cols === cols ? this.patch : { r0: 0, c0: 0 };
    this.patch = { rows, cols, h, w, r0: Math.min(keep.r0, rows - h), c0: Math.min(keep.c0, cols - w) };
    this.player.root.dataset.patch = this.byRow ? "" : `${this.patch.r0},${this.patch.c0},${h}x${w}`;
    this.player.setFrames(this.byRow ? rows : h * w, (k) => {
      if (this.byRow) return `${what} row ${k}`;
      const [r, c] = this.cellOf(k);
      return `${what} (${r}, ${c}) of the ${h}×${w} patch at (${this.patch.r0}, ${this.patch.c0})`;
    }, 0);
    this.inputCap.textContent = `input of layer ${e - 1}: ${ay.n_in}×${ax.n_in}, padding ${ay.padding.join("/")} × ${ax.padding.join("/")} (pink)`;
    this.outputCap.textContent = `output: ${ay.n_out}×${ax.n_out}`;
  }

  /** Frame k → the stepped cell: row k (by row), or the k-th cell of the patch (by cell). */
  cellOf(k) {
    if (this.byRow) return [k, 0];
    const { r0, c0, w } = this.patch;
    return [r0 + Math.floor(k / w), c0 + (k % w)];
  }

  /** A click on the map whose cells are stepped moves the patch's top-left corner to the clicked cell. */
  movePatch(canvas, e) {
    if (this.byRow || !this.block || !canvas.view) return;
    const stepped = this.block.sweep.kind === "window" ? this.output : this.input;
    if (canvas !== stepped) return;
    const box = canvas.getBoundingClientRect();
    const v = canvas.view;
    const x = ((e.clientX - box.left) * canvas.width) / box.width / v.sx + v.x0;
    const y = ((e.clientY - box.top) * canvas.height) / box.height / v.sy + v.y0;
    const { rows, cols, h, w } = this.patch;
    const clamp = (value, hi) => Math.min(Math.max(Math.floor(value), 0), hi);
    this.patch.r0 = clamp(y - h / 2, rows - h);
    this.patch.c0 = clamp(x - w / 2, cols - w);
    const frame = this.player.frame;
    this.choose();
    this.player.seek(Math.min(frame, h * w - 1));
  }

  sizeCanvas(canvas, h, w) {
    const cssW = Math.min(560, Math.max(240, w * 4));
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${Math.round((cssW * h) / w)}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round((cssW * h * dpr) / w);
    canvas.dataset.cells = `${h}x${w}`;
  }

  /** A ctx drawing in grid cells, (0, 0) the first real (unpadded) cell; zoomed in around `focus` (cells). */
  grid(canvas, h, w, padTop, padLeft, focus) {
    const z = Number(this.zoomSelect.value) || 1;
    const ctx = canvas.getContext("2d");
    const vw = w / z;
    const vh = h / z;
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    const x0 = clamp(focus.x - vw / 2, -padLeft, w - padLeft - vw);
    const y0 = clamp(focus.y - vh / 2, -padTop, h - padTop - vh);
    const sx = canvas.width / vw;
    const sy = canvas.height / vh;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(sx, 0, 0, sy, -x0 * sx, -y0 * sy);
    ctx.imageSmoothingEnabled = false;
    canvas.view = { x0, y0, sx, sy };
    return { ctx, s: Math.min(sx, sy) };
  }

  draw(k) {
    const b = this.block;
    if (!b) return;
    const [ay, ax] = b.sweep.axes;
    const [r, c] = this.cellOf(k);
    const window = b.sweep.kind === "window";
    const rowsOf = (axis, o) => axis.taps.map((t) => axis.starts[o] + t);
    const ys = rowsOf(ay, r);
    const xs = rowsOf(ax, c);
    const at = { y: (ys[0] + ys[ys.length - 1] + 1) / 2, x: (xs[0] + xs[xs.length - 1] + 1) / 2 };
    const cell = { y: r + 0.5, x: c + 0.5 };
    const inp = this.grid(this.input, ay.n_in + ay.padding[0] + ay.padding[1], ax.n_in + ax.padding[0] + ax.padding[1],
      ay.padding[0], ax.padding[0], window ? at : cell);
    const ictx = inp.ctx;
    ictx.fillStyle = PAD;
    ictx.fillRect(-ax.padding[0], -ay.padding[0], ax.n_in + ax.padding[0] + ax.padding[1], ay.n_in + ay.padding[0] + ay.padding[1]);
    ictx.drawImage(this.images[this.entry - 1], 0, 0, ax.n_in, ay.n_in);
    const out = this.grid(this.output, ay.n_out, ax.n_out, 0, 0, window ? cell : at);
    const octx = out.ctx;
    octx.fillStyle = "#eef0f3";
    octx.fillRect(0, 0, ax.n_out, ay.n_out);
    // What is done so far, in output cells: the rows (of the patch) before, and this row up to the current cell.
    const first = this.byRow ? { r: 0, c: 0, w: this.cols } : { r: this.patch.r0, c: this.patch.c0, w: this.patch.w };
    const lastCol = this.byRow ? this.cols - 1 : c;
    octx.save();
    octx.beginPath();
    if (window) {
      octx.rect(first.c, first.r, first.w, r - first.r);
      octx.rect(first.c, r, lastCol - first.c + 1, 1);
    } else {
      const span = (axis, a, b) => [rowsOf(axis, a)[0], rowsOf(axis, b)[axis.taps.length - 1] + 1];
      const [x0, x1] = span(ax, first.c, first.c + first.w - 1);
      const [y0] = span(ay, first.r, first.r);
      const [rowTop, rowEnd] = span(ay, r, r);
      octx.rect(x0, y0, x1 - x0, rowTop - y0);
      octx.rect(x0, rowTop, span(ax, first.c, lastCol)[1] - x0, rowEnd - rowTop);
    }
    octx.clip();
    octx.drawImage(this.images[this.entry], 0, 0, ax.n_out, ay.n_out);
    octx.restore();
    const band = this.byRow ? rowsOf(ax, this.cols - 1) : xs;
    if (window) {
      this.taps(ictx, ys, xs, inp.s);
      if (this.byRow) this.outline(ictx, ys[0], xs[0], ys[ys.length - 1] + 1, band[band.length - 1] + 1, inp.s, 0.5);
      this.outline(octx, r, c, r + 1, this.byRow ? ax.n_out : c + 1, out.s, 1);
      this.text.textContent = `output (${r}, ${this.byRow ? `0…${ax.n_out - 1}` : c}) reads input rows ${ys.join(", ")} × columns ${xs.join(", ")}` +
        (this.byRow ? ` … ${band.join(", ")}` : "") + " (negative or past the edge: padding).";
    } else {
      this.outline(ictx, r, c, r + 1, this.byRow ? ax.n_in : c + 1, inp.s, 1);
      this.taps(octx, ys, xs, out.s);
      this.text.textContent = `input (${r}, ${this.byRow ? `0…${ax.n_in - 1}` : c}) adds its kernel copy at output rows ${ys.join(", ")} × columns ${xs.join(", ")}` +
        " (outside the output: cropped by padding).";
    }
    this.player.root.dataset.cell = `${r},${c}`;
  }

  taps(ctx, ys, xs, s) {
    ctx.lineWidth = 2 / s;
    for (const y of ys) {
      for (const x of xs) {
        ctx.fillStyle = "rgba(230, 159, 0, 0.35)";
        ctx.fillRect(x, y, 1, 1);
        ctx.strokeStyle = TAP;
        ctx.strokeRect(x + 0.5 / s, y + 0.5 / s, 1 - 1 / s, 1 - 1 / s);
      }
    }
    this.outline(ctx, ys[0], xs[0], ys[ys.length - 1] + 1, xs[xs.length - 1] + 1, s, 1);
  }

  outline(ctx, y0, x0, y1, x1, s, alpha) {
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = CURRENT;
    ctx.lineWidth = 3 / s;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.globalAlpha = 1;
  }
}
