"""Initializer specs of the diagnostics: "kaiming_normal:nonlinearity=relu" and friends,
resolved to a weight-drawing function in the initializer's own layout.
"""
from __future__ import annotations

from .activations import _parse_number
from .recommend import Recommendation

# Core fills: a bare value after the colon is their scale, not their first argument.
_CORE_SCALE = {"normal": "std", "trunc_normal": "std", "uniform": "bound"}


def _parse_value(text):
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return _parse_number(text, "")
    except ValueError:
        return text  # a word such as relu or fan_out


def parse_init_spec(spec):
    """Split ``"name:value:key=value..."`` into ``(name, args, kwargs)``.

    >>> parse_init_spec("kaiming_normal:nonlinearity=relu")
    ('kaiming_normal', [], {'nonlinearity': 'relu'})
    >>> parse_init_spec("xavier_normal:5/3")
    ('xavier_normal', [1.6666666666666667], {})
    """
    if not isinstance(spec, str):
        raise TypeError(f"an initializer spec is a string, got {type(spec).__name__}")
    name, *parts = [p.strip() for p in spec.strip().split(":")]
    if not name:
        raise ValueError(f"initializer spec {spec!r} has no name: write e.g. 'he_normal' or 'normal:0.01'")
    args, kwargs = [], {}
    for part in parts:
        if not part:
            raise ValueError(f"initializer spec {spec!r} has an empty parameter (two colons in a row?)")
        key, eq, value = part.partition("=")
        if eq:
            key = key.strip()
            if not key.isidentifier():
                raise ValueError(f"initializer spec {spec!r}: {key!r} is not a parameter name")
            if key in kwargs:
                raise ValueError(f"initializer spec {spec!r} gives {key!r} twice")
            kwargs[key] = _parse_value(value)
        else:
            if kwargs:
                raise ValueError(f"initializer spec {spec!r}: bare values must come before key=value ones")
            args.append(_parse_value(part))
    return name, args, kwargs


def _lookup(name):
    from ..initializers import registry

    return registry.entry_of(name).func


def _is_configured(init):
    return type(init).__name__ == "Initializer" and hasattr(init, "name") and hasattr(init, "params")


def _layout_of(name, fn=None):
    """The registry's layout of `name` (JAX/Keras: ([k,] in, out)); PyTorch's
    (out, in[, k]) for the others and for functions fastinit does not know."""
    from ..initializers import registry

    entry = registry.available_initializers().get(name)
    return (entry.layout if entry is not None else None) or "torch"


def _resolve_init(init, layout, dtype):
    """(label, draw(torch_or_jax_shape, stream) -> ndarray, layout)."""
    if isinstance(init, Recommendation):
        init = init.spec
    if _is_configured(init):  # fastinit.initializer("he_normal", ...): its name fixes the layout
        label = repr(init).replace("fastinit.initializer", "initializer")
        lay = layout or init.params.get("layout") or _layout_of(init.name, None)

        def draw(shape, seed, stream):
            return init(shape, seed=seed, stream=stream, dtype=dtype.name)
        return label, draw, lay
    if callable(init) and not isinstance(init, str):
        label = getattr(init, "__name__", None) or type(init).__name__
        ours = str(getattr(init, "__module__", "")).startswith("fastinit")
        lay = layout or getattr(init, "layout", None) or (_layout_of(label, init) if ours else "torch")

        def draw(shape, seed, stream):
            return init(shape, seed=seed, stream=stream)
        return label, draw, lay
    name, args, kwargs = parse_init_spec(init)
    label = init.strip()
    if name in _CORE_SCALE and args:
        if len(args) > 1:
            raise ValueError(f"{label!r}: give one bare value (the {_CORE_SCALE[name]}) or key=value pairs")
        scale = args.pop()
        if isinstance(scale, str) or isinstance(scale, bool) or scale is None or not scale >= 0:
            raise ValueError(f"{label!r}: the {_CORE_SCALE[name]} must be a number >= 0, got {scale!r}")
        if _CORE_SCALE[name] == "bound":
            if "low" in kwargs or "high" in kwargs:
                raise ValueError(f"{label!r}: give either a bound or low=/high=, not both")
            kwargs.update(low=-float(scale), high=float(scale))
        else:
            if "std" in kwargs:
                raise ValueError(f"{label!r}: the std is given twice")
            kwargs["std"] = float(scale)
    fn = _lookup(name)
    lay = layout or kwargs.get("layout") or _layout_of(name, fn)

    def draw(shape, seed, stream):
        return fn(shape, *args, seed=seed, stream=stream, dtype=dtype.name, **kwargs)
    return label, draw, lay
