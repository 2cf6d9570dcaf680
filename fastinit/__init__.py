"""fastinit: fast, bit-reproducible initializers for very large tensors.

Every value is a pure function of (seed, stream, element index, distribution,
parameters, dtype): thread count, chunking, regions and SIMD paths never change a
bit.  See docs/stream.md for the contract.
"""
from ._validate import resolve_dtype, stream_id
from ._version import STREAM_VERSION, __version__
from .fills import (
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

__all__ = [
    "__version__", "STREAM_VERSION",
    "uniform", "normal", "trunc_normal", "zeros", "ones", "full", "constant",
    "random_raw", "stream_id", "show_config", "resolve_dtype",
]

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

__all__ += [
    "calculate_gain", "fans", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform",
    "he_normal", "lecun_uniform", "lecun_normal", "orthogonal", "eye", "dirac",
    "delta_orthogonal", "identity", "sparse", "initializer", "Initializer",
]
__all__ += ["recommend"]


def __getattr__(name):
    # fastinit.recommend lives in fastinit.diagnostics, loaded on first use so that
    # `python -m fastinit.diagnostics` does not find the module already imported.
    if name == "recommend":
        from .diagnostics import recommend

        return recommend
    raise AttributeError(f"module 'fastinit' has no attribute {name!r}")
from .io import to_npy, to_zarr

__all__ += ["to_npy", "to_zarr"]
