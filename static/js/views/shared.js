// Pieces the views share: channel figures, fitting grids to their panel, checking typed numbers,
// and writing tensors and calls as Python.
import { ApiError } from "../api.js";
import { PRESENTER_MAX_CELL } from "../grid.js";
import { groupColor } from "../palette.js";

/** A captioned figure for one channel; a group's Okabe–Ito colour on its edge when it has one. */
export function channelFigure(host, caption, group = null) {
  const fig = document.createElement("figure");
  fig.className = "channel";
  if (group !== null && group !== undefined) {
    fig.style.setProperty("--group", groupColor(group));
    fig.classList.add("grouped");
  }
  const body = document.createElement("div");
  const cap = document.createElement("figcaption");
  cap.textContent = group !== null && group !== undefined ? `${caption} · group ${group}` : caption;
  fig.append(body, cap);
  host.append(fig);
  return { fig, body, cap };
}

/**
 * Lay grids out side by side in host's width; presenter mode allows bigger cells, and the height they get is
 * scaled by the stage fit (static/js/stage.js) so the whole view fits the screen.
 */
export function fitGrids(grids, host, big, share = 1, maxPerRow = 2, width = hostWidth(host)) {
  if (!grids.length) return;
  const perRow = Math.max(1, Math.min(grids.length, maxPerRow));
  const rows = Math.ceil(grids.length / perRow);
  const tall = (big ? window.innerHeight * 0.7 : Math.min(window.innerHeight * 0.62, 600)) * share;
  const chrome = grids.length > 1 ? 26 : 4; // the gap, a group's coloured edge and its padding
  for (const g of grids) {
    g.opts.maxCell = big ? PRESENTER_MAX_CELL : 46;
    g.layout(width / perRow - chrome, tall / rows - 26);
  }
}

/** The width fitGrids shares out among a host's grids. */
export function hostWidth(host) {
  return Math.max(120, host.clientWidth || host.parentElement.clientWidth);
}

/**
 * fitGrids for each [grids, host, share, maxPerRow]: every host's width read first, then every grid sized, so the
 * page is laid out once, not once for each host read after the last one's grids were resized (a host's width is
 * its panel's share of the row, not its grids').
 */
export function fitAll(calls, big) {
  const widths = calls.map(([, host]) => hostWidth(host));
  calls.forEach(([grids, host, share, maxPerRow], i) => fitGrids(grids, host, big, share, maxPerRow, widths[i]));
}

/** Typed numbers must be whole and within the page's range; otherwise an error beside the control. */
export function checkInts(params, ranges) {
  for (const [name, [lo, hi]] of Object.entries(ranges)) {
    const text = String(params[name] ?? "").trim();
    const v = Number(text);
    if (text === "" || !Number.isInteger(v)) fail(name, `${name} must be a whole number, got "${text}".`);
    if (v < lo) fail(name, `${name} must be at least ${lo}, got ${v}.`);
    if (v > hi) fail(name, `${name} is ${v}; this page draws at most ${hi} (the API itself takes larger ones).`);
  }
}

export function fail(name, message) {
  throw new ApiError({ status: 0, error: message, errors: [{ loc: [name], msg: message }] });
}

/** A nested array as torch.tensor([...], dtype=torch.float64). */
export function tensorLiteral(t) {
  return `torch.tensor(${JSON.stringify(t).replaceAll(",", ", ")}, dtype=torch.float64)`;
}

function py(v) {
  if (Array.isArray(v)) return `(${v.map(py).join(", ")})`;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  if (v === null || v === undefined) return "None";
  return String(v);
}

/** fn(positional..., key=value...) with Python literals. */
export function pythonCall(fn, positional, kwargs) {
  const named = Object.entries(kwargs).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${py(v)}`);
  return `${fn}(${[...positional, ...named].join(", ")})`;
}

/** cell(r, c) for a plain 2-D array (values coloured by the grid's scale). */
export function planeCell(plane) {
  return (r, c) => ({ kind: "real", v: plane[r][c] });
}

/** The 2-D plane [n=0][c] of a rank-4 tensor. */
export const plane = (t, c = 0) => t[0][c];

/** Plain-text shape "a×b×c". */
export const dims = (shape) => shape.join("×");

/**
 * A kernel plane drawn with its dilation: tap (ky, kx) at (ky·dh, kx·dw), the cells between left as gaps.
 * Layout for drawing only; what the kernel reads comes from the trace. Returns setCells' arguments and a
 * function placing a tap in the drawing.
 */
export function dilatedKernel(taps, dh, dw) {
  return {
    rows: dh * (taps.length - 1) + 1, cols: dw * (taps[0].length - 1) + 1,
    cell: (y, x) => (y % dh || x % dw ? { kind: "gap" } : { kind: "real", v: taps[y / dh][x / dw] }),
    place: (ky, kx) => [ky * dh, kx * dw],
    tapAt: (y, x) => (y % dh || x % dw ? null : [y / dh, x / dw]),
  };
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Typed or pasted numbers as planes: a line (or `;`) per row, spaces or commas between numbers, a blank line
 * between planes; Python's [[1, 2], [3, 4]] pastes too. null when empty. Parsing only: a token that is not a
 * number is sent as typed, and ragged rows as they are, so the server's sentence says what is wrong.
 */
export function parsePlanes(text) {
  const t = String(text ?? "").replace(/\]\s*,?\s*\[/g, "\n").replace(/[[\]]/g, " ").trim();
  if (!t) return null;
  return t.split(/\n\s*\n/).map((block) => block.split(/[\n;]/).map((line) => line.trim()).filter(Boolean)
    .map((line) => line.split(/[\s,]+/).filter(Boolean).map((tok) => (NUMBER.test(tok) && Number.isFinite(Number(tok)) ? Number(tok) : tok))));
}

/** The one plane typed into a box on a page that draws one channel; more than one is refused with a sentence
 * (silently dropping the rest would draw numbers other than the slide's). null when the box is empty. */
export function onePlane(text, name) {
  const planes = parsePlanes(text);
  if (planes && planes.length > 1) {
    fail(name, `This page draws one channel, but ${planes.length} planes were typed (a blank line starts a new plane): ` +
      "type one plane, or use /conv for several channels.");
  }
  return planes?.[0] ?? null;
}

/** Consecutive runs of `size` items: typed kernel slices grouped into out-channels. */
export function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A colour range centred on zero that holds every value of a (nested) tensor: a kernel's weights keep their
 * sign readable (zero in the middle of the scale) whatever numbers a slide types. */
export function symmetricRange(tensor) {
  const m = Math.max(0, ...[tensor].flat(Infinity).map((v) => Math.abs(v)));
  return { zmin: -(m || 1), zmax: m || 1 };
}
