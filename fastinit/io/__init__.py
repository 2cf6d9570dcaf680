"""Tables larger than RAM: write a logical tensor to ``.npy`` or zarr chunk by chunk.

Every chunk is filled from its place in the whole tensor (``region=``), so the file
holds exactly the values the in-memory call would return, bit for bit, while only a
couple of chunks live in memory at any time.  A write goes to ``path + ".partial"``
first and is renamed into place only when it is complete; an exception or Ctrl-C
removes the partial file, so nothing that looks finished is ever left behind.

>>> import os, tempfile, numpy as np, fastinit
>>> path = os.path.join(tempfile.mkdtemp(), "w.npy")
>>> res = fastinit.to_npy(path, (1000, 64), "normal", std=0.02, seed=0, progress=False)
>>> bool((np.load(path) == fastinit.normal((1000, 64), std=0.02, seed=0)).all())
True

zarr and tqdm are imported only when a zarr write or a progress bar needs them.
"""
from ..initializers.registry import (
    available_initializers,
    expected_moments,
    get_initializer,
    init_parameters,
    supports_region,
)
from ._common import WriteResult
from .npy import to_npy
from .zarr import to_zarr

__all__ = ["to_npy", "to_zarr", "WriteResult", "available_initializers", "get_initializer",
           "supports_region", "init_parameters", "expected_moments"]
