// The network editor of /receptive-field: one row per layer in the /shapes form (torch.nn constructor
// arguments). Its operations and their parameters (names, defaults, ranges, meanings) are GET /api/v1/layers,
// the server's one table: a box left empty means the default the server shows in it. Each layer reads the
// layer before it, the input or any earlier layer; add / concat merges read several. Its value is the JSON
// list in the hidden input named "stack", so the URL carries the network.
import { get } from "../api.js";
import { apiHas } from "../view.js";

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

  set(layers, { silent = false } = {}) {
    this.input.value = JSON.stringify(layers);
    this.draw();
    if (!silent) this.onChange(layers);
  }

  /** The server's names for the network just computed; redraws the input choices when they changed. */
  setNames(names) {
    if (names.join("\n") === this.names.join("\n")) return;
    this.names = names;
    this.draw();
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
    const sel = document.createElement("select");
    sel.dataset.nourl = "1";
    sel.setAttribute("aria-label", `layer ${i + 1} reads`);
    sel.append(new Option(i ? `the layer before (${this.nameOf(i - 1)})` : "the input", ""));
    const names = ["input", ...this.layers.slice(0, i).map((_, j) => this.nameOf(j))];
    names.forEach((nm, j) => sel.append(new Option(nm, String(j), false, layer.input === nm)));
    if (layer.input !== undefined && !names.includes(layer.input)) {
      sel.append(new Option(String(layer.input), "?", true, true)); // as typed in the address: the server explains it
    }
    sel.addEventListener("change", () => {
      if (sel.value === "?") return;
      this.update(i, { input: sel.value === "" ? undefined : this.pin(Number(sel.value)) });
    });
    return sel;
  }

  /** A merge's inputs: one checkbox per earlier entry. */
  mergeInputs(layer, i) {
    const chosen = new Set(Array.isArray(layer.inputs) ? layer.inputs : []);
    const names = ["input", ...this.layers.slice(0, i).map((_, j) => this.nameOf(j))];
    const wrap = document.createElement("span");
    wrap.className = "merge-inputs";
    names.forEach((nm, j) => {
      const label = document.createElement("label");
      const tick = document.createElement("input");
      tick.type = "checkbox";
      tick.dataset.nourl = "1";
      tick.checked = chosen.has(nm);
      tick.setAttribute("aria-label", `layer ${i + 1} reads ${nm}`);
      tick.addEventListener("change", () => {
        const layers = this.layers;
        const before = Array.isArray(layers[i].inputs) ? layers[i].inputs : [];
        const picked = names.filter((m, k) => (k === j ? tick.checked : before.includes(m)));
        this.update(i, { inputs: picked.map((m) => this.pin(names.indexOf(m))) });
      });
      label.append(tick, nm);
      wrap.append(label);
    });
    return [wrap];
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

  /** One labelled box per parameter of the kind: the server's default as placeholder, its meaning and range as title. */
  params(layer, i, kind) {
    const out = [];
    for (const p of kind.params) {
      if (WIRING.has(p.name)) continue;
      const label = document.createElement("label");
      label.className = "param";
      const hint = `${p.meaning}${p.range ? `; from ${p.range[0]} to ${p.range[1]}` : ""}` +
        `${p.default !== null && p.default !== undefined ? `; default ${JSON.stringify(p.default)}` : ""}`;
      label.title = hint;
      let control;
      const aria = `layer ${i + 1} ${p.name}: ${hint}`;
      if (p.choices) {
        control = document.createElement("select");
        control.dataset.nourl = "1";
        if (p.default === null || p.default === undefined) control.append(new Option("—", ""));
        const value = String(layer[p.name] ?? p.default ?? "");
        if (value !== "" && !p.choices.map(String).includes(value)) control.append(new Option(value, value, true, true)); // for the server to explain
        for (const c of p.choices) control.append(new Option(String(c), String(c), false, value === String(c)));
        control.addEventListener("change", () => this.update(i, { [p.name]: control.value === "" ? undefined : control.value }));
      } else if (p.type === "bool") {
        control = document.createElement("input");
        control.type = "checkbox";
        control.dataset.nourl = "1";
        control.checked = Boolean(layer[p.name] ?? p.default);
        control.addEventListener("change", () => this.update(i, { [p.name]: control.checked }));
      } else {
        control = box(layer[p.name] === undefined ? "" : show(layer[p.name]), aria, 4);
        control.placeholder = p.default === null || p.default === undefined ? "" : show(p.default);
        control.addEventListener("change", () => this.update(i, { [p.name]: parse(control.value) }));
      }
      control.setAttribute("aria-label", aria);
      label.append(p.name, control);
      out.push(label);
    }
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

function box(value, aria, size) {
  const el = document.createElement("input");
  el.type = "text";
  el.size = size;
  el.value = value;
  el.dataset.nourl = "1";
  el.spellcheck = false;
  el.setAttribute("aria-label", aria);
  return el;
}

function text(t) {
  const span = document.createElement("span");
  span.className = "muted";
  span.textContent = t;
  return span;
}

const show = (v) => (Array.isArray(v) ? v.join(", ") : typeof v === "string" ? v : JSON.stringify(v));

/** "3" -> 3, "0.5" -> 0.5, "3, 1" or "[3, 1]" -> [3, 1], "true" -> true, "" -> the default; else as typed,
 * for the API to explain. */
function parse(value) {
  const t = value.trim().replace(/^\[|\]$/g, "").trim();
  if (t === "") return undefined;
  const num = /^-?\d+(\.\d+)?(e-?\d+)?$/i;
  if (num.test(t)) return Number(t);
  const parts = t.split(/\s*[,×x]\s*/);
  if (parts.length === 2 && parts.every((s) => num.test(s))) return parts.map(Number);
  if (t === "true" || t === "false") return t === "true";
  return value.trim();
}
