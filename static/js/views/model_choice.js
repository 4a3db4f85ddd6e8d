// The model choice of /receptive-field: the editor's own network, a catalogue model (GET /api/v1/models),
// or an ONNX file uploaded with POST /api/v1/models. The select named "model" keeps the id in the link; the
// server holds uploads in memory only, so an id it has let go (a 404) is answered by uploading the file
// again: by itself when this page still has the file, else by asking for it.
import { ApiError, get } from "../api.js";
import { formatCount } from "../plot.js";
import { apiHas } from "../view.js";
import { fail } from "./shared.js";

const UPLOADED = /^[0-9a-f]{64}$/;

export class ModelChoice {
  /** select: the <select name="model">; file: the <input type="file">; note: where upload news is written. */
  constructor(select, file, note) {
    Object.assign(this, { select, file, note });
    this.networks = new Map(); // id -> {title, network}
    this.files = new Map();    // id -> the File uploaded from this page, for uploading again
    this.titles = new Map();
    this.takeShape = false;    // the next load sets the input size from the model
    // the file itself is no parameter of the view: only the id it becomes (the select's change) reloads it
    file.addEventListener("input", (e) => e.stopPropagation());
    file.addEventListener("change", (e) => {
      e.stopPropagation();
      if (file.files[0]) this.upload(file.files[0]).catch((err) => this.say(err.message, true));
    });
    select.addEventListener("change", () => { this.takeShape = Boolean(select.value); });
  }

  /** The id in the address as an option now (the select keeps only ids it lists), so the page need not wait. */
  fromAddress() {
    const params = new URLSearchParams(window.location.search);
    const id = params.get("model");
    if (!id) return;
    this.addUploaded(id, UPLOADED.test(id) ? "uploaded model" : id, !UPLOADED.test(id));
    if (!params.has("h")) this.takeShape = true;
  }

  /** The catalogue into the select, each with its title and size. */
  async loadCatalogue() {
    if (!(await apiHas("/models"))) return;
    const { models } = await get("/models");
    for (const m of models) {
      this.titles.set(m.id, m.title);
      const opt = [...this.select.options].find((o) => o.value === m.id) || new Option("", m.id);
      opt.textContent = `${m.title} · ${m.layers} layers`;
      opt.title = m.source;
      if (!opt.parentNode) this.select.append(opt);
    }
  }

  addUploaded(id, label, plain = false) {
    let opt = [...this.select.options].find((o) => o.value === id);
    if (!opt) {
      opt = new Option("", id);
      this.select.append(opt);
    }
    opt.textContent = plain ? label : `${label} (${id.slice(0, 8)}…)`;
    this.titles.set(id, label);
  }

  say(text, error = false) {
    this.note.textContent = text;
    this.note.classList.toggle("error", error);
  }

  async upload(file) {
    this.say(`uploading ${file.name}…`);
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await fetch("/api/v1/models", { method: "POST", body: form });
    const data = await response.json().catch(() => ({ ok: false, error: `The server answered ${response.status} without JSON.` }));
    if (!response.ok || data.ok === false) throw new ApiError({ status: response.status, ...data });
    this.files.set(data.id, file);
    this.networks.set(data.id, { title: file.name, network: data.network });
    this.addUploaded(data.id, file.name);
    this.say(`${file.name}: ${data.layers} layers, ${formatCount(data.params)} parameters` +
      `${data.notes?.length ? ` · ${data.notes.join(" · ")}` : ""}`);
    this.select.value = data.id;
    this.takeShape = true;
    this.select.dispatchEvent(new Event("change", { bubbles: true }));
    return data;
  }

  /** {title, network} of a model id; an uploaded model the server no longer holds is uploaded again or asked for. */
  async model(id) {
    if (this.networks.has(id)) return this.networks.get(id);
    try {
      const data = await get(`/models/${encodeURIComponent(id)}`);
      const entry = { title: data.title || this.titles.get(id) || id, network: data.network };
      this.networks.set(id, entry);
      return entry;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404 || !UPLOADED.test(id)) throw err;
      const file = this.files.get(id);
      if (file) {
        this.say(`The server had let ${file.name} go; uploading it again…`);
        await this.upload(file);
        return this.networks.get(id);
      }
      this.say("Upload the ONNX file again: the server keeps uploaded models in memory only, and has let this one go.", true);
      return fail("model", "The server no longer holds this uploaded model (it keeps a few, in memory only): " +
        "choose its ONNX file again with “upload ONNX”.");
    }
  }
}
