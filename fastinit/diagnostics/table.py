"""Text and plot output of signal-propagation results.
"""
from __future__ import annotations

from .network import _fmt


# ------------------------------------------------------------------- output ----
def _band_rows(depth, bands):
    """Activation positions at the band edges: 0, step, 2 step, ..., depth."""
    step = max(1, depth // max(1, bands))
    rows = list(range(0, depth + 1, step))
    if rows[-1] != depth:
        rows.append(depth)
    return rows


def _forward_at(r, n):
    return r.input_std if n == 0 else r.forward_std[n - 1]


def _backward_at(r, n):
    return r.output_grad_std if n == r.depth else r.backward_std[n]


def propagation_table(results, bands=10) -> str:
    """A text table of forward and backward std every ``depth / bands`` layers, then
    one summary line per initializer.  Row ``n`` shows the activations ``h_n`` (the
    output of layer n; ``h_0`` is the input) and the gradient ``dL/dh_n``.

    >>> r = signal_propagation("normal:0.0625", "relu", depth=4, width=32, batch=8)
    >>> print(propagation_table([r], bands=2).splitlines()[0])
    relu network, dense, depth 4, width 32, batch 8, seed 0
    """
    results = list(results)
    if not results:
        raise ValueError("no results to tabulate")
    first = results[0]
    depth = first.depth
    if any(r.depth != depth for r in results):
        raise ValueError("all results must have the same depth")
    rows = _band_rows(depth, bands)
    labels = [r.init for r in results]
    colw = [max(10, len(s)) for s in labels]
    extra = "".join(f", {k} {v}" for k, v in first.params.items())
    lines = [f"{first.activation} network, {first.kind}, depth {depth}, width {first.width}, "
             f"batch {first.batch}, seed {first.seed}{extra}"]
    for title, at in (("forward: std of h_n, the output of layer n (n = 0: the input)", _forward_at),
                      ("backward: std of dL/dh_n (n = depth: the output gradient)", _backward_at)):
        lines.append("")
        lines.append(title)
        lines.append("    n  " + "  ".join(s.rjust(w) for s, w in zip(labels, colw)))
        for n in rows:
            cells = [_fmt(at(r, n)).rjust(w) for r, w in zip(results, colw)]
            lines.append(f"{n:5d}  " + "  ".join(cells))
    lines.append("")
    lines.append(f"end to end (vanishing below 1/{first.tolerance:g}, exploding above {first.tolerance:g}):")
    width = max(len(s) for s in labels)
    for r in results:
        lines.append(f"  {r.init.ljust(width)}  forward x{_fmt(r.forward_ratio):<9}  "
                     f"backward x{_fmt(r.backward_ratio):<9}  {r.status}")
    return "\n".join(lines)


def plot_propagation(results, path=None, *, title=None):
    """A matplotlib Figure: log-scale std against layer, forward and backward panels,
    one line per result; saved to `path` (PNG, ...) when given.  Needs matplotlib
    (``pip install fastinit[plot]``); it does not touch pyplot's global state."""
    from .plot import plot_propagation as _plot

    return _plot(results, path=path, title=title)
