"""Running a planned pipeline (pipeline.py) one layer at a time, each layer's maps encoded as it is made.

`PipelineRun` runs the registry's Runner (layers/forward.py), which holds only the entries a later layer
still reads and the max-pool indices a later unpool needs, so a streamed run keeps little in memory
and can stop between layers when the client goes away.
Every block carries its feature maps (encoding.py), the layer's receptive-field geometry (for placing
its maps over the image), the sliding-window geometry the page's sweep draws, and for batch_norm2d
the statistics it used.
"""
from __future__ import annotations

import math
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import torch

from convscope.core.encoding import check_encoding, encode_stack
from convscope.core.exceptions import InvalidRequest
from convscope.core.layers import Layer
from convscope.core.layers.forward import Runner
from convscope.core.mapstack import EncodedMap, MapStack
from convscope.core.pipeline import Plan, plan_pipeline
from convscope.core.receptive import entries

DEFAULT_MAX_SIDE = 256
MAX_DISPLAY_SIDE = 1024
PENDING_BYTES = 64 * 1024 * 1024  # computed maps that may wait for their encoding on the spare executor
_WEIGHTS_KEPT, _FIELDS_KEPT = 3, 64
_weights_cache: OrderedDict[Any, tuple[Any, dict[str, dict[str, torch.Tensor]]]] = OrderedDict()
_fields_cache: OrderedDict[Any, list[dict[str, Any]]] = OrderedDict()
_cache_lock = threading.Lock()
_CLAMPS = {"relu": (0.0, math.inf), "relu6": (0.0, 6.0)}  # the layers that clamp their input element by element


@dataclass(eq=False)
class Block:
    """One map stack of the response: the input (index -1) or layer `index`'s output."""

    index: int
    op: str
    shape: list[int]
    stack: MapStack
    field: dict[str, Any]
    sweep: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    name: str | None = None
    inputs: list[str] | None = None

    def header(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "op": self.op, "shape": self.shape, "field": self.field}
        if self.name is not None:
            out["name"], out["inputs"] = self.name, self.inputs
        if self.sweep is not None:
            out["sweep"] = self.sweep
        if self.stats is not None:
            out["stats"] = self.stats
        return out

    @property
    def maps(self) -> list[EncodedMap]:
        return self.stack.maps()

    def as_dict(self, fragment: bool = False) -> dict[str, Any]:
        """JSON-ready; with `fragment`, "maps" is already JSON (an orjson.Fragment, the same bytes)."""
        return self.header() | {"maps": orjson.Fragment(self.stack.as_json()) if fragment else self.stack.as_dicts()}


def check_display(max_side: Any, encoding: Any) -> tuple[int, str]:
    if isinstance(max_side, bool) or not isinstance(max_side, int) or not 1 <= max_side <= MAX_DISPLAY_SIDE:
        raise InvalidRequest(f"max_side must be an integer from 1 to {MAX_DISPLAY_SIDE}, not {max_side!r}.",
                             ["max_side"])
    check_encoding(encoding, max_side)
    return max_side, encoding


def _torch_weights(plan: Plan, device: Any) -> dict[str, dict[str, torch.Tensor]]:
    """The plan's weights on the device; conv weights channels-last like the maps (mixed layouts make
    torch's CPU convolutions convert on every call: ResNet-18's forward 97 → 68 ms on one thread).
    A model's (plan.weights_key) are kept for its next run: the copies cost ResNet-18 13 ms a request."""
    def tensor(v: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(v, device=device)
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t

    key = None if plan.weights_key is None else (plan.weights_key, str(device))
    with _cache_lock:
        held = _weights_cache.get(key) if key is not None else None
        if held is not None and held[0] is plan.weights:
            _weights_cache.move_to_end(key)
            return dict(held[1])
    made = {name: {k: tensor(v) for k, v in params.items()} for name, params in plan.weights.items()}
    if key is not None:
        with _cache_lock:
            _weights_cache[key] = (plan.weights, made)
            while len(_weights_cache) > _WEIGHTS_KEPT:
                _weights_cache.popitem(last=False)
    return dict(made)


def _fields(shape: tuple[int, ...], network: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entry's receptive-field geometry (the input's first), as the blocks carry it; the same network
    on the same shape (a model, run after run) is worked out once."""
    key = (shape, orjson.dumps(network, option=orjson.OPT_SORT_KEYS))
    with _cache_lock:
        held = _fields_cache.get(key)
        if held is not None:
            _fields_cache.move_to_end(key)
            return [dict(f) for f in held]
    made = [e.to_json() for e in entries(shape, network)]  # type: ignore[arg-type]
    for f in made:
        f.pop("name", None)
    with _cache_lock:
        _fields_cache[key] = made
        while len(_fields_cache) > _FIELDS_KEPT:
            _fields_cache.popitem(last=False)
    return [dict(f) for f in made]


def make_runner(plan: Plan, device: Any, *, keep: bool = False) -> Runner:
    """The registry's Runner with the plan's weights on `device` and fresh running statistics for each of
    the lab's batch norms (given, or mean 0 and var 1)."""
    weights = _torch_weights(plan, device)
    for i, given in plan.bn_given.items():
        weights[plan.stack[i].name] = {k: torch.tensor(given[k], dtype=torch.float32, device=device)
                                       for k in ("running_mean", "running_var")}
    return Runner(plan.stack, lambda layer: weights.get(layer.name), training=plan.training, pairs=plan.pairs,
                  keep=keep)


def _bn_stats(plan: Plan, i: int, x: torch.Tensor, runner: Runner) -> dict[str, Any]:
    """What a lab batch norm normalised with: this image's per-channel mean and (biased) variance in
    training, where the running statistics also moved by `momentum` (unbiased variance), as
    BatchNorm2d.train() does; the running statistics in eval."""
    layer, given = plan.stack[i], plan.bn_given[i]
    params = runner.params_of(layer) or {}
    stats: dict[str, Any] = {"training": given["training"], "eps": float(layer.args.get("eps", 1e-5)),
                             "momentum": layer.args.get("momentum", 0.1)}
    if given["training"]:
        with torch.no_grad():
            stats["mean"] = x.mean(dim=(0, 2, 3)).tolist()
            stats["var"] = x.var(dim=(0, 2, 3), unbiased=False).tolist()
        stats["running_mean_before"], stats["running_var_before"] = given["running_mean"], given["running_var"]
        stats["running_mean"] = params["running_mean"].tolist()
        stats["running_var"] = params["running_var"].tolist()
    else:
        stats["mean"], stats["var"] = given["running_mean"], given["running_var"]
    return stats


def _sweep(p: Layer) -> dict[str, Any] | None:
    """Where the window sits for each output cell (conv, pools), or where each input cell's kernel copy
    lands (transposed conv), per axis: a cell reads or writes starts[o] + taps[t]. Padding is (before, after)."""
    s = p.spec
    if p.op in ("conv2d", "max_pool2d", "avg_pool2d"):
        pads = s.padding if p.op == "conv2d" else [(q, q) for q in s.padding]
        axes = []
        for n_in, n_out, k, st, (lo, hi), d in zip(p.input_shape[1:], p.output_shape[1:], s.kernel, s.stride, pads,
                                                   s.dilation):
            axes.append({"n_in": n_in, "n_out": n_out, "starts": [o * st - lo for o in range(n_out)],
                         "taps": [t * d for t in range(k)], "padding": [lo, hi]})
        return {"kind": "window", "axes": axes}
    if p.op == "conv_transpose2d":
        axes = []
        for n_in, n_out, k, st, (lo, _), d in zip(p.input_shape[1:], p.output_shape[1:], s.kernel, s.stride,
                                                  s.padding, s.dilation):
            axes.append({"n_in": n_in, "n_out": n_out, "starts": [i * st - lo for i in range(n_in)],
                         "taps": [t * d for t in range(k)], "padding": [lo, lo]})
        return {"kind": "scatter", "axes": axes}
    return None


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def affine_stack(source: MapStack, a: np.ndarray, b: np.ndarray) -> MapStack | None:
    """The maps of a·x + b per channel (a batch norm's), made from the raw codes of x's maps (source) without a
    pass over the new maps: a display pixel's mean moves with its map's min and max (a mean of a·x + b is
    a · mean(x) + b), so a channel with a > 0 keeps its codes, a < 0 turns them over (255 − code), and a = 0 or a
    constant x makes a constant map (codes 0); min and max are the ends of [a·min + b, a·max + b]. Each decoded value
    is then within half a step of the exact mean, as encode_stack's are, up to float rounding.
    None (encode the maps themselves) unless source holds raw codes of finite values and the new ends are finite
    in float32."""
    if source.encoding != "raw" or not source.finite or len(source) != len(a):
        return None
    lo, hi = np.asarray(source.lo, np.float64), np.asarray(source.hi, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        ends = np.stack((a * lo + b, a * hi + b))
    if not (np.abs(ends) <= _FLOAT32_MAX).all():  # (NaN compares false) the maps would hold ±inf
        return None
    new_lo, new_hi = ends.min(axis=0), ends.max(axis=0)  # (equal where a = 0 or x is constant)
    flat = (hi <= lo) | (a == 0)
    planes = source.planes
    turned, zeroed = (a < 0) & ~flat, flat & (hi > lo)
    if turned.any() or zeroed.any():
        planes = planes.copy()
        planes[turned] = 255 - planes[turned]
        planes[zeroed] = 0
    return MapStack("raw", source.width, source.height, source.full_width, source.full_height, source.factor,
                    new_lo.tolist(), new_hi.tolist(), planes, True)


def as_maps(y: torch.Tensor) -> torch.Tensor:
    """One entry's maps, C×H×W: a vector (after flatten or linear) is one map of 1 × F."""
    return y if y.dim() == 3 else y.reshape(1, 1, -1)


class PipelineRun:
    """A checked network on one image; `input_block()` then `step(i)` for each layer, in order.
    With `plan` (a model, models/run.py) `pixels` is the tensor the model receives and `layers` is unused."""

    def __init__(self, pixels: np.ndarray, layers: Any, *, max_side: int = DEFAULT_MAX_SIDE,
                 encoding: str = "raw", device: str = "cpu", plan: Plan | None = None) -> None:
        self.max_side, self.encoding = check_display(max_side, encoding)
        self.pixels = pixels
        self.device = device
        shape = tuple(int(v) for v in pixels.shape)
        self.plan = plan_pipeline(shape, layers) if plan is None else plan  # type: ignore[arg-type]
        self.stack = self.plan.stack
        self.fields = _fields(shape, self.plan.network)
        self.runner = make_runner(self.plan, device)
        # relu and relu6 layers whose maps' range follows from their input's (encoding.encode_stack's `clamped`):
        # layer index → (the entry it reads, the clamp's bounds); the entries' stacks are kept as they are encoded
        self._clamps = {i: ((p.sources or (i,))[0], *_CLAMPS[p.op]) for i, p in enumerate(self.stack)
                        if p.op in _CLAMPS and len(p.sources or (i,)) == 1}
        # batch norms, whose maps are their input's scaled and shifted per channel (affine_stack): layer index →
        # the entry it reads; as raw codes only (a PNG's bytes or float values would have to be made anew)
        self._affine = {i: (p.sources or (i,))[0] for i, p in enumerate(self.stack)
                        if p.op == "batch_norm2d" and self.encoding == "raw" and len(p.sources or (i,)) == 1}
        self._read = {src for src, _, _ in self._clamps.values()} | set(self._affine.values())
        self._encoded: dict[int, MapStack] = {}

    def __len__(self) -> int:
        return len(self.stack)

    def compute(self, i: int) -> tuple[torch.Tensor, dict[str, Any] | None]:
        """Block i's maps as a tensor: i = -1 is the image, else layer i run on the entries it reads.
        Blocks are computed in order; encode() may then run on another thread while the next is computed."""
        if i == -1:
            # Channels-last: torch's CPU kernels for depthwise conv and pooling are several times faster on it
            # (a 3-channel depthwise 3×3 at 512²: 20 ms → 1 ms), and encoding.py reads it without a transpose.
            x = torch.as_tensor(np.array(self.pixels, dtype=np.float32, order="C"), device=self.device)[None]
            return self.runner.start(x.contiguous(memory_format=torch.channels_last)), None
        with torch.no_grad():
            before = self.runner.inputs(i)[0] if i in self.plan.bn_given else None
            y = self.runner.step(i)
            stats = _bn_stats(self.plan, i, before, self.runner) if before is not None else None
        return y, stats

    def encode(self, i: int, y: torch.Tensor, stats: dict[str, Any] | None) -> Block:
        clamped = maps = None
        if i in self._clamps:  # its input's range: blocks are encoded in order, so that block's is known
            src, a, b = self._clamps[i]
            held = self._encoded.get(src)
            clamped = None if held is None else (held, a, b)
        if i in self._affine and (held := self._encoded.get(self._affine[i])) is not None:
            maps = affine_stack(held, *self._bn_affine(i, stats))
        if maps is None:
            maps = encode_stack(as_maps(y[0]), max_side=self.max_side,
                                encoding=self.encoding, clamped=clamped)  # type: ignore[arg-type]
        if i + 1 in self._read:
            self._encoded[i + 1] = maps
        if i == -1:
            return Block(-1, "input", list(y.shape[1:]), maps, self.fields[0])
        p = self.stack[i]
        return Block(i, p.op, list(p.output_shape), maps, self.fields[i + 1], _sweep(p), stats, p.name,
                     list(p.inputs))

    def _bn_affine(self, i: int, stats: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
        """Batch norm i as y = a·x + b per channel (float64, on the host): a = γ / √(var + eps), b = β − mean · a,
        with the statistics it normalised by (this image's in training, as _bn_stats reports them). Read from the
        plan's own host arrays (the lab's settings, a model's weights), not from the device."""
        layer = self.stack[i]
        # as make_runner gives them: a lab batch norm's settings, else the layer's weights
        params = self.plan.bn_given[i] if i in self.plan.bn_given else self.plan.weights.get(layer.name or "", {})
        channels = layer.input_shape[0]

        def host(name: str, default: float) -> np.ndarray:
            v = params.get(name)
            return np.broadcast_to(np.asarray(default if v is None else v, np.float64), (channels,))

        if stats is not None and stats["training"]:
            mean, var = np.asarray(stats["mean"], np.float64), np.asarray(stats["var"], np.float64)
        else:
            mean, var = host("running_mean", 0.0), host("running_var", 1.0)
        a = host("weight", 1.0) / np.sqrt(var + float(layer.args.get("eps", 1e-5)))
        return a, host("bias", 0.0) - mean * a

    def input_block(self) -> Block:
        return self.encode(-1, *self.compute(-1))

    def step(self, i: int) -> Block:
        """Run layer i on the entries it reads (input_block() must have run first)."""
        return self.encode(i, *self.compute(i))

    def blocks(self) -> list[Block]:
        return [self.input_block(), *(self.step(i) for i in range(len(self)))]

    def deliver_all(self, deliver: Callable[[Block], None], executor: Executor | None = None,
                    stopped: Callable[[], bool] = lambda: False) -> None:
        """Every block, in order, to deliver(block): encoded in line, or with `executor` on one of its threads (an
        Encoder) while the next layers are computed. Between layers, a run that is stopped() ends."""
        encoder = Encoder(self, executor, deliver) if executor is not None else None
        try:
            for i in range(-1, len(self)):
                if stopped():
                    return
                if encoder is None:
                    deliver(self.encode(i, *self.compute(i)))
                else:
                    encoder.put(i, *self.compute(i))
        finally:
            if encoder is not None:
                encoder.close()

    def dicts(self, spare: Callable[[], Executor | None] | None = None, fragment: bool = False
              ) -> list[dict[str, Any]]:
        """Every block's as_dict(fragment), in order; encoded on a spare thread (deliver_all) where `spare()`
        gives an executor when the run starts."""
        out: list[dict[str, Any]] = []
        self.deliver_all(lambda block: out.append(block.as_dict(fragment)), spare() if spare is not None else None)
        return out


class Encoder:
    """A run's blocks encoded in order on one thread of `executor`, while the caller computes the next layers;
    each Block goes to deliver() (in that thread). Computed maps that wait are bounded by bytes (PENDING_BYTES):
    put() waits past that. One thread, not one task per block: encodings of one run side by side would fight
    over the cores and the interpreter with the layers being computed (ResNet-18 streamed: 161 → 111 ms)."""

    def __init__(self, run: PipelineRun, executor: Executor, deliver: Callable[[Block], None]) -> None:
        self.run, self.deliver = run, deliver
        self.items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.pending = 0
        self.changed = threading.Condition()
        self.future = executor.submit(self._loop)

    def put(self, i: int, y: torch.Tensor, stats: dict[str, Any] | None) -> None:
        size = y.element_size() * y.nelement()
        with self.changed:
            while self.pending > PENDING_BYTES and not self.future.done():
                self.changed.wait(0.1)
            self.pending += size
        if self.future.done():  # the encoder stopped: its error is raised here
            self.future.result()
            raise RuntimeError("the encoder stopped before its last block")
        self.items.put((i, y, stats, size))

    def close(self) -> None:
        """Wait until every block put is delivered (raising what the encoder raised)."""
        self.items.put(None)
        self.future.result()

    def _loop(self) -> None:
        while (item := self.items.get()) is not None:
            i, y, stats, size = item
            try:
                self.deliver(self.run.encode(i, y, stats))
            finally:
                del y, item
                with self.changed:
                    self.pending -= size
                    self.changed.notify_all()


def run_pipeline(pixels: np.ndarray, layers: Any, *, max_side: int = DEFAULT_MAX_SIDE, encoding: str = "raw",
                 device: str = "cpu", plan: Plan | None = None,
                 spare: Callable[[], Executor | None] | None = None, fragment: bool = False) -> dict[str, Any]:
    """Validate, run and encode; the JSON-ready body of POST /api/v1/pipeline (without "ok").
    `spare`: where blocks may be encoded meanwhile; `fragment`: maps as JSON already (PipelineRun.dicts)."""
    run = PipelineRun(pixels, layers, max_side=max_side, encoding=encoding, device=device, plan=plan)
    inp, *rest = run.dicts(spare, fragment)
    del inp["index"], inp["op"]
    return {"input": inp, "layers": rest, "device": str(device)}
