"""Benchmark save_init: checkpoint size vs peak RSS growth, time and GB/s, against the
disk's own sequential write speed (dd with conv=fdatasync).

    python tools/bench_checkpoint.py --out /tmp/ckbench --configs 1b,3b --dtypes bfloat16,float32
    python tools/bench_checkpoint.py --configs 1b --dtypes bfloat16 --baseline

--baseline measures what save_init replaces instead: ``from_config`` (the whole model
in memory, torch's RNG) then ``save_pretrained``, growth counted from before the build.

Each save runs in a fresh subprocess: the model is built under empty_init, the peak
RSS is reset (/proc/self/clear_refs = 5), save_init runs, and the growth is VmHWM
minus the RSS before the save.  Outputs are deleted after each measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

CONFIGS = {  # Llama 3.2 1B and 3B shapes (tied embeddings, vocab 128256)
    "1b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
           "num_attention_heads": 32, "num_key_value_heads": 8},
    "3b": {"hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 28,
           "num_attention_heads": 24, "num_key_value_heads": 8},
}

_CHILD = r"""
import json, os, sys, time
sys.path[:0] = [{root!r}, os.path.join({root!r}, "tests")]
import _torchvision_shim  # noqa: F401  (transformers imports torchvision)
import torch
from transformers import AutoModelForCausalLM, LlamaConfig
import fastinit.torch as finit

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
cfg = LlamaConfig(vocab_size=128256, tie_word_embeddings=True, max_position_embeddings=8192, **{shape!r})
if {baseline!r}:
    torch.set_num_threads({threads!r} or torch.get_num_threads())
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss0 = status("VmRSS")
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, {dtype!r}))
    model.save_pretrained({out!r})
    dt = time.perf_counter() - t0
    res = {{"bytes": sum(os.path.getsize(os.path.join({out!r}, n)) for n in os.listdir({out!r})
                        if n.endswith(".safetensors")),
           "files": [n for n in os.listdir({out!r}) if n.endswith(".safetensors")]}}
else:
    with finit.empty_init():
        model = AutoModelForCausalLM.from_config(cfg)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    rss0 = status("VmRSS")
    t0 = time.perf_counter()
    res = finit.save_init(model, {out!r}, seed=0, dtype={dtype!r}, threads={threads!r}, progress=False)
    dt = time.perf_counter() - t0
print(json.dumps({{"bytes": res["bytes"], "files": len(res["files"]), "seconds": dt,
                  "rss0": rss0, "peak": status("VmHWM"),
                  "params": sum(p.numel() for p in model.parameters())}}))
"""


def disk_write_speed(directory, mb=2048):
    target = os.path.join(directory, "dd.bin")
    t0 = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mb}", "conv=fdatasync"],
                   check=True, capture_output=True)
    dt = time.perf_counter() - t0
    os.unlink(target)
    return mb * (1 << 20) / 1e9 / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/ckbench")
    ap.add_argument("--configs", default="1b,3b")
    ap.add_argument("--dtypes", default="bfloat16,float32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--baseline", action="store_true", help="from_config + save_pretrained instead")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(args.out, exist_ok=True)
    print(f"disk: dd 2 GiB conv=fdatasync: {disk_write_speed(args.out):.2f} GB/s", flush=True)
    for name in args.configs.split(","):
        for dtype in args.dtypes.split(","):
            best = None
            for _ in range(args.repeat):
                out = os.path.join(args.out, f"llama-{name}-{dtype}")
                shutil.rmtree(out, ignore_errors=True)
                code = _CHILD.format(root=root, shape=CONFIGS[name], out=out, dtype=dtype,
                                     threads=args.threads, baseline=args.baseline)
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=False)
                shutil.rmtree(out, ignore_errors=True)
                if proc.returncode:
                    sys.exit(f"{name} {dtype} failed:\n{proc.stderr[-3000:]}")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                if best is None or r["seconds"] < best["seconds"]:
                    best = r
            growth = best["peak"] - best["rss0"]
            what = "from_config+save_pretrained" if args.baseline else "save_init"
            print(f"{what} llama-{name} {dtype}: {best['params'] / 1e9:.2f} B params, checkpoint "
                  f"{best['bytes'] / 1e9:.2f} GB in {best['files']} file(s), {best['seconds']:.1f} s "
                  f"({best['bytes'] / 1e9 / best['seconds']:.2f} GB/s), peak RSS growth "
                  f"{growth / 1e9:.2f} GB ({growth / best['bytes']:.1%} of the checkpoint)", flush=True)


if __name__ == "__main__":
    main()
