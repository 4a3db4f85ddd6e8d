// Read application/vnd.convscope.frames (server/frames.py) from a fetch response as it arrives:
// [4-byte big-endian header length][header JSON][header.bytes of payload], one frame per layer.
import { ApiError, retryAfter } from "../api.js";

export const FRAMES = "application/vnd.convscope.frames";

/** POST body to path with transport "stream"; onFrame(header, payload) for each frame. Abort with signal. */
export async function streamPipeline(body, { signal, onFrame }) {
  const response = await fetch("/api/v1/pipeline", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, transport: "stream" }), signal,
  });
  if (!response.ok || !(response.headers.get("content-type") || "").startsWith(FRAMES)) {
    let envelope;
    try { envelope = await response.json(); } catch { envelope = { error: `The server answered ${response.status}.` }; }
    throw new ApiError({ status: response.status, ...envelope }, retryAfter(response));
  }
  const reader = response.body.getReader();
  let buf = new Uint8Array(0);
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf = concat(buf, value);
    for (;;) {
      if (buf.length < 4) break;
      const n = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0, false);
      if (buf.length < 4 + n) break;
      const header = JSON.parse(decoder.decode(buf.subarray(4, 4 + n)));
      const end = 4 + n + header.bytes;
      if (buf.length < end) break;
      const payload = buf.slice(4 + n, end);
      buf = buf.slice(end);
      if (header.event === "error") throw new ApiError(header);
      onFrame(header, payload);
    }
  }
  if (buf.length) throw new Error("The stream of feature maps ended in the middle of a frame.");
}

function concat(a, b) {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The maps of a "maps" frame, each with its uint8 codes as `bytes`; f32 maps also keep their `values`. */
export function mapsOf(header, payload) {
  return header.maps.map((m) => {
    const data = payload.subarray(m.offset, m.offset + m.length);
    if (m.encoding !== "f32") return { ...m, bytes: data };
    const values = new Float32Array(data.buffer, data.byteOffset, data.length / 4);
    const span = m.max - m.min;
    const bytes = new Uint8Array(values.length);  // the same codes the server's raw encoding would send
    if (span > 0) for (let i = 0; i < values.length; i += 1) bytes[i] = Math.min(255, Math.max(0, ((values[i] - m.min) * 255) / span + 0.5));
    return { ...m, values, bytes };
  });
}
