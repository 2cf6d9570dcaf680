/*
 * NEON lanes (aarch64: 4 float / 2 double lanes, masks as all-ones vectors) for the
 * SIMD driver; see lanes_simd.h for the vocabulary.  Only kernels_neon.c includes
 * this.  NEON and its fused multiply-add (vfmaq) are part of every aarch64 CPU, so
 * the unit needs no target flags.
 *
 * Exactness notes: vfmaq rounds once (= fma); vsqrtq, vdivq (the / operator), the
 * int -> float (scvtf) and double -> float (fcvtn) conversions round to nearest under
 * the default FPCR, which the core enforces (fpenv.h), so each equals its C
 * operation.  The clamps are a compare and a bitwise select, not vminq/vmaxq: those
 * order -0 below +0, while the scalar clamp x > h ? h : x keeps x when x == h.
 */
#ifndef FI_LANES_NEON_H
#define FI_LANES_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#define FI_NW 2 /* 64-bit lanes per vector = Philox blocks per batch */
typedef float32x4_t fi_vf;
typedef float64x2_t fi_vd;
typedef uint64x2_t fi_vint; /* what the integer intrinsics below take */
typedef int32_t fi_vi __attribute__((vector_size(16)));
typedef uint32_t fi_vu __attribute__((vector_size(16)));
typedef int64_t fi_vl __attribute__((vector_size(16)));
typedef uint64_t fi_vul __attribute__((vector_size(16)));
/* masks: every bit of a lane set where true (what vbslq selects by) */
typedef fi_vi fi_mf;
typedef fi_vl fi_md;

#define FI_U32(v) ((uint32x4_t)(v))
#define FI_U64(v) ((uint64x2_t)(v))

#define FI_F_C(c) vdupq_n_f32(c)
#define FI_F_UC(c) ((fi_vu)vdupq_n_u32((uint32_t)(c)))
#define FI_F_FMA(a, b, c) vfmaq_f32(c, a, b) /* c + a*b, one rounding */
#define FI_F_SQRT(a) vsqrtq_f32(a)
#define FI_F_GT(a, b) ((fi_mf)vcgtq_f32(a, b))
#define FI_F_LT(a, b) ((fi_mf)vcltq_f32(a, b))
#define FI_F_LE(a, b) ((fi_mf)vcleq_f32(a, b))
#define FI_F_SEL(m, t, f) vbslq_f32(FI_U32(m), t, f)
#define FI_F_ISEL(m, t, f) ((__typeof__(t))vbslq_u32(FI_U32(m), FI_U32(t), FI_U32(f)))
#define FI_F_NEG(i) ((fi_mf)((fi_vi)(i) < 0))
#define FI_F_ITOF(i) vcvtq_f32_s32((int32x4_t)(i))
#define FI_F_MINL(h, x) vbslq_f32(vcgtq_f32(x, h), h, x) /* x > h ? h : x */
#define FI_F_MAXL(l, x) vbslq_f32(vcltq_f32(x, l), l, x) /* x < l ? l : x */
#define FI_D_C(c) vdupq_n_f64(c)
#define FI_D_FMA(a, b, c) vfmaq_f64(c, a, b)
#define FI_D_SQRT(a) vsqrtq_f64(a)
#define FI_D_GT(a, b) ((fi_md)vcgtq_f64(a, b))
#define FI_D_LT(a, b) ((fi_md)vcltq_f64(a, b))
#define FI_D_LE(a, b) ((fi_md)vcleq_f64(a, b))
#define FI_D_SEL(m, t, f) vbslq_f64(FI_U64(m), t, f)
#define FI_D_ISEL(m, t, f) ((__typeof__(t))vbslq_u64(FI_U64(m), FI_U64(t), FI_U64(f)))
#define FI_D_NEG(i) ((fi_md)((fi_vl)(i) < 0))
#define FI_D_MINL(h, x) vbslq_f64(vcgtq_f64(x, h), h, x)
#define FI_D_MAXL(l, x) vbslq_f64(vcltq_f64(x, l), l, x)
#define FI_D_ALL(m) (vminvq_u32((uint32x4_t)(m)) == 0xFFFFFFFFu)

/* full 64-bit products of the low 32 bits of each 64-bit lane and m (xtn + umull) */
#define FI_MUL32(x, m) ((fi_vul)vmull_u32(vmovn_u64(FI_U64(x)), vdup_n_u32(m)))
/* 64-bit lanes (a mod 2^32) | b << 32: the even 32-bit elements of a and b (trn1) */
#define FI_PAIR(a, b) ((fi_vul)vtrn1q_u32(FI_U32(a), FI_U32(b)))

/* out0 = (a0, b0), out1 = (a1, b1); 64-bit elements */
FI_VINLINE void fi_zip64(fi_vint a, fi_vint b, fi_vint *out0, fi_vint *out1)
{
    *out0 = vzip1q_u64(a, b);
    *out1 = vzip2q_u64(a, b);
}
/* the same for 32-bit elements: (a0, b0, a1, b1), (a2, b2, a3, b3) */
FI_VINLINE void fi_zip32(fi_vf a, fi_vf b, fi_vf *out0, fi_vf *out1)
{
    *out0 = vzip1q_f32(a, b);
    *out1 = vzip2q_f32(a, b);
}
#define FI_WIDEN_LO(v) ((fi_vul)vmovl_u32(vget_low_u32(FI_U32(v))))
#define FI_WIDEN_HI(v) ((fi_vul)vmovl_high_u32(FI_U32(v)))
/* round two double vectors to float (as (float)x) and join them: lo lanes first */
#define FI_D2F_JOIN(lo, hi) vcvt_high_f32_f64(vcvt_f32_f64(lo), hi)
/* store the low 16 bits of each 32-bit lane of a, then of b */
FI_VINLINE void fi_store16x2(void *p, fi_vu a, fi_vu b)
{
    vst1q_u16((uint16_t *)p, vmovn_high_u32(vmovn_u32(FI_U32(a)), FI_U32(b)));
}
/* the lanes of x and pos selected by m, stored contiguously at xo and po (lane 1 is
 * written after lane 0 whether or not lane 0 was kept: FI_NW - 1 elements of slack);
 * returns how many */
FI_VINLINE int fi_compress_d(fi_md m, fi_vd x, fi_vl pos, double *xo, int64_t *po)
{
    int k0 = (int)(vgetq_lane_u64(FI_U64(m), 0) & 1), k1 = (int)(vgetq_lane_u64(FI_U64(m), 1) & 1);
    xo[0] = vgetq_lane_f64(x, 0);
    po[0] = pos[0];
    xo[k0] = vgetq_lane_f64(x, 1);
    po[k0] = pos[1];
    return k0 + k1;
}
/* Philox4x32-10 of blocks blk .. blk + 3 in 32-bit lanes (four blocks per vector, not
 * two: one umull per two blocks and multiplier instead of an xtn and an umull), then in
 * the layout of fiv_philox: x[0..3] for blocks blk, blk + 1, x[4..7] for blk + 2, blk + 3
 * (word j of block blk + l in the low half of 64-bit lane l; the upper halves repeat
 * it).  k0, k1: round keys, s0, s1: the stream words, each in every lane. */
#define FI_PHILOX2 1
FI_VINLINE void fi_philox4(const fi_vu *k0, const fi_vu *k1, fi_vu s0, fi_vu s1, uint64_t blk,
                           fi_vul x[8])
{
    const uint64x2_t c01 = vaddq_u64(vdupq_n_u64(blk), (uint64x2_t){0, 1});
    const uint64x2_t c23 = vaddq_u64(vdupq_n_u64(blk), (uint64x2_t){2, 3});
    const uint32x4_t m0 = vdupq_n_u32(FI_PHILOX_M0), m1 = vdupq_n_u32(FI_PHILOX_M1);
    uint32x4_t a = vuzp1q_u32(FI_U32(c01), FI_U32(c23)); /* counter mod 2^32 */
    uint32x4_t b = vuzp2q_u32(FI_U32(c01), FI_U32(c23)); /* counter >> 32 */
    uint32x4_t c = FI_U32(s0), d = FI_U32(s1);
    for (int r = 0; r < 10; r++) { /* FI_PHILOX_ROUND_P, four lanes at a time */
        uint32x4_t p0l = FI_U32(vmull_u32(vget_low_u32(a), vget_low_u32(m0)));
        uint32x4_t p0h = FI_U32(vmull_high_u32(a, m0));
        uint32x4_t p1l = FI_U32(vmull_u32(vget_low_u32(c), vget_low_u32(m1)));
        uint32x4_t p1h = FI_U32(vmull_high_u32(c, m1));
        a = veorq_u32(veorq_u32(vuzp2q_u32(p1l, p1h), b), FI_U32(k0[r]));
        c = veorq_u32(veorq_u32(vuzp2q_u32(p0l, p0h), d), FI_U32(k1[r]));
        b = vuzp1q_u32(p1l, p1h);
        d = vuzp1q_u32(p0l, p0h);
    }
    const uint32x4_t w[4] = {a, b, c, d};
    for (int j = 0; j < 4; j++) {
        x[j] = (fi_vul)vzip1q_u32(w[j], w[j]);
        x[4 + j] = (fi_vul)vzip2q_u32(w[j], w[j]);
    }
}
#define FI_MD_NOT(m) (~(m))
#define FI_STOREU_F(p, v) vst1q_f32(p, v)
#define FI_STOREU_D(p, v) vst1q_f64(p, v)
#define FI_LOADU_D(p) vld1q_f64(p)
#define FI_LOADU_F(p) vld1q_f32(p)
/* through memcpy (one str): the destination may be any type, e.g. a tile of doubles */
FI_VINLINE void fi_storeu_i(void *p, fi_vu v) { memcpy(p, &v, sizeof v); }
#define FI_STOREU_I(p, v) fi_storeu_i(p, (fi_vu)(v))
/* no non-temporal store intrinsics in ACLE: the streaming path stores normally */
#define FI_STREAM_F(p, v) FI_STOREU_F(p, v)
#define FI_STREAM_D(p, v) FI_STOREU_D(p, v)
#define FI_STREAM_I(p, v) FI_STOREU_I(p, v)
#define FI_VBYTES 16
#define FI_IOTA64 ((fi_vul){0, 1})
#define FI_SET64(x) ((fi_vul)vdupq_n_u64((uint64_t)(x)))
#define FI_SFENCE() ((void)0)

#endif
