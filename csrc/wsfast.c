/*
 * wsfast: the C hot path.  See wsfast.h for the contract of every exported function; each
 * one names its pure-Python twin in wsfast/_pure.py, which defines the results, the error
 * codes and the error positions this file must reproduce.
 *
 * Layout: kernels (masking, UTF-8: scalar, SSE2/SSSE3/AVX2 on x86, NEON on arm64) and their
 * run-time dispatch, then frame headers, then the batch decoder.
 */
#include "wsfast.h"

#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Instruction sets                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Vector kernels are compiled for their instruction set function by function (GCC and clang:
 * __attribute__((target)); MSVC needs nothing to use intrinsics) and chosen at run time, once,
 * by wsfast_use_kernel after asking the CPU.  The build itself uses baseline flags only. */
#if defined(WSFAST_NO_SIMD)
/* scalar kernels only (a build for an unusual target, or for comparison) */
#elif defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define WSFAST_HAVE_X86 1
#include <immintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#elif (defined(__aarch64__) || defined(_M_ARM64)) && \
    (!defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#define WSFAST_HAVE_NEON 1
#include <arm_neon.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TARGET(isa) __attribute__((target(isa)))
#else
#define TARGET(isa)
#endif

/* ------------------------------------------------------------------------------------------ */
/* Masking (RFC 6455 5.3): byte i of the payload is XORed with mask[(phase + i) % 4].         */
/* ------------------------------------------------------------------------------------------ */

/* The key rotated to the phase, as a 32-bit word whose bytes in memory are
 * mask[phase], mask[phase + 1], ...: broadcast to any width, every 4-byte lane of it starts at
 * the right key byte, so all kernels handle the phase once per call. */
static uint32_t rotated_key(const uint8_t *mask, size_t phase)
{
    uint8_t k[4];
    uint32_t key;
    size_t j;

    for (j = 0; j < 4; j++)
        k[j] = mask[(phase + j) & 3];
    memcpy(&key, k, 4);
    return key;
}

/* Twin: _pure.mask.  memcpy for every load and store: payloads sit at any alignment in the
 * receive buffer, and compilers turn fixed-size memcpy into single unaligned moves.  Also the
 * tail of every vector kernel: they stop at a multiple of 4 bytes, so the key phase is 0 here
 * as well. */
static void mask_scalar(const uint8_t *src, uint8_t *dst, size_t len, uint32_t key)
{
    uint64_t key64;
    uint8_t k[4];
    size_t i = 0, j;

    memcpy(k, &key, 4);
    memcpy(&key64, k, 4);
    memcpy((uint8_t *)&key64 + 4, k, 4);
    for (; i + 32 <= len; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= key64; b ^= key64; c ^= key64; d ^= key64;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t a;
        memcpy(&a, src + i, 8);
        a ^= key64;
        memcpy(dst + i, &a, 8);
    }
    if (i + 4 <= len) {
        uint32_t a;
        memcpy(&a, src + i, 4);
        a ^= key;
        memcpy(dst + i, &a, 4);
        i += 4;
    }
    /* Whole words keep the phase: 8 and 4 are multiples of 4, so the tail starts at k[0]. */
    for (j = 0; i < len; i++, j++)
        dst[i] = (uint8_t)(src[i] ^ k[j & 3]);
}

#ifdef WSFAST_HAVE_X86
/* Each iteration loads all its vectors before storing any, so src == dst is safe; nothing is
 * read or written outside [0, len): the last partial vector is left to mask_scalar. */
TARGET("sse2")
static void mask_sse2(const uint8_t *src, uint8_t *dst, size_t len, uint32_t key)
{
    size_t i = 0;

    if (len >= 16) {
        const __m128i k = _mm_set1_epi32((int)key);
        for (; i + 64 <= len; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
            _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, k));
            _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, k));
            _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, k));
        }
        for (; i + 16 <= len; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
        }
    }
    mask_scalar(src + i, dst + i, len - i, key);
}

TARGET("avx2")
static void mask_avx2(const uint8_t *src, uint8_t *dst, size_t len, uint32_t key)
{
    size_t i = 0;

    if (len >= 512) {
        /* Align the stores: bytes objects and malloc'd buffers are 16-byte aligned, so every
         * other 32-byte store would straddle two cache lines.  The head goes through the scalar
         * code; the key is then rotated to the phase the vectors start at. */
        size_t head = (size_t)(-(uintptr_t)dst & 31);
        if (head) {
            uint8_t k[4];
            mask_scalar(src, dst, head, key);
            memcpy(k, &key, 4);
            key = rotated_key(k, head);
            i = head;
        }
    }
    if (len - i >= 32) {
        const __m256i k = _mm256_set1_epi32((int)key);
        for (; i + 128 <= len; i += 128) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
            __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
            __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
            __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
            _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(b, k));
            _mm256_storeu_si256((__m256i *)(dst + i + 64), _mm256_xor_si256(c, k));
            _mm256_storeu_si256((__m256i *)(dst + i + 96), _mm256_xor_si256(d, k));
        }
        for (; i + 32 <= len; i += 32) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
        }
    }
    if (len - i >= 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, _mm_set1_epi32((int)key)));
        i += 16;
    }
    /* The tail is plain (baseline, SSE-encoded) code: clear the upper halves of the YMM
     * registers first, or every SSE instruction there pays an AVX-SSE transition (GCC 12 leaves
     * the vzeroupper out of this tail call; it cost ~100 ns per call, measured). */
    _mm256_zeroupper();
    mask_scalar(src + i, dst + i, len - i, key);
}
#endif /* WSFAST_HAVE_X86 */

#ifdef WSFAST_HAVE_NEON
static void mask_neon(const uint8_t *src, uint8_t *dst, size_t len, uint32_t key)
{
    size_t i = 0;

    if (len >= 16) {
        const uint8x16_t k = vreinterpretq_u8_u32(vdupq_n_u32(key));
        for (; i + 64 <= len; i += 64) {
            uint8x16_t a = vld1q_u8(src + i);
            uint8x16_t b = vld1q_u8(src + i + 16);
            uint8x16_t c = vld1q_u8(src + i + 32);
            uint8x16_t d = vld1q_u8(src + i + 48);
            vst1q_u8(dst + i, veorq_u8(a, k));
            vst1q_u8(dst + i + 16, veorq_u8(b, k));
            vst1q_u8(dst + i + 32, veorq_u8(c, k));
            vst1q_u8(dst + i + 48, veorq_u8(d, k));
        }
        for (; i + 16 <= len; i += 16)
            vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), k));
    }
    mask_scalar(src + i, dst + i, len - i, key);
}
#endif /* WSFAST_HAVE_NEON */

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

/* Scalar validator: the scalar kernel, and the reference every vector kernel falls back to at
 * the edges and for exact positions.  Returns the index of the rejecting byte, or len. */
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

#if defined(WSFAST_HAVE_X86) || defined(WSFAST_HAVE_NEON)
/*
 * Vector validation: the lookup method of Keiser and Lemire ("Validating UTF-8 in less than
 * one instruction per byte", Software: Practice and Experience 51(5), 2021).  Every byte is
 * judged together with the byte before it by three 16-entry tables, indexed by the high and low
 * nibble of the previous byte and the high nibble of the current one; each table entry is a set
 * of the error kinds below that the nibble is compatible with, so the AND of the three lookups
 * is non-zero exactly when the pair is one of those errors.  Bit 7 (two continuations in a row)
 * is the exception: it is required, not forbidden, where the byte two or three back is a lead
 * of three or four bytes, so it is XORed with that requirement instead.
 */
#define U8_TOO_SHORT 0x01  /* a lead not followed by a continuation */
#define U8_TOO_LONG 0x02   /* ASCII followed by a continuation */
#define U8_OVERLONG_3 0x04 /* E0 80..9F */
#define U8_TOO_LARGE 0x08  /* F4 90..BF, F5..FF 90..BF */
#define U8_SURROGATE 0x10  /* ED A0..BF */
#define U8_OVERLONG_2 0x20 /* C0 or C1, then a continuation */
#define U8_TOO_LARGE_80 0x40 /* F5..FF 80..8F; shares the bit with OVERLONG_4: F0 80..8F */
#define U8_OVERLONG_4 0x40
#define U8_TWO_CONTS 0x80  /* continuation after continuation */
#define U8_CARRY (U8_TOO_SHORT | U8_TOO_LONG | U8_TWO_CONTS)

/* Table 1: high nibble of the previous byte. */
#define U8_PREV_HIGH                                                                        \
    U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG,           \
    U8_TOO_LONG, U8_TOO_LONG,                                                               \
    U8_TWO_CONTS, U8_TWO_CONTS, U8_TWO_CONTS, U8_TWO_CONTS,                                 \
    U8_TOO_SHORT | U8_OVERLONG_2,                                                           \
    U8_TOO_SHORT,                                                                           \
    U8_TOO_SHORT | U8_OVERLONG_3 | U8_SURROGATE,                                            \
    U8_TOO_SHORT | U8_TOO_LARGE | U8_TOO_LARGE_80 | U8_OVERLONG_4
/* Table 2: low nibble of the previous byte. */
#define U8_PREV_LOW                                                                         \
    U8_CARRY | U8_OVERLONG_3 | U8_OVERLONG_2 | U8_OVERLONG_4,                               \
    U8_CARRY | U8_OVERLONG_2,                                                               \
    U8_CARRY,                                                                               \
    U8_CARRY,                                                                               \
    U8_CARRY | U8_TOO_LARGE,                                                                \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80 | U8_SURROGATE,                               \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80,                                              \
    U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_80
/* Table 3: high nibble of the current byte. */
#define U8_CUR_HIGH                                                                         \
    U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT,     \
    U8_TOO_SHORT, U8_TOO_SHORT,                                                             \
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE_80 |          \
        U8_OVERLONG_4,                                                                      \
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE,              \
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,               \
    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,               \
    U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT

static const uint8_t u8_prev_high[16] = {U8_PREV_HIGH};
static const uint8_t u8_prev_low[16] = {U8_PREV_LOW};
static const uint8_t u8_cur_high[16] = {U8_CUR_HIGH};

/* The vector kernels validate whole 64-byte blocks from a code point boundary and return how
 * many bytes they covered: they stop before the first block with an error, or when fewer than
 * 64 bytes remain (all of them covered when those are ASCII).  The last up to three bytes
 * covered may begin a sequence that the next block completes; utf8_vector backs up over them.
 * They are called with at least 64 bytes. */
typedef size_t (*utf8_blocks_fn)(const uint8_t *data, size_t len);

/* True when the bytes just before p (at least 3 of them) end in an unfinished sequence. */
static int ends_unfinished(const uint8_t *p)
{
    return p[-1] >= 0xC0 || p[-2] >= 0xE0 || p[-3] >= 0xF0;
}

#ifdef WSFAST_HAVE_X86
TARGET("ssse3")
static __m128i utf8_errors_ssse3(__m128i cur, __m128i prev)
{
    const __m128i t_prev_high = _mm_loadu_si128((const __m128i *)u8_prev_high);
    const __m128i t_prev_low = _mm_loadu_si128((const __m128i *)u8_prev_low);
    const __m128i t_cur_high = _mm_loadu_si128((const __m128i *)u8_cur_high);
    const __m128i nibble = _mm_set1_epi8(0x0f);
    __m128i prev1 = _mm_alignr_epi8(cur, prev, 15);
    __m128i prev2 = _mm_alignr_epi8(cur, prev, 14);
    __m128i prev3 = _mm_alignr_epi8(cur, prev, 13);
    __m128i a = _mm_shuffle_epi8(t_prev_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble));
    __m128i b = _mm_shuffle_epi8(t_prev_low, _mm_and_si128(prev1, nibble));
    __m128i c = _mm_shuffle_epi8(t_cur_high, _mm_and_si128(_mm_srli_epi16(cur, 4), nibble));
    __m128i special = _mm_and_si128(_mm_and_si128(a, b), c);
    /* Bytes that must be a second or third continuation: 3 back is F0.., or 2 back is E0.. */
    __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 0x80)));
    __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 0x80)));
    __m128i must = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(must, special);
}

TARGET("ssse3")
static size_t utf8_blocks_ssse3(const uint8_t *data, size_t len)
{
    __m128i prev = _mm_setzero_si128();
    size_t i = 0;
    int prev_ascii = 1; /* the start is a code point boundary */

    for (; i + 64 <= len; i += 64) {
        const uint8_t *p = data + i;
        __m128i v0 = _mm_loadu_si128((const __m128i *)p);
        __m128i v1 = _mm_loadu_si128((const __m128i *)(p + 16));
        __m128i v2 = _mm_loadu_si128((const __m128i *)(p + 32));
        __m128i v3 = _mm_loadu_si128((const __m128i *)(p + 48));
        __m128i any = _mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3));
        if (_mm_movemask_epi8(any) == 0) {
            /* After a non-ASCII block: valid unless a sequence it began is cut short. */
            if (!prev_ascii && ends_unfinished(p))
                return i;
            prev_ascii = 1;
        } else {
            __m128i e = _mm_or_si128(utf8_errors_ssse3(v0, prev), utf8_errors_ssse3(v1, v0));
            e = _mm_or_si128(e, utf8_errors_ssse3(v2, v1));
            e = _mm_or_si128(e, utf8_errors_ssse3(v3, v2));
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(e, _mm_setzero_si128())) != 0xffff)
                return i;
            prev_ascii = 0;
        }
        prev = v3;
    }
    if (i < len) {
        /* As in the AVX2 kernel: an all-ASCII partial last block. */
        const uint8_t *t = data + len - 64;
        __m128i any = _mm_or_si128(
            _mm_or_si128(_mm_loadu_si128((const __m128i *)t),
                         _mm_loadu_si128((const __m128i *)(t + 16))),
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(t + 32)),
                         _mm_loadu_si128((const __m128i *)(t + 48))));
        if (_mm_movemask_epi8(any) == 0 && !ends_unfinished(data + i))
            return len;
    }
    return i;
}

/* One vector of bytes, cur, judged with the three vectors of the bytes 1, 2 and 3 before each of
 * its bytes.  Returns a vector whose bit 7 is set on a byte that is a continuation where none
 * may be, or is none where one must be (a lead of three or four bytes two or three back); its
 * other bits are noise.  The remaining error kinds, bits 0-6 of the three lookups ANDed, are
 * ORed into *kinds.  Keeping the two apart saves the AND with 0x80 per vector, and the tables
 * are the caller's, loaded once per call. */
TARGET("avx2")
static inline __m256i utf8_errors_avx2(__m256i cur, __m256i prev1, __m256i prev2, __m256i prev3,
                                       const __m256i *tables, __m256i *kinds)
{
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i a =
        _mm256_shuffle_epi8(tables[0], _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    __m256i b = _mm256_shuffle_epi8(tables[1], _mm256_and_si256(prev1, nibble));
    __m256i c =
        _mm256_shuffle_epi8(tables[2], _mm256_and_si256(_mm256_srli_epi16(cur, 4), nibble));
    __m256i special = _mm256_and_si256(_mm256_and_si256(a, b), c);
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    *kinds = _mm256_or_si256(*kinds, special);
    return _mm256_xor_si256(_mm256_or_si256(third, fourth), special);
}

/* Judge the block of n vectors (2 or 4) at p, which follows *prev: 0 when it has an error, or
 * is all ASCII right after a sequence left unfinished; otherwise 1, with *prev and *prev_ascii
 * (was the block all ASCII) moved on to it.  Inlined with n and `behind` constant.  `behind`:
 * the 3 bytes before p are readable (everywhere but the start of the input), so the shifted
 * vectors are loaded from p - 1, p - 2 and p - 3; otherwise they are shuffled together from
 * *prev and the block (four shuffles more per vector, on the two ports the lookups use). */
TARGET("avx2")
static inline int utf8_block_avx2(const uint8_t *p, int n, int behind, __m256i *prev,
                                  int *prev_ascii, const __m256i *tables)
{
    __m256i v[4], any;
    int j;

    for (j = 0; j < n; j++)
        v[j] = _mm256_loadu_si256((const __m256i *)(p + 32 * j));
    any = v[0];
    for (j = 1; j < n; j++)
        any = _mm256_or_si256(any, v[j]);
    if (_mm256_movemask_epi8(any) == 0) {
        /* After a non-ASCII block: valid unless a sequence it began is cut short. */
        if (!*prev_ascii && ends_unfinished(p))
            return 0;
        *prev_ascii = 1;
    } else {
        __m256i kinds = _mm256_setzero_si256();
        __m256i e = _mm256_setzero_si256();
        for (j = 0; j < n; j++) {
            const uint8_t *q = p + 32 * j;
            __m256i p1, p2, p3;
            if (behind) {
                p1 = _mm256_loadu_si256((const __m256i *)(q - 1));
                p2 = _mm256_loadu_si256((const __m256i *)(q - 2));
                p3 = _mm256_loadu_si256((const __m256i *)(q - 3));
            } else {
                /* [high half of the vector before, low half of this one]: alignr works within
                 * 128-bit lanes, so this is the lane that supplies the bytes before each lane */
                __m256i before = _mm256_permute2x128_si256(j ? v[j - 1] : *prev, v[j], 0x21);
                p1 = _mm256_alignr_epi8(v[j], before, 15);
                p2 = _mm256_alignr_epi8(v[j], before, 14);
                p3 = _mm256_alignr_epi8(v[j], before, 13);
            }
            e = _mm256_or_si256(e, utf8_errors_avx2(v[j], p1, p2, p3, tables, &kinds));
        }
        if (_mm256_movemask_epi8(e) != 0 || !_mm256_testz_si256(kinds, _mm256_set1_epi8(0x7f)))
            return 0;
        *prev_ascii = 0;
    }
    *prev = v[n - 1];
    return 1;
}

TARGET("avx2")
static size_t utf8_blocks_avx2(const uint8_t *data, size_t len)
{
    /* The same table in both 128-bit lanes: vpshufb looks up within each lane. */
    const __m256i tables[3] = {
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)u8_prev_high)),
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)u8_prev_low)),
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)u8_cur_high)),
    };
    __m256i prev = _mm256_setzero_si256();
    size_t i;
    int prev_ascii = 1; /* the start is a code point boundary */

    /* The first 64 bytes, with nothing readable before them; then 128 bytes at a time, one
     * error test for four vectors (the test and its branch are a tenth of the work per
     * vector), then 64 for what remains. */
    if (!utf8_block_avx2(data, 2, 0, &prev, &prev_ascii, tables))
        return 0;
    for (i = 64; i + 128 <= len; i += 128)
        if (!utf8_block_avx2(data + i, 4, 1, &prev, &prev_ascii, tables))
            return i;
    for (; i + 64 <= len; i += 64)
        if (!utf8_block_avx2(data + i, 2, 1, &prev, &prev_ascii, tables))
            return i;
    if (i < len) {
        /* A partial last block that is all ASCII (seen through the last 64 bytes, which
         * overlap what was validated) needs no scalar pass. */
        const uint8_t *t = data + len - 64;
        __m256i v0 = _mm256_loadu_si256((const __m256i *)t);
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(t + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(v0, v1)) == 0 && !ends_unfinished(data + i))
            return len;
    }
    return i;
}
#endif /* WSFAST_HAVE_X86 */

#ifdef WSFAST_HAVE_NEON
static uint8x16_t utf8_errors_neon(uint8x16_t cur, uint8x16_t prev)
{
    uint8x16_t prev1 = vextq_u8(prev, cur, 15);
    uint8x16_t prev2 = vextq_u8(prev, cur, 14);
    uint8x16_t prev3 = vextq_u8(prev, cur, 13);
    uint8x16_t a = vqtbl1q_u8(vld1q_u8(u8_prev_high), vshrq_n_u8(prev1, 4));
    uint8x16_t b = vqtbl1q_u8(vld1q_u8(u8_prev_low), vandq_u8(prev1, vdupq_n_u8(0x0f)));
    uint8x16_t c = vqtbl1q_u8(vld1q_u8(u8_cur_high), vshrq_n_u8(cur, 4));
    uint8x16_t special = vandq_u8(vandq_u8(a, b), c);
    uint8x16_t third = vqsubq_u8(prev2, vdupq_n_u8(0xE0 - 0x80));
    uint8x16_t fourth = vqsubq_u8(prev3, vdupq_n_u8(0xF0 - 0x80));
    uint8x16_t must = vandq_u8(vorrq_u8(third, fourth), vdupq_n_u8(0x80));
    return veorq_u8(must, special);
}

static size_t utf8_blocks_neon(const uint8_t *data, size_t len)
{
    uint8x16_t prev = vdupq_n_u8(0);
    size_t i = 0;
    int prev_ascii = 1; /* the start is a code point boundary */

    for (; i + 64 <= len; i += 64) {
        const uint8_t *p = data + i;
        uint8x16_t v0 = vld1q_u8(p);
        uint8x16_t v1 = vld1q_u8(p + 16);
        uint8x16_t v2 = vld1q_u8(p + 32);
        uint8x16_t v3 = vld1q_u8(p + 48);
        uint8x16_t any = vorrq_u8(vorrq_u8(v0, v1), vorrq_u8(v2, v3));
        if (vmaxvq_u8(any) < 0x80) {
            /* After a non-ASCII block: valid unless a sequence it began is cut short. */
            if (!prev_ascii && ends_unfinished(p))
                return i;
            prev_ascii = 1;
        } else {
            uint8x16_t e = vorrq_u8(utf8_errors_neon(v0, prev), utf8_errors_neon(v1, v0));
            e = vorrq_u8(e, utf8_errors_neon(v2, v1));
            e = vorrq_u8(e, utf8_errors_neon(v3, v2));
            if (vmaxvq_u8(e) != 0)
                return i;
            prev_ascii = 0;
        }
        prev = v3;
    }
    if (i < len) {
        /* As in the AVX2 kernel: an all-ASCII partial last block. */
        const uint8_t *t = data + len - 64;
        uint8x16_t any = vorrq_u8(vorrq_u8(vld1q_u8(t), vld1q_u8(t + 16)),
                                  vorrq_u8(vld1q_u8(t + 32), vld1q_u8(t + 48)));
        if (vmaxvq_u8(any) < 0x80 && !ends_unfinished(data + i))
            return len;
    }
    return i;
}
#endif /* WSFAST_HAVE_NEON */

/* A vector kernel between two runs of the scalar DFA: the DFA finishes a sequence left open by
 * the previous call, the blocks cover what they can from the boundary it reaches, and the DFA
 * takes over from the start of the last (possibly unfinished) sequence they covered, so it
 * handles the tail, the end state and, when a block had an error, the exact position. */
static size_t utf8_vector(uint32_t *state, const uint8_t *data, size_t len, utf8_blocks_fn blocks)
{
    size_t i = 0, covered;

    while (*state != WSFAST_UTF8_ACCEPT && i < len) {
        *state = utf8_next[*state][utf8_class[data[i]]];
        if (*state == WSFAST_UTF8_REJECT)
            return i;
        i++;
    }
    if (len - i >= 64) {
        covered = blocks(data + i, len - i);
        if (covered > 0) {
            i += covered;
            /* A valid run from a boundary ends in at most one unfinished sequence. */
            if (data[i - 1] >= 0xC0)
                i -= 1;
            else if (data[i - 2] >= 0xE0)
                i -= 2;
            else if (data[i - 3] >= 0xF0)
                i -= 3;
        }
    }
    return i + utf8_scalar(state, data + i, len - i);
}

#endif /* vector UTF-8 */

#ifdef WSFAST_HAVE_X86
static size_t utf8_ssse3(uint32_t *state, const uint8_t *data, size_t len)
{
    return utf8_vector(state, data, len, utf8_blocks_ssse3);
}

static size_t utf8_avx2(uint32_t *state, const uint8_t *data, size_t len)
{
    return utf8_vector(state, data, len, utf8_blocks_avx2);
}
#endif

#ifdef WSFAST_HAVE_NEON
static size_t utf8_neon(uint32_t *state, const uint8_t *data, size_t len)
{
    return utf8_vector(state, data, len, utf8_blocks_neon);
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Run-time dispatch                                                                           */
/* ------------------------------------------------------------------------------------------ */

typedef void (*mask_fn)(const uint8_t *src, uint8_t *dst, size_t len, uint32_t key);
typedef size_t (*utf8_fn)(uint32_t *state, const uint8_t *data, size_t len);

/* The one mutable global: the kernels in use, written by wsfast_use_kernel (at import, before
 * any other call, and by tests) and only read afterwards. */
static struct {
    int kernel;
    mask_fn mask;
    utf8_fn utf8;
    const char *mask_name;
    const char *utf8_name;
} K = {WSFAST_KERNEL_SCALAR, mask_scalar, utf8_scalar, "scalar", "scalar"};

#ifdef WSFAST_HAVE_X86
#define CPU_SSE2 1
#define CPU_SSSE3 2
#define CPU_AVX2 4

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int regs[4];
    __cpuidex(regs, (int)leaf, (int)sub);
    r[0] = (uint32_t)regs[0]; r[1] = (uint32_t)regs[1];
    r[2] = (uint32_t)regs[2]; r[3] = (uint32_t)regs[3];
#else
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

/* XCR0: which register states the operating system saves on a context switch. */
static uint64_t xcr0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return _xgetbv(0);
#else
    uint32_t lo, hi;
    /* The instruction's bytes, so that no -mxsave is needed. */
    __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}

static int cpu_features(void)
{
    uint32_t r[4];
    int found = 0;

    cpuid(0, 0, r);
    if (r[0] < 1)
        return 0;
    {
        uint32_t max_leaf = r[0];
        cpuid(1, 0, r);
        if (r[3] & (1u << 26))
            found |= CPU_SSE2;
        if (r[2] & (1u << 9))
            found |= CPU_SSSE3;
        /* AVX2 needs the CPU (leaf 7 EBX bit 5, leaf 1 AVX bit 28) and the OS: OSXSAVE (leaf 1
         * ECX bit 27) and XCR0 saving both SSE and AVX state (bits 1 and 2). */
        if ((r[2] & (1u << 27)) && (r[2] & (1u << 28)) && (xcr0() & 6) == 6 && max_leaf >= 7) {
            cpuid(7, 0, r);
            if (r[1] & (1u << 5))
                found |= CPU_AVX2;
        }
    }
    return found;
}
#endif /* WSFAST_HAVE_X86 */

int wsfast_kernels_available(void)
{
    int available = 1 << WSFAST_KERNEL_SCALAR;
#ifdef WSFAST_HAVE_X86
    int cpu = cpu_features();
    if (cpu & CPU_SSE2)
        available |= 1 << WSFAST_KERNEL_SSE2;
    if ((cpu & CPU_AVX2) && (cpu & CPU_SSSE3))
        available |= 1 << WSFAST_KERNEL_AVX2;
#endif
#ifdef WSFAST_HAVE_NEON
    available |= 1 << WSFAST_KERNEL_NEON;
#endif
    return available;
}

int wsfast_use_kernel(int kernel)
{
    int available = wsfast_kernels_available();

    if (kernel == WSFAST_KERNEL_BEST) {
        for (kernel = WSFAST_KERNEL_NEON; kernel > WSFAST_KERNEL_SCALAR; kernel--)
            if (available & (1 << kernel))
                break;
    }
    if (kernel < 0 || kernel > WSFAST_KERNEL_NEON || !(available & (1 << kernel)))
        return -1;
    K.kernel = kernel;
    K.mask = mask_scalar;
    K.utf8 = utf8_scalar;
    K.mask_name = K.utf8_name = "scalar";
#ifdef WSFAST_HAVE_X86
    if (kernel == WSFAST_KERNEL_SSE2) {
        K.mask = mask_sse2;
        K.mask_name = "sse2";
        /* SSE2 names the baseline level; its UTF-8 kernel needs SSSE3's byte shuffle. */
        if (cpu_features() & CPU_SSSE3) {
            K.utf8 = utf8_ssse3;
            K.utf8_name = "ssse3";
        }
    } else if (kernel == WSFAST_KERNEL_AVX2) {
        K.mask = mask_avx2;
        K.utf8 = utf8_avx2;
        K.mask_name = K.utf8_name = "avx2";
    }
#endif
#ifdef WSFAST_HAVE_NEON
    if (kernel == WSFAST_KERNEL_NEON) {
        K.mask = mask_neon;
        K.utf8 = utf8_neon;
        K.mask_name = K.utf8_name = "neon";
    }
#endif
    return kernel;
}

const char *wsfast_kernel_name(int operation)
{
    return operation == 0 ? K.mask_name : K.utf8_name;
}

/* ------------------------------------------------------------------------------------------ */
/* Public masking and UTF-8 entry points                                                       */
/* ------------------------------------------------------------------------------------------ */

void wsfast_mask(const uint8_t *src, uint8_t *dst, size_t len, const uint8_t *mask, size_t phase)
{
    K.mask(src, dst, len, rotated_key(mask, phase & 3));
}

int wsfast_utf8_feed(uint32_t *state, const uint8_t *data, size_t len, size_t *error_index)
{
    size_t at;

    if (*state == WSFAST_UTF8_REJECT) {
        *error_index = 0;
        return -1;
    }
    at = K.utf8(state, data, len);
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
            int compressed = h->opcode == 0 ? dec->message_rsv1 : (h->rsv & 0x40) != 0;
            uint64_t limit = compressed ? dec->max_compressed : dec->max_message;
            if (total > limit || total < length) {
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

/* A whole client frame in one call: the header (first byte as given: FIN, RSV, opcode), the
 * key keys[key_at : key_at + 4] and the payload masked with it, so that Python allocates the
 * frame once and neither concatenates nor slices the key out of its block of random bytes.
 * Twin: _pure.client_frame. */
size_t wsfast_client_frame(uint8_t *out, int first, const uint8_t *payload, uint64_t length,
                           const uint8_t *keys, size_t key_at)
{
    const uint8_t *mask = keys + key_at;
    size_t n = wsfast_build_header(out, first >> 7, first & 0x70, first & 0x0f, length, mask);
    wsfast_mask(payload, out + n, (size_t)length, mask, 0);
    return n + (size_t)length;
}

/* ------------------------------------------------------------------------------------------ */
/* The batch decoder                                                                           */
/* ------------------------------------------------------------------------------------------ */

/*
 * A decoder (per connection) holds only what must survive between two reads: the state of the
 * frame and the message in progress, a header cut short, and the payload so far of a frame
 * still arriving (in its keep buffer, or in its sink when large).  Frames complete within a
 * call's input are unmasked from the input into the scratch space, which every decoder of a
 * thread shares: each payload byte is read once from the input and written once there, and
 * Python copies it once more, into the bytes the user receives.
 */

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

/* Decimal digits of v at out; returns how many. */
static size_t put_decimal(char *out, uint64_t v)
{
    char digits[20];
    size_t n = 0, k;

    if (v < 100000) {
        /* Payloads up to 64 KiB, the common case: 32-bit arithmetic, the digits written from
         * the last, straight into place. */
        uint32_t w = (uint32_t)v;
        n = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5;
        for (k = n; k > 0; k--) {
            out[k - 1] = (char)('0' + w % 10);
            w /= 10;
        }
        return n;
    }

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (k = 0; k < n; k++)
        out[k] = digits[n - 1 - k];
    return n;
}

/* One call's walk over its input. */
typedef struct {
    const uint8_t *input;
    size_t len;
    size_t pos;              /* the next input byte to consume */
    wsfast_scratch *s;
    uint8_t *space;          /* the scratch space */
    uint64_t used;           /* bytes of it holding this batch's payloads, framing included */
    int count;               /* records so far */
    int spaced;              /* ... of which in the space */
    int str_text;            /* the decoder has WSFAST_STR_TEXT */
    int too_long;            /* one in the space is longer than marshal reads */
} call;

#if WSFAST_SPACE_HEAD != 5 || WSFAST_ITEM_HEAD != 5
#error "the layout below writes the framing as 5x"
#endif
#define WHOLE_TEXT (WSFAST_R_TEXT | WSFAST_R_FIRST | WSFAST_R_FIN | 1)
#define MARSHAL_MAX 0x7fffffff   /* the longest str marshal reads */

/* Whether a payload of n bytes fits in the space after what it holds. */
static inline int fits(const call *c, uint64_t n)
{
    uint64_t capacity = c->s->capacity;
    return capacity >= c->used + WSFAST_ITEM_HEAD && capacity - c->used - WSFAST_ITEM_HEAD >= n;
}

/* Where the next payload goes in the space. */
static inline uint8_t *next_in_space(const call *c)
{
    return c->space + c->used + WSFAST_ITEM_HEAD;
}

/* Count the payload of n bytes (a record of `kind`) just written at next_in_space(c): its item
 * header and its layout entry. */
static inline void add_to_space(call *c, uint64_t n, uint32_t kind)
{
    wsfast_scratch *s = c->s;
    uint8_t *head = c->space + c->used;
    char *out = s->layout + s->layout_size;
    int fits_marshal = n <= MARSHAL_MAX;
    uint32_t n32 = fits_marshal ? (uint32_t)n : 0;

    head[0] = kind == WHOLE_TEXT && c->str_text ? 'u' : 's';
    head[1] = (uint8_t)n32;
    head[2] = (uint8_t)(n32 >> 8);
    head[3] = (uint8_t)(n32 >> 16);
    head[4] = (uint8_t)(n32 >> 24);
    c->too_long |= !fits_marshal;
    if (s->layout_size == 0) {
        s->first_length = n;
        *out++ = '5';
        *out++ = 'x';
    }
    *out++ = '5';
    *out++ = 'x';
    out += put_decimal(out, n);
    *out++ = 's';
    s->layout_size = (uint32_t)(out - s->layout);
    c->used += WSFAST_ITEM_HEAD + n;
    c->spaced++;
}

/* What a step of the walk tells the loop. */
#define STEP_ON 0            /* go on with the input */
#define STEP_DONE 1          /* the input is all consumed */
#define STEP_AGAIN 2         /* stop here; the caller serves the summary and calls again */
#define STEP_ERROR 3         /* d->error is set */

/* Stop the walk and ask the caller for something (a WSFAST_F_WANT_* flag) of n bytes. */
static int want(call *c, uint32_t flag, uint64_t n)
{
    c->s->flags |= flag;
    c->s->want = n;
    return STEP_AGAIN;
}

/* n payload bytes of the open frame, from src to dst (which may be the same), unmasked on the
 * server side; `done` of its bytes came before them. */
static inline void unmask_span(const wsfast_decoder *d, const uint8_t *src, uint8_t *dst,
                               uint64_t n, uint64_t done)
{
    uint32_t key;

    if (d->flags & WSFAST_CLIENT) {
        if (src != dst)
            memcpy(dst, src, (size_t)n);
        return;
    }
    key = rotated_key(d->frame_mask, (size_t)(done & 3));
    /* Small payloads, the common case, skip the vector kernels' set-up. */
    if (n < 32)
        mask_scalar(src, dst, (size_t)n, key);
    else
        K.mask(src, dst, (size_t)n, key);
}

/* Advance the text message's UTF-8 state over n unmasked payload bytes at p (uncompressed
 * text only: a compressed message is validated after inflating, by the caller). */
static int validate_span(wsfast_decoder *d, const uint8_t *p, uint64_t n)
{
    if ((d->frame_kind & (WSFAST_R_TEXT | WSFAST_R_RSV1)) == WSFAST_R_TEXT) {
        size_t at = n < 64 ? utf8_scalar(&d->utf8_state, p, (size_t)n)
                           : K.utf8(&d->utf8_state, p, (size_t)n);
        if (at < n)
            return fail(d, WSFAST_E_INVALID_UTF8, 0, d->utf8_offset + at);
        d->utf8_offset += n;
    }
    return 0;
}

/* The open frame's next n payload bytes, from the input at src to their place at dst: unmask
 * and validate them, so that no byte is scanned twice however the frame is split. */
static int take_payload(wsfast_decoder *d, const uint8_t *src, uint8_t *dst, uint64_t n)
{
    unmask_span(d, src, dst, n, d->frame_done);
    if (validate_span(d, dst, n) != 0)
        return -1;
    d->frame_done += n;
    return 0;
}

/* The open frame's payload is complete at `payload` (space[offset...], or the sink when
 * in_sink): check what can only be checked whole, close the frame, and add its record. */
static int finish_frame(wsfast_decoder *d, call *c, const uint8_t *payload, uint64_t offset,
                        int in_sink)
{
    wsfast_scratch *s = c->s;
    wsfast_record *r = &s->records[c->count];
    uint32_t kind = d->frame_kind;
    uint8_t opcode = kind & 0x0f;

    r->offset = offset;
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
            at = K.utf8(&state, payload + 2, (size_t)d->frame_length - 2);
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
    d->frame_open = 0;

    if (c->count == 0)
        s->same_kind = kind;
    else if (kind != s->same_kind)
        s->same_kind = WSFAST_MIXED_KINDS;
    if (in_sink) {
        d->sink = NULL;
        s->flags |= WSFAST_F_SINK_RECORD;
    } else {
        add_to_space(c, d->frame_length, kind);
    }
    c->count++;
    return 0;
}

/* Read the header at the walk's position, the bytes of it kept from earlier calls first.
 * WSFAST_OK: *h filled, *took its bytes in the input (nothing consumed yet); WSFAST_NEED_MORE:
 * the input ends inside it, and what there is of it is kept; a violation: d->error set. */
static int peek_header(wsfast_decoder *d, call *c, wsfast_header *h, size_t *took)
{
    uint8_t joined[14];
    const uint8_t *p = c->input + c->pos;
    size_t avail = c->len - c->pos, have = d->head_size;
    uint64_t value = 0;
    int rc;

    if (d->closed)
        return fail(d, WSFAST_E_AFTER_CLOSE, 0, 0);
    if (have > 0) {
        size_t add = avail < 14 - have ? avail : 14 - have;
        memcpy(joined, d->head, have);
        memcpy(joined + have, p, add);
        p = joined;
        avail = have + add;
    }
    rc = read_header(p, avail, (d->flags & WSFAST_STRICT) != 0, d, h, &value);
    if (rc == WSFAST_NEED_MORE) {
        /* fewer than 14 bytes, all there is */
        memcpy(d->head, p, avail);
        d->head_size = (uint8_t)avail;
        c->pos = c->len;
        return rc;
    }
    if (rc < 0)
        return fail(d, rc, value, 0);
    *took = h->size - have;
    return WSFAST_OK;
}

/* Open the frame whose header is h, its header consumed. */
static void open_frame(wsfast_decoder *d, call *c, const wsfast_header *h, size_t took)
{
    uint32_t kind = h->opcode | (h->fin ? WSFAST_R_FIN : 0);

    if (h->opcode < 8) {
        if (h->opcode != 0) {
            d->message_opcode = h->opcode;
            d->message_rsv1 = (h->rsv & 0x40) != 0;
            d->message_size = h->length;
            d->utf8_state = WSFAST_UTF8_ACCEPT;
            d->utf8_offset = 0;
            kind |= WSFAST_R_FIRST;
        } else {
            d->message_size += h->length;
        }
        if (d->message_opcode == 1)
            kind |= WSFAST_R_TEXT;
        if (d->message_rsv1)
            kind |= WSFAST_R_RSV1;
    }
    d->frame_open = 1;
    d->sink = NULL; /* a sink serves the frame it was asked for, never a later one */
    d->frame_length = h->length;
    d->frame_done = 0;
    d->frame_kind = kind;
    memcpy(d->frame_mask, h->mask, 4);
    d->head_size = 0;
    c->pos += took;
}

/* The rest of the input is more of the open frame's payload, not all of it: keep it. */
static int keep_payload(wsfast_decoder *d, call *c)
{
    uint64_t n = c->len - c->pos;

    if (n == 0)
        return STEP_DONE;
    if (d->frame_done + n > d->keep_capacity) {
        return want(c, WSFAST_F_WANT_ROOM, d->frame_done + n);
    }
    if (take_payload(d, c->input + c->pos, d->keep + d->frame_done, n) != 0)
        return STEP_ERROR;
    c->pos = c->len;
    return STEP_DONE;
}

/* A frame was open when the call began: its payload goes on arriving. */
static int continue_frame(wsfast_decoder *d, call *c)
{
    uint64_t rest = d->frame_length - d->frame_done;
    uint64_t avail = c->len - c->pos;
    uint64_t kept = d->frame_done;
    uint8_t *dst;

    if (d->sink != NULL) {
        uint64_t n = avail < rest ? avail : rest;
        if (n > 0 && take_payload(d, c->input + c->pos, d->sink + d->frame_done, n) != 0)
            return STEP_ERROR;
        c->pos += (size_t)n;
        if (d->frame_done < d->frame_length)
            return STEP_DONE;
        return finish_frame(d, c, d->sink, 0, 1) != 0 ? STEP_ERROR : STEP_ON;
    }
    if (avail < rest)
        return keep_payload(d, c);
    /* It completes here: what was kept and the rest go into the space, for the layout. */
    if (!fits(c, d->frame_length))
        return want(c, WSFAST_F_WANT_SPACE,
                    WSFAST_SPACE_HEAD + WSFAST_ITEM_HEAD + d->frame_length);
    dst = next_in_space(c);
    if (kept > 0)  /* (a frame whose header ended its input has no keep buffer yet) */
        memcpy(dst, d->keep, (size_t)kept);
    if (take_payload(d, c->input + c->pos, dst + kept, rest) != 0)
        return STEP_ERROR;
    c->pos += (size_t)rest;
    return finish_frame(d, c, dst, (uint64_t)(dst - c->space), 0) != 0 ? STEP_ERROR : STEP_ON;
}

/* The next frame, from its header on. */
static int next_frame(wsfast_decoder *d, call *c)
{
    wsfast_header h;
    size_t took;
    uint64_t avail;
    int rc = peek_header(d, c, &h, &took);

    if (rc == WSFAST_NEED_MORE)
        return STEP_DONE;
    if (rc < 0)
        return STEP_ERROR;
    avail = c->len - c->pos - took;
    if (avail >= h.length) {
        /* Complete in the input: unmasked straight into the space. */
        uint8_t *dst = next_in_space(c);
        if (!fits(c, h.length)) {
            /* the header stays unread: the call after the caller read this batch (and, when
             * the space holds nothing, grew it) starts with it */
            return c->spaced == 0 ? want(c, WSFAST_F_WANT_SPACE,
                                         WSFAST_SPACE_HEAD + WSFAST_ITEM_HEAD + h.length)
                                  : STEP_AGAIN;
        }
        open_frame(d, c, &h, took);
        if (take_payload(d, c->input + c->pos, dst, h.length) != 0)
            return STEP_ERROR;
        c->pos += (size_t)h.length;
        return finish_frame(d, c, dst, (uint64_t)(dst - c->space), 0) != 0 ? STEP_ERROR
                                                                           : STEP_ON;
    }
    open_frame(d, c, &h, took);
    if (d->sink_min != 0 && h.length >= d->sink_min && h.length <= d->sink_max &&
        h.opcode < 8) {
        /* A large frame still arriving: ask for a sink. */
        return want(c, WSFAST_F_WANT_SINK, h.length);
    }
    return keep_payload(d, c);
}

/* Whole small data messages, the common case on a live connection, taken a run at a time: a
 * final text or binary frame without RSV bits, its length in 7 or 16 bits and within the
 * limits, masked as it must be, complete in the input and fitting the space, while no message,
 * frame or header is in progress and no close has come.  Each gets the record next_frame would
 * give it, and the decoder's state is what next_frame leaves after such a frame (open_frame's
 * fields are only read while a frame is open).  Anything else stops the run for next_frame,
 * and so does text that is not valid UTF-8: the general path finds its exact position. */
static void quick_frames(wsfast_decoder *d, call *c)
{
    wsfast_scratch *s = c->s;
    const int server = (d->flags & WSFAST_CLIENT) == 0;
    const int strict = (d->flags & WSFAST_STRICT) != 0;
    const uint8_t mask_bit = server ? 0x80 : 0;
    const size_t key_size = server ? 4 : 0;
    const uint64_t limit = d->max_frame < d->max_message ? d->max_frame : d->max_message;

    if (d->closed || d->message_opcode != 0 || d->head_size != 0 || d->frame_open)
        return;
    while (c->count < WSFAST_MAX_RECORDS) {
        const uint8_t *p = c->input + c->pos;
        size_t avail = c->len - c->pos, size = 2 + key_size;
        uint8_t b0, b1;
        uint64_t n;
        uint8_t *dst;
        wsfast_record *r;

        if (avail < 2)
            return;
        b0 = p[0];
        b1 = p[1];
        if ((b0 != 0x81 && b0 != 0x82) || (b1 & 0x80) != mask_bit)
            return;
        n = b1 & 0x7f;
        if (n == 126) {
            if (avail < 4)
                return;
            n = ((uint64_t)p[2] << 8) | p[3];
            if (strict && n < 126)
                return;
            size += 2;
        } else if (n == 127) {
            return;
        }
        if (n > limit || avail < size || avail - size < n || !fits(c, n))
            return;
        dst = next_in_space(c);
        if (server) {
            uint32_t key;
            memcpy(&key, p + size - 4, 4);
            if (n < 32)
                mask_scalar(p + size, dst, (size_t)n, key);
            else
                K.mask(p + size, dst, (size_t)n, key);
        } else {
            memcpy(dst, p + size, (size_t)n);
        }
        if (b0 == 0x81) {
            uint32_t state = WSFAST_UTF8_ACCEPT;
            size_t at = n < 64 ? utf8_scalar(&state, dst, (size_t)n)
                               : K.utf8(&state, dst, (size_t)n);
            if (at < n || state != WSFAST_UTF8_ACCEPT)
                return;
        }

        r = &s->records[c->count];
        r->offset = (uint64_t)(dst - c->space);
        r->length = n;
        r->kind = (b0 & 0x0f) | WSFAST_R_FIN | WSFAST_R_FIRST | (b0 == 0x81 ? WSFAST_R_TEXT : 0);
        r->close_code = 0;
        if (c->count == 0)
            s->same_kind = r->kind;
        else if (r->kind != s->same_kind)
            s->same_kind = WSFAST_MIXED_KINDS;
        add_to_space(c, n, r->kind);
        c->count++;
        c->pos += size + (size_t)n;
    }
}

int wsfast_decode(wsfast_decoder *d, wsfast_scratch *s, const uint8_t *input, size_t len)
{
    call c;
    int step = STEP_ON;

    s->want = 0;
    s->first_length = 0;
    s->layout_size = 0;
    s->same_kind = WSFAST_MIXED_KINDS;
    s->flags = 0;
    if (d->error)
        return -16;

    c.input = input;
    c.len = len;
    c.pos = d->skip < len ? (size_t)d->skip : len;
    c.s = s;
    c.space = (uint8_t *)(s + 1);
    c.used = WSFAST_SPACE_HEAD;
    c.count = 0;
    c.spaced = 0;
    c.str_text = (d->flags & WSFAST_STR_TEXT) != 0;
    c.too_long = 0;

    if (d->frame_open)
        step = continue_frame(d, &c);
    while (step == STEP_ON) {
        quick_frames(d, &c);
        if (c.pos == c.len)
            step = STEP_DONE;
        else if (c.count == WSFAST_MAX_RECORDS)
            step = STEP_AGAIN;
        else
            step = next_frame(d, &c);
    }

    d->skip = step == STEP_AGAIN ? c.pos : 0;
    if (d->keep != NULL && !(d->frame_open && d->sink == NULL && d->frame_done > 0)) {
        /* nothing kept: the buffer is the caller's to free */
        d->keep = NULL;
        d->keep_capacity = 0;
        s->flags |= WSFAST_F_RELEASED;
    }
    if (c.spaced > 0 && !c.too_long && s->capacity >= WSFAST_SPACE_HEAD) {
        c.space[0] = '(';
        c.space[1] = (uint8_t)c.spaced;
        c.space[2] = (uint8_t)(c.spaced >> 8);
        c.space[3] = c.space[4] = 0;
        s->flags |= WSFAST_F_MARSHAL;
    }
    if (step == STEP_ERROR)
        return -(c.count + 16);
    if (step == STEP_DONE && c.count == 1 && c.spaced == 1 && s->flags == WSFAST_F_MARSHAL &&
        (d->flags & WSFAST_ONE_CODES)) {
        if (s->same_kind == WHOLE_TEXT)
            return 1 + WSFAST_ONE_TEXT;
        if (s->same_kind == (WSFAST_R_FIRST | WSFAST_R_FIN | 2))
            return 1 + WSFAST_ONE_BINARY;
    }
    return c.count + (step == STEP_AGAIN ? WSFAST_AGAIN : 0);
}

int wsfast_keep(wsfast_decoder *d, uint8_t *buffer, uint64_t capacity)
{
    uint64_t kept = d->frame_open && d->sink == NULL ? d->frame_done : 0;

    if (kept > capacity)
        return -1;
    if (kept > 0)
        memmove(buffer, d->keep, (size_t)kept);
    d->keep = buffer;
    d->keep_capacity = capacity;
    return 0;
}
