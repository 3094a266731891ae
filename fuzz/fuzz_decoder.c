/*
 * libFuzzer harness for wsfast_decode and wsfast_move_buffer (the batch decoder).
 *
 * Input: byte 0 configures the decoder, byte 1 drives the chunking and the kernels, byte 2
 * the sinks, the rest is the byte stream received.  The stream is decoded twice:
 *   - whole: one call, a buffer exactly as large as the stream (offsets are stream offsets, so
 *     every payload is checked against the stream, unmasked by the reference);
 *   - chunked: chunks of 0..N bytes chosen by a generator seeded from byte 1, into a buffer that
 *     starts small and grows on WSFAST_NEED_ROOM the way wsfast/_cbackend.py grows it (a new
 *     allocation, wsfast_move_buffer, the old one freed), and shrinks again when idle.
 * Both must give the same records (kind, close code, payload bytes) and the same error
 * (status, value, position), each run under a masking/UTF-8 kernel picked by byte 1.
 * Byte 2 turns on sinks (large frames received straight into a buffer of their own, as
 * wsfast/_cbackend.py does for 64 KiB-16 MiB frames) at small thresholds, and chooses how the
 * call after a sink request looks (empty, or carrying the next chunk), so that a frame
 * completed in its sink, an error inside one, and the bytes after one are all compared too.
 * Every batch's layout (the struct format Python unpacks payloads with) and shared kind are
 * recomputed from its records.  Every record, every error and the decoder state are checked
 * against invariants from RFC 6455 after every call.
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
    size_t initial_capacity;
} config_t;

/* The sink handed to the decoder for the frame it asked one for: an exact-size allocation, so
 * ASan sees any byte written past it. */
static uint8_t *sink;
/* Answer a sink request by passing the next chunk with the call that follows, instead of an
 * empty call first (what wsfast/_cbackend.py does): the header allows both. */
static int sink_with_input;
/* A sink was set and the call that fills it is still to come. */
static int sink_waiting;

typedef struct {
    bytes_t log;        /* every record: kind, close code, length, payload */
    bytes_t message;    /* the data message being reassembled */
    int message_text;   /* it is text and not compressed: validate it at its end */
    int32_t error;
    uint64_t value, position;
    int closed;
} result_t;

static int data_opcode(uint32_t op) { return op == 0 || op == 1 || op == 2; }
static int control_opcode(uint32_t op) { return op == 8 || op == 9 || op == 10; }

/* The state between calls. */
static void check_state(const wsfast_decoder *d)
{
    CHECK(d->begin <= d->end);
    CHECK(d->end <= d->capacity);
    if (d->frame_open && d->sink != NULL) {
        /* its payload goes to the sink: the buffer holds at most its header */
        CHECK(d->sink == sink);
        CHECK(d->frame_done <= d->frame_length);
        CHECK(d->frame_length >= d->sink_min && d->frame_length <= d->sink_max);
        CHECK((d->frame_kind & 0x0f) < 8);
    } else if (d->frame_open) {
        CHECK(d->frame_payload >= d->begin + 2);
        CHECK(d->frame_payload <= d->begin + 14);
        CHECK(d->frame_done <= d->frame_length);
        CHECK(d->frame_payload + d->frame_done <= d->end);
        CHECK(d->frame_length <= d->max_frame);
    } else {
        CHECK(d->sink == NULL);
    }
    CHECK(d->message_opcode <= 2);
    CHECK(d->utf8_state <= WSFAST_UTF8_REJECT);
    CHECK(d->message_size <= d->max_message || d->message_opcode == 0);
}

/* The batch's layout, written again from its records: for each, the bytes skipped since the
 * previous payload ("<n>x", left out when 0) and its payload ("<n>s"); and the kind all share. */
static void check_layout(const wsfast_decoder *d, int count)
{
    char want[WSFAST_MAX_RECORDS * 48];
    size_t n = 0;
    uint32_t same = d->records[0].kind;
    int i;

    for (i = 0; i < count; i++) {
        const wsfast_record *rec = &d->records[i];
        if (i > 0) {
            uint64_t gap = rec->offset - (rec[-1].offset + rec[-1].length);
            if (gap)
                n += (size_t)snprintf(want + n, sizeof want - n, "%llux", (unsigned long long)gap);
            if (rec->kind != same)
                same = WSFAST_MIXED_KINDS;
        }
        n += (size_t)snprintf(want + n, sizeof want - n, "%llus", (unsigned long long)rec->length);
    }
    CHECK(d->layout_size == n);
    CHECK(memcmp(d->layout, want, n) == 0);
    CHECK(d->same_kind == same);
}

/* One batch of records.  `whole`: buffer offsets are stream offsets. */
static void take_records(const wsfast_decoder *d, int count, result_t *r, const uint8_t *stream,
                         int whole)
{
    uint64_t previous_end = 0;
    int i;

    if (d->sink_record) {
        /* one frame, completed in its sink; the layout is not used for it */
        CHECK(count == 1);
        CHECK(d->records[0].offset == 0);
        CHECK(d->records[0].length >= d->sink_min && d->records[0].length <= d->sink_max);
    } else if (count > 0) {
        check_layout(d, count);
    }
    for (i = 0; i < count; i++) {
        const wsfast_record *rec = &d->records[i];
        uint32_t op = rec->kind & 0x0f;
        const uint8_t *payload = d->sink_record ? sink : d->buffer + rec->offset;
        uint32_t code32 = rec->close_code;
        uint64_t length = rec->length;

        if (!d->sink_record) {
            CHECK(rec->offset >= previous_end);
            CHECK(rec->offset + rec->length <= d->end);
            CHECK(rec->offset >= 2);
            previous_end = rec->offset + rec->length;
        }
        CHECK(data_opcode(op) || control_opcode(op));
        CHECK((rec->kind & ~(uint32_t)0xff) == 0);
        CHECK(rec->length <= d->max_frame);
        CHECK(!r->closed);  /* nothing after a close frame */

        if (whole && !d->sink_record) {
            /* The payload is the stream's bytes, unmasked with the key just before them. */
            const uint8_t *wire = stream + rec->offset;
            uint64_t k;
            if ((d->flags & WSFAST_CLIENT) == 0) {
                const uint8_t *key = wire - 4;
                for (k = 0; k < rec->length; k++)
                    CHECK(payload[k] == (uint8_t)(wire[k] ^ key[k & 3]));
            } else {
                CHECK(memcmp(payload, wire, (size_t)rec->length) == 0);
            }
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

/* After the whole run fails: the error agrees with the reference where it can be recomputed. */
static void check_error(const wsfast_decoder *d, result_t *r)
{
    int complete = 0;
    size_t at;

    CHECK(d->error <= -1 && d->error >= -17);
    if (d->error == WSFAST_E_INVALID_UTF8) {
        /* The message so far plus the open frame's payload that has arrived. */
        uint64_t arrived = d->end - d->frame_payload;
        uint64_t upto = arrived < d->frame_length ? arrived : d->frame_length;
        CHECK(d->frame_open);
        CHECK(r->message_text || (d->frame_kind & 0x0f) == 1);
        if (d->sink != NULL) {
            /* what arrived was unmasked into the (zeroed) sink: past it, zeros, valid UTF-8 */
            upto = d->frame_length;
            put(&r->message, sink, (size_t)upto);
        } else {
            put(&r->message, d->buffer + d->frame_payload, (size_t)upto);
        }
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
        const uint8_t *reason = d->buffer + d->frame_payload + 2;
        size_t n = (size_t)d->frame_length - 2;
        at = ref_utf8(reason, n, &complete);
        CHECK(at < n ? d->error_position == at : (!complete && d->error_position == n));
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

/* Collect the records of one wsfast_decode return value, resuming while the array fills. */
static int drain(wsfast_decoder *d, int rc, result_t *r, const uint8_t *stream, int whole)
{
    static const uint8_t nothing[1] = {0};

    for (;;) {
        int count;
        check_state(d);
        if (rc < 0) {
            CHECK(rc <= -16 && rc >= -(16 + WSFAST_MAX_RECORDS));
            count = -rc - 16;
            CHECK(d->error != 0);
            take_records(d, count, r, stream, whole);
            r->error = d->error;
            r->value = d->error_value;
            r->position = d->error_position;
            /* the error is sticky */
            CHECK(wsfast_decode(d, nothing, 1) == -16);
            CHECK(wsfast_decode(d, nothing, 0) == -16);
            return -1;
        }
        CHECK(rc <= WSFAST_MAX_RECORDS);
        CHECK(d->error == 0);
        take_records(d, rc, r, stream, whole);
        if (d->sink_record) {
            /* the frame is out of its sink; the bytes after it wait in the buffer */
            CHECK(d->sink == NULL && !d->frame_open);
            free(sink);
            sink = NULL;
        } else if (d->want_sink) {
            /* A large frame opened before its payload arrived: give it a sink, as the Python
             * side does, and go on.  Zeroed, so that an error check can read all of it. */
            CHECK(d->frame_open && sink == NULL && d->sink == NULL);
            CHECK(d->want_sink == d->frame_length);
            CHECK(d->frame_length >= d->sink_min && d->frame_length <= d->sink_max);
            CHECK(d->frame_done == 0 && d->end - d->frame_payload < d->frame_length);
            sink = calloc(1, (size_t)d->want_sink);
            CHECK(sink != NULL);
            d->sink = sink;
            d->want_sink = 0;
            if (sink_with_input && !whole) {
                sink_waiting = 1;
                return 0;
            }
        } else if (rc < WSFAST_MAX_RECORDS) {
            return 0;
        }
        rc = wsfast_decode(d, nothing, 0);
        CHECK(rc != -WSFAST_NEED_ROOM);
    }
}

static wsfast_decoder *new_decoder(const config_t *c, size_t capacity)
{
    wsfast_decoder *d = calloc(1, sizeof *d);
    CHECK(d != NULL);
    d->flags = c->flags;
    d->rsv_allowed = c->rsv_allowed;
    d->max_frame = c->max_frame;
    d->max_message = d->max_compressed = c->max_message;
    d->sink_min = c->sink_min;
    d->sink_max = c->sink_max;
    /* malloc, not calloc, as the Python side allocates it: a read of bytes the decoder never
     * wrote is reported by MSan (fuzz/run.sh run decoder-msan); ASan does not see it */
    d->buffer = malloc(capacity ? capacity : 1);
    CHECK(d->buffer != NULL);
    d->capacity = capacity;
    return d;
}

static void free_decoder(wsfast_decoder *d)
{
    free(d->buffer);
    free(d);
    free(sink);  /* a frame left open in its sink (truncated input, or an error) */
    sink = NULL;
}

static void run_whole(const config_t *c, const uint8_t *stream, size_t n, result_t *r)
{
    wsfast_decoder *d = new_decoder(c, n);
    int rc = wsfast_decode(d, stream, n);
    CHECK(rc != -WSFAST_NEED_ROOM);
    if (drain(d, rc, r, stream, 1) < 0)
        check_error(d, r);
    free_decoder(d);
}

static void run_chunked(const config_t *c, const uint8_t *stream, size_t n, uint8_t seed,
                        result_t *r)
{
    static const size_t largest[4] = {1, 7, 64, 4096};
    wsfast_decoder *d = new_decoder(c, c->initial_capacity);
    uint32_t rng = 0x01000193u * (seed + 1u);
    size_t pos = 0;

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
        rc = wsfast_decode(d, copy, len);
        if (rc == -WSFAST_NEED_ROOM) {
            uint64_t capacity = d->capacity * 2 > d->need ? d->capacity * 2 : d->need;
            uint8_t *bigger = malloc((size_t)capacity);
            uint8_t *old = d->buffer;
            CHECK(d->need > d->capacity);
            if (d->frame_open && d->sink != NULL)  /* room for what follows the sink's frame */
                CHECK(d->need == len - (d->frame_length - d->frame_done));
            else
                CHECK(d->need >= d->end - d->begin + len);
            CHECK(bigger != NULL);
            CHECK(wsfast_move_buffer(d, bigger, capacity) == 0);
            free(old);
            check_state(d);
            rc = wsfast_decode(d, copy, len);
            CHECK(rc != -WSFAST_NEED_ROOM);
        }
        free(copy);
        pos += len;
        sink_waiting = 0;
        if (drain(d, rc, r, stream, 0) < 0)
            break;
        if (pos == n && sink_waiting) {
            /* The input ended right after a sink was set: the call that fills it, which
             * validates the payload bytes already buffered, is still owed. */
            static const uint8_t nothing[1] = {0};
            sink_waiting = 0;
            if (drain(d, wsfast_decode(d, nothing, 0), r, stream, 0) < 0)
                break;
        }
        if (d->capacity > 256 && d->end - d->begin <= 16 && (ref_rand(&rng) & 1)) {
            /* Idle with a large buffer: move to a small one, as the Python side does. */
            uint8_t *small = malloc(16);
            uint8_t *old = d->buffer;
            CHECK(small != NULL);
            CHECK(wsfast_move_buffer(d, small, 16) == 0);
            free(old);
            check_state(d);
        }
    }
    free_decoder(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t frame_limits[4] = {UINT64_MAX, 0, 125, 1000};
    static const uint64_t message_limits[4] = {UINT64_MAX, 0, 200, 70000};
    static const size_t capacities[4] = {1, 16, 256, 65536};
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
    sink_with_input = (data[2] >> 3) & 1;
    c.flags = flags & 3;  /* WSFAST_CLIENT | WSFAST_STRICT */
    c.rsv_allowed = (flags & 4) ? 0x40 : 0;
    c.max_frame = frame_limits[(flags >> 3) & 3];
    c.max_message = message_limits[(flags >> 5) & 3];
    c.initial_capacity = capacities[(seed >> 2) & 3];

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
