"""init_module one unit at a time, for save_init: the same values in bounded memory.

init_module materializes the whole model, then runs its init code module by module
(children first; a model nested in a plain module by its own entry point, as one unit).  Here the same modules run in the same order with the same filler
(module_init.ModuleFiller: same streams, same re-fill counters, same protections),
but only one *unit* is materialized at a time: the largest subtree whose parameters
fit in UNIT_BYTES (a single module if it alone is bigger); a module above the units
(LlamaModel, the top model) is a unit of its own parameters.  When a unit's modules
are done its tensors are final, handed to the caller, and put back on meta.

That is exact as long as a module's init code only writes tensors of its own unit,
which holds for the init code of transformers (a parent reaching into a child, as
GPT-2's attention rescaling ``c_proj``, stays within one unit when the parent's subtree
fits).  A write to a tensor that is not materialized (on meta) would be lost, so it
raises NotLocal; the driver then redoes the run with that module's subtree as one
unit, and as a last resort with the whole model as one unit (init_module's memory).
"""
from __future__ import annotations

import math

import torch

from . import models
from .capture import capture, fillable
from .empty import _empty_like
from .module_init import ModuleFiller, TensorNames, _Reset, _reset_pass

UNIT_BYTES = 512 << 20
CHUNK_BYTES = 128 << 20  # a tensor bigger than this is computed and written in row blocks
# Fills that do not read the tensor and give each element from its index alone, so a
# row block equals that slice of the whole (fill_shard_): the last one decides the values.
_BLOCKWISE = frozenset({"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                        "kaiming_uniform_", "kaiming_normal_", "zeros_", "ones_", "constant_"})


class NotLocal(Exception):
    def __init__(self, scope, name):
        super().__init__(f"the init code of module {scope!r} writes {name or 'a tensor'} outside "
                         f"its unit")
        self.scope = scope


class _NotBlockwise(Exception):
    """The init code does more to a big tensor than whole-tensor elementwise fills."""


class _UnitFiller(ModuleFiller):
    """A ModuleFiller that refuses to lose a write to a tensor still (or again) on meta,
    and that records, instead of computing, the fills of the big tensors left on meta
    (``recording``: id -> [(fill, params, seed, stream)])."""

    def __init__(self, *args):
        super().__init__(*args)
        self.recording = {}

    def _recorded(self, tensor):
        if id(tensor) in self.recording:
            return True
        if tensor._base is not None and id(tensor._base) in self.recording:
            raise _NotBlockwise  # a view of it: a padding row, a slice
        return False

    def state(self):
        return set(self.touched), dict(self.made), dict(self.derived), self.last, self.error_scope

    def set_state(self, state):
        touched, made, derived, self.last, self.error_scope = state
        self.touched, self.made, self.derived = set(touched), dict(made), dict(derived)

    def _meta_protected(self, tensor):
        base = self.names.base_of(tensor)
        if base is None and tensor._base is not None:  # a view (a padding row)
            base = self.names.base_of(tensor._base)
        if base is not None and base in self.protected:
            return True  # init_module drops this write too
        raise NotLocal(self.scope, base)

    def fill(self, name, tensor, params, generator):
        if fillable(tensor) and tensor.is_meta:
            if self._recorded(tensor):
                if name not in _BLOCKWISE:
                    raise _NotBlockwise
                resolved = self.resolve(tensor, generator)
                if resolved is not None:
                    self.recording[id(tensor)].append((name, dict(params), *resolved))
                return tensor
            if self._meta_protected(tensor):
                return tensor
        return super().fill(name, tensor, params, generator)

    def write(self, tensor):
        if isinstance(tensor, torch.Tensor) and tensor.is_meta:
            if self._recorded(tensor):
                raise _NotBlockwise
            if self._meta_protected(tensor):
                return True
        return super().write(tensor)


class Blocks:
    """A big tensor's final values as row blocks of about CHUNK_BYTES, each computed
    when iterated (fill_shard_ of the last recorded fill: that slice of the whole)."""

    def __init__(self, like, fills, threads):
        self.shape, self.dtype = tuple(like.shape), like.dtype
        self.fill = fills[-1] if fills else None
        self.threads = threads

    def __iter__(self):
        from .shard import fill_shard_

        row = self.dtype.itemsize * (math.prod(self.shape[1:]))
        step = max(1, CHUNK_BYTES // max(row, 1))
        for r0 in range(0, self.shape[0], step):
            block = torch.empty((min(step, self.shape[0] - r0), *self.shape[1:]), dtype=self.dtype)
            if self.fill is None:
                block.zero_()  # as init_module: a materialized tensor nothing wrote
            else:
                name, params, seed, stream = self.fill
                fill_shard_(block, self.shape, (r0,) + (0,) * (len(self.shape) - 1), name,
                            seed=seed, stream=stream, threads=self.threads, **params)
            yield block


def _nbytes(t):
    return t.numel() * t.element_size()


def _own_tensors(m):
    return [(store, key, t) for store in (m._parameters, m._buffers)
            for key, t in store.items() if t is not None]


class _Unit:
    def __init__(self, root, qualname, modules, whole_subtree):
        self.root, self.qualname = root, qualname
        self.modules = modules  # [(qualname, module, owner PreTrainedModel or None)], post-order
        self.whole_subtree = whole_subtree


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix and name else prefix or name


def plan_units(model, prefix, kind, forced, budget):
    """The units in processing order: smart_apply's for transformers, else module_init's
    _auto_pass order (children first; a submodule that is a model of its own, e.g. a
    transformers model in a plain wrapper, is one unit run by its own entry point).
    Each module comes with its action: ("hf", owning PreTrainedModel), ("reset", None)
    or ("model", kind)."""
    pretrained = models._pretrained_model_class() if kind == "transformers" else None
    sizes = {}

    def subtree_bytes(m):
        if id(m) not in sizes:
            own = sum(_nbytes(t) for _, _, t in _own_tensors(m) if t.is_meta)
            sizes[id(m)] = own + sum(subtree_bytes(c) for c in m.children())
        return sizes[id(m)]

    def nested(m):
        return models.kind_of(m) if pretrained is None and m is not model else None

    def owner_of(child, owner):
        return child if pretrained is not None and isinstance(child, pretrained) else owner

    def post_order(m, qualname, owner):
        k = nested(m)
        if k is not None:
            yield qualname, m, ("model", k)
            return
        for name, child in m.named_children():
            yield from post_order(child, _join(qualname, name), owner_of(child, owner))
        yield qualname, m, ("hf", owner) if pretrained is not None else ("reset", None)

    units = []

    def walk(m, qualname, owner):
        children = list(m.named_children())
        if ("" in forced or qualname in forced or not children or subtree_bytes(m) <= budget
                or nested(m) is not None):
            units.append(_Unit(m, qualname, list(post_order(m, qualname, owner)), True))
            return
        for name, child in children:
            walk(child, _join(qualname, name), owner_of(child, owner))
        units.append(_Unit(m, qualname, [(qualname, m, ("hf", owner) if pretrained is not None
                                          else ("reset", None))], False))

    walk(model, prefix, model if pretrained is not None else None)
    return units


def _unit_modules(unit):
    return list(unit.root.modules()) if unit.whole_subtree else [unit.root]


def run_units(model, seed, prefix, threads, kind, emit, budget=None, forced=frozenset()):
    """Run the init unit by unit.  After each unit, ``emit([(original, final), ...])`` gets
    the tensors it materialized (``original`` is the meta tensor of the model, put back
    afterwards); at the end, one ``emit`` with the tensors that were real all along
    (buffers under empty_init), final only then.  ``emit`` runs outside the fill
    capture.  Returns the filler (for module_init._report)."""
    budget = UNIT_BYTES if budget is None else budget
    units = plan_units(model, prefix, kind, forced, budget)
    filler = _UnitFiller(model, seed, prefix, threads)
    reset = _Reset(filler, None)
    real = list({id(t): t for t in list(model.parameters()) + list(model.buffers())
                 if not t.is_meta}.values())
    if kind == "transformers":
        scope, guarded = models.transformers_scopes(model, filler, prefix)
        custom = model.is_custom_code()
    else:
        scope = guarded = custom = None
    done_ids = set()  # original meta tensors already final and emitted
    for unit in units:
        state = filler.state()
        try:
            out = _run_unit(model, prefix, unit, filler, reset, done_ids, blockwise=True,
                            scope=scope, guarded=guarded, custom=custom)
        except _NotBlockwise:
            filler.set_state(state)  # the same unit again, every tensor in memory
            for m in _unit_modules(unit):
                m.__dict__.pop("_is_hf_initialized", None)  # else transformers skips it
            out = _run_unit(model, prefix, unit, filler, reset, done_ids, blockwise=False,
                            scope=scope, guarded=guarded, custom=custom)
        emit(out)
        done_ids.update(id(old) for old, _ in out)
        del out  # before the next unit is materialized
    emit([(t, t) for t in real])
    return filler


def _run_unit(model, prefix, unit, filler, reset, done_ids, blockwise, scope, guarded, custom):
    """Materialize one unit, run its modules' init, return [(original, final)] with its
    meta tensors put back.  With `blockwise`, tensors over CHUNK_BYTES stay on meta and
    their fills are recorded: their final value is a Blocks."""
    replaced, memo, recording = [], {}, {}
    try:
        for m in _unit_modules(unit):
            for store, key, t in _own_tensors(m):
                if not t.is_meta or id(t) in done_ids or id(t) in recording:
                    continue
                if blockwise and t.dim() >= 1 and _nbytes(t) > CHUNK_BYTES:
                    recording[id(t)] = []
                    continue
                new = memo.get(id(t))
                if new is None:
                    new = memo[id(t)] = _empty_like(t, "cpu")
                store[key] = new
                replaced.append((store, key, t, new))
        filler.names = TensorNames(model, prefix)
        filler.recording = recording
        unit_names = {filler.names.base_of(t) for m in _unit_modules(unit)
                      for _, _, t in _own_tensors(m)} - {None}
        with capture(filler), torch.no_grad():
            for qualname, m, (action, arg) in unit.modules:
                if action == "hf":
                    with filler.within(scope[id(m)], guarded[id(m)]):
                        arg._initialize_weights(m, custom)
                elif action == "reset":
                    reset(qualname, m)
                else:
                    with filler.within(qualname):
                        models.run(arg, m, filler, qualname, torch.device("cpu"))
            rest = unit_names - filler.touched
            if rest:  # what the model's code left: PyTorch's default, as init_module does
                _reset_pass(unit.root, filler, unit.qualname, only=rest)
        out = list({id(old): (old, new) for _, _, old, new in replaced}.values())
        for old, new in out:
            if filler.names.base_of(new) not in filler.touched and new.numel():
                new.zero_()  # as init_module: a materialized tensor nothing wrote
        big = {id(t): t for m in _unit_modules(unit) for _, _, t in _own_tensors(m) if id(t) in recording}
        out += [(t, Blocks(t, recording[i], filler.threads)) for i, t in big.items()]
        return out
    except Exception:
        if recording:
            raise _NotBlockwise from None  # e.g. the code read a big tensor: redo it in memory
        raise
    finally:
        filler.recording = {}
        for store, key, old, _ in reversed(replaced):
            store[key] = old
        filler.names = TensorNames(model, prefix)  # holds no materialized tensor
