/*
 * b3_impl.h -- internal interface between the BLAKE3 hasher and its tiers.
 *
 * Every tier implements the same three kernels; the hasher only ever calls
 * them through a cs_b3_impl table, chosen once per hasher. A tier may reuse
 * a lower tier's kernel where it has nothing better (AVX2 compresses single
 * blocks with the SSE4.1 kernel, for instance).
 */
#ifndef CS_B3_IMPL_H
#define CS_B3_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define CS_B3_X86 1
#endif

#define B3_OUT_LEN 32
#define B3_KEY_LEN 32
#define B3_BLOCK_LEN 64
#define B3_CHUNK_LEN 1024
#define B3_MAX_DEPTH 54 /* 2^54 chunks of 1 KiB = 2^64 bytes */
#define B3_MAX_SIMD_DEGREE 16

/* Domain flags from the specification, section 2.1. */
enum {
    B3_CHUNK_START = 1 << 0,
    B3_CHUNK_END = 1 << 1,
    B3_PARENT = 1 << 2,
    B3_ROOT = 1 << 3,
    B3_KEYED_HASH = 1 << 4,
    B3_DERIVE_KEY_CONTEXT = 1 << 5,
    B3_DERIVE_KEY_MATERIAL = 1 << 6,
};

/* The IV is SHA-256's initial hash value (specification, table 1). */
static const uint32_t B3_IV[8] = {0x6A09E667UL, 0xBB67AE85UL, 0x3C6EF372UL, 0xA54FF53AUL,
                                  0x510E527FUL, 0x9B05688CUL, 0x1F83D9ABUL, 0x5BE0CD19UL};

/* Message word permutation applied between rounds (specification, table 2),
 * unrolled into the schedule of all seven rounds. */
static const uint8_t B3_SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t b3_load32(const void *src) {
    const uint8_t *p = (const uint8_t *)src;
    return ((uint32_t)p[0]) | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline void b3_store32(void *dst, uint32_t w) {
    uint8_t *p = (uint8_t *)dst;
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

static inline void b3_load_key_words(const uint8_t key[B3_KEY_LEN], uint32_t words[8]) {
    for (size_t i = 0; i < 8; i++) words[i] = b3_load32(key + 4 * i);
}

static inline void b3_store_cv_words(uint8_t out[B3_OUT_LEN], const uint32_t cv[8]) {
    for (size_t i = 0; i < 8; i++) b3_store32(out + 4 * i, cv[i]);
}

static inline uint32_t b3_counter_low(uint64_t counter) { return (uint32_t)counter; }
static inline uint32_t b3_counter_high(uint64_t counter) { return (uint32_t)(counter >> 32); }

/* Compress one block into the chaining value `cv` (the first 8 output words). */
typedef void (*b3_compress_in_place_fn)(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                        uint8_t block_len, uint64_t counter, uint8_t flags);

/* Compress one block and write all 16 output words (64 bytes) for the XOF. */
typedef void (*b3_compress_xof_fn)(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                   uint8_t block_len, uint64_t counter, uint8_t flags,
                                   uint8_t out[64]);

/* Hash `num_inputs` independent inputs of exactly `blocks` full blocks each,
 * all starting from `key`, writing one 32-byte chaining value per input to
 * `out`. Input i uses counter `counter + i` when increment_counter is set (the
 * chunks of one subtree), else `counter` (parent nodes, counter 0).
 * `flags_start` is OR-ed into the first block's flags, `flags_end` into the
 * last's. Used for runs of whole chunks (blocks = 16) and parents (blocks = 1). */
typedef void (*b3_hash_many_fn)(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                                const uint32_t key[8], uint64_t counter, bool increment_counter,
                                uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                                uint8_t *out);

typedef struct cs_b3_impl {
    const char *name;
    size_t degree; /* inputs hash_many processes at once; a batch size hint */
    b3_compress_in_place_fn compress_in_place;
    b3_compress_xof_fn compress_xof;
    b3_hash_many_fn hash_many;
} cs_b3_impl;

/* The tiers. Each is defined in its own file; a tier compiled out (CS_NO_SSE41,
 * CS_NO_AVX2, CS_NO_AVX512, or a non-x86 target) is simply absent. */
extern const cs_b3_impl cs_b3_impl_portable;
#if defined(CS_B3_X86)
#if !defined(CS_NO_SSE41)
extern const cs_b3_impl cs_b3_impl_sse41;
#endif
#if !defined(CS_NO_AVX2)
extern const cs_b3_impl cs_b3_impl_avx2;
#endif
#if !defined(CS_NO_AVX512)
extern const cs_b3_impl cs_b3_impl_avx512;
#endif
#endif

/* Portable kernels, exported so that SIMD tiers can fall back to them for
 * the tail of a batch. */
void cs_b3_compress_in_place_portable(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                      uint8_t block_len, uint64_t counter, uint8_t flags);
void cs_b3_compress_xof_portable(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                 uint8_t block_len, uint64_t counter, uint8_t flags,
                                 uint8_t out[64]);
void cs_b3_hash_many_portable(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                              const uint32_t key[8], uint64_t counter, bool increment_counter,
                              uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                              uint8_t *out);

typedef struct {
    uint32_t cv[8];
    uint64_t chunk_counter;
    uint8_t buf[B3_BLOCK_LEN];
    uint8_t buf_len;
    uint8_t blocks_compressed;
} b3_chunk_state;

/* The hasher; public callers see it as the opaque cs_blake3 of coldseal.h,
 * the core's own modules embed it to avoid an allocation per chunk. */
struct cs_blake3 {
    const cs_b3_impl *impl;
    uint32_t key[8];
    uint8_t flags; /* 0, B3_KEYED_HASH or B3_DERIVE_KEY_MATERIAL */
    b3_chunk_state chunk;
    uint8_t stack_len;
    uint8_t stack[(B3_MAX_DEPTH + 1) * B3_OUT_LEN];
};

/* Start `h` from raw key words and mode flags (0, KEYED_HASH, DERIVE_KEY_MATERIAL). */
void cs_b3_init_words(struct cs_blake3 *h, const cs_b3_impl *impl, const uint32_t key[8],
                      uint8_t flags);

/* The derive-key context key of `context` (specification, section 2.3). */
void cs_b3_context_key(const cs_b3_impl *impl, const uint8_t *context, size_t len,
                       uint32_t key[8]);

/* Implementation for a tier, or NULL when it is compiled out or the CPU lacks it. */
const cs_b3_impl *cs_b3_impl_for_tier(int tier);

#endif /* CS_B3_IMPL_H */
