/*
 * wsfast: the C hot path.  See wsfast.h for the contract of every exported function; each
 * one names its pure-Python twin in wsfast/_pure.py, which defines the results, the error
 * codes and the error positions this file must reproduce.
 *
 * Layout: scalar kernels (masking, UTF-8), then frame headers, then the batch decoder.
 */
#include "wsfast.h"

#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Masking (RFC 6455 5.3): byte i of the payload is XORed with mask[(phase + i) % 4].         */
/* ------------------------------------------------------------------------------------------ */

/* Twin: _pure.mask.  memcpy for every load and store: payloads sit at any alignment in the
 * receive buffer, and compilers turn fixed-size memcpy into single unaligned moves. */
static void mask_scalar(const uint8_t *src, uint8_t *dst, size_t len, const uint8_t *mask,
                        size_t phase)
{
    uint8_t key8[8];
    uint64_t key;
    size_t i = 0, j;

    for (j = 0; j < 8; j++)
        key8[j] = mask[(phase + j) & 3];
    memcpy(&key, key8, 8);
    /* Whole words keep the phase: 8 is a multiple of 4, so the tail starts at key8[0]. */
    for (; i + 32 <= len; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= key; b ^= key; c ^= key; d ^= key;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t a;
        memcpy(&a, src + i, 8);
        a ^= key;
        memcpy(dst + i, &a, 8);
    }
    for (j = 0; i < len; i++, j++)
        dst[i] = (uint8_t)(src[i] ^ key8[j]);
}

void wsfast_mask(const uint8_t *src, uint8_t *dst, size_t len, const uint8_t *mask, size_t phase)
{
    mask_scalar(src, dst, len, mask, phase & 3);
}

/* ------------------------------------------------------------------------------------------ */
/* UTF-8 (RFC 3629; Unicode 15 Table 3-7, well-formed byte sequences)                           */
/* ------------------------------------------------------------------------------------------ */

/* Byte classes:
 *   0  00..7F  0xxxxxxx             ASCII
 *   1  80..8F  10xxxxxx             continuation, low
 *   2  90..9F  10xxxxxx             continuation, middle
 *   3  A0..BF  10xxxxxx             continuation, high
 *   4  C0 C1 F5..FF                 never valid (overlong 2-byte leads, beyond U+10FFFF)
 *   5  C2..DF  110xxxxx             lead of 2
 *   6  E0      11100000             lead of 3, second byte A0..BF (no overlongs)
 *   7  E1..EC EE EF                 lead of 3
 *   8  ED      11101101             lead of 3, second byte 80..9F (no surrogates)
 *   9  F0      11110000             lead of 4, second byte 90..BF (no overlongs)
 *  10  F1..F3                       lead of 4
 *  11  F4      11110100             lead of 4, second byte 80..8F (nothing above U+10FFFF)
 */
static const uint8_t utf8_class[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    4,4,5,5,5,5,5,5,5,5,5,5,5,5,5,5, 5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,
    6,7,7,7,7,7,7,7,7,7,7,7,7,8,7,7, 9,10,10,10,11,4,4,4,4,4,4,4,4,4,4,4,
};

/* States: 0 on a boundary; 1 one continuation due; 2 two due; 3 after E0; 4 after ED;
 * 5 three due; 6 after F0; 7 after F4; 8 rejected.  Twin: _pure._UTF8_NEXT. */
#define R 8
static const uint8_t utf8_next[9][12] = {
    /*        asc lo  mid hi  bad  2   E0  3   ED  F0  4   F4 */
    /* 0 */ { 0,  R,  R,  R,  R,   1,  3,  2,  4,  6,  5,  7 },
    /* 1 */ { R,  0,  0,  0,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 2 */ { R,  1,  1,  1,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 3 */ { R,  R,  R,  1,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 4 */ { R,  1,  1,  R,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 5 */ { R,  2,  2,  2,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 6 */ { R,  R,  2,  2,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 7 */ { R,  2,  R,  R,  R,   R,  R,  R,  R,  R,  R,  R },
    /* 8 */ { R,  R,  R,  R,  R,   R,  R,  R,  R,  R,  R,  R },
};
#undef R

/* Scalar validator: the reference the vector kernels fall back to for exact positions.
 * Returns the index of the rejecting byte, or len. */
static size_t utf8_scalar(uint32_t *state, const uint8_t *data, size_t len)
{
    uint32_t s = *state;
    size_t i = 0;

    while (i < len) {
        if (s == 0) {
            /* On a boundary, skip ASCII a word at a time. */
            while (i + 8 <= len) {
                uint64_t w;
                memcpy(&w, data + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == len)
                break;
        }
        s = utf8_next[s][utf8_class[data[i]]];
        if (s == WSFAST_UTF8_REJECT) {
            *state = s;
            return i;
        }
        i++;
    }
    *state = s;
    return len;
}

int wsfast_utf8_feed(uint32_t *state, const uint8_t *data, size_t len, size_t *error_index)
{
    size_t at;

    if (*state == WSFAST_UTF8_REJECT) {
        *error_index = 0;
        return -1;
    }
    at = utf8_scalar(state, data, len);
    if (at < len) {
        *error_index = at;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Frame headers (RFC 6455 5.2)                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 *   byte 0: FIN RSV1 RSV2 RSV3 opcode(4)
 *   byte 1: MASK payload-len(7)      126: 16-bit length follows, 127: 64-bit length follows
 *   then the extended length (network order), then the 4-byte masking key if MASK.
 *
 * Checks run in byte order, each as soon as its byte is available, so the first violation
 * reported never depends on how the input was split.  `dec` adds the decoder's own checks
 * (RSV bits, fragment sequencing, masking direction, size limits); NULL for parse_header.
 */
static int read_header(const uint8_t *p, size_t avail, int strict, const wsfast_decoder *dec,
                       wsfast_header *h, uint64_t *value)
{
    uint8_t b0, b1, len7;
    uint64_t length;
    size_t size;
    int control;

    if (avail < 1)
        return WSFAST_NEED_MORE;
    b0 = p[0];
    h->fin = b0 >> 7;
    h->rsv = b0 & 0x70;
    h->opcode = b0 & 0x0f;
    control = h->opcode >= 8;
    /* 5.2: opcodes 3-7 and 11-15 are reserved. */
    if ((h->opcode >= 3 && h->opcode <= 7) || h->opcode >= 11) {
        *value = h->opcode;
        return WSFAST_E_RESERVED_OPCODE;
    }
    /* 5.5: control frames must not be fragmented. */
    if (control && !h->fin) {
        *value = h->opcode;
        return WSFAST_E_CONTROL_FRAGMENTED;
    }
    if (dec != NULL) {
        /* 5.2: RSV bits only with an extension that defines them, and (RFC 7692 6) only on
         * the first frame of a data message. */
        uint32_t allowed = (control || h->opcode == 0) ? 0 : dec->rsv_allowed;
        if (h->rsv & ~allowed) {
            *value = h->rsv & ~allowed;
            return WSFAST_E_RSV;
        }
        /* 5.4: continuations only inside a message, new data frames only outside one. */
        if (h->opcode == 0 && dec->message_opcode == 0)
            return WSFAST_E_UNEXPECTED_CONTINUATION;
        if ((h->opcode == 1 || h->opcode == 2) && dec->message_opcode != 0) {
            *value = h->opcode;
            return WSFAST_E_EXPECTED_CONTINUATION;
        }
    }

    if (avail < 2)
        return WSFAST_NEED_MORE;
    b1 = p[1];
    h->masked = b1 >> 7;
    len7 = b1 & 0x7f;
    if (dec != NULL) {
        /* 5.1: clients mask every frame, servers none. */
        if ((dec->flags & WSFAST_CLIENT) == 0 && !h->masked)
            return WSFAST_E_UNMASKED;
        if ((dec->flags & WSFAST_CLIENT) != 0 && h->masked)
            return WSFAST_E_MASKED;
    }
    /* 5.5: control frames carry at most 125 bytes. */
    if (control && len7 > 125) {
        *value = len7;
        return WSFAST_E_CONTROL_TOO_LONG;
    }

    if (len7 == 126) {
        if (avail < 4)
            return WSFAST_NEED_MORE;
        length = ((uint64_t)p[2] << 8) | p[3];
        size = 4;
        if (strict && length < 126) {
            *value = length;
            return WSFAST_E_NON_MINIMAL_LENGTH;
        }
    } else if (len7 == 127) {
        int k;
        if (avail < 10)
            return WSFAST_NEED_MORE;
        length = 0;
        for (k = 2; k < 10; k++)
            length = (length << 8) | p[k];
        size = 10;
        /* 5.2: the most significant bit of a 64-bit length must be 0. */
        if (length >> 63) {
            *value = length;
            return WSFAST_E_LENGTH_MSB;
        }
        if (strict && length < 65536) {
            *value = length;
            return WSFAST_E_NON_MINIMAL_LENGTH;
        }
    } else {
        length = len7;
        size = 2;
    }
    h->length = length;

    if (dec != NULL) {
        /* Limits are checked on the declared length, before any payload is buffered. */
        if (length > dec->max_frame) {
            *value = length;
            return WSFAST_E_FRAME_TOO_BIG;
        }
        if (!control) {
            uint64_t total = h->opcode == 0 ? dec->message_size + length : length;
            if (total > dec->max_message || total < length) {
                *value = total < length ? UINT64_MAX : total;
                return WSFAST_E_MESSAGE_TOO_BIG;
            }
        }
    }

    if (h->masked) {
        if (avail < size + 4)
            return WSFAST_NEED_MORE;
        memcpy(h->mask, p + size, 4);
        size += 4;
    } else {
        memset(h->mask, 0, 4);
    }
    h->size = (uint32_t)size;
    return WSFAST_OK;
}

int wsfast_parse_header(const uint8_t *data, size_t len, int strict, wsfast_header *out,
                        uint64_t *value)
{
    *value = 0;
    return read_header(data, len, strict, NULL, out, value);
}

size_t wsfast_build_header(uint8_t *out, int fin, int rsv, int opcode, uint64_t length,
                           const uint8_t *mask)
{
    size_t n;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0f));
    if (length < 126) {
        out[1] = (uint8_t)length;
        n = 2;
    } else if (length < 65536) {
        out[1] = 126;
        out[2] = (uint8_t)(length >> 8);
        out[3] = (uint8_t)length;
        n = 4;
    } else {
        int k;
        out[1] = 127;
        for (k = 0; k < 8; k++)
            out[2 + k] = (uint8_t)(length >> (56 - 8 * k));
        n = 10;
    }
    if (mask != NULL) {
        out[1] |= 0x80;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* The batch decoder                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* 7.4.1 and 7.4.2: the codes an endpoint may put on the wire. */
static int close_code_valid(uint32_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static int fail(wsfast_decoder *d, int code, uint64_t value, uint64_t position)
{
    d->error = code;
    d->error_value = value;
    d->error_position = position;
    return code;
}

/* Unmask and validate the payload bytes of the open frame that have arrived since the last
 * call, so that no byte is scanned twice however the frame is split. */
static int advance_payload(wsfast_decoder *d)
{
    uint64_t arrived = d->end - d->frame_payload;
    uint64_t upto = arrived < d->frame_length ? arrived : d->frame_length;
    uint64_t n = upto - d->frame_done;
    uint8_t *p = d->buffer + d->frame_payload + d->frame_done;

    if (n == 0)
        return 0;
    if ((d->flags & WSFAST_CLIENT) == 0)
        mask_scalar(p, p, (size_t)n, d->frame_mask, (size_t)(d->frame_done & 3));
    if ((d->frame_kind & (WSFAST_R_TEXT | WSFAST_R_RSV1)) == WSFAST_R_TEXT) {
        size_t at = utf8_scalar(&d->utf8_state, p, (size_t)n);
        if (at < n)
            return fail(d, WSFAST_E_INVALID_UTF8, 0, d->utf8_offset + at);
        d->utf8_offset += n;
    }
    d->frame_done = upto;
    return 0;
}

/* A control or data frame whose payload is complete: check what can only be checked whole,
 * and fill its record. */
static int finish_frame(wsfast_decoder *d, wsfast_record *r)
{
    uint32_t kind = d->frame_kind;
    uint8_t opcode = kind & 0x0f;
    const uint8_t *payload = d->buffer + d->frame_payload;

    r->offset = d->frame_payload;
    r->length = d->frame_length;
    r->kind = kind;
    r->close_code = 0;
    if (opcode == 8) {
        /* 5.5.1: empty, or a 2-byte code followed by a UTF-8 reason. */
        if (d->frame_length == 1)
            return fail(d, WSFAST_E_CLOSE_LENGTH, 1, 0);
        if (d->frame_length >= 2) {
            uint32_t code = ((uint32_t)payload[0] << 8) | payload[1];
            uint32_t state = WSFAST_UTF8_ACCEPT;
            size_t at;
            if (!close_code_valid(code))
                return fail(d, WSFAST_E_CLOSE_CODE, code, 0);
            at = utf8_scalar(&state, payload + 2, (size_t)d->frame_length - 2);
            if (at < d->frame_length - 2)
                return fail(d, WSFAST_E_CLOSE_UTF8, 0, at);
            if (state != WSFAST_UTF8_ACCEPT)
                return fail(d, WSFAST_E_CLOSE_UTF8, 0, d->frame_length - 2);
            r->close_code = code;
        }
        d->closed = 1;
    } else if (opcode < 8 && (kind & WSFAST_R_FIN)) {
        /* The message ends: text must end on a code point boundary. */
        if ((kind & (WSFAST_R_TEXT | WSFAST_R_RSV1)) == WSFAST_R_TEXT &&
            d->utf8_state != WSFAST_UTF8_ACCEPT)
            return fail(d, WSFAST_E_INVALID_UTF8, 0, d->utf8_offset);
        d->message_opcode = 0;
        d->message_rsv1 = 0;
        d->message_size = 0;
        d->utf8_state = WSFAST_UTF8_ACCEPT;
        d->utf8_offset = 0;
    }
    return 0;
}

/* Read the next frame header at d->begin and open the frame. */
static int open_frame(wsfast_decoder *d)
{
    wsfast_header h;
    uint64_t value = 0;
    uint32_t kind;
    int rc;

    if (d->closed)
        return fail(d, WSFAST_E_AFTER_CLOSE, 0, 0);
    rc = read_header(d->buffer + d->begin, (size_t)(d->end - d->begin),
                     (d->flags & WSFAST_STRICT) != 0, d, &h, &value);
    if (rc == WSFAST_NEED_MORE)
        return rc;
    if (rc < 0)
        return fail(d, rc, value, 0);

    kind = h.opcode | (h.fin ? WSFAST_R_FIN : 0);
    if (h.opcode < 8) {
        if (h.opcode != 0) {
            d->message_opcode = h.opcode;
            d->message_rsv1 = (h.rsv & 0x40) != 0;
            d->message_size = h.length;
            d->utf8_state = WSFAST_UTF8_ACCEPT;
            d->utf8_offset = 0;
            kind |= WSFAST_R_FIRST;
        } else {
            d->message_size += h.length;
        }
        if (d->message_opcode == 1)
            kind |= WSFAST_R_TEXT;
        if (d->message_rsv1)
            kind |= WSFAST_R_RSV1;
    }
    d->frame_open = 1;
    d->frame_payload = d->begin + h.size;
    d->frame_length = h.length;
    d->frame_done = 0;
    d->frame_kind = kind;
    memcpy(d->frame_mask, h.mask, 4);
    return WSFAST_OK;
}

int wsfast_decode(wsfast_decoder *d, const uint8_t *input, size_t len)
{
    int count = 0;

    if (d->error)
        return -16;
    if (len > 0) {
        if (d->begin == d->end && !d->frame_open) {
            d->begin = d->end = 0;
        }
        if (d->capacity - d->end < len) {
            if (d->begin > 0) {
                uint64_t shift = d->begin;
                memmove(d->buffer, d->buffer + shift, (size_t)(d->end - shift));
                d->end -= shift;
                d->begin = 0;
                if (d->frame_open)
                    d->frame_payload -= shift;
            }
            if (d->capacity - d->end < len) {
                d->need = d->end + len;
                return -WSFAST_NEED_ROOM;
            }
        }
        memcpy(d->buffer + d->end, input, len);
        d->end += len;
    }

    while (count < WSFAST_MAX_RECORDS) {
        if (!d->frame_open) {
            if (d->begin == d->end)
                break;
            if (open_frame(d) != WSFAST_OK)
                break;
        }
        if (advance_payload(d) != 0)
            break;
        if (d->frame_done < d->frame_length)
            break;
        if (finish_frame(d, &d->records[count]) != 0)
            break;
        count++;
        d->begin = d->frame_payload + d->frame_length;
        d->frame_open = 0;
    }
    return d->error ? -(count + 16) : count;
}

int wsfast_move_buffer(wsfast_decoder *d, uint8_t *buffer, uint64_t capacity)
{
    uint64_t shift = d->begin;
    uint64_t used = d->end - d->begin;

    if (used > capacity)
        return -1;
    memmove(buffer, d->buffer + shift, (size_t)used);
    d->buffer = buffer;
    d->capacity = capacity;
    d->begin = 0;
    d->end = used;
    if (d->frame_open)
        d->frame_payload -= shift;
    return 0;
}
