/*
 * The region walker: elements [begin, end) of a region of a logical C-order tensor,
 * in runs of consecutive logical indices, each run one serial kernel call (staged
 * through a buffer for strided outputs), split statically over OpenMP threads.
 */
#include <string.h>

#ifdef FI_HAVE_OPENMP
#include <omp.h>
#endif

#include "fastinit.h"
#include "fpenv.h"
#include "kernels.h"

typedef struct {
    int nd;
    uint64_t base;               /* logical index of the region's first element */
    int64_t lstride[FI_MAX_NDIM]; /* logical strides, elements */
    int64_t len[FI_MAX_NDIM];
    int64_t ostride[FI_MAX_NDIM]; /* output strides, bytes */
    char *out;
} walk_t;

#define SCATTER 1024 /* elements staged at a time for a strided innermost dimension */

/* elements [b, e) of the region, in C order */
static FI_NOINLINE void walk_range(const fi_plan *plan, const walk_t *w, uint64_t b, uint64_t e)
{
    const int nd = w->nd;
    const size_t isz = fi_dtype_size(plan->dtype);
    const fi_kernel_table *kernels = fi_kernels_for(plan->isa);
    int64_t m[FI_MAX_NDIM];
    uint64_t rem = b;
    for (int d = nd - 1; d >= 0; d--) {
        m[d] = (int64_t)(rem % (uint64_t)w->len[d]);
        rem /= (uint64_t)w->len[d];
    }
    while (b < e) {
        uint64_t run = (uint64_t)(w->len[nd - 1] - m[nd - 1]);
        if (run > e - b) run = e - b;
        uint64_t lin = w->base;
        char *o = w->out;
        for (int d = 0; d < nd; d++) {
            lin += (uint64_t)m[d] * (uint64_t)w->lstride[d];
            o += m[d] * w->ostride[d];
        }
        const int64_t os = w->ostride[nd - 1];
        if (os == (int64_t)isz) {
            kernels->fill(plan, lin, run, o);
        } else {
            union {
                double d[SCATTER];
                uint32_t u[SCATTER * 2];
            } buf;
            for (uint64_t done = 0; done < run; done += SCATTER) {
                uint64_t c = run - done < SCATTER ? run - done : SCATTER;
                kernels->fill(plan, lin + done, c, &buf);
                const char *src = (const char *)&buf;
                char *dst = o + (int64_t)done * os;
                for (uint64_t i = 0; i < c; i++) memcpy(dst + (int64_t)i * os, src + i * isz, isz);
            }
        }
        b += run;
        m[nd - 1] += (int64_t)run;
        for (int d = nd - 1; d > 0 && m[d] == w->len[d]; d--) {
            m[d] = 0;
            m[d - 1]++;
        }
    }
}

#define PAR_MIN 65536 /* below this many elements a fill runs on one thread */
#define PAR_ALIGN 256 /* thread pieces start at multiples of this (speed only) */

int fi_fill_region(const fi_plan *plan, const fi_region *reg, uint64_t begin, uint64_t end,
                   int nthreads)
{
    if (reg->ndim < 0 || reg->ndim > FI_MAX_NDIM) return -1;
    if (end <= begin) return 0;
    walk_t w;
    w.out = reg->out;
    w.base = 0;
    /* logical strides and the region's first logical index */
    int64_t ls[FI_MAX_NDIM];
    int64_t acc = 1;
    for (int d = reg->ndim - 1; d >= 0; d--) {
        ls[d] = acc;
        acc *= reg->shape[d];
        w.base += (uint64_t)reg->rstart[d] * (uint64_t)ls[d];
    }
    /* coalesce: a dimension folds into its outer neighbour when the region spans it
     * whole and the output is laid out contiguously across the two */
    int nd = 0;
    for (int d = 0; d < reg->ndim; d++) {
        if (nd > 0 && reg->rlen[d] == reg->shape[d] &&
            w.lstride[nd - 1] == ls[d] * reg->rlen[d] &&
            w.ostride[nd - 1] == reg->ostride[d] * reg->rlen[d]) {
            w.len[nd - 1] *= reg->rlen[d];
            w.lstride[nd - 1] = ls[d];
            w.ostride[nd - 1] = reg->ostride[d];
        } else if (reg->rlen[d] != 1 || d == reg->ndim - 1) {
            w.len[nd] = reg->rlen[d];
            w.lstride[nd] = ls[d];
            w.ostride[nd] = reg->ostride[d];
            nd++;
        }
    }
    if (nd == 0) { /* 0-d tensor */
        w.len[0] = 1;
        w.lstride[0] = 1;
        w.ostride[0] = (int64_t)fi_dtype_size(plan->dtype);
        nd = 1;
    }
    w.nd = nd;

    uint64_t total = end - begin;
    int nt = nthreads < 1 ? 1 : nthreads;
    if ((uint64_t)nt > total / PAR_MIN) nt = (int)(total / PAR_MIN);
    if (nt < 1) nt = 1;
#ifdef FI_HAVE_OPENMP
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static, 1)
        for (int t = 0; t < nt; t++) {
            uint64_t lo = begin + (total / nt) * (uint64_t)t;
            uint64_t hi = t == nt - 1 ? end : begin + (total / nt) * (uint64_t)(t + 1);
            lo = t == 0 ? begin : lo - lo % PAR_ALIGN;
            hi = t == nt - 1 ? end : hi - hi % PAR_ALIGN;
            fenv_t env; /* each worker thread has its own environment */
            fi_fpenv_enter(&env);
            walk_range(plan, &w, lo, hi);
            fi_fpenv_leave(&env);
        }
        return 0;
    }
#endif
    fenv_t env;
    fi_fpenv_enter(&env);
    walk_range(plan, &w, begin, end);
    fi_fpenv_leave(&env);
    return 0;
}
