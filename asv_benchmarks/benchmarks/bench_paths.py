"""The speed targets of ``fastinit bench``, tracked per instruction-set path.

One suite over path x case: the path is forced with ``fastinit._core.set_isa`` in
``setup`` (a path this CPU or build lacks is skipped), the ratio is fastinit's
speed over its peer's on the same output, one thread, and
PathTargets divides it by that path's target from ``fastinit.bench.TARGETS``
(>= 1 means met).
"""
import numpy as np

try:
    import torch
except ImportError:
    torch = None

import fastinit
from fastinit import _core
from fastinit.bench import targets_for

from .bench_fill import best_seconds, touched

PATHS = ["scalar", "avx2", "avx512", "neon"]
CASES = ["normal_f32_vs_numpy", "normal_f32_vs_torch", "uniform_f32_vs_numpy",
         "trunc_normal_f32_vs_torch", "normal_f64_vs_numpy", "normal_bf16_vs_torch"]
SIZE = 2**22  # 4M elements: the ratios of 16M, in a quarter of the time

# case: (fastinit distribution, dtype, peer)
_CASES = {
    "normal_f32_vs_numpy": ("normal", "float32", "numpy standard_normal"),
    "normal_f32_vs_torch": ("normal", "float32", "torch normal_"),
    "uniform_f32_vs_numpy": ("uniform", "float32", "numpy random"),
    "trunc_normal_f32_vs_torch": ("trunc_normal", "float32", "torch trunc_normal_"),
    "normal_f64_vs_numpy": ("normal", "float64", "numpy standard_normal"),
    "normal_bf16_vs_torch": ("normal", "bfloat16", "torch normal_"),
}


def _peer(peer, dtype, size):
    if peer.startswith("numpy"):
        out = touched(size, dtype)
        rng = np.random.Generator(np.random.PCG64(0))
        method = rng.random if peer.endswith("random") else rng.standard_normal
        return lambda: method(out=out, dtype=out.dtype)
    if torch is None:
        raise NotImplementedError("torch is not installed")
    torch.set_num_threads(1)
    tensor = torch.empty(size, dtype=getattr(torch, dtype))
    tensor.fill_(1)
    init = getattr(torch.nn.init, peer.split()[1])
    return lambda: init(tensor)


class _PathCase:
    """Setup shared by the suites: the path forced, fastinit and its peer ready."""
    params = [PATHS, CASES]
    param_names = ["path", "case"]
    timeout = 300

    def setup(self, path, case):
        if path not in _core.ISA_NAMES or not _core.isa_supported(path):
            raise NotImplementedError(f"the {path} path is not available here")
        self.saved = _core.get_isa()
        _core.set_isa(path)
        dist, dtype, peer = _CASES[case]
        self.peer = _peer(peer, dtype, SIZE)
        out = touched(SIZE, dtype)
        fill = getattr(fastinit, dist)
        self.fill = lambda: fill(out.shape, seed=0, out=out, threads=1)

    def teardown(self, path, case):
        _core.set_isa(self.saved)

    def ratio(self):
        return best_seconds(self.peer) / best_seconds(self.fill)


class PathRatios(_PathCase):
    """fastinit speed / peer speed on the forced path (higher is better)."""

    def track_ratio(self, path, case):
        return self.ratio()

    track_ratio.unit = "ratio"


class PathTargets(_PathCase):
    """The ratio as a fraction of the path's target (>= 1: met); no target: skipped."""

    def setup(self, path, case):
        self.target = targets_for(path).get(case)
        if self.target is None:
            raise NotImplementedError(f"no {case} target for the {path} path")
        super().setup(path, case)

    def track_fraction_of_target(self, path, case):
        return self.ratio() / self.target

    track_fraction_of_target.unit = "fraction"
