/*
 * Philox4x32-R (Salmon, Moraes, Dror, Shaw, SC11), as in Random123's philox.h.
 * One definition: a pure function of (counter, key).  Everything here is
 * `static inline` so that each SIMD translation unit gets its own copy compiled
 * for its own target and nothing is shared through a weak symbol.
 */
#ifndef FI_PHILOX_H
#define FI_PHILOX_H

#include <stdint.h>

#ifndef FI_PHILOX_M0
#define FI_PHILOX_M0 0xD2511F53u
#endif
#ifndef FI_PHILOX_M1
#define FI_PHILOX_M1 0xCD9E8D57u
#endif
#ifndef FI_PHILOX_W0
#define FI_PHILOX_W0 0x9E3779B9u /* golden ratio */
#endif
#ifndef FI_PHILOX_W1
#define FI_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */
#endif

/* One round on (x0, x1, x2, x3) with round key (k0, k1), written once for scalars and
 * SIMD lanes: MUL(x, m) is the full 64-bit product of the 32-bit x and the multiplier m,
 * of type P.  Its high half is P >> 32; its low half is what remains after assignment
 * to the 32-bit state word (a scalar truncates; a SIMD lane keeps the high half in its
 * upper 32 bits, which the next MUL ignores and nothing else reads). */
#define FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, k0, k1)                            \
    do {                                                                          \
        P p0_ = MUL(x0, FI_PHILOX_M0);                                            \
        P p1_ = MUL(x2, FI_PHILOX_M1);                                            \
        P y0_ = (p1_ >> 32) ^ (x1) ^ (k0);                                        \
        P y2_ = (p0_ >> 32) ^ (x3) ^ (k1);                                        \
        (x1) = p1_;                                                               \
        (x3) = p0_;                                                               \
        (x0) = y0_;                                                               \
        (x2) = y2_;                                                               \
    } while (0)

/* The ten rounds of Philox4x32-10; KEY0(r), KEY1(r) give round r's key:
 * (k0 + r W0, k1 + r W1) mod 2^32. */
#define FI_PHILOX10_P(P, MUL, KEY0, KEY1, x0, x1, x2, x3)                             \
    do {                                                                          \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(0), KEY1(0));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(1), KEY1(1));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(2), KEY1(2));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(3), KEY1(3));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(4), KEY1(4));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(5), KEY1(5));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(6), KEY1(6));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(7), KEY1(7));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(8), KEY1(8));              \
        FI_PHILOX_ROUND_P(P, MUL, x0, x1, x2, x3, KEY0(9), KEY1(9));              \
    } while (0)

#define FI_PHILOX_MUL_SCALAR(x, m) ((uint64_t)(m) * (x))
#define FI_PHILOX_ROUND(x0, x1, x2, x3, k0, k1)                                       \
    FI_PHILOX_ROUND_P(uint64_t, FI_PHILOX_MUL_SCALAR, x0, x1, x2, x3, k0, k1)

static inline void fi_philox4x32_R(unsigned rounds, const uint32_t ctr[4], const uint32_t key[2],
                                   uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (unsigned r = 0; r < rounds; r++) {
        if (r > 0) {
            k0 += FI_PHILOX_W0;
            k1 += FI_PHILOX_W1;
        }
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0, k1);
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* Words of blocks b0 .. b0+nb-1 of one stream: w[4*i + j] = word j of block b0+i
 * (the generic kernels' source of words; the SIMD kernels run the same rounds on
 * vectors of counters). */
static inline void fi_philox_blocks(const uint32_t key[2], const uint32_t ctr_hi[2], uint64_t b0,
                                    uint32_t nb, uint32_t *restrict w)
{
    const uint32_t k0 = key[0], k1 = key[1], s0 = ctr_hi[0], s1 = ctr_hi[1];
#define FI_KEY0_(r) (k0 + (uint32_t)(r) * FI_PHILOX_W0)
#define FI_KEY1_(r) (k1 + (uint32_t)(r) * FI_PHILOX_W1)
    for (uint32_t i = 0; i < nb; i++) {
        uint64_t b = b0 + i;
        uint32_t x0 = (uint32_t)b, x1 = (uint32_t)(b >> 32), x2 = s0, x3 = s1;
        FI_PHILOX10_P(uint64_t, FI_PHILOX_MUL_SCALAR, FI_KEY0_, FI_KEY1_, x0, x1, x2, x3);
        w[4 * i + 0] = x0;
        w[4 * i + 1] = x1;
        w[4 * i + 2] = x2;
        w[4 * i + 3] = x3;
    }
#undef FI_KEY0_
#undef FI_KEY1_
}

#endif
