// The layer editor: one card per layer, each card editing the layer's JSON object (the body the API takes),
// with the JSON itself editable below. Every kind, parameter, default, choice and new layer is the server's
// (GET /api/v1/layers: `params`, the lab's `lab` and `lab_new`); the server checks every value.
// Each layer reads the layer before, the image or any earlier layer; add / concat merge several.
// An edit to a value touches only its own card; a list set anew (a preset, the JSON) keeps every unchanged card.
import { inputChoice, mergeInputs, paramControl, show } from "../layer_fields.js";

const WIRING = new Set(["name", "input", "inputs"]);

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

/** The parameters as the lab takes them: its own first, then the registry's, each replaced by the lab's entry of
 * the same name (a pool's kernel_size 2); a parameter with one choice (a lab conv's bias) is not offered. */
function labParams(kind) {
  const lab = new Map(kind.lab.map((p) => [p.name, p]));
  const own = kind.lab.filter((p) => !kind.params.some((q) => q.name === p.name));
  return [...own, ...kind.params.map((p) => lab.get(p.name) || p)]
    .filter((p) => !WIRING.has(p.name) && !(p.choices && p.choices.length === 1));
}

export class LayerEditor {
  constructor({ list, json, onChange }) {
    this.list = list;
    this.json = json;
    this.onChange = onChange || (() => {});
    this.layers = [];
    this.kernels = [];
    this.kinds = new Map();
    this.names = [];  // the server's name of every entry (0 = "input") from the last run
    this.cards = [];  // [{key, li}] per layer, reused while the layer and what it may read are unchanged
  }

  setKernels(kernels) {
    this.kernels = kernels;
  }

  /** GET /api/v1/layers' entries. */
  setKinds(kinds) {
    this.kinds = new Map(kinds.map((k) => [k.op, { ...k, fields: labParams(k) }]));
  }

  get ops() {
    return [...this.kinds.keys()];
  }

  set(layers) {
    this.layers = structuredClone(layers);
    this.render();
  }

  /** The server's names for the network just run: cards whose choices of input change are drawn again. */
  setNames(names) {
    if (names.join("\n") === this.names.join("\n")) return;
    this.names = names;
    this.draw();
  }

  add(op) {
    const kind = this.kinds.get(op);
    const layer = structuredClone(kind.lab_new);
    const n = this.layers.length;
    if (kind.merge) layer.inputs = n ? [this.pin(n), "input"] : ["input", "input"];  // a residual block's shape
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
    this.draw();
    this.changed();
  }

  /** Entry j's name (0: the image), as the server named it, or the layer's own. */
  nameOf(j) {
    if (j === 0) return "input";
    return this.layers[j - 1].name || this.names[j] || `layer ${j - 1}`;
  }

  /** Entry j's name written into its layer, so that a reference to it survives later edits. */
  pin(j) {
    if (j === 0) return "input";
    const layer = this.layers[j - 1];
    if (!layer.name) {
      layer.name = this.names[j] || `${layer.op}_${j - 1}`;  // op_index: a form no default name takes
      if (this.cards[j - 1]) this.redraw(j - 1);
    }
    return layer.name;
  }

  /** What a card shows: its layer, its place, the names it may read and its own server name. */
  keyOf(i, names = this.layers.map((_, k) => this.nameOf(k + 1))) {
    return `${i}/${this.layers.length}|${JSON.stringify(this.layers[i])}|${names.slice(0, i).join(",")}|${this.names[i + 1] || ""}`;
  }

  /** Each card is kept while what it shows is the same; the others are made again. */
  draw() {
    const names = this.layers.map((_, i) => this.nameOf(i + 1));
    const cards = this.layers.map((layer, i) => {
      const key = this.keyOf(i, names);
      const old = this.cards[i];
      return old && old.key === key ? old : { key, li: this.card(layer, i) };
    });
    const before = this.cards;
    this.cards = cards;
    if (cards.length === before.length && before.every((c) => c.li.parentNode === this.list)) {
      // the same number of cards: only those made again change places (the others keep their DOM and focus)
      cards.forEach((c, i) => { if (c.li !== before[i].li) before[i].li.replaceWith(c.li); });
    } else this.list.replaceChildren(...cards.map((c) => c.li));
  }

  /** One card made again after an edit that changes what it shows (a kernel, a name). */
  redraw(i) {
    const li = this.card(this.layers[i], i);
    if (this.cards[i]) this.cards[i].li.replaceWith(li);
    this.cards[i] = { key: this.keyOf(i), li };
  }

  /** A value edited in its card: that card stays as it is (unless `again`), and only cards whose choices of
   * input follow from it are made again. */
  edit(i, name, value, { again = false } = {}) {
    const layer = this.layers[i];
    if (value === undefined) delete layer[name]; else layer[name] = value;
    if (again) this.redraw(i);
    else if (this.cards[i]) this.cards[i].key = this.keyOf(i);
    this.draw();
    this.changed();
  }

  card(layer, i) {
    const kind = this.kinds.get(layer.op);
    const li = el("li", { class: "lab-card", "data-op": layer.op, "data-layer": String(i) });
    const head = el("div", { class: "lab-card-head" }, el("strong", { text: `${i}: ${layer.op}` }));
    if (kind) head.title = kind.meaning;
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
    body.append(...this.wiring(layer, i, kind));
    if (!kind) body.append(el("span", { class: "muted", text: JSON.stringify(layer) }));  // for the server to explain
    for (const p of kind ? kind.fields : []) {
      if (p.type === "kernel") this.kernelFields(layer, body, li, p);
      else if (p.name === "from") body.append(this.poolChoice(layer, i, p));
      else body.append(this.field(layer, i, p));
    }
    li.append(head, body);
    return li;
  }

  /** name, and what the layer reads (or a merge's inputs). */
  wiring(layer, i, kind) {
    const name = el("input", { type: "text", size: 8, value: layer.name || "", spellcheck: "false",
      placeholder: this.names[i + 1] || "", "aria-label": `name of layer ${i}` });
    name.addEventListener("change", () => this.edit(i, "name", name.value.trim() || undefined));
    const names = Array.from({ length: i + 1 }, (_, j) => this.nameOf(j));
    const out = [el("label", {}, "name", name)];
    if (kind && kind.merge) {
      out.push(el("span", { class: "lab-merge" }, "inputs ", mergeInputs({
        names, chosen: Array.isArray(layer.inputs) ? layer.inputs : [], ariaOf: (nm) => `layer ${i} reads ${nm}`,
        onPick: (js) => this.edit(i, "inputs", js.map((j) => this.pin(j))),
      })));
    } else {
      out.push(labelled("reads", inputChoice({
        names, current: layer.input, before: i ? `the layer before (${this.nameOf(i)})` : "the image (input)",
        aria: `reads: layer ${i}'s input`, onPick: (j) => this.edit(i, "input", j === undefined ? undefined : this.pin(j)),
      })));
    }
    return out;
  }

  /** A parameter from the table: a value equal to its default is left out of the layer, as torch would take it. */
  field(layer, i, p) {
    const label = paramControl(p, layer[p.name], `${p.name} of layer ${i}`, (v) => {
      this.edit(i, p.name, v === p.default ? undefined : v);
    });
    if (p.type === "bool") label.classList.add("check");
    return label;
  }

  /** max_unpool2d's "from": an earlier max_pool2d, by index (the server's default: the latest not unpooled). */
  poolChoice(layer, i, p) {
    const pools = this.layers.map((l, k) => [l, k]).filter(([l, k]) => l.op === "max_pool2d" && k < i);
    const control = el("select", { "aria-label": `${p.name} of layer ${i}`, title: p.meaning },
      new Option("(the latest)", ""), ...pools.map(([, k]) => new Option(`layer ${k}`, String(k))));
    const current = layer[p.name];
    if (current !== undefined && current !== null && !pools.some(([, k]) => String(k) === String(current))) {
      control.append(new Option(show(current), "?"));
      control.value = "?";
    } else control.value = current === undefined || current === null ? "" : String(current);
    control.addEventListener("change", () => {
      if (control.value !== "?") this.edit(i, p.name, control.value === "" ? undefined : Number(control.value));
    });
    return labelled(p.name, control);
  }

  kernelFields(layer, body, card, p) {
    const i = this.layers.indexOf(layer);
    const k = layer.kernel ?? (layer.kernel_size !== undefined && p.bank_default ? p.bank_default : p.default);
    const name = typeof k === "string" ? k : k.custom ? "custom" : k.name;
    const pick = el("select", { "aria-label": `kernel of layer ${i}`, title: p.meaning },
      ...this.kernels.map((c) => new Option(c.title, c.name)), new Option("custom…", "custom"));
    pick.value = name;
    pick.addEventListener("change", () => {
      this.edit(i, "kernel", pick.value === "custom" ? { custom: this.weightsOf(layer) } : pick.value, { again: true });
    });
    body.append(labelled("kernel", pick));
    const spec = this.kernels.find((c) => c.name === name);
    if (spec && name !== "random") {
      for (const q of spec.params) {
        const given = typeof k === "object" && k.params ? k.params[q.name] : undefined;
        const input = el("input", { type: "number", value: given ?? q.default, step: q.type === "int" ? 1 : "any",
          min: q.min, max: q.max, "aria-label": `${q.name} of layer ${i}'s kernel` });
        input.addEventListener("change", () => {
          const params = typeof layer.kernel === "object" && layer.kernel.params ? layer.kernel.params : {};
          params[q.name] = Number(input.value);
          this.edit(i, "kernel", { name, params });
        });
        body.append(labelled(q.name, input));
      }
    }
    if (name === "custom") card.append(this.customGrid(layer, i));
  }

  weightsOf(layer) {
    const k = layer.kernel;
    if (k && k.custom) return k.custom;
    const name = typeof k === "string" ? k : k && k.name;
    const spec = this.kernels.find((c) => c.name === (name || "identity"));
    return structuredClone(spec ? spec.weights : this.kernels.find((c) => c.weights).weights);
  }

  customGrid(layer, i) {
    const rows = layer.kernel.custom;
    const wrap = el("div", { class: "lab-kernel-grid" });
    const size = (label, value, apply) => {
      const s = el("select", { "aria-label": `${label} of layer ${i}'s kernel` },
        ...Array.from({ length: 11 }, (_, n) => new Option(String(n + 1), String(n + 1))));
      s.value = String(value);
      s.addEventListener("change", () => { apply(Number(s.value)); this.redraw(i); this.changed(); });
      return labelled(label, s);
    };
    const resize = (h, w) => {
      layer.kernel.custom = Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => (rows[r] && rows[r][c]) ?? 0));
    };
    wrap.append(el("div", { class: "controls" }, size("rows", rows.length, (h) => resize(h, rows[0].length)),
      size("columns", rows[0].length, (w) => resize(rows.length, w))));
    const table = el("div", { class: "lab-kernel-cells", style: `grid-template-columns: repeat(${rows[0].length}, 3.6rem)` });
    rows.forEach((row, r) => row.forEach((v, c) => {
      const cell = el("input", { type: "number", step: "any", value: v, "aria-label": `row ${r} column ${c} of layer ${i}'s kernel` });
      cell.addEventListener("change", () => { rows[r][c] = Number(cell.value); this.changed(); });
      table.append(cell);
    }));
    wrap.append(table);
    return wrap;
  }
}
