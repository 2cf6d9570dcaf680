"""Model init: transformers' ``from_config`` against ``empty_init`` + ``init_module``
(skipped when transformers is not installed).  The same measurement as
``tools/bench_model_init.py``, for a ~270M-parameter Llama on 1 and 2 threads."""
import gc
import os
import sys
import time

try:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
    import _torchvision_shim  # noqa: F401  (the PyPI torchvision wheel vs CPU torch)
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, LlamaConfig

    import fastinit.torch as finit

    transformers.logging.set_verbosity_error()
except ImportError:
    transformers = None

from .bench_fill import require_threads


def _config():
    return LlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816,
                       num_hidden_layers=16, num_attention_heads=16, num_key_value_heads=16,
                       max_position_embeddings=2048, tie_word_embeddings=False)


def _seconds(fn):
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class LlamaInit:
    """Build + initialize a 271M-parameter Llama; ``track_speedup`` is from_config's
    time over empty_init + init_module's, measured side by side (best of 2)."""
    params = [[1, 2]]
    param_names = ["threads"]
    timeout = 900
    number = 1
    repeat = 1
    warmup_time = 0

    def setup(self, threads):
        if transformers is None:
            raise NotImplementedError("transformers is not installed")
        require_threads(threads)
        torch.set_num_threads(threads)
        self.config = _config()

    def _fastinit(self, threads):
        with finit.empty_init():
            model = AutoModelForCausalLM.from_config(self.config)
        finit.init_module(model, seed=0, threads=threads)

    def time_empty_init_plus_init_module(self, threads):
        self._fastinit(threads)

    def time_from_config(self, threads):
        AutoModelForCausalLM.from_config(self.config)

    def track_speedup(self, threads):
        plain = min(_seconds(lambda: AutoModelForCausalLM.from_config(self.config)) for _ in range(2))
        ours = min(_seconds(lambda: self._fastinit(threads)) for _ in range(2))
        return plain / ours

    track_speedup.unit = "ratio"
