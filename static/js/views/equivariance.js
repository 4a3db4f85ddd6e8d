// /equivariance: the server shifts, convolves and measures; this module draws the difference map and the table.
import { post } from "../api.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { setupView } from "../view.js";
import { checkInts, planeCell } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = {};

async function load(p) {
  checkInts(p, { dy: [-16, 16], dx: [-16, 16], stride: [1, 4] });
  const body = { sample: p.sample, size: 64, dy: Number(p.dy), dx: Number(p.dx), stride: Number(p.stride) };
  S.res = await post("/equivariance", body);
  S.body = body;
  const r = S.res;
  const rows = [["conv, interior", r.conv.interior_max_error], ["conv, whole map (borders)", r.conv.border_max_error],
    ...r.strided.map((s) => [`stride ${r.stride}, shift (${s.shift.join(", ")})${s.multiple_of_stride ? " — a multiple" : ""}`, s.interior_max_error]),
    ["max pool 2×2: mean relative change, 1-pixel shift", r.max_pool.relative_change_1px],
    ["… the input's own relative change", r.max_pool.input_relative_change_1px],
    ["rotation by 90°, interior", r.rotation_90.interior_max_error], ["scaling by 0.5, interior", r.scale_0_5.interior_max_error]];
  const tb = $("eq-table").querySelector("tbody");
  tb.innerHTML = "";
  for (const [what, v] of rows) {
    const tr = document.createElement("tr");
    for (const t of [what, v === 0 ? "0 (exact)" : f(v)]) { const td = document.createElement("td"); td.textContent = t; tr.append(td); }
    tb.append(tr);
  }
  $("pytorch-code").textContent = pytorch(body);
  draw();
  return 1;
}

function draw() {
  const d = S.res.conv.difference;
  $("g-diff").innerHTML = "";
  const g = new CellGrid($("g-diff"), { label: "difference map", colorscale: "Cividis", describe: (r, c) => `(${r}, ${c}) = ${f(d[r][c])}` });
  g.setCells({ rows: d.length, cols: d[0].length, cell: planeCell(d) });
  g.opts.minCell = 2;
  g.layout(Math.max(140, g.el.parentElement.clientWidth - 4), 480);
  $("sum").textContent = `shift (${S.res.shift.join(", ")}): zero in the interior, non-zero only in the border band (3×3 Sobel kernel, zero padding)`;
}

function pytorch(b) {
  return ["import torch", "import torch.nn.functional as F", "",
    "def shift(x, dy, dx):  # zeros come in, nothing wraps around",
    "    out = torch.zeros_like(x); h, w = x.shape[-2:]",
    "    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = x[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]",
    "    return out", "",
    "x = torch.rand(1, 1, 64, 64, dtype=torch.float64)  # or the sample image",
    "w = torch.tensor([[[[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]]], dtype=torch.float64)",
    `d = (F.conv2d(shift(x, ${b.dy}, ${b.dx}), w, padding=1) - shift(F.conv2d(x, w, padding=1), ${b.dy}, ${b.dx})).abs()[0, 0]`,
    `print(d[1 + ${Math.abs(b.dy)}:63 - ${Math.abs(b.dy)}, 1 + ${Math.abs(b.dx)}:63 - ${Math.abs(b.dx)}].max())  # 0: equivariant in the interior`,
    "print(d.max())  # not 0: the border band"].join("\n");
}

S.view = setupView({ name: "equivariance", names: {}, load, frame: () => {}, label: () => "measured",
  json: () => S.res, resize: () => S.res && draw() });
