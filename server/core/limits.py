"""The caps every computation is checked against before it allocates."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .exceptions import TooLarge


@dataclass(frozen=True)
class Limits:
    max_input_elements: int = 1_000_000
    max_output_elements: int = 4_000_000
    max_toeplitz_entries: int = 250_000
    max_trace_terms: int = 400_000
    max_im2col_elements: int = 2_000_000


DEFAULT_LIMITS = Limits()


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def check_cap(count: int, cap: int, what: str, loc: str, hint: str = "") -> None:
    if count > cap:
        raise TooLarge(f"{what} would hold {count:,} values, more than this server's cap of {cap:,}{hint}.", [loc])
