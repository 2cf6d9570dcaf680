/* The kernels compiled for the avx2 instruction set (see driver_simd.h and setup.py). */
#define FI_ISA avx2
#define FI_SIMD_AVX2
#include "driver_simd.h"
