/*
 * Independent reference code for the libFuzzer harnesses: written from RFC 6455 and Unicode
 * Table 3-7 directly, sharing nothing with csrc/wsfast.c (no class table, no DFA), so that a
 * mistake in the codec cannot hide behind the same mistake here.
 *
 * The harnesses #include csrc/wsfast.c itself (not a library) so that its static kernels can be
 * called too, and every kernel the file compiles can be checked against the scalar one.
 */
#ifndef WSFAST_FUZZ_REFERENCE_H
#define WSFAST_FUZZ_REFERENCE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* The kernels this CPU runs (WSFAST_KERNEL_*), best last; returns how many.  The harnesses run
 * their checks under each one, or pick one from the input, through wsfast_use_kernel: the same
 * switch the Python tests use, so every SIMD kernel is fuzzed, not only the one the dispatcher
 * would choose. */
static inline int ref_kernels(int out[8])
{
    int available = wsfast_kernels_available(), k, n = 0;
    for (k = WSFAST_KERNEL_SCALAR; k <= WSFAST_KERNEL_NEON; k++)
        if (available & (1 << k))
            out[n++] = k;
    return n;
}

static inline void ref_use_kernel(int kernel)
{
    CHECK(wsfast_use_kernel(kernel) == kernel);
}

/* Unicode Table 3-7: the allowed range of the second byte after each lead, and how many
 * continuation bytes the lead announces.  Returns 0 for a byte that cannot lead. */
static inline int ref_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        return 1;
    if (b == 0xE0) { *lo = 0xA0; return 2; }                 /* no overlongs */
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
        return 2;
    if (b == 0xED) { *hi = 0x9F; return 2; }                 /* no surrogates */
    if (b == 0xF0) { *lo = 0x90; return 3; }                 /* no overlongs */
    if (b >= 0xF1 && b <= 0xF3)
        return 3;
    if (b == 0xF4) { *hi = 0x8F; return 3; }                 /* nothing above U+10FFFF */
    return 0;
}

/* The fail-fast position: the index of the first byte after which data[0:len] can no longer
 * begin valid UTF-8, or len when it still can.  *complete: ends on a code point boundary. */
static inline size_t ref_utf8(const uint8_t *data, size_t len, int *complete)
{
    size_t i = 0;

    while (i < len) {
        uint8_t b = data[i], lo, hi;
        int need, k;
        if (b < 0x80) {
            i++;
            continue;
        }
        need = ref_lead(b, &lo, &hi);
        if (need == 0)
            return i;
        for (k = 1; k <= need; k++) {
            if (i + k >= len) {
                *complete = 0;
                return len;
            }
            if (data[i + k] < lo || data[i + k] > hi)
                return i + k;
            lo = 0x80;
            hi = 0xBF;
        }
        i += need + 1;
    }
    *complete = 1;
    return len;
}

/* A small deterministic generator, so that one fuzz byte can drive a whole chunking. */
static inline uint32_t ref_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

#endif
