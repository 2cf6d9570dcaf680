"""fastinit: fast, bit-reproducible initializers for very large tensors.

Every value is a pure function of (seed, stream, element index, distribution,
parameters, dtype): thread count, chunking, regions and SIMD paths never change a
bit.  See docs/stream.md for the contract.
"""
from typing import Any


def _unbuilt_source_tree():
    # `import fastinit` from a checkout whose extension was never built: say so,
    # instead of Python's "partially initialized module" circular-import message.
    import os
    from importlib.machinery import EXTENSION_SUFFIXES

    here = os.path.dirname(os.path.abspath(__file__))
    built = any(os.path.exists(os.path.join(here, "_core" + s)) for s in EXTENSION_SUFFIXES)
    return here if os.path.exists(os.path.join(here, "_core.pyx")) and not built else None


try:
    from . import _core
except ImportError as _exc:
    _tree = _unbuilt_source_tree()
    if _tree is None:
        raise
    raise ImportError(
        f"fastinit is being imported from its source tree ({_tree}), where the C extension "
        "fastinit._core has not been built: run `pip install -e .` or `python setup.py "
        "build_ext --inplace` in the checkout, or start Python outside it to use an "
        "installed fastinit") from _exc

from ._validate import resolve_dtype, stream_id  # noqa: E402
from ._version import __version__  # noqa: E402
from .fills import (  # noqa: E402
    constant,
    full,
    normal,
    ones,
    random_raw,
    show_config,
    trunc_normal,
    uniform,
    zeros,
)
from .initializers import (  # noqa: E402
    Initializer,
    calculate_gain,
    delta_orthogonal,
    dirac,
    eye,
    fans,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    identity,
    initializer,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    orthogonal,
    sparse,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
)
from .initializers.registry import Entry, available_initializers  # noqa: E402
from .io import to_npy, to_zarr  # noqa: E402

#: Version of the stream contract (docs/stream.md): FI_STREAM_VERSION of the C header.
STREAM_VERSION: int = _core.STREAM_VERSION

__all__ = [
    "__version__", "STREAM_VERSION",
    "uniform", "normal", "trunc_normal", "zeros", "ones", "full", "constant",
    "random_raw", "stream_id", "show_config", "resolve_dtype",
    "calculate_gain", "fans", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform",
    "he_normal", "lecun_uniform", "lecun_normal", "orthogonal", "eye", "dirac",
    "delta_orthogonal", "identity", "sparse", "initializer", "Initializer",
    "available_initializers", "Entry", "recommend", "diagnostics", "to_npy", "to_zarr",
]


def __getattr__(name: str) -> Any:
    # fastinit.diagnostics (and its recommend) load on first use: no import-time cost,
    # and `python -m fastinit.diagnostics` does not find the module already imported.
    if name in ("diagnostics", "recommend"):
        import importlib

        mod = importlib.import_module(".diagnostics", __name__)
        return mod if name == "diagnostics" else mod.recommend
    raise AttributeError(f"module 'fastinit' has no attribute {name!r}")
