"""``jax.nn.initializers`` under JAX's names and meanings, filled by fastinit.

Every factory here takes the arguments of its ``jax.nn.initializers`` namesake, with the
same defaults, and returns ``init(key, shape, dtype=<factory dtype>, out_sharding=None)``
returning a ``jax.Array``, so it drops into Flax (``nnx.Linear(..., kernel_init=
fastinit.jax.he_normal())``), Equinox or plain JAX code.  What the names mean here is
what they mean in JAX, not in fastinit's NumPy API:

* ``kaiming_*`` and ``xavier_*`` are ``he_*`` and ``glorot_*`` (JAX layout ``(*kernel, in,
  out)``, "normal" = truncated to 2 std and corrected by 0.87962566103423978);
* ``normal``, ``uniform``, ``truncated_normal`` default to a scale of 0.01; ``uniform(s)``
  is U[0, s); ``truncated_normal(stddev, lower, upper)`` has its bounds in std units and
  no variance correction;
* ``orthogonal(scale, column_axis=-1)`` keeps the columns on ``column_axis``.

The key: ``seed = key_to_seed(key)``, a pure function of the key's bits
(``jax.random.key_data``).  A two-word key (threefry, the default, and legacy
``jax.random.PRNGKey`` arrays) ``[hi, lo]`` gives ``seed = hi * 2**32 + lo``, so
``jax.random.key(n)`` is fastinit seed ``n`` for ``0 <= n < 2**32``; keys of other sizes
(rbg) give the first 8 bytes of BLAKE2b of their words (little endian).  The values
are then exactly those of the NumPy API: ``fastinit.jax.he_normal()(jax.random.key(7),
s)`` equals ``fastinit.he_normal(s, seed=7)``; JAX's own bits are not reproduced.

Where it runs: eagerly the array is filled on the host and put on the default device;
under ``jax.jit`` (and ``nnx.jit``) through ``jax.pure_callback`` with the result's
``ShapeDtypeStruct``; under ``jax.vmap`` over keys the callback runs once per key
(``vmap_method="sequential"``), so each batch element equals the eager call with its key.
``jax.eval_shape`` never runs the fill.  ``out_sharding`` (a ``Sharding``, or a
``PartitionSpec`` of the mesh set by ``jax.set_mesh``) builds the array with
:func:`make_array` eagerly (each device fills only its shard); under jit the callback
fills the whole array on the host and it is resharded (``reshard`` on Explicit mesh
axes, ``with_sharding_constraint`` otherwise).

Floating dtypes only (float32, float64 when x64 is enabled, float16, bfloat16); complex
dtypes raise a ValueError (use ``jax.nn.initializers`` for those).  ``zeros``, ``ones``
and ``constant`` also take integer dtypes and use ``jnp.full`` (no host round trip).

Deviations from JAX: bad factory arguments (negative ``stddev``/``scale``, a
non-positive variance-scaling ``scale``, unknown ``mode``/``distribution``) raise a
ValueError when the factory is called rather than at the first ``init``.
"""
from __future__ import annotations

import functools
import hashlib
import math
import operator

import jax
import jax.numpy as jnp
import numpy as np

import fastinit as _fi

__all__ = [
    "constant", "delta_orthogonal", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform",
    "normal", "ones", "orthogonal", "truncated_normal", "uniform", "variance_scaling",
    "xavier_normal", "xavier_uniform", "zeros", "key_to_seed", "make_array", "Initializer",
]

_UNSET = object()
_FLOATS = ("float32", "float64", "float16", "bfloat16")
_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


# ------------------------------------------------------------------ helpers ----
def key_to_seed(key) -> int:
    """The fastinit seed of one JAX PRNG key (typed or legacy uint32), from its bits.

    >>> import jax, fastinit.jax
    >>> fastinit.jax.key_to_seed(jax.random.key(42))
    42
    """
    return _seed_of_words(np.asarray(_key_words(key)))


def _key_words(key):
    """The key's uint32 words (a jax or NumPy array, traced or concrete)."""
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.ndim != 0:
            raise ValueError(f"init takes one PRNG key, got an array of {key.shape} keys: "
                             "split them and call init once per key (or use jax.vmap)")
        return jax.random.key_data(key)
    dt = getattr(key, "dtype", None)
    if dt is None or np.dtype(dt) != np.uint32 or getattr(key, "ndim", 0) != 1:
        raise TypeError("key must be a JAX PRNG key (jax.random.key(n)) or a legacy "
                        f"uint32 key array (jax.random.PRNGKey(n)), got {type(key).__name__}"
                        + (f" of dtype {dt} and shape {getattr(key, 'shape', None)}" if dt is not None else ""))
    return key


def _seed_of_words(words) -> int:
    w = np.ascontiguousarray(words, dtype="<u4").ravel()
    if w.size == 2:
        return (int(w[0]) << 32) | int(w[1])
    return int.from_bytes(hashlib.blake2b(w.tobytes(), digest_size=8).digest(), "little")


def _shape(shape):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None


def _jax_dtype(dtype, integer_ok=False):
    """The canonical NumPy dtype JAX would use (float64 becomes float32 without x64)."""
    if dtype is None:
        dtype = float
    try:
        dt = np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    except TypeError:
        raise TypeError(f"dtype must be a JAX dtype, got {dtype!r}") from None
    if dt.name in _FLOATS or (integer_ok and dt.kind in "biu"):
        return dt
    raise ValueError(f"fastinit.jax fills {', '.join(_FLOATS)}, not {dt.name}"
                     + (" (complex weights: use jax.nn.initializers)" if dt.kind == "c" else ""))


def _region(index, shape):
    """A make_array_from_callback index (slices, maybe None bounds) as a fastinit region."""
    if index is None:
        return tuple(slice(0, n) for n in shape)
    return tuple(slice(*s.indices(n)[:2]) for s, n in zip(index, shape))


def _constrain(traced, sharding):
    """Under jit: `traced` laid out as `sharding` (reshard on Explicit mesh axes)."""
    types = getattr(getattr(sharding, "mesh", None), "axis_types", ())
    if any(t == jax.sharding.AxisType.Explicit for t in types):
        return jax.sharding.reshard(traced, sharding)
    return jax.lax.with_sharding_constraint(traced, sharding)


def _put(values, sharding=None):
    if sharding is None:
        mesh = jax.sharding.get_mesh()
        if mesh.empty:
            return jax.device_put(values)
        # under jax.set_mesh, replicated over the mesh, as jnp arrays made there are
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    return jax.device_put(values, sharding)


# -------------------------------------------------------------- initializer ----
class Initializer:
    """``init(key, shape, dtype=..., out_sharding=None)`` for one configured factory.

    ``fill(shape, *, seed, stream=0, dtype=None, region=None)`` is the same fill as a
    NumPy array (``region`` as in fastinit), used by :func:`make_array`.
    """

    __slots__ = ("_fill", "_dtype", "_repr", "_constant")

    def __init__(self, fill, dtype, rep, constant=None):
        self._fill = fill
        self._dtype = dtype
        self._repr = rep
        self._constant = constant  # the value for zeros/ones/constant, else None

    def __repr__(self):
        return self._repr

    def fill(self, shape, *, seed, stream=0, dtype=None, region=None):
        shape = _shape(shape)
        dt = _jax_dtype(self._dtype if dtype is None else dtype, self._constant is not None)
        if self._constant is not None and dt.kind != "f":
            full = np.broadcast_to(np.asarray(self._constant, dtype=dt), shape)
            return np.array(full[region] if region is not None else full)
        return self._fill(shape, seed=seed, stream=stream, dtype=dt, region=region)

    def __call__(self, key, shape, dtype=_UNSET, out_sharding=None):
        shape = _shape(shape)
        dt = _jax_dtype(self._dtype if dtype is _UNSET else dtype, self._constant is not None)
        if isinstance(out_sharding, jax.sharding.PartitionSpec):
            out_sharding = jax.sharding.NamedSharding(jax.sharding.get_mesh(), out_sharding)
        if out_sharding is not None and not isinstance(out_sharding, jax.sharding.Sharding):
            raise TypeError(f"out_sharding must be a jax.sharding.Sharding or PartitionSpec, "
                            f"got {type(out_sharding).__name__}")
        if self._constant is not None:
            _key_words(key)  # the key is ignored, as in JAX, but must be a key
            out = jnp.full(shape, self._constant, dtype=dt)
            if out_sharding is None:
                return out
            if isinstance(out, jax.core.Tracer):
                return _constrain(out, out_sharding)
            return _put(out, out_sharding)
        words = _key_words(key)
        if isinstance(words, jax.core.Tracer):
            host = functools.partial(self._host, shape=shape, dtype=dt)
            out = jax.pure_callback(host, jax.ShapeDtypeStruct(shape, dt), words,
                                    vmap_method="sequential")
            return out if out_sharding is None else _constrain(out, out_sharding)
        seed = _seed_of_words(np.asarray(words))
        if out_sharding is not None:
            return make_array(self, shape, out_sharding, seed=seed, dtype=dt)
        return _put(self._fill(shape, seed=seed, stream=0, dtype=dt, region=None))

    def _host(self, words, *, shape, dtype):
        return self._fill(shape, seed=_seed_of_words(words), stream=0, dtype=dtype, region=None)


def _rep(name, **kw):
    return f"fastinit.jax.{name}({', '.join(f'{k}={v!r}' for k, v in kw.items())})"


def _nonneg(name, value):
    v = float(value)
    if not v >= 0 or math.isinf(v):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


# ---------------------------------------------------------------- constants ----
def _constant_init(value, dtype, rep):
    def fill(shape, *, seed, stream, dtype, region):
        if np.ndim(value) == 0:
            return _fi.full(shape, float(value), dtype=dtype, region=region)
        full = np.broadcast_to(np.asarray(value), shape)
        return np.array((full[region] if region is not None else full), dtype=dtype)

    return Initializer(fill, dtype, rep, constant=value)


zeros = _constant_init(0.0, None, "fastinit.jax.zeros")
ones = _constant_init(1.0, None, "fastinit.jax.ones")


def constant(value, dtype=None) -> Initializer:
    """``jax.nn.initializers.constant(value, dtype)``: every element ``value`` (a scalar or
    an array that broadcasts to the shape).

    >>> import jax, fastinit.jax
    >>> fastinit.jax.constant(-7.0)(jax.random.key(0), (2,)).tolist()
    [-7.0, -7.0]
    """
    return _constant_init(value, dtype, _rep("constant", value=value, dtype=dtype))


# ----------------------------------------------------------- distributions ----
def uniform(scale=1e-2, dtype=None) -> Initializer:
    """``jax.nn.initializers.uniform(scale=0.01)``: U[0, scale).

    >>> import jax, fastinit.jax
    >>> w = fastinit.jax.uniform(2.0)(jax.random.key(0), (1000,))
    >>> bool((w >= 0).all() and (w < 2).all())
    True
    """
    s = _nonneg("scale", scale)
    return Initializer(lambda shape, **kw: _fi.uniform(shape, 0.0, s, **kw), dtype,
                       _rep("uniform", scale=scale, dtype=dtype))


def normal(stddev=1e-2, dtype=None) -> Initializer:
    """``jax.nn.initializers.normal(stddev=0.01)``: N(0, stddev**2) (fastinit.normal)."""
    s = _nonneg("stddev", stddev)
    return Initializer(lambda shape, **kw: _fi.normal(shape, 0.0, s, **kw), dtype,
                       _rep("normal", stddev=stddev, dtype=dtype))


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0) -> Initializer:
    """``jax.nn.initializers.truncated_normal(stddev=0.01, dtype, lower=-2, upper=2)``: a
    normal of std ``stddev`` truncated to [lower * stddev, upper * stddev]; no variance
    correction (the result's std is below ``stddev``), as in JAX."""
    s = _nonneg("stddev", stddev)
    lo, hi = float(lower), float(upper)
    if not lo < hi:
        raise ValueError(f"lower must be < upper, got lower={lower}, upper={upper}")
    return Initializer(lambda shape, **kw: _fi.trunc_normal(shape, 0.0, s, lo, hi, **kw), dtype,
                       _rep("truncated_normal", stddev=stddev, dtype=dtype, lower=lower, upper=upper))


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None) -> Initializer:
    """``jax.nn.initializers.variance_scaling``: variance ``scale / n`` with n the fan of
    `mode` ("fan_in", "fan_out", "fan_avg", "fan_geo_avg") in the JAX layout, and
    distribution "truncated_normal" (2 std, corrected by 0.87962566103423978), "normal"
    (untruncated) or "uniform" (U(-1, 1) * sqrt(3 * variance)).  Fans are JAX's
    ``_compute_fans`` (fastinit.fans(shape, "jax", ...)), so 0-D and 1-D shapes with the
    default ``in_axis`` raise a ValueError as in JAX.

    >>> import jax, fastinit.jax
    >>> init = fastinit.jax.variance_scaling(2.0, "fan_in", "normal")
    >>> init(jax.random.key(0), (3, 3, 16, 32)).shape
    (3, 3, 16, 32)
    """
    scale_f = float(scale)
    if not scale_f > 0 or math.isinf(scale_f):
        raise ValueError(f"scale must be a finite positive number, got {scale!r}")
    if mode not in _MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}; use one of {_MODES}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}; "
                         f"use one of {_DISTRIBUTIONS}")

    def fill(shape, **kw):
        if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
            raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                             "weights tensor with default in_axis. Must be at least 2D or specify "
                             "in_axis explicitly.")
        return _fi.variance_scaling(shape, scale_f, mode, distribution, in_axis=in_axis,
                                    out_axis=out_axis, batch_axis=batch_axis, **kw)

    return Initializer(fill, dtype, _rep("variance_scaling", scale=scale, mode=mode,
                                         distribution=distribution, in_axis=in_axis,
                                         out_axis=out_axis, batch_axis=batch_axis, dtype=dtype))


def _vs_factory(name, scale, mode, distribution):
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None) -> Initializer:
        init = variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)
        init._repr = _rep(name, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype)
        return init

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"``jax.nn.initializers.{name}``: variance_scaling({scale:g}, {mode!r}, "
                       f"{distribution!r}, in_axis, out_axis, batch_axis, dtype).")
    return factory


glorot_uniform = _vs_factory("glorot_uniform", 1.0, "fan_avg", "uniform")
glorot_normal = _vs_factory("glorot_normal", 1.0, "fan_avg", "truncated_normal")
lecun_uniform = _vs_factory("lecun_uniform", 1.0, "fan_in", "uniform")
lecun_normal = _vs_factory("lecun_normal", 1.0, "fan_in", "truncated_normal")
he_uniform = _vs_factory("he_uniform", 2.0, "fan_in", "uniform")
he_normal = _vs_factory("he_normal", 2.0, "fan_in", "truncated_normal")
# JAX's aliases: not PyTorch's kaiming_/xavier_ (fastinit.kaiming_normal is PyTorch's)
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


# --------------------------------------------------------------- structured ----
def orthogonal(scale=1.0, column_axis=-1, dtype=None) -> Initializer:
    """``jax.nn.initializers.orthogonal(scale=1.0, column_axis=-1)``: a matrix with
    orthonormal rows or columns (the smaller side), times `scale`, whose column index is
    on `column_axis` and row index runs over the other axes (fastinit.orthogonal with
    ``column_axis``).  Shapes with a zero dimension give zeros, as in JAX.

    >>> import jax, numpy as np, fastinit.jax
    >>> q = np.asarray(fastinit.jax.orthogonal()(jax.random.key(0), (8, 4)))
    >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-5))
    True
    """
    s = float(scale)

    def fill(shape, **kw):
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        return _fi.orthogonal(shape, s, column_axis=column_axis, **kw)

    return Initializer(fill, dtype, _rep("orthogonal", scale=scale, column_axis=column_axis, dtype=dtype))


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None) -> Initializer:
    """``jax.nn.initializers.delta_orthogonal(scale=1.0, column_axis=-1)``: a 3-, 4- or
    5-D kernel ``(*spatial, in, out)``, in <= out, zero except at the spatial centre
    ``(k - 1) // 2``, which holds the orthogonal ``(in, out)`` matrix."""
    s = float(scale)

    def fill(shape, **kw):
        return _fi.delta_orthogonal(shape, s, column_axis, **kw)

    return Initializer(fill, dtype, _rep("delta_orthogonal", scale=scale, column_axis=column_axis,
                                         dtype=dtype))


# ------------------------------------------------------------------ sharded ----
def make_array(init, shape, sharding, *, seed, stream=0, dtype=None):
    """A global ``jax.Array`` of `shape` with `sharding`, each device's shard filled from
    its own region only (``jax.make_array_from_callback``).

    `init` is a fastinit.jax initializer (``fastinit.jax.he_normal()``) or any fastinit
    NumPy initializer taking ``(shape, *, seed, stream, dtype, region)``
    (``fastinit.normal``, ``fastinit.initializer("he_normal")``, a ``functools.partial``).
    `seed` is an int in [0, 2**64) or a JAX key (mapped by :func:`key_to_seed`).  The value
    equals ``init``'s unsharded array for every mesh and partition spec, because every
    fastinit element is a function of its index only; devices holding the same region
    (replicas) share one fill.  Orthogonal initializers compute the whole matrix for each
    distinct region (the QR couples every element).

    >>> import jax, numpy as np, fastinit, fastinit.jax
    >>> mesh = jax.make_mesh((1,), ("x",))
    >>> s = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("x"))
    >>> a = fastinit.jax.make_array(fastinit.jax.normal(1.0), (8, 2), s, seed=3)
    >>> bool((np.asarray(a) == fastinit.normal((8, 2), seed=3)).all())
    True
    """
    shape = _shape(shape)
    if not isinstance(sharding, jax.sharding.Sharding):
        raise TypeError(f"sharding must be a jax.sharding.Sharding (e.g. NamedSharding(mesh, "
                        f"PartitionSpec(...))), got {type(sharding).__name__}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        seed = key_to_seed(seed)
    if isinstance(init, Initializer):
        dt = _jax_dtype(init._dtype if dtype is None else dtype, init._constant is not None)
        fill = init.fill
    elif callable(init):
        dt = _jax_dtype(dtype)
        fill = init
    else:
        raise TypeError(f"init must be a fastinit.jax initializer or a fastinit function, got {init!r}")
    cache = {}

    def shard(index):
        region = _region(index, shape)
        key = tuple((r.start, r.stop) for r in region)
        if key not in cache:
            cache[key] = fill(shape, seed=seed, stream=stream, dtype=dt, region=region)
        return cache[key]

    return jax.make_array_from_callback(shape, sharding, shard, dtype=dt)
