"""Layers and networks: the one table of layer kinds (table.py), each layer's shape arithmetic (build.py)
and networks of named layers with add / concat merges (graph.py). `from convscope.core.layers import ...`
is the public face; see build.py for the counting conventions."""
from .build import (MAX_COUNT, MAX_LAYERS, MAX_SIZE, Layer, check_input_shape, is_int, shape_text,  # noqa: F401
                    size_pair)
from .graph import INPUT, summarize, walk  # noqa: F401
from .table import LAYER_KEYS, LAYER_TABLE, MERGE_OPS, STACK_OPS, published  # noqa: F401
