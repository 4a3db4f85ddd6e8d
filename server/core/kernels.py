"""Named 2-D kernels, custom-kernel validation, and the conv2d weights built from them.

Every kernel is written for cross-correlation, as torch.nn.functional.conv2d computes it:
sobel_x answers positively where brightness increases to the right. The "true convolution"
toggle applies flip() first. Kernels are float64 numpy arrays so exercises stay exact;
make_weight casts when it builds the tensor.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from convscope.core.exceptions import InvalidRequest

if TYPE_CHECKING:  # torch is imported lazily: listing kernels should not pay for it
    import torch

MAX_KERNEL_SIDE = 11
MODES: tuple[str, ...] = ("per_channel", "shared")
Loc = Sequence[str | int]


# ---------------------------------------------------------------- the kernels


def _frozen(values: Any) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    arr.flags.writeable = False
    return arr


def _centred(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Tap offsets from the kernel centre, x to the right and y downwards (image convention)."""
    c = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return np.meshgrid(c, c, indexing="xy")


def identity(size: int = 3) -> np.ndarray:
    out = np.zeros((size, size))
    out[size // 2, size // 2] = 1.0
    return _frozen(out)


def box(size: int = 3) -> np.ndarray:
    return _frozen(np.full((size, size), 1.0 / (size * size)))


def gaussian(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    x, y = _centred(size)
    g = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    return _frozen(g / g.sum())


def sharpen() -> np.ndarray:
    return _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def emboss() -> np.ndarray:
    return _frozen([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def sobel_x() -> np.ndarray:
    return _frozen([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def sobel_y() -> np.ndarray:
    return _frozen([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])


def prewitt_x() -> np.ndarray:
    return _frozen([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]])


def prewitt_y() -> np.ndarray:
    return _frozen([[-1, -1, -1], [0, 0, 0], [1, 1, 1]])


def laplacian(neighbours: int = 4) -> np.ndarray:
    if neighbours == 4:
        return _frozen([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    return _frozen([[1, 1, 1], [1, -8, 1], [1, 1, 1]])


def outline() -> np.ndarray:
    return _frozen([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])


def gabor(size: int = 7, theta: float = 0.0, sigma: float = 2.0, lambd: float = 4.0,
          gamma: float = 0.5, psi: float = 0.0) -> np.ndarray:
    """Real Gabor: a cosine of wavelength `lambd` px across direction `theta` (degrees),
    under a Gaussian envelope of width `sigma`, aspect `gamma`; `psi` is the phase (degrees)."""
    x, y = _centred(size)
    t, p = math.radians(theta), math.radians(psi)
    xr = x * math.cos(t) + y * math.sin(t)
    yr = -x * math.sin(t) + y * math.cos(t)
    envelope = np.exp(-(xr * xr + (gamma * yr) ** 2) / (2.0 * sigma * sigma))
    return _frozen(envelope * np.cos(2.0 * math.pi * xr / lambd + p))


def random_kernel(seed: int, size: int = 3) -> np.ndarray:
    """Normal(0, 1/size²) taps from numpy's PCG64: the same seed gives the same kernel in
    every process and on every platform (what an untrained CNN filter looks like)."""
    rng = np.random.default_rng(seed)
    return _frozen(rng.standard_normal((size, size)) / size)


def flip(kernel: np.ndarray) -> np.ndarray:
    """Rotate by 180°: correlating with flip(k) is convolving with k (the "true convolution" toggle)."""
    return np.ascontiguousarray(np.asarray(kernel)[::-1, ::-1])


# ---------------------------------------------------------------- catalogue and validation


@dataclass(frozen=True)
class Param:
    """One kernel parameter: its type, default and inclusive range (or choices)."""

    name: str
    type: str  # "int" | "float"
    default: int | float
    min: int | float | None = None
    max: int | float | None = None
    choices: tuple[int, ...] | None = None
    unit: str = ""
    odd: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        else:
            out["min"], out["max"] = self.min, self.max
        if self.unit:
            out["unit"] = self.unit
        if self.odd:
            out["odd"] = True
        return out


@dataclass(frozen=True)
class _Spec:
    title: str
    description: str
    build: Callable[..., np.ndarray]
    params: tuple[Param, ...] = ()


def _size(default: int, lo: int = 1, odd: bool = False) -> Param:
    return Param("size", "int", default, lo, MAX_KERNEL_SIDE, unit="px", odd=odd)


_SPECS: dict[str, _Spec] = {
    "identity": _Spec("Identity", "One tap at the centre: the output copies the input.", identity,
                      (_size(3, odd=True),)),
    "box": _Spec("Box blur", "Every tap 1/k²: each output is the mean of its k×k window.", box, (_size(3),)),
    "gaussian": _Spec("Gaussian blur", "Taps fall off as exp(−r²/2σ²), normalised to sum to 1: a smooth blur.",
                      gaussian, (_size(5), Param("sigma", "float", 1.0, 0.1, 10.0, unit="px"))),
    "sharpen": _Spec("Sharpen", "Centre 5, four neighbours −1: adds the Laplacian back to the image.", sharpen),
    "emboss": _Spec("Emboss", "Diagonal derivative plus the image: edges look raised, lit from the top-left.",
                    emboss),
    "sobel_x": _Spec("Sobel x", "Horizontal derivative with vertical smoothing: positive where it gets "
                     "brighter to the right.", sobel_x),
    "sobel_y": _Spec("Sobel y", "Vertical derivative with horizontal smoothing: positive where it gets "
                     "brighter downwards.", sobel_y),
    "prewitt_x": _Spec("Prewitt x", "Horizontal derivative averaged over three rows.", prewitt_x),
    "prewitt_y": _Spec("Prewitt y", "Vertical derivative averaged over three columns.", prewitt_y),
    "laplacian": _Spec("Laplacian", "Second derivative (4- or 8-neighbour): zero on flat areas and ramps, "
                       "large at edges.", laplacian, (Param("neighbours", "int", 4, choices=(4, 8)),)),
    "outline": _Spec("Outline", "Centre 8, all neighbours −1 (the negated 8-neighbour Laplacian): "
                     "outlines every edge.", outline),
    "gabor": _Spec("Gabor", "A striped wave under a Gaussian: responds to one orientation and "
                   "wavelength, like an early visual neuron.", gabor,
                   (_size(7, lo=3), Param("theta", "float", 0.0, 0.0, 180.0, unit="deg"),
                    Param("sigma", "float", 2.0, 0.5, 10.0, unit="px"),
                    Param("lambd", "float", 4.0, 2.0, 20.0, unit="px"),
                    Param("gamma", "float", 0.5, 0.1, 2.0),
                    Param("psi", "float", 0.0, 0.0, 360.0, unit="deg"))),
    "random": _Spec("Random", "Seeded normal taps: what a filter looks like before training.", random_kernel,
                    (Param("seed", "int", 0, 0, 2**32 - 1), _size(3))),
}
KERNEL_NAMES: tuple[str, ...] = tuple(_SPECS)
_ALIASES = {"lambda": "lambd"}  # `lambda` is a Python keyword; accept it in requests


@dataclass(frozen=True, eq=False)
class Kernel:
    """A named kernel with its parameters, ready for the page or for make_weight."""

    name: str
    title: str
    description: str
    weights: np.ndarray  # float64 kH×kW, read-only
    params: dict[str, int | float]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "params": dict(self.params), "shape": list(self.weights.shape),
                "weights": self.weights.tolist()}


def list_kernels() -> list[dict[str, Any]]:
    """The catalogue: name, title, description, parameters with ranges, and default weights."""
    return [{"name": name, "title": spec.title, "description": spec.description,
             "params": [p.as_dict() for p in spec.params],
             "weights": spec.build(**{p.name: p.default for p in spec.params}).tolist()}
            for name, spec in _SPECS.items()]


def get_kernel(name: str, params: Mapping[str, Any] | None = None, *, loc: Loc = ()) -> Kernel:
    """Build a named kernel from request data, validating every parameter against its range.

    `loc` is where the kernel sits in the request body, so errors point at the field.
    """
    spec = _SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidRequest(f"There is no kernel named {str(name)[:40]!r}; choose one of "
                             f"{', '.join(KERNEL_NAMES)}, or give the weights yourself.", [*loc, "name"])
    given = {_ALIASES.get(k, k): v for k, v in (params or {}).items()}
    known = {p.name: p for p in spec.params}
    for key in given:
        if key not in known:
            takes = ", ".join(known) if known else "no parameters"
            raise InvalidRequest(f"Kernel {name!r} takes {takes}; {key!r} is not one of them.",
                                 [*loc, "params", key])
    values = {p.name: _check_param(name, p, given.get(p.name, p.default), [*loc, "params", p.name])
              for p in spec.params}
    return Kernel(name, spec.title, spec.description, spec.build(**values), values)


def _check_param(kernel: str, p: Param, value: Any, loc: list[str | int]) -> int | float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise InvalidRequest(f"{kernel} {p.name} must be a finite number, not {value!r}.", loc)
    if p.type == "int":
        if float(value) != int(value):
            raise InvalidRequest(f"{kernel} {p.name} must be a whole number, not {value!r}.", loc)
        value = int(value)
    else:
        value = float(value)
    if p.choices is not None and value not in p.choices:
        raise InvalidRequest(f"{kernel} {p.name} must be one of "
                             f"{', '.join(map(str, p.choices))}, not {value}.", loc)
    if p.min is not None and p.max is not None and not p.min <= value <= p.max:
        raise InvalidRequest(f"{kernel} {p.name} must be between {p.min} and {p.max}, not {value}.", loc)
    if p.odd and value % 2 == 0:
        raise InvalidRequest(f"{kernel} {p.name} must be odd so the kernel has a centre tap, not {value}.",
                             loc)
    return value


def validate_kernel(values: Any, *, loc: Loc = ("kernel",)) -> np.ndarray:
    """A custom kernel from request data: rows of finite numbers, 1..11 rows and columns.

    Rectangular kernels are allowed (torch allows kH != kW). Returns a float64 array.
    """
    loc = list(loc)
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, (list, tuple)) or not values:
        raise InvalidRequest("A kernel must be a non-empty list of rows of numbers, e.g. "
                             "[[0, 1, 0], [1, -4, 1], [0, 1, 0]].", loc)
    if len(values) > MAX_KERNEL_SIDE:
        raise InvalidRequest(f"The kernel has {len(values)} rows; at most {MAX_KERNEL_SIDE} are allowed.", loc)
    width = None
    for i, row in enumerate(values):
        if not isinstance(row, (list, tuple)) or not row:
            raise InvalidRequest(f"Kernel row {i} must be a non-empty list of numbers.", [*loc, i])
        if width is None:
            width = len(row)
            if width > MAX_KERNEL_SIDE:
                raise InvalidRequest(f"The kernel has {width} columns; at most {MAX_KERNEL_SIDE} are "
                                     "allowed.", [*loc, i])
        elif len(row) != width:
            raise InvalidRequest(f"Kernel row {i} has {len(row)} numbers but row 0 has {width}; "
                                 "every row must have the same length.", [*loc, i])
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(float(v)):
                raise InvalidRequest(f"Kernel entry [{i}][{j}] must be a finite number, not {v!r}.",
                                     [*loc, i, j])
    return np.array(values, dtype=np.float64)


# ---------------------------------------------------------------- conv2d weights


def groups_for(mode: str, in_channels: int) -> int:
    """The `groups` argument conv2d needs with make_weight(..., mode)."""
    _check_mode(mode, in_channels)
    return in_channels if mode == "per_channel" else 1


def make_weight(kernel_2d: np.ndarray, in_channels: int, mode: str = "per_channel", *,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """A conv2d weight applying one 2-D kernel to a C-channel image.

    - "per_channel": depthwise, weight C×1×kH×kW, use groups=C (see groups_for); output has C
      channels, channel c = kernel ⋆ input channel c.
    - "shared": weight 1×C×kH×kW with kernel / C on every input channel, groups=1; output has
      1 channel = kernel ⋆ (mean of the channels), so a gray image replicated on C channels
      answers exactly as the 2-D kernel does on the gray image.
    dtype defaults to torch.float32 (images are float32); pass torch.float64 for exact work.
    """
    import torch

    _check_mode(mode, in_channels)
    k = torch.as_tensor(np.array(kernel_2d, dtype=np.float64), dtype=torch.float64)
    if k.ndim != 2:
        raise InvalidRequest(f"A kernel must be 2-D, got shape {list(k.shape)}.", ["kernel"])
    if mode == "per_channel":
        weight = k.expand(in_channels, 1, *k.shape)
    else:
        weight = (k / in_channels).expand(1, in_channels, *k.shape)
    return weight.to(dtype or torch.float32).contiguous()


def _check_mode(mode: str, in_channels: int) -> None:
    if mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)}, not {mode!r}.", ["mode"])
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise InvalidRequest(f"in_channels must be a positive integer, not {in_channels!r}.",
                             ["in_channels"])
