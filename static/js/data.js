// Example tensors for the views: small integers from a seeded generator, so a link's seed reproduces them.
// Nothing here is convolution arithmetic: it makes inputs, and flips a kernel for the true-convolution toggle.

/** mulberry32: a tiny, good-enough seeded PRNG. */
export function rng(seed) {
  let a = (Number(seed) >>> 0) || 1;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A nested array of the given shape with integers in [lo, hi]. */
export function randomTensor(shape, lo, hi, next) {
  if (shape.length === 0) return lo + Math.floor(next() * (hi - lo + 1));
  return Array.from({ length: shape[0] }, () => randomTensor(shape.slice(1), lo, hi, next));
}

/** Flip the last `dims` axes: the kernel a true convolution applies as a cross-correlation. */
export function flipSpatial(tensor, dims) {
  const depth = rank(tensor);
  const flip = (t, level) => {
    if (!Array.isArray(t)) return t;
    const inner = t.map((x) => flip(x, level + 1));
    return level >= depth - dims ? inner.reverse() : inner;
  };
  return flip(tensor, 0);
}

export function rank(t) {
  let r = 0;
  for (let x = t; Array.isArray(x); x = x[0]) r++;
  return r;
}

/** How many numbers a nested array holds (a count, for "weights: 72"). */
export function count(t) {
  return Array.isArray(t) ? t.reduce((n, x) => n + count(x), 0) : 1;
}

/** The lecture's 4×4 max-pool example (course notes; README). */
export const LECTURE_POOL = [[1, 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]];
