// Reading the server's trace: lookups only. Inverting "output reads input" into "input feeds output"
// is a table built by walking the trace, not arithmetic about convolution.
import { formatNumber } from "./plot.js";

/** An input coordinate [c, y, x] (or 1-D [c, x]) as [c, y, x], with y = 0 for 1-D. */
export const rc = (coord) => (coord.length === 2 ? [coord[0], 0, coord[1]] : coord);
/** An output index [n, o, y, x] (or [n, o, x]) as [o, y, x]. */
export const outRc = (out) => (out.length === 3 ? [out[1], 0, out[2]] : out.slice(1));
export const k3 = (c, y, x) => `${c},${y},${x}`;

export class TraceIndex {
  constructor(trace) {
    this.trace = trace;
    this.cells = trace.cells;
    this.byOut = new Map();
    this.readers = new Map(); // input coordinate (padding included) -> output cell indices
    this.viaCopy = new Map(); // real cell -> [{idx, at}] outputs that read a padding copy of it
    this.padInfo = new Map(); // padding coordinate -> {value, source}
    this.cells.forEach((cell, idx) => {
      const [o, y, x] = outRc(cell.out);
      this.byOut.set(k3(o, y, x), idx);
      cell.reads.forEach((read, j) => {
        const at = rc(read);
        push(this.readers, k3(...at), idx);
        if (cell.padding?.[j]) {
          const source = cell.source?.[j] ? rc(cell.source[j]) : null;
          this.padInfo.set(k3(...at), { value: cell.inputs[j], source });
          if (source) push(this.viaCopy, k3(...source), { idx, at });
        }
      });
    });
  }

  /** The reads of cell idx as objects: {at: [c, y, x], pad, source, input, weight, term, tap}. */
  reads(idx) {
    const cell = this.cells[idx];
    return cell.reads.map((read, j) => ({
      at: rc(read), pad: Boolean(cell.padding?.[j]), source: cell.source?.[j] ? rc(cell.source[j]) : null,
      input: cell.inputs[j], weight: cell.weights[j], term: cell.terms[j], tap: cell.taps[j],
    }));
  }

  /** Output cells that read input cell (c, y, x), directly or through a padding copy. */
  feeds(c, y, x) {
    return { direct: this.readers.get(k3(c, y, x)) || [], copies: this.viaCopy.get(k3(c, y, x)) || [] };
  }

  outAt(o, y, x) {
    return this.byOut.get(k3(o, y, x));
  }
}

function push(map, key, value) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const f = formatNumber;
const paren = (v) => (v < 0 ? `(${f(v)})` : f(v));

/** The output cell's computation written out with the trace's numbers: the sum is the server's value. */
export function sumText(cell, { maxTerms = 64 } = {}) {
  const n = cell.reads.length;
  const more = n > maxTerms ? ` + … (${n - maxTerms} more)` : "";
  const take = (arr) => arr.slice(0, maxTerms);
  if (cell.argmax !== undefined) {
    const vals = take(cell.inputs).map((v) => (v === null ? "pad" : f(v)));
    const at = rc(cell.reads[cell.argmax]);
    return `max(${vals.join(", ")}${more}) = ${f(cell.value)}, at (${at[1]}, ${at[2]}) → index ${cell.index}`;
  }
  if (cell.divisor !== undefined) {
    return `(${take(cell.inputs).map(paren).join(" + ")}${more}) / ${cell.divisor} = ${f(cell.value)}`;
  }
  if (!n) return `${f(cell.value)} (nothing is routed here)`;
  if (cell.taps.every((t) => t === null)) {
    // interpolate and unpool: weights per read
    return `${take(cell.reads).map((_, j) => `${f(cell.weights[j])}×${paren(cell.inputs[j])}`).join(" + ")}${more} = ${f(cell.value)}`;
  }
  const terms = take(cell.reads).map((_, j) => `${paren(cell.inputs[j])}·${paren(cell.weights[j])}`);
  const bias = cell.bias !== undefined ? ` + bias ${paren(cell.bias)}` : "";
  return `${terms.join(" + ")}${more}${bias} = ${f(cell.value)}`;
}
