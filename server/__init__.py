"""convscope: a teaching instrument for convolution arithmetic."""

__version__ = "0.1.0"
