// A clicked unit: POST /api/v1/pipeline/probe gives its exact value, its theoretical field (drawn on every map),
// its effective field by autograd (drawn on the image) and the hypercolumn at its pixel (plotted).
import { post } from "../api.js";
import { bars, formatCount, formatNumber } from "../plot.js";
import { heatBitmap, place } from "./maps.js";
import { wrappedBoxes, wrappedText } from "../reach.js";

function base64Bytes(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function box(b) {
  return `rows ${formatNumber(b.y0)} … ${formatNumber(b.y1)}, columns ${formatNumber(b.x0)} … ${formatNumber(b.x1)}`;
}

let plotlyLoading = null;

/** Plotly.js only when the hypercolumn chart is first shown: its hashed same-origin URL is in a meta tag. */
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = document.querySelector('meta[name="plotly-src"]').content;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { plotlyLoading = null; reject(new Error("Plotly.js could not be loaded.")); };
      document.head.append(script);
    });
  }
  return plotlyLoading;
}

/** The effective field's bounding box, cut from the input image and magnified, with the heat over it. */
function drawZoom(canvas, board, eff, heat, heatMap) {
  const b = eff.bbox;
  canvas.hidden = !b;
  if (!b) return;
  const input = board.figures.find((f) => f.entry === 0);
  const pad = Math.max(2, 0.15 * Math.max(b.x1 - b.x0, b.y1 - b.y0));
  const x0 = Math.max(0, b.x0 - pad);
  const y0 = Math.max(0, b.y0 - pad);
  const side = Math.max(b.x1 - b.x0, b.y1 - b.y0) + 2 * pad;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = canvas.height = Math.round(160 * dpr);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  const s = canvas.width / side;
  ctx.setTransform(s, 0, 0, s, -x0 * s, -y0 * s);
  ctx.fillStyle = "#eef0f3";
  ctx.fillRect(x0, y0, side, side);
  place(ctx, input.image, input.block.field, input.block.maps[0]);
  if (heat) { ctx.globalAlpha = 0.75; place(ctx, heat, input.block.field, heatMap); ctx.globalAlpha = 1; }
  ctx.lineWidth = 2 / s;
  ctx.strokeStyle = "#e4572e";
  ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
}

export async function probeUnit({ body, unit, board, panel, text, plot, zoom, showHeat, place }) {
  const result = await post("/pipeline/probe", { ...body, unit, hypercolumn: "nearest" });
  const eff = result.effective;
  const heatMap = { ...eff.map, bytes: base64Bytes(eff.map.data) };
  const heat = heatBitmap(heatMap);
  const wrapped = wrappedBoxes(result.clipped, result.wrapped);
  board.setOverlay({ box: result.region, wrapped, unit, heatMap, heat: showHeat ? heat : null });
  const u = result.unit;
  const where = u.layer === 0 ? "the image" : `layer ${u.layer - 1} (${u.name})`;
  const lines = [
    `${where}, channel ${u.channel}, unit (${u.y}, ${u.x}) = ${u.value.toPrecision(7)}, centred at input (${formatNumber(u.centre[0])}, ${formatNumber(u.centre[1])}).`,
    `Theoretical receptive field (red box): ${box(result.region)} — whole pixels inside the image: ${box(result.clipped)}.`,
    ...(wrapped.length ? [`Read through the padding (reflect, replicate or circular copies pixels from elsewhere; dashed, ${wrapped.length} parts):` +
      ` ${wrappedText(result.wrapped)}, with the field's own rows and columns.`] : []),
    eff.bbox
      ? `Effective field by autograd (orange): ${formatCount(eff.nonzero)} pixels change this unit, within ${box(eff.bbox)}.`
      : "Effective field: no pixel changes this unit a little — a relu is off here (its input was negative), so the gradient is zero.",
  ];
  const reach = [result.clipped, ...wrapped];
  const within = (b) => reach.some((r) => b.y0 >= r.y0 && b.x0 >= r.x0 && b.y1 <= r.y1 && b.x1 <= r.x1);
  const env = { y0: Math.min(...reach.map((r) => r.y0)), x0: Math.min(...reach.map((r) => r.x0)),
    y1: Math.max(...reach.map((r) => r.y1)), x1: Math.max(...reach.map((r) => r.x1)) };
  if (eff.bbox && !within(eff.bbox) && !(wrapped.length && eff.bbox.y0 >= env.y0 && eff.bbox.x0 >= env.x0 && eff.bbox.y1 <= env.y1 && eff.bbox.x1 <= env.x1)) {
    lines.push("The effective field reaches past the theoretical one: batch_norm2d in train mode takes its statistics over the whole image, so every pixel moves every unit.");
  }
  const hc = result.hypercolumn;
  lines.push(`Hypercolumn at input pixel (${hc.pixel[0]}, ${hc.pixel[1]}): ${hc.length} features from ${hc.layers.length} maps, each map resized to the image (nearest) and read there.`);
  text.replaceChildren(...lines.map((l) => Object.assign(document.createElement("p"), { textContent: l })));
  drawZoom(zoom, board, eff, heat, heatMap);
  place();
  const values = [];
  const groups = [];
  const labels = [];
  for (const layer of hc.layers) {
    layer.values.forEach((v, c) => {
      values.push(v);
      groups.push(layer.entry === 0 ? "image" : `${layer.entry - 1}: ${layer.name}`);
      labels.push(`${layer.name} ch ${c}`);
    });
  }
  await loadPlotly();
  await bars(plot, { values, groups, labels, title: "hypercolumn: every layer's features at this pixel" });
  document.body.dataset.probed = "true";
  return result;
}
