// The layer editor: one card per layer, each card editing the layer's JSON object (the body the API takes),
// with the JSON itself editable below. The server checks every value; the cards only describe the fields.
import { intOrPair } from "../urlstate.js";

export const PRESETS = {
  "edges: Sobel x, relu, max pool 2": [
    { op: "conv2d", kernel: "sobel_x", mode: "shared", padding: 1 }, { op: "relu" }, { op: "max_pool2d", kernel_size: 2 }],
  "blur: Gaussian 5×5, σ = 2": [{ op: "conv2d", kernel: { name: "gaussian", params: { size: 5, sigma: 2 } }, padding: 2 }],
  "conv 3→16 random, relu, max pool 2": [
    { op: "conv2d", kernel: "random", seed: 0, out_channels: 16, padding: 1 }, { op: "relu" },
    { op: "max_pool2d", kernel_size: 2 }],
  "dilation 1, 2, 4 (fields 3, 7, 15)": [
    { op: "conv2d", kernel: "box", mode: "shared", padding: 1 },
    { op: "conv2d", kernel: "box", dilation: 2, padding: 2 }, { op: "conv2d", kernel: "box", dilation: 4, padding: 4 }],
  "stride 2, no padding": [{ op: "conv2d", kernel: "sobel_y", mode: "shared", stride: 2 }],
  "grouped: 6 filters in 3 groups": [{ op: "conv2d", kernel: "random", seed: 3, out_channels: 6, groups: 3, padding: 1 }],
  "batch norm (train) then relu": [
    { op: "conv2d", kernel: "random", seed: 1, out_channels: 4, padding: 1 }, { op: "batch_norm2d", training: true },
    { op: "relu" }],
  "pool, then unpool with its indices": [{ op: "max_pool2d", kernel_size: 4 }, { op: "max_unpool2d", from: 0 }],
  "encoder-decoder": [
    { op: "conv2d", kernel: "random", seed: 2, out_channels: 8, padding: 1 }, { op: "relu" },
    { op: "max_pool2d", kernel_size: 2 }, { op: "conv_transpose2d", kernel: "random", seed: 4, out_channels: 3, kernel_size: 2, stride: 2 }],
  "upsample ×2, bilinear": [{ op: "interpolate", scale_factor: 2, mode: "bilinear" }],
};

const PAIR = "int-or-pair";
const CONV = [
  ["stride", PAIR, 1], ["padding", "padding", 0], ["dilation", PAIR, 1],
];
const FIELDS = {
  conv2d: [...CONV, ["padding_mode", ["zeros", "reflect", "replicate", "circular"], "zeros"]],
  conv_transpose2d: [...CONV, ["output_padding", PAIR, 0]],
  relu: [],
  batch_norm2d: [["training", "bool", true], ["eps", "number", 1e-5], ["momentum", "number", 0.1]],
  max_pool2d: [["kernel_size", PAIR, 2], ["stride", PAIR, null], ["padding", PAIR, 0], ["dilation", PAIR, 1],
    ["ceil_mode", "bool", false]],
  avg_pool2d: [["kernel_size", PAIR, 2], ["stride", PAIR, null], ["padding", PAIR, 0], ["ceil_mode", "bool", false],
    ["count_include_pad", "bool", true]],
  max_unpool2d: [["from", "pool", null]],
  interpolate: [["scale_factor", "number", 2], ["mode", ["nearest", "nearest-exact", "bilinear", "bicubic"], "nearest"],
    ["align_corners", "bool", false]],
};
export const OPS = Object.keys(FIELDS);
const NEW_LAYER = {
  conv2d: { op: "conv2d", kernel: "sobel_x", padding: 1 }, conv_transpose2d: { op: "conv_transpose2d", kernel: "box", stride: 2 },
  relu: { op: "relu" }, batch_norm2d: { op: "batch_norm2d", training: true }, max_pool2d: { op: "max_pool2d", kernel_size: 2 },
  avg_pool2d: { op: "avg_pool2d", kernel_size: 2 }, max_unpool2d: { op: "max_unpool2d" },
  interpolate: { op: "interpolate", scale_factor: 2 },
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

function labelled(text, control) {
  return el("label", {}, text, control);
}

export class LayerEditor {
  constructor({ list, json, onChange }) {
    this.list = list;
    this.json = json;
    this.onChange = onChange || (() => {});
    this.layers = [];
    this.kernels = [];
  }

  setKernels(kernels) {
    this.kernels = kernels;
  }

  set(layers) {
    this.layers = structuredClone(layers);
    this.render();
  }

  add(op) {
    const layer = structuredClone(NEW_LAYER[op]);
    if (op === "max_unpool2d") {
      const pools = this.layers.map((l, i) => [l, i]).filter(([l]) => l.op === "max_pool2d");
      if (pools.length) layer.from = pools[pools.length - 1][1];
    }
    this.layers.push(layer);
    this.render();
  }

  applyJson() {
    const parsed = JSON.parse(this.json.value);
    if (!Array.isArray(parsed)) throw new Error("The layers must be a JSON list of layer objects.");
    this.set(parsed);
  }

  changed() {
    this.json.value = JSON.stringify(this.layers, null, 1);
    this.onChange(this.layers);
  }

  render() {
    this.list.replaceChildren(...this.layers.map((layer, i) => this.card(layer, i)));
    this.changed();
  }

  card(layer, i) {
    const li = el("li", { class: "lab-card", "data-op": layer.op });
    const head = el("div", { class: "lab-card-head" }, el("strong", { text: `${i}: ${layer.op}` }));
    const tools = [["↑", "move up", -1], ["↓", "move down", 1]].map(([t, name, d]) => {
      const b = el("button", { type: "button", "aria-label": `${name} layer ${i}`, text: t });
      b.disabled = i + d < 0 || i + d >= this.layers.length;
      b.addEventListener("click", () => {
        [this.layers[i], this.layers[i + d]] = [this.layers[i + d], this.layers[i]];
        this.render();
      });
      return b;
    });
    const remove = el("button", { type: "button", "aria-label": `remove layer ${i}`, text: "×" });
    remove.addEventListener("click", () => { this.layers.splice(i, 1); this.render(); });
    head.append(...tools, remove);
    const body = el("div", { class: "controls lab-card-body" });
    if (layer.op === "conv2d" || layer.op === "conv_transpose2d") this.kernelFields(layer, body, li);
    for (const [name, kind, def] of FIELDS[layer.op]) body.append(this.field(layer, i, name, kind, def));
    li.append(head, body);
    return li;
  }

  field(layer, i, name, kind, def) {
    const set = (value) => {
      if (value === undefined || value === null || value === "") delete layer[name];
      else layer[name] = value;
      this.changed();
    };
    const current = layer[name] ?? def;
    let control;
    if (kind === "bool") {
      control = el("input", { type: "checkbox", "aria-label": `layer ${i} ${name}` });
      control.checked = Boolean(current);
      control.addEventListener("change", () => set(control.checked === def ? null : control.checked));
      return el("label", { class: "check" }, control, name);
    }
    if (Array.isArray(kind)) {
      control = el("select", { "aria-label": `layer ${i} ${name}` }, ...kind.map((v) => new Option(v, v)));
      control.value = current;
      control.addEventListener("change", () => set(control.value));
    } else if (kind === "pool") {
      const pools = this.layers.map((l, k) => [l, k]).filter(([l, k]) => l.op === "max_pool2d" && k < i);
      control = el("select", { "aria-label": `layer ${i} ${name}` }, new Option("(choose)", ""),
        ...pools.map(([, k]) => new Option(`layer ${k}`, String(k))));
      control.value = current === null ? "" : String(current);
      control.addEventListener("change", () => set(control.value === "" ? null : Number(control.value)));
    } else {
      const text = current === null ? "" : Array.isArray(current) ? current.join(",") : String(current);
      control = el("input", { type: "text", size: 6, value: text, spellcheck: "false", "aria-label": `layer ${i} ${name}` });
      control.addEventListener("change", () => {
        const t = control.value.trim();
        if (kind === "number") set(t === "" ? null : Number.isFinite(Number(t)) ? Number(t) : t);
        else set(intOrPair(t, null));
      });
    }
    return labelled(name, control);
  }

  kernelFields(layer, body, card) {
    const i = this.layers.indexOf(layer);
    const k = layer.kernel ?? "identity";
    const name = typeof k === "string" ? k : k.custom ? "custom" : k.name;
    const pick = el("select", { "aria-label": `layer ${i} kernel` },
      ...this.kernels.map((c) => new Option(c.title, c.name)), new Option("custom…", "custom"));
    pick.value = name;
    pick.addEventListener("change", () => {
      if (pick.value === "custom") layer.kernel = { custom: this.weightsOf(layer) };
      else layer.kernel = pick.value;
      this.render();
    });
    body.append(labelled("kernel", pick));
    const spec = this.kernels.find((c) => c.name === name);
    if (spec && name !== "random") {
      for (const p of spec.params) {
        const given = typeof k === "object" && k.params ? k.params[p.name] : undefined;
        const input = el("input", { type: "number", value: given ?? p.default, step: p.type === "int" ? 1 : "any",
          min: p.min, max: p.max, "aria-label": `layer ${i} kernel ${p.name}` });
        input.addEventListener("change", () => {
          const params = typeof layer.kernel === "object" && layer.kernel.params ? layer.kernel.params : {};
          params[p.name] = Number(input.value);
          layer.kernel = { name, params };
          this.changed();
        });
        body.append(labelled(p.name, input));
      }
    }
    if (name === "custom") card.append(this.customGrid(layer, i));
    const bank = layer.out_channels !== undefined;
    const mode = el("select", { "aria-label": `layer ${i} applied` }, new Option("per channel (depthwise)", "per_channel"),
      new Option("shared (one map)", "shared"), new Option("bank of filters", "bank"));
    mode.value = bank ? "bank" : layer.mode || "per_channel";
    mode.addEventListener("change", () => {
      delete layer.mode; delete layer.out_channels; delete layer.groups;
      if (mode.value === "bank") layer.out_channels = 8;
      else if (mode.value === "shared") layer.mode = "shared";
      this.render();
    });
    body.append(labelled("applied", mode));
    const numbers = [];
    if (bank) numbers.push(["out_channels", 8], ["groups", 1]);
    if (name === "random") numbers.push(["seed", 0], ["kernel_size", 3]);
    for (const [field, def] of numbers) {
      const input = el("input", { type: "number", value: layer[field] ?? def, "aria-label": `layer ${i} ${field}` });
      input.addEventListener("change", () => { layer[field] = Number(input.value); this.changed(); });
      body.append(labelled(field, input));
    }
    const flip = el("input", { type: "checkbox", "aria-label": `layer ${i} true convolution` });
    flip.checked = Boolean(layer.true_convolution);
    flip.addEventListener("change", () => {
      if (flip.checked) layer.true_convolution = true; else delete layer.true_convolution;
      this.changed();
    });
    body.append(el("label", { class: "check" }, flip, "true convolution"));
  }

  weightsOf(layer) {
    const k = layer.kernel;
    if (k && k.custom) return k.custom;
    const name = typeof k === "string" ? k : k && k.name;
    const spec = this.kernels.find((c) => c.name === name);
    return spec ? structuredClone(spec.weights) : [[0, 0, 0], [0, 1, 0], [0, 0, 0]];
  }

  customGrid(layer, i) {
    const rows = layer.kernel.custom;
    const wrap = el("div", { class: "lab-kernel-grid" });
    const size = (label, value, apply) => {
      const s = el("select", { "aria-label": `layer ${i} kernel ${label}` },
        ...Array.from({ length: 11 }, (_, n) => new Option(String(n + 1), String(n + 1))));
      s.value = String(value);
      s.addEventListener("change", () => { apply(Number(s.value)); this.render(); });
      return labelled(label, s);
    };
    const resize = (h, w) => {
      layer.kernel.custom = Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => (rows[r] && rows[r][c]) ?? 0));
    };
    wrap.append(el("div", { class: "controls" }, size("rows", rows.length, (h) => resize(h, rows[0].length)),
      size("columns", rows[0].length, (w) => resize(rows.length, w))));
    const table = el("div", { class: "lab-kernel-cells", style: `grid-template-columns: repeat(${rows[0].length}, 3.6rem)` });
    rows.forEach((row, r) => row.forEach((v, c) => {
      const cell = el("input", { type: "number", step: "any", value: v, "aria-label": `layer ${i} kernel row ${r} column ${c}` });
      cell.addEventListener("change", () => { rows[r][c] = Number(cell.value); this.changed(); });
      table.append(cell);
    }));
    wrap.append(table);
    return wrap;
  }
}
