"""fastinit propagate: the signal-propagation probe from the command line.
"""
from __future__ import annotations

import sys

from ..diagnostics.activations import ACTIVATIONS, _activation
from ..diagnostics.network import signal_propagation
from ..diagnostics.recommend import recommend
from ..diagnostics.spec import parse_init_spec
from ..diagnostics.table import plot_propagation, propagation_table


# ---------------------------------------------------------------------- CLI ----
def _add_arguments(p):
    p.add_argument("--depth", type=int, default=50, help="number of layers (default 50)")
    p.add_argument("--width", type=int, default=512, help="units (dense) or channels (conv) per layer "
                                                          "(default 512)")
    p.add_argument("--activation", default="relu",
                   help=f"one of {', '.join(ACTIVATIONS)}; leaky_relu:SLOPE sets the slope (default relu)")
    p.add_argument("--init", default="kaiming_normal,xavier_normal,normal:0.01",
                   help="comma-separated initializer specs, e.g. he_normal,xavier_normal:gain=5/3,"
                        "normal:0.01 (default kaiming_normal,xavier_normal,normal:0.01); "
                        "'recommended' means recommend(activation)")
    p.add_argument("--batch", type=int, default=256, help="rows of the random input (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, input and gradient (default 0)")
    p.add_argument("--kind", choices=("dense", "conv"), default="dense", help="dense (default) or conv (1-D)")
    p.add_argument("--length", type=int, default=16, help="conv: sequence length (default 16)")
    p.add_argument("--kernel-size", type=int, default=3, help="conv: kernel taps (default 3)")
    p.add_argument("--padding", choices=("circular", "zeros"), default="circular",
                   help="conv: 'same' padding by wrapping around (default) or with zeros")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="network arithmetic (default float32)")
    p.add_argument("--tolerance", type=float, default=10.0,
                   help="end-to-end std factor that counts as vanishing/exploding (default 10)")
    p.add_argument("--bands", type=int, default=10, help="table rows: every depth/BANDS layers (default 10)")
    p.add_argument("--plot", metavar="PATH", help="save a figure (PNG, SVG, PDF by suffix); needs matplotlib")
    p.add_argument("--json", action="store_true", help="print the full results as JSON instead of tables")
    p.set_defaults(func=run_propagate)
    return p


_DESCRIPTION = ("Push a random batch through a deep network initialized by each INIT, backpropagate "
                "a random gradient, and show the std of the signal every few layers, forward and "
                "backward, with vanishing/exploding flags.")


_EPILOG = ("example: fastinit propagate --depth 50 --width 512 --activation relu "
           "--init he_normal,xavier_normal,normal:0.01 --plot relu.png")


def add_cli_parser(subparsers):
    """Register the ``propagate`` command on an argparse subparsers object (used by
    ``fastinit/cli.py``); the handler is ``args.func(args)`` and returns the exit status."""
    p = subparsers.add_parser("propagate", help="signal propagation through deep nets per initializer",
                              description=_DESCRIPTION, epilog=_EPILOG)
    return _add_arguments(p)


def run_propagate(args) -> int:
    """Handler of ``propagate``: 0 on success, 2 on a bad argument (one line on stderr)."""
    import json

    def fail(message):
        print(f"fastinit propagate: error: {message}", file=sys.stderr)
        return 2

    specs = [s.strip() for s in args.init.split(",")]
    if not all(specs):
        return fail(f"--init {args.init!r} has an empty entry: write e.g. --init he_normal,xavier_normal")
    if args.bands < 1:
        return fail("--bands must be >= 1")
    try:
        _activation(args.activation)  # a bad activation is reported before any work
        inits = [recommend(args.activation) if s == "recommended" else s for s in specs]
        for spec in inits:  # parse every spec up front: no half-printed output
            if isinstance(spec, str):
                parse_init_spec(spec)
        if args.plot:
            _check_plot_path(args.plot)
        results = []
        for spec in inits:
            results.append(signal_propagation(
                spec, args.activation, args.depth, args.width, batch=args.batch, seed=args.seed,
                kind=args.kind, length=args.length, kernel_size=args.kernel_size, padding=args.padding,
                dtype=args.dtype, tolerance=args.tolerance))
    except (TypeError, ValueError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        print(propagation_table(results, bands=args.bands))
    if args.plot:
        try:
            plot_propagation(results, args.plot)
        except ImportError as exc:
            return fail(f"--plot needs matplotlib ({exc}): pip install 'fastinit[plot]'")
        print(f"figure saved to {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _check_plot_path(path):
    import os

    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--plot: directory {parent} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
        raise ValueError(f"--plot {path!r}: use a .png, .svg, .pdf or .jpg file name")


def main(argv=None) -> int:
    """``python -m fastinit.diagnostics [options]``: the ``propagate`` command on its own."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fastinit.diagnostics", description=_DESCRIPTION,
                                     epilog=_EPILOG)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)

