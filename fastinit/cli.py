"""The ``fastinit`` command (also ``python -m fastinit``).

    fastinit fill PATH --shape 10000000,256 --init trunc_normal --std 0.02 --seed 0 [--dtype bfloat16]
    fastinit raw --seed 0 [--stream NAME] [--count N] | dieharder -a -g 200
    fastinit info
    fastinit bench ...          (fastinit/bench.py)
    fastinit propagate ...      (fastinit/diagnostics.py)

Bad arguments print one line on stderr and exit with status 2, before any file is
created.  Importing this module is cheap: the parser is built inside main(), and
the writers, Dask, zarr and tqdm are imported only by the command that needs them.
"""
from __future__ import annotations

import argparse
import ast
import math
import os
import re
import sys

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Initializer parameters reachable as options: dest -> (type, help).  Only the ones
# given on the command line are passed on; the initializer checks they apply to it.
_FLOAT_PARAMS = {
    "mean": "mean of normal / trunc_normal",
    "std": "standard deviation (normal, trunc_normal, sparse)",
    "low": "lower bound of uniform",
    "high": "upper bound of uniform",
    "lower": "trunc_normal lower bound in units of std (may be -inf; write --lower=-inf)",
    "upper": "trunc_normal upper bound in units of std (may be inf)",
    "gain": "gain of xavier_* / orthogonal / identity",
    "a": "negative slope for kaiming_* with leaky_relu",
    "scale": "scale of variance_scaling",
    "value": "the constant of full / constant",
    "sparsity": "fraction of zeros per column of sparse",
}
_STR_PARAMS = {
    "mode": "fan mode: fan_in, fan_out, fan_avg, fan_geo_avg",
    "nonlinearity": "kaiming_* nonlinearity (relu, leaky_relu, tanh, ...)",
    "distribution": "variance_scaling distribution: truncated_normal, normal, uniform",
    "layout": "fan layout: torch (out, in, *kernel) or jax (*kernel, in, out)",
}
_INT_PARAMS = {"groups": "groups of dirac"}
_AXES_PARAMS = {
    "in_axis": "JAX-layout input axis (int or comma-separated ints)",
    "out_axis": "JAX-layout output axis (int or comma-separated ints)",
    "batch_axis": "JAX-layout batch axes (comma-separated ints)",
    "column_axis": "column axis of orthogonal / delta_orthogonal",
}
PARAM_DESTS = (*_FLOAT_PARAMS, *_STR_PARAMS, *_INT_PARAMS, *_AXES_PARAMS)


class UsageError(Exception):
    """A bad argument found after parsing: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, no usage block: scripts and people both read it easily.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------- arg types ----
def _float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v != v:
        raise argparse.ArgumentTypeError("NaN is not a valid parameter")
    return v


def _axes(text):
    try:
        parts = [int(p) for p in text.split(",") if p.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or comma-separated ints, got {text!r}") from None
    return parts[0] if len(parts) == 1 and "," not in text else tuple(parts)


def _count(text):
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _int(text):
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _param_pair(text):
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        v = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        v = value  # a bare word is a string
    return name.strip(), v


def parse_shape(text):
    """'10000000,256' (or 10000000x256, 10_000_000,256) -> (10000000, 256)."""
    parts = [p.strip() for p in re.split(r"[,x×]", text.strip().rstrip(","))]
    if parts == [""]:
        raise UsageError(f"--shape {text!r} has no dimensions: write e.g. --shape 10000000,256")
    dims = []
    for p in parts:
        try:
            d = int(p.replace("_", ""))
        except ValueError:
            raise UsageError(f"--shape {text!r}: {p!r} is not an integer (write e.g. 10000000,256)") from None
        if d < 0:
            raise UsageError(f"--shape {text!r}: dimensions must be >= 0")
        dims.append(d)
    return tuple(dims)


def parse_stream(text):
    """A decimal or 0x integer is the stream number itself; any other text is a
    stream name (hashed with BLAKE2b, as fastinit.stream_id)."""
    if text is None:
        return 0
    if re.fullmatch(r"\d+|0[xX][0-9a-fA-F]+", text):
        return int(text, 0)
    return text


# ------------------------------------------------------------------ parser ----
def build_parser():
    parser = _Parser(prog="fastinit", description="Fast, bit-reproducible tensor initializers.",
                     allow_abbrev=False)
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"fastinit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)
    _add_fill(sub)
    _add_raw(sub)
    _add_info(sub)
    _delegate(sub, "bench", "bench", "measure fill speed against NumPy/PyTorch on this machine")
    _delegate(sub, "propagate", "diagnostics", "signal propagation through deep nets per initializer")
    return parser


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


def _add_raw(sub):
    p = sub.add_parser(
        "raw", help="raw little-endian uint32 words of a stream to stdout",
        description="Write the Philox4x32-10 words of (seed, stream) to stdout as little-endian "
                    "uint32, endlessly unless --count is given: pipe into dieharder -g 200 or "
                    "PractRand's RNG_test stdin32.", allow_abbrev=False)
    p.add_argument("--seed", type=_int, required=True, help="integer in [0, 2**64)")
    p.add_argument("--stream", help="stream number or name (default 0)")
    p.add_argument("--count", type=_count, help="number of words (default: endless)")
    p.add_argument("--start", type=_count, default=0, help="index of the first word (default 0)")
    p.set_defaults(func=run_raw)


def _add_info(sub):
    p = sub.add_parser("info", help="version and build configuration (SIMD paths, OpenMP)",
                       allow_abbrev=False)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_info)


def _delegate(sub, command, module, text):
    """Let fastinit.<module>.add_cli_parser(subparsers) register `command`; if that
    module is missing (or broken), register a stub that says so."""
    import importlib

    try:
        mod = importlib.import_module(f"fastinit.{module}")
        register = mod.add_cli_parser
    except Exception as exc:  # keep every other command working
        reason = f"{type(exc).__name__}: {exc}"
        p = sub.add_parser(command, help=f"{text} (unavailable)", add_help=True)
        p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        p.set_defaults(func=lambda args: _unavailable(command, module, reason))
        return
    register(sub)


def _unavailable(command, module, reason):
    print(f"fastinit {command}: not available in this installation (fastinit/{module}.py: {reason})",
          file=sys.stderr)
    return 1


# ---------------------------------------------------------------- commands ----
def _fail(message):
    raise UsageError(message)


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
    from . import _api
    from . import io as fio

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
    shape = parse_shape(args.shape)
    params = _fill_params(args)
    stream = parse_stream(args.stream)
    if args.chunks is not None and kind != "zarr":
        _fail("--chunks applies to .zarr output; for .npy set the block size with --chunk-mb")
    if args.chunk_mb is not None and kind != "npy":
        _fail("--chunk-mb applies to .npy output; for .zarr set --chunks")
    try:
        fn = fio.get_initializer(args.init)
        known, takes_seed = fio.init_parameters(fn)
        if takes_seed and args.seed is None:
            _fail(f"--seed is required for {args.init} (an integer in [0, 2**64), e.g. --seed 0)")
        unknown = [k for k in params if k not in known]
        if unknown and not fio._accepts_var_keywords(fn):
            takes = ", ".join(f"--{k.replace('_', '-')}" for k in known) or "no parameters"
            _fail(f"{args.init} does not take {', '.join('--' + k.replace('_', '-') for k in unknown)}; "
                  f"it takes {takes}")
        filler = fio._Filler(shape, args.init, args.seed, stream, args.dtype, params)
        filler.dry_run()  # every parameter error surfaces here, before a file exists
        threads = _api._threads(args.threads)
        chunks = "auto" if args.chunks in (None, "auto") else parse_shape(args.chunks)
        if chunks != "auto":
            fio._zarr_chunks(filler.shape, filler.dtype.itemsize, chunks)
        chunk_bytes = None
        if args.chunk_mb is not None:
            if not args.chunk_mb > 0:
                _fail("--chunk-mb must be > 0")
            chunk_bytes = max(1, int(args.chunk_mb * (1 << 20)))
    except (TypeError, ValueError) as exc:
        _fail(str(exc))
    nbytes = math.prod(filler.shape) * filler.dtype.itemsize
    free = _free_bytes(parent)
    if free is not None and nbytes > free:
        _fail(f"{path} needs {nbytes / 1e9:.2f} GB but only {free / 1e9:.2f} GB are free in {parent}")

    common = dict(seed=args.seed, stream=stream, dtype=filler.dtype, threads=threads,
                  progress=not args.no_progress, **params)
    try:
        if kind == "npy":
            if chunk_bytes is not None:
                common["chunk_bytes"] = chunk_bytes
            res = fio.to_npy(path, filler.shape, args.init, **common)
        else:
            res = fio.to_zarr(path, filler.shape, args.init, chunks=chunks, **common)
    except (TypeError, ValueError) as exc:
        # Structured initializers (orthogonal, eye, ...) check their arguments when
        # computed, still before the writer creates a file; the writer cleans up anyway.
        _fail(str(exc))
    _print_summary(res, args.init, params, args.seed if takes_seed else None, stream, threads)
    return 0


def _free_bytes(directory):
    import shutil

    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _print_summary(res, init, params, seed, stream, threads):
    dims = " x ".join(map(str, res.shape)) or "scalar"
    call = f"{init}({_format_params(params)})" if params else f"{init}()"
    print(f"wrote {res.path}: {dims} {res.dtype.name}, {res.nbytes / 1e9:.3f} GB "
          f"in {res.seconds:.2f} s ({res.gb_per_s:.2f} GB/s, {threads} threads)")
    print(f"  {call}" + ("" if seed is None else f", seed={seed}, stream={stream!r}"))
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


def run_raw(args):
    import numpy as np

    import fastinit

    stream = parse_stream(args.stream)
    try:
        fastinit.random_raw(0, seed=args.seed, stream=stream, start=args.start)
    except (TypeError, ValueError) as exc:
        _fail(str(exc))
    out = sys.stdout.buffer
    block = 1 << 20  # words per write: 4 MB
    pos, end = args.start, (None if args.count is None else args.start + args.count)
    if end is not None and end > 1 << 64:
        _fail("--start + --count must be <= 2**64 (the stream has 2**64 words)")
    stop = (1 << 64) if end is None else end
    try:
        while pos < stop:
            n = min(block, stop - pos)
            words = fastinit.random_raw(n, seed=args.seed, stream=stream, start=pos)
            out.write(words.astype("<u4", copy=False).data)
            pos += n
        out.flush()
    except BrokenPipeError:
        # The reader stopped (head, dieharder done): that is the normal end of an
        # endless stream.  Point stdout at /dev/null so the interpreter's final
        # flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


def run_info(args):
    import fastinit

    if args.json:
        import json

        print(json.dumps(fastinit.show_config(file=False), indent=2, default=str))
    else:
        fastinit.show_config()
    return 0


# -------------------------------------------------------------------- main ----
def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Entry point of the ``fastinit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.error(f"{args.command}: this command did not register a handler")
    import signal

    previous = None
    try:
        # SIGTERM cleans up like Ctrl-C: writers remove their partial files.
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (main() called from a thread)
        pass
    try:
        status = func(args)
    except UsageError as exc:
        print(f"fastinit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.command == "fill":
            print("fastinit fill: interrupted; the partial file was removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"fastinit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
