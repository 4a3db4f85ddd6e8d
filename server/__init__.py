"""convscope: a teaching instrument for convolution arithmetic.

    import convscope
    ex = convscope.exercise("conv_output_shape", seed=7, difficulty=1)
    convscope.grade("conv_output_shape", 7, 1, answer=[1, 8, 5, 5])
    convscope.Client("http://127.0.0.1:8000").grade(...)   # the same calls over HTTP
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {"exercise": "grading", "grade": "grading", "kinds": "grading", "GradingError": "grading",
         "results_file": "grading", "Client": "client"}


def __getattr__(name: str) -> Any:
    # Lazy: `import convscope` (e.g. for __version__ or the CLI) does not load torch.
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'convscope' has no attribute {name!r}")


__all__ = ["Client", "GradingError", "__version__", "exercise", "grade", "kinds", "results_file"]
