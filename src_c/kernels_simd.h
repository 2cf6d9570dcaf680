/*
 * Lanes for the SIMD kernel units: vector types and the operations detmath_lanes.h and
 * kernels_impl.h are written in, for AVX-512 (FI_SIMD_AVX512: 16 float / 8 double
 * lanes, mask registers) and AVX2 (FI_SIMD_AVX2: 8 float / 4 double lanes, masks as
 * vectors).  Arithmetic (+ - * / & | ^ << >>) uses GCC/Clang vector extensions, which
 * act lane by lane exactly like the scalar C operators; everything else is one
 * intrinsic whose result equals the scalar operation it stands for (see the comment
 * of each).  Only kernels_avx2.c / kernels_avx512.c include this, compiled with their
 * own -m flags.
 */
#ifndef FI_KERNELS_SIMD_H
#define FI_KERNELS_SIMD_H

#include <immintrin.h>
#include <stdint.h>

/* every lane function is forced inline: out of line, vectors would pass through memory */
#define FI_VINLINE static inline __attribute__((always_inline))

#if defined(FI_SIMD_AVX512)

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

#define F_C(c) _mm512_set1_ps(c)
#define F_UC(c) ((fi_vu)_mm512_set1_epi32((int)(c)))
#define F_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define F_SQRT(a) _mm512_sqrt_ps(a)
#define F_GT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define F_LT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define F_LE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)
#define F_SEL(m, t, f) _mm512_mask_blend_ps(m, f, t)
#define F_ISEL(m, t, f) ((__typeof__(t))_mm512_mask_blend_epi32(m, (__m512i)(f), (__m512i)(t)))
#define F_NEG(i) _mm512_movepi32_mask((__m512i)(i))
#define F_TEST(i, c) _mm512_test_epi32_mask((__m512i)(i), _mm512_set1_epi32(c))
#define F_ITOF(i) _mm512_cvtepi32_ps((__m512i)(i)) /* round to nearest, as (float) */
#define F_MINL(h, x) _mm512_min_ps(h, x)           /* h < x ? h : x */
#define F_MAXL(l, x) _mm512_max_ps(l, x)           /* l > x ? l : x */
#define D_C(c) _mm512_set1_pd(c)
#define D_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define D_SQRT(a) _mm512_sqrt_pd(a)
#define D_GT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define D_LT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define D_LE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ)
#define D_SEL(m, t, f) _mm512_mask_blend_pd(m, f, t)
#define D_ISEL(m, t, f) ((__typeof__(t))_mm512_mask_blend_epi64(m, (__m512i)(f), (__m512i)(t)))
#define D_NEG(i) _mm512_movepi64_mask((__m512i)(i))
#define D_TEST(i, c) _mm512_test_epi64_mask((__m512i)(i), _mm512_set1_epi64(c))
#define D_SRA(i, s) ((i) >> (s)) /* vpsraq */
#define D_MINL(h, x) _mm512_min_pd(h, x)
#define D_MAXL(l, x) _mm512_max_pd(l, x)
#define D_ALL(m) ((m) == 0xFF)

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

#elif defined(FI_SIMD_AVX2)

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

#define F_C(c) _mm256_set1_ps(c)
#define F_UC(c) ((fi_vu)_mm256_set1_epi32((int)(c)))
#define F_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define F_SQRT(a) _mm256_sqrt_ps(a)
#define F_GT(a, b) ((fi_mf)_mm256_cmp_ps(a, b, _CMP_GT_OQ))
#define F_LT(a, b) ((fi_mf)_mm256_cmp_ps(a, b, _CMP_LT_OQ))
#define F_LE(a, b) ((fi_mf)_mm256_cmp_ps(a, b, _CMP_LE_OQ))
#define F_SEL(m, t, f) _mm256_blendv_ps(f, t, (__m256)(m))
#define F_ISEL(m, t, f) ((__typeof__(t))_mm256_blendv_ps((__m256)(f), (__m256)(t), (__m256)(m)))
#define F_NEG(i) ((fi_mf)(i)) /* the sign bit itself */
#define F_TEST(i, c) ((fi_mf)(((i) & (c)) != 0))
#define F_ITOF(i) _mm256_cvtepi32_ps((__m256i)(i))
#define F_MINL(h, x) _mm256_min_ps(h, x)
#define F_MAXL(l, x) _mm256_max_ps(l, x)
#define D_C(c) _mm256_set1_pd(c)
#define D_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define D_SQRT(a) _mm256_sqrt_pd(a)
#define D_GT(a, b) ((fi_md)_mm256_cmp_pd(a, b, _CMP_GT_OQ))
#define D_LT(a, b) ((fi_md)_mm256_cmp_pd(a, b, _CMP_LT_OQ))
#define D_LE(a, b) ((fi_md)_mm256_cmp_pd(a, b, _CMP_LE_OQ))
#define D_SEL(m, t, f) _mm256_blendv_pd(f, t, (__m256d)(m))
#define D_ISEL(m, t, f) ((__typeof__(t))_mm256_blendv_pd((__m256d)(f), (__m256d)(t), (__m256d)(m)))
#define D_NEG(i) ((fi_md)(i))
#define D_TEST(i, c) ((fi_md)(((i) & (c)) != 0))
#define D_MINL(h, x) _mm256_min_pd(h, x)
#define D_MAXL(l, x) _mm256_max_pd(l, x)
#define D_ALL(m) (_mm256_movemask_pd((__m256d)(m)) == 0xF)
/* AVX2 has no 64-bit arithmetic shift: shift the value with its sign folded away
 * (x ^ sign >= 0), then unfold; equal to x >> s for every x */
FI_VINLINE fi_vl fi_sra64(fi_vl x, int s)
{
    fi_vl sign = x < 0;
    return (fi_vl)((fi_vul)(x ^ sign) >> s) ^ sign;
}
#define D_SRA(i, s) fi_sra64(i, s)

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

#else
#error "define FI_SIMD_AVX512 or FI_SIMD_AVX2"
#endif

/* the lane names detmath_lanes.h is written in */
#define FI_F fi_vf
#define FI_I fi_vi
#define FI_U fi_vu
#define FI_MF fi_mf
#define FI_D fi_vd
#define FI_L fi_vl
#define FI_UL fi_vul
#define FI_MD fi_md
#define F_AS_U(f) ((fi_vu)(f))
#define F_AS_F(u) ((fi_vf)(u))
#define F_AS_I(u) ((fi_vi)(u))
#define F_AS_UI(i) ((fi_vu)(i))
#define F_SHL(i, s) ((fi_vi)((fi_vu)(i) << (s)))
#define D_AS_U(d) ((fi_vul)(d))
#define D_AS_D(u) ((fi_vd)(u))
#define D_AS_L(u) ((fi_vl)(u))
#define D_AS_UL(i) ((fi_vul)(i))
#define D_SHL(i, s) ((fi_vl)((fi_vul)(i) << (s)))

#endif
