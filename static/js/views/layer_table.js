// The per-layer table of /receptive-field, as torchinfo prints a model: every layer's n, j, r, start (from
// /receptive-field), what it reads, its output shape, parameters and MACs (from /shapes). Layers named by
// module path (layer1.0.conv1) are grouped by stage (layer1) and block (layer1.0); a block folds to one row,
// and a deep network starts with its blocks folded. The CSV holds the same numbers as the server sent them.
import { formatCount, formatNumber as f } from "../plot.js";
import { download } from "../exporter.js";

const FOLD_ABOVE = 40; // layers: a network this long starts with its blocks folded
const AXES = ["n", "j", "r", "start"];

export const pair = (v) => (v[0] === v[1] ? f(v[0]) : `${f(v[0])}, ${f(v[1])}`);
export const count = formatCount;
const dims = (shape) => shape.join("×");

export class LayerTable {
  /** tbody: the table's body; onPick(k): a row of a layer with units on a grid was chosen. */
  constructor(tbody, onPick) {
    Object.assign(this, { tbody, onPick });
    this.key = null;
    this.folded = new Set();
    this.rows = [];
  }

  /** rf and shapes: the server's answers for one network; pickable: entries below this index have a grid. */
  render({ rf, shapes, inputShape, unit, pickable }) {
    this.rows = rf.layers.map((e, k) => {
      const s = k ? shapes.layers[k - 1] : null;
      return { k, name: e.name, op: e.op, inputs: s ? s.inputs : [], shape: s ? s.output_shape : inputShape,
        params: s ? s.params : 0, macs: s ? s.macs : 0, n: e.n, j: e.j, r: e.r, start: e.start };
    });
    const key = this.rows.map((r) => r.name).join("\n");
    const groups = groupsOf(this.rows);
    if (key !== this.key) {
      this.key = key;
      this.folded = new Set(this.rows.length > FOLD_ABOVE ? groups.filter((g) => g.depth === 2).map((g) => g.id) : []);
    }
    for (const g of groups) if (g.first <= unit.layer && unit.layer <= g.last) this.folded.delete(g.id);
    this.groups = groups;
    const starts = new Map();
    for (const g of groups) starts.set(g.first, [...(starts.get(g.first) || []), g]);
    const out = [];
    for (const row of this.rows) {
      for (const g of starts.get(row.k) || []) out.push(this.groupRow(g));
      out.push(this.layerRow(row, unit, pickable));
    }
    this.tbody.replaceChildren(...out);
    this.applyFolds();
  }

  layerRow(row, unit, pickable) {
    const tr = document.createElement("tr");
    tr.className = `layer${row.k === unit.layer ? " selected" : ""}`;
    tr.dataset.k = String(row.k);
    tr.dataset.name = row.name;
    const reads = row.inputs.join(" + ");
    for (const text of [row.k, row.name, row.op, pair(row.n), pair(row.j), pair(row.r), pair(row.start), reads,
      dims(row.shape), count(row.params), count(row.macs)]) {
      const td = document.createElement("td");
      td.textContent = String(text);
      tr.append(td);
    }
    tr.children[1].style.setProperty("--depth", String(Math.min(2, row.name.split(".").length - 1)));
    tr.children[1].classList.add("layer-name");
    if (row.k < pickable) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = row.name;
      b.setAttribute("aria-label", `pick the centre unit of ${row.name}`);
      b.addEventListener("click", (e) => { e.stopPropagation(); this.pick(row); });
      tr.children[1].replaceChildren(b);
      tr.classList.add("pickable");
      tr.addEventListener("click", () => this.pick(row));
    }
    return tr;
  }

  pick(row) {
    this.onPick(row.k, Math.floor(row.n[0] / 2), Math.floor(row.n[1] / 2));
  }

  /** A stage's or block's row: its layers' count, parameters and MACs added up, its last layer's numbers. */
  groupRow(g) {
    const tr = document.createElement("tr");
    tr.className = `group depth-${g.depth}`;
    tr.dataset.group = g.id;
    const layers = this.rows.slice(g.first, g.last + 1);
    const last = layers[layers.length - 1];
    const sum = (key) => layers.reduce((a, r) => a + r[key], 0);
    const cells = ["", "", `${layers.length} layers`, pair(last.n), pair(last.j), pair(last.r), pair(last.start), "",
      dims(last.shape), count(sum("params")), count(sum("macs"))];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const b = document.createElement("button");
    b.type = "button";
    b.className = "fold";
    b.dataset.group = g.id;
    b.textContent = g.id;
    b.addEventListener("click", () => this.toggle(g.id));
    tr.children[1].replaceChildren(b);
    tr.children[1].classList.add("layer-name");
    tr.children[1].style.setProperty("--depth", String(g.depth - 1));
    return tr;
  }

  toggle(id, fold = !this.folded.has(id)) {
    if (fold) this.folded.add(id);
    else this.folded.delete(id);
    this.applyFolds();
  }

  foldAll(fold) {
    for (const g of this.groups || []) this.toggle(g.id, fold && g.depth === 2);
  }

  applyFolds() {
    const hidden = (k) => this.groups.some((g) => this.folded.has(g.id) && g.first <= k && k <= g.last);
    const hiddenGroup = (g) => this.groups.some((o) => o !== g && this.folded.has(o.id) && o.depth < g.depth &&
      o.first <= g.first && g.last <= o.last);
    for (const tr of this.tbody.children) {
      if (tr.dataset.group) {
        const g = this.groups.find((o) => o.id === tr.dataset.group);
        const open = !this.folded.has(g.id);
        tr.hidden = hiddenGroup(g);
        const b = tr.querySelector("button.fold");
        b.setAttribute("aria-expanded", String(open));
        b.setAttribute("aria-label", `${open ? "fold" : "unfold"} ${g.id} (${g.last - g.first + 1} layers)`);
        b.classList.toggle("open", open);
      } else {
        tr.hidden = hidden(Number(tr.dataset.k));
      }
    }
  }

  /** Every layer's numbers as the server sent them, one line per entry (entry 0 is the input). */
  csv() {
    const head = ["index", "name", "op", "inputs", "output_shape", "params", "macs",
      ...AXES.flatMap((a) => [`${a}_h`, `${a}_w`])];
    const lines = [head, ...this.rows.map((r) => [r.k, r.name, r.op, r.inputs.join(" "), r.shape.join("x"),
      r.params, r.macs, ...AXES.flatMap((a) => r[a])])];
    return lines.map((line) => line.map(csvField).join(",")).join("\r\n") + "\r\n";
  }
}

export function csvField(v) {
  const t = String(v);
  return /[",\r\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
}

/** Contiguous runs of layers sharing a module path's first part (a stage) or first two parts (a block). */
function groupsOf(rows) {
  const groups = [];
  for (const depth of [1, 2]) {
    let open = null;
    for (const row of rows) {
      const parts = row.name.split(".");
      const id = parts.length > depth ? parts.slice(0, depth).join(".") : null;
      if (open && id === open.id) { open.last = row.k; continue; }
      if (open) groups.push(open);
      open = id ? { id, depth, first: row.k, last: row.k } : null;
    }
    if (open) groups.push(open);
  }
  // a group of one layer, or a block that is its whole stage, is no group worth a row
  const useful = groups.filter((g) => g.last > g.first &&
    !(g.depth === 2 && groups.some((o) => o.depth === 1 && o.first === g.first && o.last === g.last)));
  return useful.sort((a, b) => a.first - b.first || a.depth - b.depth);
}

/** Save text as a file, from the page (no server round trip: the numbers are already the server's). */
export function downloadText(text, filename, type = "text/csv") {
  download(new Blob([text], { type }), filename);
}
