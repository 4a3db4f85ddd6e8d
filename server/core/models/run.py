"""A model on a photo: `"model": {"id": ...}` on /pipeline and /pipeline/probe.

The id is a catalogue id (catalogue.py) or an uploaded ONNX model's sha256 (store.py). Its weights:
    uploaded     the file's initializers, as translated (onnx_import.py)
    catalogue    with `"weights": "<id>"`, the safetensors file uploaded for it (weights_store.py);
                 else the course's trained weights when `<weights_dir>/<id>.safetensors` exists (weights.py),
                 else seeded random ones: every conv, transposed conv and linear weight N(0, 2 / fan_in)
                 (He; fan_in = weight.shape[1] · kH · kW, torch's convention), from numpy's PCG64 with
                 the request's `seed` (default 0), in layer order; biases 0; batch norms γ 1, β 0,
                 running mean 0, running variance 1. Batch norms run in eval mode (their running statistics).

The input map is the tensor the model receives, made from the photo (C×H×W, values in [0, 1]):
    1. channels: a gray photo is repeated to 3 channels for a 3-channel model; a colour photo becomes
       the mean of its channels for a 1-channel model;
    2. size: scaled (bilinear, antialiased: torch's interpolate) so that it covers the model's H×W with
       its shorter side, then centre-cropped to exactly H×W (torchvision's Resize + CenterCrop);
    3. normalisation: "imagenet" subtracts torchvision's mean (0.485, 0.456, 0.406) and divides by its
       std (0.229, 0.224, 0.225) per channel; "none" keeps [0, 1]. The default is "imagenet" for a
       catalogue model and "none" for an uploaded one.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..exceptions import InvalidRequest, did_you_mean
from ..layers import Layer, is_int, walk
from ..pipeline import Plan, check_caps
from . import catalogue
from .store import ModelStore
from .weights_store import WeightsStore
from .weights import parameter_shapes, trained_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMALIZE = ("imagenet", "none")
_KEYS = ("id", "seed", "normalize", "weights")
_CACHE_BYTES = 1 << 30  # random and trained catalogue weights kept between requests
_cache: OrderedDict[tuple[str, Any], dict[str, dict[str, np.ndarray]]] = OrderedDict()
_cache_lock = threading.Lock()
_STRUCTURES_KEPT = 32
_structures: OrderedDict[tuple[str, str], tuple[dict[str, Any], list[Layer]]] = OrderedDict()


def _cached(key: tuple[str, Any], make: Any) -> dict[str, dict[str, np.ndarray]] | None:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = make()
    if value is None:
        return None
    with _cache_lock:
        _cache[key] = value
        while sum(a.nbytes for w in _cache.values() for p in w.values() for a in p.values()) > _CACHE_BYTES \
                and len(_cache) > 1:
            _cache.popitem(last=False)
    return value


def _structure(key: tuple[str, str], make: Any) -> tuple[dict[str, Any], list[Layer]]:
    """A model's network and its checked layer stack, walked once per model (both are only read after)."""
    with _cache_lock:
        held = _structures.get(key)
    if held is None:
        network = make()
        shape = tuple(network["input_shape"])
        stack = walk(list(shape), network["layers"])
        check_caps(stack, shape)
        held = network, stack
        with _cache_lock:
            _structures[key] = held
            while len(_structures) > _STRUCTURES_KEPT:
                _structures.popitem(last=False)
    return held[0], list(held[1])


def random_weights(network: dict[str, Any], seed: int) -> dict[str, dict[str, np.ndarray]]:
    stack = walk(network["input_shape"], network["layers"])
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for raw, layer in zip(network["layers"], stack):
        shapes = parameter_shapes(raw, layer.input_shape, layer.output_shape)
        if not shapes:
            continue
        if layer.op == "batch_norm2d":
            c = layer.input_shape[0]
            out[layer.name] = {"weight": np.ones(c, np.float32), "bias": np.zeros(c, np.float32),
                               "running_mean": np.zeros(c, np.float32), "running_var": np.ones(c, np.float32)}
            continue
        w_shape = shapes["weight"]
        fan_in = math.prod(w_shape[1:])
        params = {"weight": rng.standard_normal(w_shape, dtype=np.float32) * np.float32(math.sqrt(2.0 / fan_in))}
        if "bias" in shapes:
            params["bias"] = np.zeros(shapes["bias"], np.float32)
        out[layer.name] = params
    return out


def check_ref(ref: Any) -> tuple[str, int, str | None]:  # model.weights is read by load
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
        raise InvalidRequest('model must be {"id": "<catalogue id or an uploaded model\'s sha256>"}, optionally '
                             'with "seed" and "normalize".', ["model"])
    extra = sorted(set(ref) - set(_KEYS))
    if extra:
        hint = did_you_mean(extra[0], _KEYS)
        raise InvalidRequest(f"model has no field {extra[0]!r};{' ' + hint if hint else ''} it takes {', '.join(_KEYS)}.",
                             ["model", extra[0]])
    seed = ref.get("seed", 0)
    if not is_int(seed) or not 0 <= seed < 2**32:
        raise InvalidRequest(f"model.seed must be an integer from 0 to 2^32 − 1, not {seed!r}.", ["model", "seed"])
    normalize = ref.get("normalize")
    if normalize is not None and normalize not in NORMALIZE:
        raise InvalidRequest(f"model.normalize must be one of {', '.join(NORMALIZE)}, not {normalize!r}.",
                             ["model", "normalize"])
    return ref["id"], seed, normalize


def load(ref: Any, store: ModelStore, weights_dir: str, uploaded: WeightsStore | None = None,
         ) -> tuple[Plan, dict[str, Any]]:
    """The model's plan (network, weights) and what the response says about it."""
    model_id, seed, normalize = check_ref(ref)
    key: Any
    if "weights" in ref and model_id not in catalogue.MODEL_IDS:
        if len(model_id) != 64:
            catalogue.describe(model_id)  # the NotFound naming the closest catalogue id
        raise InvalidRequest("model.weights is for a catalogue model; an uploaded ONNX model runs with its own "
                             "weights.", ["model", "weights"])
    if "weights" in ref:
        if uploaded is None:
            raise InvalidRequest("This server holds no uploaded weights.", ["model", "weights"])
        held = uploaded.get(model_id, ref["weights"])
        network, stack = _structure(("catalogue", model_id), lambda: catalogue.network(model_id))
        weights, normalize = held.weights, normalize or "imagenet"
        meta: dict[str, Any] = {"id": model_id, "title": catalogue.describe(model_id)["title"],
                                "weights": "uploaded", "weights_id": held.id}
        key = ("uploaded-weights", model_id, held.id)
    elif model_id in catalogue.MODEL_IDS:
        network, stack = _structure(("catalogue", model_id), lambda: catalogue.network(model_id))
        trained = _cached(("trained", model_id, weights_dir),
                          lambda: trained_weights(weights_dir, model_id, network))
        if trained is not None:
            weights, kind = trained, "trained"
        else:
            weights, kind = _cached(("random", model_id, seed), lambda: random_weights(network, seed)), "random"
        meta = {"id": model_id, "title": catalogue.describe(model_id)["title"], "weights": kind}
        key = ("trained", model_id, weights_dir) if kind == "trained" else ("random", model_id, seed)
        if kind == "random":
            meta["seed"] = seed
        normalize = normalize or "imagenet"
    else:
        if len(model_id) != 64:
            catalogue.describe(model_id)  # the NotFound naming the closest catalogue id
        stored = store.get(model_id)
        network, stack = _structure(("uploaded", stored.id), stored.model.network)
        weights, normalize = stored.model.weights, normalize or "none"
        meta = {"id": stored.id, "weights": "uploaded"}
        key = ("uploaded", stored.id)
    shape = tuple(network["input_shape"])
    if normalize == "imagenet" and shape[0] != 3:
        raise InvalidRequest(f"normalize 'imagenet' is for 3-channel models; this one takes {shape[0]}.",
                             ["model", "normalize"])
    meta["input"] = {"shape": list(shape), "normalize": normalize, "resize": "cover, centre crop"}
    if normalize == "imagenet":
        meta["input"] |= {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    return Plan(shape, stack, network["layers"], weights, weights_key=key), meta  # type: ignore[arg-type]


def model_input(pixels: np.ndarray, shape: tuple[int, ...], normalize: str) -> np.ndarray:
    """The photo as the tensor the model receives (module docstring), float32 C×H×W."""
    c, h, w = shape
    x = torch.as_tensor(np.array(pixels, dtype=np.float32))
    if x.shape[0] != c:
        if x.shape[0] == 1:
            x = x.expand(c, -1, -1)
        elif c == 1:
            x = x.mean(dim=0, keepdim=True)
        else:
            raise InvalidRequest(f"The model takes {c} channels; a photo has 1 or 3.", ["model"])
    _, ph, pw = x.shape
    scale = max(h / ph, w / pw)
    sh, sw = max(h, round(ph * scale)), max(w, round(pw * scale))
    if (sh, sw) != (ph, pw):
        x = F.interpolate(x[None], size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)[0]
    top, left = (sh - h) // 2, (sw - w) // 2
    x = x[:, top:top + h, left:left + w]
    if normalize == "imagenet":
        x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    return np.ascontiguousarray(x.numpy(), dtype=np.float32)
