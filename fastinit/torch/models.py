"""The model libraries' own init entry points, as init_module(scheme="auto") runs them.

* transformers ``PreTrainedModel``: ``initialize_weights()`` (the model's
  ``_init_weights`` on every module, children first, sub-models with their own
  ``_init_weights``) after clearing the ``_is_hf_initialized`` flags, then
  ``tie_weights()``: what ``from_config`` runs after construction.  A tied weight is
  filled once, by the module that owns it under its first name (the tie's source).
* ``init_states(buffer_device=...)`` (torchtitan's modules; recomputes buffers too).
* ``init_weights()`` (timm's models).
"""
from __future__ import annotations

import inspect
import sys

import torch


def import_transformers():
    """``transformers`` with its modeling code imported, or an OSError that names the root
    cause (transformers missing, or a broken dependency such as a torchvision built for
    another torch) in one line."""
    try:
        import transformers
        import transformers.modeling_utils  # noqa: F401  (a broken dependency fails here)
    except Exception as e:  # noqa: BLE001  (ImportError, or a broken dependency such as torchvision)
        root = e
        while root.__cause__ is not None:
            root = root.__cause__
        raise OSError(f"cannot import transformers: {type(root).__name__}: {root} (fix or remove "
                      f"the package named in that message, e.g. a torchvision built for another "
                      f"torch)") from None
    return transformers


def _pretrained_model_class():
    mod = sys.modules.get("transformers.modeling_utils")
    return getattr(mod, "PreTrainedModel", None) if mod is not None else None


def kind_of(module):
    """Which entry point scheme="auto" uses for `module`: "transformers", "init_states",
    "init_weights" or None (each submodule's reset_parameters)."""
    pretrained = _pretrained_model_class()
    if pretrained is not None and isinstance(module, pretrained):
        return "transformers"
    if _callable_with(getattr(module, "init_states", None), buffer_device=None):
        return "init_states"
    if _callable_with(getattr(module, "init_weights", None)):
        return "init_weights"
    return None


def _callable_with(fn, **kwargs):
    # A method of that name that needs other arguments follows another convention.
    if not callable(fn):
        return False
    try:
        inspect.signature(fn).bind(**kwargs)
    except (TypeError, ValueError):
        return False
    return True


def describe(kind, module):
    name = type(module).__name__
    return {"transformers": f"{name}._init_weights (transformers)",
            "init_states": f"{name}.init_states", "init_weights": f"{name}.init_weights"}[kind]


def run(kind, module, filler, prefix, buffer_device):
    with torch.no_grad():
        if kind == "transformers":
            _run_transformers(module, filler, prefix)
        elif kind == "init_states":
            module.init_states(buffer_device=buffer_device)
        else:
            module.init_weights()


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix and name else prefix or name


def _clear_hf_flags(model):
    for m in model.modules():
        m.__dict__.pop("_is_hf_initialized", None)
    for t in list(model.parameters()) + list(model.buffers()):
        if getattr(t, "__dict__", None) is not None:
            t.__dict__.pop("_is_hf_initialized", None)


def transformers_scopes(model, filler, prefix):
    """Clear transformers' init flags; return (scope, guarded): each module's qualified
    name, and the tied-target tensors it must not fill."""
    _clear_hf_flags(model)
    tied_targets = set(getattr(model, "all_tied_weights_keys", None) or {})
    scope, guarded = {}, {}
    for qualname, m in model.named_modules():
        scope[id(m)] = _join(prefix, qualname)
        # The tie's target (lm_head.weight) is the same tensor as its source: only the
        # source's module fills it, as from_config ends with the source's values.
        names = {filler.names.base_of(p) for key, p in m._parameters.items()
                 if p is not None and _join(qualname, key) in tied_targets}
        guarded[id(m)] = names - {None}
    return scope, guarded


def _run_transformers(model, filler, prefix):
    pretrained = _pretrained_model_class()
    scope, guarded = transformers_scopes(model, filler, prefix)

    wrapped = []
    for m in model.modules():
        if isinstance(m, pretrained):
            original = m._initialize_weights

            def initialize(module, *args, _original=original, **kwargs):
                with filler.within(scope.get(id(module), prefix), guarded.get(id(module), ())):
                    return _original(module, *args, **kwargs)

            m._initialize_weights = initialize  # smart_apply looks it up on each sub-model
            wrapped.append(m)
    try:
        model.initialize_weights()
    finally:
        for m in wrapped:
            m.__dict__.pop("_initialize_weights", None)
    model.tie_weights()
