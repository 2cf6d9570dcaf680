/*
 * Exact fmaf/fma for CPUs without the FMA instruction (see kernels_generic.c): plain
 * IEEE double arithmetic, correctly rounded like the instruction.  Included by the
 * generic kernel unit and by the test driver that checks them against libm.
 */
#ifndef FI_FMA_EXACT_H
#define FI_FMA_EXACT_H

#include <math.h>
#include <stdint.h>

#include "detmath.h"

/* Exact replacements for fmaf/fma where the CPU has no FMA instruction (libm's
 * software fma is a slow function call); both return the correctly rounded a*b + c,
 * so every path keeps its bits.  They rely on IEEE double arithmetic in
 * round-to-nearest without flush-to-zero, which every fill sets up (fpenv.h). */

/* float: the product of two floats is exact in double, so s = a*b + c has one
 * rounding (to 53 bits) before the rounding to float.  That double rounding can only
 * differ from a single one when s is exactly halfway between two floats: a float
 * midpoint m strictly between the exact x and s would be a double nearer to x than
 * s, and x = m would give s = x.  So s is used unless it is such a midpoint (its 29
 * bits below the float's last one are 1000...0) or outside float's normal range
 * (other midpoints; overflow): then libm's fmaf, about once in 2^29 calls. */
static inline float fi_fmaf_exact(float a, float b, float c)
{
    double s = (double)a * (double)b + (double)c;
    uint64_t u = fi_d2u(s);
    uint32_t ex = (uint32_t)(u >> 52) & 0x7FF;
    if ((u & 0x1FFFFFFF) == 0x10000000 || ex - (1023 - 126) > 253) return fmaf(a, b, c);
    return (float)s;
}

/* double: Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved
 * algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008: a*b = ph + pl
 * exactly (Dekker's product, Veltkamp's split), c + ph = th + tl exactly (Knuth's
 * two-sum), v = tl + pl rounded to odd, result th + v rounded to nearest.  Rounding
 * to odd: the two-sum's error e says whether tl + pl was exact; if not and the
 * rounded sum is even, the odd neighbour on e's side is the result.  The proof needs
 * the product away from underflow and the split away from overflow (a zero product
 * with c != 0 is fine too): outside that, libm's fma. */
static inline double fi_fma_exact(double a, double b, double c)
{
    double ph = a * b, aph = fabs(ph);
    /* bitwise & and |: no data-dependent branch (zero products are frequent) */
    int ok = (aph < 0x1p900) & (fabs(a) < 0x1p900) & (fabs(b) < 0x1p900) & (fabs(c) < 0x1p900) &
             ((aph > 0x1p-900) | (((a == 0) | (b == 0)) & (c != 0)));
    if (!ok) return fma(a, b, c);
    double ca = a * 134217729.0, cb = b * 134217729.0; /* 2^27 + 1 */
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    double pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl;
    double th = c + ph, z = th - c;
    double tl = (c - (th - z)) + (ph - z);
    double s = tl + pl, z2 = s - tl;
    double e = (tl - (s - z2)) + (pl - z2);
    uint64_t su = fi_d2u(s);
    uint64_t odd = (uint64_t)(e != 0) & ~su & 1;  /* inexact and even: move one ulp ... */
    uint64_t down = (fi_d2u(e) ^ su) >> 63;       /* ... to the smaller magnitude if e and
                                                     s differ in sign, else the larger */
    return th + fi_u2d(su + odd - 2 * (odd & down));
}

#endif
