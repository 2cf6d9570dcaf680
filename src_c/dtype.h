/* Internal: values of the output dtypes (dtype.c). */
#ifndef FI_DTYPE_H
#define FI_DTYPE_H

#include <stdint.h>

double fi_dt_round(double x, int dt);        /* nearest dtype value, ties to even */
double fi_dt_step(double v, int dt, int dir); /* next dtype value after v, up (dir > 0) or down */
double fi_dt_ceil(double x, int dt);         /* smallest dtype value >= x */
double fi_dt_floor(double x, int dt);        /* largest dtype value <= x */
double fi_dt_max(int dt);                    /* largest finite dtype value */
uint64_t fi_dt_bits(double v, int dt);       /* v's bit pattern in dtype (NaN: canonical) */

#endif
