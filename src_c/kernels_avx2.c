/* The kernels compiled for the avx2 instruction set (see kernels_impl.h and setup.py). */
#define FI_ISA avx2
#define FI_SIMD_AVX2
#include "kernels_impl.h"
