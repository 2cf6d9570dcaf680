"""Model init speed: transformers' ``from_config`` against ``empty_init`` + ``init_module``.

    python tools/bench_model_init.py                  # ~270M Llama, best of 3, 2 threads
    python tools/bench_model_init.py --size 1b --repeat 2
    python tools/bench_model_init.py --size 270m --size 1b --json

For each Llama config, side by side in one process (alternating, best of --repeat):

* ``plain``: ``AutoModelForCausalLM.from_config(cfg)`` (torch fills every weight at
  construction, then ``_init_weights`` fills it again);
* ``fastinit``: ``with empty_init(): from_config(cfg)`` then ``init_module(model, seed=0)``
  (no memory or init work at construction; one fastinit fill per weight, the model's
  own scheme);
* ``fills``: the fastinit fills alone (the same distributions into the same,
  already materialized parameters), so ``fills / fastinit`` is the share of the time
  that is random number generation;
* ``first touch``: allocating and zeroing the same number of bytes (``torch.zeros``),
  the page faults both paths pay when they first write a fresh parameter.  The
  speedup without it (``(plain - touch) / (fastinit - touch)``) is the ratio of the
  init work itself.

torch runs with ``torch.set_num_threads(threads)`` and fastinit with ``threads=threads``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {  # name -> LlamaConfig arguments (vocab 32000, untied head)
    "270m": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=16,
                 num_attention_heads=16, num_key_value_heads=16),
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=18,
               num_attention_heads=32, num_key_value_heads=8),
}


def _import_transformers():
    # The torchvision wheel on PyPI is built against CUDA torch; with CPU torch its
    # operator registration fails on import (transformers imports it): the tests' shim.
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    try:
        import _torchvision_shim  # noqa: F401
    except ImportError:
        pass
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers


def config(size):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=32000, max_position_embeddings=2048, tie_word_embeddings=False,
                       **SIZES[size])


def build_plain(cfg):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(cfg)


def build_fastinit(cfg, threads):
    from transformers import AutoModelForCausalLM

    import fastinit.torch as finit

    with finit.empty_init():
        model = AutoModelForCausalLM.from_config(cfg)
    return finit.init_module(model, seed=0, threads=threads)


def fills_only(model, threads):
    """Seconds for the fastinit fills of `model`'s scheme alone (normal(0, 0.02) for every
    matrix, ones for the norms) into its existing parameters."""
    import fastinit.torch as finit

    std = model.config.initializer_range
    t = time.perf_counter()
    for name, p in model.named_parameters():
        if p.dim() == 2:
            finit.normal_(p.data, 0.0, std, seed=0, stream=name, threads=threads)
        else:
            finit.ones_(p.data)
    return time.perf_counter() - t


def first_touch(numel):
    """Seconds to allocate and first write `numel` float32 elements."""
    import torch

    t = time.perf_counter()
    x = torch.zeros(numel)
    seconds = time.perf_counter() - t
    del x
    return seconds


def timed(fn):
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(size, threads, repeat):
    import torch

    torch.set_num_threads(threads)
    cfg = config(size)
    best = {"plain": float("inf"), "fastinit": float("inf"), "fills": float("inf"),
            "touch": float("inf")}
    params = None
    for _ in range(repeat):
        seconds, model = timed(lambda: build_plain(cfg))
        best["plain"] = min(best["plain"], seconds)
        del model
        seconds, model = timed(lambda: build_fastinit(cfg, threads))
        best["fastinit"] = min(best["fastinit"], seconds)
        params = sum(p.numel() for p in model.parameters())
        best["fills"] = min(best["fills"], fills_only(model, threads))
        del model
        gc.collect()
        best["touch"] = min(best["touch"], first_touch(params))
    touch = best["touch"]
    return {"size": size, "parameters": params, "threads": threads, "repeat": repeat,
            "plain_s": best["plain"], "fastinit_s": best["fastinit"], "fills_s": best["fills"],
            "first_touch_s": touch, "speedup": best["plain"] / best["fastinit"],
            "speedup_without_first_touch": (best["plain"] - touch) / max(best["fastinit"] - touch, 1e-9),
            "fill_share": best["fills"] / best["fastinit"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", action="append", choices=sorted(SIZES),
                        help="Llama config (repeatable; default 270m)")
    parser.add_argument("--threads", type=int, default=2, help="torch and fastinit threads (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per size")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeat < 1:
        parser.error("--threads and --repeat must be >= 1")
    sys.path.insert(0, ROOT)  # the checkout's fastinit (built in place)
    _import_transformers()
    for size in args.size or ["270m"]:
        row = measure(size, args.threads, args.repeat)
        if args.json:
            print(json.dumps(row))
        else:
            print(f"Llama {size} ({row['parameters'] / 1e6:.0f}M params, {row['threads']} threads, "
                  f"best of {row['repeat']}): from_config {row['plain_s']:.2f} s, "
                  f"empty_init + init_module {row['fastinit_s']:.2f} s -> {row['speedup']:.1f}x; "
                  f"fills {row['fills_s']:.2f} s = {100 * row['fill_share']:.0f}% of the fastinit time; "
                  f"first touch of the memory {row['first_touch_s']:.2f} s (in both), without it "
                  f"{row['speedup_without_first_touch']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
