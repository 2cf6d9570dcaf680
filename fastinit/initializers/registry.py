"""The one registry of initializers: a record (Entry) per name, declared next to its
function by ``@register(...)`` in the module that defines it, and read by the
configured initializers, fastinit.dask, the writers, the CLI, diagnostics and
fastinit.torch.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Generic,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    TypeVar,
    Union,
)

import numpy as np

from .. import _validate

if TYPE_CHECKING:  # pragma: no cover
    from typing import ParamSpec

    from .factory import Initializer

    P = ParamSpec("P")
else:
    P = TypeVar("P")

R = TypeVar("R", covariant=True)


# Keyword arguments every fill function shares; everything else is a distribution parameter.
COMMON_KEYWORDS = ("seed", "stream", "dtype", "out", "region", "threads")


KINDS = ("elementwise", "fan", "structured")


Moments = Optional[Tuple[float, float]]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One initializer: its function, kind ("elementwise", "fan" or "structured"), the
    weight layout it reads fans from ("torch", "jax" or None), whether it draws stream
    words, its distribution parameters, and whether a region costs only its own size."""

    name: str
    func: Callable[..., np.ndarray]
    kind: str
    layout: Optional[str]
    random: bool
    params: Tuple[str, ...]
    region_fill: bool
    moments_of: Optional[Callable[[tuple, Dict[str, Any]], Moments]] = dataclasses.field(
        default=None, repr=False, compare=False)

    def defaults(self) -> Dict[str, Any]:
        """Parameter -> default (inspect.Parameter.empty when required)."""
        sig = _signature(self.func)
        return {k: sig.parameters[k].default for k in self.params}

    def bind(self, params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """`params` with the defaults of the others filled in."""
        out = {k: v for k, v in self.defaults().items() if v is not inspect.Parameter.empty}
        out.update(params or {})
        return out

    def moments(self, shape: Any, params: Optional[Mapping[str, Any]] = None) -> Moments:
        """Expected (mean, std) of the values on `shape`, or None without a closed form."""
        if self.moments_of is None:
            return None
        return self.moments_of(tuple(_validate.check_shape(shape)), self.bind(params))


class Registered(Protocol, Generic[P, R]):  # type: ignore[misc]
    """A registered initializer: the function itself, plus ``with_(**params)``."""

    __name__: str

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...  # type: ignore[valid-type]

    def with_(self, **params: Any) -> "Initializer": ...


_ENTRIES: Dict[str, Entry] = {}


@functools.lru_cache(maxsize=None)
def _signature(fn):
    return inspect.signature(fn)


def _params_of(fn):
    return tuple(name for i, (name, p) in enumerate(_signature(fn).parameters.items())
                 if i and name not in COMMON_KEYWORDS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def register(kind: str, *, layout: Optional[str] = None, random: Optional[bool] = None,
             moments: Optional[Callable[[tuple, Dict[str, Any]], Moments]] = None,
             name: Optional[str] = None) -> Callable[[Callable[P, R]], "Registered[P, R]"]:
    """Record the decorated fill function under its name (one Entry) and give it
    ``with_``: the one line that makes an initializer known everywhere.  `random`
    defaults to whether the function takes a seed."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def deco(fn):
        key = name or fn.__name__
        draws = "seed" in _signature(fn).parameters if random is None else random
        _ENTRIES[key] = Entry(key, fn, kind, layout, draws, _params_of(fn), kind != "structured",
                              moments)

        def with_(**params):
            from .factory import Initializer

            return Initializer(key, **params)

        with_.__doc__ = f"fastinit.initializer({key!r}, **params): {key} configured once, called many times."
        fn.with_ = with_
        return fn

    return deco


def available_initializers() -> Dict[str, Entry]:
    """Name -> Entry for every initializer fastinit knows, sorted by name.

    >>> import fastinit
    >>> e = fastinit.available_initializers()["he_normal"]
    >>> e.kind, e.layout, e.random, e.region_fill
    ('fan', 'jax', True, True)
    """
    return dict(sorted(_ENTRIES.items()))


def _unknown(init):
    return ValueError(f"unknown initializer {init!r}: use one of {', '.join(sorted(_ENTRIES))}")


def entry_of(init: Any) -> Entry:
    """The Entry of a name, a registered function or a configured Initializer; a
    function fastinit does not know gets an Entry read from its signature."""
    from .factory import Initializer

    if isinstance(init, str):
        e = _ENTRIES.get(init.strip())
        if e is None:
            raise _unknown(init)
        return e
    if isinstance(init, Initializer):
        return _ENTRIES[init.name]
    if callable(init) and not inspect.isclass(init):
        name = getattr(init, "__name__", None)
        e = _ENTRIES.get(name) if isinstance(name, str) else None
        if e is not None and e.func is init:
            return e
        try:
            sig = _signature(init)
        except (TypeError, ValueError):
            raise TypeError(f"init {init!r} has no inspectable signature: pass an initializer name") from None
        return Entry(name or type(init).__name__, init, "elementwise", None, "seed" in sig.parameters,
                     _params_of(init), "region" in sig.parameters)
    raise TypeError(f"init must be an initializer name, a fill function or a fastinit.Initializer, "
                    f"got {type(init).__name__}")


def resolve(init: Any, params: Optional[Mapping[str, Any]] = None) -> Tuple[Entry, Dict[str, Any]]:
    """(Entry, parameters) for `init`: a name, a registered function or a configured
    Initializer (its configured parameters, `params` on top).  Common keywords an
    Initializer was configured with (dtype, stream, threads) stay in the dict."""
    from .factory import Initializer

    entry = entry_of(init)
    merged = dict(init.params) if isinstance(init, Initializer) else {}
    merged.update(params or {})
    return entry, merged


def check_params(entry: Entry, params: Mapping[str, Any]) -> None:
    """TypeError for a parameter `entry` does not take, with the one message for it."""
    unknown = [k for k in params if k not in entry.params]
    if unknown and not _accepts_var_keywords(entry.func):
        takes = ", ".join(entry.params) if entry.params else "no parameters"
        raise TypeError(f"{entry.name} does not take {', '.join(map(repr, unknown))}; it takes {takes}")


class Filler:
    """One validated (init, parameters, seed, stream, dtype) ready to fill any region.

    `init` as in resolve(); configured dtype/stream apply unless given here."""

    def __init__(self, shape, init, seed, stream, dtype, params):
        self.entry, merged = resolve(init, params)
        if "dtype" in merged:
            configured = merged.pop("dtype")
            dtype = configured if dtype is None else dtype
        if "stream" in merged:
            configured = merged.pop("stream")
            stream = configured if stream in (None, 0) else stream
        merged.pop("threads", None)
        self.fn = self.entry.func
        self.name = self.entry.name
        self.shape = _validate.check_shape(shape)
        self.dtype = _validate.resolve_dtype("float32" if dtype is None else dtype)
        check_params(self.entry, merged)
        self.params = dict(merged)
        self.kwargs = dict(merged)
        stream = 0 if stream is None else stream
        if self.entry.random:
            self.kwargs["seed"] = seed
            self.kwargs["stream"] = stream
        elif seed is not None:
            _validate.check_seed(seed)  # a malformed seed is refused even where unused
        self.stream = stream
        _validate.stream_id(stream)
        self.elementwise = self.entry.region_fill

    def fill(self, region=None, out=None, threads=None):
        kw = dict(self.kwargs)
        if region is not None:
            kw["region"] = region
        if out is not None:
            kw["out"] = out
        return self.fn(self.shape, dtype=self.dtype, threads=threads, **kw)

    def dry_run(self):
        """Fill one element (or nothing, for an empty tensor) to surface parameter errors."""
        if self.elementwise:
            region = tuple(slice(0, min(1, d)) for d in self.shape)
            self.fill(region=region, threads=1)


_Filler = Filler  # the writers' old name, kept until they switch


def expected_moments(init: Any, shape: Any, params: Optional[Mapping[str, Any]] = None) -> Moments:
    """The (mean, std) that `init` with `params` should produce on `shape`, from its
    record (REFERENCE.md's formulas), or None when there is no closed form.

    >>> import fastinit.io
    >>> fastinit.io.expected_moments("uniform", (10,), {"low": 0, "high": 12})
    (6.0, 3.4641016151377544)
    """
    try:
        entry, merged = resolve(init, params)
        for k in COMMON_KEYWORDS:
            merged.pop(k, None)
        return entry.moments(shape, merged)
    except Exception:  # a closed form is a nicety; never let it break a write
        return None


# ------------------------------------------------------ compatibility views ----
def get_initializer(init: Any) -> Callable[..., np.ndarray]:
    """The fill function for `init`: a registered name, or a callable used as is."""
    if callable(init) and not isinstance(init, str):
        return init
    if not isinstance(init, str):
        raise TypeError(f"init must be an initializer name or a function, got {type(init).__name__}")
    return entry_of(init).func


def supports_region(init: Any) -> bool:
    """True when a region fill of `init` computes only that region."""
    return entry_of(init).region_fill


def init_parameters(init: Any) -> Tuple[Dict[str, Any], bool]:
    """(parameter -> default or inspect.Parameter.empty, takes a seed) of `init`."""
    e = entry_of(init)
    return e.defaults(), e.random


def _accepts_var_keywords(fn) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in _signature(fn).parameters.values())


def __getattr__(attr: str) -> Union[frozenset, Any]:
    if attr == "STRUCTURED":  # the old list, now read from the records
        return frozenset(n for n, e in _ENTRIES.items() if e.kind == "structured")
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
