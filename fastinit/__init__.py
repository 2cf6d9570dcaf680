"""fastinit: fast, bit-reproducible initializers for very large tensors.

Every value is a pure function of (seed, stream, element index, distribution,
parameters, dtype): thread count, chunking, regions and SIMD paths never change a
bit.  See docs/stream.md for the contract.
"""
from ._version import STREAM_VERSION, __version__
from ._api import (
    constant,
    full,
    normal,
    ones,
    random_raw,
    resolve_dtype,
    show_config,
    stream_id,
    trunc_normal,
    uniform,
    zeros,
)

__all__ = [
    "__version__", "STREAM_VERSION",
    "uniform", "normal", "trunc_normal", "zeros", "ones", "full", "constant",
    "random_raw", "stream_id", "show_config", "resolve_dtype",
]

# --- initializers (fastinit/initializers.py) ---
# --- diagnostics (fastinit/diagnostics.py) ---
from .io import to_npy, to_zarr
__all__ += ["to_npy", "to_zarr"]
