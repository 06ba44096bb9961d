/*
 * b3_portable.c -- the BLAKE3 compression function in plain C11.
 *
 * This tier runs everywhere and is the reference the SIMD tiers are tested
 * against; it favours clarity over speed.
 */
#include "b3_impl.h"

static inline uint32_t rotr32(uint32_t w, unsigned c) { return (w >> c) | (w << (32 - c)); }

/* The quarter-round G (specification, section 2.2). */
static inline void g(uint32_t *s, size_t a, size_t b, size_t c, size_t d, uint32_t x, uint32_t y) {
    s[a] = s[a] + s[b] + x;
    s[d] = rotr32(s[d] ^ s[a], 16);
    s[c] = s[c] + s[d];
    s[b] = rotr32(s[b] ^ s[c], 12);
    s[a] = s[a] + s[b] + y;
    s[d] = rotr32(s[d] ^ s[a], 8);
    s[c] = s[c] + s[d];
    s[b] = rotr32(s[b] ^ s[c], 7);
}

static inline void round_fn(uint32_t s[16], const uint32_t m[16], size_t r) {
    const uint8_t *sched = B3_SCHEDULE[r];
    /* columns */
    g(s, 0, 4, 8, 12, m[sched[0]], m[sched[1]]);
    g(s, 1, 5, 9, 13, m[sched[2]], m[sched[3]]);
    g(s, 2, 6, 10, 14, m[sched[4]], m[sched[5]]);
    g(s, 3, 7, 11, 15, m[sched[6]], m[sched[7]]);
    /* diagonals */
    g(s, 0, 5, 10, 15, m[sched[8]], m[sched[9]]);
    g(s, 1, 6, 11, 12, m[sched[10]], m[sched[11]]);
    g(s, 2, 7, 8, 13, m[sched[12]], m[sched[13]]);
    g(s, 3, 4, 9, 14, m[sched[14]], m[sched[15]]);
}

static inline void compress_state(uint32_t s[16], const uint32_t cv[8],
                                  const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                                  uint64_t counter, uint8_t flags) {
    uint32_t m[16];
    for (size_t i = 0; i < 16; i++) m[i] = b3_load32(block + 4 * i);
    for (size_t i = 0; i < 8; i++) s[i] = cv[i];
    s[8] = B3_IV[0];
    s[9] = B3_IV[1];
    s[10] = B3_IV[2];
    s[11] = B3_IV[3];
    s[12] = b3_counter_low(counter);
    s[13] = b3_counter_high(counter);
    s[14] = (uint32_t)block_len;
    s[15] = (uint32_t)flags;
    for (size_t r = 0; r < 7; r++) round_fn(s, m, r);
}

void cs_b3_compress_in_place_portable(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                      uint8_t block_len, uint64_t counter, uint8_t flags) {
    uint32_t s[16];
    compress_state(s, cv, block, block_len, counter, flags);
    for (size_t i = 0; i < 8; i++) cv[i] = s[i] ^ s[i + 8];
}

void cs_b3_compress_xof_portable(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                 uint8_t block_len, uint64_t counter, uint8_t flags,
                                 uint8_t out[64]) {
    uint32_t s[16];
    compress_state(s, cv, block, block_len, counter, flags);
    for (size_t i = 0; i < 8; i++) {
        b3_store32(out + 4 * i, s[i] ^ s[i + 8]);
        b3_store32(out + 4 * (i + 8), s[i + 8] ^ cv[i]);
    }
}

/* One input of hash_many: `blocks` full blocks chained from `key`. */
static void hash_one(const uint8_t *input, size_t blocks, const uint32_t key[8], uint64_t counter,
                     uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                     uint8_t out[B3_OUT_LEN]) {
    uint32_t cv[8];
    memcpy(cv, key, sizeof cv);
    uint8_t block_flags = flags | flags_start;
    while (blocks > 0) {
        if (blocks == 1) block_flags |= flags_end;
        cs_b3_compress_in_place_portable(cv, input, B3_BLOCK_LEN, counter, block_flags);
        input += B3_BLOCK_LEN;
        blocks -= 1;
        block_flags = flags;
    }
    b3_store_cv_words(out, cv);
}

void cs_b3_hash_many_portable(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                              const uint32_t key[8], uint64_t counter, bool increment_counter,
                              uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                              uint8_t *out) {
    for (size_t i = 0; i < num_inputs; i++) {
        hash_one(inputs[i], blocks, key, counter, flags, flags_start, flags_end, out);
        if (increment_counter) counter += 1;
        out += B3_OUT_LEN;
    }
}

const cs_b3_impl cs_b3_impl_portable = {
    .name = "portable",
    .degree = 1,
    .compress_in_place = cs_b3_compress_in_place_portable,
    .compress_xof = cs_b3_compress_xof_portable,
    .hash_many = cs_b3_hash_many_portable,
};
