// The network editor of /receptive-field: one row per layer in the /shapes form (torch.nn constructor
// arguments). Its operations and their parameters (names, defaults, ranges, meanings) are GET /api/v1/layers,
// the server's one table: a box left empty means the default the server shows in it. Each layer reads the
// layer before it, the input or any earlier layer; add / concat merges read several. Its value is the JSON
// list in the hidden input named "stack", so the URL carries the network.
import { get } from "../api.js";
import { apiHas } from "../view.js";
import { box, hintOf, inputChoice, mergeInputs, paramControl } from "../layer_fields.js";

const WIRING = new Set(["name", "input", "inputs"]);

export class NetworkEditor {
  /** tbody: the <tbody> to fill; input: the hidden input holding the JSON; onChange(layers). */
  constructor(tbody, input, onChange) {
    Object.assign(this, { tbody, input, onChange });
    this.kinds = new Map();
    this.names = [];     // the names the server gave every entry (0 = "input"), from the last /shapes
    this.model = null;   // {title, layers, copy()} while a model is shown instead of the editor's network
  }

  async loadKinds() {
    if (!(await apiHas("/layers"))) return; // each row then shows its layer as JSON, for the server to check
    const { layers } = await get("/layers");
    for (const kind of layers) this.kinds.set(kind.op, kind);
  }

  get layers() {
    try {
      const layers = JSON.parse(this.input.value || "[]");
      return Array.isArray(layers) ? layers : [];
    } catch {
      return [];
    }
  }

  /** Why the stack's text is not a list of layers, or "" when it is (or is empty). */
  get problem() {
    if (!this.input.value) return "";
    try {
      return Array.isArray(JSON.parse(this.input.value)) ? "" : "the stack must be a JSON list of layers";
    } catch (err) {
      return `the stack is not valid JSON (${err.message})`;
    }
  }

  set(layers, { silent = false, draw = true } = {}) {
    this.input.value = JSON.stringify(layers);
    if (draw) this.draw();
    if (!silent) this.onChange(layers);
  }

  /** The server's names for the network just computed; redraws the input choices when they changed. */
  setNames(names) {
    if (names.join("\n") === this.names.join("\n")) return this.ensureDrawn();
    this.names = names;
    this.draw();
  }

  /** Draw the rows unless they already show this network, these names and this model. */
  ensureDrawn() {
    if (this.drawnFor !== this.drawKey()) this.draw();
  }

  drawKey() {
    return JSON.stringify([this.input.value, this.names, this.model?.title ?? null, this.kinds.size]);
  }

  /** Show a model (read-only here: its layers are in the per-layer table) in place of the editor's rows. */
  showModel(model) {
    this.model = model;
    this.draw();
  }

  nameOf(i) {
    const layer = this.layers[i];
    return layer?.name || this.names[i + 1] || `layer ${i + 1}`;
  }

  draw() {
    this.drawnFor = this.drawKey();
    for (const b of document.querySelectorAll(".editor-add")) b.disabled = Boolean(this.model);
    if (this.model) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 6;
      td.className = "muted model-note";
      td.textContent = `${this.model.title}: ${this.model.layers.length} layers, listed in the table below ` +
        "(read-only here).";
      if (this.model.copy) {
        const copy = document.createElement("button");
        copy.type = "button";
        copy.id = "edit-copy";
        copy.textContent = "edit a copy";
        copy.setAttribute("aria-label", `edit a copy of ${this.model.title} in the editor`);
        copy.addEventListener("click", () => this.model.copy());
        td.append(" ", copy);
      } else {
        td.append(" Models of more than 50 layers are not edited here.");
      }
      tr.append(td);
      this.tbody.replaceChildren(tr);
      return;
    }
    this.tbody.replaceChildren(...this.layers.map((layer, i) => this.row(layer, i)));
  }

  row(layer, i) {
    const tr = document.createElement("tr");
    tr.dataset.layer = String(i + 1);
    const cell = (...children) => { const td = document.createElement("td"); td.append(...children); tr.append(td); return td; };
    const n = i + 1;
    cell(String(n));
    const name = box(layer.name || "", `layer ${n} name`, 10);
    name.placeholder = this.names[n] || "";
    name.addEventListener("change", () => this.update(i, { name: name.value.trim() || undefined }));
    cell(name);
    const op = document.createElement("select");
    op.dataset.nourl = "1";
    op.setAttribute("aria-label", `layer ${n} operation`);
    const known = this.kinds.has(layer.op);
    if (!known) op.append(new Option(String(layer.op), String(layer.op), true, true));
    for (const [o, kind] of this.kinds) {
      const opt = new Option(o, o, false, o === layer.op);
      opt.title = kind.meaning;
      op.append(opt);
    }
    op.title = this.kinds.get(layer.op)?.meaning || "";
    op.addEventListener("change", () => this.changeOp(i, op.value));
    cell(op);
    const kind = this.kinds.get(layer.op);
    cell(...(kind?.merge ? this.mergeInputs(layer, i) : [this.inputChoice(layer, i)]));
    const params = cell(...(kind ? this.params(layer, i, kind) : [text(JSON.stringify(layer))]));
    params.className = "params";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "remove";
    remove.setAttribute("aria-label", `remove layer ${n}`);
    remove.addEventListener("click", () => this.set(this.layers.filter((_, j) => j !== i)));
    cell(remove);
    return tr;
  }

  /** A select of what a layer reads: the layer before (the default), the input, or any earlier layer. */
  inputChoice(layer, i) {
    return inputChoice({
      names: ["input", ...this.layers.slice(0, i).map((_, j) => this.nameOf(j))], current: layer.input,
      before: i ? `the layer before (${this.nameOf(i - 1)})` : "the input", aria: `layer ${i + 1} reads`,
      onPick: (j) => this.update(i, { input: j === undefined ? undefined : this.pin(j) }),
    });
  }

  /** A merge's inputs: one checkbox per earlier entry. */
  mergeInputs(layer, i) {
    const names = ["input", ...this.layers.slice(0, i).map((_, j) => this.nameOf(j))];
    return [mergeInputs({
      names, chosen: Array.isArray(layer.inputs) ? layer.inputs : [], ariaOf: (nm) => `layer ${i + 1} reads ${nm}`,
      onPick: (js) => this.update(i, { inputs: js.map((j) => this.pin(j)) }),
    })];
  }

  /** Entry j's name, written into that layer so a reference to it survives later edits. */
  pin(j) {
    if (j === 0) return "input";
    const layers = this.layers;
    if (layers[j - 1].name) return layers[j - 1].name;
    // the server's name when it has computed this network; else one of the form op_index, which no default takes
    const nm = this.names[j] || `${layers[j - 1].op}_${j}`;
    layers[j - 1].name = nm;
    this.input.value = JSON.stringify(layers);
    return nm;
  }

  /** One labelled control per parameter of the kind (layer_fields.js): the server's default as placeholder, its
   * meaning and range as title. */
  params(layer, i, kind) {
    const out = kind.params.filter((p) => !WIRING.has(p.name)).map((p) =>
      paramControl(p, layer[p.name], `layer ${i + 1} ${p.name}: ${hintOf(p)}`, (v) => this.update(i, { [p.name]: v })));
    return out.length ? out : [text("(no parameters)")];
  }

  changeOp(i, op) {
    const layers = this.layers;
    const old = layers[i];
    const kind = this.kinds.get(op);
    const allowed = new Set(kind ? kind.params.map((p) => p.name) : []);
    const next = { op };
    for (const [k, v] of Object.entries(old)) if (k !== "op" && allowed.has(k)) next[k] = v;
    if (kind?.merge && !next.inputs) next.inputs = i ? [this.pin(i)] : ["input"];
    if (!kind?.merge && old.inputs && !next.input && old.inputs.length) next.input = old.inputs[0];
    layers[i] = next;
    this.set(layers);
  }

  update(i, patch) {
    const layers = this.layers;
    layers[i] = { ...layers[i], ...patch };
    for (const [k, v] of Object.entries(layers[i])) if (v === undefined) delete layers[i][k];
    this.set(layers);
  }

  /** A new layer (a 3×3 convolution to one channel, padded to keep the size), reading the one before. */
  add() {
    this.set([...this.layers, { op: "conv2d", out_channels: 1, kernel_size: 3, padding: 1 }]);
  }

  /** A merge of the last layer and the network's input: the shape of a residual block. */
  addMerge(op = "add") {
    const layers = this.layers;
    const last = layers.length ? this.pin(layers.length) : null;
    this.set([...this.layers, { op, inputs: last ? [last, "input"] : ["input"] }]);
  }
}

function text(t) {
  const span = document.createElement("span");
  span.className = "muted";
  span.textContent = t;
  return span;
}
