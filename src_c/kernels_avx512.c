/* The kernels compiled for the avx512 instruction set (see driver_simd.h and setup.py). */
#define FI_ISA avx512
#define FI_SIMD_AVX512
#include "driver_simd.h"
