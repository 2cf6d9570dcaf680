"""init_module: a module's own initialization code (or PyTorch's layer defaults), every
random fill computed by fastinit under the name of the tensor it fills.
"""
from __future__ import annotations

import contextlib
import math
import warnings
import weakref

import torch

from fastinit import _validate

from . import models
from ._specs import _torch_fans
from ._tensor import _is_dtensor
from .capture import Filler, capture
from .empty import materialize


# ------------------------------------------------- PyTorch's layer defaults ----
def _post_order(module, prefix):
    # Children before their parent: a parent's reset (MultiheadAttention zeroing
    # out_proj.bias, Transformer's xavier pass) overrides its children's, exactly
    # as during construction.
    for name, child in module.named_children():
        yield from _post_order(child, f"{prefix}.{name}" if prefix else name)
    yield prefix, module


def _linear_like_bias_bound(weight):
    fan_in, _ = _torch_fans(tuple(weight.shape))
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0


def _rule_linear(m, init):
    init(m.weight, "kaiming_uniform", a=math.sqrt(5))
    if m.bias is not None:
        bound = _linear_like_bias_bound(m.weight)
        init(m.bias, "uniform", a=-bound, b=bound)


def _rule_bilinear(m, init):
    bound = 1 / math.sqrt(m.weight.size(1))
    init(m.weight, "uniform", a=-bound, b=bound)
    if m.bias is not None:
        init(m.bias, "uniform", a=-bound, b=bound)


def _rule_embedding(m, init):
    init(m.weight, "normal")
    if m.padding_idx is not None:
        with torch.no_grad():
            m.weight[m.padding_idx].fill_(0)


def _rule_norm_base(m, init):  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    m.reset_running_stats()
    if m.affine:
        init(m.weight, "ones")
        init(m.bias, "zeros")


def _rule_affine_norm(m, init):  # LayerNorm, GroupNorm, RMSNorm
    if getattr(m, "weight", None) is not None:
        init(m.weight, "ones")
    if getattr(m, "bias", None) is not None:
        init(m.bias, "zeros")


def _rule_rnn(m, init):  # RNN, LSTM, GRU and their cells
    stdv = 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0
    for w in m.parameters(recurse=False):
        init(w, "uniform", a=-stdv, b=stdv)


def _rule_mha(m, init):
    if m._qkv_same_embed_dim:
        init(m.in_proj_weight, "xavier_uniform")
    else:
        for w in (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight):
            init(w, "xavier_uniform")
    if m.in_proj_bias is not None:
        init(m.in_proj_bias, "zeros")
        init(m.out_proj.bias, "zeros")
    for b in (m.bias_k, m.bias_v):
        if b is not None:
            init(b, "xavier_normal")


def _rule_prelu(m, init):
    init(m.weight, "constant", val=m.init)


def _rule_transformer(m, init):
    for p in m.parameters():
        if p.dim() > 1:
            init(p, "xavier_uniform")


def _default_rules():
    nn = torch.nn
    from torch.nn.modules.batchnorm import _NormBase
    from torch.nn.modules.conv import _ConvNd
    from torch.nn.modules.rnn import RNNBase, RNNCellBase

    rules = [
        (nn.Linear, "reset_parameters", _rule_linear),
        (nn.Bilinear, "reset_parameters", _rule_bilinear),
        (_ConvNd, "reset_parameters", _rule_linear),  # Conv1-3d, ConvTranspose1-3d: fans of the weight
        (nn.Embedding, "reset_parameters", _rule_embedding),
        (nn.EmbeddingBag, "reset_parameters", _rule_embedding),
        (_NormBase, "reset_parameters", _rule_norm_base),
        (nn.LayerNorm, "reset_parameters", _rule_affine_norm),
        (nn.GroupNorm, "reset_parameters", _rule_affine_norm),
        (RNNBase, "reset_parameters", _rule_rnn),
        (RNNCellBase, "reset_parameters", _rule_rnn),
        (nn.MultiheadAttention, "_reset_parameters", _rule_mha),
        (nn.PReLU, "reset_parameters", _rule_prelu),
        (nn.Transformer, "_reset_parameters", _rule_transformer),
    ]
    if hasattr(nn, "RMSNorm"):
        rules.append((nn.RMSNorm, "reset_parameters", _rule_affine_norm))
    return rules


# --------------------------------------------------------------- names ----
class TensorNames:
    """Qualified names of a module's parameters and buffers, found again through
    other tensor objects on the same memory (``w.data``, ``w.detach()``, views)."""

    def __init__(self, module, prefix):
        self._keep, self._by_id, self._by_view, self._by_storage = [], {}, {}, {}
        for name, t in list(module.named_parameters(prefix=prefix)) + list(module.named_buffers(prefix=prefix)):
            self._keep.append(t)  # ids stay valid while we hold them
            self._by_id.setdefault(id(t), name)
            key = _storage_key(t)
            if key is not None:
                self._by_view.setdefault(key, name)
                self._by_storage.setdefault(key[:2], name)
        self.all = list(dict.fromkeys(self._by_id.values()))

    def lookup(self, t):
        """(stream name, base name): the tensor's own name for the tensor itself, its
        name plus the view's position for part of it; (None, None) if unknown."""
        name = self._by_id.get(id(t))
        if name is not None:
            return name, name
        key = _storage_key(t)
        if key is None:
            return None, None
        name = self._by_view.get(key)
        if name is not None:
            return name, name
        base = self._by_storage.get(key[:2])
        if base is None:
            return None, None
        return f"{base}[{key[2]}:{key[3]}:{key[4]}]", base

    def base_of(self, t):
        return self.lookup(t)[1]


def _storage_key(t):
    from torch.nn.parameter import is_lazy

    if is_lazy(t):
        return None
    local = t._local_tensor if _is_dtensor(t) else t
    if local.is_meta or local.layout != torch.strided:
        return None
    ptr = local.untyped_storage().data_ptr()
    if ptr == 0:
        return None  # zero-size storages share address 0
    return (local.device, ptr, local.storage_offset(), tuple(local.shape), tuple(local.stride()),
            local.dtype)


class ModuleFiller(Filler):
    """Fills of a module's tensors: stream = the tensor's name, "<name>#k" for its k-th
    re-fill by the same module's init code; the k-th temporary made after a named
    tensor (``w.new_empty(...)``, ``torch.empty_like(w)``) "<name>~k"; another
    temporary of module M "M#k" (k counting within M).  A parent re-filling a child's tensor (MultiheadAttention,
    GPT-2's scaled projections) starts again from the plain name."""

    tracks_writes = True

    def __init__(self, module, seed, prefix, threads):
        super().__init__(threads)
        self.names = TensorNames(module, prefix)
        self.seed = seed
        self.scope, self.anonymous = prefix, 0
        self.fills = {}  # stream name -> fills so far within the current scope
        self.touched = set()
        self.protected = set()
        self.last = None  # the tensor name most recently written, for error messages
        self.error_scope = None  # the innermost scope an exception left
        self.derived = {}  # id(temporary) -> (weakref, "<name>~k") for tensors made after a named one
        self.made = {}  # name -> temporaries made after it so far

    @contextlib.contextmanager
    def within(self, scope, protected=()):
        saved = (self.scope, self.anonymous, self.fills, self.protected)
        self.scope, self.anonymous, self.fills = scope, 0, {}
        self.protected = self.protected | set(protected)
        try:
            yield
        except BaseException:
            if self.error_scope is None:
                self.error_scope = scope
            raise
        finally:
            self.scope, self.anonymous, self.fills, self.protected = saved

    def derive(self, source, new):
        if not isinstance(new, torch.Tensor):
            return
        stream, _ = self.names.lookup(source)
        if stream is None:
            entry = self.derived.get(id(source))
            stream = entry[1] if entry is not None and entry[0]() is source else None
        if stream is not None:
            k = self.made.get(stream, 0) + 1
            self.made[stream] = k
            self.derived[id(new)] = (weakref.ref(new), f"{stream}~{k}")

    def _derived_name(self, tensor):
        entry = self.derived.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def resolve(self, tensor, generator):
        stream, base = self.names.lookup(tensor)
        if base is None:
            stream = self._derived_name(tensor)
            if stream is not None:  # a temporary made after a named tensor: "<name>~k"
                k = self.fills.get(stream, 0)
                self.fills[stream] = k + 1
                return self.seed, stream if k == 0 else f"{stream}#{k}"
            self.anonymous += 1
            return self.seed, f"{self.scope}#{self.anonymous}"
        if base in self.protected:
            return None
        self.touched.add(base)
        self.last = base
        k = self.fills.get(stream, 0)
        self.fills[stream] = k + 1
        return self.seed, stream if k == 0 else f"{stream}#{k}"

    def write(self, tensor):
        base = self.names.base_of(tensor)
        if base is None:
            return False
        if base in self.protected:
            return True
        self.touched.add(base)
        self.last = base
        return False


# ---------------------------------------------------------------- passes ----
def _own_reset(m, rules):
    """The reset method to run for `m` (None: its rule, or nothing)."""
    for cls, method, _ in rules:
        if isinstance(m, cls):
            # A subclass that overrides the reset gets its own code run.
            return None if getattr(type(m), method) is getattr(cls, method) else method
    return next((n for n in ("reset_parameters", "_reset_parameters")
                 if callable(getattr(m, n, None))), None)


def _reset_pass(module, filler, prefix, only=None):
    """PyTorch's defaults, children first, for every module (or those owning a tensor in
    `only`, the others left as they are)."""
    reset = _Reset(filler, only)
    for qualname, m in _post_order(module, prefix):
        reset(qualname, m)


def _auto_pass(module, filler, prefix, buffer_device):
    """A submodule with its library's init entry point gets it; the others their reset,
    children first."""
    reset = _Reset(filler, None)

    def visit(qualname, m):
        kind = models.kind_of(m)
        if kind is not None:
            with filler.within(qualname):
                models.run(kind, m, filler, qualname, buffer_device)
            return
        for name, child in m.named_children():
            visit(f"{qualname}.{name}" if qualname else name, child)
        reset(qualname, m)

    visit(prefix, module)


class _Reset:
    """One module's own reset: its rule (built-in layers) or its reset method."""

    def __init__(self, filler, only):
        self.filler, self.only, self.rules = filler, only, _default_rules()

    def init(self, tensor, kind, **params):
        from torch.nn.parameter import is_lazy

        if is_lazy(tensor) or tensor.numel() == 0 or self.filler.names.base_of(tensor) is None:
            return  # a value computed on access (torch.nn.utils.parametrize): reported below
        self.filler.fill(kind + "_", tensor, params, None)

    def __call__(self, qualname, m):
        from torch.nn.parameter import is_lazy

        filler = self.filler
        if any(is_lazy(p) for p in m.parameters(recurse=False)):
            return
        if self.only is not None:
            own = {filler.names.base_of(t) for t in (*m._parameters.values(), *m._buffers.values())
                   if t is not None}
            if not own & self.only:
                return
        method = _own_reset(m, self.rules)
        protect = () if self.only is None else filler.touched - self.only
        with filler.within(qualname, protected=protect), torch.no_grad():
            if method is not None:
                getattr(m, method)()
            else:
                rule = next((rule for cls, _, rule in self.rules if isinstance(m, cls)), None)
                if rule is not None:
                    rule(m, self.init)


def _report(module, filler, prefix, done):
    """One warning for what nothing filled; materialized tensors nothing wrote are zeroed."""
    from torch.nn.parameter import is_lazy

    fresh = done.new_tensors()
    unfilled, zeroed = [], []
    tensors = [(n, t, True) for n, t in module.named_parameters(prefix=prefix)]
    tensors += [(n, t, False) for n, t in module.named_buffers(prefix=prefix)]
    for name, t, is_param in tensors:
        if name in filler.touched or is_lazy(t) or t.numel() == 0:
            continue
        if id(t) in fresh:
            with torch.no_grad():
                t.zero_()
            zeroed.append(name)
        if is_param:
            unfilled.append(name)
    if not unfilled and not zeroed:
        return

    def shown(names):
        return ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")

    msg = []
    if unfilled:
        msg.append(f"{len(unfilled)} parameter(s) were not filled by fastinit under their own name "
                   f"(their module has no reset_parameters, or it does not call torch.nn.init on "
                   f"them): {shown(unfilled)}")
    if zeroed:
        msg.append(f"{len(zeroed)} tensor(s) materialized from the meta device were written by no "
                   f"init code and are set to zero: {shown(zeroed)}")
    warnings.warn("init_module: " + "; ".join(msg), stacklevel=3)


def _check_device(device, module):
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError, ValueError) as e:
        raise TypeError(f"device must be a torch.device or a device string such as 'cpu', "
                        f"got {device!r}") from e
    if dev.type == "meta":
        raise ValueError("device='meta' cannot hold initialized values: pass a real device such as 'cpu'")
    try:
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as e:
        raise ValueError(f"device {dev} cannot hold {type(module).__name__}'s parameters: {e}") from e
    return dev


_SCHEMES = ("auto", "torch")


def init_module(module, seed, *, scheme="auto", prefix="", threads=None, device=None):
    """Initialize `module` with its own init code (or PyTorch's defaults), every random
    fill computed by fastinit.

    ``scheme="auto"`` (default) runs the code the model's library uses:

    * a transformers ``PreTrainedModel``: its ``_init_weights`` scheme as ``from_config``
      applies it (sub-models with their own ``_init_weights``, tied weights tied and
      filled once, padding rows zeroed, rotary and position buffers recomputed);
    * a module with ``init_states(buffer_device=...)`` (torchtitan): that method;
    * a module with ``init_weights()`` (timm): that method;
    * any other module: each submodule as above if it is such a model, else its own
      reset, children first (PyTorch's defaults for the built-in layers, custom
      ``reset_parameters()`` code as written);

    then PyTorch's default for any tensor that code did not reach (what construction
    gave it).  ``scheme="torch"``: PyTorch's layer defaults everywhere.

    Every random fill that code makes (``torch.nn.init`` functions however they are
    referenced, ``Tensor.normal_``/``uniform_``, timm's ``trunc_normal_``) is
    fastinit's with ``seed=seed`` and ``stream=<prefix + the tensor's qualified name>``
    (``"<name>#k"`` for its k-th re-fill; truncated normals are exact).  So values
    depend only on (seed, name, shape, dtype, scheme): not on ``torch.manual_seed``,
    threads, construction order, device or sharding.  torch's generator is not used.

    Meta parameters and buffers (from :func:`empty_init` or ``torch.device("meta")``)
    are materialized on `device` (default CPU) first.  DTensor parameters (FSDP2,
    tensor parallel) are filled shard by shard at their global offsets.  Parameters
    no code filled are named in one warning.  If the init code raises, the error
    names the module and the tensor last written, and materialized tensors go back
    to meta.

    Use `prefix` when `module` is part of a bigger model, so names match the full
    model's (``init_module(model.layers[3], 0, prefix="layers.3")``).  Returns `module`.

    >>> import torch, fastinit, fastinit.torch as finit
    >>> net = finit.init_module(torch.nn.Sequential(torch.nn.Linear(4, 3)), seed=0)
    >>> w = fastinit.kaiming_uniform((3, 4), a=5 ** 0.5, seed=0, stream="0.weight")
    >>> bool((net[0].weight.detach().numpy() == w).all())
    True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"init_module expects a torch.nn.Module, got {type(module).__name__}")
    seed = _validate.check_seed(seed)
    if scheme not in _SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}: use 'auto' (the model's own init code) "
                         f"or 'torch' (PyTorch's layer defaults)")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    threads_v = _validate.check_threads(threads)
    dev = _check_device(device, module)
    kind = models.kind_of(module) if scheme == "auto" else None

    done = materialize(module, dev)
    filler = ModuleFiller(module, seed, prefix, threads_v)
    try:
        with capture(filler):
            if scheme == "torch":
                _reset_pass(module, filler, prefix)
            else:
                _auto_pass(module, filler, prefix, dev if done else None)
                rest = set(filler.names.all) - filler.touched
                if rest:  # what the model's code left: PyTorch's default, as construction gave
                    _reset_pass(module, filler, prefix, only=rest)
    except Exception as e:
        back = "; the tensors it materialized are on meta again" if done else ""
        done.undo()
        code = models.describe(kind, module) if kind else f"{type(module).__name__}'s init code"
        scope = filler.error_scope if filler.error_scope is not None else filler.scope
        where = f"module {scope!r}" if scope else "the top module"
        last = f", last tensor written {filler.last!r}" if filler.last else ""
        raise RuntimeError(f"init_module: {code} raised {type(e).__name__} in {where}{last}"
                           f"{back}: {e}") from e
    _report(module, filler, prefix, done)
    return module
