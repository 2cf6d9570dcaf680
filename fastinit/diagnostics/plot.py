"""Figures for fastinit.diagnostics (imported only when a plot is asked for).

Uses matplotlib's object API with the Agg canvas: no pyplot, no global backend
switch, safe on headless machines and inside other programs' figures.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_propagation"]

# Vanished signals underflow to 0 and exploded ones to inf/nan: on a log axis they
# are drawn at the frame's edge with a marker instead of disappearing.
_FLOOR = 1e-45


def plot_propagation(results, path=None, *, title=None):
    """Forward and backward std against layer (log scale), one line per result."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = list(results)
    if not results:
        raise ValueError("no results to plot")
    first = results[0]
    fig = Figure(figsize=(11, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax_f, ax_b = fig.subplots(1, 2, sharey=True)
    colors = ["#1f77b4", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f"]

    finite = np.concatenate([np.concatenate([r.forward_std, r.backward_std,
                                             [r.input_std, r.output_grad_std]]) for r in results])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = max(_FLOOR, float(finite.min()) if finite.size else 1e-3)
    hi = float(finite.max()) if finite.size else 1e3
    lo_edge = 10.0 ** math.floor(math.log10(lo) - 0.3)
    hi_edge = 10.0 ** math.ceil(math.log10(hi) + 0.3)
    lo_edge, hi_edge = min(lo_edge, 1e-2), max(hi_edge, 1e1)

    for i, r in enumerate(results):
        color = colors[i % len(colors)]
        # x is the position n of the activation h_n (h_0 the input, h_depth the output):
        # forward_std[l] is std(h_{l+1}); backward_std[l] is std(dL/dh_l).
        for ax, values, xs, ref, ref_x in (
                (ax_f, r.forward_std, np.arange(1, r.depth + 1), r.input_std, 0),
                (ax_b, r.backward_std, np.arange(0, r.depth), r.output_grad_std, r.depth)):
            ok = np.isfinite(values) & (values > 0)
            x_line = np.append(xs[ok], ref_x)
            y_line = np.append(values[ok], ref)
            order = np.argsort(x_line)
            ax.plot(x_line[order], y_line[order], color=color, lw=2, label=f"{r.init}  ({r.status})",
                    marker="o" if r.depth <= 30 else None, ms=3)
            bad = ~ok
            if bad.any():  # underflow (0) at the bottom edge, overflow (inf/nan) at the top
                zero = bad & (values == 0)
                over = bad & ~zero
                for mask, edge, marker in ((zero, lo_edge, "v"), (over, hi_edge, "^")):
                    if mask.any():  # (an empty unclipped line breaks constrained layout)
                        ax.plot(xs[mask], np.full(mask.sum(), edge), marker, color=color, ms=5,
                                clip_on=False)

    for ax in (ax_f, ax_b):
        ax.set_yscale("log")
        ax.set_ylim(lo_edge, hi_edge)
        ax.set_xlim(0, first.depth)
        ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
        # the healthy band: within `tolerance` of the starting std
        ax.axhspan(1.0 / first.tolerance, first.tolerance, color="#2ca02c", alpha=0.08, lw=0)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("layer n (0 = network input)")
    ax_f.set_ylabel("std (log scale)")
    ax_f.set_title("forward: std of the activations h_n")
    ax_b.set_title("backward: std of the gradients dL/dh_n")
    handles, labels = ax_f.get_legend_handles_labels()
    ncol = 1 if max(len(t) for t in labels) > 45 else min(3, len(labels))
    try:  # below both panels (matplotlib >= 3.7 places it outside with constrained layout)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=9, frameon=False)
    except ValueError:
        ax_f.legend(handles, labels, loc="best", fontsize=8, framealpha=0.9)
    if title is None:
        kind = "1-D conv" if first.kind == "conv" else "fully connected"
        title = (f"Signal propagation: {first.depth}-layer {kind} {first.activation} network, "
                 f"width {first.width}, batch {first.batch} (shaded: within {first.tolerance:g}x of the start)")
    fig.suptitle(title, fontsize=12)
    if path is not None:
        fig.savefig(path)
    return fig
