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

/* One round on (x0, x1, x2, x3) with round key (k0, k1). */
#define FI_PHILOX_ROUND(x0, x1, x2, x3, k0, k1)                               \
    do {                                                                      \
        uint64_t p0_ = (uint64_t)FI_PHILOX_M0 * (x0);                         \
        uint64_t p1_ = (uint64_t)FI_PHILOX_M1 * (x2);                         \
        uint32_t y0_ = (uint32_t)(p1_ >> 32) ^ (x1) ^ (k0);                   \
        uint32_t y2_ = (uint32_t)(p0_ >> 32) ^ (x3) ^ (k1);                   \
        (x1) = (uint32_t)p1_;                                                 \
        (x3) = (uint32_t)p0_;                                                 \
        (x0) = y0_;                                                           \
        (x2) = y2_;                                                           \
    } while (0)

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

/* Words of blocks b0 .. b0+nb-1 of one stream: w[4*i + j] = word j of block b0+i.
 * Written as a loop over independent blocks with a fully unrolled body so that the
 * compiler vectorizes across blocks (each lane one counter). */
static inline void fi_philox_blocks(const uint32_t key[2], const uint32_t ctr_hi[2], uint64_t b0,
                                    uint32_t nb, uint32_t *restrict w)
{
    const uint32_t k0 = key[0], k1 = key[1], s0 = ctr_hi[0], s1 = ctr_hi[1];
    const uint32_t lo0 = (uint32_t)b0;
    const uint32_t hi0 = (uint32_t)(b0 >> 32);
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t x0 = lo0 + i;
        /* carry into the high counter word when the low word wraps */
        uint32_t x1 = hi0 + (uint32_t)(x0 < lo0);
        uint32_t x2 = s0, x3 = s1;
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0, k1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 1u * FI_PHILOX_W0, k1 + 1u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 2u * FI_PHILOX_W0, k1 + 2u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 3u * FI_PHILOX_W0, k1 + 3u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 4u * FI_PHILOX_W0, k1 + 4u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 5u * FI_PHILOX_W0, k1 + 5u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 6u * FI_PHILOX_W0, k1 + 6u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 7u * FI_PHILOX_W0, k1 + 7u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 8u * FI_PHILOX_W0, k1 + 8u * FI_PHILOX_W1);
        FI_PHILOX_ROUND(x0, x1, x2, x3, k0 + 9u * FI_PHILOX_W0, k1 + 9u * FI_PHILOX_W1);
        w[4 * i + 0] = x0;
        w[4 * i + 1] = x1;
        w[4 * i + 2] = x2;
        w[4 * i + 3] = x3;
    }
}

#endif
