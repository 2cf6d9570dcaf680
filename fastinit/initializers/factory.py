"""Configured initializers (JAX/Keras style): fastinit.initializer(name, **params),
Initializer objects and the .with_() constructors.
"""
from __future__ import annotations

import inspect

from .. import fills
from .scaling import (
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
)
from .structured import delta_orthogonal, dirac, eye, identity, orthogonal, sparse


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


_REGISTRY.update({"uniform": fills.uniform, "normal": fills.normal,
                  "trunc_normal": fills.trunc_normal, "zeros": fills.zeros, "ones": fills.ones,
                  "constant": fills.constant, "full": fills.full})


def _attach_with(name, func):
    def with_(**params):
        return Initializer(name, **params)

    with_.__doc__ = f"fastinit.initializer({name!r}, **params): {name} configured once, called many times."
    func.with_ = with_


for _name, _func in list(_REGISTRY.items()):
    if _func.__module__ != fills.__name__:  # leave the core's functions untouched
        _attach_with(_name, _func)


del _name, _func
