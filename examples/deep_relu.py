"""He et al. (2015), figure 3, in one minute: a 30-layer ReLU network trains with
He (Kaiming) initialization and stalls with Xavier (Glorot).

The network is a plain stack of Linear + ReLU layers (no normalization, no
residuals, zero biases) on scikit-learn's digits (1797 8x8 images, 10 classes,
64 standardized features), trained with SGD and momentum.  Both runs see the
same data in the same order; only the weight initializer differs:

* he:     fastinit.torch.kaiming_normal_(w, nonlinearity="relu")  Var(W) = 2 / fan_in
* xavier: fastinit.torch.xavier_normal_(w)                         Var(W) = 2 / (fan_in + fan_out)

With Xavier each ReLU layer halves the signal's second moment, so after 30 layers
the logits are about 2**-15 of their He size, every gradient is tiny, and the
loss sits at ln(10) = 2.303 (chance) while the He network learns.

    python examples/deep_relu.py                    # 30 layers, 30 epochs, loss table
    python examples/deep_relu.py --plot relu30.png  # and a figure of the two curves

Each weight's stream is its parameter name, so the initial weights do not depend
on the order in which layers are built.

What is reproducible: the initial weights, bit for bit, on every machine, thread
count and instruction set (fastinit's stream contract); the script prints their
SHA-256 (30 layers, width 128, seed 0: He 4eeb6fd22d303466..., Xavier 0f4a940388aea914...).
What is not: the training numbers.  PyTorch's matrix products round differently with
the BLAS build, CPU and thread count, and 30 layers of SGD amplify the differences:
He's final loss was 0.0070 on the machine of docs/diagnostics.md and 0.045 on another.
The outcome is stable: He trains (loss far below ln 10), Xavier stays at chance.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

try:
    import fastinit  # noqa: F401
except ImportError:  # run from a source checkout without installing: use the checkout
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isdir(os.path.join(_ROOT, "fastinit")):
        sys.path.insert(0, _ROOT)


def load_digits_tensors(seed):
    """Standardized digits features, split 80/20 with a fixed permutation."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(0.8 * len(x))
    tr, te = order[:n_train], order[n_train:]
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0)
    std[std == 0] = 1.0  # constant border pixels
    x = (x - mean) / std
    return (torch.from_numpy(x[tr]), torch.from_numpy(y[tr]),
            torch.from_numpy(x[te]), torch.from_numpy(y[te]))


def build_mlp(depth, width, in_features=64, classes=10):
    """`depth` Linear layers (in -> width -> ... -> width -> classes), ReLU between."""
    import torch.nn as nn

    if depth < 2:
        raise ValueError("depth must be >= 2")
    layers = [nn.Linear(in_features, width), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def _initializers():
    """(kaiming_normal_, xavier_normal_, source): fastinit.torch when installed,
    else NumPy fills from fastinit copied into the tensor (the same values)."""
    import torch

    import fastinit

    try:
        from fastinit.torch import kaiming_normal_, xavier_normal_
        return kaiming_normal_, xavier_normal_, "fastinit.torch"
    except ImportError:  # an older fastinit without the PyTorch module
        pass

    def copy_in(tensor, std, seed, stream):
        values = fastinit.normal(tuple(tensor.shape), std=std, seed=seed, stream=stream)
        with torch.no_grad():
            tensor.copy_(torch.from_numpy(values))
        return tensor

    def kaiming_normal_(tensor, nonlinearity="relu", *, seed, stream):
        gain = math.sqrt(2.0) if nonlinearity == "relu" else 1.0
        return copy_in(tensor, gain / math.sqrt(tensor.shape[1]), seed, stream)

    def xavier_normal_(tensor, gain=1.0, *, seed, stream):
        fan_out, fan_in = tensor.shape
        return copy_in(tensor, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed, stream)

    return kaiming_normal_, xavier_normal_, "fastinit.normal (fastinit.torch not available)"


def initialize(model, scheme, seed):
    """He or Xavier normal weights (stream = parameter name), zero biases."""
    import torch

    kaiming_normal_, xavier_normal_, _ = _initializers()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            stream = f"{name}.weight"
            if scheme == "he":
                kaiming_normal_(module.weight, nonlinearity="relu", seed=seed, stream=stream)
            elif scheme == "xavier":
                xavier_normal_(module.weight, seed=seed, stream=stream)
            else:
                raise ValueError(f"unknown scheme {scheme!r}: use 'he' or 'xavier'")
            with torch.no_grad():
                module.bias.zero_()
    return model


def weights_digest(scheme, *, depth=30, width=128, seed=0, in_features=64, classes=10):
    """SHA-256 of the initial Linear weights in order (float32 bytes): the same on
    every machine, unlike the training numbers."""
    import hashlib

    model = initialize(build_mlp(depth, width, in_features, classes), scheme, seed)
    h = hashlib.sha256()
    for module in model:
        if hasattr(module, "weight"):
            h.update(module.weight.detach().numpy().tobytes())
    return h.hexdigest()


def train(scheme, *, depth=30, width=128, epochs=30, lr=0.002, momentum=0.9, batch_size=64,
          seed=0, data=None, log=None):
    """Train one network; returns {"loss": [...], "test_acc": [...]} per epoch, where
    loss[0] and test_acc[0] are measured before training."""
    import torch
    import torch.nn.functional as F

    x_tr, y_tr, x_te, y_te = data if data is not None else load_digits_tensors(seed)
    model = initialize(build_mlp(depth, width, x_tr.shape[1], int(y_tr.max()) + 1), scheme, seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    shuffle = torch.Generator().manual_seed(seed)  # same batches for every scheme

    def evaluate():
        with torch.no_grad():
            loss = float(F.cross_entropy(model(x_tr), y_tr))
            acc = float((model(x_te).argmax(dim=1) == y_te).float().mean())
        return loss, acc

    loss, acc = evaluate()
    history = {"loss": [loss], "test_acc": [acc]}
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(x_tr), generator=shuffle)
        for i in range(0, len(x_tr), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        loss, acc = evaluate()
        if not math.isfinite(loss):
            raise FloatingPointError(f"{scheme}: the loss diverged at epoch {epoch}; lower --lr")
        history["loss"].append(loss)
        history["test_acc"].append(acc)
        if log is not None:
            log(scheme, epoch, loss, acc)
    return history


def compare(*, depth=30, width=128, epochs=30, lr=0.002, momentum=0.9, batch_size=64, seed=0,
            log=None):
    """Both schemes on the same data: {"he": history, "xavier": history}."""
    data = load_digits_tensors(seed)
    return {scheme: train(scheme, depth=depth, width=width, epochs=epochs, lr=lr, momentum=momentum,
                          batch_size=batch_size, seed=seed, data=data, log=log)
            for scheme in ("he", "xavier")}


def plot(results, path, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    styles = {"he": ("#1f77b4", "He / Kaiming normal"), "xavier": ("#d62728", "Xavier / Glorot normal")}
    for scheme, hist in results.items():
        color, label = styles[scheme]
        epochs = range(len(hist["loss"]))
        ax_loss.plot(epochs, hist["loss"], color=color, lw=2, label=label)
        ax_acc.plot(epochs, hist["test_acc"], color=color, lw=2, label=label)
    ax_loss.axhline(math.log(10), color="0.5", ls=":", lw=1)
    last_epoch = max(len(h["loss"]) for h in results.values()) - 1
    ax_loss.text(last_epoch, math.log(10) * 1.12, "chance: ln 10", color="0.4", fontsize=8, ha="right")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (cross-entropy, log scale)")
    ax_acc.axhline(0.1, color="0.5", ls=":", lw=1)
    ax_acc.set_ylim(0, 1)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
    fig.suptitle(title)
    fig.savefig(path)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=30, help="Linear layers (default 30)")
    parser.add_argument("--width", type=int, default=128, help="hidden units per layer (default 128)")
    parser.add_argument("--epochs", type=int, default=30, help="default 30")
    parser.add_argument("--lr", type=float, default=0.002, help="SGD learning rate (default 0.002)")
    parser.add_argument("--momentum", type=float, default=0.9, help="default 0.9")
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--seed", type=int, default=0, help="weights, split and batch order (default 0)")
    parser.add_argument("--plot", metavar="PATH", help="save the loss and accuracy curves (needs matplotlib)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # a small model: one thread is as fast and keeps runs repeatable
    *_, source = _initializers()
    print(f"{args.depth}-layer ReLU MLP (width {args.width}) on sklearn digits, SGD lr {args.lr} "
          f"momentum {args.momentum}, batch {args.batch_size}, seed {args.seed}; weights from {source}")
    digests = {s: weights_digest(s, depth=args.depth, width=args.width, seed=args.seed)[:16]
               for s in ("he", "xavier")}
    print(f"initial weights, identical on every machine: sha256 He {digests['he']}..., "
          f"Xavier {digests['xavier']}...")
    start = time.perf_counter()
    results = compare(depth=args.depth, width=args.width, epochs=args.epochs, lr=args.lr,
                      momentum=args.momentum, batch_size=args.batch_size, seed=args.seed)
    elapsed = time.perf_counter() - start
    he, xa = results["he"], results["xavier"]
    print(f"\n{'epoch':>5}  {'He loss':>9}  {'Xavier loss':>11}  {'He acc':>6}  {'Xavier acc':>10}")
    for epoch in range(len(he["loss"])):
        print(f"{epoch:5d}  {he['loss'][epoch]:9.4f}  {xa['loss'][epoch]:11.4f}  "
              f"{he['test_acc'][epoch]:6.3f}  {xa['test_acc'][epoch]:10.3f}")
    print(f"\nfinal training loss: He {he['loss'][-1]:.4f}, Xavier {xa['loss'][-1]:.4f} "
          f"(chance ln 10 = {math.log(10):.4f}); test accuracy: He {he['test_acc'][-1]:.3f}, "
          f"Xavier {xa['test_acc'][-1]:.3f}; {elapsed:.1f} s")
    print("(training numbers vary with the BLAS build, CPU and threads; He trains and Xavier "
          "stalls everywhere)")
    if args.plot:
        plot(results, args.plot, f"{args.depth}-layer ReLU MLP on digits: He trains, Xavier stalls "
                                 f"(He et al. 2015, fig. 3)")
        print(f"figure saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
