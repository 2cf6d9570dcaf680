/* The kernels compiled for the neon instruction set (see driver_simd.h and setup.py). */
#define FI_ISA neon
#define FI_SIMD_NEON
#include "driver_simd.h"
