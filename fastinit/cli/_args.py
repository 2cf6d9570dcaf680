"""What every subcommand shares: exit codes, the parameter options, the argument types
(shape, stream, floats, axes) and UsageError (one line on stderr, exit status 2).
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import sys

EXIT_USAGE = 2


EXIT_IO = 1  # a file or stream could not be written, or another writer won


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


def silence_stdout():
    """Point stdout at /dev/null once its reader has gone (``| head``, ``| true``), so
    the interpreter's final flush does not fail: what was asked for is done."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


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
        return int(text, 0)  # 123, 1_000, 0x7f, 0b101, 0o17
    except ValueError:
        pass
    if re.fullmatch(r"\s*[+-]?\d[\d_]*\s*", text):
        return int(text, 10)  # leading zeros (007): decimal, as people mean it, never octal
    raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")


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


_INT_LITERAL = re.compile(r"[+-]?(\d[\d_]*|0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+)")


def parse_stream(text):
    """An integer literal (decimal, leading zeros allowed, or 0x/0b/0o) is the stream
    number itself and must be in [0, 2**64); any other text is a stream name (hashed
    with BLAKE2b, as fastinit.stream_id)."""
    if text is None:
        return 0
    if not _INT_LITERAL.fullmatch(text):
        return text
    try:
        v = _int(text)
    except argparse.ArgumentTypeError:
        raise UsageError(f"--stream {text!r} is not a valid integer: write e.g. --stream 7, "
                         "or a name such as --stream decoder.weight") from None
    if not 0 <= v < 1 << 64:
        raise UsageError(f"--stream {text}: a stream number must be in [0, 2**64); a name must "
                         "not look like a number")
    return v


# ---------------------------------------------------------------- commands ----
def _fail(message):
    raise UsageError(message)
