/*
 * libFuzzer harness for wsfast_parse_header and wsfast_build_header.
 *
 * Input: byte 0 chooses strict parsing (bit 0); the rest is parsed as a frame header and, read
 * as fields, also built into one.  Checks:
 *   - the result (status, value, every field) equals a reference parser written from RFC 6455
 *     5.2 in this file;
 *   - every prefix of the input gives NEED_MORE or the same answer (the first violation never
 *     depends on how many bytes have arrived);
 *   - a parsed header rebuilt with wsfast_build_header parses to the same fields, and in strict
 *     mode is byte for byte the input (minimal encoding);
 *   - a header built from arbitrary fields parses back to those fields.
 */
#include "../csrc/wsfast.c"
#include "reference.h"

#include <string.h>

typedef struct {
    int status;
    uint64_t value;
    wsfast_header h;
} parsed_t;

/* RFC 6455 5.2, each check as soon as its byte is there. */
static void ref_parse(const uint8_t *p, size_t n, int strict, parsed_t *out)
{
    uint8_t op, len7;
    uint64_t length = 0;
    size_t size, k;

    memset(out, 0, sizeof *out);
    if (n < 1) { out->status = WSFAST_NEED_MORE; return; }
    op = p[0] & 0x0f;
    if (!(op <= 2 || (op >= 8 && op <= 10))) {
        out->status = WSFAST_E_RESERVED_OPCODE; out->value = op; return;
    }
    if (op >= 8 && !(p[0] & 0x80)) {
        out->status = WSFAST_E_CONTROL_FRAGMENTED; out->value = op; return;
    }
    if (n < 2) { out->status = WSFAST_NEED_MORE; return; }
    len7 = p[1] & 0x7f;
    if (op >= 8 && len7 > 125) {
        out->status = WSFAST_E_CONTROL_TOO_LONG; out->value = len7; return;
    }
    size = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    if (n < size) { out->status = WSFAST_NEED_MORE; return; }
    if (size == 2)
        length = len7;
    for (k = 2; k < size; k++)
        length = length * 256 + p[k];
    if (size == 10 && length >= (UINT64_C(1) << 63)) {
        out->status = WSFAST_E_LENGTH_MSB; out->value = length; return;
    }
    if (strict && ((size == 4 && length <= 125) || (size == 10 && length <= 65535))) {
        out->status = WSFAST_E_NON_MINIMAL_LENGTH; out->value = length; return;
    }
    if (p[1] & 0x80) {
        if (n < size + 4) { out->status = WSFAST_NEED_MORE; return; }
        memcpy(out->h.mask, p + size, 4);
        size += 4;
    }
    out->status = WSFAST_OK;
    out->h.fin = p[0] >> 7;
    out->h.rsv = p[0] & 0x70;
    out->h.opcode = op;
    out->h.masked = p[1] >> 7;
    out->h.length = length;
    out->h.size = (uint32_t)size;
}

static void same_header(const wsfast_header *a, const wsfast_header *b)
{
    CHECK(a->fin == b->fin);
    CHECK(a->rsv == b->rsv);
    CHECK(a->opcode == b->opcode);
    CHECK(a->masked == b->masked);
    CHECK(!a->masked || memcmp(a->mask, b->mask, 4) == 0);
    CHECK(a->length == b->length);
    CHECK(a->size == b->size);
}

/* Parse data[0:n] with the codec; the input is copied to a buffer of exactly n bytes so that
 * ASan catches any read past what was passed. */
static void parse(const uint8_t *data, size_t n, int strict, parsed_t *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    memcpy(copy, data, n);
    memset(out, 0, sizeof *out);
    out->value = 12345;
    out->status = wsfast_parse_header(copy, n, strict, &out->h, &out->value);
    free(copy);
}

static void check_against_reference(const uint8_t *data, size_t n, int strict, parsed_t *got)
{
    parsed_t want;
    ref_parse(data, n, strict, &want);
    CHECK(got->status == want.status);
    if (got->status == WSFAST_OK) {
        same_header(&got->h, &want.h);
        CHECK(got->value == 0);
    } else if (got->status < 0) {
        CHECK(got->value == want.value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parsed_t full, part;
    int strict;
    size_t k, limit;

    if (size < 1)
        return 0;
    strict = data[0] & 1;
    data++;
    size--;

    parse(data, size, strict, &full);
    CHECK(full.status == WSFAST_OK || full.status == WSFAST_NEED_MORE ||
          (full.status <= WSFAST_E_RESERVED_OPCODE && full.status >= WSFAST_E_NON_MINIMAL_LENGTH));
    check_against_reference(data, size, strict, &full);

    /* Prefixes: "not yet", then the final answer, never a different answer. */
    limit = size < 16 ? size : 16;
    for (k = 0; k < limit; k++) {
        parse(data, k, strict, &part);
        check_against_reference(data, k, strict, &part);
        if (part.status == WSFAST_NEED_MORE)
            continue;
        CHECK(part.status == full.status);
        if (full.status == WSFAST_OK)
            same_header(&part.h, &full.h);
        else
            CHECK(part.value == full.value);
    }

    if (full.status == WSFAST_OK) {
        /* Rebuild: minimal encoding, so strict input comes back byte for byte. */
        uint8_t out[14];
        parsed_t again;
        size_t n = wsfast_build_header(out, full.h.fin, full.h.rsv, full.h.opcode, full.h.length,
                                       full.h.masked ? full.h.mask : NULL);
        CHECK(n >= 2 && n <= 14 && n <= full.h.size);
        if (strict) {
            CHECK(n == full.h.size);
            CHECK(memcmp(out, data, n) == 0);
        }
        parse(out, n, 1, &again);
        CHECK(again.status == WSFAST_OK);
        CHECK(again.h.length == full.h.length && again.h.opcode == full.h.opcode);
        CHECK(again.h.fin == full.h.fin && again.h.rsv == full.h.rsv);
        CHECK(again.h.masked == full.h.masked && again.h.size == n);
    }

    if (size >= 14) {
        /* Fields from the input, built and parsed back. */
        static const uint8_t opcodes[8] = {0, 1, 2, 8, 9, 10, 1, 2};
        uint8_t out[14];
        parsed_t back;
        int fin = data[0] & 1, rsv = data[0] & 0x70;
        int opcode = opcodes[(data[0] >> 1) & 7];
        int masked = data[0] >> 7;
        uint64_t length = 0;
        size_t n;
        for (k = 0; k < 8; k++)
            length = (length << 8) | data[1 + k];
        switch (data[9] & 3) {
        case 0: length &= 0x7f; break;
        case 1: length &= 0xffff; break;
        case 2: length &= UINT64_C(0x7fffffffffffffff); break;
        default: length = (uint64_t)125 + (data[10] & 3); break;  /* the 125/126 edge */
        }
        n = wsfast_build_header(out, fin, rsv, opcode, length, masked ? data + 10 : NULL);
        CHECK(n == (length < 126 ? 2u : length < 65536 ? 4u : 10u) + (masked ? 4u : 0u));
        parse(out, n, 1, &back);
        check_against_reference(out, n, 1, &back);
        if (opcode >= 8 && !fin) {
            CHECK(back.status == WSFAST_E_CONTROL_FRAGMENTED);
        } else if (opcode >= 8 && length > 125) {
            CHECK(back.status == WSFAST_E_CONTROL_TOO_LONG);
        } else {
            CHECK(back.status == WSFAST_OK);
            CHECK(back.h.fin == fin && back.h.rsv == rsv && back.h.opcode == opcode);
            CHECK(back.h.masked == masked && back.h.length == length && back.h.size == n);
            CHECK(!masked || memcmp(back.h.mask, data + 10, 4) == 0);
        }
    }
    return 0;
}
