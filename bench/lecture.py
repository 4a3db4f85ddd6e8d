"""What a lecture sends: each student's own photo, the lab's pipeline bodies, an autograder's rounds.

Used by bench/load.py; nothing here talks to a server.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

SIDE = 512
# The lab's default stack, then what the lecturer asks for in each "everyone press run now".
KERNELS = ("sobel_x", "sobel_y", "gaussian", "laplacian")
# Kinds whose answer is the output of the op their `given` describes, so a grader can check it is graded correct.
VALUE_KINDS = ("conv_output_values", "conv_transpose_output_values", "pool_output_values", "unpool_output_values")
SHAPE_KINDS = ("conv_output_shape", "conv_transpose_output_shape")


#: "stream" is what the lab page asks for (a frame per layer); "json" is one body with base64 maps.
TRANSPORT = "stream"


def pipeline_body(image_id: str, kernel: str = "sobel_x") -> dict:
    """What the lab page sends: its default stack, maps at 256 px, streamed a frame per layer."""
    return {"image": {"id": image_id},
            "layers": [{"op": "conv2d", "kernel": kernel, "padding": 1}, {"op": "relu"},
                       {"op": "max_pool2d", "kernel_size": 2}],
            "max_side": 256, "transport": TRANSPORT}


def student_image(seed: int) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of a 512×512 RGB picture no other seed makes.

    Smooth colour fields, a few hard-edged shapes and sensor-like noise, so it compresses and
    filters like a photograph; one in three is a PNG (a screenshot), the others JPEG (a phone's camera).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(SIDE, dtype=np.float32) / SIDE
    channels = []
    for _ in range(3):  # sin(a + b) = sin a·cos b + cos a·sin b: a plane wave from two 1-D waves
        fx, fy = rng.uniform(1, 9, 2)
        a, b = 2 * np.pi * fy * t[:, None] + rng.uniform(0, 2 * np.pi), 2 * np.pi * fx * t[None, :]
        channels.append(110 + 70 * (np.sin(a) * np.cos(b) + np.cos(a) * np.sin(b)))
    arr = np.stack(channels, -1)
    for _ in range(6):
        y0, x0 = rng.integers(0, SIDE - 64, 2)
        h, w = rng.integers(24, 160, 2)
        arr[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 255, 3)
    arr += rng.integers(-12, 13, arr.shape, dtype=np.int16)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if seed % 3 == 0:
        im.save(buf, format="PNG", compress_level=1)
        return f"student-{seed}.png", buf.getvalue(), "image/png"
    im.save(buf, format="JPEG", quality=88)
    return f"student-{seed}.jpg", buf.getvalue(), "image/jpeg"


def reaction_s(rng: random.Random, cap_s: float) -> float:
    """Seconds between "everyone press run now" and a student's click: log-normal, median 2.5 s, p95 about 6.7 s."""
    return min(cap_s, rng.lognormvariate(0.92, 0.6))


@dataclass(frozen=True)
class Exercise:
    kind: str
    seed: int
    difficulty: int

    @property
    def key(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "difficulty": self.difficulty}


def next_exercise(rng: random.Random) -> Exercise:
    """Mostly value exercises (they call /ops), some shape ones (no op call)."""
    kinds = VALUE_KINDS * 3 + SHAPE_KINDS
    return Exercise(rng.choice(kinds), rng.randrange(2**31), rng.choice((1, 2, 3)))
