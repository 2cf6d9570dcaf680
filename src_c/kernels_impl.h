/*
 * The fill kernels, written once.  Each kernels_<isa>.c defines FI_ISA and includes
 * this file; the build compiles it with that unit's target flags only.  The loops are
 * written over independent elements with branch-free bodies, so the compiler turns
 * them into AVX2 or AVX-512 code; because no unit is compiled with fp contraction
 * (-ffp-contract=off) and every fused multiply-add is an explicit fma(), each path
 * performs the same IEEE operations on every element and gives the same bits.
 *
 * Words are generated per tile of FI_TILE elements into a stack buffer (L1-resident),
 * then turned into values; full interior tiles of float32/float64 outputs are written
 * straight into the destination, edge tiles and 16-bit outputs go through a buffer.
 */
#include <string.h>

#include "detmath.h"
#include "fastinit.h"
#include "kernels.h"
#include "philox.h"

#ifndef FI_ISA
#error "define FI_ISA (generic, avx2, avx512) before including kernels_impl.h"
#endif

#define FI_CAT_(a, b) a##_##b
#define FI_CAT(a, b) FI_CAT_(a, b)
#define FI_FN(name) FI_CAT(name, FI_ISA)

#define FI_TILE 1024 /* elements per tile: a multiple of 4 */

#if defined(__GNUC__)
#define FI_ALIGN64 __attribute__((aligned(64)))
#else
#define FI_ALIGN64
#endif

static inline uint64_t FI_FN(u64_at)(const uint32_t *w, uint32_t j)
{
    return (uint64_t)w[2 * j] | ((uint64_t)w[2 * j + 1] << 32);
}

/* (u >> 11) 2^-53 exactly, for the 53 high bits of a 64-bit word */
static inline double FI_FN(u53_unit)(uint64_t u)
{
    uint64_t h = u >> 11;
    return fi_u52_to_d(h & 0x000FFFFFFFFFFFFFull) * 0x1p-53 + (double)(h >> 52) * 0.5;
}

/* ----------------------------------------------------------------- uniform ---- */
static void FI_FN(uniform_f)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                             float *restrict out)
{
    const float scale = pl->f_a, low = pl->f_b, lo = pl->f_lo, hi = pl->f_hi;
    for (uint32_t i = 0; i < n; i++) {
        float u = (float)(int32_t)(w[i] >> 8) * 0x1p-24f;
        float v = fmaf(scale, u, low);
        v = v > hi ? hi : v;
        out[i] = v < lo ? lo : v;
    }
}

static void FI_FN(uniform_d)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                             double *restrict out)
{
    const double scale = pl->d_a, low = pl->d_b, lo = pl->d_lo, hi = pl->d_hi;
    for (uint32_t i = 0; i < n; i++) {
        double u = FI_FN(u53_unit)(FI_FN(u64_at)(w, i));
        double v = fma(scale, u, low);
        v = v > hi ? hi : v;
        out[i] = v < lo ? lo : v;
    }
}

/* ------------------------------------------------------------------ normal ---- */
/* n is even: pair k uses words 2k (radius) and 2k+1 (angle). */
static void FI_FN(normal_f)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                            float *restrict out)
{
    const float sd = pl->f_a, mean = pl->f_b;
    for (uint32_t k = 0; k < n / 2; k++) {
        float radius = sqrtf(2.0f * fi_neglog_u32(w[2 * k]));
        float c, s;
        fi_sincospi_f((int32_t)w[2 * k + 1] >> 8, &c, &s);
        out[2 * k] = fmaf(sd, radius * c, mean);
        out[2 * k + 1] = fmaf(sd, radius * s, mean);
    }
}

/* pair k uses 64-bit words 2k and 2k+1, i.e. 32-bit words 4k .. 4k+3 */
static void FI_FN(normal_d)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                            double *restrict out)
{
    const double sd = pl->d_a, mean = pl->d_b;
    for (uint32_t k = 0; k < n / 2; k++) {
        double radius = sqrt(2.0 * fi_neglog_u64(FI_FN(u64_at)(w, 2 * k)));
        double c, s;
        fi_sincospi_d((int64_t)FI_FN(u64_at)(w, 2 * k + 1) >> 11, &c, &s);
        out[2 * k] = fma(sd, radius * c, mean);
        out[2 * k + 1] = fma(sd, radius * s, mean);
    }
}

/* -------------------------------------------------------- truncated normal ---- */
/* z = F^{-1}(U) through whichever tail is smaller: with V = 1 - U (exact),
 * p_lo = Phi(alpha) + U mass = Phi(z) and p_hi = Q(beta) + V mass = Q(z). */
static inline double FI_FN(trunc_z)(const fi_plan *restrict pl, double u, double v)
{
    double p_lo = fma(u, pl->t_mass, pl->t_pa);
    double p_hi = fma(v, pl->t_mass, pl->t_qb);
    int64_t lower = p_lo < p_hi;
    double z = fi_qinv_d(lower ? p_lo : p_hi);
    return lower ? -z : z;
}

static void FI_FN(trunc_f)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                           float *restrict out)
{
    const double sd = pl->d_a, mean = pl->d_b;
    const float lo = pl->f_lo, hi = pl->f_hi;
    for (uint32_t i = 0; i < n; i++) {
        double u = (fi_u52_to_d(w[i]) + 0.5) * 0x1p-32;
        double v = (fi_u52_to_d(~w[i]) + 0.5) * 0x1p-32;
        float x = (float)fma(sd, FI_FN(trunc_z)(pl, u, v), mean);
        x = x > hi ? hi : x;
        out[i] = x < lo ? lo : x;
    }
}

static void FI_FN(trunc_d)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                           double *restrict out)
{
    const double sd = pl->d_a, mean = pl->d_b, lo = pl->d_lo, hi = pl->d_hi;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = FI_FN(u64_at)(w, i) >> 11;
        uint64_t upper = (uint64_t)0 - (h >> 52);
        /* the smaller of U and 1 - U is exact; the larger is rounded */
        double small = (fi_u52_to_d((h ^ upper) & 0x000FFFFFFFFFFFFFull) + 0.5) * 0x1p-53;
        double large = 1.0 - small;
        double u = upper ? large : small;
        double v = upper ? small : large;
        double x = fma(sd, FI_FN(trunc_z)(pl, u, v), mean);
        x = x > hi ? hi : x;
        out[i] = x < lo ? lo : x;
    }
}

/* ------------------------------------------------------------ conversions ---- */
static void FI_FN(to_f16)(const float *restrict in, uint32_t n, uint16_t *restrict out)
{
    for (uint32_t i = 0; i < n; i++) out[i] = fi_f32_to_f16(in[i]);
}

static void FI_FN(to_bf16)(const float *restrict in, uint32_t n, uint16_t *restrict out)
{
    for (uint32_t i = 0; i < n; i++) out[i] = fi_f32_to_bf16(in[i]);
}

/* ------------------------------------------------------------------ driver ---- */
static void FI_FN(fill)(const fi_plan *plan, uint64_t start, uint64_t n, void *out_)
{
    char *out = (char *)out_;
    const int dt = plan->dtype;
    const size_t isz = fi_dtype_size(dt);
    if (n == 0) return;

    if (plan->dist == FI_CONSTANT) {
        uint64_t b = plan->const_bits;
        if (dt == FI_F64) {
            uint64_t *o = (uint64_t *)out;
            for (uint64_t i = 0; i < n; i++) o[i] = b;
        } else if (dt == FI_F32) {
            uint32_t *o = (uint32_t *)out;
            for (uint64_t i = 0; i < n; i++) o[i] = (uint32_t)b;
        } else {
            uint16_t *o = (uint16_t *)out;
            for (uint64_t i = 0; i < n; i++) o[i] = (uint16_t)b;
        }
        return;
    }

    const uint32_t epb = dt == FI_F64 ? 2 : 4; /* elements per Philox block */
    const uint64_t end = start + n;
    const uint64_t end_up = end + (epb - end % epb) % epb;
    uint32_t words[FI_TILE * 2] FI_ALIGN64;
    union {
        float f[FI_TILE];
        double d[FI_TILE];
    } vals FI_ALIGN64;

    for (uint64_t t = start - start % epb; t < end; t += FI_TILE) {
        uint32_t tn = (uint32_t)(end_up - t < FI_TILE ? end_up - t : FI_TILE);
        fi_philox_blocks(plan->key, plan->ctr_hi, t / epb, tn / epb, words);
        uint64_t lo = t > start ? t : start;
        uint64_t hi = t + tn < end ? t + tn : end;
        int whole = lo == t && hi == t + tn && (dt == FI_F32 || dt == FI_F64);
        void *dst = whole ? (void *)(out + (t - start) * isz) : (void *)&vals;

        if (dt == FI_F64) {
            double *d = (double *)dst;
            switch (plan->dist) {
            case FI_UNIFORM: FI_FN(uniform_d)(plan, words, tn, d); break;
            case FI_NORMAL: FI_FN(normal_d)(plan, words, tn, d); break;
            default: FI_FN(trunc_d)(plan, words, tn, d); break;
            }
        } else {
            float *f = (float *)dst;
            switch (plan->dist) {
            case FI_UNIFORM: FI_FN(uniform_f)(plan, words, tn, f); break;
            case FI_NORMAL: FI_FN(normal_f)(plan, words, tn, f); break;
            default: FI_FN(trunc_f)(plan, words, tn, f); break;
            }
        }
        if (whole) continue;

        uint32_t off = (uint32_t)(lo - t), cnt = (uint32_t)(hi - lo);
        char *o = out + (lo - start) * isz;
        switch (dt) {
        case FI_F32: memcpy(o, vals.f + off, (size_t)cnt * 4); break;
        case FI_F64: memcpy(o, vals.d + off, (size_t)cnt * 8); break;
        case FI_F16: FI_FN(to_f16)(vals.f + off, cnt, (uint16_t *)o); break;
        default: FI_FN(to_bf16)(vals.f + off, cnt, (uint16_t *)o); break;
        }
    }
}

static void FI_FN(raw)(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out)
{
    uint32_t words[FI_TILE] FI_ALIGN64;
    const uint64_t end = start + n;
    for (uint64_t t = start - start % 4; t < end; t += FI_TILE) {
        uint64_t tend = t + FI_TILE < end ? t + FI_TILE : end;
        uint32_t nb = (uint32_t)((tend - t + 3) / 4);
        fi_philox_blocks(plan->key, plan->ctr_hi, t / 4, nb, words);
        uint64_t lo = t > start ? t : start;
        memcpy(out + (lo - start), words + (lo - t), (size_t)(tend - lo) * 4);
    }
}

const fi_kernel_table FI_FN(fi_kernels) = {FI_FN(fill), FI_FN(raw)};
