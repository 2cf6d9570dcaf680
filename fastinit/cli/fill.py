"""fastinit fill: write an initialized tensor to .npy or .zarr chunk by chunk.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

from ._args import (
    _AXES_PARAMS,
    _FLOAT_PARAMS,
    _INT_PARAMS,
    _STR_PARAMS,
    PARAM_DESTS,
    _axes,
    _fail,
    _float,
    _int,
    _param_pair,
    parse_shape,
    parse_stream,
    silence_stdout,
)


def _add_fill(sub):
    p = sub.add_parser(
        "fill", help="write an initialized tensor to .npy or .zarr, chunk by chunk",
        description="Write shape SHAPE filled by initializer INIT to PATH (.npy or .zarr, by suffix), "
                    "chunk by chunk with a progress bar, then print time, GB/s and observed vs expected "
                    "mean and std.  The file appears only when complete.",
        epilog="example: fastinit fill emb.npy --shape 10000000,256 --init trunc_normal --std 0.02 "
               "--seed 0 --dtype bfloat16", allow_abbrev=False)
    p.add_argument("path", metavar="PATH", help="output file: *.npy or *.zarr")
    p.add_argument("--shape", required=True, help="comma-separated dimensions, e.g. 10000000,256")
    p.add_argument("--init", required=True, metavar="NAME",
                   help="initializer name (uniform, normal, trunc_normal, zeros, ones, full, "
                        "xavier_uniform, kaiming_normal, he_normal, variance_scaling, ...)")
    p.add_argument("--seed", type=_int, help="integer in [0, 2**64) (required for random initializers)")
    p.add_argument("--stream", help="stream number, or a name such as a parameter's (default 0)")
    p.add_argument("--dtype", default="float32", help="float32 (default), float64, float16, bfloat16")
    p.add_argument("--threads", type=_int, help="fill threads (default: all OpenMP threads)")
    p.add_argument("--chunks", help=".zarr only: chunk shape, e.g. 100000,256 (default: ~32 MB row blocks)")
    p.add_argument("--chunk-mb", type=_float, help=".npy only: row block size in MB (default 64)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    g = p.add_argument_group("initializer parameters (only those the initializer takes)")
    for name, text in _FLOAT_PARAMS.items():
        g.add_argument(f"--{name}", type=_float, default=argparse.SUPPRESS, help=text)
    for name, text in _STR_PARAMS.items():
        g.add_argument(f"--{name}", default=argparse.SUPPRESS, help=text)
    for name, text in _INT_PARAMS.items():
        g.add_argument(f"--{name}", type=_int, default=argparse.SUPPRESS, help=text)
    for name, text in _AXES_PARAMS.items():
        g.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_axes, default=argparse.SUPPRESS,
                       help=text)
    g.add_argument("--param", type=_param_pair, action="append", default=[], metavar="NAME=VALUE",
                   help="any other parameter (Python literal), repeatable")
    p.set_defaults(func=run_fill)


def _fill_params(args):
    params = {d: getattr(args, d) for d in PARAM_DESTS if hasattr(args, d)}
    for name, v in args.param:
        if name in params:
            _fail(f"parameter {name!r} given twice (--{name} and --param)")
        params[name] = v
    return params


def _format_params(params):
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v:g}" if isinstance(v, float)
                     else f"{k}={v}" for k, v in params.items())


def run_fill(args):
    from .. import _validate
    from .. import io as fio
    from ..initializers import registry
    from ..io import _atomic, _common
    from ..io.zarr import _zarr_chunks

    path = args.path
    lowered = path.rstrip("/").lower()
    if lowered.endswith(".npy"):
        kind = "npy"
    elif lowered.endswith(".zarr"):
        kind = "zarr"
        path = path.rstrip("/")
    else:
        _fail(f"PATH {path!r} must end in .npy or .zarr (the suffix chooses the format)")
    if os.path.lexists(path) and not args.force:
        _fail(f"{path} already exists: pass --force to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        _fail(f"directory {parent} does not exist")
    try:
        _atomic.check_target(path, kind, True)  # --force replaces only a target of the same kind
    except OSError as exc:
        _fail(str(exc))
    if kind == "zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            _fail("writing .zarr needs zarr: pip install 'fastinit[io]' (or write a .npy file)")
    shape = parse_shape(args.shape)
    params = _fill_params(args)
    stream = parse_stream(args.stream)
    if args.chunks is not None and kind != "zarr":
        _fail("--chunks applies to .zarr output; for .npy set the block size with --chunk-mb")
    if args.chunk_mb is not None and kind != "npy":
        _fail("--chunk-mb applies to .npy output; for .zarr set --chunks")
    try:
        entry, _ = registry.resolve(args.init)
        takes_seed = entry.random
        if takes_seed and args.seed is None:
            _fail(f"--seed is required for {args.init} (an integer in [0, 2**64), e.g. --seed 0)")
        unknown = [k for k in params if k not in entry.params]
        if unknown and not registry._accepts_var_keywords(entry.func):
            takes = ", ".join(f"--{k.replace('_', '-')}" for k in entry.params) or "no parameters"
            _fail(f"{args.init} does not take {', '.join('--' + k.replace('_', '-') for k in unknown)}; "
                  f"it takes {takes}")
        filler = registry.Filler(shape, args.init, args.seed, stream, args.dtype, params)
        filler.dry_run()  # every parameter error surfaces here, before a file exists
        threads = _validate.check_threads(args.threads)
        chunks = "auto" if args.chunks in (None, "auto") else parse_shape(args.chunks)
        if chunks != "auto":
            _zarr_chunks(filler.shape, filler.dtype.itemsize, chunks)
        chunk_bytes = None
        if args.chunk_mb is not None:
            if not (math.isfinite(args.chunk_mb) and args.chunk_mb > 0):
                _fail(f"--chunk-mb must be a finite number > 0, got {args.chunk_mb:g}")
            chunk_bytes = max(1, int(args.chunk_mb * (1 << 20)))
        if not entry.region_fill:
            _common.check_memory(filler)
    except OverflowError as exc:  # e.g. math on --a 1e200
        _fail(f"{args.init}({_format_params(params)}): a parameter is too large ({exc}): "
              "use smaller values")
    except (TypeError, ValueError, MemoryError) as exc:
        _fail(str(exc))
    nbytes = math.prod(filler.shape) * filler.dtype.itemsize
    free = _free_bytes(parent)
    if free is not None and nbytes > free:
        _fail(f"{path} needs {nbytes / 1e9:.2f} GB but only {free / 1e9:.2f} GB are free in {parent}")

    common = dict(seed=args.seed, stream=stream, dtype=filler.dtype, threads=threads,
                  progress=not args.no_progress, overwrite=args.force, **params)
    try:
        if kind == "npy":
            if chunk_bytes is not None:
                common["chunk_bytes"] = chunk_bytes
            res = fio.to_npy(path, filler.shape, args.init, **common)
        else:
            res = fio.to_zarr(path, filler.shape, args.init, chunks=chunks, **common)
    except OverflowError as exc:
        _fail(f"{args.init}({_format_params(params)}): a parameter is too large ({exc}): "
              "use smaller values")
    except (TypeError, ValueError) as exc:
        # Structured initializers (orthogonal, eye, ...) check their arguments when
        # computed, still before the writer creates a file; the writer cleans up anyway.
        _fail(str(exc))
    except FileExistsError as exc:
        # Another writer published first (the checks above passed): this one lost.
        raise FileExistsError(str(exc).replace("overwrite=True", "--force")) from None
    try:
        _print_summary(res, args.init, params, args.seed if takes_seed else None, stream, threads,
                       entry.defaults())
        if sys.stdout is not None:  # None: started with stdout closed, nothing to say
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()  # `| head`, `| true`: the file is complete, that is success
    return 0


def _free_bytes(directory):
    import shutil

    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _print_summary(res, init, params, seed, stream, threads, defaults):
    from ..io._common import human_bytes

    dims = " x ".join(map(str, res.shape)) or "scalar"
    call = f"{init}({_format_params(params)})" if params else f"{init}()"
    # Decimal units, as the progress bar: 1 GB = 10**9 bytes.
    print(f"wrote {res.path}: {dims} {res.dtype.name}, {human_bytes(res.nbytes)} "
          f"in {res.seconds:.2f} s ({res.gb_per_s:.2f} GB/s, {threads} threads)")
    print(f"  {call}" + ("" if seed is None else f", seed={seed}, stream={stream!r}"))
    if init.strip() == "trunc_normal":
        p = {**defaults, **params}
        lo, hi = p["mean"] + p["lower"] * p["std"], p["mean"] + p["upper"] * p["std"]
        print(f"  bounds lower={p['lower']:g}, upper={p['upper']:g} are in units of std around the "
              f"mean (JAX/Keras convention): values lie in [{lo:.6g}, {hi:.6g}]")
    if res.sample_size == 0:
        print("  (empty tensor: no values)")
        return

    def row(label, observed, expected):
        exp = "n/a" if expected is None else f"{expected:+.6g}"
        rel = ""
        if expected:
            rel = f"  ({(observed - expected) / abs(expected):+.3%})"
        return f"  {label:<4} observed {observed:+.6g}  expected {exp}{rel}"

    print(row("mean", res.sample_mean, res.expected_mean))
    print(row("std", res.sample_std, res.expected_std))
    print(f"  (observed on a strided sample of {res.sample_size:,} of {math.prod(res.shape):,} values)")
