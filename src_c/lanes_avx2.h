/*
 * AVX2 lanes (8 float / 4 double lanes, masks as vectors) for the SIMD driver; see
 * lanes_simd.h for the vocabulary.  Only kernels_avx2.c includes this, compiled with
 * its own -m flags.
 */
#ifndef FI_LANES_AVX2_H
#define FI_LANES_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#define FI_NW 4
typedef __m256 fi_vf;
typedef __m256d fi_vd;
typedef __m256i fi_vint;
typedef int32_t fi_vi __attribute__((vector_size(32)));
typedef uint32_t fi_vu __attribute__((vector_size(32)));
typedef int64_t fi_vl __attribute__((vector_size(32)));
typedef uint64_t fi_vul __attribute__((vector_size(32)));
/* masks are vectors whose lanes have the sign bit set where true (what blendv reads) */
typedef fi_vi fi_mf;
typedef fi_vl fi_md;

#define FI_F_C(c) _mm256_set1_ps(c)
#define FI_F_UC(c) ((fi_vu)_mm256_set1_epi32((int)(c)))
#define FI_F_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FI_F_SQRT(a) _mm256_sqrt_ps(a)
#define FI_F_GT(a, b) ((fi_mf)_mm256_cmp_ps(a, b, _CMP_GT_OQ))
#define FI_F_LT(a, b) ((fi_mf)_mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define FI_F_LE(a, b) ((fi_mf)_mm256_cmp_ps(a, b, _CMP_LE_OQ))
#define FI_F_SEL(m, t, f) _mm256_blendv_ps(f, t, (__m256)(m))
#define FI_F_ISEL(m, t, f) ((__typeof__(t))_mm256_blendv_ps((__m256)(f), (__m256)(t), (__m256)(m)))
#define FI_F_NEG(i) ((fi_mf)(i)) /* the sign bit itself */
#define FI_F_TEST(i, c) ((fi_mf)(((i) & (c)) != 0))
#define FI_F_ITOF(i) _mm256_cvtepi32_ps((__m256i)(i))
#define FI_F_MINL(h, x) _mm256_min_ps(h, x)
#define FI_F_MAXL(l, x) _mm256_max_ps(l, x)
#define FI_D_C(c) _mm256_set1_pd(c)
#define FI_D_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define FI_D_SQRT(a) _mm256_sqrt_pd(a)
#define FI_D_GT(a, b) ((fi_md)_mm256_cmp_pd(a, b, _CMP_GT_OQ))
#define FI_D_LT(a, b) ((fi_md)_mm256_cmp_pd(a, b, _CMP_LT_OQ))
#define FI_D_LE(a, b) ((fi_md)_mm256_cmp_pd(a, b, _CMP_LE_OQ))
#define FI_D_SEL(m, t, f) _mm256_blendv_pd(f, t, (__m256d)(m))
#define FI_D_ISEL(m, t, f) ((__typeof__(t))_mm256_blendv_pd((__m256d)(f), (__m256d)(t), (__m256d)(m)))
#define FI_D_NEG(i) ((fi_md)(i))
#define FI_D_TEST(i, c) ((fi_md)(((i) & (c)) != 0))
#define FI_D_MINL(h, x) _mm256_min_pd(h, x)
#define FI_D_MAXL(l, x) _mm256_max_pd(l, x)
#define FI_D_ALL(m) (_mm256_movemask_pd((__m256d)(m)) == 0xF)
/* AVX2 has no 64-bit arithmetic shift: shift the value with its sign folded away
 * (x ^ sign >= 0), then unfold; equal to x >> s for every x */
FI_VINLINE fi_vl fi_sra64(fi_vl x, int s)
{
    fi_vl sign = x < 0;
    return (fi_vl)((fi_vul)(x ^ sign) >> s) ^ sign;
}
#define FI_D_SRA(i, s) fi_sra64(i, s)

#define FI_MUL32(x, m) ((fi_vul)_mm256_mul_epu32((__m256i)(x), _mm256_set1_epi64x(m)))
#define FI_PAIR(a, b) ((fi_vul)_mm256_blend_epi32((__m256i)(a), (__m256i)((b) << 32), 0xAA))

FI_VINLINE void fi_zip64(__m256i a, __m256i b, __m256i *out0, __m256i *out1)
{
    __m256i lo = _mm256_unpacklo_epi64(a, b), hi = _mm256_unpackhi_epi64(a, b);
    *out0 = _mm256_permute2x128_si256(lo, hi, 0x20);
    *out1 = _mm256_permute2x128_si256(lo, hi, 0x31);
}
FI_VINLINE void fi_zip32(__m256 a, __m256 b, __m256 *out0, __m256 *out1)
{
    __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
    *out0 = _mm256_permute2f128_ps(lo, hi, 0x20);
    *out1 = _mm256_permute2f128_ps(lo, hi, 0x31);
}
#define FI_WIDEN_LO(v) ((fi_vul)_mm256_cvtepu32_epi64(_mm256_castsi256_si128((__m256i)(v))))
#define FI_WIDEN_HI(v) ((fi_vul)_mm256_cvtepu32_epi64(_mm256_extracti128_si256((__m256i)(v), 1)))
#define FI_D2F_JOIN(lo, hi) _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))
FI_VINLINE void fi_store16x2(void *p, fi_vu a, fi_vu b)
{
    /* values < 2^16: unsigned saturation keeps them; packs work per 128-bit half */
    __m256i v = _mm256_packus_epi32((__m256i)a, (__m256i)b);
    _mm256_storeu_si256((__m256i *)p, _mm256_permute4x64_epi64(v, 0xD8));
}
/* AVX2 has no compress: a table of 32-bit lane permutations, one per 4-bit mask */
static const int32_t fi_compress_lut[16][8] = {
    {0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7}, {2, 3, 0, 1, 4, 5, 6, 7},
    {0, 1, 2, 3, 4, 5, 6, 7}, {4, 5, 0, 1, 2, 3, 6, 7}, {0, 1, 4, 5, 2, 3, 6, 7},
    {2, 3, 4, 5, 0, 1, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7}, {6, 7, 0, 1, 2, 3, 4, 5},
    {0, 1, 6, 7, 2, 3, 4, 5}, {2, 3, 6, 7, 0, 1, 4, 5}, {0, 1, 2, 3, 6, 7, 4, 5},
    {4, 5, 6, 7, 0, 1, 2, 3}, {0, 1, 4, 5, 6, 7, 2, 3}, {2, 3, 4, 5, 6, 7, 0, 1},
    {0, 1, 2, 3, 4, 5, 6, 7}};
FI_VINLINE int fi_compress_d(fi_md m, fi_vd x, fi_vl pos, double *xo, int64_t *po)
{
    int bits = _mm256_movemask_pd((__m256d)m);
    __m256i idx = _mm256_loadu_si256((const __m256i *)fi_compress_lut[bits]);
    _mm256_storeu_pd(xo, (__m256d)_mm256_permutevar8x32_epi32((__m256i)x, idx));
    _mm256_storeu_si256((__m256i *)po, _mm256_permutevar8x32_epi32((__m256i)pos, idx));
    return __builtin_popcount((unsigned)bits);
}
#define FI_MD_NOT(m) (~(m))
#define FI_STOREU_F(p, v) _mm256_storeu_ps(p, v)
#define FI_STOREU_D(p, v) _mm256_storeu_pd(p, v)
#define FI_LOADU_D(p) _mm256_loadu_pd(p)
#define FI_LOADU_F(p) _mm256_loadu_ps(p)
#define FI_STOREU_I(p, v) _mm256_storeu_si256((__m256i *)(p), (__m256i)(v))
#define FI_STREAM_F(p, v) _mm256_stream_ps(p, v)
#define FI_STREAM_D(p, v) _mm256_stream_pd(p, v)
#define FI_STREAM_I(p, v) _mm256_stream_si256((__m256i *)(p), (__m256i)(v))
#define FI_VBYTES 32
#define FI_IOTA64 ((fi_vul)_mm256_set_epi64x(3, 2, 1, 0))
#define FI_SET64(x) ((fi_vul)_mm256_set1_epi64x((long long)(x)))
#define FI_SFENCE() _mm_sfence()

#endif
