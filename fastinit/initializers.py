"""Every initializer users know, with the exact conventions of the framework it comes from.

Each name below follows one framework's definition (scaling, fans, layout, errors);
where frameworks disagree, fastinit offers each convention under its own name.

=====================  =====================  =============================================
fastinit name          matches                 convention
=====================  =====================  =============================================
calculate_gain         PyTorch calculate_gain  same table and errors
fans                   PyTorch / JAX / Keras   layout="torch" (out, in, *kernel) as
                                               _calculate_fan_in_and_fan_out (ints);
                                               layout="jax" (*kernel, in, out) as JAX
                                               _compute_fans (floats) with Keras's 0-D/1-D
                                               guards
xavier_uniform         PyTorch xavier_uniform_ bound = gain*sqrt(6/(fan_in+fan_out))
xavier_normal          PyTorch xavier_normal_  untruncated N(0, gain^2*2/(fan_in+fan_out))
kaiming_uniform        PyTorch kaiming_uniform_ bound = gain*sqrt(3/fan), a=0, leaky_relu
kaiming_normal         PyTorch kaiming_normal_ untruncated N(0, gain^2/fan)
variance_scaling       JAX variance_scaling    (Keras VarianceScaling: its "normal" is our
                                               "truncated_normal", "untruncated_normal" is
                                               accepted as an alias of "normal")
glorot_uniform/normal  JAX, Keras GlorotX      variance_scaling(1, "fan_avg", ...)
he_uniform/normal      JAX, Keras HeX          variance_scaling(2, "fan_in", ...)
lecun_uniform/normal   JAX, Keras LecunX       variance_scaling(1, "fan_in", ...)
orthogonal             PyTorch orthogonal_     rows = shape[0], cols = prod(rest);
                       JAX / Keras orthogonal  column_axis=k (JAX), column_axis=-1 (Keras)
eye                    PyTorch eye_            2-D, ones on the main diagonal
dirac                  PyTorch dirac_          3-5-D, groups, centre at size // 2
delta_orthogonal       JAX delta_orthogonal    3-5-D, orthogonal (in, out) matrix at the
                                               kernel centre (k - 1) // 2, zeros elsewhere
identity               Keras Identity          2-D, gain * eye
sparse                 PyTorch sparse_         2-D, N(0, std), ceil(sparsity*rows) zeros
                                               per column (positions from the stream)
zeros, ones, constant  all                     from the core (fastinit.zeros, ...)
initializer            JAX / Keras factories   initializer("he_normal", ...) or
                                               fastinit.he_normal.with_(...)
=====================  =====================  =============================================

"Normal" in the PyTorch names is the untruncated normal; in the JAX/Keras names
("glorot_normal", "he_normal", "lecun_normal", variance_scaling's default) it is the
normal truncated to [-2, 2] standard deviations and divided by 0.87962566103423978
(the std of that truncated standard normal), so the variance is exactly scale / fan.

Every function takes the core's keywords ``seed`` (required where random), ``stream``,
``dtype``, ``out``, ``threads``, and ``region`` (fans always come from the full logical
``shape``, so ``f(shape, region=r, ...)`` equals ``f(shape, ...)[r]``).  Zero-element
shapes return at once, after every argument has been checked.

orthogonal and delta_orthogonal compute the whole matrix and slice it when a region is
given (the QR couples every element); sparse computes only the region's values and the
zero pattern of the region's columns.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import threading
import warnings

import numpy as np

from . import _api
from ._api import _as_float, _as_int, _shape, _target, _threads, resolve_dtype, stream_id

__all__ = [
    "calculate_gain", "fans",
    "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
    "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal",
    "orthogonal", "eye", "dirac", "delta_orthogonal", "identity", "sparse",
    "initializer", "Initializer",
]

# std of a standard normal truncated to [-2, 2] (JAX and Keras use this constant)
TRUNC_STD_2 = 0.87962566103423978

_LINEAR_FNS = ["linear", "conv1d", "conv2d", "conv3d",
               "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
_VS_MODES = ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
_VS_DISTRIBUTIONS = ["truncated_normal", "normal", "uniform"]


# -------------------------------------------------------------------- gains ----
def calculate_gain(nonlinearity, param=None):
    """The recommended gain for `nonlinearity`, exactly as ``torch.nn.init.calculate_gain``.

    ================= ==========================================
    nonlinearity      gain
    ================= ==========================================
    linear, conv*d,   1
    conv_transpose*d,
    sigmoid
    tanh              5 / 3
    relu              sqrt(2)
    leaky_relu        sqrt(2 / (1 + negative_slope**2)), slope 0.01 when `param` is None
    selu              3 / 4
    ================= ==========================================

    `param` must be an int or a float (NumPy real scalars are accepted too), not a bool.
    Anything else raises ValueError, as PyTorch does.

    >>> import fastinit
    >>> fastinit.calculate_gain("relu") == 2 ** 0.5
    True
    >>> round(fastinit.calculate_gain("leaky_relu", 0.2), 6)
    1.38675
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (bool, np.bool_)):
            # bool is an int subclass: PyTorch rejects it explicitly
            raise ValueError(f"negative_slope {param} not a valid number")
        elif isinstance(param, (int, float, np.integer, np.floating)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


# --------------------------------------------------------------------- fans ----
def _axes(name, axis, ndim):
    """A tuple of distinct non-negative axes from an int or a sequence of ints."""
    if isinstance(axis, (list, tuple)):
        raw = list(axis)
    else:
        raw = [axis]
    out = []
    for a in raw:
        a = _as_int(name, a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name} {a} is out of range for a shape with {ndim} dimensions")
        a %= ndim
        if a in out:
            raise ValueError(f"{name} names axis {a} twice")
        out.append(a)
    return tuple(out)


def _is_axis(value, default):
    """True when `value` is None or the int `default` (the layout's own axis)."""
    if value is None:
        return True
    return (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            and value == default)


def fans(shape, layout="torch", in_axis=None, out_axis=None, batch_axis=()):
    """(fan_in, fan_out) of a weight of `shape`, computed the way its framework does.

    layout="torch": shape is ``(out, in, *kernel)``; fan_in = in * prod(kernel),
        fan_out = out * prod(kernel), as ints (``torch.nn.init._calculate_fan_in_and_fan_out``).
        Fewer than 2 dimensions is a ValueError, as in PyTorch.
    layout="jax": shape is ``(*kernel, in, out)`` with ``in_axis=-2, out_axis=-1`` and
        ``batch_axis=()``; receptive field = prod(shape) / (in * out * batch) and
        fan = size * receptive field, as floats (``jax.nn.initializers`` ``_compute_fans``).
        With the default axes, a 0-D shape gives (1.0, 1.0) and a 1-D shape (n, n) (Keras's
        guards; JAX itself rejects them).

    Explicit `in_axis`, `out_axis`, `batch_axis` (ints or tuples of ints, negative allowed)
    override the layout's axes; the receptive field is then the product of the other axes.
    The result keeps the layout's number type (int for torch, float for jax).

    >>> import fastinit
    >>> fastinit.fans((64, 32, 3, 3))               # PyTorch Conv2d weight
    (288, 576)
    >>> fastinit.fans((3, 3, 32, 64), layout="jax")  # Flax Conv kernel
    (288.0, 576.0)
    >>> fastinit.fans((2, 4, 8), layout="jax", batch_axis=0)
    (4.0, 8.0)
    """
    if layout not in ("torch", "jax"):
        raise ValueError(f"layout must be 'torch' (out, in, *kernel) or 'jax' (*kernel, in, out), got {layout!r}")
    dims = _shape(shape)
    nd = len(dims)
    if batch_axis is None or (isinstance(batch_axis, (list, tuple)) and len(batch_axis) == 0):
        batch_axis = ()
    defaults = in_axis is None and out_axis is None and batch_axis == ()
    if layout == "torch":
        if nd < 2:
            raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
        if defaults:
            receptive = math.prod(dims[2:])
            return dims[1] * receptive, dims[0] * receptive
        in_axis = 1 if in_axis is None else in_axis
        out_axis = 0 if out_axis is None else out_axis
    else:
        jax_defaults = (_is_axis(in_axis, -2) and _is_axis(out_axis, -1) and batch_axis == ())
        if nd == 0 and jax_defaults:
            return 1.0, 1.0
        if nd == 1 and jax_defaults:
            return float(dims[0]), float(dims[0])
        in_axis = -2 if in_axis is None else in_axis
        out_axis = -1 if out_axis is None else out_axis
    ins = _axes("in_axis", in_axis, nd)
    outs = _axes("out_axis", out_axis, nd)
    batch = _axes("batch_axis", batch_axis, nd)
    if set(ins) & set(outs) or set(ins) & set(batch) or set(outs) & set(batch):
        raise ValueError(f"in_axis {in_axis}, out_axis {out_axis} and batch_axis {batch_axis} "
                         "must name different axes")
    in_size = math.prod(dims[a] for a in ins)
    out_size = math.prod(dims[a] for a in outs)
    batch_size = math.prod(dims[a] for a in batch)
    used = set(ins) | set(outs) | set(batch)
    receptive = math.prod(d for a, d in enumerate(dims) if a not in used)
    if layout == "torch":
        return in_size * receptive, out_size * receptive
    if in_size * out_size * batch_size == 0:
        return float(in_size * receptive), float(out_size * receptive)
    # JAX's own arithmetic (float division), so the numbers match it to the last bit
    receptive_f = math.prod(dims) / in_size / out_size / batch_size
    return in_size * receptive_f, out_size * receptive_f


def _fan_for_mode(fan_in, fan_out, mode, valid):
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg" and "fan_avg" in valid:
        return (fan_in + fan_out) / 2
    if mode == "fan_geo_avg" and "fan_geo_avg" in valid:
        return (fan_in * fan_out) ** 0.5
    raise ValueError(f"Mode {mode} not supported, please use one of {valid}")


def _numel(dims):
    return math.prod(dims)


def _empty_result(shape, dtype, out, region):
    """Validate the target and return it unwritten (zero-element shapes)."""
    dims, starts, lens, dt = _target(shape, dtype, out, region)
    return out if out is not None else np.empty(lens, dtype=dt)


def _check_core_kw(seed, stream, threads):
    _api._seed(seed)
    stream_id(stream)
    _threads(threads)


# --------------------------------------------------------- PyTorch family ----
def xavier_uniform(shape, gain=1.0, *, layout="torch", seed, stream=0, dtype=None, out=None,
                   region=None, threads=None):
    """Xavier/Glorot uniform, as ``torch.nn.init.xavier_uniform_``: U(-a, a) with
    ``a = gain * sqrt(6 / (fan_in + fan_out))``; fans in the torch layout by default.

    >>> import fastinit
    >>> w = fastinit.xavier_uniform((256, 128), seed=0)
    >>> bound = (6 / (128 + 256)) ** 0.5
    >>> bool(abs(w).max() < bound) and abs(float(w.std()) - bound / 3 ** 0.5) < 1e-3
    True
    """
    gain = _as_float("gain", gain)
    dims = _shape(shape)
    fan_in, fan_out = fans(dims, layout)
    if _numel(dims) == 0:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _api.uniform(dims, -bound, bound, seed=seed, stream=stream, dtype=dtype, out=out,
                        region=region, threads=threads)


def xavier_normal(shape, gain=1.0, *, layout="torch", seed, stream=0, dtype=None, out=None,
                  region=None, threads=None):
    """Xavier/Glorot normal, as ``torch.nn.init.xavier_normal_``: untruncated N(0, std^2)
    with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import fastinit
    >>> w = fastinit.xavier_normal((512, 512), seed=0)
    >>> abs(float(w.std()) - (2 / 1024) ** 0.5) < 1e-3
    True
    """
    gain = _as_float("gain", gain)
    dims = _shape(shape)
    fan_in, fan_out = fans(dims, layout)
    if _numel(dims) == 0:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _api.normal(dims, 0.0, std, seed=seed, stream=stream, dtype=dtype, out=out,
                       region=region, threads=threads)


def _kaiming_std(dims, a, mode, nonlinearity, layout):
    if not isinstance(mode, str):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    gain = calculate_gain(nonlinearity, a)
    if layout not in ("torch", "jax"):
        fans((1, 1), layout)  # raises the layout error
    if _numel(dims) == 0:
        return None  # PyTorch returns before computing fans for zero-element tensors
    fan_in, fan_out = fans(dims, layout)
    fan = fan_in if mode == "fan_in" else fan_out
    return gain / math.sqrt(fan)


def kaiming_uniform(shape, a=0, mode="fan_in", nonlinearity="leaky_relu", *, layout="torch",
                    seed, stream=0, dtype=None, out=None, region=None, threads=None):
    """Kaiming/He uniform, as ``torch.nn.init.kaiming_uniform_``: U(-b, b) with
    ``b = gain * sqrt(3 / fan)``, gain = calculate_gain(nonlinearity, a), fan from `mode`
    ("fan_in" or "fan_out").  ``a=math.sqrt(5)`` gives nn.Linear's default weight
    (bound 1 / sqrt(fan_in)).

    >>> import fastinit, math
    >>> w = fastinit.kaiming_uniform((64, 100), a=math.sqrt(5), seed=0)  # nn.Linear(100, 64)
    >>> bool(abs(w).max() < 1 / math.sqrt(100))
    True
    """
    dims = _shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, layout)
    if std is None:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    bound = math.sqrt(3.0) * std
    return _api.uniform(dims, -bound, bound, seed=seed, stream=stream, dtype=dtype, out=out,
                        region=region, threads=threads)


def kaiming_normal(shape, a=0, mode="fan_in", nonlinearity="leaky_relu", *, layout="torch",
                   seed, stream=0, dtype=None, out=None, region=None, threads=None):
    """Kaiming/He normal, as ``torch.nn.init.kaiming_normal_``: untruncated N(0, std^2) with
    ``std = gain / sqrt(fan)``.

    >>> import fastinit
    >>> w = fastinit.kaiming_normal((256, 64, 3, 3), mode="fan_out", nonlinearity="relu", seed=0)
    >>> abs(float(w.std()) - (2 / (256 * 9)) ** 0.5) < 1e-3
    True
    """
    dims = _shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, layout)
    if std is None:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    return _api.normal(dims, 0.0, std, seed=seed, stream=stream, dtype=dtype, out=out,
                       region=region, threads=threads)


# ------------------------------------------------------------ JAX family ----
def variance_scaling(shape, scale=1.0, mode="fan_in", distribution="truncated_normal", *,
                     in_axis=-2, out_axis=-1, batch_axis=(), seed, stream=0, dtype=None,
                     out=None, region=None, threads=None):
    """Variance scaling, as ``jax.nn.initializers.variance_scaling``: variance = scale / n.

    n is fan_in, fan_out, fan_avg = (fan_in + fan_out) / 2 or fan_geo_avg = sqrt(fan_in *
    fan_out), with fans in the JAX layout ``(*kernel, in, out)`` (see :func:`fans`).

    distribution:
      * "truncated_normal": TN(-2, 2) * sqrt(variance) / 0.87962566103423978 (values lie
        within 2 of those stds, the std is sqrt(variance));
      * "normal" (alias "untruncated_normal", Keras's name): N(0, variance);
      * "uniform": U(-1, 1) * sqrt(3 * variance).

    Keras's VarianceScaling gives the same numbers; its distribution="normal" means our
    "truncated_normal".

    >>> import fastinit
    >>> w = fastinit.variance_scaling((3, 3, 64, 128), 2.0, "fan_in", "truncated_normal", seed=0)
    >>> abs(float(w.std()) - (2 / (9 * 64)) ** 0.5) < 1e-3
    True
    """
    scale = _as_float("scale", scale)
    if not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    if not isinstance(mode, str) or mode not in _VS_MODES:
        raise ValueError(f"Mode {mode} not supported, please use one of {_VS_MODES}")
    if distribution == "untruncated_normal":
        distribution = "normal"
    if not isinstance(distribution, str) or distribution not in _VS_DISTRIBUTIONS:
        raise ValueError(f"Distribution {distribution} not supported, please use one of "
                         f"{_VS_DISTRIBUTIONS} (or 'untruncated_normal')")
    dims = _shape(shape)
    fan_in, fan_out = fans(dims, "jax", in_axis, out_axis, batch_axis)
    if _numel(dims) == 0:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    variance = scale / _fan_for_mode(fan_in, fan_out, mode, _VS_MODES)
    kw = dict(seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if distribution == "truncated_normal":
        return _api.trunc_normal(dims, 0.0, math.sqrt(variance) / TRUNC_STD_2, -2.0, 2.0, **kw)
    if distribution == "normal":
        return _api.normal(dims, 0.0, math.sqrt(variance), **kw)
    bound = math.sqrt(3.0 * variance)
    return _api.uniform(dims, -bound, bound, **kw)


def _vs_alias(name, scale, mode, distribution, matches):
    def init(shape, *, in_axis=-2, out_axis=-1, batch_axis=(), seed, stream=0, dtype=None,
             out=None, region=None, threads=None):
        return variance_scaling(shape, scale, mode, distribution, in_axis=in_axis,
                                out_axis=out_axis, batch_axis=batch_axis, seed=seed,
                                stream=stream, dtype=dtype, out=out, region=region,
                                threads=threads)

    dist_text = {"truncated_normal": "truncated normal (on [-2, 2] stds, corrected by "
                                     "0.87962566103423978)",
                 "uniform": "uniform"}[distribution]
    std_text = {"fan_avg": "sqrt(2 / (fan_in + fan_out))", "fan_in": f"sqrt({scale:g} / fan_in)"}[mode]
    init.__name__ = init.__qualname__ = name
    init.__doc__ = (
        f"{matches}: variance_scaling(scale={scale:g}, mode={mode!r}, "
        f"distribution={distribution!r}).\n\n"
        f"    A {dist_text} with std {std_text}; fans in the JAX layout (*kernel, in, out).\n\n"
        f"    >>> import fastinit\n"
        f"    >>> w = fastinit.{name}((3, 3, 64, 128), seed=0)\n"
        f"    >>> w.shape\n"
        f"    (3, 3, 64, 128)\n")
    return init


glorot_uniform = _vs_alias("glorot_uniform", 1.0, "fan_avg", "uniform",
                           "jax.nn.initializers.glorot_uniform, Keras GlorotUniform")
glorot_normal = _vs_alias("glorot_normal", 1.0, "fan_avg", "truncated_normal",
                          "jax.nn.initializers.glorot_normal, Keras GlorotNormal")
he_uniform = _vs_alias("he_uniform", 2.0, "fan_in", "uniform",
                       "jax.nn.initializers.he_uniform, Keras HeUniform")
he_normal = _vs_alias("he_normal", 2.0, "fan_in", "truncated_normal",
                      "jax.nn.initializers.he_normal, Keras HeNormal")
lecun_uniform = _vs_alias("lecun_uniform", 1.0, "fan_in", "uniform",
                          "jax.nn.initializers.lecun_uniform, Keras LecunUniform")
lecun_normal = _vs_alias("lecun_normal", 1.0, "fan_in", "truncated_normal",
                         "jax.nn.initializers.lecun_normal, Keras LecunNormal")


# ----------------------------------------------------- structured helpers ----
def _round_to(values, dt):
    """float64 values rounded to `dt`; 16-bit types through float32, as the core does."""
    if dt.itemsize == 2:
        return np.asarray(values, dtype=np.float64).astype(np.float32).astype(dt)
    return np.asarray(values, dtype=np.float64).astype(dt)


def _zeros_target(lens, dt, out, threads):
    """`out` (or a new array) of shape `lens` set to zero by the threaded core."""
    if out is None:
        out = np.empty(lens, dtype=dt)
    if out.size == 0:
        return out  # NumPy gives empty arrays zero strides, which the core's out check refuses
    return _api.full(lens, 0.0, out=out, threads=threads)


# A reference-counted pin of the BLAS thread pool to one thread: LAPACK's blocked QR may
# sum in a different order with more threads, so one thread makes the bits independent of
# the machine and of the user's settings.  Concurrent callers share one pin; the user's
# limits come back when the last one leaves.
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_restore = None
_blas_controller = None


_blas_warned = False


def _warn_unpinned(why):
    global _blas_warned
    if not _blas_warned:
        _blas_warned = True
        warnings.warn(f"{why}: fastinit.orthogonal runs its QR with the BLAS's own thread count, "
                      "so the last bits of its result may depend on it; install threadpoolctl "
                      "(pip install threadpoolctl) to make them independent", RuntimeWarning,
                      stacklevel=4)


def _blas_controller_or_none():
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()
        except Exception:  # threadpoolctl missing or unable to inspect this process
            _blas_controller = False
    return _blas_controller or None


@contextlib.contextmanager
def _one_blas_thread():
    global _blas_depth, _blas_restore
    with _blas_lock:
        if _blas_depth == 0:
            ctl = _blas_controller_or_none()
            _blas_restore = None
            if ctl is None:
                _warn_unpinned("threadpoolctl is not available")
            else:
                try:
                    _blas_restore = ctl.limit(limits=1, user_api="blas")
                except Exception:  # an unusual BLAS that refuses: run unpinned
                    _blas_restore = None
                    _warn_unpinned("the BLAS thread count could not be set")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_restore is not None:
                try:
                    _blas_restore.restore_original_limits()
                finally:
                    _blas_restore = None


def _orthogonal_matrix(rows, cols, seed, stream, threads):
    """float64 (rows, cols) matrix with orthonormal rows or columns (Haar distributed)."""
    g = _api.normal((rows, cols), seed=seed, stream=stream, dtype="float64", threads=threads)
    if rows < cols:
        g = g.T
    with _one_blas_thread():
        q, r = np.linalg.qr(g)
    d = np.sign(np.diagonal(r))
    d[d == 0] = 1.0  # a zero pivot (probability 0) keeps its column rather than zeroing it
    q *= d
    return q.T if rows < cols else q


# ---------------------------------------------------------------- structured ----
def orthogonal(shape, gain=1.0, *, column_axis=None, seed, stream=0, dtype=None, out=None,
               region=None, threads=None):
    """A (semi-)orthogonal matrix times `gain` (Saxe et al. 2013).

    column_axis=None (default, ``torch.nn.init.orthogonal_``): the tensor is viewed as a
    matrix of ``rows = shape[0]`` by ``cols = prod(shape[1:])``.  column_axis=k
    (``jax.nn.initializers.orthogonal``; Keras's Orthogonal is k = -1): ``cols = shape[k]``,
    ``rows`` = the product of the other axes, and the matrix is laid out with its column
    index on axis k.

    Method: G = fastinit.normal((rows, cols), dtype="float64", seed, stream) (a plain
    matrix, element (r, c) at index r * cols + c), transposed when rows < cols; Householder
    QR by NumPy (LAPACK) with the BLAS pinned to one thread (threadpoolctl, when it is
    installed); Q times sign(diag(R)); transposed back; times gain in float64; rounded to
    `dtype` (16-bit types through float32).  The result does not depend on `threads` or on
    the BLAS thread count.  ``region`` is supported by computing the whole matrix and
    slicing it.

    >>> import fastinit, numpy as np
    >>> q = fastinit.orthogonal((3, 5), seed=0, dtype="float64")
    >>> bool(np.allclose(q @ q.T, np.eye(3)))
    True
    """
    gain = _as_float("gain", gain)
    dims, starts, lens, dt = _target(shape, dtype, out, region)
    seed = _api._seed(seed)
    stream = stream_id(stream)
    nthreads = _threads(threads)
    if len(dims) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if column_axis is not None:
        column_axis = _axes("column_axis", column_axis, len(dims))[0]
    if _numel(dims) == 0:
        return out if out is not None else np.empty(lens, dtype=dt)
    if column_axis is None:
        rows = dims[0]
        cols = _numel(dims) // rows
        full = _orthogonal_matrix(rows, cols, seed, stream, nthreads).reshape(dims)
    else:
        cols = dims[column_axis]
        rows = _numel(dims) // cols
        q = _orthogonal_matrix(rows, cols, seed, stream, nthreads)
        rest = dims[:column_axis] + dims[column_axis + 1:]
        full = np.moveaxis(q.reshape(rest + (cols,)), -1, column_axis)
    if gain != 1.0:
        full = full * gain
    sl = tuple(slice(s, s + n) for s, n in zip(starts, lens))
    values = _round_to(full[sl], dt)
    if out is None:
        return values
    out[...] = values
    return out


def eye(shape, *, dtype=None, out=None, region=None, threads=None):
    """The identity matrix of a 2-D `shape` (ones where row == column), as
    ``torch.nn.init.eye_`` / ``torch.eye(n, m)``.

    >>> import fastinit
    >>> fastinit.eye((2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    return _scaled_eye(shape, 1.0, dtype, out, region, threads,
                       "Only tensors with 2 dimensions are supported")


def identity(shape, gain=1.0, *, dtype=None, out=None, region=None, threads=None):
    """`gain` times the identity matrix of a 2-D `shape`, as Keras's Identity(gain).

    >>> import fastinit
    >>> fastinit.identity((2, 2), gain=0.5).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    gain = _as_float("gain", gain)
    return _scaled_eye(shape, gain, dtype, out, region, threads, None)


def _scaled_eye(shape, value, dtype, out, region, threads, message):
    dims, starts, lens, dt = _target(shape, dtype, out, region)
    nthreads = _threads(threads)
    if len(dims) != 2:
        raise ValueError(message or ("Identity matrix initializer can only be used for 2D matrices. "
                                     f"Received: shape={dims} of rank {len(dims)}."))
    result = _zeros_target(lens, dt, out, nthreads)
    (r0, c0), (nr, nc) = starts, lens
    i = np.arange(max(r0, c0), min(r0 + nr, c0 + nc))
    if i.size:
        result[i - r0, i - c0] = _round_to(value, dt)
    return result


def dirac(shape, groups=1, *, dtype=None, out=None, region=None, threads=None):
    """The Dirac delta of a 3-, 4- or 5-D convolution weight ``(out, in, *kernel)``, as
    ``torch.nn.init.dirac_``: for each group g and d < min(out // groups, in), a one at
    ``[g * (out // groups) + d, d, k1 // 2, ...]``, zeros elsewhere.

    >>> import fastinit
    >>> w = fastinit.dirac((2, 2, 3))
    >>> w[:, :, 1].tolist(), float(w.sum())
    ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    dims, starts, lens, dt = _target(shape, dtype, out, region)
    nthreads = _threads(threads)
    groups = _as_int("groups", groups, 1)
    if len(dims) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if dims[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    result = _zeros_target(lens, dt, out, nthreads)
    per_group = dims[0] // groups
    d = np.arange(min(per_group, dims[1]))
    g = np.arange(groups)
    out_ch = (g[:, None] * per_group + d[None, :]).ravel()
    in_ch = np.tile(d, groups)
    index = [out_ch, in_ch] + [np.full(out_ch.size, k // 2) for k in dims[2:]]
    inside = np.ones(out_ch.size, dtype=bool)
    for ax, idx in enumerate(index):
        inside &= (idx >= starts[ax]) & (idx < starts[ax] + lens[ax])
    if inside.any():
        result[tuple(idx[inside] - starts[ax] for ax, idx in enumerate(index))] = 1.0
    return result


def delta_orthogonal(shape, scale=1.0, column_axis=-1, *, seed, stream=0, dtype=None, out=None,
                     region=None, threads=None):
    """Delta-orthogonal kernel (Xiao et al. 2018), as ``jax.nn.initializers.delta_orthogonal``:
    a 3-, 4- or 5-D kernel in the JAX layout ``(*spatial, in, out)`` with in <= out, zero
    except at the spatial centre ``((k - 1) // 2, ...)``, which holds
    ``orthogonal(shape[-2:], scale, column_axis=column_axis)`` (same seed and stream).

    >>> import fastinit, numpy as np
    >>> w = fastinit.delta_orthogonal((3, 3, 4, 8), seed=0, dtype="float64")
    >>> m = w[1, 1]
    >>> bool(np.allclose(m @ m.T, np.eye(4))) and float(abs(w).sum() - abs(m).sum()) == 0.0
    True
    """
    scale = _as_float("scale", scale)
    dims, starts, lens, dt = _target(shape, dtype, out, region)
    seed = _api._seed(seed)
    stream = stream_id(stream)
    nthreads = _threads(threads)
    if len(dims) not in (3, 4, 5):
        raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
    if dims[-1] < dims[-2]:
        raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
    column_axis = _axes("column_axis", column_axis, 2)[0]
    result = _zeros_target(lens, dt, out, nthreads)
    if _numel(dims) == 0:
        return result
    centre = tuple((k - 1) // 2 for k in dims[:-2])
    if not all(s <= c < s + n for c, s, n in zip(centre, starts, lens)):
        return result  # the region misses the centre: all zeros, no QR needed
    matrix = orthogonal(dims[-2:], scale, column_axis=column_axis, seed=seed, stream=stream,
                        dtype=dt, threads=nthreads)
    sub = matrix[starts[-2]:starts[-2] + lens[-2], starts[-1]:starts[-1] + lens[-1]]
    result[tuple(c - s for c, s in zip(centre, starts))] = sub
    return result


def sparse(shape, sparsity, std=0.01, *, seed, stream=0, dtype=None, out=None, region=None,
           threads=None):
    """A sparse 2-D matrix, as ``torch.nn.init.sparse_`` (Martens 2010): N(0, std^2) values
    with ``ceil(sparsity * rows)`` zeros in every column.

    Values: ``fastinit.normal(shape, 0, std, seed=seed, stream=stream)``.  Zero positions,
    decided per element by the stream so they are reproducible and thread independent:
    with ``U = fastinit.uniform(shape, dtype="float64", seed=seed, stream=mask_stream)`` where
    ``mask_stream = stream_id("fastinit.sparse:%d" % stream_id(stream))``, element (r, c) is
    zero when r is among the ``ceil(sparsity * rows)`` smallest of column c ordered by
    (U[r, c], r).  ``region`` is supported: only the region's values and the ranks of its
    columns are computed.

    >>> import fastinit
    >>> w = fastinit.sparse((10, 4), 0.3, seed=0)
    >>> [int((w[:, c] == 0).sum()) for c in range(4)]
    [3, 3, 3, 3]
    """
    sparsity = _as_float("sparsity", sparsity)
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be a fraction in [0, 1], got {sparsity}")
    std = _as_float("std", std)
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    dims, starts, lens, dt = _target(shape, dtype, out, region)
    seed = _api._seed(seed)
    stream_v = stream_id(stream)
    nthreads = _threads(threads)
    if len(dims) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if _numel(lens) == 0:
        return out if out is not None else np.empty(lens, dtype=dt)
    region_t = tuple(slice(s, s + n) for s, n in zip(starts, lens))
    result = _api.normal(dims, 0.0, std, seed=seed, stream=stream_v, out=out,
                         dtype=None if out is not None else dt, region=region_t, threads=nthreads)
    rows = dims[0]
    num_zeros = min(rows, math.ceil(sparsity * rows))  # PyTorch's count
    if result.size == 0 or num_zeros == 0:
        return result
    mask_stream = stream_id(f"fastinit.sparse:{stream_v}")
    (r0, c0), (nr, nc) = starts, lens
    block = max(1, (1 << 21) // rows)  # columns per block: bounded temporary memory
    for b0 in range(c0, c0 + nc, block):
        b1 = min(c0 + nc, b0 + block)
        # one row of `u_t` per column, so each column's ranking runs over contiguous memory
        u_t = np.empty((b1 - b0, rows), dtype=np.float64)
        _api.uniform(dims, seed=seed, stream=mask_stream, out=u_t.T,
                     region=(slice(None), slice(b0, b1)), threads=nthreads)
        zero_t = _smallest_per_row(u_t, num_zeros)
        result[:, b0 - c0:b1 - c0][zero_t.T[r0:r0 + nr]] = 0
    return result


def _smallest_per_row(u, k):
    """Boolean mask of the k smallest entries of each row of `u` in the order (value, index):
    the same set as a stable argsort's first k, found by a partition (linear time)."""
    kth = np.partition(u, k - 1, axis=1)[:, k - 1:k]
    below = u < kth
    at = u == kth
    need = k - below.sum(axis=1)
    mask = below | at
    ties = np.nonzero(at.sum(axis=1) > need)[0]  # rows where equal values straddle the cut
    for i in ties:
        keep = np.cumsum(at[i]) <= need[i]  # the first `need` equal ones by index
        mask[i] = below[i] | (at[i] & keep)
    return mask


# ------------------------------------------------------------------ factory ----
class Initializer:
    """An initializer configured once and called many times (JAX/Keras style).

    Made by :func:`initializer` or ``fastinit.<name>.with_(**params)``.  Calling it with
    ``(shape, seed=..., stream=..., dtype=..., out=..., region=..., threads=...)`` fills;
    call-time keywords override configured ones.  ``get_config()`` returns a dict that
    ``fastinit.initializer(**config)`` turns back into an equal Initializer, and
    ``repr`` is that call.

    >>> import fastinit
    >>> init = fastinit.initializer("variance_scaling", scale=2.0, mode="fan_out")
    >>> init
    fastinit.initializer('variance_scaling', scale=2.0, mode='fan_out')
    >>> init((3, 3, 16, 32), seed=0).shape
    (3, 3, 16, 32)
    >>> fastinit.initializer(**init.get_config()) == init
    True
    """

    __slots__ = ("name", "params")

    def __init__(self, name, **params):
        func = _REGISTRY.get(name) if isinstance(name, str) else None
        if func is None:
            raise ValueError(f"unknown initializer {name!r}: use one of {', '.join(sorted(_REGISTRY))}")
        sig = inspect.signature(func)
        for key in params:
            p = sig.parameters.get(key)
            if p is None or key in ("shape", "seed", "out", "region"):
                allowed = [k for k in sig.parameters if k not in ("shape", "seed", "out", "region")]
                raise TypeError(f"{name} does not take {key!r} as a configured parameter; "
                                f"it takes {', '.join(allowed)}")
        self.name = name
        self.params = dict(params)

    def __call__(self, shape, **kwargs):
        func = _REGISTRY[self.name]
        accepted = inspect.signature(func).parameters
        merged = dict(self.params)
        for key, value in kwargs.items():
            if key in ("seed", "stream") and key not in accepted:
                continue  # deterministic initializers ignore the random keys, as in JAX
            merged[key] = value
        return func(shape, **merged)

    def get_config(self):
        """{"name": ..., **params}: pass it to fastinit.initializer(**config)."""
        return {"name": self.name, **self.params}

    def __repr__(self):
        args = [repr(self.name)] + [f"{k}={v!r}" for k, v in self.params.items()]
        return f"fastinit.initializer({', '.join(args)})"

    def __eq__(self, other):
        if not isinstance(other, Initializer):
            return NotImplemented
        return self.name == other.name and self.params == other.params

    def __hash__(self):
        return hash(repr(self))

    def __reduce__(self):
        return (_rebuild, (self.name, self.params))


def _rebuild(name, params):
    return Initializer(name, **params)


def initializer(name, **params):
    """A configured initializer: ``initializer("he_normal", in_axis=0)``.

    `name` is any fastinit initializer name (see the module table) including "uniform",
    "normal", "trunc_normal", "zeros", "ones", "constant"; `params` are its keyword
    arguments other than shape, seed, out and region (dtype, stream and threads may be
    configured and are overridden at call time).

    >>> import fastinit
    >>> init = fastinit.initializer("kaiming_uniform", nonlinearity="relu")
    >>> init((8, 4), seed=1).shape
    (8, 4)
    >>> init.get_config()
    {'name': 'kaiming_uniform', 'nonlinearity': 'relu'}
    """
    return Initializer(name, **params)


_REGISTRY = {
    f.__name__: f
    for f in (xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, variance_scaling,
              glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal,
              orthogonal, eye, dirac, delta_orthogonal, identity, sparse)
}
_REGISTRY.update({"uniform": _api.uniform, "normal": _api.normal,
                  "trunc_normal": _api.trunc_normal, "zeros": _api.zeros, "ones": _api.ones,
                  "constant": _api.constant, "full": _api.full})


def _attach_with(name, func):
    def with_(**params):
        return Initializer(name, **params)

    with_.__doc__ = f"fastinit.initializer({name!r}, **params): {name} configured once, called many times."
    func.with_ = with_


for _name, _func in list(_REGISTRY.items()):
    if _func.__module__ == __name__:  # leave the core's functions untouched
        _attach_with(_name, _func)
del _name, _func
