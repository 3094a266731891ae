/*
 * libFuzzer harness for wsfast_mask (RFC 6455 5.3: byte i is XORed with mask[(phase + i) % 4]).
 *
 * Input: byte 0 the key phase (any value: the function uses it modulo 4), bytes 1-4 the key,
 * byte 5 a split point and an alignment, the rest the payload.  Checks against the byte-by-byte
 * definition: copying, in place, at every alignment, and in two pieces with the phase carried.
 */
#include "../csrc/wsfast.c"
#include "reference.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *key, *payload;
    size_t phase, n, i, split, align;
    uint8_t *want, *src, *dst, *area;

    if (size < 6)
        return 0;
    phase = data[0];
    key = data + 1;
    split = data[5];
    align = data[5] & 7;
    payload = data + 6;
    n = size - 6;
    split = n ? split % (n + 1) : 0;

    want = malloc(n + 1);
    src = malloc(n + 1);
    area = malloc(n + 8);
    CHECK(want && src && area);
    for (i = 0; i < n; i++)
        want[i] = payload[i] ^ key[(phase + i) % 4];

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

    /* the scalar kernel itself, with the phase already reduced */
    memcpy(dst, payload, n);
    mask_scalar(dst, dst, n, key, phase & 3);
    CHECK(n == 0 || memcmp(dst, want, n) == 0);

    free(want);
    free(src);
    free(area);
    return 0;
}
