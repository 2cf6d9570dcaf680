/*
 * AVX-512 lanes (16 float / 8 double lanes, mask registers) for the SIMD driver; see
 * lanes_simd.h for the vocabulary.  Only kernels_avx512.c includes this, compiled with
 * its own -m flags.
 */
#ifndef FI_LANES_AVX512_H
#define FI_LANES_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#define FI_NW 8 /* 64-bit lanes per vector = Philox blocks per batch */
typedef __m512 fi_vf;
typedef __m512d fi_vd;
typedef __m512i fi_vint; /* what the integer intrinsics take */
typedef int32_t fi_vi __attribute__((vector_size(64)));
typedef uint32_t fi_vu __attribute__((vector_size(64)));
typedef int64_t fi_vl __attribute__((vector_size(64)));
typedef uint64_t fi_vul __attribute__((vector_size(64)));
typedef __mmask16 fi_mf;
typedef __mmask8 fi_md;

#define FI_F_C(c) _mm512_set1_ps(c)
#define FI_F_UC(c) ((fi_vu)_mm512_set1_epi32((int)(c)))
#define FI_F_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FI_F_SQRT(a) _mm512_sqrt_ps(a)
#define FI_F_GT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define FI_F_LT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define FI_F_LE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)
#define FI_F_SEL(m, t, f) _mm512_mask_blend_ps(m, f, t)
#define FI_F_ISEL(m, t, f) ((__typeof__(t))_mm512_mask_blend_epi32(m, (__m512i)(f), (__m512i)(t)))
#define FI_F_NEG(i) _mm512_movepi32_mask((__m512i)(i))
#define FI_F_TEST(i, c) _mm512_test_epi32_mask((__m512i)(i), _mm512_set1_epi32(c))
#define FI_F_ITOF(i) _mm512_cvtepi32_ps((__m512i)(i)) /* round to nearest, as (float) */
#define FI_F_MINL(h, x) _mm512_min_ps(h, x)           /* h < x ? h : x */
#define FI_F_MAXL(l, x) _mm512_max_ps(l, x)           /* l > x ? l : x */
#define FI_D_C(c) _mm512_set1_pd(c)
#define FI_D_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define FI_D_SQRT(a) _mm512_sqrt_pd(a)
#define FI_D_GT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define FI_D_LT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define FI_D_LE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ)
#define FI_D_SEL(m, t, f) _mm512_mask_blend_pd(m, f, t)
#define FI_D_ISEL(m, t, f) ((__typeof__(t))_mm512_mask_blend_epi64(m, (__m512i)(f), (__m512i)(t)))
#define FI_D_NEG(i) _mm512_movepi64_mask((__m512i)(i))
#define FI_D_TEST(i, c) _mm512_test_epi64_mask((__m512i)(i), _mm512_set1_epi64(c))
#define FI_D_SRA(i, s) ((i) >> (s)) /* vpsraq */
#define FI_D_MINL(h, x) _mm512_min_pd(h, x)
#define FI_D_MAXL(l, x) _mm512_max_pd(l, x)
#define FI_D_ALL(m) ((m) == 0xFF)

/* full 64-bit products of the low 32 bits of each 64-bit lane and m (vpmuludq) */
#define FI_MUL32(x, m) ((fi_vul)_mm512_mul_epu32((__m512i)(x), _mm512_set1_epi64(m)))
/* 64-bit lanes (a mod 2^32) | b << 32 */
#define FI_PAIR(a, b)                                                                      \
    ((fi_vul)_mm512_permutex2var_epi32(                                                    \
        (__m512i)(a), _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2, 16, 0), \
        (__m512i)(b)))

/* out0 = (a0, b0, a1, b1, ...), out1 = the upper halves likewise; 64-bit elements */
FI_VINLINE void fi_zip64(__m512i a, __m512i b, __m512i *out0, __m512i *out1)
{
    *out0 = _mm512_permutex2var_epi64(a, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), b);
    *out1 = _mm512_permutex2var_epi64(a, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), b);
}
/* the same for 32-bit elements */
FI_VINLINE void fi_zip32(__m512 a, __m512 b, __m512 *out0, __m512 *out1)
{
    *out0 = _mm512_permutex2var_ps(
        a, _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0), b);
    *out1 = _mm512_permutex2var_ps(
        a, _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8), b);
}
/* zero-extend the low / high half of 32-bit lanes to 64-bit lanes */
#define FI_WIDEN_LO(v) ((fi_vul)_mm512_cvtepu32_epi64(_mm512_castsi512_si256((__m512i)(v))))
#define FI_WIDEN_HI(v) ((fi_vul)_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64((__m512i)(v), 1)))
/* round two double vectors to float (as (float)x) and join them: lo lanes first */
#define FI_D2F_JOIN(lo, hi)                                                                \
    _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1)
/* store the low 16 bits of each 32-bit lane of a, then of b */
FI_VINLINE void fi_store16x2(void *p, fi_vu a, fi_vu b)
{
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16((__m512i)a));
    _mm256_storeu_si256((__m256i *)p + 1, _mm512_cvtepi32_epi16((__m512i)b));
}
/* the lanes of x and pos selected by m, stored contiguously at xo and po; whole vectors
 * are written (xo, po need FI_NW - 1 elements of slack); returns how many */
FI_VINLINE int fi_compress_d(fi_md m, fi_vd x, fi_vl pos, double *xo, int64_t *po)
{
    _mm512_storeu_pd(xo, _mm512_maskz_compress_pd(m, x));
    _mm512_storeu_si512((void *)po, _mm512_maskz_compress_epi64(m, (__m512i)pos));
    return __builtin_popcount(m);
}
#define FI_MD_NOT(m) ((fi_md)~(m))
#define FI_STOREU_F(p, v) _mm512_storeu_ps(p, v)
#define FI_STOREU_D(p, v) _mm512_storeu_pd(p, v)
#define FI_LOADU_D(p) _mm512_loadu_pd(p)
#define FI_LOADU_F(p) _mm512_loadu_ps(p)
#define FI_STOREU_I(p, v) _mm512_storeu_si512((void *)(p), (__m512i)(v))
#define FI_STREAM_F(p, v) _mm512_stream_ps(p, v)
#define FI_STREAM_D(p, v) _mm512_stream_pd(p, v)
#define FI_STREAM_I(p, v) _mm512_stream_si512((void *)(p), (__m512i)(v))
#define FI_VBYTES 64
#define FI_IOTA64 ((fi_vul)_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0))
#define FI_SET64(x) ((fi_vul)_mm512_set1_epi64((long long)(x)))
#define FI_SFENCE() _mm_sfence()

#endif
