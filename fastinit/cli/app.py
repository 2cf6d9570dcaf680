"""The fastinit command's parser and entry point.
"""
from __future__ import annotations

import sys

from .. import bench
from ._args import (
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_USAGE,
    UsageError,
    _Parser,
    silence_stdout,
)
from .checkpoint import add_cli_parser as add_checkpoint
from .fill import _add_fill
from .propagate import add_cli_parser as add_propagate
from .raw import _add_info, _add_raw


# ------------------------------------------------------------------ parser ----
def build_parser():
    parser = _Parser(prog="fastinit", description="Fast, bit-reproducible tensor initializers.",
                     allow_abbrev=False)
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"fastinit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)
    _add_fill(sub)
    _add_raw(sub)
    _add_info(sub)
    bench.add_cli_parser(sub)
    add_propagate(sub)
    add_checkpoint(sub)
    return parser


# -------------------------------------------------------------------- main ----
def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _say(prog, message):
    """One line on stderr, even for a multi-line message; a closed stderr is ignored."""
    if sys.stderr is None:  # started with stderr closed: print() would fall back to stdout
        return
    try:
        print(f"{prog}: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    except (OSError, AttributeError, ValueError):  # stderr closed or broken
        pass


def _flush_stdout():
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def _reserve_standard_fds():
    """Open /dev/null on a closed fd 0, 1 or 2 (``>&-``), so no file the command creates
    gets that number and a stray write to stderr cannot land in a data file."""
    import os

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one


def main(argv=None):
    """Entry point of the ``fastinit`` console script; returns the exit status."""
    _reserve_standard_fds()
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.error(f"{args.command}: this command did not register a handler")
    import signal

    prog = f"fastinit {args.command}"
    previous = None
    try:
        # SIGTERM cleans up like Ctrl-C: writers remove their partial files.
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (main() called from a thread)
        pass
    try:
        status = func(args)
        _flush_stdout()
    except UsageError as exc:
        _say(prog, f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say(prog, "interrupted; the partial file was removed" if args.command == "fill"
             else "interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        _say(prog, f"error: {exc}")
        return EXIT_IO
    except MemoryError as exc:
        _say(prog, f"error: out of memory{': ' + str(exc) if str(exc) else ''}")
        return EXIT_IO
    except Exception as exc:  # the safety net: never a traceback
        _say(prog, f"internal error: {type(exc).__name__}: {exc}; please report it with the "
                   "command line")
        return EXIT_IO
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0 if status is None else int(status)
