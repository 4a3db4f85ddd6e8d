"""Fast JSON: orjson writes numpy arrays directly, with no Python float objects in between."""
from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from starlette.responses import JSONResponse as _StarletteJSON


def _default(value: Any) -> Any:
    # orjson writes C-contiguous arrays natively; views (transposes, Jacobian reshapes) come here once.
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


class JSONResponse(_StarletteJSON):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
