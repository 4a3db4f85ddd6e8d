"""The input pixels a unit can read through copying padding: `wrapped`, beside `region` and `clipped`.

With zeros padding a unit reads nothing outside its field centre ± r/2, so the whole pixels of it inside the
image (`clipped`) hold every pixel with a nonzero gradient. A conv2d with padding_mode reflect, replicate or
circular fills its padding with copies of pixels from elsewhere in its input: the field then also reaches the
mirrored cells (reflect: pixel −q reads pixel q; replicate: the edge pixel; circular: the far edge, wrapped
around). `wrapped` lists those extra pixels, per axis, as half-open ranges outside `clipped`:

    "wrapped": {"y": [[y0, y1], ...], "x": [[x0, x1], ...]}        both [] when no padding copies pixels

A pixel (y, x) with a nonzero gradient has y in [clipped.y0, clipped.y1) or one of the y ranges, and x in
[clipped.x0, clipped.x1) or one of the x ranges: the parts are per axis, and every combination of a row
range and a column range (the corners included) may be read.

How: walking back from the unit, layer by layer, each axis keeps a list of index ranges of the entry it has
reached. A layer's units o read the input units i with |i − c(o)| ≤ m, where c(o) = c0 + o·q is the unit's
centre in input units and m its half-width, all read off the receptive-field table (q = j_out / j_in,
c0 = (start_out − start_in) / j_in, m = (r_out − r_in) / (2·j_in)): for a conv or pool that is the window
[o·s − p, o·s − p + d(k−1)], for a transposed conv the inputs that scatter into o. The part of a window
outside 0..n−1 is padding: dropped for zeros (and for pools), folded back into the image for the copying
modes. A merge passes each range to each of its inputs. Like `region`, the ranges are envelopes (a bound):
inside one, a dilated kernel or a stride may skip pixels, but no pixel outside them is read.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .receptive import Entry

Ranges = list[tuple[int, int]]  # half-open, sorted, disjoint
MAX_RANGES = 256  # per axis; past it the ranges merge into their envelope (still a bound)
MERGES = ("add", "concat")


def _normal(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    if len(out) > MAX_RANGES:
        out = [(out[0][0], out[-1][1])]
    return out


def fold(lo: int, hi: int, n: int, mode: str) -> Ranges:
    """The input pixels a window [lo, hi) of a padded axis of n pixels reads, for one padding mode."""
    out: Ranges = [(max(lo, 0), min(hi, n))]
    if mode == "zeros":
        return _normal(out)
    if lo < 0:  # padded positions lo..min(hi, 0) − 1, before the first pixel
        end = min(hi, 0)
        out.append({"reflect": (1 - end, 1 - lo), "replicate": (0, 1), "circular": (n + lo, n + end)}[mode])
    if hi > n:  # padded positions max(lo, n)..hi − 1, after the last pixel
        begin = max(lo, n)
        out.append({"reflect": (2 * n - 1 - hi, 2 * n - 1 - begin), "replicate": (n - 1, n),
                    "circular": (begin - n, hi - n)}[mode])
    return _normal([(max(a, 0), min(b, n)) for a, b in out])


def _padding_mode(entry: Entry) -> str:
    spec = entry.layer.spec if entry.layer is not None else None
    return getattr(spec, "padding_mode", "zeros") if entry.op == "conv2d" else "zeros"


def _back(ranges: Ranges, out_entry: Entry, in_entry: Entry, axis: int) -> Ranges:
    """The input units a layer's output ranges read along one axis."""
    a_out, a_in = out_entry.axes[axis], in_entry.axes[axis]
    n = a_in.n
    if out_entry.op in MERGES:
        return list(ranges)
    if a_in.j == 0:  # every unit shares one centre (after a linear layer): any may be read
        return [(0, n)]
    q = Fraction(a_out.j) / a_in.j
    c0 = (a_out.start - a_in.start) / a_in.j
    m = (a_out.r - a_in.r) / (2 * a_in.j)
    mode = _padding_mode(out_entry)
    found: Ranges = []
    for first, last in ranges:  # output units first..last−1
        ends = (c0 + first * q, c0 + (last - 1) * q)
        lo, hi = math.ceil(min(ends) - m), math.floor(max(ends) + m) + 1
        found += fold(lo, hi, n, mode)
    return _normal(found)


def reach(table: list[Entry], entry: int, unit: tuple[int, int]) -> tuple[Ranges, Ranges]:
    """Per axis, the input pixels unit (y, x) of table[entry] can read, as ranges (a bound)."""
    reached: list[list[Ranges] | None] = [None] * len(table)
    reached[entry] = [[(unit[0], unit[0] + 1)], [(unit[1], unit[1] + 1)]]
    for k in range(entry, 0, -1):
        here = reached[k]
        if here is None:
            continue
        layer = table[k].layer
        for s in (layer.sources if layer is not None and layer.sources else (k - 1,)):
            back = [_back(here[axis], table[k], table[s], axis) for axis in (0, 1)]
            have = reached[s]
            reached[s] = back if have is None else [_normal(have[axis] + back[axis]) for axis in (0, 1)]
    found = reached[0] or [[], []]
    return found[0], found[1]


def _minus(ranges: Ranges, lo: int, hi: int) -> list[list[int]]:
    out = []
    for a, b in ranges:
        for part in ((a, min(b, lo)), (max(a, hi), b)):
            if part[0] < part[1]:
                out.append(list(part))
    return out


def wrapped(table: list[Entry], entry: int, unit: tuple[int, int], clipped: dict[str, int]) -> dict[str, Any]:
    """The `wrapped` field: per axis, the pixels the unit reads outside `clipped`."""
    rows, cols = reach(table, entry, unit)
    return {"y": _minus(rows, clipped["y0"], clipped["y1"]), "x": _minus(cols, clipped["x0"], clipped["x1"])}
