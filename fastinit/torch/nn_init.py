"""The torch.nn.init drop-ins: same names, arguments and errors, values from fastinit.
"""
from __future__ import annotations

import warnings

from ._specs import _initializers
from ._tensor import _apply

# ----------------------------------------------------------- the drop-ins ----
_KW_DOC = """
    Keyword-only (fastinit): ``seed`` (int in [0, 2**64); default None: drawn from
    `generator` or torch's default generator), ``stream`` (int or str, default 0;
    e.g. the parameter's name), ``threads`` (OpenMP threads; never changes a value).
"""


def calculate_gain(nonlinearity, param=None):
    """PyTorch's recommended gain for `nonlinearity` (same table, same errors).

    >>> import fastinit.torch as finit
    >>> finit.calculate_gain("relu") == 2 ** 0.5
    True
    """
    return _initializers().calculate_gain(nonlinearity, param)


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Fill `tensor` with U(a, b) in place; equals ``fastinit.uniform(shape, a, b, ...)``.

    >>> import torch, fastinit, fastinit.torch as finit
    >>> w = finit.uniform_(torch.empty(3, 5), -0.1, 0.1, seed=0)
    >>> bool((w.numpy() == fastinit.uniform((3, 5), -0.1, 0.1, seed=0)).all())
    True
    """
    return _apply(tensor, "uniform", dict(a=a, b=b), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Fill `tensor` with N(mean, std**2) in place; equals ``fastinit.normal(shape, mean, std, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.normal_(torch.empty(1000, 1000, dtype=torch.bfloat16), 0.0, 0.02, seed=0)
    >>> abs(float(w.float().std()) - 0.02) < 1e-3
    True
    """
    return _apply(tensor, "normal", dict(mean=mean, std=std), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None,
                  stream=0, threads=None):
    """Fill `tensor` with N(mean, std**2) truncated to the ABSOLUTE bounds [a, b] (PyTorch's
    convention; the default [-2, 2] is hardly a truncation for std=0.02).

    Equals ``fastinit.trunc_normal(shape, mean, std, (a - mean) / std, (b - mean) / std, ...)``.
    Exact inverse-CDF sampling: one draw per element, no rejection loop, no temporaries,
    accurate far in the tails; ``std=0`` gives ``mean`` clamped into [a, b].

    >>> import torch, fastinit.torch as finit
    >>> w = finit.trunc_normal_(torch.empty(10_000), 0.0, 1.0, a=-0.5, b=0.5, seed=0)
    >>> bool((w.abs() <= 0.5).all())
    True
    """
    return _apply(tensor, "trunc_normal", dict(mean=mean, std=std, a=a, b=b), generator=generator,
                  seed=seed, stream=stream, threads=threads)


def constant_(tensor, val):
    """Fill `tensor` with `val`.

    >>> import torch, fastinit.torch as finit
    >>> finit.constant_(torch.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    return _apply(tensor, "constant", dict(val=val))


def ones_(tensor):
    """Fill `tensor` with ones.

    >>> import torch, fastinit.torch as finit
    >>> finit.ones_(torch.empty(2)).tolist()
    [1.0, 1.0]
    """
    return _apply(tensor, "ones", {})


def zeros_(tensor):
    """Fill `tensor` with zeros.

    >>> import torch, fastinit.torch as finit
    >>> finit.zeros_(torch.empty(2)).tolist()
    [0.0, 0.0]
    """
    return _apply(tensor, "zeros", {})


def eye_(tensor):
    """Fill the 2-D `tensor` with the identity matrix (as ``torch.nn.init.eye_``).

    >>> import torch, fastinit.torch as finit
    >>> finit.eye_(torch.empty(2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    return _apply(tensor, "eye", {})


def dirac_(tensor, groups=1):
    """Fill the 3-, 4- or 5-D `tensor` with the Dirac delta (as ``torch.nn.init.dirac_``).

    >>> import torch, fastinit.torch as finit
    >>> w = finit.dirac_(torch.empty(2, 2, 3))
    >>> w[0, 0].tolist(), w[0, 1].tolist()
    ([0.0, 1.0, 0.0], [0.0, 0.0, 0.0])
    """
    return _apply(tensor, "dirac", dict(groups=groups))


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Xavier/Glorot uniform: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).

    Equals ``fastinit.xavier_uniform(shape, gain, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.xavier_uniform_(torch.empty(300, 100), seed=0)
    >>> float(w.abs().max()) < (6 / 400) ** 0.5
    True
    """
    return _apply(tensor, "xavier_uniform", dict(gain=gain), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Xavier/Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Equals ``fastinit.xavier_normal(shape, gain, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.xavier_normal_(torch.empty(300, 100), seed=0)
    >>> abs(float(w.std()) - (2 / 400) ** 0.5) < 0.003
    True
    """
    return _apply(tensor, "xavier_normal", dict(gain=gain), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def _warn_if_empty(tensor):
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                     seed=None, stream=0, threads=None):
    """Kaiming/He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan_mode).

    Equals ``fastinit.kaiming_uniform(shape, a, mode, nonlinearity, ...)``.  A zero-element
    tensor warns and is left as is, as in PyTorch.

    >>> import math, torch, fastinit.torch as finit
    >>> w = finit.kaiming_uniform_(torch.empty(64, 256), a=math.sqrt(5), seed=0)  # nn.Linear's
    >>> float(w.abs().max()) < 1 / 16
    True
    """
    if _warn_if_empty(tensor):
        return tensor
    return _apply(tensor, "kaiming_uniform", dict(a=a, mode=mode, nonlinearity=nonlinearity),
                  generator=generator, seed=seed, stream=stream, threads=threads)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                    seed=None, stream=0, threads=None):
    """Kaiming/He normal: N(0, std**2), std = gain / sqrt(fan_mode).

    Equals ``fastinit.kaiming_normal(shape, a, mode, nonlinearity, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.kaiming_normal_(torch.empty(256, 512), mode="fan_out", nonlinearity="relu", seed=0)
    >>> abs(float(w.std()) - (2 / 256) ** 0.5) < 0.002
    True
    """
    if _warn_if_empty(tensor):
        return tensor
    return _apply(tensor, "kaiming_normal", dict(a=a, mode=mode, nonlinearity=nonlinearity),
                  generator=generator, seed=seed, stream=stream, threads=threads)


def orthogonal_(tensor, gain=1, generator=None, *, seed=None, stream=0, threads=None):
    """A (semi-)orthogonal matrix times `gain`; dims after the first are flattened.

    Equals ``fastinit.orthogonal(shape, gain, ...)`` (Gaussian from the stream, QR,
    sign fix; the same for any thread count).

    >>> import torch, fastinit.torch as finit
    >>> q = finit.orthogonal_(torch.empty(4, 6, dtype=torch.float64), seed=0)
    >>> bool(torch.allclose(q @ q.T, torch.eye(4, dtype=torch.float64)))
    True
    """
    if tensor.numel() == 0 and tensor.dim() >= 2:
        return tensor
    return _apply(tensor, "orthogonal", dict(gain=gain), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, stream=0, threads=None):
    """2-D sparse init: N(0, std**2) with a fraction `sparsity` of each column set to zero.

    Equals ``fastinit.sparse(shape, sparsity, std, ...)``: which entries are zero is
    decided by the stream, so it is reproducible and thread-independent.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.sparse_(torch.empty(10, 4), 0.25, seed=0)  # ceil(0.25 * 10) zeros per column
    >>> (w == 0).sum(0).tolist()
    [3, 3, 3, 3]
    """
    return _apply(tensor, "sparse", dict(sparsity=sparsity, std=std), generator=generator,
                  seed=seed, stream=stream, threads=threads)


for _f in (uniform_, normal_, trunc_normal_, xavier_uniform_, xavier_normal_, kaiming_uniform_,
           kaiming_normal_, orthogonal_, sparse_):
    _f.__doc__ += _KW_DOC


del _f


_DROP_INS = {
    "uniform_": uniform_, "normal_": normal_, "trunc_normal_": trunc_normal_,
    "constant_": constant_, "ones_": ones_, "zeros_": zeros_, "eye_": eye_, "dirac_": dirac_,
    "xavier_uniform_": xavier_uniform_, "xavier_normal_": xavier_normal_,
    "kaiming_uniform_": kaiming_uniform_, "kaiming_normal_": kaiming_normal_,
    "orthogonal_": orthogonal_, "sparse_": sparse_,
}
