/*
 * Exhaustive accuracy check of the float32 Box-Muller pieces in src_c/detmath.h,
 * driven by tests/test_core_exhaustive.py.
 *
 * For EVERY 32-bit radius word a:  R_f = sqrtf(2 * fi_neglog_u32(a)) (as the kernel
 * computes it) against R = sqrt(-2 ln((a + 0.5) 2^-32)) in double, where ln of a
 * value near 1 is taken from its exact complement (log1p).  Reports
 *     e_R = max |R_f - R| / max(1, R).
 * For EVERY angle k = int32(b) >> 8 in [-2^23, 2^23):  fi_sincospi_f against cos and
 * sin of pi k 2^-23 in double (after the exact reduction to |r| <= 1/4).  Reports
 *     e_T = max(|c_f - cos|, |s_f - sin|),  and max |c_f|, |s_f|.
 * Since z = fl(R_f c_f), |z - R cos| / max(1, R) <= e_R |c_f| + e_T + 2^-24 (1 + e_R) |c_f|
 * for every pair of words; the Python test checks that bound against 2^-21.
 *
 * Usage: core_exhaustive_f32 [STEP]   (STEP > 1 checks every STEP-th word only)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "detmath.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double ref_radius(uint32_t a)
{
    double x = ((double)a + 0.5) * 0x1p-32; /* exact */
    double neglog = x < 0.5 ? -log(x) : -log1p(-(1.0 - x)); /* 1 - x exact */
    return sqrt(2.0 * neglog);
}

int main(int argc, char **argv)
{
    uint64_t step = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    if (step < 1) step = 1;

    double e_r = 0.0;
    uint32_t worst_a = 0;
    int64_t count = (int64_t)(((uint64_t)1 << 32) / step);
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        double local = 0.0;
        uint32_t local_a = 0;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t i = 0; i < count; i++) {
            uint32_t a = (uint32_t)((uint64_t)i * step + (step > 1 ? (uint64_t)i % step : 0));
            float rf = sqrtf(2.0f * fi_neglog_u32(a));
            double r = ref_radius(a);
            double e = fabs((double)rf - r) / (r > 1.0 ? r : 1.0);
            if (e > local) {
                local = e;
                local_a = a;
            }
        }
#ifdef _OPENMP
#pragma omp critical
#endif
        if (local > e_r) {
            e_r = local;
            worst_a = local_a;
        }
    }
    /* the words at both ends, whatever the step */
    const uint32_t ends[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    for (int i = 0; i < 6; i++) {
        uint32_t a = ends[i];
        float rf = sqrtf(2.0f * fi_neglog_u32(a));
        double r = ref_radius(a);
        double e = fabs((double)rf - r) / (r > 1.0 ? r : 1.0);
        if (e > e_r) {
            e_r = e;
            worst_a = a;
        }
    }

    double e_t = 0.0, c_max = 0.0;
    int32_t worst_k = 0;
    for (int32_t k = -(1 << 23); k < (1 << 23); k++) {
        float cf, sf;
        fi_sincospi_f(k, &cf, &sf);
        double t = (double)k * 0x1p-23;
        double n = nearbyint(2.0 * t);
        double r = t - n / 2.0; /* exact */
        double c = cos(M_PI * r), s = sin(M_PI * r);
        int q = (int)((int64_t)n & 3);
        double cr = q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
        double sr = q == 0 ? s : q == 1 ? c : q == 2 ? -s : -c;
        double e = fmax(fabs((double)cf - cr), fabs((double)sf - sr));
        if (e > e_t) {
            e_t = e;
            worst_k = k;
        }
        c_max = fmax(c_max, fmax(fabs((double)cf), fabs((double)sf)));
    }
    printf("e_R %.17g worst_a %u\ne_T %.17g worst_k %d\nc_max %.17g\n", e_r, worst_a, e_t, worst_k,
           c_max);
    return 0;
}
