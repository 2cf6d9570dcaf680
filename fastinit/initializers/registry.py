"""The initializer registry shared by fastinit.dask, the writers, diagnostics and the
fastinit command: a name maps to a function f(shape, ..., *, seed, stream=0, dtype=None,
out=None, region=None, threads=None); expected moments of each.
"""
from __future__ import annotations

import inspect
import math

from .. import _validate, fills

# Keyword arguments every fill function shares; everything else is a distribution parameter.
COMMON_KEYWORDS = ("seed", "stream", "dtype", "out", "region", "threads")


_CORE_NAMES = ("uniform", "normal", "trunc_normal", "full", "constant", "zeros", "ones")


# Initializers whose value at an index depends on the whole tensor (a QR, a column
# ranking, a diagonal pattern).  A region of them may need the whole tensor, so
# chunked writers compute them once in memory and Dask does not offer them.
STRUCTURED = frozenset({"orthogonal", "sparse", "eye", "dirac", "delta_orthogonal", "identity"})


# ----------------------------------------------------------------- registry ----
_registry_cache: dict | None = None


def _looks_like_fill(fn) -> bool:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "shape" and "out" in params and "dtype" in params


def available_initializers() -> dict:
    """Name -> fill function for every initializer fastinit knows (sorted by name).

    >>> import fastinit.io
    >>> "trunc_normal" in fastinit.io.available_initializers()
    True
    """
    global _registry_cache
    if _registry_cache is None:
        reg = {name: getattr(fills, name) for name in _CORE_NAMES}
        try:
            from .. import initializers as _inits
        except ImportError:  # not written yet in this checkout: the core fills only
            _inits = None
        if _inits is not None:
            for name in getattr(_inits, "__all__", [n for n in dir(_inits) if not n.startswith("_")]):
                fn = getattr(_inits, name, None)
                if callable(fn) and not inspect.isclass(fn) and _looks_like_fill(fn):
                    reg.setdefault(name, fn)
        _registry_cache = dict(sorted(reg.items()))
    return dict(_registry_cache)


def get_initializer(init):
    """The fill function for `init`: a registered name, or a callable used as is.

    >>> import fastinit, fastinit.io
    >>> fastinit.io.get_initializer("normal") is fastinit.normal
    True
    """
    if callable(init):
        return init
    if not isinstance(init, str):
        raise TypeError(f"init must be an initializer name or a function, got {type(init).__name__}")
    reg = available_initializers()
    fn = reg.get(init.strip())
    if fn is None:
        raise ValueError(f"unknown initializer {init!r}: use one of {', '.join(reg)}")
    return fn


def _init_name(init) -> str:
    return init.strip() if isinstance(init, str) else getattr(init, "__name__", type(init).__name__)


def supports_region(init) -> bool:
    """True when a region fill of `init` computes only that region (elementwise and
    fan-based initializers), False for structured ones (orthogonal, sparse, eye, ...)."""
    fn = get_initializer(init)
    if _init_name(init) in STRUCTURED:
        return False
    try:
        return "region" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def init_parameters(init) -> dict:
    """Distribution parameters of `init` (name -> default, or inspect.Parameter.empty
    when required), and whether it takes a seed, as ``(params, takes_seed)``."""
    fn = get_initializer(init)
    sig = inspect.signature(fn)
    params = {}
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 or name in COMMON_KEYWORDS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[name] = p.default
    return params, "seed" in sig.parameters


def _accepts_var_keywords(fn) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


class _Filler:
    """One validated (init, parameters, seed, stream, dtype) ready to fill any region."""

    def __init__(self, shape, init, seed, stream, dtype, params):
        self.fn = get_initializer(init)
        self.name = _init_name(init)
        self.shape = _validate.check_shape(shape)
        self.dtype = _validate.resolve_dtype("float32" if dtype is None else dtype)
        known, takes_seed = init_parameters(self.fn)
        unknown = [k for k in params if k not in known]
        if unknown and not _accepts_var_keywords(self.fn):
            takes = ", ".join(known) if known else "no parameters"
            raise TypeError(f"{self.name} does not take {', '.join(map(repr, unknown))}; it takes {takes}")
        self.params = dict(params)
        self.kwargs = dict(params)
        if takes_seed:
            self.kwargs["seed"] = seed
            self.kwargs["stream"] = stream
        elif seed is not None:
            _validate.check_seed(seed)  # still reject a malformed seed, though this init ignores it
        _validate.stream_id(stream)
        self.elementwise = supports_region(init)

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


# ----------------------------------------------------------- expected moments ----
def _std_trunc(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [mean + a std, mean + b std]."""
    def pdf(x):
        return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)

    def cdf(x):
        return 0.5 * math.erfc(-x / math.sqrt(2))

    z = cdf(b) - cdf(a) if a < 0 else cdf(-a) - cdf(-b)  # complement side keeps tails exact
    if z <= 0:
        return None
    xa = 0.0 if math.isinf(a) else a * pdf(a)
    xb = 0.0 if math.isinf(b) else b * pdf(b)
    m = (pdf(a) - pdf(b)) / z
    var = 1 + (xa - xb) / z - m * m
    return mean + std * m, std * math.sqrt(max(var, 0.0))


def expected_moments(init, shape, params=None):
    """The (mean, std) that `init` with `params` should produce on `shape`, from its
    formula (REFERENCE.md), or None when fastinit has no closed form for it.

    >>> import fastinit.io
    >>> fastinit.io.expected_moments("uniform", (10,), {"low": 0, "high": 12})
    (6.0, 3.4641016151377544)
    """
    try:
        return _expected(init, shape, dict(params or {}))
    except Exception:  # a closed form is a nicety; never let it break a write
        return None


def _expected(init, shape, params):
    name = _init_name(init)
    fn = get_initializer(init)
    sig = inspect.signature(fn)
    bound = sig.bind_partial(tuple(shape), **params)
    bound.apply_defaults()
    a = bound.arguments
    if name == "uniform":
        return (a["low"] + a["high"]) / 2, (a["high"] - a["low"]) / math.sqrt(12)
    if name == "normal":
        return float(a["mean"]), float(a["std"])
    if name == "trunc_normal":
        return _std_trunc(a["mean"], a["std"], a["lower"], a["upper"])
    if name in ("full", "constant"):
        return float(a["value"]), 0.0
    if name == "zeros":
        return 0.0, 0.0
    if name == "ones":
        return 1.0, 0.0
    from .. import initializers as inits

    if name in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
        fan_in, fan_out = inits.fans(tuple(shape), layout=a.get("layout", "torch"))
        if name.startswith("xavier"):
            return 0.0, a.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
        gain = inits.calculate_gain(a.get("nonlinearity", "leaky_relu"), a.get("a", 0))
        fan = fan_in if a.get("mode", "fan_in") == "fan_in" else fan_out
        return 0.0, gain / math.sqrt(fan)
    family = {"glorot": (1.0, "fan_avg"), "he": (2.0, "fan_in"), "lecun": (1.0, "fan_in")}
    prefix = name.split("_")[0]
    if name == "variance_scaling" or (prefix in family and name.endswith(("_normal", "_uniform"))):
        scale, mode = (a.get("scale", 1.0), a.get("mode", "fan_in")) if name == "variance_scaling" \
            else family[prefix]
        axes = {k: a[k] for k in ("in_axis", "out_axis", "batch_axis") if k in a}
        fan_in, fan_out = inits.fans(tuple(shape), layout="jax", **axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
        # truncated_normal carries the 0.8796 correction, so every distribution has this std
        return 0.0, math.sqrt(scale / max(1.0, n))
    return None
