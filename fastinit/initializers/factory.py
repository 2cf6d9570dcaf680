"""Configured initializers (JAX/Keras style): fastinit.initializer(name, **params),
Initializer objects and the .with_() constructors (given to every registered
initializer by registry.register).
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .registry import _ENTRIES, Entry, _unknown

# keywords a configuration may hold besides the distribution parameters
_CONFIGURABLE = ("dtype", "stream", "threads")


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

    name: str
    params: Dict[str, Any]

    def __init__(self, name: str, **params: Any) -> None:
        entry = _ENTRIES.get(name) if isinstance(name, str) else None
        if entry is None:
            raise _unknown(name)
        allowed = entry.params + tuple(k for k in _CONFIGURABLE if k != "stream" or entry.random)
        for key in params:
            if key not in allowed:
                raise TypeError(f"{name} does not take {key!r} as a configured parameter; "
                                f"it takes {', '.join(allowed)}")
        self.name = name
        self.params = dict(params)

    @property
    def entry(self) -> Entry:
        """The registry record of this initializer."""
        return _ENTRIES[self.name]

    def __call__(self, shape: Any, **kwargs: Any) -> np.ndarray:
        entry = self.entry
        merged = dict(self.params)
        for key, value in kwargs.items():
            if key in ("seed", "stream") and not entry.random:
                continue  # deterministic initializers ignore the random keys, as in JAX
            merged[key] = value
        return entry.func(shape, **merged)

    def get_config(self) -> Dict[str, Any]:
        """{"name": ..., **params}: pass it to fastinit.initializer(**config)."""
        return {"name": self.name, **self.params}

    def __repr__(self) -> str:
        args = [repr(self.name)] + [f"{k}={v!r}" for k, v in self.params.items()]
        return f"fastinit.initializer({', '.join(args)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Initializer):
            return NotImplemented
        return self.name == other.name and self.params == other.params

    def __hash__(self) -> int:
        return hash(repr(self))

    def __reduce__(self):
        return (_rebuild, (self.name, self.params))


def _rebuild(name, params):
    return Initializer(name, **params)


def initializer(name: str, **params: Any) -> Initializer:
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
