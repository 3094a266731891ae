/*
 * libFuzzer harness for wsfast_decode and wsfast_keep (the batch decoder).
 *
 * Input: byte 0 configures the decoder, byte 1 drives the chunking and the kernels, byte 2
 * the sinks, the scratch and the keep buffers, the rest is the byte stream received.  The
 * stream is decoded twice:
 *   - whole: one input, every record's payload checked against the stream's bytes unmasked
 *     by the reference (the harness walks the frames on the wire itself), and every error's
 *     value and position recomputed from the stream;
 *   - chunked: chunks of 0..N bytes chosen by a generator seeded from byte 1, each its own
 *     allocation, a scratch whose space starts small and grows on WSFAST_F_WANT_SPACE, keep
 *     buffers allocated as wsfast/_cbackend.py allocates them (exactly what is asked for, or the
 *     frame's whole length) and freed when the decoder releases them.
 * Both must give the same records (kind, close code, payload bytes) and the same error
 * (status, value, position), each run under a masking/UTF-8 kernel picked by byte 1.
 * Byte 2 turns on sinks (large frames received straight into a buffer of their own, as
 * wsfast/_cbackend.py does for 64 KiB-16 MiB frames) at small thresholds, and may refuse
 * them (the frame is then kept like a small one), so that a frame completed in its sink, an
 * error inside one, and the bytes after one are all compared too.  Every batch's layout (the
 * struct format Python unpacks payloads with) and shared kind are recomputed from its records.
 * Every record, every error and the decoder state are checked against invariants from RFC 6455
 * after every call.  Every buffer is an exact-size allocation, so ASan sees any byte written
 * past one; none is zeroed, so MSan (TARGET-msan) sees any read of a byte never written.
 */
#include "../csrc/wsfast.c"
#include "reference.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        CHECK(b->data != NULL);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

typedef struct {
    uint32_t flags, rsv_allowed;
    uint64_t max_frame, max_message;
    uint64_t sink_min, sink_max;
    size_t space;        /* the scratch space the chunked run starts with */
    int refuse_sinks;    /* answer a sink request with none: the frame is then kept */
    int keep_whole;      /* keep buffers of the frame's whole length (up to 1 MiB), not only
                          * what is asked */
} config_t;

/* One decoder, the scratch it is called with, and the buffers the harness has handed it, each
 * an exact-size allocation, none zeroed. */
typedef struct {
    const config_t *c;
    wsfast_decoder *d;
    wsfast_scratch *s;
    uint8_t *sink;
    uint8_t *keep;
} run_t;

typedef struct {
    bytes_t log;        /* every record: kind, close code, length, payload */
    bytes_t message;    /* the data message being reassembled */
    int message_text;   /* it is text and not compressed: validate it at its end */
    int32_t error;
    uint64_t value, position;
    int closed;
} result_t;

/* The whole run's own reading of the frames on the wire, to check payloads and errors
 * against: `at` is where the next frame (the first without a record) begins. */
typedef struct {
    const uint8_t *stream;
    size_t n, at;
} wire_t;

/* The frame at w->at as the harness reads it: its payload's offset, its length and its key
 * (NULL: unmasked).  0 when the stream ends inside its header. */
static int wire_frame(const wire_t *w, size_t *payload, uint64_t *length, const uint8_t **key)
{
    const uint8_t *p = w->stream + w->at;
    size_t avail = w->n - w->at, size = 2;
    uint64_t len;
    int k;

    if (avail < 2)
        return 0;
    len = p[1] & 0x7f;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        size = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        for (len = 0, k = 2; k < 10; k++)
            len = (len << 8) | p[k];
        size = 10;
    }
    *key = NULL;
    if (p[1] & 0x80) {
        if (avail < size + 4)
            return 0;
        *key = p + size;
        size += 4;
    }
    *payload = w->at + size;
    *length = len;
    return 1;
}

/* The header size of the frame at w->at. */
static size_t wire_size(const wire_t *w)
{
    size_t payload;
    uint64_t length;
    const uint8_t *key;

    CHECK(wire_frame(w, &payload, &length, &key));
    return payload - w->at;
}

/* The payload bytes of the frame at w->at that are in the stream, unmasked by the reference,
 * appended to out; returns how many. */
static size_t wire_payload(const wire_t *w, bytes_t *out)
{
    size_t payload, k, n;
    uint64_t length;
    const uint8_t *key;

    CHECK(wire_frame(w, &payload, &length, &key));
    n = w->n - payload < length ? w->n - payload : (size_t)length;
    for (k = 0; k < n; k++) {
        uint8_t b = (uint8_t)(w->stream[payload + k] ^ (key ? key[k & 3] : 0));
        put(out, &b, 1);
    }
    return n;
}

static int data_opcode(uint32_t op) { return op == 0 || op == 1 || op == 2; }
static int control_opcode(uint32_t op) { return op == 8 || op == 9 || op == 10; }

/* The state between calls. */
static void check_state(const run_t *R)
{
    const wsfast_decoder *d = R->d;

    CHECK(d->head_size < 14);
    CHECK(d->keep == R->keep);
    CHECK(d->keep_capacity == 0 || d->keep != NULL);
    if (d->head_size > 0)
        CHECK(!d->frame_open);
    if (d->frame_open) {
        /* a frame complete in the input is never left open (but on an error) */
        CHECK(d->error || d->frame_done < d->frame_length);
        CHECK(d->frame_done <= d->frame_length);
        CHECK(d->frame_length <= d->max_frame);
        if (d->sink != NULL) {
            CHECK(d->sink == R->sink);
            CHECK(d->frame_length >= d->sink_min && d->frame_length <= d->sink_max);
            CHECK((d->frame_kind & 0x0f) < 8);
        } else if (d->frame_done > 0 && !d->error) {
            /* (a frame failing once complete has its bytes in the space) */
            CHECK(d->frame_done <= d->keep_capacity);
        }
    } else {
        CHECK(d->sink == NULL);
    }
    CHECK(d->message_opcode <= 2);
    CHECK(d->utf8_state <= WSFAST_UTF8_REJECT);
    CHECK(d->message_size <= d->max_message || d->message_opcode == 0);
}

/* The batch's layout, written again from its records: "5x" for the space's head, then
 * "5x<n>s" for each payload in the space (the sink's frame left out); and the kind all share. */
static void check_layout(const wsfast_scratch *s, int count, int from)
{
    char want[WSFAST_MAX_RECORDS * 26 + 2];
    size_t n = 0;
    uint32_t same = s->records[0].kind;
    int i;

    if (count > from)
        n += (size_t)snprintf(want, sizeof want, "5x");
    for (i = 0; i < count; i++) {
        const wsfast_record *rec = &s->records[i];
        if (rec->kind != same)
            same = WSFAST_MIXED_KINDS;
        if (i >= from)
            n += (size_t)snprintf(want + n, sizeof want - n, "5x%llus",
                                  (unsigned long long)rec->length);
    }
    CHECK(s->layout_size == n);
    CHECK(memcmp(s->layout, want, n) == 0);
    CHECK(s->same_kind == same);
    if (count > from)
        CHECK(s->first_length == s->records[from].length);
}

/* Whether every payload in the space is short enough for marshal to read. */
static int marshal_reads_all(const wsfast_scratch *s, int count, int from)
{
    int i;
    for (i = from; i < count; i++)
        if (s->records[i].length > 0x7fffffff)
            return 0;
    return 1;
}

/* One batch of records.  `w`: the whole run, whose payloads are checked against the wire. */
static void take_records(const run_t *R, int count, result_t *r, wire_t *w)
{
    const wsfast_decoder *d = R->d;
    const wsfast_scratch *s = R->s;
    const uint8_t *space = (const uint8_t *)(s + 1);
    int in_sink = (s->flags & WSFAST_F_SINK_RECORD) != 0;
    uint64_t packed = WSFAST_SPACE_HEAD;
    int i;

    if (in_sink) {
        /* the frame open when the call began, completed in its sink */
        CHECK(count >= 1);
        CHECK(s->records[0].offset == 0);
        CHECK(s->records[0].length >= d->sink_min && s->records[0].length <= d->sink_max);
        CHECK(R->sink != NULL);
    }
    if (count > 0)
        check_layout(s, count, in_sink);
    CHECK(((s->flags & WSFAST_F_MARSHAL) != 0) ==
          (count > in_sink && marshal_reads_all(s, count, in_sink)));
    if (s->flags & WSFAST_F_MARSHAL) {
        /* the space's head: marshal's tuple of that many items */
        CHECK(space[0] == '(');
        CHECK(((uint32_t)space[1] | (uint32_t)space[2] << 8 | (uint32_t)space[3] << 16 |
               (uint32_t)space[4] << 24) == (uint32_t)(count - in_sink));
    }
    for (i = 0; i < count; i++) {
        const wsfast_record *rec = &s->records[i];
        uint32_t op = rec->kind & 0x0f;
        int sunk = in_sink && i == 0;
        const uint8_t *payload = sunk ? R->sink : space + rec->offset;
        uint32_t code32 = rec->close_code;
        uint64_t length = rec->length;

        if (!sunk) {
            /* payloads one after another from the start of the space, each after its head:
             * 'u' for a whole text message when the decoder asks for str (marshal's str from
             * UTF-8), else 's', and its length (little-endian, 0 when over 2**31 - 1) */
            const uint8_t *head = space + packed;
            int text = rec->kind == (WSFAST_R_TEXT | WSFAST_R_FIRST | WSFAST_R_FIN | 1) &&
                       (d->flags & WSFAST_STR_TEXT);
            uint64_t n32 = rec->length <= 0x7fffffff ? rec->length : 0;
            CHECK(rec->offset == packed + WSFAST_ITEM_HEAD);
            CHECK(rec->offset + rec->length <= s->capacity);
            CHECK(head[0] == (text ? 'u' : 's'));
            CHECK(((uint64_t)head[1] | (uint64_t)head[2] << 8 | (uint64_t)head[3] << 16 |
                   (uint64_t)head[4] << 24) == n32);
            packed = rec->offset + rec->length;
        }
        CHECK(data_opcode(op) || control_opcode(op));
        CHECK((rec->kind & ~(uint32_t)0xff) == 0);
        CHECK(rec->length <= d->max_frame);
        CHECK(!r->closed);  /* nothing after a close frame */

        if (w != NULL) {
            /* The payload is the next frame's on the wire, unmasked by the reference. */
            bytes_t wire = {0};
            CHECK(wire_payload(w, &wire) == rec->length);
            CHECK(rec->length == 0 || memcmp(wire.data, payload, (size_t)rec->length) == 0);
            CHECK(((w->stream[w->at] & 0x80) != 0) == ((rec->kind & WSFAST_R_FIN) != 0));
            CHECK((w->stream[w->at] & 0x0f) == op);
            w->at = w->at + wire_size(w) + (size_t)rec->length;
            free(wire.data);
        }

        if (control_opcode(op)) {
            /* 5.5: control frames are final, short, and never part of a message. */
            CHECK(rec->kind & WSFAST_R_FIN);
            CHECK((rec->kind & (WSFAST_R_FIRST | WSFAST_R_TEXT | WSFAST_R_RSV1)) == 0);
            CHECK(rec->length <= 125);
            if (op == 8) {
                /* 5.5.1 and 7.4: empty, or a valid code and a UTF-8 reason. */
                int complete = 0;
                CHECK(rec->length != 1);
                if (rec->length == 0) {
                    CHECK(rec->close_code == 0);
                } else {
                    uint32_t code = ((uint32_t)payload[0] << 8) | payload[1];
                    CHECK(rec->close_code == code);
                    CHECK((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                          (code >= 3000 && code <= 4999));
                    CHECK(ref_utf8(payload + 2, (size_t)rec->length - 2, &complete) ==
                          rec->length - 2);
                    CHECK(complete);
                }
                r->closed = 1;
            } else {
                CHECK(rec->close_code == 0);
            }
        } else {
            CHECK(rec->close_code == 0);
            if (op != 0) {
                CHECK(rec->kind & WSFAST_R_FIRST);
                CHECK(r->message.len == 0);
                r->message_text = op == 1 && !(rec->kind & WSFAST_R_RSV1);
                CHECK(((rec->kind & WSFAST_R_TEXT) != 0) == (op == 1));
            } else {
                CHECK(!(rec->kind & WSFAST_R_FIRST));
            }
            CHECK((rec->kind & WSFAST_R_RSV1) == 0 || (d->rsv_allowed & 0x40));
            put(&r->message, payload, (size_t)rec->length);
            CHECK(r->message.len <= d->max_message);
            if (rec->kind & WSFAST_R_FIN) {
                if (r->message_text) {
                    int complete = 0;
                    CHECK(ref_utf8(r->message.data, r->message.len, &complete) ==
                          r->message.len);
                    CHECK(complete);
                }
                r->message.len = 0;
            }
        }
        put(&r->log, &rec->kind, 4);
        put(&r->log, &code32, 4);
        put(&r->log, &length, 8);
        put(&r->log, payload, (size_t)rec->length);
    }
}

/* After the whole run fails: the error agrees with the reference, recomputed from the frame on
 * the wire it stopped in. */
static void check_error(const wsfast_decoder *d, result_t *r, const wire_t *w)
{
    int complete = 0;
    size_t at;

    CHECK(d->error <= -1 && d->error >= -17);
    if (d->error == WSFAST_E_INVALID_UTF8) {
        /* The message so far plus what the stream holds of the open frame's payload. */
        size_t upto = wire_payload(w, &r->message);
        CHECK(d->frame_open);
        CHECK(r->message_text || (d->frame_kind & 0x0f) == 1);
        at = ref_utf8(r->message.data, r->message.len, &complete);
        if (at < r->message.len) {
            CHECK(d->error_position == at);
        } else {
            /* the message ended inside a code point */
            CHECK(!complete);
            CHECK(d->frame_kind & WSFAST_R_FIN);
            CHECK(upto == d->frame_length);
            CHECK(d->frame_done == d->frame_length);
            CHECK(d->error_position == r->message.len);
        }
    } else if (d->error == WSFAST_E_CLOSE_UTF8) {
        bytes_t close = {0};
        CHECK(wire_payload(w, &close) == d->frame_length);
        at = ref_utf8(close.data + 2, close.len - 2, &complete);
        CHECK(at < close.len - 2 ? d->error_position == at
                                 : (!complete && d->error_position == close.len - 2));
        free(close.data);
    } else if (d->error == WSFAST_E_CLOSE_CODE) {
        uint64_t c = d->error_value;
        CHECK(!((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
                (c >= 3000 && c <= 4999)));
    } else if (d->error == WSFAST_E_FRAME_TOO_BIG) {
        CHECK(d->error_value > d->max_frame);
    } else if (d->error == WSFAST_E_MESSAGE_TOO_BIG) {
        CHECK(d->error_value > d->max_message);
    } else if (d->error == WSFAST_E_AFTER_CLOSE) {
        CHECK(r->closed);
    } else if (d->error == WSFAST_E_CONTROL_TOO_LONG) {
        CHECK(d->error_value > 125 && d->error_value <= 127);
    } else if (d->error == WSFAST_E_LENGTH_MSB) {
        CHECK(d->error_value >> 63);
    }
}

static wsfast_scratch *new_scratch(uint64_t capacity)
{
    /* malloc, not calloc, as the Python side allocates it */
    wsfast_scratch *s = malloc(sizeof *s + (size_t)capacity);
    CHECK(s != NULL);
    s->capacity = capacity;
    return s;
}

/* Decode one input, serving every request the way wsfast/_cbackend.py does, until the call
 * returns without WSFAST_AGAIN.  -1 when it failed. */
static int feed(run_t *R, const uint8_t *input, size_t len, result_t *r, wire_t *w)
{
    static const uint8_t nothing[1] = {0};
    wsfast_decoder *d = R->d;
    int rc = wsfast_decode(d, R->s, input, len);

    for (;;) {
        wsfast_scratch *s = R->s;
        uint32_t wants = s->flags & (WSFAST_F_WANT_SINK | WSFAST_F_WANT_ROOM |
                                     WSFAST_F_WANT_SPACE);
        int again, count;

        if (rc == 1 + WSFAST_ONE_TEXT || rc == 1 + WSFAST_ONE_BINARY) {
            /* one whole message, nothing else, nothing asked: only when the decoder asks for
             * these codes, and exactly then */
            uint32_t kind = rc == 1 + WSFAST_ONE_TEXT
                                ? (WSFAST_R_TEXT | WSFAST_R_FIRST | WSFAST_R_FIN | 1)
                                : (WSFAST_R_FIRST | WSFAST_R_FIN | 2);
            CHECK(d->flags & WSFAST_ONE_CODES);
            CHECK(s->flags == WSFAST_F_MARSHAL && s->records[0].kind == kind);
            CHECK(d->skip == 0);
            rc = 1;
        } else if (rc == 1 && (d->flags & WSFAST_ONE_CODES)) {
            /* a code was due unless the record or the call was something else */
            CHECK(s->flags != WSFAST_F_MARSHAL ||
                  (s->records[0].kind != (WSFAST_R_TEXT | WSFAST_R_FIRST | WSFAST_R_FIN | 1) &&
                   s->records[0].kind != (WSFAST_R_FIRST | WSFAST_R_FIN | 2)));
        }
        again = rc >= WSFAST_AGAIN;
        count = rc < 0 ? -rc - 16 : again ? rc - WSFAST_AGAIN : rc;

        CHECK(count >= 0 && count <= WSFAST_MAX_RECORDS);
        CHECK((rc < 0) == (d->error != 0));
        take_records(R, count, r, w);
        if (s->flags & WSFAST_F_SINK_RECORD) {
            CHECK(d->sink == NULL);
            free(R->sink);
            R->sink = NULL;
        }
        if (s->flags & WSFAST_F_RELEASED) {
            /* nothing kept: the buffer is ours to free */
            CHECK(d->keep == NULL && d->keep_capacity == 0 && R->keep != NULL);
            CHECK(!d->frame_open || d->sink != NULL || d->frame_done == 0);
            free(R->keep);
            R->keep = NULL;
        }
        check_state(R);
        if (rc < 0) {
            r->error = d->error;
            r->value = d->error_value;
            r->position = d->error_position;
            /* the error is sticky */
            CHECK(wsfast_decode(d, s, nothing, 1) == -16);
            CHECK(wsfast_decode(d, s, nothing, 0) == -16);
            return -1;
        }
        if (!again) {
            CHECK(wants == 0 && d->skip == 0);
            /* a keep buffer exactly while a frame's bytes are kept in it */
            CHECK((d->keep != NULL) == (d->frame_open && d->sink == NULL && d->frame_done > 0));
            return 0;
        }
        CHECK(d->skip <= len);
        CHECK(wants == 0 || wants == WSFAST_F_WANT_SINK || wants == WSFAST_F_WANT_ROOM ||
              wants == WSFAST_F_WANT_SPACE);
        if (wants == WSFAST_F_WANT_SINK) {
            /* A large frame opened before its payload arrived. */
            CHECK(d->frame_open && d->sink == NULL && R->sink == NULL);
            CHECK(s->want == d->frame_length && d->frame_done == 0);
            CHECK(d->frame_length >= d->sink_min && d->frame_length <= d->sink_max);
            if (!R->c->refuse_sinks) {
                R->sink = malloc((size_t)s->want);
                CHECK(R->sink != NULL);
                d->sink = R->sink;
            }
        } else if (wants == WSFAST_F_WANT_ROOM) {
            /* the whole frame only up to a bound, as _cbackend.py (a bare header must not
             * make us allocate what it declares) */
            uint64_t capacity =
                R->c->keep_whole && d->frame_length <= (1 << 20) ? d->frame_length : s->want;
            uint8_t *buffer;
            CHECK(d->frame_open && d->sink == NULL);
            CHECK(s->want > d->keep_capacity && s->want < d->frame_length);
            CHECK(s->want >= d->frame_done);
            buffer = malloc((size_t)capacity);
            CHECK(buffer != NULL);
            if (d->frame_done > 0)  /* too small for what is kept: nothing changes */
                CHECK(wsfast_keep(d, buffer, d->frame_done - 1) == -1);
            CHECK(d->keep == R->keep);
            CHECK(wsfast_keep(d, buffer, capacity) == 0);
            free(R->keep);
            R->keep = buffer;
        } else if (wants == WSFAST_F_WANT_SPACE) {
            /* a complete frame the space cannot hold, with nothing else in it */
            uint64_t want = s->want;
            CHECK(want > s->capacity);
            free(R->s);
            R->s = new_scratch(want);
        } else {
            /* the records or the space filled up */
            CHECK(count > 0);
        }
        check_state(R);
        rc = wsfast_decode(d, R->s, input, len);
    }
}

static void start(run_t *R, const config_t *c, uint64_t space)
{
    wsfast_decoder *d = calloc(1, sizeof *d);
    CHECK(d != NULL);
    d->flags = c->flags;
    d->rsv_allowed = c->rsv_allowed;
    d->max_frame = c->max_frame;
    d->max_message = d->max_compressed = c->max_message;
    d->sink_min = c->sink_min;
    d->sink_max = c->sink_max;
    R->c = c;
    R->d = d;
    R->s = new_scratch(space);
    R->sink = R->keep = NULL;
}

static void stop(run_t *R)
{
    free(R->d);
    free(R->s);
    free(R->sink);  /* a frame left open (truncated input, or an error) */
    free(R->keep);
}

static void run_whole(const config_t *c, const uint8_t *stream, size_t n, result_t *r)
{
    run_t R;
    wire_t w;

    w.stream = stream;
    w.n = n;
    w.at = 0;
    start(&R, c, n);
    if (feed(&R, stream, n, r, &w) < 0)
        check_error(R.d, r, &w);
    stop(&R);
}

static void run_chunked(const config_t *c, const uint8_t *stream, size_t n, uint8_t seed,
                        result_t *r)
{
    static const size_t largest[4] = {1, 7, 64, 4096};
    run_t R;
    uint32_t rng = 0x01000193u * (seed + 1u);
    size_t pos = 0;

    start(&R, c, c->space);
    while (pos < n) {
        size_t len = 1 + ref_rand(&rng) % largest[seed & 3];
        uint8_t *copy;
        int rc;
        if (ref_rand(&rng) % 16 == 0)
            len = 0;
        if (len > n - pos)
            len = n - pos;
        /* a chunk of its own, so ASan sees any read past the end of it */
        copy = malloc(len ? len : 1);
        CHECK(copy != NULL);
        memcpy(copy, stream + pos, len);
        rc = feed(&R, copy, len, r, NULL);
        free(copy);
        pos += len;
        if (rc < 0)
            break;
        if ((ref_rand(&rng) & 3) == 0) {
            /* The next call gets another scratch (the pool's), as it may from Python. */
            free(R.s);
            R.s = new_scratch(c->space);
        }
    }
    stop(&R);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t frame_limits[4] = {UINT64_MAX, 0, 125, 1000};
    static const uint64_t message_limits[4] = {UINT64_MAX, 0, 200, 70000};
    static const size_t spaces[4] = {0, 16, 256, 65536};
    static const uint64_t sink_mins[4] = {0, 1, 126, 1000};  /* 0: no sinks */
    static const uint64_t sink_maxs[2] = {300, 1 << 20};
    config_t c;
    result_t whole, chunked;
    uint8_t flags, seed;
    int kernels[8], nkernels;

    if (size < 3)
        return 0;
    flags = data[0];
    seed = data[1];
    c.sink_min = sink_mins[data[2] & 3];
    c.sink_max = sink_maxs[(data[2] >> 2) & 1];
    c.refuse_sinks = (data[2] >> 3) & 1;
    c.keep_whole = (data[2] >> 4) & 1;
    c.flags = flags & 3;  /* WSFAST_CLIENT | WSFAST_STRICT */
    /* the flags the Python side sets: str framing for text, one-message codes */
    c.flags |= (seed & 1) ? WSFAST_STR_TEXT : 0;
    c.flags |= (seed & 2) ? WSFAST_ONE_CODES : 0;
    c.rsv_allowed = (flags & 4) ? 0x40 : 0;
    c.max_frame = frame_limits[(flags >> 3) & 3];
    c.max_message = message_limits[(flags >> 5) & 3];
    c.space = spaces[(seed >> 2) & 3];

    /* Each run under a kernel chosen by the input (bits 4-7 of byte 1), so the comparison
     * below also holds every SIMD kernel to every other and to the scalar one. */
    nkernels = ref_kernels(kernels);
    memset(&whole, 0, sizeof whole);
    memset(&chunked, 0, sizeof chunked);
    ref_use_kernel(kernels[((seed >> 4) & 3) % nkernels]);
    run_whole(&c, data + 3, size - 3, &whole);
    ref_use_kernel(kernels[(seed >> 6) % nkernels]);
    run_chunked(&c, data + 3, size - 3, seed, &chunked);

    /* Any chunking, the same records and the same error (5.4: the result never depends on how
     * the bytes arrived). */
    CHECK(whole.log.len == chunked.log.len);
    CHECK(whole.log.len == 0 || memcmp(whole.log.data, chunked.log.data, whole.log.len) == 0);
    CHECK(whole.error == chunked.error);
    CHECK(whole.value == chunked.value);
    CHECK(whole.position == chunked.position);

    free(whole.log.data);
    free(whole.message.data);
    free(chunked.log.data);
    free(chunked.message.data);
    return 0;
}
