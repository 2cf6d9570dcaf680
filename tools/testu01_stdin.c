/*
 * Run a TestU01 battery on 32-bit words read from stdin (little endian), e.g.
 *
 *   python -m fastinit raw --seed 20240601 | ./testu01_stdin SmallCrush
 *   python -m fastinit raw --seed 20240601 | ./testu01_stdin Crush rev
 *
 * "rev" feeds each word bit-reversed (TestU01 weighs the high bits most; the
 * reversed run puts the low bits there).  Build against a TestU01 install:
 *
 *   cc -O2 tools/testu01_stdin.c -I$TU/include -L$TU/lib -ltestu01 -lprobdist -lmylib -lm \
 *      -o testu01_stdin
 *
 * TestU01 is not packaged for Debian or PyPI; docs/reliability.md says how it was built.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbattery.h"
#include "unif01.h"

#define NBUF (1 << 16)
static uint32_t buf[NBUF];
static size_t pos, len;
static int reverse;

static uint32_t reverse_bits(uint32_t x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    return (x >> 16) | (x << 16);
}

static unsigned int next_word(void)
{
    if (pos == len) {
        len = fread(buf, sizeof buf[0], NBUF, stdin);
        pos = 0;
        if (len == 0) {
            fprintf(stderr, "testu01_stdin: input ended\n");
            exit(3);
        }
    }
    uint32_t w = buf[pos++];
    return reverse ? reverse_bits(w) : w;
}

int main(int argc, char **argv)
{
    const char *battery = argc > 1 ? argv[1] : "SmallCrush";
    reverse = argc > 2 && strcmp(argv[2], "rev") == 0;
    unif01_Gen *gen = unif01_CreateExternGenBits(reverse ? "fastinit raw (bit-reversed)" : "fastinit raw",
                                                 next_word);
    if (strcmp(battery, "SmallCrush") == 0) bbattery_SmallCrush(gen);
    else if (strcmp(battery, "Crush") == 0) bbattery_Crush(gen);
    else if (strcmp(battery, "BigCrush") == 0) bbattery_BigCrush(gen);
    else {
        fprintf(stderr, "usage: %s SmallCrush|Crush|BigCrush [rev]\n", argv[0]);
        return 2;
    }
    unif01_DeleteExternGenBits(gen);
    return 0;
}
