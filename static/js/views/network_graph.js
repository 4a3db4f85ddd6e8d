// The structure of a network as the server resolved it (/shapes gives every layer's name and the names it reads).
// The levels drawn and a unit's field on each are the server's (POST /api/v1/views/receptive-field).

/** {names, sources}: entry k's name (entry 0 is the input) and the entries it reads, from a /shapes answer. */
export function graphOf(shapes) {
  const names = ["input", ...shapes.layers.map((l) => l.name)];
  const index = new Map(names.map((n, i) => [n, i]));
  const sources = [[], ...shapes.layers.map((l) => (l.inputs || []).map((n) => index.get(n)))];
  return { names, sources };
}
