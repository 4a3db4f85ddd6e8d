// A clicked unit: POST /api/v1/pipeline/probe gives its exact value, its theoretical field (drawn on every map),
// its effective field by autograd (drawn on the image) and the hypercolumn at its pixel (plotted).
import { post } from "../api.js";
import { bars, formatNumber, whenPlotlyReady } from "../plot.js";
import { heatBitmap } from "./maps.js";

function base64Bytes(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function box(b) {
  return `rows ${formatNumber(b.y0)} … ${formatNumber(b.y1)}, columns ${formatNumber(b.x0)} … ${formatNumber(b.x1)}`;
}

export async function probeUnit({ body, unit, board, panel, text, plot, showHeat }) {
  const result = await post("/pipeline/probe", { ...body, unit, hypercolumn: "nearest" });
  const eff = result.effective;
  const heatMap = { ...eff.map, bytes: base64Bytes(eff.map.data) };
  board.setOverlay({ box: result.region, unit, heatMap, heat: showHeat ? heatBitmap(heatMap) : null });
  const u = result.unit;
  const where = u.layer === 0 ? "the image" : `layer ${u.layer - 1} (${u.name})`;
  const lines = [
    `${where}, channel ${u.channel}, unit (${u.y}, ${u.x}) = ${u.value.toPrecision(7)}, centred at input (${formatNumber(u.centre[0])}, ${formatNumber(u.centre[1])}).`,
    `Theoretical receptive field (red box): ${box(result.region)} — whole pixels inside the image: ${box(result.clipped)}.`,
    eff.bbox
      ? `Effective field by autograd (orange): ${eff.nonzero.toLocaleString()} pixels change this unit, within ${box(eff.bbox)}.`
      : "Effective field: no pixel changes this unit a little — a relu is off here (its input was negative), so the gradient is zero.",
  ];
  if (eff.bbox && (eff.bbox.y0 < result.clipped.y0 || eff.bbox.x0 < result.clipped.x0 || eff.bbox.y1 > result.clipped.y1 || eff.bbox.x1 > result.clipped.x1)) {
    lines.push("The effective field reaches past the theoretical one: batch_norm2d in train mode takes its statistics over the whole image, so every pixel moves every unit.");
  }
  const hc = result.hypercolumn;
  lines.push(`Hypercolumn at input pixel (${hc.pixel[0]}, ${hc.pixel[1]}): ${hc.length} features from ${hc.layers.length} maps, each map resized to the image (nearest) and read there.`);
  text.replaceChildren(...lines.map((l) => Object.assign(document.createElement("p"), { textContent: l })));
  panel.hidden = false;
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
  await whenPlotlyReady();
  await bars(plot, { values, groups, labels, title: "hypercolumn: every layer's features at this pixel" });
  document.body.dataset.probed = "true";
  return result;
}
