"""Model init: transformers' ``from_config`` against ``empty_init`` + ``init_module``
for a ~270M-parameter Llama on 1 and 2 threads, each build in a fresh process: the
measurement of ``fastinit bench --model 270m`` (fastinit/bench_model.py).  Skipped
when transformers is not installed."""
import os

try:
    import transformers  # noqa: F401  (only whether it is installed)
except ImportError:
    transformers = None
except Exception:  # noqa: BLE001  (installed, but an import of its own fails: the shim helps)
    transformers = True

from fastinit import bench_model


# The PyPI torchvision wheel is built against CUDA torch; the measuring processes load
# the tests' shim first so that transformers imports with CPU torch.
SHIM = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "_torchvision_shim.py")


THREADS = [1, 2]


class LlamaInit:
    """``track_speedup``: median from_config time over median empty_init + init_module
    time, 2 rounds of fresh processes (measured once, in setup_cache, for every thread
    count); ``track_fill_share``: the fills' part of the latter;
    ``track_speedup_without_first_touch``: with the page faults both pay taken out."""
    params = [THREADS]
    param_names = ["threads"]
    timeout = 1800
    number = 1
    repeat = 1
    warmup_time = 0

    def setup_cache(self):
        if transformers is None:
            return {}
        preload = os.path.abspath(SHIM) if os.path.isfile(SHIM) else None
        # The measuring processes are fresh interpreters: no forked-child limit on threads.
        return {t: bench_model.measure("270m", threads=t, repeat=2, preload=preload)
                for t in THREADS if t <= (os.cpu_count() or 1)}

    def setup(self, rows, threads):
        if transformers is None:
            raise NotImplementedError("transformers is not installed")
        if threads not in rows:
            raise NotImplementedError(f"{threads} threads: more than this machine's cores")

    def track_speedup(self, rows, threads):
        return rows[threads]["speedup"]

    track_speedup.unit = "ratio"

    def track_speedup_without_first_touch(self, rows, threads):
        return rows[threads]["speedup_without_first_touch"]

    track_speedup_without_first_touch.unit = "ratio"

    def track_fill_share(self, rows, threads):
        return rows[threads]["fill_share"]

    track_fill_share.unit = "fraction"
