"""Speed ratios against ``torch.nn.init`` (skipped when PyTorch is not installed).

A module of its own so that only these benchmarks pay for importing torch; the
import is at module level so that asv's forkserver children inherit it.
"""
try:
    import torch
except ImportError:
    torch = None

from .bench_fill import PARAM_NAMES, PARAMS, best_seconds, fastinit_fill, require_threads, touched


class RatioVsTorch:
    """fastinit speed / ``torch.nn.init.<dist>_`` speed, torch on the same thread count."""
    params = PARAMS
    param_names = PARAM_NAMES

    def setup(self, distribution, dtype, size, threads):
        if torch is None:
            raise NotImplementedError("torch is not installed")
        require_threads(threads)
        torch.set_num_threads(threads)
        self.out = touched(size, dtype)
        self.fill = fastinit_fill(distribution, self.out, threads)
        tensor = torch.empty(size, dtype=getattr(torch, dtype))
        tensor.fill_(1)
        init = getattr(torch.nn.init, distribution + "_")
        self.peer = lambda: init(tensor)

    def track_ratio(self, distribution, dtype, size, threads):
        return best_seconds(self.peer) / best_seconds(self.fill)

    track_ratio.unit = "ratio"
