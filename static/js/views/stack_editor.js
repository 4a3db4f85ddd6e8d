// The layer-stack editor of /receptive-field: one row per layer, in the /shapes form (torch.nn constructor
// arguments). Its value is the JSON list in the hidden input named "stack", so the URL carries it.
const EDITABLE = ["conv2d", "max_pool2d", "avg_pool2d", "conv_transpose2d"];
const FIELDS = [["kernel_size", "k"], ["stride", "s"], ["padding", "p"], ["dilation", "d"]];
const DEFAULTS = { kernel_size: 3, stride: 1, padding: 0, dilation: 1 };

export class StackEditor {
  /** table: the <tbody> to fill; input: the hidden input holding the JSON; onChange(layers). */
  constructor(tbody, input, onChange) {
    Object.assign(this, { tbody, input, onChange });
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

  draw() {
    const rows = this.layers.map((layer, i) => this.row(layer, i));
    this.tbody.replaceChildren(...rows);
  }

  row(layer, i) {
    const tr = document.createElement("tr");
    const cell = (child) => { const td = document.createElement("td"); if (child) td.append(child); tr.append(td); return td; };
    cell().textContent = String(i + 1);
    const name = document.createElement("input");
    name.type = "text"; name.value = layer.name || ""; name.size = 8; name.dataset.nourl = "1";
    name.setAttribute("aria-label", `layer ${i + 1} name`);
    name.addEventListener("change", () => this.update(i, { name: name.value || undefined }));
    cell(name);
    if (EDITABLE.includes(layer.op)) {
      const op = document.createElement("select");
      op.dataset.nourl = "1";
      op.setAttribute("aria-label", `layer ${i + 1} operation`);
      for (const o of EDITABLE) op.append(new Option(o, o, false, o === layer.op));
      op.addEventListener("change", () => this.update(i, { op: op.value }));
      cell(op);
      for (const [field, short] of FIELDS) {
        if (field === "dilation" && layer.op === "avg_pool2d") { cell().textContent = "—"; continue; }
        const box = document.createElement("input");
        box.type = "text"; box.size = 4; box.dataset.nourl = "1";
        box.value = JSON.stringify(layer[field] ?? (field === "stride" && layer.op.includes("pool") ? layer.kernel_size : DEFAULTS[field]));
        box.setAttribute("aria-label", `layer ${i + 1} ${field} (${short})`);
        box.addEventListener("change", () => this.update(i, { [field]: parse(box.value) }));
        cell(box);
      }
    } else {
      cell().textContent = layer.op;
      const rest = Object.fromEntries(Object.entries(layer).filter(([k]) => !["op", "name"].includes(k)));
      const td = cell();
      td.colSpan = 4;
      td.className = "muted";
      td.textContent = Object.keys(rest).length ? JSON.stringify(rest) : "(no parameters)";
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "remove";
    remove.setAttribute("aria-label", `remove layer ${i + 1}`);
    remove.addEventListener("click", () => this.set(this.layers.filter((_, j) => j !== i)));
    cell(remove);
    return tr;
  }

  update(i, patch) {
    const layers = this.layers;
    layers[i] = { ...layers[i], ...patch };
    if (layers[i].op === "avg_pool2d") delete layers[i].dilation;
    if (layers[i].op.startsWith("conv") && layers[i].out_channels === undefined) layers[i].out_channels = 1;
    this.set(layers);
  }

  add() {
    this.set([...this.layers, { op: "conv2d", out_channels: 1, kernel_size: 3, stride: 1, padding: 1, dilation: 1 }]);
  }
}

/** "3" -> 3, "3,1" or "[3,1]" -> [3, 1]; anything else as typed, for the API to explain. */
function parse(text) {
  const t = text.trim().replace(/^\[|\]$/g, "");
  if (/^\d+$/.test(t)) return Number(t);
  if (/^\d+\s*,\s*\d+$/.test(t)) return t.split(",").map(Number);
  return text;
}
