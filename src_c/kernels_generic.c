/*
 * The generic driver: Philox words per tile of FI_TILE elements into a stack buffer,
 * then the scalar formulas of detmath.h element by element.  Compiled without target
 * flags: the portable path every build has ("scalar"), and the reference the SIMD
 * paths are tested against.
 */
#define FI_ISA generic
#include "kernels_common.h"

#define FI_TILE 1024 /* elements per tile: a multiple of 4 */

static inline uint64_t FI_FN(u64_at)(const uint32_t *w, uint32_t j)
{
    return (uint64_t)w[2 * j] | ((uint64_t)w[2 * j + 1] << 32);
}

static void FI_FN(values_f)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                            float *restrict out)
{
    switch (pl->dist) {
    case FI_UNIFORM:
        for (uint32_t i = 0; i < n; i++)
            out[i] = fi_uniform_f(w[i], pl->f_a, pl->f_b, pl->f_lo, pl->f_hi);
        break;
    case FI_NORMAL: /* n is even: pair k uses words 2k (radius) and 2k+1 (angle) */
        for (uint32_t k = 0; k < n / 2; k++)
            fi_normal_pair_f(w[2 * k], w[2 * k + 1], pl->f_a, pl->f_b, &out[2 * k],
                             &out[2 * k + 1]);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            double u, v;
            fi_trunc_uv_32(w[i], &u, &v);
            double x = fi_trunc_x(u, v, pl->t_pa, pl->t_qb, pl->t_mass, pl->d_a, pl->d_b);
            out[i] = fi_clamp_f((float)x, pl->f_lo, pl->f_hi);
        }
        break;
    }
}

static void FI_FN(values_d)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                            double *restrict out)
{
    switch (pl->dist) {
    case FI_UNIFORM:
        for (uint32_t i = 0; i < n; i++)
            out[i] = fi_uniform_d(FI_FN(u64_at)(w, i), pl->d_a, pl->d_b, pl->d_lo, pl->d_hi);
        break;
    case FI_NORMAL: /* pair k uses 64-bit words 2k and 2k+1 */
        for (uint32_t k = 0; k < n / 2; k++)
            fi_normal_pair_d(FI_FN(u64_at)(w, 2 * k), FI_FN(u64_at)(w, 2 * k + 1), pl->d_a, pl->d_b,
                             &out[2 * k], &out[2 * k + 1]);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            double u, v;
            fi_trunc_uv_64(FI_FN(u64_at)(w, i), &u, &v);
            double x = fi_trunc_x(u, v, pl->t_pa, pl->t_qb, pl->t_mass, pl->d_a, pl->d_b);
            out[i] = fi_clamp_d(x, pl->d_lo, pl->d_hi);
        }
        break;
    }
}

static void FI_FN(fill)(const fi_plan *plan, uint64_t start, uint64_t n, void *out_)
{
    char *out = (char *)out_;
    const int dt = plan->dtype;
    const size_t isz = fi_dtype_size(dt);
    if (n == 0) return;
    if (plan->dist == FI_CONSTANT) {
        FI_FN(fill_constant)(plan, n, out);
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
        if (dt == FI_F64) FI_FN(values_d)(plan, words, tn, (double *)dst);
        else FI_FN(values_f)(plan, words, tn, (float *)dst);
        if (whole) continue;

        uint32_t off = (uint32_t)(lo - t), cnt = (uint32_t)(hi - lo);
        char *o = out + (lo - start) * isz;
        switch (dt) {
        case FI_F32: memcpy(o, vals.f + off, (size_t)cnt * 4); break;
        case FI_F64: memcpy(o, vals.d + off, (size_t)cnt * 8); break;
        case FI_F16:
            for (uint32_t i = 0; i < cnt; i++) ((uint16_t *)o)[i] = fi_f32_to_f16(vals.f[off + i]);
            break;
        default:
            for (uint32_t i = 0; i < cnt; i++) ((uint16_t *)o)[i] = fi_f32_to_bf16(vals.f[off + i]);
            break;
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
