"""Keras 3's built-in initializers, filled by fastinit.

Each class here subclasses its ``keras.initializers`` namesake (so it is a
``keras.initializers.Initializer``, and layers that test ``isinstance(init,
keras.initializers.VarianceScaling)``, such as ``EinsumDense``, treat it as Keras's)
and keeps Keras's constructor arguments, defaults, validation, attributes and
``get_config()``; only ``__call__(shape, dtype=None)`` differs: the values come from
fastinit, and the result is a tensor of the active backend (jax, torch, numpy,
tensorflow) of the requested dtype (float32, float64, float16, bfloat16;
``keras.config.floatx()`` by default).  Names keep Keras's meanings:

* ``VarianceScaling(distribution="normal")`` is Keras's alias of "truncated_normal";
  "untruncated_normal" is the plain normal; truncated normals are cut at 2 std and
  corrected by 0.87962566103423978; fans are Keras's ``compute_fans`` (with
  ``input_axes``/``output_axes``) and ``max(1, fan)``;
* ``TruncatedNormal(mean, stddev)`` cuts at mean +- 2 * stddev (no correction);
* ``Orthogonal`` flattens to ``(prod(shape[:-1]), shape[-1])``.

Seeds.  ``seed=n`` (an int in [0, 2**64)) gives ``fastinit.<fill>(..., seed=n,
stream=0)``: the same values on every call, in every process and on every backend.
``seed=keras.random.SeedGenerator(s)``: each call draws Keras's next ``[s, counter]``
and uses ``seed=s, stream=counter`` (the first call equals ``seed=s``; later calls
differ).  ``seed=None`` behaves as in Keras: the instance draws its own seed with
Python's ``random`` when it is built (``keras.utils.set_random_seed`` makes that
reproducible), returns the same values on every call, and ``get_config()`` keeps
``seed=None`` so a clone or a reloaded model draws a fresh one.  Keras's own bits are
not reproduced (a different generator).

Serialization: every class is registered as ``"fastinit>ClassName"``
(``keras.saving.register_keras_serializable(package="fastinit")``), so ``model.save()``
and ``keras.saving.load_model()`` round-trip models built with them; import
``fastinit.keras`` before ``load_model`` to get the fastinit classes back (without it,
Keras resolves the saved names to its own built-ins with the same config; the saved
weights load either way).
"""
from __future__ import annotations

import math
import operator

import keras
import numpy as np

import fastinit as _fi

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans", "get",
]

_KI = keras.initializers
_FLOATS = ("float32", "float64", "float16", "bfloat16")
_TRUNC_STD_2 = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2], as Keras


def _register(cls):
    return keras.saving.register_keras_serializable(package="fastinit", name=cls.__name__)(cls)


# ------------------------------------------------------------------ helpers ----
def _shape(shape):
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None


def _dtype(dtype):
    """Keras's standardized dtype name, narrowed as the backend will store it."""
    name = keras.backend.standardize_dtype(dtype)
    if name == "float64" and keras.backend.backend() == "jax":
        import jax

        name = np.dtype(jax.dtypes.canonicalize_dtype(np.float64)).name  # float32 without x64
    return name


def _float_dtype(dtype, who):
    name = _dtype(dtype)
    if name not in _FLOATS:
        raise ValueError(f"{who} fills floating tensors ({', '.join(_FLOATS)}), got dtype={name}")
    return name


def _tensor(values, dtype):
    return keras.ops.convert_to_tensor(values, dtype=dtype)


def _seed_and_stream(seed):
    """(fastinit seed, stream) of a Keras seed: an int, or a SeedGenerator's next draw."""
    if isinstance(seed, keras.random.SeedGenerator):
        pair = np.asarray(keras.ops.convert_to_numpy(seed.next())).astype(np.int64)
        return int(pair[0]) & 0xFFFFFFFF, int(pair[1]) & 0xFFFFFFFF
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be an int in [0, 2**64) or a keras.random.SeedGenerator, "
                         f"got {seed!r}")
    return int(seed), 0


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) as Keras's ``compute_fans``: with both `input_axes` and
    `output_axes`, the products of those axes; otherwise 0-D (1, 1), 1-D (n, n), 2-D
    (shape[0], shape[1]), N-D (shape[-2] * rf, shape[-1] * rf), rf = prod(shape[:-2]).

    >>> import fastinit.keras
    >>> fastinit.keras.compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return (int(math.prod(shape[a] for a in input_axes)),
                int(math.prod(shape[a] for a in output_axes)))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# ------------------------------------------------------- random initializers ----
@_register
class RandomNormal(_KI.RandomNormal):
    """Keras ``RandomNormal(mean=0.0, stddev=0.05, seed=None)``: N(mean, stddev**2)."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _float_dtype(dtype, type(self).__name__)
        seed, stream = _seed_and_stream(self.seed)
        return _tensor(_fi.normal(shape, float(self.mean), float(self.stddev), seed=seed,
                                  stream=stream, dtype=dt), dt)


@_register
class TruncatedNormal(_KI.TruncatedNormal):
    """Keras ``TruncatedNormal(mean=0.0, stddev=0.05, seed=None)``: N(mean, stddev**2)
    restricted to [mean - 2 stddev, mean + 2 stddev] (stddev before truncation)."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _float_dtype(dtype, type(self).__name__)
        seed, stream = _seed_and_stream(self.seed)
        return _tensor(_fi.trunc_normal(shape, float(self.mean), float(self.stddev), -2.0, 2.0,
                                        seed=seed, stream=stream, dtype=dt), dt)


@_register
class RandomUniform(_KI.RandomUniform):
    """Keras ``RandomUniform(minval=-0.05, maxval=0.05, seed=None)``: U[minval, maxval)."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _float_dtype(dtype, type(self).__name__)
        seed, stream = _seed_and_stream(self.seed)
        return _tensor(_fi.uniform(shape, float(self.minval), float(self.maxval), seed=seed,
                                   stream=stream, dtype=dt), dt)


@_register
class VarianceScaling(_KI.VarianceScaling):
    """Keras ``VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal",
    seed=None, input_axes=None, output_axes=None)``: variance ``scale / max(1, n)``,
    n = fan_in, fan_out or (fan_in + fan_out) / 2 by :func:`compute_fans`;
    "truncated_normal" (alias "normal"), "untruncated_normal" or "uniform"."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _float_dtype(dtype, type(self).__name__)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(self.mode, (fan_in + fan_out) / 2.0)
        variance = self.scale / max(1.0, n)
        seed, stream = _seed_and_stream(self.seed)
        kw = dict(seed=seed, stream=stream, dtype=dt)
        if self.distribution == "truncated_normal":
            values = _fi.trunc_normal(shape, 0.0, math.sqrt(variance) / _TRUNC_STD_2, -2.0, 2.0, **kw)
        elif self.distribution == "untruncated_normal":
            values = _fi.normal(shape, 0.0, math.sqrt(variance), **kw)
        else:
            limit = math.sqrt(3.0 * variance)
            values = _fi.uniform(shape, -limit, limit, **kw)
        return _tensor(values, dt)


# Keras's subclasses keep their own __init__/get_config (fixed scale, mode, distribution);
# the fastinit VarianceScaling comes first in the MRO so its __call__ is the one used.
@_register
class GlorotNormal(VarianceScaling, _KI.GlorotNormal):
    """Keras ``GlorotNormal(seed=None, input_axes=None, output_axes=None)``: truncated
    normal, std sqrt(2 / (fan_in + fan_out))."""


@_register
class GlorotUniform(VarianceScaling, _KI.GlorotUniform):
    """Keras ``GlorotUniform(seed=None, ...)``: U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""


@_register
class HeNormal(VarianceScaling, _KI.HeNormal):
    """Keras ``HeNormal(seed=None, ...)``: truncated normal, std sqrt(2 / fan_in)."""


@_register
class HeUniform(VarianceScaling, _KI.HeUniform):
    """Keras ``HeUniform(seed=None, ...)``: U(-l, l), l = sqrt(6 / fan_in)."""


@_register
class LecunNormal(VarianceScaling, _KI.LecunNormal):
    """Keras ``LecunNormal(seed=None, ...)``: truncated normal, std sqrt(1 / fan_in)."""


@_register
class LecunUniform(VarianceScaling, _KI.LecunUniform):
    """Keras ``LecunUniform(seed=None, ...)``: U(-l, l), l = sqrt(3 / fan_in)."""


@_register
class Orthogonal(_KI.Orthogonal):
    """Keras ``Orthogonal(gain=1.0, seed=None)``: the tensor viewed as a
    ``(prod(shape[:-1]), shape[-1])`` matrix is (semi-)orthogonal times gain
    (fastinit.orthogonal with ``column_axis=-1``)."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _float_dtype(dtype, type(self).__name__)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        seed, stream = _seed_and_stream(self.seed)
        return _tensor(_fi.orthogonal(shape, float(self.gain), column_axis=-1, seed=seed,
                                      stream=stream, dtype=dt), dt)


# ----------------------------------------------------- constant initializers ----
# Integer and bool dtypes, and Constant's array values, go to Keras's own code
# (deterministic, so the values are the same).
@_register
class Zeros(_KI.Zeros):
    """Keras ``Zeros()``."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        if dt not in _FLOATS:
            return super().__call__(shape, dtype=dt)
        return _tensor(_fi.zeros(shape, dtype=dt), dt)


@_register
class Ones(_KI.Ones):
    """Keras ``Ones()``."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        if dt not in _FLOATS:
            return super().__call__(shape, dtype=dt)
        return _tensor(_fi.ones(shape, dtype=dt), dt)


@_register
class Constant(_KI.Constant):
    """Keras ``Constant(value=0.0)``: a scalar, or an array that broadcasts to the shape."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        value = self.value
        if dt not in _FLOATS or not isinstance(value, (int, float, np.integer, np.floating)):
            return super().__call__(shape, dtype=dt)
        return _tensor(_fi.full(shape, float(value), dtype=dt), dt)


@_register
class Identity(_KI.Identity):
    """Keras ``Identity(gain=1.0)``: gain times the identity matrix (2-D only)."""

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        if dt not in _FLOATS:
            return super().__call__(shape, dtype=dt)
        return _tensor(_fi.identity(shape, float(self.gain), dtype=dt), dt)


# --------------------------------------------------------------------- get ----
_CLASSES = (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, LecunNormal,
            LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, Zeros)
_SNAKE = {"GlorotNormal": "glorot_normal", "GlorotUniform": "glorot_uniform",
          "HeNormal": "he_normal", "HeUniform": "he_uniform", "LecunNormal": "lecun_normal",
          "LecunUniform": "lecun_uniform", "RandomNormal": "random_normal",
          "RandomUniform": "random_uniform", "TruncatedNormal": "truncated_normal",
          "VarianceScaling": "variance_scaling"}
OBJECTS = {cls.__name__: cls for cls in _CLASSES}
OBJECTS.update({_SNAKE.get(cls.__name__, cls.__name__.lower()): cls for cls in _CLASSES})
OBJECTS.update({"IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
                "normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros})


def get(identifier):
    """``keras.initializers.get`` with Keras's names resolved to the fastinit classes.

    None gives None; a name ("he_normal", "HeNormal", Keras's aliases such as "normal" or
    "OrthogonalInitializer") gives a new fastinit instance; a config dict
    (``{"class_name": "HeNormal", "config": {"seed": 1}}``, or a serialized fastinit
    object) gives the fastinit object it describes.  Anything else (names Keras has and
    fastinit does not, such as "STFT", registered custom objects, classes, callables,
    tensors and arrays) goes to ``keras.initializers.get`` unchanged; unknown names raise
    its ValueError.

    >>> import fastinit.keras
    >>> type(fastinit.keras.get("glorot_uniform")).__module__
    'fastinit.keras'
    >>> fastinit.keras.get(None) is None
    True
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier in OBJECTS:
        return OBJECTS[identifier]()
    if isinstance(identifier, dict):
        identifier = dict(identifier)
        if not identifier.get("registered_name") and identifier.get("class_name") in OBJECTS:
            identifier["registered_name"] = identifier["class_name"]  # a Keras built-in: ours
        obj = keras.saving.deserialize_keras_object(identifier, custom_objects=OBJECTS)
        if not callable(obj):
            raise ValueError(f"Could not interpret initializer identifier: {identifier}")
        return obj
    return _KI.get(identifier)
