"""init_module: PyTorch's default initialization of every layer of a module, one stream
per parameter name.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import torch

from fastinit import _validate

from ._specs import _torch_fans
from ._tensor import _apply, _is_dtensor
from .patch import _patched


# -------------------------------------------------------------- init_module ----
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


def _tensor_key(t):
    # Identifies the same memory seen through another tensor object (`w.data`,
    # `w.detach()`); meta tensors have no memory to compare.
    from torch.nn.parameter import is_lazy

    if t.is_meta or is_lazy(t) or _is_dtensor(t):
        return None
    return (t.device, t.dtype, t.data_ptr(), tuple(t.shape), tuple(t.stride()))


def init_module(module, seed, *, prefix="", threads=None):
    """PyTorch's default initialization of every layer of `module`, on fastinit.

    Each parameter is filled with the distribution PyTorch's own ``reset_parameters``
    uses (Linear and Conv*/ConvTranspose*: ``kaiming_uniform_(a=sqrt(5))`` and bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Bilinear; Embedding N(0, 1) with the padding
    row zeroed; BatchNorm/InstanceNorm/LayerNorm/GroupNorm/RMSNorm weight 1, bias 0
    and running statistics reset; RNN/LSTM/GRU and cells U(-1/sqrt(hidden),
    1/sqrt(hidden)); MultiheadAttention, PReLU and Transformer as PyTorch does) with
    ``seed=seed`` and ``stream=<prefix + the parameter's qualified name>``.  So a
    parameter's values depend only on (seed, its name, its shape, its dtype): not on
    construction order, other layers, threads, device or sharding.

    Children are initialized before their parents, as during construction.  A module
    outside this list that defines ``reset_parameters`` (or ``_reset_parameters``) is
    reset by its own code under :func:`patch_torch_init`-style patching (including
    ``Tensor.normal_``/``uniform_``), each fill of one of its parameters using that
    parameter's name as the stream.  Parameters that nothing filled through fastinit (modules without a
    reset method, or whose reset uses Tensor methods directly) are reported in a
    warning.  Lazy modules that are not materialized yet are skipped.  Parameters on
    the meta device are skipped (materialize with ``module.to_empty(device=...)``
    first).  Works on DTensor parameters (each rank fills its shards).  torch's
    random generator is not used.

    Use `prefix` when `module` is part of a bigger model, so names match the full
    model's (``init_module(model.layers[3], 0, prefix="layers.3")``).

    Returns `module`.

    >>> import torch, fastinit, fastinit.torch as finit
    >>> net = finit.init_module(torch.nn.Sequential(torch.nn.Linear(4, 3)), seed=0)
    >>> w = fastinit.kaiming_uniform((3, 4), a=5 ** 0.5, seed=0, stream="0.weight")
    >>> bool((net[0].weight.detach().numpy() == w).all())
    True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"init_module expects a torch.nn.Module, got {type(module).__name__}")
    seed = _validate.check_seed(seed)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    threads_v = _validate.check_threads(threads)
    from torch.nn.parameter import is_lazy

    by_id, by_key = {}, {}
    for name, t in list(module.named_parameters(prefix=prefix)) + list(module.named_buffers(prefix=prefix)):
        by_id.setdefault(id(t), name)
        key = _tensor_key(t)
        if key is not None:
            by_key.setdefault(key, name)
    touched = set()

    def name_of(tensor):
        name = by_id.get(id(tensor))
        if name is None:
            key = _tensor_key(tensor)
            name = by_key.get(key) if key is not None else None
        return name

    def init(tensor, kind, **params):
        if is_lazy(tensor) or tensor.numel() == 0:
            return
        name = name_of(tensor)
        if name is None:
            # Not a parameter or buffer: a value computed on access (torch.nn.utils.
            # parametrize); writing it would not reach the module.  Reported below.
            return
        _apply(tensor, kind, params, seed=seed, stream=name, threads=threads_v)
        touched.add(name)

    # Modules outside the rules run their own reset code under one patch of torch.nn.init
    # whose fills use (seed, the tensor's name).  A temporary the reset code makes itself
    # gets "<module name>#<k>", k counting such fills within that module's reset: its
    # code fixes the order.
    current = {"module": "", "anonymous": 0}

    def resolve(tensor, generator):
        name = name_of(tensor)
        if name is None:
            current["anonymous"] += 1
            return seed, f"{current['module']}#{current['anonymous']}"
        return seed, name

    def note(tensor):
        touched.add(name_of(tensor))

    def own_reset(m):
        for cls, method, rule in rules:
            if isinstance(m, cls):
                # A subclass that overrides the reset gets its own code run.
                return None if getattr(type(m), method) is getattr(cls, method) else method
        return next((n for n in ("reset_parameters", "_reset_parameters")
                     if callable(getattr(m, n, None))), None)

    rules = _default_rules()
    plan = [(qualname, m, own_reset(m)) for qualname, m in _post_order(module, prefix)
            if not any(is_lazy(p) for p in m.parameters(recurse=False))]
    if any(method for _, _, method in plan):
        patch = _patched(resolve, threads_v, note, tensor_methods=True)
    else:
        patch = contextlib.nullcontext()
    with patch:
        for qualname, m, method in plan:
            if method is None:
                rule = next((rule for cls, _, rule in rules if isinstance(m, cls)), None)
                if rule is not None:
                    rule(m, init)
                continue
            current.update(module=qualname, anonymous=0)
            with torch.no_grad():
                getattr(m, method)()
    untouched = [n for n, p in module.named_parameters(prefix=prefix)
                 if n not in touched and not is_lazy(p) and p.numel() > 0]
    if untouched:
        shown = ", ".join(untouched[:8]) + (", ..." if len(untouched) > 8 else "")
        warnings.warn(f"init_module: {len(untouched)} parameter(s) were not filled by fastinit "
                      f"under their own name (their module has no reset_parameters, or it does not call "
                      f"torch.nn.init on them): {shown}", stacklevel=2)
    return module
