// The pixels a unit reads through reflect, replicate or circular padding: the server's `wrapped` ranges
// (per axis, half-open, outside `clipped`) turned into the boxes a drawing outlines. Used by the lab's probe
// and by /receptive-field.

/** Every row part (clipped's rows or a wrapped range) by every column part, except clipped itself; as boxes in
 * input pixels. Empty when the padding copies nothing. */
export function wrappedBoxes(clipped, wrapped) {
  if (!wrapped || (!wrapped.y.length && !wrapped.x.length)) return [];
  const rows = [[clipped.y0, clipped.y1, false], ...wrapped.y.map(([a, b]) => [a, b, true])];
  const cols = [[clipped.x0, clipped.x1, false], ...wrapped.x.map(([a, b]) => [a, b, true])];
  const out = [];
  for (const [y0, y1, wy] of rows) for (const [x0, x1, wx] of cols) if (wy || wx) out.push({ y0, y1, x0, x1 });
  return out;
}

/** "a … b and c … d": half-open ranges as a sentence. */
export function ranges(list) {
  return list.map(([a, b]) => `${a} … ${b}`).join(" and ");
}

/** The sentence that names the wrapped parts: rows, columns or both. */
export function wrappedText(wrapped) {
  if (!wrapped) return "";
  const { y, x } = wrapped;
  return `${y.length ? `rows ${ranges(y)}` : ""}${y.length && x.length ? " and " : ""}${x.length ? `columns ${ranges(x)}` : ""}`;
}
