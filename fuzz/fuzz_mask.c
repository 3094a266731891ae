/*
 * libFuzzer harness for wsfast_mask (RFC 6455 5.3: byte i is XORed with mask[(phase + i) % 4]).
 *
 * Input: byte 0 the key phase (any value: the function uses it modulo 4), bytes 1-4 the key,
 * byte 5 a split point and an alignment, the rest the payload.  Checks against the byte-by-byte
 * definition: copying, in place, at every alignment, and in two pieces with the phase carried,
 * under every kernel the CPU runs (scalar, SSE2, AVX2 or NEON).
 */
#include "../csrc/wsfast.c"
#include "reference.h"

#include <string.h>

static void check_kernel(const uint8_t *payload, size_t n, const uint8_t *key, size_t phase,
                         size_t split, size_t align, const uint8_t *want)
{
    uint8_t *src = malloc(n + 1), *area = malloc(n + 64), *dst;
    CHECK(src && area);

    /* copying, from an exact-size source into a destination at any alignment */
    memcpy(src, payload, n);
    dst = area + align;
    wsfast_mask(src, dst, n, key, phase);
    CHECK(n == 0 || memcmp(dst, want, n) == 0);
    CHECK(n == 0 || memcmp(src, payload, n) == 0);

    /* in place, at that alignment */
    memcpy(dst, payload, n);
    wsfast_mask(dst, dst, n, key, phase);
    CHECK(n == 0 || memcmp(dst, want, n) == 0);

    /* in two pieces, the second starting at the phase the first ended on */
    memcpy(dst, payload, n);
    wsfast_mask(dst, dst, split, key, phase);
    wsfast_mask(dst + split, dst + split, n - split, key, (phase + split) & 3);
    CHECK(n == 0 || memcmp(dst, want, n) == 0);

    /* the source in place at an offset of its own (an exact-size allocation: ASan sees any
     * byte read or written past either end) */
    free(src);
    src = malloc(n ? n : 1);
    CHECK(src != NULL);
    memcpy(src, payload, n);
    wsfast_mask(src, src, n, key, phase);
    CHECK(n == 0 || memcmp(src, want, n) == 0);

    free(src);
    free(area);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *key, *payload;
    size_t phase, n, i, split, align;
    uint8_t *want;
    int kernels[8], count, k;

    if (size < 6)
        return 0;
    phase = data[0];
    key = data + 1;
    split = data[5];
    align = (data[5] >> 3) & 31;  /* any offset within a 32-byte AVX2 vector */
    payload = data + 6;
    n = size - 6;
    split = n ? split % (n + 1) : 0;

    want = malloc(n + 1);
    CHECK(want != NULL);
    for (i = 0; i < n; i++)
        want[i] = payload[i] ^ key[(phase + i) % 4];

    /* every kernel the CPU runs, each held to the byte-by-byte definition */
    count = ref_kernels(kernels);
    for (k = 0; k < count; k++) {
        ref_use_kernel(kernels[k]);
        check_kernel(payload, n, key, phase, split, align, want);
    }

    free(want);
    return 0;
}
