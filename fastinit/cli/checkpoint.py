"""fastinit init-checkpoint: a transformers model's initial checkpoint from its config file,
written tensor by tensor (fastinit.torch.save_init).
"""
from __future__ import annotations

import json
import os

from ._args import _fail, _int


def add_cli_parser(sub):
    p = sub.add_parser(
        "init-checkpoint", help="write a transformers model's initial checkpoint from its config.json",
        description="Build the model of CONFIG (a transformers config.json; the class named in its "
                    "\"architectures\") without memory, initialize it with its own scheme on fastinit and "
                    "write OUT_DIR as sharded .safetensors + index + config.json, one tensor at a time, so "
                    "from_pretrained(OUT_DIR) loads it.  OUT_DIR appears only when complete.  Nothing is "
                    "downloaded.",
        epilog="example: fastinit init-checkpoint llama-1b.json ckpt/ --seed 0 --dtype bfloat16",
        allow_abbrev=False)
    p.add_argument("config", metavar="CONFIG.json", help="a transformers config file")
    p.add_argument("out", metavar="OUT_DIR", help="the checkpoint directory to create")
    p.add_argument("--seed", type=_int, required=True, help="integer in [0, 2**64)")
    p.add_argument("--dtype", help="float32, float64, float16 or bfloat16 (default: the config's)")
    p.add_argument("--shard-size", default="5GB", help="largest .safetensors file, e.g. 5GB (default), 500MB")
    p.add_argument("--threads", type=_int, help="fill threads (default: all OpenMP threads)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it is a checkpoint")
    p.set_defaults(func=run_init_checkpoint)


def _read_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise OSError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        _fail(f"{path} is not a JSON file: {e}")
    if not isinstance(raw, dict) or "model_type" not in raw:
        _fail(f"{path} is not a transformers config: it has no \"model_type\"")
    return raw


def _build(config_path, raw):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local file: never the network
    from fastinit.torch.models import import_transformers

    transformers = import_transformers()
    import fastinit.torch as finit

    try:
        config = transformers.AutoConfig.from_pretrained(config_path)
    except (ValueError, KeyError, TypeError) as e:
        _fail(f"{config_path}: transformers cannot read this config: {e}")
    names = raw.get("architectures") or []
    if names:
        cls = getattr(transformers, names[0], None)
        if cls is None:
            _fail(f"{config_path}: architecture {names[0]!r} is not a class of transformers "
                  f"{transformers.__version__}")
        build = cls._from_config
    else:
        build = transformers.AutoModelForCausalLM.from_config
    try:
        with finit.empty_init():
            return build(config)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        _fail(f"{config_path}: cannot build {names[0] if names else 'a causal LM'} from it: {e}")


def run_init_checkpoint(args):
    out = os.path.abspath(args.out)
    if os.path.lexists(out) and not args.force:
        _fail(f"{args.out} already exists: pass --force to replace it")
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        _fail(f"directory {parent} does not exist")
    raw = _read_config(args.config)
    from .. import _validate
    from ..torch.checkpoint import check_dtype, parse_shard_size

    try:
        dtype = check_dtype(args.dtype)
        parse_shard_size(args.shard_size)
        _validate.check_threads(args.threads)
        _validate.check_seed(args.seed)
    except (TypeError, ValueError) as e:
        _fail(str(e))
    model = _build(args.config, raw)
    from ..torch.checkpoint import NotEnoughSpace, save_init

    if dtype is None:  # the config's dtype, the one from_pretrained loads by default
        named = getattr(model.config, "dtype", None)
        try:
            dtype = check_dtype(str(named).removeprefix("torch.")) if named is not None else None
        except ValueError:
            dtype = None
    try:
        res = save_init(model, out, seed=args.seed, shard_size=args.shard_size, dtype=dtype,
                        threads=args.threads, progress=not args.no_progress, overwrite=args.force)
    except (TypeError, ValueError, NotEnoughSpace) as e:  # as fastinit fill: usage errors
        _fail(str(e))
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: {type(model).__name__}, {n:,} parameters, "
          f"{res['bytes'] / 1e9:.3f} GB in {len(res['files'])} file(s), {res['seconds']:.2f} s "
          f"({res['bytes'] / 1e9 / max(res['seconds'], 1e-9):.2f} GB/s), seed={args.seed}")
    return 0
