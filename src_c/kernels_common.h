/*
 * What both kernel drivers share: the unit's name suffix (FI_FN) and constant fills.
 * Each kernel unit defines FI_ISA first: kernels_generic.c (the generic driver, plain
 * C) and the SIMD units kernels_<isa>.c, which include driver_simd.h.  No unit is
 * compiled with fp contraction (-ffp-contract=off) and every fused multiply-add is
 * explicit, so each path performs the same IEEE operations on every element and gives
 * the same bits.
 */
#ifndef FI_KERNELS_COMMON_H
#define FI_KERNELS_COMMON_H

#include <string.h>

#include "detmath.h"
#include "fastinit.h"
#include "kernels.h"
#include "philox.h"

#ifndef FI_ISA
#error "define FI_ISA (generic, avx2, avx512, neon) before including kernels_common.h"
#endif

#define FI_CAT_(a, b) a##_##b
#define FI_CAT(a, b) FI_CAT_(a, b)
#define FI_FN(name) FI_CAT(name, FI_ISA)

#if defined(__GNUC__)
#define FI_ALIGN64 __attribute__((aligned(64)))
#else
#define FI_ALIGN64
#endif

/* Constant fills consume no words: the value's bit pattern, repeated. */
static void FI_FN(fill_constant)(const fi_plan *plan, uint64_t n, char *out)
{
    uint64_t b = plan->const_bits;
    if (plan->dtype == FI_F64) {
        uint64_t *o = (uint64_t *)out;
        for (uint64_t i = 0; i < n; i++) o[i] = b;
    } else if (plan->dtype == FI_F32) {
        uint32_t *o = (uint32_t *)out;
        for (uint64_t i = 0; i < n; i++) o[i] = (uint32_t)b;
    } else {
        uint16_t *o = (uint16_t *)out;
        for (uint64_t i = 0; i < n; i++) o[i] = (uint16_t)b;
    }
}

#endif
