"""Built-in images that work offline: numpy-drawn test patterns and scikit-image's photographs.

A lecture hall may have no internet, so nothing here downloads: the patterns are computed
and the photographs are PNGs shipped inside the scikit-image wheel (skimage.data loads them
from the package directory after checking their hash).
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from convscope.core.exceptions import InvalidRequest, NotFound
from convscope.core.images import DecodedImage, image_from_pil

DEFAULT_SIZE = 512
MIN_SIZE, MAX_SIZE = 16, 2048
#: The sides the lab offers to work at (its "work at" menu, those up to the server's image_max_side) and
#: the one it starts with: written here only. A built-in image is at most DEFAULT_SIZE on its longest side.
WORK_SIDES: tuple[int, ...] = (64, 128, 256, 512, 1024)
DEFAULT_WORK_SIDE = 256


@dataclass(frozen=True)
class _Sample:
    id: str
    title: str
    kind: str  # "synthetic" | "photo"
    description: str
    credit: str
    source: str
    make: Callable[[int], Image.Image]  # size -> PIL image ("L" or "RGB")


# ---------------------------------------------------------------- synthetic patterns


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (pixel i has centre i + 0.5), centred on the image."""
    c = np.arange(size, dtype=np.float64) + 0.5 - size / 2
    return np.meshgrid(c, c, indexing="xy")


def _antialiased(f: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Black/white by the sign of f, blended over one pixel: f / |∇f| is the distance to the edge.

    Where |∇f| exceeds a pixel (the centre of a Siemens star) the pattern fades to grey, which
    is what an ideal camera would record, instead of aliasing into false rings.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(grad > 0, f / grad, np.sign(f) * np.inf)
    return np.clip(0.5 + dist, 0.0, 1.0)


def _gray(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8))


def _checkerboard(size: int) -> Image.Image:
    cell = max(1, size // 8)
    idx = np.arange(size) // cell
    return _gray(((idx[:, None] + idx[None, :]) % 2).astype(np.float64))


def _siemens_star(size: int, spokes: int = 36) -> Image.Image:
    x, y = _grid(size)
    r, theta = np.hypot(x, y), np.arctan2(y, x)
    n = spokes / 2  # `spokes` sectors = n black/white pairs
    f = np.sin(n * theta)
    star = _antialiased(f, np.abs(n * np.cos(n * theta)) / np.maximum(r, 1e-9))
    radius = 0.47 * size
    inside = np.clip(radius - r + 0.5, 0.0, 1.0)  # antialiased rim
    return _gray(inside * star + (1 - inside) * 1.0)


def _circles(size: int) -> Image.Image:
    x, y = _grid(size)
    r = np.hypot(x, y)
    k = 2 * np.pi / max(4.0, size / 16)  # ring period: 1/16 of the image
    return _gray(_antialiased(np.sin(k * r), np.abs(k * np.cos(k * r))))


def _gradient(size: int) -> Image.Image:
    ramp = (np.arange(size) + 0.5) / size
    return _gray(np.broadcast_to(ramp, (size, size)))


def _text(size: int, words: str = "convscope") -> Image.Image:
    im = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(im)
    font_size = max(6, size // 3)
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
    if right - left > 0.9 * size:  # shrink to fit the width
        font = ImageFont.load_default(size=max(6, int(font_size * 0.9 * size / (right - left))))
        left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
    xy = ((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top)
    draw.text(xy, words, fill=0, font=font)
    return im


# ---------------------------------------------------------------- photographs


def _photo(name: str) -> Callable[[int], Image.Image]:
    @functools.lru_cache(maxsize=1)  # one decode per photograph, whatever the sizes asked for
    def original() -> np.ndarray:
        import skimage.data  # imported on first use: it is slow to import and only photos need it

        return getattr(skimage.data, name)()

    def load(size: int) -> Image.Image:
        return Image.fromarray(original())
    return load


_SAMPLES: dict[str, _Sample] = {s.id: s for s in (
    _Sample("checkerboard", "Checkerboard", "synthetic", "8×8 black and white squares: edges in two directions.",
            "convscope (generated)", "numpy", _checkerboard),
    _Sample("siemens_star", "Siemens star", "synthetic", "36 sectors: every orientation and spatial frequency.",
            "convscope (generated)", "numpy", _siemens_star),
    _Sample("circles", "Concentric rings", "synthetic", "Rings of constant period: curved edges at every angle.",
            "convscope (generated)", "numpy", _circles),
    _Sample("text", "Text", "synthetic", "The word 'convscope' in Pillow's default font: thin strokes.",
            "convscope (generated)", "PIL.ImageFont.load_default", _text),
    _Sample("gradient", "Gradient", "synthetic", "A left-to-right ramp: a derivative filter answers with a constant.",
            "convscope (generated)", "numpy", _gradient),
    _Sample("camera", "Camera man", "photo", "Grayscale photograph with strong edges and smooth sky.",
            "Lav Varshney, CC0", "skimage.data.camera", _photo("camera")),
    _Sample("astronaut", "Astronaut", "photo", "Colour portrait of astronaut Eileen Collins.",
            "NASA, public domain", "skimage.data.astronaut", _photo("astronaut")),
    _Sample("chelsea", "Chelsea the cat", "photo", "Colour photograph of a cat: fur texture and whiskers.",
            "Stefan van der Walt, CC0", "skimage.data.chelsea", _photo("chelsea")),
    _Sample("coffee", "Coffee", "photo", "Colour photograph of a cup of coffee.",
            "Rachel Michetti, CC0", "skimage.data.coffee", _photo("coffee")),
)}
SAMPLE_IDS: tuple[str, ...] = tuple(_SAMPLES)


def list_samples(size: int = DEFAULT_SIZE) -> list[dict[str, Any]]:
    """Every built-in image with the dimensions load_sample(id, size=size) would return."""
    return [_entry(s, load_sample(s.id, size=size)) for s in _SAMPLES.values()]


def _entry(s: _Sample, img: DecodedImage) -> dict[str, Any]:
    return {"id": s.id, "title": s.title, "kind": s.kind, "description": s.description,
            "width": img.width, "height": img.height, "channels": img.channels,
            "credit": s.credit, "source": s.source}


def load_sample(name: str, *, size: int = DEFAULT_SIZE) -> DecodedImage:
    """A built-in image as float32 C×H×W in [0, 1] (read-only, shared: copy before writing).

    Patterns are drawn at size×size; photographs are shrunk so the longest side is at most
    `size` and never enlarged. Raises NotFound for an unknown name, InvalidRequest for a bad size.
    """
    if not isinstance(name, str):
        raise InvalidRequest(f"A sample is named by a string, one of {', '.join(SAMPLE_IDS)}; got "
                             f"{str(name)[:60]}.", ["name"])
    if name not in _SAMPLES:
        raise NotFound(f"There is no sample named {str(name)[:60]!r}; the samples are: "
                       f"{', '.join(SAMPLE_IDS)}.", ["name"])
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidRequest(f"Sample size must be an integer from {MIN_SIZE} to {MAX_SIZE}, "
                             f"not {size!r}.", ["size"])
    return _load_cached(name, size)


@functools.lru_cache(maxsize=16)  # sizes other than a SampleCache's: at most 16 × 2048² × 3 B = 192 MiB
def _load_cached(name: str, size: int) -> DecodedImage:
    sample = _SAMPLES[name]
    return image_from_pil(sample.make(size), max_side=size, format="SAMPLE")


def offered_sides(image_max_side: int) -> list[int]:
    """The work sides the lab page offers on a server whose uploads are at most image_max_side."""
    return [s for s in WORK_SIDES if s <= image_max_side]


def default_side(image_max_side: int) -> int | None:
    """The side the lab starts at: DEFAULT_WORK_SIDE, or the largest offered side below it."""
    below = [s for s in offered_sides(image_max_side) if s <= DEFAULT_WORK_SIDE]
    return below[-1] if below else None


class SampleCache:
    """Every built-in image at every size the lab can ask for at one of its work sides, and its listing per
    size: built at start-up (fill_size, one call per size) and kept; a PNG preview at the default size is
    kept once made (`keep_png`, by the route, in a worker thread).

    `largest` is the size a sample is served at by default (DEFAULT_SIZE, or less on a server with a
    smaller image_max_side); a work side above it uses it. Other sizes go through load_sample.
    """

    def __init__(self, image_max_side: int) -> None:
        self.largest = min(DEFAULT_SIZE, image_max_side)
        wanted = {min(s, self.largest) for s in offered_sides(image_max_side)} | {self.largest}
        self.sizes = tuple(sorted(s for s in wanted if MIN_SIZE <= s <= MAX_SIZE))
        self._images: dict[tuple[str, int], DecodedImage] = {}
        self._listings: dict[int, list[dict[str, Any]]] = {}
        self._pngs: dict[str, bytes] = {}
        self.filled = threading.Event()  # set once every size is held

    def size_for(self, side: int | None) -> int:
        """The size of a sample when the lab works at `side` (None: the default)."""
        return self.largest if side is None else min(side, self.largest)

    def fill_size(self, size: int) -> None:
        """Build one size of every sample (start-up runs one call per size, in parallel threads)."""
        if size in self._listings:
            return
        for name in SAMPLE_IDS:
            self._images[name, size] = load_sample(name, size=size)
        self._listings[size] = [_entry(s, self._images[s.id, size]) for s in _SAMPLES.values()]

    def wait(self, timeout: float) -> bool:
        """Block until start-up has made every size (True), or timeout seconds (False)."""
        return self.filled.wait(timeout)

    def held(self) -> set[tuple[str, int]]:
        return set(self._images)

    def image(self, name: str, size: int) -> DecodedImage | None:
        """The sample if held (else None: call load_sample, which also says what is wrong with the name)."""
        return self._images.get((name, size)) if isinstance(name, str) else None

    def listing(self, size: int) -> list[dict[str, Any]] | None:
        return self._listings.get(size)

    def png(self, name: str) -> bytes | None:
        """The PNG preview at the default size, if made already."""
        return self._pngs.get(name) if isinstance(name, str) else None

    def keep_png(self, name: str, png: Callable[[DecodedImage], bytes]) -> bytes:
        """Make (in the caller's thread) and keep the PNG preview of a sample at the default size."""
        held = self._pngs.get(name)
        if held is None:
            image = self.image(name, self.largest) or load_sample(name, size=self.largest)
            held = self._pngs.setdefault(name, png(image))
        return held
