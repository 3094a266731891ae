/*
 * libFuzzer harness for wsfast_utf8_feed (the incremental UTF-8 validator).
 *
 * Input: byte 0 seeds the split points, the rest is the text.  Checks, against the reference
 * validator in reference.h (Unicode Table 3-7, written without a DFA):
 *   - fed whole: accepted exactly when the reference accepts, the state on a code point
 *     boundary exactly when the reference says complete, and on rejection the index of the
 *     first byte after which the input can no longer be valid (the fail-fast position);
 *   - fed in pieces of random sizes (each its own allocation), carrying the state: the same
 *     verdict at the same absolute position, and a rejected state stays rejected;
 * under every kernel the CPU runs (scalar DFA, SSSE3, AVX2 or NEON blocks).
 */
#include "../csrc/wsfast.c"
#include "reference.h"

#include <string.h>

static void check_kernel(const uint8_t *data, size_t size, uint32_t rng, size_t want,
                         int complete)
{
    uint32_t state = WSFAST_UTF8_ACCEPT;
    size_t index = 12345, pos = 0;
    int rc, failed = 0;
    uint8_t *copy;

    copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    rc = wsfast_utf8_feed(&state, copy, size, &index);
    free(copy);
    if (want < size) {
        CHECK(rc == -1);
        CHECK(index == want);
        CHECK(state == WSFAST_UTF8_REJECT);
    } else {
        CHECK(rc == 0);
        CHECK((state == WSFAST_UTF8_ACCEPT) == complete);
        CHECK(state != WSFAST_UTF8_REJECT);
    }

    state = WSFAST_UTF8_ACCEPT;
    while (pos < size || pos == 0) {
        /* short pieces (the DFA at both edges) and long ones (the vector blocks in between,
         * which start at 64 bytes), each at a state left inside a sequence or not */
        size_t len = ref_rand(&rng) % ((ref_rand(&rng) & 1) ? 40 : 300);
        if (len > size - pos)
            len = size - pos;
        copy = malloc(len ? len : 1);
        CHECK(copy != NULL);
        memcpy(copy, data + pos, len);
        index = 12345;
        rc = wsfast_utf8_feed(&state, copy, len, &index);
        free(copy);
        if (failed) {
            /* rejected once, rejected for good, at the start of every later piece */
            CHECK(rc == -1 && index == 0 && state == WSFAST_UTF8_REJECT);
        } else if (rc != 0) {
            CHECK(rc == -1);
            CHECK(pos + index == want);
            CHECK(state == WSFAST_UTF8_REJECT);
            failed = 1;
        } else {
            CHECK(want >= pos + len);
        }
        pos += len;
        if (size == 0)
            break;
    }
    CHECK(failed == (want < size));
    if (!failed)
        CHECK((state == WSFAST_UTF8_ACCEPT) == complete);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t rng;
    size_t want;
    int complete = 0, kernels[8], count, k;

    if (size < 1)
        return 0;
    rng = 0x9E3779B9u ^ data[0];
    data++;
    size--;

    want = ref_utf8(data, size, &complete);
    count = ref_kernels(kernels);
    for (k = 0; k < count; k++) {
        ref_use_kernel(kernels[k]);
        check_kernel(data, size, rng, want, complete);
    }
    return 0;
}
