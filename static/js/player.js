// Play, pause, step and scrub through frames 0..n-1. The state is on the element for tools and tests:
// data-playing="true|false", data-frame="k", data-frames="n". One requestAnimationFrame loop; a frame
// is drawn at most once per display refresh, however fast the speed.
export const SPEEDS = [0.5, 1, 2, 4, 8, 15, 30, 60]; // frames per second

export class Player {
  constructor(root, { onFrame, onStop } = {}) {
    this.root = root;
    this.onFrame = onFrame || (() => {});
    this.onStop = onStop || (() => {});
    this.frames = 0;
    this.frame = 0;
    this.playing = false;
    this.slider = root.querySelector("input[name=frame]");
    this.speedSelect = root.querySelector("select[name=speed]");
    this.counter = root.querySelector(".frame-counter");
    this.playButton = root.querySelector("[data-act=play]");
    this.label = () => "";
    root.querySelector("[data-act=back]").addEventListener("click", () => this.step(-1));
    root.querySelector("[data-act=fwd]").addEventListener("click", () => this.step(1));
    this.playButton.addEventListener("click", () => this.toggle());
    this.slider.addEventListener("input", () => { this.pause(); this.seek(Number(this.slider.value)); });
    this.speedSelect.addEventListener("change", () => this._showState());
    this._tick = this._tick.bind(this);
    this._showState();
  }

  get speed() {
    return Number(this.speedSelect.value);
  }

  set speed(v) {
    const best = SPEEDS.reduce((a, b) => (Math.abs(b - v) < Math.abs(a - v) ? b : a));
    this.speedSelect.value = String(best);
    this._showState();
  }

  faster(direction = 1) {
    const i = SPEEDS.indexOf(this.speed);
    this.speed = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, i + direction))];
    this.speedSelect.dispatchEvent(new Event("change", { bubbles: true }));
  }

  /** A new animation: n frames, label(k) names frame k; keeps the frame when it still exists. */
  setFrames(n, label = () => "", frame = this.frame) {
    this.frames = n;
    this.label = label;
    this.slider.max = String(Math.max(0, n - 1));
    this.slider.disabled = n < 2;
    this.seek(Math.max(0, Math.min(n - 1, frame)));
  }

  seek(k) {
    if (!this.frames) return;
    this.frame = Math.max(0, Math.min(this.frames - 1, k));
    this._showState();
    const t0 = performance.now();
    this.onFrame(this.frame);
    if (this.root.dataset.perf) performance.measure("convscope:frame", { start: t0 });
  }

  step(delta) {
    this.pause();
    this.seek(this.frame + delta);
    this.onStop(this.frame);
  }

  play() {
    if (this.playing || this.frames < 2) return;
    if (this.frame >= this.frames - 1) this.seek(0);
    this.playing = true;
    this._last = performance.now();
    this._carry = 0;
    this._showState();
    requestAnimationFrame(this._tick);
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    this._showState();
    this.onStop(this.frame);
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  _tick(now) {
    if (!this.playing) return;
    this._carry += ((now - this._last) / 1000) * this.speed;
    this._last = now;
    const advance = Math.floor(this._carry);
    if (advance > 0) {
      this._carry -= advance;
      this.seek(this.frame + advance);
      if (this.frame >= this.frames - 1) { this.pause(); return; }
    }
    requestAnimationFrame(this._tick);
  }

  _showState() {
    const { root } = this;
    root.dataset.playing = String(this.playing);
    root.dataset.frame = String(this.frame);
    root.dataset.frames = String(this.frames);
    this.slider.value = String(this.frame);
    const name = this.frames ? this.label(this.frame) : "";
    const text = this.frames ? `${this.frame + 1} / ${this.frames}${name ? ` · ${name}` : ""}` : "—";
    if (this.counter.textContent !== text) this.counter.textContent = text;
    // silent while playing (it changes up to 60 times a second); read out politely once paused or stepped
    this.counter.setAttribute("aria-live", this.playing ? "off" : "polite");
    this.slider.setAttribute("aria-valuetext", text);
    this.playButton.textContent = this.playing ? "❚❚ pause" : "▶ play";
    this.playButton.setAttribute("aria-label", this.playing ? "pause" : "play");
    this.playButton.setAttribute("aria-pressed", String(this.playing));
  }
}
