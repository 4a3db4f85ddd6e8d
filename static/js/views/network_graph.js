// The structure of a network as the server resolved it (/shapes gives every layer's name and the names it
// reads), and the part of it between a layer and a unit. That part, posted to /receptive-field with the
// layer's output as its input, gives the unit's field in that layer's units: through every path between
// them, and the arithmetic stays the server's.

/** {names, sources}: entry k's name (entry 0 is the input) and the entries it reads, from a /shapes answer. */
export function graphOf(shapes) {
  const names = ["input", ...shapes.layers.map((l) => l.name)];
  const index = new Map(names.map((n, i) => [n, i]));
  const sources = [[], ...shapes.layers.map((l) => (l.inputs || []).map((n) => index.get(n)))];
  return { names, sources };
}

/** The entries whose output reaches entry k, k included. */
export function ancestors(graph, k) {
  const seen = new Set([k]);
  const todo = [k];
  while (todo.length) {
    for (const s of graph.sources[todo.pop()]) {
      if (!seen.has(s)) { seen.add(s); todo.push(s); }
    }
  }
  return seen;
}

/** The entries worth drawing: the input, and every layer that changes n, j, r or start or merges paths
 * (the server's numbers compared with those of what it reads), up to the first flatten or linear. */
export function levelsOf(rf, graph) {
  const same = (a, b) => ["n", "j", "r", "start"].every((key) => a[key].every((v, i) => v === b[key][i]));
  const out = [0];
  for (let k = 1; k < drawable(rf); k++) {
    const from = graph.sources[k];
    if (from.length !== 1 || !same(rf.layers[k], rf.layers[from[0]])) out.push(k);
  }
  return out;
}

/** Entries before this index have units on a grid (flatten and linear end it). */
export function drawable(rf) {
  const end = rf.layers.findIndex((e) => e.op === "flatten" || e.op === "linear");
  return end < 0 ? rf.layers.length : end;
}

/**
 * The layers on the paths from entry k up to entry top, each named as the server named it, reading
 * "input" where it read entry k. A merge left with one input on those paths passes it through unchanged
 * (a dropout, which moves no unit); channel counts are left for the server to infer.
 */
export function between(graph, layers, k, top) {
  const above = ancestors(graph, top);
  const from = new Set([k]);
  for (let i = k + 1; i <= top; i++) if (graph.sources[i].some((s) => from.has(s))) from.add(i);
  const ref = (s) => (s === k ? "input" : graph.names[s]);
  const out = [];
  for (let i = k + 1; i <= top; i++) {
    if (!from.has(i) || !above.has(i)) continue;
    const reads = graph.sources[i].filter((s) => from.has(s));
    // eslint-disable-next-line no-unused-vars
    const { in_channels, num_features, in_features, input, inputs, ...rest } = layers[i - 1];
    const name = graph.names[i];
    if (Array.isArray(inputs) && reads.length >= 2) out.push({ ...rest, name, inputs: reads.map(ref) });
    else if (Array.isArray(inputs)) out.push({ op: "dropout", name, input: ref(reads[0]) });
    else out.push({ ...rest, name, input: ref(reads[0]) });
  }
  return out;
}

/** The merge a unit of entry k sits on: k itself, or the first merge below it along one-input layers; -1 if none. */
export function nearestMerge(graph, k) {
  let e = k;
  while (e > 0 && graph.sources[e].length === 1) e = graph.sources[e][0];
  return e > 0 ? e : -1;
}

/** The layers feeding entry top, with merge m reading only its input number i: the field through that path. */
export function throughInput(graph, layers, top, m, i) {
  const from = graph.sources[m][i];
  return between(graph, layers, 0, top).map((l) => (l.name === graph.names[m]
    ? { op: "dropout", name: l.name, input: from === 0 ? "input" : graph.names[from] } : l));
}
