/*
 * Lanes for the SIMD kernel units: the vector types and operations that
 * detmath_lanes.h (the math) and driver_simd.h (the SIMD driver) are written in.
 * One header per instruction set provides them:
 *   lanes_avx512.h  (FI_SIMD_AVX512)  16 float / 8 double lanes, mask registers
 *   lanes_avx2.h    (FI_SIMD_AVX2)    8 float / 4 double lanes, masks as vectors
 * Arithmetic (+ - * / & | ^ << >>) uses GCC/Clang vector extensions, which act lane
 * by lane exactly like the scalar C operators; everything else is one intrinsic (or a
 * short exact sequence) whose result equals the scalar operation it stands for (see
 * the comment of each).  Each lanes_<isa>.h defines
 *   types   fi_vf fi_vd (float / double), fi_vi fi_vu fi_vl fi_vul (int32 / uint32 /
 *           int64 / uint64 vector-extension types), fi_vint (what integer intrinsics
 *           take), fi_mf fi_md (masks of the float / double family)
 *   math    the FI_F_* / FI_D_* operations listed in detmath_lanes.h (casts and
 *           left shifts are defined here, once, from the vector types)
 *   driver  FI_NW (64-bit lanes = Philox blocks per batch), FI_VBYTES, FI_MUL32,
 *           FI_PAIR, fi_zip64, fi_zip32, FI_WIDEN_LO/HI, FI_D2F_JOIN, fi_store16x2,
 *           fi_compress_d, FI_MD_NOT, FI_LOADU_F/D, FI_STOREU_F/D/I, FI_STREAM_F/D/I,
 *           FI_SFENCE, FI_IOTA64, FI_SET64
 * Only the SIMD kernel units include this, each compiled with its own target flags.
 */
#ifndef FI_LANES_SIMD_H
#define FI_LANES_SIMD_H

#include <stdint.h>

/* every lane function is forced inline: out of line, vectors would pass through memory */
#define FI_VINLINE static inline __attribute__((always_inline))

#if defined(FI_SIMD_AVX512)
#include "lanes_avx512.h"
#elif defined(FI_SIMD_AVX2)
#include "lanes_avx2.h"
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
#define FI_F_AS_U(f) ((fi_vu)(f))
#define FI_F_AS_F(u) ((fi_vf)(u))
#define FI_F_AS_I(u) ((fi_vi)(u))
#define FI_F_AS_UI(i) ((fi_vu)(i))
#define FI_F_SHL(i, s) ((fi_vi)((fi_vu)(i) << (s)))
#define FI_D_AS_U(d) ((fi_vul)(d))
#define FI_D_AS_D(u) ((fi_vd)(u))
#define FI_D_AS_L(u) ((fi_vl)(u))
#define FI_D_AS_UL(i) ((fi_vul)(i))
#define FI_D_SHL(i, s) ((fi_vl)((fi_vul)(i) << (s)))

#endif
