# cython: language_level=3
"""Thin Cython layer over the C core: everything is validated by the caller
(fastinit._validate) and again by fi_prepare before a single byte is written; the
work itself runs without the GIL, in chunks so that Ctrl-C is seen quickly."""

import os

cimport cython
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t, uint32_t, uint64_t

import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef extern from "fastinit.h" nogil:
    # codes and limits come from the header: nothing here retypes a C value
    enum:
        FI_STREAM_VERSION
        FI_MAX_NDIM
        FI_NDIST
        FI_NDTYPE
        FI_NISA
        FI_UNIFORM
        FI_NORMAL
        FI_TRUNC_NORMAL
        FI_F32
        FI_ISA_GENERIC

    ctypedef struct fi_spec:
        int dist
        int dtype
        uint64_t seed
        uint64_t stream
        double p[4]

    ctypedef struct fi_plan:
        int dist
        int dtype
        int isa

    ctypedef struct fi_region:
        int ndim
        const int64_t *shape
        const int64_t *rstart
        const int64_t *rlen
        char *out
        const int64_t *ostride

    int fi_prepare(const fi_spec *spec, int isa, fi_plan *plan, const char **err)
    void fi_random_raw(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out)
    int fi_fill_region(const fi_plan *plan, const fi_region *reg, uint64_t begin, uint64_t end,
                       int nthreads)
    int fi_have_openmp()
    int fi_max_threads()
    int fi_isa_compiled(int isa)
    int fi_isa_supported(int isa)
    int fi_isa_best()
    const char *fi_isa_name(int isa)
    const char *fi_dist_name(int dist)
    const char *fi_dtype_name(int dtype)
    size_t fi_dtype_size(int dtype)
    void fi_philox4x32(unsigned rounds, const uint32_t *ctr, const uint32_t *key, uint32_t *out)
    double fi_normal_q(double x)
    double fi_normal_qinv(double p)


DIST_CODES = {fi_dist_name(i).decode(): i for i in range(FI_NDIST)}
DTYPE_CODES = {fi_dtype_name(i).decode(): i for i in range(FI_NDTYPE)}
ISA_NAMES = tuple(fi_isa_name(i).decode() for i in range(FI_NISA))
MAX_NDIM = FI_MAX_NDIM
#: Version of the stream contract (docs/stream.md), defined once: FI_STREAM_VERSION in fastinit.h.
STREAM_VERSION = FI_STREAM_VERSION

# Work per GIL-free call and per thread that runs: at most about 0.05 s on an idle
# machine, so that KeyboardInterrupt arrives within about 0.2 s on busy cores too, and
# long enough that the per-call overhead (GIL, OpenMP region, FP environment switch)
# stays well below 1 %.  Normal and truncated normal are compute-bound: elements (the
# portable scalar kernels run them at 20-40 M/s); uniform, constants and raw words
# are bound by writing fresh pages: bytes.
CHUNK = 1 << 22            # raw words per call (one thread)
CHUNK_SLOW = 1 << 20       # normal, trunc_normal elements per thread
CHUNK_BYTES = 1 << 24      # uniform, constant bytes per thread


cdef int _isa = FI_ISA_GENERIC
cdef bint _forked = False


# Fills this small run on the calling thread with the GIL held (below the core's own
# one-thread threshold, so no value or thread count changes).
SMALL_FILL = 16384


def usable_cpus():
    """CPUs this process may run on now (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_that_run(int nthreads):
    """The OpenMP threads a fill asked for `nthreads` runs: more threads than usable
    CPUs only take turns on them (and would make each GIL-free call that much longer)."""
    if nthreads <= 1:
        return 1
    cdef int cpus = usable_cpus()
    return nthreads if nthreads < cpus else cpus


def chunk_elements(int dist, int nthreads, int dtype=FI_F32):
    """Region elements per GIL-free call for this distribution, requested thread count
    and dtype code."""
    return _chunk(dist, dtype, threads_that_run(nthreads))


cdef uint64_t _chunk(int dist, int dtype, int nthreads):
    # The SIMD kernels compute about 4x faster than the scalar ones and write about
    # 2x faster, so their chunks are that much larger: fewer barriers, which matters
    # when the threads share their cores with other processes.
    cdef uint64_t c
    cdef bint simd = _isa != FI_ISA_GENERIC
    if dist == FI_NORMAL or dist == FI_TRUNC_NORMAL:
        c = CHUNK_SLOW * (4 if simd else 1)
    else:
        c = CHUNK_BYTES * (2 if simd else 1) // fi_dtype_size(dtype)
    return c * <uint64_t>(nthreads if nthreads > 1 else 1)



def _after_fork_in_child():
    # GNU libgomp's thread pool does not survive fork(); a child never enters an
    # OpenMP region (all its fills run on the calling thread).
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def isa_supported(name):
    return bool(fi_isa_supported(ISA_NAMES.index(name)))


def isa_compiled(name):
    return bool(fi_isa_compiled(ISA_NAMES.index(name)))


def valid_paths():
    """What set_isa and FASTINIT_SIMD accept here: "auto" and the paths this build has
    and this CPU runs."""
    return ("auto",) + tuple(n for i, n in enumerate(ISA_NAMES) if fi_isa_supported(i))


def set_isa(name):
    """Select the instruction-set path ("scalar", "avx2", "avx512", "neon" or "auto")."""
    global _isa
    if name == "auto":
        _isa = fi_isa_best()
        return
    use = f"use one of {', '.join(map(repr, valid_paths()))}"
    if name not in ISA_NAMES:
        raise ValueError(f"unknown SIMD path {name!r}: {use}")
    code = ISA_NAMES.index(name)
    if not fi_isa_compiled(code):
        raise ValueError(f"SIMD path {name!r} is not compiled into this build: {use}")
    if not fi_isa_supported(code):
        raise ValueError(f"SIMD path {name!r} is not supported by this CPU: {use}")
    _isa = code


def get_isa():
    return ISA_NAMES[_isa]


def build_info():
    return {
        "openmp": bool(fi_have_openmp()),
        "max_threads": int(fi_max_threads()),
        "forked_child": bool(_forked),
        "simd_compiled": [n for i, n in enumerate(ISA_NAMES) if fi_isa_compiled(i)],
        "simd_supported": [n for i, n in enumerate(ISA_NAMES) if fi_isa_supported(i)],
        "simd_selected": ISA_NAMES[_isa],
    }


def max_threads():
    return 1 if _forked else int(fi_max_threads())


def effective_threads(threads):
    if _forked or not fi_have_openmp():
        return 1
    if threads is None:
        return int(fi_max_threads())
    return int(threads)


cdef int _prepare(int dist, int dtype, object params, uint64_t seed, uint64_t stream,
                  fi_plan *plan) except -1:
    cdef fi_spec spec
    cdef const char *err = NULL
    cdef int i
    spec.dist = dist
    spec.dtype = dtype
    spec.seed = seed
    spec.stream = stream
    for i in range(4):
        spec.p[i] = float(params[i]) if i < len(params) else 0.0
    if fi_prepare(&spec, _isa, plan, &err) != 0:
        raise ValueError((<bytes>err).decode())
    return 0


def check(int dist, int dtype, tuple params):
    """Raise ValueError exactly when fill() would reject these parameters."""
    cdef fi_plan plan
    _prepare(dist, dtype, params, 0, 0, &plan)


@cython.boundscheck(False)
def fill(int dist, int dtype, tuple params, uint64_t seed, uint64_t stream, tuple shape,
         tuple rstart, cnp.ndarray out, int nthreads):
    """Fill `out` (shape = region lengths) with region [rstart, rstart + out.shape)
    of the logical tensor `shape`.  The caller has validated everything."""
    cdef fi_plan plan
    cdef fi_region reg
    cdef int nd = len(shape)
    cdef int64_t c_shape[FI_MAX_NDIM]
    cdef int64_t c_start[FI_MAX_NDIM]
    cdef int64_t c_len[FI_MAX_NDIM]
    cdef int64_t c_stride[FI_MAX_NDIM]
    cdef uint64_t total = 1, begin, end, chunk
    cdef int d, rc
    if nd > FI_MAX_NDIM or out.ndim != nd:
        raise ValueError("internal: rank mismatch")
    _prepare(dist, dtype, params, seed, stream, &plan)
    for d in range(nd):
        c_shape[d] = shape[d]
        c_start[d] = rstart[d]
        c_len[d] = out.shape[d]
        c_stride[d] = out.strides[d]
        total *= <uint64_t>c_len[d]
    if total == 0:
        return out
    reg.ndim = nd
    reg.shape = c_shape
    reg.rstart = c_start
    reg.rlen = c_len
    reg.out = <char *>cnp.PyArray_DATA(out)
    reg.ostride = c_stride
    if _forked:
        nthreads = 1
    if total <= SMALL_FILL:
        # microseconds of work: releasing the GIL and polling signals would cost more
        if fi_fill_region(&plan, &reg, 0, total, 1) != 0:
            raise ValueError("internal: region rejected by the core")
        return out
    # the chunk (the work between two signal checks) is per thread that runs, so
    # Ctrl-C is seen as soon for threads=4096 as for threads=cores
    nthreads = threads_that_run(nthreads)
    chunk = _chunk(dist, dtype, nthreads)
    begin = 0
    while begin < total:
        end = begin + chunk if total - begin > chunk else total
        with nogil:
            rc = fi_fill_region(&plan, &reg, begin, end, nthreads)
        if rc != 0:
            raise ValueError("internal: region rejected by the core")
        begin = end
        PyErr_CheckSignals()
    return out


def random_raw(uint64_t n, uint64_t seed, uint64_t stream, uint64_t start):
    cdef fi_plan plan
    cdef cnp.ndarray out = np.empty(n, dtype=np.uint32)
    cdef uint64_t begin = 0, c
    cdef uint32_t *p = <uint32_t *>cnp.PyArray_DATA(out)
    _prepare(FI_UNIFORM, FI_F32, (0.0, 1.0), seed, stream, &plan)
    while begin < n:
        c = CHUNK if n - begin > CHUNK else n - begin
        with nogil:
            fi_random_raw(&plan, start + begin, c, p + begin)
        begin += c
        PyErr_CheckSignals()
    return out


def philox4x32(unsigned rounds, ctr, key):
    """One Philox4x32-R block (known-answer tests)."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t o[4]
    cdef int i
    for i in range(4):
        c[i] = ctr[i]
    for i in range(2):
        k[i] = key[i]
    fi_philox4x32(rounds, c, k, o)
    return (o[0], o[1], o[2], o[3])


def normal_q(double x):
    """Upper normal tail Q(x) = 1 - Phi(x), the core's own deterministic version."""
    return fi_normal_q(x)


def normal_qinv(double p):
    """Q^{-1}(p) for p in (0, 0.5]: the kernel's AS241 evaluation."""
    return fi_normal_qinv(p)


def _select_from_environment():
    # read once, at import: a value this machine cannot honour falls back to "auto"
    # with one RuntimeWarning per process naming what it accepts
    env = os.environ.get("FASTINIT_SIMD", "auto").strip().lower() or "auto"
    try:
        set_isa(env)
    except ValueError as exc:
        import warnings

        set_isa("auto")
        warnings.warn(f"FASTINIT_SIMD={env!r} ignored ({exc}); using {get_isa()!r}",
                      RuntimeWarning, stacklevel=2)


_select_from_environment()
