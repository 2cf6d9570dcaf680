"""Regression hashes: sha256 of the bytes of a fixed small fill per (distribution,
dtype), so that any accidental change of stream version 1 fails loudly.

The table lives in tests/data/regression_hashes.json and was made with

    python tests/test_core_regression.py --write

Regenerate it ONLY together with a new stream version (docs/stream.md, "Versioning").
The uniform and raw-word entries are also re-derived here from tests/reference.py,
independently of the C code.

"hashes_c" holds the further cases of the C core's own table (src_c/tests/hashes.c,
``make -C src_c hashes``, compared in tests/test_hashes_c.py): runs of logical indices
that cross block counter 2^32 at odd starts, far and narrow truncation tails, the top
of the raw-word stream.  They are computed here through the Python API as well.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":  # run as a script from a source checkout
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fastinit  # noqa: E402
import reference  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "regression_hashes.json")
COMMAND = "python tests/test_core_regression.py --write"
SEED, STREAM = 20240601, "fastinit/regression"
SHAPE, REGION = (70, 131), np.s_[3:67, 5:128]  # odd starts and lengths, C-order strides
DTYPES = ["float32", "float64", "float16", "bfloat16"]
FILLS = {
    "uniform(-1,1)": lambda **k: fastinit.uniform(SHAPE, -1.0, 1.0, **k),
    "normal(0,1)": lambda **k: fastinit.normal(SHAPE, 0.0, 1.0, **k),
    "normal(0.5,0.02)": lambda **k: fastinit.normal(SHAPE, 0.5, 0.02, **k),
    "trunc_normal(0,1,-2,2)": lambda **k: fastinit.trunc_normal(SHAPE, 0.0, 1.0, -2.0, 2.0, **k),
    "trunc_normal(0,1,0,inf)": lambda **k: fastinit.trunc_normal(SHAPE, 0.0, 1.0, 0.0, math.inf, **k),
    "trunc_normal(0,1,25,26)": lambda **k: fastinit.trunc_normal(SHAPE, 0.0, 1.0, 25.0, 26.0, **k),
    "trunc_normal(1,3,-inf,-3)": lambda **k: fastinit.trunc_normal(SHAPE, 1.0, 3.0, -math.inf, -3.0, **k),
}

# "hashes_c": name -> fill of a run [start, start + n) of a 1-d tensor (same names as
# src_c/tests/hashes.c)
LONG = (1 << 35,)
B34, B33 = 1 << 34, 1 << 33


def _run(fn, start, n, *params):
    return lambda **k: fn(LONG, *params, region=np.s_[start:start + n], **k)


RUNS = {
    "uniform(0,1)@2**34-4097+9001": _run(fastinit.uniform, B34 - 4097, 9001, 0.0, 1.0),
    "uniform(-3,1e-3)@2**33-4097+9001": _run(fastinit.uniform, B33 - 4097, 9001, -3.0, 1e-3),
    "normal(0,1)@2**34-4097+9001": _run(fastinit.normal, B34 - 4097, 9001, 0.0, 1.0),
    "normal(-2,3)@2**33-4097+9001": _run(fastinit.normal, B33 - 4097, 9001, -2.0, 3.0),
    "trunc_normal(0,1,-2,2)@2**34-4097+9001": _run(fastinit.trunc_normal, B34 - 4097, 9001, 0.0, 1.0, -2.0, 2.0),
    "trunc_normal(0,1,8,9)@2**33-4097+9001": _run(fastinit.trunc_normal, B33 - 4097, 9001, 0.0, 1.0, 8.0, 9.0),
    "trunc_normal(0,1,-30,-29.9)@12345+9001": _run(fastinit.trunc_normal, 12345, 9001, 0.0, 1.0, -30.0, -29.9),
    "trunc_normal(0.5,2,35,inf)@7+9001": _run(fastinit.trunc_normal, 7, 9001, 0.5, 2.0, 35.0, math.inf),
    "trunc_normal(0,1,-1e-9,1e-9)@3+9001": _run(fastinit.trunc_normal, 3, 9001, 0.0, 1.0, -1e-9, 1e-9),
}
RAW_TOP = "random_raw(5003,start=2**64-5003)"


def digest(x):
    """sha256 of the array's values as little-endian bytes in C order."""
    x = np.ascontiguousarray(x)
    u = x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])
    return hashlib.sha256(u.astype(u.dtype.newbyteorder("<")).tobytes()).hexdigest()


def current_hashes():
    table = {f"{name}/{dtype}": digest(fill(seed=SEED, stream=STREAM, dtype=dtype, region=REGION, threads=1))
             for name, fill in FILLS.items() for dtype in DTYPES}
    for dtype in DTYPES:
        table[f"full(0.1)/{dtype}"] = digest(fastinit.full(SHAPE, 0.1, dtype=dtype, region=REGION))
    table["random_raw(4099,start=2**34-7)"] = digest(fastinit.random_raw(4099, seed=SEED, stream=STREAM,
                                                                         start=(1 << 34) - 7))
    return table


def current_c_hashes():
    table = {f"{name}/{dtype}": digest(fill(seed=SEED, stream=STREAM, dtype=dtype, threads=1))
             for name, fill in RUNS.items() for dtype in DTYPES}
    for dtype in DTYPES:
        table[f"full(-1/3)@5+1001/{dtype}"] = digest(fastinit.full(LONG, -1.0 / 3.0, dtype=dtype,
                                                                   region=np.s_[5:1006]))
    table[RAW_TOP] = digest(fastinit.random_raw(5003, seed=SEED, stream=STREAM, start=(1 << 64) - 5003))
    return table


def load():
    with open(DATA) as f:
        return json.load(f)


def test_table_is_complete_and_well_formed():
    data = load()
    assert data["stream_version"] == fastinit.STREAM_VERSION == 1
    assert data["command"] == COMMAND
    assert set(data["hashes"]) == set(current_hashes())
    assert all(len(h) == 64 for h in data["hashes"].values())
    assert len(set(data["hashes"].values())) == len(data["hashes"])  # no two fills alike
    assert set(data["hashes_c"]) == set(current_c_hashes())
    every = list(data["hashes"].values()) + list(data["hashes_c"].values())
    assert len(set(every)) == len(every) and all(len(h) == 64 for h in every)


def test_hashes_match_on_every_simd_path(isa):
    want = load()["hashes"]
    got = current_hashes()
    changed = sorted(k for k in want if got[k] != want[k])
    assert not changed, f"stream version 1 output changed for {changed}: this needs a new stream version"


def test_c_table_cases_match_on_every_simd_path(isa):
    want = load()["hashes_c"]
    got = current_c_hashes()
    changed = sorted(k for k in want if got[k] != want[k])
    assert not changed, f"stream version 1 output changed for {changed}: this needs a new stream version"


def test_hashes_do_not_depend_on_threads():
    want = load()["hashes"]
    for name, fill in FILLS.items():
        for dtype in ("float32", "bfloat16"):
            assert digest(fill(seed=SEED, stream=STREAM, dtype=dtype, region=REGION, threads=3)) == \
                want[f"{name}/{dtype}"]


def test_uniform_and_raw_entries_rederived_from_the_reference():
    """The table's uniform and raw-word hashes, computed without the C code."""
    want = load()["hashes"]
    rows = range(REGION[0].start, REGION[0].stop)
    for dtype in DTYPES:
        parts = []
        for r in rows:
            first = r * SHAPE[1] + REGION[1].start
            n = REGION[1].stop - REGION[1].start
            w = reference.element_words("uniform", dtype, SEED, STREAM, first, n)
            parts.append(reference.uniform_values(w, -1.0, 1.0, dtype).astype(reference.DTYPES[dtype]))
        assert digest(np.stack(parts)) == want[f"uniform(-1,1)/{dtype}"]
    assert digest(reference.words(SEED, STREAM, (1 << 34) - 7, 4099)) == want["random_raw(4099,start=2**34-7)"]


def test_c_table_uniform_and_raw_entries_rederived_from_the_reference():
    """The C table's runs across block counter 2^32 and the stream's last words, without the C code."""
    want = load()["hashes_c"]
    for name, low, high, start in (("uniform(0,1)@2**34-4097+9001", 0.0, 1.0, B34 - 4097),
                                   ("uniform(-3,1e-3)@2**33-4097+9001", -3.0, 1e-3, B33 - 4097)):
        for dtype in DTYPES:
            w = reference.element_words("uniform", dtype, SEED, STREAM, start, 9001)
            v = reference.uniform_values(w, low, high, dtype).astype(reference.DTYPES[dtype])
            assert digest(v) == want[f"{name}/{dtype}"], (name, dtype)
    assert digest(reference.words(SEED, STREAM, (1 << 64) - 5003, 5003)) == want[RAW_TOP]


def test_digest_sees_a_single_bit():
    x = fastinit.normal(SHAPE, seed=SEED, region=REGION)
    y = x.copy()
    y.view(np.uint32)[10, 10] ^= 1
    assert digest(x) != digest(y)


def main(argv):
    if argv[1:] != ["--write"]:
        print(__doc__)
        return 2
    from fastinit import _core

    _core.set_isa("scalar")
    data = {
        "command": COMMAND,
        "stream_version": fastinit.STREAM_VERSION,
        "about": "sha256 of little-endian bytes, C order; fill = region "
                 f"[3:67, 5:128] of shape {list(SHAPE)}, seed {SEED}, stream {STREAM!r}, threads 1; "
                 "hashes_c: the C table's runs [start, start + n) of a 1-d tensor (src_c/tests/hashes.c)",
        "hashes": current_hashes(),
        "hashes_c": current_c_hashes(),
    }
    with open(DATA, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(data['hashes']) + len(data['hashes_c'])} hashes to {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
