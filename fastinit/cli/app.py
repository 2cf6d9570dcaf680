"""The fastinit command's parser and entry point.
"""
from __future__ import annotations

import sys

from .. import bench
from ._args import EXIT_INTERRUPTED, EXIT_USAGE, UsageError, _Parser
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

