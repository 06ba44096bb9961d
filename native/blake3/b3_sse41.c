/*
 * b3_sse41.c -- the SSE4.1 tier of BLAKE3.
 *
 * Two kernels: a single-block compression that keeps the 16-word state as
 * four rows of four words (diagonals are reached by rotating rows), and a
 * hash_many that runs four inputs side by side, one 32-bit lane per input,
 * so that every G is four independent G's with no shuffling at all.
 *
 * The project compiles every file with generic flags, so SSE4.1 is switched
 * on per function through the target attribute; the dispatcher only hands
 * this tier out when the CPU has it. The single-block kernels and hash_many
 * are exported for the AVX2 and AVX-512 tiers, which reuse them.
 */
#include "b3_impl.h"

#if defined(CS_B3_X86) && !defined(CS_NO_SSE41)

#include <immintrin.h>

/* always_inline: the kernels rely on the state arrays becoming registers,
 * which needs every helper inlined whatever the inliner's size budget. */
#define SSE41_FN __attribute__((target("sse4.1")))
#define SSE41_INLINE static inline __attribute__((target("sse4.1"), always_inline))

void cs_b3_compress_in_place_sse41(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                   uint8_t block_len, uint64_t counter, uint8_t flags);
void cs_b3_compress_xof_sse41(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                              uint8_t block_len, uint64_t counter, uint8_t flags,
                              uint8_t out[64]);
void cs_b3_hash_many_sse41(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                           const uint32_t key[8], uint64_t counter, bool increment_counter,
                           uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);

/* ---- word-vector helpers -------------------------------------------------- */

SSE41_INLINE __m128i loadu(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
SSE41_INLINE void storeu(void *p, __m128i x) { _mm_storeu_si128((__m128i *)p, x); }
SSE41_INLINE __m128i add(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
SSE41_INLINE __m128i vxor(__m128i a, __m128i b) { return _mm_xor_si128(a, b); }
SSE41_INLINE __m128i splat(uint32_t w) { return _mm_set1_epi32((int)w); }

/* Rotations by 16 and 8 move whole bytes, so one byte shuffle does each;
 * 12 and 7 need the two shifts.
 *
 * The four-way kernel has 17 vectors live during a rotation by 12 or 7 (the
 * 16 state words and a temporary) but only 16 registers. Two measures keep
 * the compilers from spilling and reloading several vectors per step:
 * - every byte shuffle takes its mask from memory (through a one-instruction
 *   asm, as both compilers otherwise pin the masks in registers), and
 * - for GCC, one state vector that a rotation step does not touch is parked
 *   in memory for its duration (PARK; the empty asm makes the store and the
 *   reload real). Clang allocates well on its own and does worse when forced.
 */
static _Alignas(16) const uint8_t ROT16_MASK[16] = {2, 3, 0, 1, 6, 7, 4, 5,
                                                    10, 11, 8, 9, 14, 15, 12, 13};
static _Alignas(16) const uint8_t ROT8_MASK[16] = {1, 2, 3, 0, 5, 6, 7, 4,
                                                   9, 10, 11, 8, 13, 14, 15, 12};

SSE41_INLINE __m128i rot16(__m128i x) {
    __asm__("pshufb {%1, %0|%0, %1}" : "+x"(x) : "m"(ROT16_MASK));
    return x;
}
SSE41_INLINE __m128i rot12(__m128i x) {
    return _mm_or_si128(_mm_srli_epi32(x, 12), _mm_slli_epi32(x, 20));
}
SSE41_INLINE __m128i rot8(__m128i x) {
    __asm__("pshufb {%1, %0|%0, %1}" : "+x"(x) : "m"(ROT8_MASK));
    return x;
}
SSE41_INLINE __m128i rot7(__m128i x) {
    return _mm_or_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25));
}

#if defined(__clang__)
#define PARK(slot, x) ((slot) = (x))
#else
#define PARK(slot, x)                                                                     \
    do {                                                                                  \
        (slot) = (x);                                                                     \
        __asm__("" : "+m"(slot));                                                         \
    } while (0)
#endif

/* Two words from each of two vectors; a macro because the selector must be
 * an immediate even in unoptimised builds. */
#define PICK2(a, b, sel)                                                                  \
    _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), (sel)))

/* ---- single block, row-wise ------------------------------------------------ */

/* One G on all four columns (or, once rows are rotated, all four diagonals). */
SSE41_INLINE void g_rows(__m128i *a, __m128i *b, __m128i *c, __m128i *d, __m128i x,
                         __m128i y) {
    *a = add(add(*a, x), *b);
    *d = rot16(vxor(*d, *a));
    *c = add(*c, *d);
    *b = rot12(vxor(*b, *c));
    *a = add(add(*a, y), *b);
    *d = rot8(vxor(*d, *a));
    *c = add(*c, *d);
    *b = rot7(vxor(*b, *c));
}

/*
 * The message is kept as the four vectors one round consumes: x and y of the
 * column step (words 0,2,4,6 and 1,3,5,7 of the round's permuted message) and
 * of the diagonal step (8,10,12,14 and 9,11,13,15). The specification's
 * permutation is the same every round, so the next round's four vectors are
 * fixed picks from this round's:
 *   col_x' = (col_x1, col_y1, col_y3, col_x2)   col_y' = (col_x3, dia_x1, col_x0, dia_y2)
 *   dia_x' = (col_y0, dia_x2, dia_y0, dia_y3)   dia_y' = (dia_y1, col_y2, dia_x3, dia_x0)
 */
SSE41_INLINE void permute_msg(__m128i *cx, __m128i *cy, __m128i *dx, __m128i *dy) {
    __m128i ncx = _mm_shuffle_epi32(PICK2(*cx, *cy, _MM_SHUFFLE(3, 1, 2, 1)),
                                    _MM_SHUFFLE(1, 3, 2, 0));
    __m128i ncy = PICK2(PICK2(*cx, *dx, _MM_SHUFFLE(1, 1, 3, 3)),
                        PICK2(*cx, *dy, _MM_SHUFFLE(2, 2, 0, 0)), _MM_SHUFFLE(2, 0, 2, 0));
    __m128i ndx = PICK2(PICK2(*cy, *dx, _MM_SHUFFLE(2, 2, 0, 0)), *dy, _MM_SHUFFLE(3, 0, 2, 0));
    __m128i ndy = PICK2(PICK2(*dy, *cy, _MM_SHUFFLE(2, 2, 1, 1)), *dx, _MM_SHUFFLE(0, 3, 2, 0));
    *cx = ncx;
    *cy = ncy;
    *dx = ndx;
    *dy = ndy;
}

/* Run the seven rounds; rows[0..3] come back as the final state. */
SSE41_INLINE void compress_rows(__m128i rows[4], __m128i cv_lo, __m128i cv_hi,
                                const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                                uint64_t counter, uint8_t flags) {
    __m128i a = cv_lo;
    __m128i b = cv_hi;
    __m128i c = loadu(B3_IV);
    __m128i d = _mm_setr_epi32((int)b3_counter_low(counter), (int)b3_counter_high(counter),
                               (int)block_len, (int)flags);
    __m128i w0 = loadu(block), w1 = loadu(block + 16);
    __m128i w2 = loadu(block + 32), w3 = loadu(block + 48);
    __m128i cx = PICK2(w0, w1, _MM_SHUFFLE(2, 0, 2, 0));
    __m128i cy = PICK2(w0, w1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128i dx = PICK2(w2, w3, _MM_SHUFFLE(2, 0, 2, 0));
    __m128i dy = PICK2(w2, w3, _MM_SHUFFLE(3, 1, 3, 1));
    for (int r = 0; r < 7; r++) {
        g_rows(&a, &b, &c, &d, cx, cy);
        /* Rotate rows 1..3 left by 1..3 lanes: each column is now a diagonal. */
        b = _mm_shuffle_epi32(b, _MM_SHUFFLE(0, 3, 2, 1));
        c = _mm_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2));
        d = _mm_shuffle_epi32(d, _MM_SHUFFLE(2, 1, 0, 3));
        g_rows(&a, &b, &c, &d, dx, dy);
        b = _mm_shuffle_epi32(b, _MM_SHUFFLE(2, 1, 0, 3));
        c = _mm_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2));
        d = _mm_shuffle_epi32(d, _MM_SHUFFLE(0, 3, 2, 1));
        if (r < 6) permute_msg(&cx, &cy, &dx, &dy);
    }
    rows[0] = a;
    rows[1] = b;
    rows[2] = c;
    rows[3] = d;
}

SSE41_FN void cs_b3_compress_in_place_sse41(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                            uint8_t block_len, uint64_t counter,
                                            uint8_t flags) {
    __m128i rows[4];
    compress_rows(rows, loadu(cv), loadu(cv + 4), block, block_len, counter, flags);
    storeu(cv, vxor(rows[0], rows[2]));
    storeu(cv + 4, vxor(rows[1], rows[3]));
}

SSE41_FN void cs_b3_compress_xof_sse41(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                       uint8_t block_len, uint64_t counter, uint8_t flags,
                                       uint8_t out[64]) {
    __m128i rows[4];
    __m128i cv_lo = loadu(cv), cv_hi = loadu(cv + 4);
    compress_rows(rows, cv_lo, cv_hi, block, block_len, counter, flags);
    storeu(out, vxor(rows[0], rows[2]));
    storeu(out + 16, vxor(rows[1], rows[3]));
    storeu(out + 32, vxor(rows[2], cv_lo));
    storeu(out + 48, vxor(rows[3], cv_hi));
}

/* One input of hash_many; the chaining value stays in registers across blocks. */
SSE41_INLINE void hash_one(const uint8_t *input, size_t blocks, const uint32_t key[8],
                           uint64_t counter, uint8_t flags, uint8_t flags_start,
                           uint8_t flags_end, uint8_t out[B3_OUT_LEN]) {
    __m128i lo = loadu(key), hi = loadu(key + 4);
    uint8_t block_flags = (uint8_t)(flags | flags_start);
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks) block_flags = (uint8_t)(block_flags | flags_end);
        __m128i rows[4];
        compress_rows(rows, lo, hi, input + b * B3_BLOCK_LEN, B3_BLOCK_LEN, counter,
                      block_flags);
        lo = vxor(rows[0], rows[2]);
        hi = vxor(rows[1], rows[3]);
        block_flags = flags;
    }
    storeu(out, lo);
    storeu(out + 16, hi);
}

/* ---- four inputs, one lane each -------------------------------------------- */

/* 4x4 transpose of 32-bit words: row i becomes lane i of every vector. */
SSE41_INLINE void transpose4(__m128i r[4]) {
    __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]);
    __m128i t1 = _mm_unpackhi_epi32(r[0], r[1]);
    __m128i t2 = _mm_unpacklo_epi32(r[2], r[3]);
    __m128i t3 = _mm_unpackhi_epi32(r[2], r[3]);
    r[0] = _mm_unpacklo_epi64(t0, t2);
    r[1] = _mm_unpackhi_epi64(t0, t2);
    r[2] = _mm_unpacklo_epi64(t1, t3);
    r[3] = _mm_unpackhi_epi64(t1, t3);
}

/* m[w] lane i = word w of block `offset` of input i. */
SSE41_INLINE void load_msg4(const uint8_t *const *in, size_t offset, __m128i m[16]) {
    for (size_t g = 0; g < 4; g++) {
        for (size_t i = 0; i < 4; i++) m[4 * g + i] = loadu(in[i] + offset + 16 * g);
        transpose4(&m[4 * g]);
    }
}

/* Every input is a 1 KiB chunk: too short a stream for the hardware
 * prefetcher to pick up before it ends, so each batch would start on cache
 * misses. Runs of chunks are contiguous, so while one batch computes, fetch
 * the matching block of the batch after it. The address is only a hint
 * (prefetches never fault), hence integer arithmetic rather than a pointer
 * that may leave the caller's buffer. */
SSE41_INLINE void prefetch4(const uint8_t *const *in, size_t offset) {
    for (size_t i = 0; i < 4; i++)
        _mm_prefetch((const char *)((uintptr_t)in[i] + offset), _MM_HINT_T0);
}

/* The round with every lane an independent state; each group of four lines is
 * one step of four G's, written out so that the message indices fold to
 * constants and the four dependency chains interleave. */
SSE41_INLINE void round4(__m128i v[16], const __m128i m[16], size_t r) {
    const uint8_t *s = B3_SCHEDULE[r];
    __m128i parked;
    /* columns: G on (0,4,8,12) (1,5,9,13) (2,6,10,14) (3,7,11,15) */
    v[0] = add(add(v[0], m[s[0]]), v[4]);
    v[1] = add(add(v[1], m[s[2]]), v[5]);
    v[2] = add(add(v[2], m[s[4]]), v[6]);
    v[3] = add(add(v[3], m[s[6]]), v[7]);
    v[12] = rot16(vxor(v[12], v[0]));
    v[13] = rot16(vxor(v[13], v[1]));
    v[14] = rot16(vxor(v[14], v[2]));
    v[15] = rot16(vxor(v[15], v[3]));
    v[8] = add(v[8], v[12]);
    v[9] = add(v[9], v[13]);
    v[10] = add(v[10], v[14]);
    v[11] = add(v[11], v[15]);
    PARK(parked, v[15]);
    v[4] = rot12(vxor(v[4], v[8]));
    v[5] = rot12(vxor(v[5], v[9]));
    v[6] = rot12(vxor(v[6], v[10]));
    v[7] = rot12(vxor(v[7], v[11]));
    v[15] = parked;
    v[0] = add(add(v[0], m[s[1]]), v[4]);
    v[1] = add(add(v[1], m[s[3]]), v[5]);
    v[2] = add(add(v[2], m[s[5]]), v[6]);
    v[3] = add(add(v[3], m[s[7]]), v[7]);
    v[12] = rot8(vxor(v[12], v[0]));
    v[13] = rot8(vxor(v[13], v[1]));
    v[14] = rot8(vxor(v[14], v[2]));
    v[15] = rot8(vxor(v[15], v[3]));
    v[8] = add(v[8], v[12]);
    v[9] = add(v[9], v[13]);
    v[10] = add(v[10], v[14]);
    v[11] = add(v[11], v[15]);
    PARK(parked, v[15]);
    v[4] = rot7(vxor(v[4], v[8]));
    v[5] = rot7(vxor(v[5], v[9]));
    v[6] = rot7(vxor(v[6], v[10]));
    v[7] = rot7(vxor(v[7], v[11]));
    v[15] = parked;
    /* diagonals: G on (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14) */
    v[0] = add(add(v[0], m[s[8]]), v[5]);
    v[1] = add(add(v[1], m[s[10]]), v[6]);
    v[2] = add(add(v[2], m[s[12]]), v[7]);
    v[3] = add(add(v[3], m[s[14]]), v[4]);
    v[15] = rot16(vxor(v[15], v[0]));
    v[12] = rot16(vxor(v[12], v[1]));
    v[13] = rot16(vxor(v[13], v[2]));
    v[14] = rot16(vxor(v[14], v[3]));
    v[10] = add(v[10], v[15]);
    v[11] = add(v[11], v[12]);
    v[8] = add(v[8], v[13]);
    v[9] = add(v[9], v[14]);
    PARK(parked, v[15]);
    v[5] = rot12(vxor(v[5], v[10]));
    v[6] = rot12(vxor(v[6], v[11]));
    v[7] = rot12(vxor(v[7], v[8]));
    v[4] = rot12(vxor(v[4], v[9]));
    v[15] = parked;
    v[0] = add(add(v[0], m[s[9]]), v[5]);
    v[1] = add(add(v[1], m[s[11]]), v[6]);
    v[2] = add(add(v[2], m[s[13]]), v[7]);
    v[3] = add(add(v[3], m[s[15]]), v[4]);
    v[15] = rot8(vxor(v[15], v[0]));
    v[12] = rot8(vxor(v[12], v[1]));
    v[13] = rot8(vxor(v[13], v[2]));
    v[14] = rot8(vxor(v[14], v[3]));
    v[10] = add(v[10], v[15]);
    v[11] = add(v[11], v[12]);
    v[8] = add(v[8], v[13]);
    v[9] = add(v[9], v[14]);
    PARK(parked, v[15]);
    v[5] = rot7(vxor(v[5], v[10]));
    v[6] = rot7(vxor(v[6], v[11]));
    v[7] = rot7(vxor(v[7], v[8]));
    v[4] = rot7(vxor(v[4], v[9]));
    v[15] = parked;
}

/* Counter words per lane, computed in 64 bits so that the high word carries
 * when the low one wraps inside the batch. */
SSE41_INLINE void counter_vecs4(uint64_t counter, bool increment, __m128i *lo, __m128i *hi) {
    uint32_t l[4], h[4];
    for (size_t i = 0; i < 4; i++) {
        uint64_t c = counter + (increment ? (uint64_t)i : 0);
        l[i] = b3_counter_low(c);
        h[i] = b3_counter_high(c);
    }
    *lo = loadu(l);
    *hi = loadu(h);
}

SSE41_FN static void hash4(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                           uint64_t counter, bool increment_counter, uint8_t flags,
                           uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
    __m128i h[8];
    for (size_t i = 0; i < 8; i++) h[i] = splat(key[i]);
    __m128i ctr_lo, ctr_hi;
    counter_vecs4(counter, increment_counter, &ctr_lo, &ctr_hi);
    const size_t batch_span = 4 * blocks * B3_BLOCK_LEN;
    uint8_t block_flags = (uint8_t)(flags | flags_start);
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks) block_flags = (uint8_t)(block_flags | flags_end);
        prefetch4(inputs, batch_span + b * B3_BLOCK_LEN);
        __m128i m[16];
        load_msg4(inputs, b * B3_BLOCK_LEN, m);
        __m128i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            splat(B3_IV[0]), splat(B3_IV[1]), splat(B3_IV[2]), splat(B3_IV[3]),
            ctr_lo, ctr_hi, splat(B3_BLOCK_LEN), splat(block_flags),
        };
        round4(v, m, 0);
        round4(v, m, 1);
        round4(v, m, 2);
        round4(v, m, 3);
        round4(v, m, 4);
        round4(v, m, 5);
        round4(v, m, 6);
        for (size_t i = 0; i < 8; i++) h[i] = vxor(v[i], v[i + 8]);
        block_flags = flags;
    }
    /* Back from one lane per input to one chaining value per input. */
    transpose4(&h[0]);
    transpose4(&h[4]);
    for (size_t i = 0; i < 4; i++) {
        storeu(out + i * B3_OUT_LEN, h[i]);
        storeu(out + i * B3_OUT_LEN + 16, h[i + 4]);
    }
}

SSE41_FN void cs_b3_hash_many_sse41(const uint8_t *const *inputs, size_t num_inputs,
                                    size_t blocks, const uint32_t key[8], uint64_t counter,
                                    bool increment_counter, uint8_t flags, uint8_t flags_start,
                                    uint8_t flags_end, uint8_t *out) {
    while (num_inputs >= 4) {
        hash4(inputs, blocks, key, counter, increment_counter, flags, flags_start, flags_end,
              out);
        if (increment_counter) counter += 4;
        inputs += 4;
        num_inputs -= 4;
        out += 4 * B3_OUT_LEN;
    }
    while (num_inputs > 0) {
        hash_one(inputs[0], blocks, key, counter, flags, flags_start, flags_end, out);
        if (increment_counter) counter += 1;
        inputs += 1;
        num_inputs -= 1;
        out += B3_OUT_LEN;
    }
}

const cs_b3_impl cs_b3_impl_sse41 = {
    .name = "sse41",
    .degree = 4,
    .compress_in_place = cs_b3_compress_in_place_sse41,
    .compress_xof = cs_b3_compress_xof_sse41,
    .hash_many = cs_b3_hash_many_sse41,
};

#else
typedef int cs_b3_sse41_unused;
#endif
