"""The ``fastinit`` command (also ``python -m fastinit``).

    fastinit fill PATH --shape 10000000,256 --init trunc_normal --std 0.02 --seed 0 [--dtype bfloat16]
    fastinit raw --seed 0 [--stream NAME] [--count N] | dieharder -a -g 200
    fastinit info
    fastinit bench ...          (fastinit/bench.py)
    fastinit propagate ...      (fastinit/cli/propagate.py over fastinit.diagnostics)

Bad arguments print one line on stderr and exit with status 2, before any file is
created.  Importing this module is cheap: the parser is built inside main(), and
the writers, Dask, zarr and tqdm are imported only by the command that needs them.
"""
from .app import build_parser, main

__all__ = ["main", "build_parser"]
