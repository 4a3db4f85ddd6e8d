// Draw uint8-quantised feature maps (EncodedMap.as_dict) on canvases and decode values on hover.
// value = min + q/255·(max − min) at the display pixel: decoding, not computing.

export function decodeBytes(map) {
  const bin = atob(map.data);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

export function valueAt(map, q) {
  return map.min + (q / 255) * (map.max - map.min);
}

// RGB input: three maps drawn as one colour image; anything else: one gray canvas per channel.
export function drawMap(map, bytes) {
  const canvas = document.createElement("canvas");
  canvas.width = map.width;
  canvas.height = map.height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(map.width, map.height);
  for (let i = 0, j = 0; i < bytes.length; i += 1, j += 4) {
    img.data[j] = img.data[j + 1] = img.data[j + 2] = bytes[i];
    img.data[j + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

export function drawRGB(maps, decoded) {
  const [m] = maps;
  const canvas = document.createElement("canvas");
  canvas.width = m.width;
  canvas.height = m.height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(m.width, m.height);
  const n = m.width * m.height;
  for (let c = 0; c < 3; c += 1) {
    // Raw quantised bytes stretch each channel to its own range; undo that for a true-colour view.
    const { min, max } = maps[c];
    const q = decoded[c];
    for (let i = 0; i < n; i += 1) img.data[i * 4 + c] = Math.round(255 * (min + (q[i] / 255) * (max - min)));
  }
  for (let i = 0; i < n; i += 1) img.data[i * 4 + 3] = 255;
  ctx.putImageData(img, 0, 0);
  return canvas;
}

// The full-resolution pixel under a mouse event, and the display pixel it falls in.
export function pixelUnder(event, canvas, map) {
  const rect = canvas.getBoundingClientRect();
  const dx = Math.min(map.width - 1, Math.max(0, Math.floor(((event.clientX - rect.left) / rect.width) * map.width)));
  const dy = Math.min(map.height - 1, Math.max(0, Math.floor(((event.clientY - rect.top) / rect.height) * map.height)));
  return { dx, dy, x: dx * map.factor, y: dy * map.factor };
}
