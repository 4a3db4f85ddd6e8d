// The lab's model choice: the editor's layers (the default), a catalogue model or an uploaded ONNX file, through
// /receptive-field's ModelChoice (the catalogue in a select, the upload, uploading again after a 404). A model
// brings its own layers: the editor is then put away and the model's layers are listed as the server ran them.
import { ApiError } from "../api.js";
import { ModelChoice } from "../views/model_choice.js";

const UPLOADED = /^[0-9a-f]{64}$/;

export class LabModels {
  /** select: <select id="lab-model">; file: its ONNX input; note: upload news; editorBox / modelBox: shown
   *  for the editor's layers / for a model; list: the model's layers; about: what the server said of it. */
  constructor({ select, file, note, editorBox, modelBox, list, about, side, sideNote, onChoose }) {
    Object.assign(this, { select, editorBox, modelBox, list, about, side, sideNote });
    this.choice = new ModelChoice(select, file, note);
    this.id = "";
    select.addEventListener("change", () => {
      if (select.value === this.id) return;  // the same file uploaded again (its id is its sha256)
      this.id = select.value;
      this.showMode();
      onChoose();
    });
  }

  /** The catalogue into the select, the address's model chosen (an uploaded id stays until the server says). */
  async init() {
    this.choice.fromAddress();
    await this.choice.loadCatalogue();
    const wanted = new URLSearchParams(window.location.search).get("model") || "";
    if ([...this.select.options].some((o) => o.value === wanted)) this.select.value = wanted;
    this.id = this.select.value;
    this.showMode();
  }

  /** {id} for the pipeline's "model", or null for the editor's layers. */
  ref() {
    return this.id ? { id: this.id } : null;
  }

  /** A name for files: the catalogue id, the uploaded file's name, or "layers". */
  label() {
    if (!this.id) return "layers";
    const title = this.choice.titles.get(this.id) || this.id;
    return UPLOADED.test(this.id) ? title.replace(/\.onnx$/i, "").replace(/[^\w.-]+/g, "_") : this.id;
  }

  showMode() {
    const on = Boolean(this.id);
    this.editorBox.hidden = on;
    this.modelBox.hidden = !on;
    this.side.disabled = on;  // a model's input size is its own
    this.sideNote.hidden = !on;
    document.body.dataset.model = this.id;
    if (!on) this.list.replaceChildren();
  }

  /** Run fn(); an uploaded model the server has let go (a 404) is uploaded again from this page's copy of the
   *  file, or asked for with a sentence, as /receptive-field does; then fn runs once more. */
  async withModel(fn) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404 || !UPLOADED.test(this.id)) throw err;
      this.choice.networks.delete(this.id);
      await this.choice.model(this.id);  // GET /models/{id}: a 404 there uploads the file again (or says why not)
      return fn();
    }
  }

  /** What the pipeline's start frame said: the model (weights, how the photo became its input), its layers. */
  describe(meta, network) {
    if (!meta) return;
    const i = meta.input || {};
    const weights = meta.weights === "random"
      ? `seeded random weights (He initialisation, seed ${meta.seed}; no trained weights are downloaded)`
      : `${meta.weights} weights`;
    const norm = i.normalize === "imagenet" ? `, normalised by ImageNet's mean ${i.mean.join(", ")} and std ${i.std.join(", ")}` : "";
    this.about.textContent = `${meta.title || this.choice.titles.get(meta.id) || "uploaded model"}: ${network.layers.length} ` +
      `layers with ${weights}. The photo becomes its ${(i.shape || []).join("×")} input (${i.resize}${norm}).`;
    this.list.replaceChildren(...network.layers.map((l) => {
      const li = document.createElement("li");
      li.textContent = `${l.name} · ${l.op}`;
      return li;
    }));
  }
}
