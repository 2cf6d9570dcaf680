"""``fastinit bench``: fill speed on this machine against NumPy, PyTorch and memory.

    fastinit bench                      # 16M elements, best of 7, threads 1 and 2
    fastinit bench --quick              # 1M elements, best of 3, 1 GiB memory probe
    fastinit bench --size 64M --repeat 11 --threads 1,2 --json
    fastinit bench --model 270m         # model init: from_config vs empty_init + init_module
    python -m fastinit.bench ...        # the same command

Prints one row per case of the speed targets: fastinit's rate in M samples/s
and GB/s, the fraction of this machine's memory-write roofline (``ndarray.fill``
on an array of the same size and dtype, measured in the same run), the peer's
rate, the ratio and the target.  Targets depend on the instruction-set path that
was measured (``FASTINIT_SIMD`` or ``--simd``; see TARGETS): the AVX-512 ones of
issue 3, the AVX2 and scalar ones of issue 13.  A ratio is judged as printed
(two decimals), and a missed target whose timings spread by more than
``--noise`` between repeats is reported as "noisy", not "miss".  Every timing is
the best of ``--repeat`` runs of ``time.perf_counter`` into a preallocated,
already touched output (``out=``), fastinit and its peer alternating so that
drift on a shared machine hits both.  Peers (NumPy, PyTorch, ml_dtypes) are
imported only here, and a row whose peer is missing reports "n/a".

Importing this module is cheap: NumPy, PyTorch and the extension are imported by
``run`` only.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

__all__ = ["add_cli_parser", "run", "main", "measure", "TARGETS", "targets_for", "judge"]

_MIB = 1 << 20
_GIB = 1 << 30
_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


# ------------------------------------------------------------------ targets ----
# Minimum ratios per instruction-set path (one thread, 16M elements, one run).
TARGETS = {
    "avx512": {"normal_f32_vs_numpy": 8.0, "normal_f32_vs_torch": 3.0, "uniform_f32_vs_numpy": 3.0,
               "trunc_normal_f32_vs_torch": 20.0, "normal_f64_vs_numpy": 4.0,
               "normal_bf16_vs_torch": 3.0, "normal_f32_vs_philox_raw": 0.5,
               "latency_1000_normal_f32": 2.0},
    "avx2": {"normal_f32_vs_numpy": 6.5, "normal_f32_vs_torch": 2.7, "uniform_f32_vs_numpy": 3.0,
             "trunc_normal_f32_vs_torch": 18.0, "normal_f64_vs_numpy": 3.5,
             "normal_bf16_vs_torch": 3.0},
    "scalar": {"normal_f32_vs_numpy": 1.0, "trunc_normal_f32_vs_torch": 2.0},
}
# Thread scaling does not depend on the path.
_COMMON_TARGETS = {"normal_f32_2threads_vs_1": 1.8}
RATIO_DIGITS = 2  # ratios are printed, and judged, with this many decimals
NOISE = 0.2       # default --noise: (max - min) / min of a timing's repeats


def targets_for(path):
    """The targets {row id: minimum ratio} of an instruction-set path ({} + scaling if unknown)."""
    return {**TARGETS.get(path, {}), **_COMMON_TARGETS}


def judge(ratio, target, spread=0.0, noise=NOISE):
    """A row's status: "pass" when the ratio as printed meets the target, "noisy" when it
    misses on timings that spread by more than `noise`, else "miss"."""
    if ratio is None:
        return "n/a"
    if target is None:
        return "no target"
    if round(ratio, RATIO_DIGITS) >= target:
        return "pass"
    return "noisy" if spread is not None and spread > noise else "miss"


# ---------------------------------------------------------------- arguments ----
def _size(text):
    """'16M' -> 16 * 2**20 elements; also 65536, 1_000_000, 4k."""
    t = text.strip().replace("_", "")
    mult = 1
    if t and t[-1].lower() in _SUFFIX:
        mult, t = _SUFFIX[t[-1].lower()], t[:-1]
    try:
        n = int(t, 0) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an element count such as 16M or 65536, got {text!r}") from None
    if n < 1000:
        raise argparse.ArgumentTypeError(f"size must be >= 1000 elements, got {n}")
    return n


def _positive(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _thread_list(text):
    try:
        counts = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated thread counts such as 1,2, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return counts


def _gib(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in GiB such as 4 or 0.25, got {text!r}") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 skips the memory probe), got {text!r}")
    return v


def _fraction(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.2, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return v


def _add_arguments(p):
    p.add_argument("--size", type=_size, default=None,
                   help="elements per fill, e.g. 16M (= 16 * 2**20, the default) or 65536")
    p.add_argument("--quick", action="store_true",
                   help="1M elements, best of 3, fewer latency calls, 1 GiB memory probe")
    p.add_argument("--repeat", type=_positive, default=None,
                   help="timed runs per measurement, the best is kept (default 7; 3 with --quick)")
    p.add_argument("--threads", type=_thread_list, default=[1, 2],
                   help="comma-separated thread counts (default 1,2): the first is used for every "
                        "comparison, the others for the scaling rows")
    p.add_argument("--mem-gib", type=_gib, default=None,
                   help="output size of the peak-memory probe in GiB (default 4; 1 with --quick; 0 skips)")
    p.add_argument("--simd", choices=("auto", "scalar", "avx2", "avx512", "neon"), default=None,
                   help="instruction-set path to measure (default: FASTINIT_SIMD, else the best); "
                        "the targets are that path's")
    p.add_argument("--noise", type=_fraction, default=NOISE,
                   help=f"a missed target whose timings spread (max-min)/min by more than this "
                        f"is reported as noisy (default {NOISE})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--model", action="append", choices=("tiny", "270m", "1b"), default=None,
                   help="instead of the fills: build a transformers Llama of this size with "
                        "from_config and with empty_init + init_module, each in fresh processes "
                        "(repeatable; --repeat rounds, default 3; the largest of --threads)")
    p.add_argument("--preload", metavar="FILE", default=None,
                   help="with --model: a Python file each measuring process runs before it "
                        "imports transformers")


def add_cli_parser(subparsers):
    """Register ``fastinit bench`` on the ``fastinit`` command's subparsers."""
    p = subparsers.add_parser(
        "bench", help="measure fill speed against NumPy/PyTorch on this machine",
        description="Time fastinit's fills against NumPy, PyTorch, the raw Philox word rate and "
                    "the memory-write roofline on this machine, and compare with the speed targets.",
        epilog="example: fastinit bench --quick --json", allow_abbrev=False)
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


# ------------------------------------------------------------------- timing ----
def _timings(fns, repeat, number=1):
    """Seconds per call of each function in `fns`, run alternately `repeat` times."""
    for fn in fns:  # warm up: first-touch, thread pool start, lazy init
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[i].append((time.perf_counter() - t0) / number)
    return times


def _spread(times):
    """(max - min) / min of one function's timings."""
    return (max(times) - min(times)) / min(times)


def _best(fns, repeat, number=1):
    """(best seconds per call of each function, the largest spread among them)."""
    times = _timings(fns, repeat, number)
    return [min(t) for t in times], max(_spread(t) for t in times)


def _rate(n, itemsize, seconds):
    return {"m_per_s": n / seconds / 1e6, "gb_per_s": n * itemsize / seconds / 1e9}


def _touched(np, n, dtype):
    a = np.empty(n, dtype)
    a.view(np.uint8).fill(1)  # fault every page in before timing
    return a


def _torch(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


# -------------------------------------------------------------------- cases ----
def _ratio_row(rid, case, target, fi_rate, peer_name, peer_rate, roof, spread=0.0, noise=NOISE):
    row = {"id": rid, "case": case, "peer": peer_name, "target": target,
           "fastinit": fi_rate, "peer_rate": peer_rate, "ratio": None, "status": "n/a",
           "roofline_fraction": None, "spread": spread}
    if fi_rate is not None and roof is not None:
        row["roofline_fraction"] = fi_rate["gb_per_s"] / roof["gb_per_s"]
    if fi_rate is not None and peer_rate is not None:
        row["ratio"] = fi_rate["m_per_s"] / peer_rate["m_per_s"]
        row["status"] = judge(row["ratio"], target, spread, noise)
    return row


def measure(size=16 * _MIB, repeat=7, threads=(1, 2), latency_calls=2000, mem_gib=4.0,
            progress=None, simd=None, noise=NOISE):
    """Run every case and return the report as a dict (what ``--json`` prints).

    `simd` selects the instruction-set path for the run ("auto", "scalar", "avx2",
    "avx512", "neon"; None keeps the current one, FASTINIT_SIMD's); the rows carry
    that path's targets.

    >>> rep = measure(size=1 << 16, repeat=1, latency_calls=10, mem_gib=0)  # doctest: +SKIP
    >>> sorted(rep)  # doctest: +SKIP
    ['config', 'memory', 'roofline', 'rows']
    """
    import numpy as np

    import fastinit
    from fastinit import _core

    if simd is None:
        return _measure(np, fastinit, size, repeat, threads, latency_calls, mem_gib, progress,
                        noise)
    saved = _core.get_isa()
    _core.set_isa(simd)
    try:
        return _measure(np, fastinit, size, repeat, threads, latency_calls, mem_gib, progress,
                        noise)
    finally:
        _core.set_isa(saved)


def _measure(np, fastinit, size, repeat, threads, latency_calls, mem_gib, progress, noise):
    say = progress or (lambda text: None)
    t1 = threads[0]
    n = size
    f32 = np.dtype(np.float32)
    f64 = np.dtype(np.float64)
    try:
        import ml_dtypes
        bf16 = np.dtype(ml_dtypes.bfloat16)
    except ImportError:
        bf16 = None

    # Outputs, allocated and touched once.
    out = {f32: _touched(np, n, f32), f64: _touched(np, n, f64)}
    peer_out = {f32: _touched(np, n, f32), f64: _touched(np, n, f64)}
    if bf16 is not None:
        out[bf16] = _touched(np, n, bf16)

    # Before torch.set_num_threads, which sets OpenMP's default for everyone.
    config = fastinit.show_config(file=False)
    path = config["simd_selected"]
    targets = targets_for(path)

    # The memory-write roofline: ndarray.fill (one thread) on the same size and dtype,
    # through an unsigned view so that no dtype's scalar cast is timed.
    say("roofline")
    roofline = {}
    for dt, a in out.items():
        words = a.view(f"u{dt.itemsize}")
        (sec,), _ = _best([lambda w=words: w.fill(0x3C00)], repeat)
        roofline[dt.name] = _rate(n, dt.itemsize, sec)

    def fi(dist, dt, nthreads=t1, **params):
        a = out[dt]
        return lambda: getattr(fastinit, dist)(a.shape, **params, seed=0, out=a, threads=nthreads)

    rows = []
    torch = _torch(t1)
    rng = np.random.Generator(np.random.PCG64(0))

    def versus_numpy(rid, case, fi_fn, np_fn, dt):
        say(rid)
        (a, b), spread = _best([fi_fn, np_fn], repeat)
        rows.append(_ratio_row(rid, case, targets.get(rid), _rate(n, dt.itemsize, a),
                               f"numpy {np.__version__}", _rate(n, dt.itemsize, b),
                               roofline[dt.name], spread, noise))

    def versus_torch(rid, case, fi_fn, make_torch_fn, dt):
        say(rid)
        if torch is None or dt is None:
            fi_sec = _best([fi_fn], repeat)[0][0] if dt is not None else None
            rows.append(_ratio_row(rid, case, targets.get(rid),
                                   None if fi_sec is None else _rate(n, dt.itemsize, fi_sec),
                                   "torch (not installed)" if torch is None else "ml_dtypes missing",
                                   None, roofline.get(dt.name) if dt is not None else None))
            return
        (a, b), spread = _best([fi_fn, make_torch_fn()], repeat)
        rows.append(_ratio_row(rid, case, targets.get(rid), _rate(n, dt.itemsize, a),
                               f"torch {torch.__version__} ({torch.get_num_threads()} thread)",
                               _rate(n, dt.itemsize, b), roofline[dt.name], spread, noise))

    def torch_tensor(dtype_name):
        t = torch.empty(n, dtype=getattr(torch, dtype_name))
        t.fill_(1)
        return t

    b32, b64 = peer_out[f32], peer_out[f64]
    versus_numpy("normal_f32_vs_numpy", "normal float32 vs NumPy standard_normal(out=, dtype=float32)",
                 fi("normal", f32), lambda: rng.standard_normal(out=b32, dtype=np.float32), f32)
    versus_torch("normal_f32_vs_torch", "normal float32 vs torch.nn.init.normal_",
                 fi("normal", f32),
                 lambda: (lambda t: (lambda: torch.nn.init.normal_(t)))(torch_tensor("float32")), f32)
    versus_numpy("uniform_f32_vs_numpy", "uniform float32 vs NumPy random(out=, dtype=float32)",
                 fi("uniform", f32), lambda: rng.random(out=b32, dtype=np.float32), f32)
    versus_torch("uniform_f32_vs_torch", "uniform float32 vs torch.nn.init.uniform_",
                 fi("uniform", f32),
                 lambda: (lambda t: (lambda: torch.nn.init.uniform_(t)))(torch_tensor("float32")), f32)
    versus_torch("trunc_normal_f32_vs_torch", "trunc_normal float32 vs torch.nn.init.trunc_normal_",
                 fi("trunc_normal", f32),
                 lambda: (lambda t: (lambda: torch.nn.init.trunc_normal_(t)))(torch_tensor("float32")),
                 f32)
    versus_numpy("normal_f64_vs_numpy", "normal float64 vs NumPy standard_normal(out=)",
                 fi("normal", f64), lambda: rng.standard_normal(out=b64), f64)
    versus_torch("normal_bf16_vs_torch", "normal bfloat16 vs torch normal_ on a bf16 tensor",
                 fi("normal", bf16) if bf16 is not None else None,
                 lambda: (lambda t: (lambda: t.normal_()))(torch_tensor("bfloat16")), bf16)

    # Thread scaling: every further thread count against the first.
    for tn in threads[1:]:
        rid = f"normal_f32_{tn}threads_vs_{t1}"
        say(rid)
        (a, b), spread = _best([fi("normal", f32, nthreads=tn), fi("normal", f32)], repeat)
        rows.append(_ratio_row(rid, f"{tn} threads vs {t1} thread{'s' * (t1 > 1)}, normal float32",
                               targets.get(rid), _rate(n, 4, a), f"fastinit, {t1} thread{'s' * (t1 > 1)}",
                               _rate(n, 4, b), roofline["float32"], spread, noise))

    # Raw Philox words: random_raw allocates, so it is called on 1M-word blocks
    # (the allocator then reuses the same touched memory) and its rate is words/s.
    say("normal_f32_vs_philox_raw")
    block = min(n, _MIB)
    calls = max(1, n // block)

    def raw():
        for i in range(calls):
            fastinit.random_raw(block, seed=0, start=i * block)

    (a, b), spread = _best([fi("normal", f32), raw], repeat)
    words = block * calls
    rows.append(_ratio_row("normal_f32_vs_philox_raw", "normal float32 vs raw Philox words (random_raw)",
                           targets.get("normal_f32_vs_philox_raw"), _rate(n, 4, a),
                           "random_raw (uint32 words/s, 1 thread)", _rate(words, 4, b),
                           roofline["float32"], spread, noise))

    # Latency of a small call (argument checks, dispatch, the fill itself).
    say("latency_1000_normal_f32")
    small, small_peer = np.empty(1000, f32), np.empty(1000, f32)
    (a, b), spread = _best([lambda: fastinit.normal((1000,), seed=0, out=small, threads=t1),
                            lambda: rng.standard_normal(out=small_peer, dtype=np.float32)],
                           repeat, number=latency_calls)
    row = _ratio_row("latency_1000_normal_f32", "a 1000-element normal float32 call vs NumPy's",
                     targets.get("latency_1000_normal_f32"), _rate(1000, 4, a),
                     f"numpy {np.__version__}", _rate(1000, 4, b), None, spread, noise)
    row["fastinit_us"], row["peer_us"] = a * 1e6, b * 1e6
    rows.append(row)

    memory = None
    if mem_gib > 0:
        say("peak memory")
        memory = peak_memory(int(mem_gib * _GIB) // 4, threads=max(threads))

    config.update({
        "path": path, "noise": noise,
        "size": n, "repeat": repeat, "threads": list(threads), "latency_calls": latency_calls,
        "numpy": np.__version__, "torch": None if torch is None else torch.__version__,
        "python": platform.python_version(), "cpu": _cpu_model(), "cores": os.cpu_count(),
    })
    return {"config": config, "path": path, "targets": targets, "roofline": roofline, "rows": rows,
            "memory": memory}


_MEMORY_PROBE = r"""
import json, resource, sys
import numpy as np
import fastinit
n, threads = int(sys.argv[1]), int(sys.argv[2])
a = np.empty(n, np.float32)
a.view(np.uint8).fill(1)                      # the output exists and is touched
fastinit.normal((4096,), seed=0, out=a[:4096], threads=threads)  # start the thread pool
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fastinit.normal(a.shape, seed=0, out=a, threads=threads)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kib": base, "peak_kib": peak}))
"""


def _child_env():
    """os.environ for a measuring interpreter that imports this fastinit (a source
    checkout built in place included)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def peak_memory(n, threads=1):
    """Extra resident memory of ``normal(out=)`` into a touched float32 array of n elements.

    Runs in a fresh interpreter: ru_maxrss after the fill minus ru_maxrss before it
    (the output, NumPy, fastinit and its thread pool are in the baseline).
    """
    env = _child_env()
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(n), str(threads)],
                          capture_output=True, text=True, env=env, timeout=600)
    result = {"id": "peak_memory", "case": "peak memory of a large normal float32 fill (out=)",
              "output_mib": n * 4 / _MIB, "threads": threads, "target_extra_mib": 16.0,
              "extra_mib": None, "status": "n/a"}
    if proc.returncode != 0:
        result["error"] = (proc.stderr.strip().splitlines() or ["probe failed"])[-1]
        return result
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    result["extra_mib"] = (got["peak_kib"] - got["base_kib"]) / 1024  # Linux: KiB
    result["status"] = "pass" if result["extra_mib"] <= 16.0 else "miss"
    return result


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ------------------------------------------------------------------- output ----
def _fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def format_ratio(ratio):
    """A ratio as printed and judged: RATIO_DIGITS decimals."""
    return "n/a" if ratio is None else f"{round(ratio, RATIO_DIGITS):.{RATIO_DIGITS}f}x"


def format_table(report):
    """The report as the text table ``fastinit bench`` prints."""
    c = report["config"]
    lines = [
        f"fastinit {c['version']} bench: {c['size']:,} elements, best of {c['repeat']}, "
        f"SIMD path {c['simd_selected']} (its targets), threads {','.join(map(str, c['threads']))}",
        f"cpu: {c['cpu']} ({c['cores']} cores); numpy {c['numpy']}, torch {c['torch'] or 'n/a'}",
        "memory-write roofline (ndarray.fill, 1 thread): " + ", ".join(
            f"{k} {v['m_per_s']:.0f} M/s {v['gb_per_s']:.1f} GB/s" for k, v in report["roofline"].items()),
        "",
    ]
    head = (f"{'case':<62} {'fastinit':>9} {'GB/s':>6} {'roof':>5} {'peer':>9} {'ratio':>7} "
            f"{'target':>7} {'spread':>6}  result")
    lines += [head, "-" * len(head)]
    for r in report["rows"]:
        fi, pe = r["fastinit"] or {}, r["peer_rate"] or {}
        if "fastinit_us" in r:
            a, b = f"{r['fastinit_us']:.2f}us", f"{r['peer_us']:.2f}us"
        else:
            a, b = _fmt(fi.get("m_per_s"), ".0f"), _fmt(pe.get("m_per_s"), ".0f")
        roof = "" if r["roofline_fraction"] is None else f"{r['roofline_fraction']:.0%}"
        target = "-" if r["target"] is None else f">={r['target']:g}x"
        status = "-" if r["status"] == "no target" else r["status"]
        spread = "" if r.get("spread") is None else f"{r['spread']:.0%}"
        lines.append(f"{r['case']:<62} {a:>9} {_fmt(fi.get('gb_per_s'), '.1f'):>6} {roof:>5} {b:>9} "
                     f"{format_ratio(r['ratio']):>7} {target:>7} {spread:>6}  {status}")
    lines.append("  (rates in M samples/s; roof = fastinit GB/s / ndarray.fill GB/s; peers: "
                 + "; ".join(sorted({r['peer'] for r in report['rows']})) + ")")
    m = report["memory"]
    if m is not None:
        extra = "n/a" if m["extra_mib"] is None else f"{m['extra_mib']:.1f} MiB"
        lines.append(f"peak memory, normal float32 out= fill of {m['output_mib'] / 1024:.2f} GiB "
                     f"({m['threads']} threads): output + {extra} (target <= +16 MiB)  {m['status']}"
                     + (f"  [{m['error']}]" if "error" in m else ""))
    lines.append(f"spread = (slowest - fastest) / fastest of the repeats; a miss with a spread over "
                 f"{c['noise']:.0%} is reported as noisy (run again on a quieter machine).")
    return "\n".join(lines)


def _run_model(args):
    from . import bench_model
    from .cli._args import UsageError

    given = [f for f, v in (("--size", args.size), ("--mem-gib", args.mem_gib),
                            ("--simd", args.simd)) if v is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise UsageError(f"{', '.join(given)} {verb} to the fill benchmark, not to --model")
    if args.preload is not None and not os.path.isfile(args.preload):
        raise UsageError(f"--preload {args.preload}: no such file")
    progress = None
    if not args.json and sys.stderr.isatty():
        progress = lambda text: print(f"  measuring {text} ...", file=sys.stderr, flush=True)  # noqa: E731
    repeat = args.repeat or (1 if args.quick else 3)
    return bench_model.run(args.model, threads=max(args.threads), repeat=repeat,
                           preload=args.preload, as_json=args.json, progress=progress)


def run(args):
    """The ``fastinit bench`` command: measure, then print a table or JSON; returns 0."""
    if getattr(args, "model", None):
        return _run_model(args)
    if getattr(args, "preload", None) is not None:
        from .cli._args import UsageError

        raise UsageError("--preload applies to --model only")
    quick = args.quick
    size = args.size or (_MIB if quick else 16 * _MIB)
    repeat = args.repeat or (3 if quick else 7)
    mem_gib = args.mem_gib if args.mem_gib is not None else (1.0 if quick else 4.0)
    progress = None
    if not args.json and sys.stderr.isatty():
        progress = lambda text: print(f"  measuring {text} ...", file=sys.stderr, flush=True)  # noqa: E731
    report = measure(size=size, repeat=repeat, threads=tuple(args.threads),
                     latency_calls=200 if quick else 2000, mem_gib=mem_gib, progress=progress,
                     simd=args.simd, noise=args.noise)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0


def main(argv=None):
    """``python -m fastinit.bench [options]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m fastinit.bench", allow_abbrev=False,
                                     description="Time fastinit's fills against NumPy and PyTorch.")
    _add_arguments(parser)
    from .cli._args import UsageError

    try:
        return run(parser.parse_args(argv))
    except UsageError as e:
        parser.error(str(e))  # one line, exit status 2, as the fastinit command


if __name__ == "__main__":
    sys.exit(main())
