"""save_init: a model's initial checkpoint written straight to sharded safetensors, in
bounded memory, with the values init_module gives in memory.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import time
import warnings

import torch

from fastinit import _validate

from . import models
from ._unit_init import NotLocal, run_units
from .module_init import _report
from .safetensors_writer import DTYPE_CODES, ShardFile

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16}
_SIZE_UNITS = {"TB": 10**12, "GB": 10**9, "MB": 10**6, "KB": 10**3}  # as huggingface_hub
WEIGHTS_NAME = "model.safetensors"


class NotEnoughSpace(OSError):
    """The checkpoint does not fit in the free space of its directory (checked before writing)."""


INDEX_NAME = "model.safetensors.index.json"


def check_dtype(dtype):
    """None, or one of the four float dtypes (torch.dtype or its name)."""
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _DTYPES:
        return _DTYPES[dtype.removeprefix("torch.")]
    raise ValueError(f"dtype must be one of float32, float64, float16, bfloat16 (or None: the "
                     f"model's own dtypes), got {dtype!r}")


def parse_shard_size(shard_size):
    """Bytes from an int or a string such as "5GB" / "500MB" (decimal units, as
    huggingface_hub and save_pretrained read them)."""
    if isinstance(shard_size, bool):
        raise TypeError("shard_size must be a number of bytes or a string such as '5GB'")
    if isinstance(shard_size, int):
        n = shard_size
    elif isinstance(shard_size, str):
        text = shard_size.strip()
        unit = text[-2:].upper()
        try:
            if unit not in _SIZE_UNITS:
                raise ValueError
            n = int(float(text[:-2].strip()) * _SIZE_UNITS[unit])
        except ValueError:
            raise ValueError(f"shard_size {shard_size!r}: write a number and a unit KB, MB, GB or "
                             f"TB, e.g. '5GB' (or an int number of bytes)") from None
    else:
        raise TypeError(f"shard_size must be a number of bytes or a string such as '5GB', "
                        f"got {type(shard_size).__name__}")
    if n <= 0:
        raise ValueError(f"shard_size must be > 0, got {shard_size!r}")
    return n


def split_shards(sizes, max_shard_size):
    """huggingface_hub's split_torch_state_dict_into_shards on (key, nbytes) in order:
    {filename: [keys]} with the same files and names save_pretrained writes."""
    shards, current, current_size = [], [], 0
    for key, n in sizes:
        if n > max_shard_size:
            shards.append([key])
            continue
        if current_size + n > max_shard_size:
            shards.append(current)
            current, current_size = [], 0
        current.append(key)
        current_size += n
    if current:
        shards.append(current)
    if len(shards) == 1:
        return {WEIGHTS_NAME: shards[0]}
    return {f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors": keys for i, keys in enumerate(shards)}


# ------------------------------------------------------------------ planning ----
def _is_transformers(model):
    pretrained = models._pretrained_model_class()
    return pretrained is not None and isinstance(model, pretrained)


def _kept_keys(model, state):
    """The state-dict keys save_pretrained keeps (tied weights once, ignored keys out)."""
    if not _is_transformers(model):
        seen, keys = set(), []
        for k, t in state.items():  # a shared tensor under its first name
            if id(t) not in seen:
                seen.add(id(t))
                keys.append(k)
        return keys
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    sd = dict(state)
    for k in model._keys_to_ignore_on_save or ():
        sd.pop(k, None)
    sd = remove_tied_weights_from_state_dict(sd, model)
    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:  # older transformers: no conversions
        return list(sd)
    reverted = revert_weight_conversion(model, dict(sd))
    if list(reverted) != list(sd):
        raise ValueError(f"{type(model).__name__} saves its weights converted (fused or renamed "
                         f"tensors): save_init writes tensors as they are in the model, so use "
                         f"init_module and save_pretrained for this model")
    return list(sd)


def _named_tensors(model):
    named = dict(model.named_parameters(remove_duplicate=False))
    named.update(model.named_buffers(remove_duplicate=False))
    return named


class _Plan:
    def __init__(self, model, dtype):
        state = {}
        named = _named_tensors(model)
        for k in model.state_dict(keep_vars=True):
            if k in named:
                state[k] = named[k]
        self.keys = _kept_keys(model, state)
        self.tensor_of = {k: state[k] for k in self.keys}
        self.key_of = {}
        for k in self.keys:
            self.key_of.setdefault(id(self.tensor_of[k]), []).append(k)
        self.dtype_of = {}
        for k in self.keys:
            t = self.tensor_of[k]
            out = dtype if dtype is not None and t.is_floating_point() else t.dtype
            if out not in DTYPE_CODES:
                raise ValueError(f"{k} is {t.dtype}, which save_init does not write (safetensors "
                                 f"files of floats, integers and bools): convert that tensor")
            self.dtype_of[k] = out
        self.nbytes = {k: self.tensor_of[k].numel() * self.dtype_of[k].itemsize for k in self.keys}

    def shard_files(self, directory, max_shard_size):
        files = {}
        for name, keys in split_shards([(k, self.nbytes[k]) for k in self.keys], max_shard_size).items():
            entries = [(k, self.dtype_of[k], tuple(self.tensor_of[k].shape)) for k in keys]
            files[name] = ShardFile(os.path.join(directory, name), entries)
        return files


# ------------------------------------------------------------------ the model ----
def _snapshot(model):
    return [(store, dict(store)) for m in model.modules() for store in (m._parameters, m._buffers)]


def _restore(snapshot):
    for store, saved in snapshot:
        store.clear()
        store.update(saved)


def _prepare(model, dtype):
    """Every parameter on meta (of `dtype` if given, floating ones), floating buffers cast
    to `dtype`: the model init_module would see after ``model.to(dtype)``."""
    memo = {}
    for m in model.modules():
        for store, is_param in ((m._parameters, True), (m._buffers, False)):
            for key, t in list(store.items()):
                if t is None:
                    continue
                new = memo.get(id(t))
                if new is None:
                    out = dtype if dtype is not None and t.is_floating_point() else t.dtype
                    if is_param and not (t.is_meta and t.dtype == out):
                        new = torch.nn.Parameter(torch.empty_like(t, device="meta", dtype=out),
                                                 requires_grad=t.requires_grad)
                        new.__dict__.update(t.__dict__)  # flags such as _no_weight_decay
                    elif not is_param and t.dtype != out:
                        new = t.to(out)
                    else:
                        new = t
                    memo[id(t)] = new
                store[key] = new


# ------------------------------------------------------------------ writing ----
def save_init(model, path, *, seed, shard_size="5GB", dtype=None, threads=None, progress=True,
              overwrite=False):
    """Write `model`'s initial checkpoint to directory `path`, tensor by tensor.

    `model` is built under :func:`empty_init` (parameters on meta).  Every tensor of
    the checkpoint equals, bit for bit, what ``init_module(model, seed=seed)`` gives in
    memory (the model's own init code, fills from fastinit's stream under each
    parameter's name), but only one unit of the model (a transformer block, or one
    big tensor such as the embedding) is in memory at a time.

    `path` gets the Hugging Face layout: sharded ``.safetensors`` files of at most
    `shard_size` (``"5GB"``, ``"500MB"`` or bytes; a tensor bigger than that gets a
    file of its own), ``model.safetensors.index.json``, and for a transformers model
    ``config.json`` (and ``generation_config.json``), with tied weights stored once
    as ``save_pretrained`` does, so ``AutoModelForCausalLM.from_pretrained(path)``
    loads it.  `dtype` (float32, float64, float16 or bfloat16) converts the floating
    tensors first, as ``model.to(dtype)`` would: the values are those of the model
    initialized in that dtype.

    The checkpoint is written in a temporary directory beside `path` (under the lock
    ``path.fastinit-lock``) and renamed to `path` when complete: an interrupted or
    killed save leaves no `path`.  An existing `path` is refused unless
    ``overwrite=True`` (and then only a checkpoint directory is replaced).  Parameters
    that are not on meta are ignored and recomputed, with a warning; the model is left
    as it was (on meta).  Returns a dict with the path, files, bytes and seconds.
    """
    from fastinit.io import _atomic

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"save_init expects a torch.nn.Module, got {type(model).__name__}")
    seed = _validate.check_seed(seed)
    threads_v = _validate.check_threads(threads)
    dtype = check_dtype(dtype)
    max_shard = parse_shard_size(shard_size)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.path.abspath(os.fspath(path))
    exists = _check_target(path, overwrite)
    params = list(model.parameters())
    if not params:
        raise ValueError(f"{type(model).__name__} has no parameters: there is nothing to save")
    real = [n for n, p in model.named_parameters() if not p.is_meta]
    if real:
        warnings.warn(f"save_init: {len(real)} parameter(s) are not on the meta device (e.g. "
                      f"{real[0]}): their values are ignored and recomputed by the model's init "
                      f"code; the model itself is not modified.  Build it under "
                      f"fastinit.torch.empty_init() to skip that work.", stacklevel=2)
    kind = models.kind_of(model)

    snapshot = _snapshot(model)
    try:
        if kind == "transformers":
            model.tie_weights()
        _prepare(model, dtype)
        plan = _Plan(model, dtype)
        parent = os.path.dirname(path)
        total = sum(plan.nbytes.values())
        free = _free_bytes(parent)
        if free is not None and total > free:
            raise NotEnoughSpace(f"{path} needs {total / 1e9:.2f} GB but only {free / 1e9:.2f} GB are free "
                          f"in {parent}")
        with _atomic.Lock(path):
            exists = _check_target(path, overwrite)  # again: a writer may have just finished
            tmp = _atomic.sibling_name(path, _atomic.PARTIAL_SUFFIX)
            os.mkdir(tmp)
            try:
                result = _write(model, plan, tmp, seed, threads_v, kind, max_shard, progress)
                _write_configs(model, tmp, dtype)
                with open(os.path.join(tmp, INDEX_NAME), "x", encoding="utf-8") as f:  # last
                    json.dump(result.pop("index"), f, indent=2, sort_keys=True)
                    f.write("\n")
                    f.flush()
                    os.fsync(f.fileno())
                _atomic.fsync_dir(tmp)
                _publish(tmp, path, exists and overwrite)
                _atomic.fsync_dir(parent)
            except BaseException:
                _atomic.remove_created(tmp)
                raise
    finally:
        _restore(snapshot)
    result["path"] = path
    if progress:
        print(f"save_init: wrote {path}: {len(result['files'])} file(s), {result['bytes'] / 1e9:.3f} GB "
              f"in {result['seconds']:.2f} s ({result['bytes'] / 1e9 / max(result['seconds'], 1e-9):.2f} "
              f"GB/s), seed={seed}", file=sys.stderr)
    return result


def _write(model, plan, directory, seed, threads, kind, max_shard, progress):
    from fastinit.io._common import _progress_bar

    files = plan.shard_files(directory, max_shard)
    file_of = {k: f for f in files.values() for k in f.offsets}
    total = sum(plan.nbytes.values())
    t0 = time.perf_counter()
    bar = _progress_bar(total, "save_init", progress)
    forced = set()
    try:
        for f in files.values():
            f.open()
        written = set()
        update = bar.update if bar is not None else None

        def emit(pairs):
            for original, final in pairs:
                for k in plan.key_of.get(id(original), ()):
                    blocks = [final] if isinstance(final, torch.Tensor) else final
                    done = 0
                    for block in blocks:  # Blocks: a big tensor, row block by row block
                        done += file_of[k].write(k, block.to(plan.dtype_of[k]), update, done)
                    if done != plan.nbytes[k]:
                        raise RuntimeError(f"save_init: {k}: {done} bytes computed, {plan.nbytes[k]} expected")
                    written.add(k)

        while True:
            try:
                filler = _run(model, seed, threads, kind, emit, forced)
                break
            except NotLocal as e:
                forced.add("" if e.scope in forced else e.scope)  # bigger units, from scratch
                written.clear()
                if bar is not None:
                    bar.reset()
        missing = [k for k in plan.keys if k not in written]
        if missing:
            raise RuntimeError(f"save_init: no value was produced for {', '.join(missing[:5])}")
        if filler is not None:
            _report(model, filler, "", _NoneMaterialized())
        for f in files.values():
            f.close()
    finally:
        for f in files.values():
            f.close(sync=False)
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    index = {"metadata": {"total_size": total, "total_parameters": sum(p.numel() for p in model.parameters())},
             "weight_map": {k: os.path.basename(file_of[k].path) for k in sorted(plan.keys)}}
    return {"files": sorted(files), "bytes": sum(f.size for f in files.values()), "seconds": seconds,
            "index": index}


class _NoneMaterialized:
    """What module_init._report expects: here every materialized tensor is gone."""

    def new_tensors(self):
        return {}


def _run(model, seed, threads, kind, emit, forced):
    if kind in (None, "transformers"):
        return run_units(model, seed, "", threads, kind, emit, forced=forced)
    # init_states / init_weights: one method for the whole model, not split in units
    from .module_init import init_module

    warnings.warn(f"save_init: {models.describe(kind, model)} initializes the whole model in one call: "
                  f"it is materialized in full (memory = the model's size)", stacklevel=4)
    before = _named_tensors(model)
    init_module(model, seed, threads=threads)
    after = _named_tensors(model)
    emit(list({id(t): (t, after[n]) for n, t in before.items()}.values()))
    return None


def _write_configs(model, directory, dtype):
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "save_pretrained"):
        return
    config = copy.deepcopy(config)
    config.architectures = [type(model).__name__]
    out = dtype if dtype is not None else model.dtype
    config.dtype = str(out).split(".")[1]
    config.save_pretrained(directory)
    generation = getattr(model, "generation_config", None)
    if generation is not None and model.can_generate():
        generation.save_pretrained(directory)


# ------------------------------------------------------------------ target ----
def _looks_like_checkpoint(path):
    names = set(os.listdir(path))
    return not names or bool(names & {"config.json", WEIGHTS_NAME, INDEX_NAME})


def _check_target(path, overwrite):
    """True if `path` exists (and may be replaced); refuse otherwise."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"directory {parent} does not exist")
    if not os.path.lexists(path):
        return False
    if not overwrite:
        raise FileExistsError(f"{path} already exists: pass overwrite=True to replace it")
    if os.path.islink(path) or not os.path.isdir(path):
        raise FileExistsError(f"{path} exists and is not a directory: refusing to replace it")
    if not _looks_like_checkpoint(path):
        raise FileExistsError(f"{path} is a directory that is not a checkpoint (no config.json or "
                              f"{WEIGHTS_NAME}/{INDEX_NAME}): remove it yourself or choose another path")
    return True


def _publish(tmp, path, replace):
    from fastinit.io import _atomic

    if not replace:
        if os.path.lexists(path):
            raise _atomic.WriteConflict(f"{path} was created by another writer meanwhile: this "
                                        f"checkpoint was not published")
        os.rename(tmp, path)  # a directory created meanwhile makes this fail (ENOTEMPTY/EEXIST)
        return
    _check_target(path, True)
    _atomic.swap_dir(tmp, path)


def _free_bytes(directory):
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None
