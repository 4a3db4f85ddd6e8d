// The lab's per-layer summary, as torchinfo prints a model: name, op, output shape, parameters and MACs from
// POST /shapes, the receptive field r and jump j from POST /receptive-field, joined by layer name; the totals
// are the server's. The network posted is the one the pipeline ran (its start frame), so the table describes
// the maps on the page. The CSV holds the same numbers, one line per layer.
import { post } from "../api.js";
import { count, csvField, downloadText, pair } from "../views/layer_table.js";

export class Summary {
  constructor({ table, line, csvButton, onError }) {
    Object.assign(this, { table, line, onError });
    this.key = "";
    this.rows = [];
    this.label = "network";
    csvButton.addEventListener("click", () => downloadText(this.csv(), `convscope-lab-summary-${this.label}.csv`));
  }

  /** network: {input_shape, layers} as the pipeline's start frame gave it; label names the CSV file. */
  async show(network, label) {
    const key = JSON.stringify(network);
    if (key === this.key) return;
    this.key = key;
    this.label = label;
    document.body.dataset.summary = "loading";
    try {
      const [shapes, rf] = await Promise.all([post("/shapes", network), post("/receptive-field", network)]);
      if (this.key !== key) return;  // a newer network is being summarised
      const fields = new Map(rf.layers.map((e) => [e.name, e]));
      this.rows = shapes.layers.map((s, k) => {
        const f = fields.get(s.name);
        return { k, name: s.name, op: s.op, inputs: s.inputs || [], shape: s.output_shape, params: s.params,
          macs: s.macs, r: f.r, j: f.j };
      });
      this.totals = { params: shapes.total_params, macs: shapes.total_macs, input: network.input_shape };
      this.render();
      document.body.dataset.summary = "ready";
    } catch (err) {
      if (this.key !== key) return;
      this.key = "";
      document.body.dataset.summary = "error";
      this.onError(`The summary could not be made: ${err.message}`);
    }
  }

  render() {
    const cell = (tag, text, cls) => {
      const td = document.createElement(tag);
      td.textContent = String(text);
      if (cls) td.className = cls;
      return td;
    };
    const body = this.table.tBodies[0];
    body.replaceChildren(...this.rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.name = r.name;
      tr.append(cell("td", r.k), cell("td", r.name, "lab-sum-name"), cell("td", r.op), cell("td", r.shape.join("×")),
        cell("td", count(r.params), "num"), cell("td", count(r.macs), "num"), cell("td", pair(r.r), "num"),
        cell("td", pair(r.j), "num"));
      tr.children[1].style.setProperty("--depth", String(Math.min(3, r.name.split(".").length - 1)));
      return tr;
    }));
    const t = this.totals;
    const foot = document.createElement("tr");
    foot.append(cell("th", "total"), cell("th", `${this.rows.length} layers`), cell("th", ""),
      cell("th", `input ${t.input.join("×")}`), cell("th", count(t.params), "num lab-total-params"),
      cell("th", count(t.macs), "num lab-total-macs"), cell("th", ""), cell("th", ""));
    this.table.tFoot.replaceChildren(foot);
    this.line.textContent = `${this.rows.length} layers · ${count(t.params)} parameters · ${count(t.macs)} multiply-accumulates`;
  }

  /** One line per layer, the server's numbers as sent. */
  csv() {
    const head = ["index", "name", "op", "inputs", "output_shape", "params", "macs", "r_h", "r_w", "j_h", "j_w"];
    const lines = [head, ...this.rows.map((r) => [r.k, r.name, r.op, r.inputs.join(" "), r.shape.join("x"), r.params,
      r.macs, ...r.r, ...r.j])];
    return lines.map((line) => line.map(csvField).join(",")).join("\r\n") + "\r\n";
  }
}
