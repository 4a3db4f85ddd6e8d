// Where the image comes from: a built-in sample, a file (picker, drop, paste) or a camera snapshot.
// Uploads are remembered so that an id the server no longer holds (a 404) is answered by uploading again.
import { ApiError, get, retryAfter } from "../api.js";

export class ImageSource {
  constructor({ onChange, onError, onStatus }) {
    this.onChange = onChange;
    this.onError = onError;
    this.onStatus = onStatus;
    this.ref = null;      // {sample} or {id}: what the API calls the image
    this.info = null;     // the server's description of it
    this.file = null;     // the uploaded Blob, kept for re-uploading
    this.label = "";
    this.stream = null;
  }

  async chooseSample(name) {
    const info = await get(`/samples/${encodeURIComponent(name)}`);
    this.ref = { sample: name };
    this.info = info;
    this.file = null;
    this.label = `sample “${info.title || name}”`;
    this.onChange(this);
  }

  async upload(file, { quiet = false } = {}) {
    if (!file) return;
    if (!quiet) this.onStatus("Uploading…");
    const form = new FormData();
    form.append("file", file, file.name || "pasted.png");
    const response = await fetch("/api/v1/images", { method: "POST", body: form });
    let data;
    try { data = await response.json(); } catch { data = { error: `The server answered ${response.status}.` }; }
    if (!response.ok || data.ok === false) throw new ApiError({ status: response.status, ...data }, retryAfter(response));
    this.ref = { id: data.id };
    this.info = data;
    this.file = file;
    this.label = `upload ${file.name || "(pasted)"}`.trim();
    if (quiet) return;
    this.onStatus("");
    this.onChange(this);
  }

  /** Run fn(ref); if the server no longer holds the upload (404), upload it again and retry once. */
  async withImage(fn) {
    try {
      return await fn(this.ref);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404 || !this.file || !this.ref.id) throw err;
      this.onStatus("The server had let the image go; uploading it again…");
      await this.upload(this.file);
      return fn(this.ref);
    }
  }

  async openCamera(video, box) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser gives the page no camera (it needs https or localhost).");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 } }, audio: false });
    video.srcObject = this.stream;
    box.hidden = false;
    await new Promise((resolve) => { if (video.readyState >= 2) resolve(); else video.onloadeddata = resolve; });
  }

  closeCamera(video, box) {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    video.srcObject = null;
    box.hidden = true;
  }

  async snapshot(video) {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const stamp = new Date().toTimeString().slice(0, 8).replace(/:/g, "");
    await this.upload(new File([blob], `camera-${stamp}.png`, { type: "image/png" }));
  }

  /** One live frame: the camera's picture, shrunk to the working side here, uploaded without announcing it. */
  async frame(video, side) {
    const k = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(video.videoWidth * k));
    canvas.height = Math.max(1, Math.round(video.videoHeight * k));
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    await this.upload(new File([blob], "live.jpg", { type: "image/jpeg" }), { quiet: true });
  }

  describe(workSide) {
    const i = this.info;
    if (!i) return "";
    let text = `${this.label}: ${i.width}×${i.height}, ${i.channels === 1 ? "grayscale" : "colour"}`;
    if (i.resized) text += ` (resized on arrival from ${i.original_width}×${i.original_height})`;
    if (Math.max(i.width, i.height) > workSide) text += `; the layers work on it resized to fit ${workSide} px`;
    return `${text}.`;
  }

  /** Wire the file input, the drop zone, paste and the camera buttons. */
  wire({ fileInput, drop, camera, video, box, snap, close }) {
    const guard = (p) => p.catch((err) => { this.onStatus(""); this.onError(err.message); });
    fileInput.addEventListener("change", () => guard(this.upload(fileInput.files[0])));
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      guard(this.upload(e.dataTransfer.files[0]));
    });
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") fileInput.click(); });
    document.addEventListener("paste", (e) => {
      const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith("image/"));
      if (item) guard(this.upload(item.getAsFile()));
    });
    camera.addEventListener("click", () => guard(this.openCamera(video, box)));
    snap.addEventListener("click", () => guard(this.snapshot(video).then(() => this.closeCamera(video, box))));
    close.addEventListener("click", () => this.closeCamera(video, box));
  }
}
