/*
 * b3_avx2.c -- the AVX2 tier of BLAKE3: hash_many over eight inputs at once,
 * one 32-bit lane of a ymm register per input.
 *
 * The kernel mirrors the SSE4.1 four-way one with twice the lanes. Single
 * blocks and the leftovers of a batch (fewer than eight inputs) go to the
 * SSE4.1 kernels, or to the portable ones when SSE4.1 is compiled out: every
 * AVX2 CPU has SSE4.1, and a lone block gains nothing from wider registers.
 * AVX2 is enabled per function, as the project builds with generic flags.
 */
#include "b3_impl.h"

#if defined(CS_B3_X86) && !defined(CS_NO_AVX2)

#include <immintrin.h>

/* always_inline: the kernel relies on the state arrays becoming registers,
 * which needs every helper inlined whatever the inliner's size budget. */
#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))

#if !defined(CS_NO_SSE41)
extern void cs_b3_compress_in_place_sse41(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                          uint8_t block_len, uint64_t counter, uint8_t flags);
extern void cs_b3_compress_xof_sse41(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                                     uint8_t block_len, uint64_t counter, uint8_t flags,
                                     uint8_t out[64]);
extern void cs_b3_hash_many_sse41(const uint8_t *const *inputs, size_t num_inputs,
                                  size_t blocks, const uint32_t key[8], uint64_t counter,
                                  bool increment_counter, uint8_t flags, uint8_t flags_start,
                                  uint8_t flags_end, uint8_t *out);
#define NARROW_COMPRESS_IN_PLACE cs_b3_compress_in_place_sse41
#define NARROW_COMPRESS_XOF cs_b3_compress_xof_sse41
#define NARROW_HASH_MANY cs_b3_hash_many_sse41
#else
#define NARROW_COMPRESS_IN_PLACE cs_b3_compress_in_place_portable
#define NARROW_COMPRESS_XOF cs_b3_compress_xof_portable
#define NARROW_HASH_MANY cs_b3_hash_many_portable
#endif

/* Exported for the AVX-512 tier, which hands it its leftovers. */
void cs_b3_hash_many_avx2(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                          const uint32_t key[8], uint64_t counter, bool increment_counter,
                          uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);

/* ---- word-vector helpers -------------------------------------------------- */

AVX2_INLINE __m256i loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
AVX2_INLINE void storeu(void *p, __m256i x) { _mm256_storeu_si256((__m256i *)p, x); }
AVX2_INLINE __m256i add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
AVX2_INLINE __m256i vxor(__m256i a, __m256i b) { return _mm256_xor_si256(a, b); }
AVX2_INLINE __m256i splat(uint32_t w) { return _mm256_set1_epi32((int)w); }

/* Rotations by 16 and 8 move whole bytes, so one byte shuffle (per 128-bit
 * half, hence the repeated pattern) does each; 12 and 7 need the two shifts.
 *
 * The kernel has 17 vectors live during a rotation by 12 or 7 (the 16 state
 * words and a temporary) but only 16 registers. Two measures keep the
 * compilers from spilling and reloading several vectors per step, which
 * costs a quarter of the throughput:
 * - every byte shuffle takes its mask from memory (through a one-instruction
 *   asm, as both compilers otherwise pin the masks in registers), and
 * - for GCC, one state vector that a rotation step does not touch is parked
 *   in memory for its duration (PARK; the empty asm makes the store and the
 *   reload real). Clang allocates well on its own and does worse when forced.
 */
static _Alignas(32) const uint8_t ROT16_MASK[32] = {
    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13};
static _Alignas(32) const uint8_t ROT8_MASK[32] = {
    1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
    1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12};

AVX2_INLINE __m256i rot16(__m256i x) {
    __m256i r;
    __asm__("vpshufb {%2, %1, %0|%0, %1, %2}" : "=x"(r) : "x"(x), "m"(ROT16_MASK));
    return r;
}
AVX2_INLINE __m256i rot12(__m256i x) {
    return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}
AVX2_INLINE __m256i rot8(__m256i x) {
    __m256i r;
    __asm__("vpshufb {%2, %1, %0|%0, %1, %2}" : "=x"(r) : "x"(x), "m"(ROT8_MASK));
    return r;
}
AVX2_INLINE __m256i rot7(__m256i x) {
    return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
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

/* ---- eight inputs, one lane each ------------------------------------------- */

/* 4x4 transposes of 32-bit words inside each 128-bit half: word j of
 * r[i]'s half becomes word i of r[j]'s half. */
AVX2_INLINE void transpose4_halves(__m256i r[4]) {
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    r[0] = _mm256_unpacklo_epi64(t0, t2);
    r[1] = _mm256_unpackhi_epi64(t0, t2);
    r[2] = _mm256_unpacklo_epi64(t1, t3);
    r[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* m[w] lane i = word w of block `offset` of input i. The block is read in
 * 16-byte pieces, input i in the low half and input i + 4 in the high half of
 * one register, so that only in-half shuffles remain; and a 16-byte piece of
 * a 16-byte-aligned buffer (malloc's, Python's) never straddles two cache
 * lines, where a 32-byte load often would (a tenth slower on 64 MiB). */
AVX2_INLINE void load_msg8(const uint8_t *const *in, size_t offset, __m256i m[16]) {
    for (size_t g = 0; g < 4; g++) {
        __m256i *r = &m[4 * g];
        for (size_t i = 0; i < 4; i++) {
            __m128i lo = _mm_loadu_si128((const __m128i *)(in[i] + offset + 16 * g));
            __m128i hi = _mm_loadu_si128((const __m128i *)(in[i + 4] + offset + 16 * g));
            r[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        }
        transpose4_halves(r);
    }
}

/* The inverse for the chaining values: h[w] lane i = word w of input i's. */
AVX2_INLINE void store_cvs8(__m256i h[8], uint8_t *out) {
    transpose4_halves(&h[0]);
    transpose4_halves(&h[4]);
    /* h[k] now holds words 0..3 of inputs k and k + 4, h[k + 4] words 4..7. */
    for (size_t k = 0; k < 4; k++) {
        storeu(out + k * B3_OUT_LEN, _mm256_permute2x128_si256(h[k], h[k + 4], 0x20));
        storeu(out + (k + 4) * B3_OUT_LEN, _mm256_permute2x128_si256(h[k], h[k + 4], 0x31));
    }
}

/* Every input is a 1 KiB chunk: too short a stream for the hardware
 * prefetcher to pick up before it ends, so each batch would start on cache
 * misses (a third slower on 64 MiB). Runs of chunks are contiguous, so while
 * one batch computes, fetch the matching block of the batch after it. The
 * address is only a hint (prefetches never fault), hence integer arithmetic
 * rather than a pointer that may leave the caller's buffer. */
AVX2_INLINE void prefetch8(const uint8_t *const *in, size_t offset) {
    for (size_t i = 0; i < 8; i++)
        _mm_prefetch((const char *)((uintptr_t)in[i] + offset), _MM_HINT_T0);
}

/* The round with every lane an independent state; each group of four lines is
 * one step of four G's, written out so that the message indices fold to
 * constants and the four dependency chains interleave. */
AVX2_INLINE void round8(__m256i v[16], const __m256i m[16], size_t r) {
    const uint8_t *s = B3_SCHEDULE[r];
    __m256i parked;
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
AVX2_INLINE void counter_vecs8(uint64_t counter, bool increment, __m256i *lo, __m256i *hi) {
    uint32_t l[8], h[8];
    for (size_t i = 0; i < 8; i++) {
        uint64_t c = counter + (increment ? (uint64_t)i : 0);
        l[i] = b3_counter_low(c);
        h[i] = b3_counter_high(c);
    }
    *lo = loadu(l);
    *hi = loadu(h);
}

AVX2_FN static void hash8(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                          uint64_t counter, bool increment_counter, uint8_t flags,
                          uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
    __m256i h[8];
    for (size_t i = 0; i < 8; i++) h[i] = splat(key[i]);
    __m256i ctr_lo, ctr_hi;
    counter_vecs8(counter, increment_counter, &ctr_lo, &ctr_hi);
    const size_t batch_span = 8 * blocks * B3_BLOCK_LEN;
    uint8_t block_flags = (uint8_t)(flags | flags_start);
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks) block_flags = (uint8_t)(block_flags | flags_end);
        prefetch8(inputs, batch_span + b * B3_BLOCK_LEN);
        __m256i m[16];
        load_msg8(inputs, b * B3_BLOCK_LEN, m);
        __m256i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            splat(B3_IV[0]), splat(B3_IV[1]), splat(B3_IV[2]), splat(B3_IV[3]),
            ctr_lo, ctr_hi, splat(B3_BLOCK_LEN), splat(block_flags),
        };
        round8(v, m, 0);
        round8(v, m, 1);
        round8(v, m, 2);
        round8(v, m, 3);
        round8(v, m, 4);
        round8(v, m, 5);
        round8(v, m, 6);
        for (size_t i = 0; i < 8; i++) h[i] = vxor(v[i], v[i + 8]);
        block_flags = flags;
    }
    store_cvs8(h, out);
}

AVX2_FN void cs_b3_hash_many_avx2(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                                  const uint32_t key[8], uint64_t counter,
                                  bool increment_counter, uint8_t flags, uint8_t flags_start,
                                  uint8_t flags_end, uint8_t *out) {
    while (num_inputs >= 8) {
        hash8(inputs, blocks, key, counter, increment_counter, flags, flags_start, flags_end,
              out);
        if (increment_counter) counter += 8;
        inputs += 8;
        num_inputs -= 8;
        out += 8 * B3_OUT_LEN;
    }
    NARROW_HASH_MANY(inputs, num_inputs, blocks, key, counter, increment_counter, flags,
                     flags_start, flags_end, out);
}

const cs_b3_impl cs_b3_impl_avx2 = {
    .name = "avx2",
    .degree = 8,
    .compress_in_place = NARROW_COMPRESS_IN_PLACE,
    .compress_xof = NARROW_COMPRESS_XOF,
    .hash_many = cs_b3_hash_many_avx2,
};

#else
typedef int cs_b3_avx2_unused;
#endif
