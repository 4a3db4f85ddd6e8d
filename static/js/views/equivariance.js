// /equivariance: the server shifts, convolves, pools, rotates, scales and measures, with a difference map for
// each; this module steps through the shifts from (0, 0) to (dy, dx) (one frame per shift) and draws the maps.
import { ApiError, post, retryAfter } from "../api.js";
import { announce } from "../controls.js";
import { CellGrid } from "../grid.js";
import { formatNumber as f } from "../plot.js";
import { setupView } from "../view.js";
import { checkInts, fitAll, tensorLiteral } from "./shared.js";

const $ = (id) => document.getElementById(id);
const S = { grids: {} };
const SIZE = 64;
const shown = (v) => (v === null ? "no interior (the map is too small)" : v === 0 ? "0 (exact)" : f(v));

const UPLOAD = "upload:"; // the sample select's value for an uploaded image: upload:<sha256>, kept in the link

/** Make (or find) the select's option for an uploaded image id, so a link to it restores it. */
function uploadOption(id, name = "your image") {
  const select = document.querySelector("select[name=sample]");
  let option = [...select.options].find((o) => o.value === UPLOAD + id);
  if (!option) { option = new Option(name, UPLOAD + id); select.append(option); }
  return option;
}

async function uploadFile(file) {
  const note = $("eq-file-note");
  note.textContent = "Uploading…";
  const form = new FormData();
  form.append("file", file, file.name || "image.png");
  const response = await fetch("/api/v1/images", { method: "POST", body: form });
  let data;
  try { data = await response.json(); } catch { data = { error: `The server answered ${response.status}.` }; }
  if (!response.ok || data.ok === false) {
    note.textContent = new ApiError({ status: response.status, ...data }, retryAfter(response)).message;
    return;
  }
  note.textContent = "";
  const select = document.querySelector("select[name=sample]");
  select.value = uploadOption(data.id, `your image: ${file.name || "upload"}`).value;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

async function load(p) {
  checkInts(p, { dy: [-16, 16], dx: [-16, 16], stride: [1, 4] });
  const mine = p.sample.startsWith(UPLOAD);
  const body = { ...(mine ? { image: { id: p.sample.slice(UPLOAD.length) } } : { sample: p.sample }), size: SIZE,
    dy: Number(p.dy), dx: Number(p.dx), stride: Number(p.stride) };
  S.res = await post("/equivariance", body);
  S.body = body;
  const r = S.res;
  const rows = [["conv, interior", r.conv.interior_max_error], ["conv, whole map (borders)", r.conv.border_max_error],
    ...r.strided.map((s) => [`stride ${r.stride}, shift (${s.shift.join(", ")})${s.multiple_of_stride ? " — a multiple" : ""}`, s.interior_max_error]),
    ["max pool 2×2: mean relative change, 1-pixel shift", r.max_pool.relative_change_1px],
    ["… the input's own relative change", r.max_pool.input_relative_change_1px],
    ["… pooled cells that do not change at all", r.max_pool.unchanged_fraction_1px],
    ["rotation by 90°, interior", r.rotation_90.interior_max_error], ["scaling by 0.5, interior", r.scale_0_5.interior_max_error]];
  const tb = $("eq-table").querySelector("tbody");
  tb.innerHTML = "";
  for (const [what, v] of rows) {
    const tr = document.createElement("tr");
    for (const t of [what, shown(v)]) { const td = document.createElement("td"); td.textContent = t; tr.append(td); }
    tb.append(tr);
  }
  $("pytorch-code").textContent = pytorch(body, r);
  build();
  return r.frames.length;
}

/** A difference map's grid; zmax shared by every frame it shows, so one colour means one size of error. */
function grid(id, label, plane, zmax) {
  const g = new CellGrid($(`g-${id}`), { label, colorscale: "Cividis", minCell: 1, axes: false,
    describe: (r, c) => `|difference| at (${r}, ${c}) = ${f(S.planes[id][r][c])}` });
  g.zmax = Math.max(zmax, 1e-12);
  S.grids[id] = g;
  setPlane(id, plane);
}

function setPlane(id, plane) {
  S.planes ||= {};
  S.planes[id] = plane;
  S.grids[id].setCells({ rows: plane.length, cols: plane[0].length, zmin: 0, zmax: S.grids[id].zmax,
    cell: (r, c) => ({ kind: "real", v: plane[r][c] }) });
}

function build() {
  const r = S.res;
  S.grids = {};
  const top = (key) => Math.max(...r.frames.map((fr) => Math.max(...fr[key].difference.flat())));
  grid("diff", "conv difference map", r.frames[0].conv.difference, top("conv"));
  grid("stride", "strided conv difference map", r.frames[0].strided.difference, top("strided"));
  for (const [id, part] of [["pool", r.max_pool], ["rot", r.rotation_90], ["scale", r.scale_0_5]]) {
    grid(id, `${id} difference map`, part.difference, Math.max(...part.difference.flat()));
  }
  $("t-pool").textContent = `|maxpool₂(x) − maxpool₂(shift(x, 0, 1))| · ${r.max_pool.difference.length}² · ` +
    `${f(100 * r.max_pool.unchanged_fraction_1px)} % of the interior unchanged`;
  $("t-rot").textContent = `|conv(rot90(x)) − rot90(conv(x))| · interior max ${f(r.rotation_90.interior_max_error)}`;
  $("t-scale").textContent = `|conv(half(x)) − half(conv(x))| · interior max ${f(r.scale_0_5.interior_max_error)}`;
  layout();
}

function layout() {
  const big = document.body.classList.contains("presenter");
  fitAll(Object.entries(S.grids).map(([id, g]) => [[g], $(`g-${id}`), 0.55, 1]), big);
  for (const [id, g] of Object.entries(S.grids)) g.drawn = S.planes[id];
  drawFrame(Math.min(S.frame ?? 0, S.res.frames.length - 1));
}

function drawFrame(k) {
  S.frame = k;
  const r = S.res;
  const fr = r.frames[k];
  // a map already on its grid (the first frame, just laid out) is not painted again
  for (const [id, plane] of [["diff", fr.conv.difference], ["stride", fr.strided.difference]]) {
    if (S.planes[id] === plane && S.grids[id].drawn === plane) continue;
    setPlane(id, plane);
    S.grids[id].draw();
    S.grids[id].drawn = plane;
  }
  const [sy, sx] = fr.shift;
  const st = fr.strided;
  $("t-diff").textContent = `|conv(shift(x)) − shift(conv(x))| · shift (${sy}, ${sx})`;
  $("t-stride").textContent = `stride ${r.stride}: |conv(shift(x)) − shift(conv(x), ${st.output_shift.join(", ")})| · ` +
    (st.multiple_of_stride ? "a multiple of the stride" : "not a multiple of the stride");
  const text = `shift (${sy}, ${sx}): conv interior error ${shown(fr.conv.interior_max_error)}, whole map ` +
    `${shown(fr.conv.border_max_error)} (the border band); stride ${r.stride}: interior error ` +
    `${shown(st.interior_max_error)}${st.multiple_of_stride ? " — the shift is a multiple of the stride" :
      " — the shift falls between the stride's samples"}`;
  $("sum").textContent = text;
  return text;
}

function pytorch(b, r) {
  const h = SIZE;
  return ["import torch", "import torch.nn.functional as F", "",
    "def shift(x, dy, dx):  # zeros come in, nothing wraps around",
    "    out = torch.zeros_like(x); h, w = x.shape[-2:]",
    "    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = x[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]",
    "    return out", "",
    "w = torch.tensor([[[[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]]], dtype=torch.float64)  # Sobel",
    "conv = lambda x, s=1: F.conv2d(x, w, padding=1, stride=s)",
    `x = ${tensorLiteral(r.image)}[None, None]  # ${b.image ? "your image" : `the sample "${b.sample}"`}, grey, ${h}×${h}`, "",
    `d = (conv(shift(x, ${b.dy}, ${b.dx})) - shift(conv(x), ${b.dy}, ${b.dx})).abs()[0, 0]`,
    `print(float(d[1 + ${Math.abs(b.dy)}:${h - 1} - ${Math.abs(b.dy)}, 1 + ${Math.abs(b.dx)}:${h - 1} - ${Math.abs(b.dx)}].max()))  # 0: equivariant in the interior`,
    "print(float(d.max()))  # not 0: the border band", "",
    `s = ${b.stride}`,
    `for sy, sx in ${JSON.stringify(r.strided.map((e) => e.shift)).replaceAll("[", "(").replaceAll("]", ")")}:`,
    "    q = (int(sy / s), int(sx / s))  # the output shift, rounded toward zero",
    "    e = (conv(shift(x, sy, sx), s) - shift(conv(x, s), *q)).abs()[0, 0]",
    "    m = 2 + max(abs(q[0]), abs(q[1]))",
    "    print(float(e[m:e.shape[0] - m, m:e.shape[1] - m].max()))  # 0 only for multiples of s", "",
    "pooled = F.max_pool2d(x, 2)",
    "p = (pooled - F.max_pool2d(shift(x, 0, 1), 2)).abs()[0, 0, 1:-1, 1:-1]",
    "print(float(p.mean() / pooled.abs().mean()))  # the pooled map's relative change under a 1-pixel shift",
    "rot = lambda t: torch.rot90(t, 1, (-2, -1))",
    "print(float((conv(rot(x)) - rot(conv(x))).abs()[0, 0, 1:-1, 1:-1].max()))  # rotation: not equivariant",
    "half = lambda t: F.interpolate(t, scale_factor=0.5, mode=\"bilinear\", align_corners=False)",
    "print(float((conv(half(x)) - half(conv(x))).abs()[0, 0, 1:-1, 1:-1].max()))  # scaling: not equivariant",
  ].join("\n");
}

const linked = new URLSearchParams(window.location.search).get("sample") || "";
if (linked.startsWith(UPLOAD)) uploadOption(linked.slice(UPLOAD.length)); // the server says 404 if it let it go
$("eq-file").addEventListener("change", (e) => { if (e.target.files[0]) uploadFile(e.target.files[0]); });

S.view = setupView({
  name: "equivariance",
  names: {},
  load,
  frame: (k) => announce(drawFrame(k)),
  label: (k) => `shift (${S.res.frames[k].shift.join(", ")})`,
  json: () => S.res,
  resize: () => S.res && layout(),
});
