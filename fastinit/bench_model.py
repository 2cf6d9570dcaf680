"""``fastinit bench --model``: building a transformers Llama, plain against fastinit.

    fastinit bench --model 270m                  # ~270M Llama, 3 rounds, 2 threads
    fastinit bench --model 270m --model 1b --repeat 5 --json

For each config, round after round, each measurement in a fresh interpreter (a
process builds its model once, into memory it has never touched - as a training
job does):

* ``plain``: ``AutoModelForCausalLM.from_config(cfg)``: torch fills every weight at
  construction, then the model's ``_init_weights`` fills it again;
* ``fastinit``: ``with empty_init(): from_config(cfg)`` then ``init_module(model,
  seed=0)``: no memory or init work at construction, one fastinit fill per weight
  with the model's own scheme; also timed apart, ``construct`` and ``init_module``;
* ``fills``: in the same process, fastinit's fills of the same distributions into
  the now materialized and touched parameters: their share of the time is random
  number generation;
* ``touch``: ``torch.zeros`` of as many float32 elements in a fresh process: the
  first-touch page faults both builds pay for their new parameters.  The ratio
  without them, ``(plain - touch) / (fastinit - touch)``, is the ratio of the work
  either library can change.

Each measuring process first builds a tiny Llama both ways (the first build in a
process imports the model's modules and starts the thread pools).  The speedup is
the median plain time over the median fastinit time (the best times'
ratio is reported too).  torch runs with ``torch.set_num_threads(threads)`` and
fastinit with ``threads=threads``.  ``preload``: a Python file each measuring process
runs before it imports transformers (a workaround for a broken torchvision, say).

Importing this module is cheap: torch and transformers are imported only by the
measuring processes.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

__all__ = ["SIZES", "TARGETS", "format_report", "measure"]

# name -> LlamaConfig arguments (vocab 32000, untied head, 2048 positions)
SIZES = {
    "tiny": dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=4),
    "270m": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=16,
                 num_attention_heads=16, num_key_value_heads=16),
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=18,
               num_attention_heads=32, num_key_value_heads=8),
}
TARGETS = {"270m": 5.0}  # issue 11: empty_init + init_module >= 5x from_config, 2 cores
_KINDS = ("plain", "fastinit", "touch")


# ------------------------------------------------- in the measuring process ----
def _config(size):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=32000, max_position_embeddings=2048, tie_word_embeddings=False,
                       **SIZES[size])


def _import_transformers(preload):
    if preload:
        import runpy

        runpy.run_path(preload)
    from fastinit.torch.models import import_transformers

    transformers = import_transformers()
    transformers.logging.set_verbosity_error()
    return transformers


def _fills_only(model, threads):
    """Seconds of fastinit's fills of the Llama scheme (normal(0, initializer_range) for
    every matrix, ones for the norms) into `model`'s existing parameters."""
    import fastinit.torch as finit

    std = model.config.initializer_range
    t = time.perf_counter()
    for name, p in model.named_parameters():
        if p.dim() == 2:
            finit.normal_(p.data, 0.0, std, seed=0, stream=name, threads=threads)
        else:
            finit.ones_(p.data)
    return time.perf_counter() - t


def _child(kind, size, threads, preload, numel):
    """One measurement in this (fresh) process: a dict of seconds."""
    import gc

    import torch

    torch.set_num_threads(threads)
    if kind == "touch":
        t = time.perf_counter()
        x = torch.zeros(numel)
        seconds = time.perf_counter() - t
        del x
        return {"touch_s": seconds}
    _import_transformers(preload)
    from transformers import AutoModelForCausalLM

    import fastinit.torch as finit

    # Warm up the same way for both kinds: the first build in a process imports the
    # model's modules and starts the thread pools, which is no init work of either.
    tiny = _config("tiny")
    AutoModelForCausalLM.from_config(tiny)
    with finit.empty_init():
        finit.init_module(AutoModelForCausalLM.from_config(tiny), seed=0, threads=threads)
    cfg = _config(size)
    gc.collect()
    if kind == "plain":
        t = time.perf_counter()
        model = AutoModelForCausalLM.from_config(cfg)
        return {"plain_s": time.perf_counter() - t}
    t0 = time.perf_counter()
    with finit.empty_init():
        model = AutoModelForCausalLM.from_config(cfg)
    t1 = time.perf_counter()
    finit.init_module(model, seed=0, threads=threads)
    t2 = time.perf_counter()
    return {"fastinit_s": t2 - t0, "construct_s": t1 - t0, "init_module_s": t2 - t1,
            "fills_s": _fills_only(model, threads),
            "parameters": sum(p.numel() for p in model.parameters())}


# ------------------------------------------------------------- the parent ----
def _run_child(kind, size, threads, preload, numel, timeout):
    from .bench import _child_env

    env = _child_env()
    cmd = [sys.executable, "-m", "fastinit.bench_model", kind, size, str(threads),
           preload or "", str(numel)]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OSError(f"bench --model {size}: the {kind} measurement took over {timeout} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise OSError(f"bench --model {size}: the {kind} measurement failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(size, threads=2, repeat=3, preload=None, progress=None, timeout=1800):
    """Time the plain and the fastinit build of Llama `size` (a key of SIZES), `repeat`
    rounds of fresh processes; returns a dict of medians, bests, ratios and the target."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}: use one of {', '.join(SIZES)}")
    if threads < 1 or repeat < 1:
        raise ValueError("threads and repeat must be >= 1")
    if preload and not os.path.isfile(preload):
        raise ValueError(f"preload file {preload!r} does not exist")
    runs = {k: [] for k in _KINDS}
    numel = None
    for r in range(repeat):
        for kind in _KINDS:
            if progress:
                progress(f"{size} round {r + 1}/{repeat}: {kind}")
            if kind == "touch" and numel is None:
                continue
            got = _run_child(kind, size, threads, preload, numel or 0, timeout)
            runs[kind].append(got)
            if kind == "fastinit":
                numel = got["parameters"]

    def col(kind, key):
        return [g[key] for g in runs[kind]]

    med = {key: statistics.median(col(kind, key)) for kind, key in (
        ("plain", "plain_s"), ("fastinit", "fastinit_s"), ("fastinit", "construct_s"),
        ("fastinit", "init_module_s"), ("fastinit", "fills_s"), ("touch", "touch_s"))}
    plain, ours, touch = med["plain_s"], med["fastinit_s"], med["touch_s"]
    speedup = plain / ours
    target = TARGETS.get(size)
    return {
        "size": size, "parameters": numel, "threads": threads, "repeat": repeat,
        "median": med,
        "best": {"plain_s": min(col("plain", "plain_s")), "fastinit_s": min(col("fastinit", "fastinit_s"))},
        "runs": runs,
        "speedup": speedup,
        "speedup_of_best": min(col("plain", "plain_s")) / min(col("fastinit", "fastinit_s")),
        "speedup_without_first_touch": (plain - touch) / max(ours - touch, 1e-9),
        "fill_share": med["fills_s"] / ours,
        "target": target,
        "status": "no target" if target is None else ("pass" if round(speedup, 2) >= target else "miss"),
    }


def format_report(row):
    m = row["median"]
    target = "" if row["target"] is None else f" (target >= {row['target']:g}x: {row['status']})"
    return (f"Llama {row['size']} ({row['parameters'] / 1e6:.0f}M params, {row['threads']} threads, "
            f"median of {row['repeat']} fresh processes each): from_config {m['plain_s']:.2f} s, "
            f"empty_init + init_module {m['fastinit_s']:.2f} s (construct {m['construct_s']:.2f}, "
            f"init_module {m['init_module_s']:.2f}) -> {row['speedup']:.2f}x{target}; best of each "
            f"{row['speedup_of_best']:.2f}x; fills alone {m['fills_s']:.2f} s = "
            f"{100 * row['fill_share']:.0f}% of the fastinit time; first touch of the memory "
            f"{m['touch_s']:.2f} s (in both), without it {row['speedup_without_first_touch']:.1f}x")


def run(sizes, threads, repeat, preload, as_json, progress=None):
    """``fastinit bench --model``: print one report per size; 0."""
    for size in sizes:
        row = measure(size, threads=threads, repeat=repeat, preload=preload, progress=progress)
        print(json.dumps(row) if as_json else format_report(row), flush=True)
    return 0


def _child_main(argv):
    kind, size, threads, preload, numel = argv
    if kind not in _KINDS or size not in SIZES:
        print(f"usage: python -m fastinit.bench_model {{{','.join(_KINDS)}}} SIZE THREADS "
              f"PRELOAD NUMEL (a measuring process of fastinit bench --model)", file=sys.stderr)
        return 2
    try:
        print(json.dumps(_child(kind, size, int(threads), preload, int(numel))))
    except OSError as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]) if len(sys.argv) == 6 else _child_main([""] * 5))
