/*
 * wsfast: the C hot path of a WebSocket (RFC 6455) frame codec.
 *
 * No Python objects, no allocation, no mutable state outside the structs the caller owns.
 * Functions return status codes and positions; the Python layer (wsfast/_cbackend.py) turns
 * them into exceptions through one table, the same table the pure-Python twin (wsfast/_pure.py)
 * feeds.
 *
 * The part between "cdef begin" and "cdef end" is read verbatim by the cffi builder
 * (wsfast/_cffi_build.py), so it may only hold what cffi's cdef parser accepts: integer
 * #defines, typedefs and prototypes.
 */
#ifndef WSFAST_H
#define WSFAST_H

#include <stddef.h>
#include <stdint.h>

/* cdef begin */

/* Status codes.  0 is success, positive values are "not yet", negative values are protocol
 * errors; each error maps to one exception in wsfast/_codes.py. */
#define WSFAST_OK 0
#define WSFAST_NEED_MORE 1          /* parse_header: the header is incomplete */
#define WSFAST_AGAIN 512            /* added to wsfast_decode's count: call again */
/* With WSFAST_ONE_CODES, added to a count of 1 when the call completed one whole text (or
 * binary) message and nothing else, had nothing more to report (no flag but
 * WSFAST_F_MARSHAL) and consumed its input: the usual read of a live connection, which the
 * caller then reads without the scratch's summary. */
#define WSFAST_ONE_TEXT 1024
#define WSFAST_ONE_BINARY 2048

#define WSFAST_E_RESERVED_OPCODE -1        /* value: the opcode */
#define WSFAST_E_CONTROL_FRAGMENTED -2     /* value: the opcode */
#define WSFAST_E_CONTROL_TOO_LONG -3       /* value: the 7-bit length */
#define WSFAST_E_LENGTH_MSB -4             /* value: the 64-bit length */
#define WSFAST_E_NON_MINIMAL_LENGTH -5     /* value: the length */
#define WSFAST_E_RSV -6                    /* value: the RSV bits (0x40 = RSV1, 0x20, 0x10) */
#define WSFAST_E_UNMASKED -7               /* a server received an unmasked frame */
#define WSFAST_E_MASKED -8                 /* a client received a masked frame */
#define WSFAST_E_FRAME_TOO_BIG -9          /* value: the declared length */
#define WSFAST_E_MESSAGE_TOO_BIG -10       /* value: the message size it would reach */
#define WSFAST_E_UNEXPECTED_CONTINUATION -11
#define WSFAST_E_EXPECTED_CONTINUATION -12 /* value: the opcode received */
#define WSFAST_E_INVALID_UTF8 -13          /* position: index in the message */
#define WSFAST_E_CLOSE_LENGTH -14          /* a close payload of one byte */
#define WSFAST_E_CLOSE_CODE -15            /* value: the code */
#define WSFAST_E_CLOSE_UTF8 -16            /* position: index in the reason */
#define WSFAST_E_AFTER_CLOSE -17           /* bytes after a close frame */
#define WSFAST_E_INTERRUPTED -18           /* set by the caller, never by wsfast_decode: a call
                                            * that returned WSFAST_AGAIN was not repeated (an
                                            * exception), so the bytes it had not consumed
                                            * are lost to the decoder */

/* Decoder configuration flags. */
#define WSFAST_CLIENT 1          /* we are the client: frames must not be masked */
#define WSFAST_STRICT 2          /* reject lengths not in their minimal encoding */
#define WSFAST_STR_TEXT 4        /* whole text messages framed for marshal as str ('u') */
#define WSFAST_ONE_CODES 8       /* return WSFAST_ONE_TEXT / WSFAST_ONE_BINARY (see above) */

/* Frame record kinds: the low 4 bits are the frame's opcode, the flags say the rest. */
#define WSFAST_R_FIN 0x10        /* the frame had FIN set */
#define WSFAST_R_RSV1 0x20       /* the message's first frame had RSV1 (compressed) */
#define WSFAST_R_FIRST 0x40      /* first frame of a data message */
#define WSFAST_R_TEXT 0x80       /* data frame of a text message (continuations included) */

/* Scratch flags: what a wsfast_decode call reports besides its records. */
#define WSFAST_F_SINK_RECORD 1   /* records[0] is the frame completed in the sink */
#define WSFAST_F_RELEASED 2      /* d->keep was set to NULL: its bytes are no longer needed */
/* With WSFAST_AGAIN, at most one of these: what to serve before calling again. */
#define WSFAST_F_WANT_SINK 4     /* set d->sink to `want` bytes (see sink_min) */
#define WSFAST_F_WANT_ROOM 8     /* d->keep must hold `want` bytes (wsfast_keep) */
#define WSFAST_F_WANT_SPACE 16   /* the space must hold `want` bytes (a larger scratch) */
#define WSFAST_F_MARSHAL 32      /* the space reads as a marshal tuple of its payloads (see
                                  * below): none is longer than 2**31 - 1 bytes */

/* The space's framing (see wsfast_scratch): its first WSFAST_SPACE_HEAD bytes, then each
 * payload after WSFAST_ITEM_HEAD bytes of its own. */
#define WSFAST_SPACE_HEAD 5
#define WSFAST_ITEM_HEAD 5

#define WSFAST_MAX_RECORDS 256
#define WSFAST_MIXED_KINDS 0xffffffff

/* Kernels (instruction sets) for masking and UTF-8 validation, chosen at run time. */
#define WSFAST_KERNEL_BEST -1    /* wsfast_use_kernel: the best one this CPU runs */
#define WSFAST_KERNEL_SCALAR 0
#define WSFAST_KERNEL_SSE2 1     /* x86 baseline; UTF-8 with SSSE3 where the CPU has it */
#define WSFAST_KERNEL_AVX2 2     /* x86, checked with cpuid and the OS's XCR0 */
#define WSFAST_KERNEL_NEON 3     /* arm64 */

/* UTF-8 validator state: wsfast_utf8_feed's DFA state (0 = on a code point boundary). */
#define WSFAST_UTF8_ACCEPT 0
#define WSFAST_UTF8_REJECT 8

typedef struct {
    uint8_t fin;
    uint8_t rsv;          /* RSV1..3 as in the first byte: 0x40, 0x20, 0x10 */
    uint8_t opcode;
    uint8_t masked;
    uint8_t mask[4];
    uint64_t length;      /* payload length */
    uint32_t size;        /* header length, 2..14 */
} wsfast_header;

/* One complete frame found by wsfast_decode: its payload (unmasked) is
 * space[offset : offset + length] of the scratch, or the sink.  Read from Python with struct
 * format "=QQII". */
typedef struct {
    uint64_t offset;
    uint64_t length;
    uint32_t kind;        /* opcode | WSFAST_R_* flags */
    uint32_t close_code;  /* close frames: the code, or 0 for an empty payload */
} wsfast_record;

/* What one connection's decoder remembers between calls: its configuration, the frame and the
 * message in progress, and the bytes of a frame that has not arrived whole.  The caller
 * allocates it (ffi.new, zeroed) and fills the configuration.  Everything a call needs only
 * while it runs lives in a wsfast_scratch, which any number of decoders share. */
typedef struct {
    /* configuration, set once */
    uint32_t flags;          /* WSFAST_CLIENT | WSFAST_STRICT */
    uint32_t rsv_allowed;    /* RSV bits a negotiated extension may set on a first frame */
    uint64_t max_frame;      /* largest payload accepted in one frame */
    uint64_t max_message;    /* largest data message accepted */
    uint64_t max_compressed; /* largest compressed (RSV1) data message accepted, counted on the
                              * wire: its inflated size is bounded by the caller, as it inflates */
    /* Large frames skip every buffer: when a data frame of sink_min..sink_max bytes (sink_min
     * 0: never) opens and its payload has not all arrived, the call stops with
     * WSFAST_F_WANT_SINK and its length; the caller points sink at that many writable bytes
     * (the object the user will receive) and calls again.  Its payload then goes from the
     * input straight into the sink, unmasked and validated on the way, and when it is complete
     * it is records[0] of that call, with WSFAST_F_SINK_RECORD.  (sink_max bounds what a bare
     * header can make the caller reserve.) */
    uint64_t sink_min;
    uint64_t sink_max;
    uint8_t *sink;

    /* The bytes kept between calls: a frame whose header has been read and whose payload is
     * still arriving has frame_done bytes of it, unmasked and validated, in keep[0:frame_done]
     * (or in its sink); a header cut short by the end of the input waits in head. */
    uint8_t *keep;           /* NULL until a frame needs it; see WSFAST_F_WANT_ROOM, wsfast_keep */
    uint64_t keep_capacity;
    uint64_t frame_length;   /* the open frame's payload length */
    uint64_t frame_done;     /* its payload bytes received so far */
    uint32_t frame_kind;     /* record kind it will produce */
    uint8_t  frame_open;
    uint8_t  frame_mask[4];
    uint8_t  head_size;
    uint8_t  head[14];

    /* the data message in progress (fragments so far) */
    uint8_t  message_opcode; /* 0: none open, 1: text, 2: binary */
    uint8_t  message_rsv1;
    uint8_t  closed;         /* a close frame was received */
    uint32_t utf8_state;     /* DFA state of the text message in progress */
    uint64_t message_size;   /* payload bytes of the message so far, this frame included */
    uint64_t utf8_offset;    /* index in the message of the next byte to validate */

    /* input bytes the calls since the last WSFAST_AGAIN-free return have consumed */
    uint64_t skip;

    /* error, sticky: once set, every call returns it again */
    int32_t error;
    uint64_t error_value;
    uint64_t error_position;
} wsfast_decoder;

/* What one wsfast_decode call hands back, and the room it unmasks complete frames into.  Used by
 * one call at a time (one per thread, shared by every decoder the thread runs), never read by
 * the next call: nothing in it outlives the call that wrote it, beyond the caller reading it.
 * The caller allocates sizeof(wsfast_scratch) + capacity bytes (they need not be zeroed) and
 * sets capacity: the space is the capacity bytes right after the struct. */
typedef struct {
    /* Written by every call, side by side so that Python reads them in one struct unpack
     * (format "=QQIII", in this order). */
    uint64_t want;           /* with a WSFAST_F_WANT_* flag: how many bytes */
    uint64_t first_length;   /* the length of the first payload in the space (a batch of one
                              * is read without the layout) */
    uint32_t layout_size;
    uint32_t same_kind;      /* the kind every record of the batch shares, or
                              * WSFAST_MIXED_KINDS */
    uint32_t flags;          /* WSFAST_F_* */

    uint64_t capacity;       /* bytes of space after this struct; set by the caller */

    /* The frames completed by the call; their payloads (unmasked) follow one another in the
     * space, except that of a WSFAST_F_SINK_RECORD, in the sink.  The space is framed the way
     * Python's marshal module reads a tuple (checked at import): WSFAST_SPACE_HEAD
     * bytes, '(' and the number of payloads in the space (32 bits, little-endian, written when
     * the call returns), then per payload WSFAST_ITEM_HEAD bytes, 'u' (a str from UTF-8) for a
     * whole text message when the decoder has WSFAST_STR_TEXT, else 's' (bytes), and its
     * length (32 bits, little-endian; 0 when longer than 2**31 - 1), then the payload.  With
     * WSFAST_F_MARSHAL, marshal.loads over the space makes every payload's object in one call
     * (text messages' str from bytes validated here); records[].offset is where a payload
     * starts. */
    wsfast_record records[256];

    /* The batch's payloads as a Python struct format ("5x" for the space's head, then "5x125s"
     * per record, the sink record left out), read from the start of the space:
     * struct.unpack_from turns it into the payload bytes objects in one call.  At most 2 + 23
     * characters per record. */
    char layout[6144];
} wsfast_scratch;

/* XOR src[0:len] with the 4-byte mask starting at key phase `phase` (0..3) into dst.
 * dst == src is allowed (in place); other overlap is not.  Twin: _pure.mask. */
void wsfast_mask(const uint8_t *src, uint8_t *dst, size_t len, const uint8_t *mask, size_t phase);

/* Bit k set: kernel k (WSFAST_KERNEL_*) can run on this CPU and was compiled in. */
int wsfast_kernels_available(void);

/* Use kernel k (or the best, WSFAST_KERNEL_BEST) for every later call; returns the kernel, or
 * -1 (nothing changed) when it is not available.  Called once at import, before anything else;
 * it is the library's only global state, so switching while another thread decodes is not
 * supported.  Until it is called the scalar kernel is used. */
int wsfast_use_kernel(int kernel);

/* The name of the kernel in use for masking (operation 0) or UTF-8 validation (1). */
const char *wsfast_kernel_name(int operation);

/* Advance the UTF-8 DFA in *state over data[0:len].  Returns 0, or -1 with *error_index the
 * index in data of the first byte after which the bytes fed can no longer be valid UTF-8
 * (*state is then WSFAST_UTF8_REJECT).  Twin: _pure.utf8_feed. */
int wsfast_utf8_feed(uint32_t *state, const uint8_t *data, size_t len, size_t *error_index);

/* Parse a frame header from data[0:len].  WSFAST_OK fills *out; WSFAST_NEED_MORE when the
 * bytes end first; a negative code on a violation (*value set).  Twin: _pure.parse_header. */
int wsfast_parse_header(const uint8_t *data, size_t len, int strict, wsfast_header *out,
                        uint64_t *value);

/* Write a frame header with minimal length encoding into out (14 bytes of room); returns its
 * size.  rsv as in the first byte.  mask may be NULL.  Twin: _pure.build_header. */
size_t wsfast_build_header(uint8_t *out, int fin, int rsv, int opcode, uint64_t length,
                           const uint8_t *mask);

/* A client frame: header (first byte `first`), the mask key keys[key_at : key_at + 4] and
 * payload[0:length] masked with it, into out (room for length + 14); returns its size.  The
 * caller guarantees key_at + 4 <= the length of keys (the Python wrappers check it).
 * Twin: _pure.client_frame. */
size_t wsfast_client_frame(uint8_t *out, int first, const uint8_t *payload, uint64_t length,
                           const uint8_t *keys, size_t key_at);

/* Decode input[d->skip:len] (the bytes received, after what earlier calls kept): validate
 * headers, unmask payloads, validate text, and fill s->records with every frame completed.
 * Keeps what is left over (a partial frame) in d.  Returns the number of records, plus
 * WSFAST_AGAIN when the call stopped early and must be called again with the same input (and
 * the same or another scratch) once the caller has read the records and served what the
 * flags ask for: a sink, room in d->keep (see wsfast_keep), a larger space, or nothing (the
 * records or the space filled up).  On a violation it returns -(16 + records before it)
 * and leaves the error in d->error, where it stays: every later call returns -16.
 * Twin: _pure.Scanner. */
int wsfast_decode(wsfast_decoder *d, wsfast_scratch *s, const uint8_t *input, size_t len);

/* Give d the keep buffer `buffer` of `capacity` bytes, moving what it keeps into it (the old
 * one is the caller's to free); -1 (nothing changed) when that does not fit. */
int wsfast_keep(wsfast_decoder *d, uint8_t *buffer, uint64_t capacity);

/* cdef end */

#endif /* WSFAST_H */
