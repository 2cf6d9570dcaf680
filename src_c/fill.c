/*
 * Plans, dispatch and the one parallel driver.
 *
 * fi_prepare turns a request into read-only constants; fi_fill_serial picks the
 * kernel table of the plan's instruction set; fi_fill_region walks a region of a
 * logical tensor, split statically over threads.  No global mutable state: the
 * instruction set and thread count travel with each call.
 */
#include <fenv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef FI_HAVE_OPENMP
#include <omp.h>
#endif

#include "detmath.h"
#include "fastinit.h"
#include "kernels.h"
#include "philox.h"

/* ------------------------------------------------------ FP environment ---- *
 * No value may depend on the caller's floating-point environment: a rounding mode
 * set with fesetround, or flush-to-zero / denormals-are-zero set by another library
 * (torch.set_flush_denormal, code built with -ffast-math).  Every entry point that
 * computes runs its work under the default environment (round to nearest, no FTZ/DAZ)
 * and restores the caller's afterwards, in every thread; its exception flags are
 * restored too, so nothing leaks either way.  The work itself sits in separate
 * non-inlined functions so that no floating-point operation can be moved across the
 * switch.  Cost: a few hundred cycles per call and per thread.                     */
#if defined(__GNUC__) || defined(__clang__)
#define FI_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define FI_NOINLINE __declspec(noinline)
#else
#define FI_NOINLINE
#endif

static void fpenv_enter(fenv_t *saved)
{
    fegetenv(saved);
    fesetenv(FE_DFL_ENV);
}

static void fpenv_leave(const fenv_t *saved) { fesetenv(saved); }

/* ------------------------------------------------------------------ facts ---- */
size_t fi_dtype_size(int dtype) { return dtype == FI_F64 ? 8 : dtype == FI_F32 ? 4 : 2; }

int fi_have_openmp(void)
{
#ifdef FI_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

int fi_max_threads(void)
{
#ifdef FI_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *fi_isa_name(int isa)
{
    static const char *names[FI_NISA] = {"scalar", "avx2", "avx512"};
    return isa >= 0 && isa < FI_NISA ? names[isa] : "unknown";
}

int fi_isa_compiled(int isa)
{
    switch (isa) {
    case FI_ISA_GENERIC: return 1;
#ifdef FI_HAVE_AVX2
    case FI_ISA_AVX2: return 1;
#endif
#ifdef FI_HAVE_AVX512
    case FI_ISA_AVX512: return 1;
#endif
    default: return 0;
    }
}

int fi_isa_supported(int isa)
{
    if (!fi_isa_compiled(isa)) return 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    switch (isa) {
    case FI_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case FI_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    default: return 1;
    }
#else
    return isa == FI_ISA_GENERIC;
#endif
}

int fi_isa_best(void)
{
    for (int isa = FI_NISA - 1; isa > 0; isa--)
        if (fi_isa_supported(isa)) return isa;
    return FI_ISA_GENERIC;
}

static const fi_kernel_table *kernels_for(int isa)
{
    switch (isa) {
#ifdef FI_HAVE_AVX2
    case FI_ISA_AVX2: return &fi_kernels_avx2;
#endif
#ifdef FI_HAVE_AVX512
    case FI_ISA_AVX512: return &fi_kernels_avx512;
#endif
    default: return &fi_kernels_generic;
    }
}

void fi_philox4x32(unsigned rounds, const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    fi_philox4x32_R(rounds, ctr, key, out);
}

/* ------------------------------------------------- dtype rounding helpers ---- */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    float v;
    if (e == 0) v = (float)m * 0x1p-24f;
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = fi_u2f(((e + 112u) << 23) | (m << 13));
    return sign ? -v : v;
}

static float bf16_to_f32(uint16_t h) { return fi_u2f((uint32_t)h << 16); }

/* x rounded to the nearest value of dtype (ties to even), as a double */
static double dt_round(double x, int dt)
{
    float f = (float)x;
    switch (dt) {
    case FI_F64: return x;
    case FI_F32: return f;
    case FI_F16: return f16_to_f32(fi_f32_to_f16(f));
    default: return bf16_to_f32(fi_f32_to_bf16(f));
    }
}

/* next value of dtype after the representable v, towards +inf (dir > 0) or -inf */
static double dt_step(double v, int dt, int dir)
{
    double to = dir > 0 ? INFINITY : -INFINITY;
    if (dt == FI_F64) return nextafter(v, to);
    if (dt == FI_F32) return nextafterf((float)v, (float)to);
    uint16_t h = dt == FI_F16 ? fi_f32_to_f16((float)v) : fi_f32_to_bf16((float)v);
    int neg = (h & 0x8000u) != 0, zero = (h & 0x7FFFu) == 0;
    if (zero) h = dir > 0 ? 1 : 0x8001u;
    else if (neg == (dir > 0)) h--; /* magnitude shrinks */
    else h++;
    return dt == FI_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

/* smallest dtype value >= x, largest dtype value <= x */
static double dt_ceil(double x, int dt)
{
    double r = dt_round(x, dt);
    return r < x ? dt_step(r, dt, 1) : r;
}
static double dt_floor(double x, int dt)
{
    double r = dt_round(x, dt);
    return r > x ? dt_step(r, dt, -1) : r;
}

static double dt_max(int dt)
{
    switch (dt) {
    case FI_F64: return 0x1.fffffffffffffp+1023;
    case FI_F32: return 0x1.fffffep+127;
    case FI_F16: return 65504.0;
    default: return 0x1.fep+127;
    }
}

static uint64_t dt_bits(double v, int dt)
{
    if (v != v && (dt == FI_F16 || dt == FI_BF16)) {
        /* the kernels' 16-bit rounding assumes no NaN (it would give inf or -0):
         * a constant NaN becomes the canonical quiet NaN, keeping its sign */
        uint64_t sign = fi_d2u(v) >> 63 ? 0x8000u : 0;
        return sign | (dt == FI_F16 ? 0x7E00u : 0x7FC0u);
    }
    switch (dt) {
    case FI_F64: return fi_d2u(v);
    case FI_F32: return fi_f2u((float)v);
    case FI_F16: return fi_f32_to_f16((float)v);
    default: return fi_f32_to_bf16((float)v);
    }
}

/* ----------------------------------------------------------------- prepare ---- */
#define FAIL(msg)                                                                          \
    do {                                                                                   \
        *err = (msg);                                                                      \
        return -1;                                                                         \
    } while (0)

/* largest |z| a sampler can return: sqrt(-2 ln 2^-54) for 64-bit words */
#define FI_ZMAX 8.7

static FI_NOINLINE int prepare(const fi_spec *spec, int isa, fi_plan *pl, const char **err)
{
    memset(pl, 0, sizeof *pl);
    if (spec->dtype < 0 || spec->dtype >= FI_NDTYPE) FAIL("unknown dtype code");
    if (spec->dist < 0 || spec->dist >= FI_NDIST) FAIL("unknown distribution code");
    if (!fi_isa_supported(isa)) FAIL("instruction set not available in this build or on this CPU");
    const int dt = spec->dtype;
    const double *p = spec->p;
    const double big = dt_max(dt);
    pl->dist = spec->dist;
    pl->dtype = dt;
    pl->isa = isa;
    pl->key[0] = (uint32_t)spec->seed;
    pl->key[1] = (uint32_t)(spec->seed >> 32);
    pl->ctr_hi[0] = (uint32_t)spec->stream;
    pl->ctr_hi[1] = (uint32_t)(spec->stream >> 32);

    switch (spec->dist) {
    case FI_CONSTANT:
        if (p[0] == p[0] && fabs(p[0]) != INFINITY && fabs(dt_round(p[0], dt)) > big)
            FAIL("value is outside the range of the output dtype");
        pl->const_bits = dt_bits(p[0], dt);
        return 0;

    case FI_UNIFORM: {
        double low = p[0], high = p[1];
        if (!isfinite(low) || !isfinite(high)) FAIL("low and high must be finite");
        if (low > high) FAIL("low must be <= high");
        double scale = high - low;
        if (!isfinite(scale)) FAIL("high - low overflows float64");
        if (fabs(low) > big || fabs(high) > big) FAIL("low or high is outside the range of the output dtype");
        double lo = dt_ceil(low, dt);
        double hi = low < high ? dt_step(dt_ceil(high, dt), dt, -1) : lo;
        if (low == high) lo = hi = dt_round(low, dt);
        if (lo > hi) FAIL("the interval [low, high) contains no value of the output dtype");
        pl->d_a = scale;
        pl->d_b = low;
        pl->d_lo = lo;
        pl->d_hi = hi;
        pl->f_a = (float)scale;
        pl->f_b = (float)low;
        pl->f_lo = (float)lo;
        pl->f_hi = (float)hi;
        if (dt != FI_F64 && !isfinite(pl->f_a)) FAIL("high - low overflows float32");
        return 0;
    }

    case FI_NORMAL: {
        double mean = p[0], sd = p[1];
        if (!isfinite(mean) || !isfinite(sd)) FAIL("mean and std must be finite");
        if (sd < 0) FAIL("std must be >= 0");
        if (fabs(mean) + FI_ZMAX * sd > big)
            FAIL("mean + 8.7 * std exceeds the range of the output dtype (values would overflow)");
        pl->d_a = sd;
        pl->d_b = mean;
        pl->f_a = (float)sd;
        pl->f_b = (float)mean;
        return 0;
    }

    case FI_TRUNC_NORMAL: {
        double mean = p[0], sd = p[1], a = p[2], b = p[3];
        if (!isfinite(mean) || !isfinite(sd)) FAIL("mean and std must be finite");
        if (sd < 0) FAIL("std must be >= 0");
        if (a != a || b != b) FAIL("lower and upper must not be NaN");
        if (!(a < b)) FAIL("lower must be < upper");
        if (a > 36.0 || b < -36.0)
            FAIL("the truncation interval lies beyond 36 standard deviations from the mean: "
                 "its probability underflows double precision");
        /* probabilities: bounds beyond 37 sigma on the outside act as infinite */
        double ap = a < -37.0 ? -INFINITY : a, bp = b > 37.0 ? INFINITY : b;
        double pa = fi_normal_cdf(ap), qb = fi_normal_q(bp), mass;
        if (ap >= 0) mass = fi_normal_q(ap) - qb;
        else if (bp <= 0) mass = fi_normal_cdf(bp) - pa;
        else mass = (1.0 - pa) - qb;
        if (!(mass > 0)) FAIL("the truncation interval is too narrow: its probability is 0 in double precision");
        double zmax = fmax(isfinite(a) ? fabs(a) : FI_ZMAX, isfinite(b) ? fabs(b) : FI_ZMAX);
        if (fabs(mean) + zmax * sd > big) FAIL("values would overflow the output dtype");
        double lb = sd == 0 ? mean : isfinite(a) ? mean + sd * a : -INFINITY;
        double ub = sd == 0 ? mean : isfinite(b) ? mean + sd * b : INFINITY;
        double lo = isfinite(lb) ? dt_ceil(lb, dt) : -INFINITY;
        double hi = isfinite(ub) ? dt_floor(ub, dt) : INFINITY;
        if (sd == 0) lo = hi = dt_round(mean, dt);
        if (lo > hi) FAIL("the truncation interval contains no value of the output dtype");
        pl->d_a = sd;
        pl->d_b = mean;
        pl->d_lo = lo;
        pl->d_hi = hi;
        pl->f_lo = (float)lo;
        pl->f_hi = (float)hi;
        pl->t_pa = pa;
        pl->t_qb = qb;
        pl->t_mass = mass;
        return 0;
    }
    }
    FAIL("unknown distribution code");
}

int fi_prepare(const fi_spec *spec, int isa, fi_plan *pl, const char **err)
{
    fenv_t env;
    fpenv_enter(&env);
    int rc = prepare(spec, isa, pl, err);
    fpenv_leave(&env);
    return rc;
}

/* ------------------------------------------------------------------ serial ---- */
static void fill_serial(const fi_plan *plan, uint64_t start, uint64_t n, void *out)
{
    kernels_for(plan->isa)->fill(plan, start, n, out);
}

void fi_fill_serial(const fi_plan *plan, uint64_t start, uint64_t n, void *out)
{
    fenv_t env;
    fpenv_enter(&env);
    fill_serial(plan, start, n, out); /* an indirect call: nothing moves across it */
    fpenv_leave(&env);
}

/* Words at and above 2^64 - FI_RAW_TOP are computed block by block here: the kernels
 * step through tiles with 64-bit word indices (t + tile) that would wrap at 2^64. */
#define FI_RAW_TOP ((uint64_t)1 << 16)

void fi_random_raw(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out)
{
    /* the caller guarantees start + n <= 2^64, i.e. n - 1 <= UINT64_MAX - start */
    if (n == 0) return;
    const uint64_t top = (uint64_t)0 - FI_RAW_TOP; /* 2^64 - FI_RAW_TOP, block-aligned */
    uint64_t head = start >= top ? 0 : (n < top - start ? n : top - start);
    if (head) kernels_for(plan->isa)->raw(plan, start, head, out);
    for (uint64_t i = head; i < n; i++) {
        uint64_t j = start + i, b = j >> 2;
        uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), plan->ctr_hi[0], plan->ctr_hi[1]};
        uint32_t blk[4];
        fi_philox4x32_R(10, ctr, plan->key, blk);
        out[i] = blk[j & 3];
    }
}

/* ------------------------------------------------------------------ region ---- */
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
            fill_serial(plan, lin, run, o);
        } else {
            union {
                double d[SCATTER];
                uint32_t u[SCATTER * 2];
            } buf;
            for (uint64_t done = 0; done < run; done += SCATTER) {
                uint64_t c = run - done < SCATTER ? run - done : SCATTER;
                fill_serial(plan, lin + done, c, &buf);
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
            fpenv_enter(&env);
            walk_range(plan, &w, lo, hi);
            fpenv_leave(&env);
        }
        return 0;
    }
#endif
    fenv_t env;
    fpenv_enter(&env);
    walk_range(plan, &w, begin, end);
    fpenv_leave(&env);
    return 0;
}
