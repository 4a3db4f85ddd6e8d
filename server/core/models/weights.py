"""Trained weights for a catalogue model: a safetensors file of its torchvision `state_dict`.

safetensors is a JSON header and raw little-endian arrays: reading it runs nothing and unpickles nothing
(a `.pth` checkpoint, a pickle inside a zip, is refused with the one line that converts it). The header
is checked before any array is made: its length, its dtypes and its shapes against the model's.

Keys are torchvision's: `<module path>.<parameter>` (`features.0.weight`, `layer1.0.bn1.running_var`);
the module path is the catalogue layer's name. `num_batches_tracked` buffers are ignored (they change
no output). Saving such a file from torchvision, where torchvision works:

    python -c "import torchvision, safetensors.torch as s; \
s.save_file(torchvision.models.resnet18(weights='DEFAULT').state_dict(), 'resnet18.safetensors')"
"""
from __future__ import annotations

import json
import struct
from typing import Any, Iterable

import numpy as np

from ..exceptions import InvalidRequest, TooLarge, Unsupported

MAX_HEADER_BYTES = 16 * 2**20
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "F64": np.float64}
_ITEM_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2}
_IGNORED = ("num_batches_tracked",)
_SHOWN = 5  # how many wrong keys a refusal names


def parameter_shapes(layer: dict[str, Any], input_shape: Iterable[int],
                     output_shape: Iterable[int]) -> dict[str, tuple[int, ...]]:
    """The state_dict entries torch's module for this layer holds, with their shapes."""
    op, c_in, c_out = layer["op"], list(input_shape)[0], list(output_shape)[0]
    k = layer.get("kernel_size", 1)
    kh, kw = (k, k) if isinstance(k, int) else k
    groups = layer.get("groups", 1)
    bias = layer.get("bias", True)
    if op == "conv2d":
        shapes = {"weight": (c_out, c_in // groups, kh, kw)}
    elif op == "conv_transpose2d":
        shapes = {"weight": (c_in, c_out // groups, kh, kw)}
    elif op == "linear":
        shapes = {"weight": (c_out, c_in)}
    elif op == "batch_norm2d":
        return {name: (c_in,) for name in ("weight", "bias", "running_mean", "running_var")}
    else:
        return {}
    if bias:
        shapes["bias"] = (c_out,)
    return shapes


def expected_parameters(network: dict[str, Any]) -> dict[str, dict[str, tuple[int, ...]]]:
    """Layer name → its state_dict entries and shapes, from the network's shape arithmetic."""
    from ..layers import summarize
    summary = summarize(network["input_shape"], network["layers"])
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    for layer, entry in zip(network["layers"], summary["layers"]):
        shapes = parameter_shapes(layer, entry["input_shape"], entry["output_shape"])
        if shapes:
            out[entry["name"]] = shapes
    return out


def trained_weights(weights_dir: str, model_id: str, network: dict[str, Any],
                    ) -> dict[str, dict[str, np.ndarray]] | None:
    """The course's trained weights for a catalogue model (`<weights_dir>/<id>.safetensors`), or None."""
    if not weights_dir:
        return None
    from pathlib import Path
    path = Path(weights_dir) / f"{model_id}.safetensors"
    if not path.is_file():
        return None
    return read_safetensors(path.read_bytes(), expected_parameters(network))


def read_safetensors(data: bytes, expected: dict[str, dict[str, tuple[int, ...]]],
                     ) -> dict[str, dict[str, np.ndarray]]:
    """Layer name → parameter → float32 array, after every key and shape is checked against `expected`."""
    header = _header(data)
    wanted = {f"{layer}.{param}": shape for layer, params in expected.items() for param, shape in params.items()}
    given = {key: meta for key, meta in header.items() if key != "__metadata__" and not key.endswith(_IGNORED)}
    missing = sorted(set(wanted) - set(given), key=list(wanted).index)
    extra = sorted(set(given) - set(wanted))
    wrong = [f"{key} is {tuple(given[key]['shape'])}, the model's is {wanted[key]}" for key in wanted
             if key in given and tuple(given[key].get("shape", ())) != wanted[key]]
    problems = ([f"missing {_few(missing)}"] if missing else []) + ([f"not in the model {_few(extra)}"]
                                                                     if extra else []) + wrong[:_SHOWN]
    if problems:
        raise InvalidRequest("The weights do not fit this model (torchvision's state_dict keys expected): "
                             + "; ".join(problems) + ".", ["file"])
    for key, meta in given.items():  # every dtype before any array is made
        if meta["dtype"] not in _DTYPES:
            raise InvalidRequest(f"{key} is stored as {meta['dtype']}; weights must be floating point "
                                 "(F32, F16, BF16 or F64).", ["file"])
    body = memoryview(data)[8 + struct.unpack("<Q", data[:8])[0]:]
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, meta in given.items():
        layer, _, param = key.rpartition(".")
        start, end = meta["data_offsets"]
        dtype = _DTYPES[meta["dtype"]]
        raw = body[start:end]
        if dtype is None:  # bfloat16: the top half of a float32
            array = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(np.float32)
        out.setdefault(layer, {})[param] = array.reshape(wanted[key])
    return out


def _header(data: bytes) -> dict[str, Any]:
    if data[:1] == b"\x80" or data[:2] == b"PK":
        raise Unsupported("This is a pickle or a zip archive (torch.save's .pth), which the server never opens. "
                          "Save the state_dict with safetensors.torch.save_file(model.state_dict(), "
                          "'model.safetensors').", ["file"])
    if len(data) < 8:
        raise Unsupported("The file is too short to be a safetensors file.", ["file"])
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_HEADER_BYTES:
        raise TooLarge(f"The safetensors header claims {size:,} bytes, past this server's cap of "
                       f"{MAX_HEADER_BYTES:,}.", ["file"])
    if 8 + size > len(data):
        raise Unsupported("The file is not a safetensors file, or it is truncated (its header runs past the "
                          "end).", ["file"])
    try:
        header = json.loads(bytes(data[8:8 + size]))
    except (UnicodeDecodeError, ValueError):
        raise Unsupported("The file is not a safetensors file (its header is not JSON).", ["file"]) from None
    if not isinstance(header, dict):
        raise Unsupported("The file is not a safetensors file (its header is not an object).", ["file"])
    length = len(data) - 8 - size
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        ok = (isinstance(meta, dict) and isinstance(meta.get("shape"), list) and isinstance(meta.get("dtype"), str)
              and isinstance(meta.get("data_offsets"), list) and len(meta["data_offsets"]) == 2)
        if ok:
            start, end = meta["data_offsets"]
            item = _ITEM_BYTES.get(meta["dtype"], 1)
            ok = (all(isinstance(v, int) and v >= 0 for v in (start, end, *meta["shape"]))
                  and start <= end <= length and end - start == item * int(np.prod(meta["shape"], dtype=np.int64)))
        if not ok:
            raise Unsupported(f"The safetensors entry {key!r} is damaged (its shape, dtype or offsets do not fit "
                              "the file).", ["file"])
    return header


def _few(keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more
