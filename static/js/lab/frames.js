// Read application/vnd.convscope.frames (server/frames.py) from a fetch response as it arrives:
// [4-byte big-endian header length][header JSON][header.bytes of payload], one frame per layer.
import { ApiError } from "../api.js";

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
    throw new ApiError({ status: response.status, ...envelope });
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

/** The maps of a "maps" frame, each with its bytes (a view into the payload). */
export function mapsOf(header, payload) {
  return header.maps.map((m) => ({ ...m, bytes: payload.subarray(m.offset, m.offset + m.length) }));
}
