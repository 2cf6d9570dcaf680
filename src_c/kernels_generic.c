/*
 * The generic driver: Philox words per tile of FI_TILE elements into a stack buffer,
 * then the scalar formulas of detmath_lanes.h element by element.  Compiled without
 * target flags: the portable path every build has ("scalar"), and the reference the
 * SIMD paths are tested against.  On x86-64 its formulas exist twice - with an exact
 * FMA emulation and, behind CPUID, compiled for the FMA instruction (see below) -
 * because without -mfma every fma() is a call into libm's software emulation.
 */
#define FI_ISA generic
#include "kernels_common.h"

#include <math.h>

#define FI_TILE 1024 /* elements per tile: a multiple of 4 */

static inline uint64_t fi_u64_at(const uint32_t *w, uint32_t j)
{
    return (uint64_t)w[2 * j] | ((uint64_t)w[2 * j + 1] << 32);
}

#include "fma_exact.h"

/* ------------------------------------------------------------ instances ----
 * The formulas of detmath_lanes.h with the exact emulation (fie_*), and on x86 once
 * more compiled for FMA hardware (fih_*, chosen at run time from CPUID).  Elsewhere
 * fmaf/fma are the hardware instruction (aarch64, ...) or libm's exact one. */
#include "lanes_scalar.h"
#undef FI_LN
#define FI_LN(name) fie_##name
#if defined(__GNUC__) && defined(__x86_64__) /* SSE2 doubles: no x87 excess precision */
#define FI_GENERIC_DISPATCH 1
#undef FI_F_FMA
#undef FI_D_FMA
#define FI_F_FMA(a, b, c) fi_fmaf_exact(a, b, c)
#define FI_D_FMA(a, b, c) fi_fma_exact(a, b, c)
#endif
#include "detmath_lanes.h"
#include "lanes_undef.h"
#define FI_G(name) fie_##name
#define FI_GV(name) FI_CAT(name, exact)
#include "driver_generic.h"
#undef FI_G
#undef FI_GV

#ifdef FI_GENERIC_DISPATCH
#pragma GCC push_options
#pragma GCC target("fma")
#include "lanes_scalar.h"
#undef FI_LN
#define FI_LN(name) fih_##name
#include "detmath_lanes.h"
#include "lanes_undef.h"
#define FI_G(name) fih_##name
#define FI_GV(name) FI_CAT(name, hwfma)
#include "driver_generic.h"
#undef FI_G
#undef FI_GV
#pragma GCC pop_options
#endif

typedef void (*fi_tile_fn)(const fi_plan *, uint64_t, uint32_t, uint32_t *, void *);

/* The plan's tile function: FMA hardware where fi_prepare found it (dispatch.c:
 * fi_scalar_fma), else the emulation. */
static fi_tile_fn FI_FN(tile_fn)(const fi_plan *plan)
{
#ifdef FI_GENERIC_DISPATCH
    return plan->scalar_fma ? tile_hwfma : tile_exact;
#else
    (void)plan;
    return tile_exact;
#endif
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
    const fi_tile_fn tile = FI_FN(tile_fn)(plan);
    const uint64_t end = start + n;
    const uint64_t end_up = end + (epb - end % epb) % epb;
    uint32_t words[FI_TILE * 2] FI_ALIGN64;
    union {
        float f[FI_TILE];
        double d[FI_TILE];
    } vals FI_ALIGN64;

    for (uint64_t t = start - start % epb; t < end; t += FI_TILE) {
        uint32_t tn = (uint32_t)(end_up - t < FI_TILE ? end_up - t : FI_TILE);
        uint64_t lo = t > start ? t : start;
        uint64_t hi = t + tn < end ? t + tn : end;
        int whole = lo == t && hi == t + tn && (dt == FI_F32 || dt == FI_F64);
        tile(plan, t, tn, words, whole ? (void *)(out + (t - start) * isz) : (void *)&vals);
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
