/* The kernels compiled for the generic instruction set (see kernels_impl.h and setup.py). */
#define FI_ISA generic
#include "kernels_impl.h"
