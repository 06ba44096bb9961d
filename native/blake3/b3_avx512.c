/*
 * b3_avx512.c -- the AVX-512 tier of BLAKE3: hash_many over sixteen inputs at
 * once, one 32-bit lane of a zmm register per input.
 *
 * Kept line for line parallel to the AVX2 kernel so the two review as one;
 * only the vector width and the helpers differ. AVX-512 has a rotate
 * instruction and 32 registers, so the byte-shuffle rotations and the
 * register-pressure workarounds of the narrower tiers are not needed (PARK is
 * a plain copy here). Leftovers of a batch go to the AVX2 kernel, single
 * blocks to the SSE4.1 one: the dispatcher only picks this tier on AVX512F +
 * AVX512VL CPUs, which all have both. Whichever of those is compiled out is
 * replaced by the next narrower, down to the portable kernels.
 */
#include "b3_impl.h"

#if defined(CS_B3_X86) && !defined(CS_NO_AVX512)

#include <immintrin.h>

/* always_inline: the kernel relies on the state arrays becoming registers,
 * which needs every helper inlined whatever the inliner's size budget. */
#define AVX512_FN __attribute__((target("avx512f,avx512vl")))
#define AVX512_INLINE static inline __attribute__((target("avx512f,avx512vl"), always_inline))

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
#else
#define NARROW_COMPRESS_IN_PLACE cs_b3_compress_in_place_portable
#define NARROW_COMPRESS_XOF cs_b3_compress_xof_portable
#endif

#if !defined(CS_NO_AVX2)
extern void cs_b3_hash_many_avx2(const uint8_t *const *inputs, size_t num_inputs, size_t blocks,
                                 const uint32_t key[8], uint64_t counter,
                                 bool increment_counter, uint8_t flags, uint8_t flags_start,
                                 uint8_t flags_end, uint8_t *out);
#define NARROW_HASH_MANY cs_b3_hash_many_avx2
#elif !defined(CS_NO_SSE41)
#define NARROW_HASH_MANY cs_b3_hash_many_sse41
#else
#define NARROW_HASH_MANY cs_b3_hash_many_portable
#endif

/* ---- word-vector helpers -------------------------------------------------- */

AVX512_INLINE __m512i loadu(const void *p) { return _mm512_loadu_si512(p); }
AVX512_INLINE void storeu_half(void *p, __m256i x) { _mm256_storeu_si256((__m256i *)p, x); }
AVX512_INLINE __m512i add(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
AVX512_INLINE __m512i vxor(__m512i a, __m512i b) { return _mm512_xor_si512(a, b); }
AVX512_INLINE __m512i splat(uint32_t w) { return _mm512_set1_epi32((int)w); }

AVX512_INLINE __m512i rot16(__m512i x) { return _mm512_ror_epi32(x, 16); }
AVX512_INLINE __m512i rot12(__m512i x) { return _mm512_ror_epi32(x, 12); }
AVX512_INLINE __m512i rot8(__m512i x) { return _mm512_ror_epi32(x, 8); }
AVX512_INLINE __m512i rot7(__m512i x) { return _mm512_ror_epi32(x, 7); }

/* 32 registers hold the state, the temporaries and much of the message. */
#define PARK(slot, x) ((slot) = (x))

/* ---- sixteen inputs, one lane each ----------------------------------------- */

/* 4x4 transposes of 32-bit words inside each 128-bit lane: word j of r[i]'s
 * lane becomes word i of r[j]'s lane. */
AVX512_INLINE void transpose4_lanes(__m512i r[4]) {
    __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]);
    __m512i t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]);
    __m512i t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    r[0] = _mm512_unpacklo_epi64(t0, t2);
    r[1] = _mm512_unpackhi_epi64(t0, t2);
    r[2] = _mm512_unpacklo_epi64(t1, t3);
    r[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* m[w] lane i = word w of block `offset` of input i. The block is read in
 * 16-byte pieces, inputs i, i + 4, i + 8 and i + 12 in the four 128-bit lanes
 * of one register, so that only in-lane shuffles remain; and a 16-byte piece
 * of a 16-byte-aligned buffer never straddles two cache lines, where a
 * 64-byte load would unless the buffer is 64-byte aligned. */
AVX512_INLINE void load_msg16(const uint8_t *const *in, size_t offset, __m512i m[16]) {
    for (size_t g = 0; g < 4; g++) {
        __m512i *r = &m[4 * g];
        for (size_t i = 0; i < 4; i++) {
            size_t at = offset + 16 * g;
            __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(in[i] + at)));
            x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(in[i + 4] + at)), 1);
            x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(in[i + 8] + at)), 2);
            x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(in[i + 12] + at)), 3);
            r[i] = x;
        }
        transpose4_lanes(r);
    }
}

/* The inverse for the chaining values: h[w] lane i = word w of input i's. */
AVX512_INLINE void store_cvs16(__m512i h[8], uint8_t *out) {
    transpose4_lanes(&h[0]);
    transpose4_lanes(&h[4]);
    /* Lane L of h[k] now holds words 0..3 of input 4L + k, of h[k + 4] words
     * 4..7; pair the lanes up and store 32 bytes per input. */
    for (size_t k = 0; k < 4; k++) {
        __m512i lo = _mm512_shuffle_i32x4(h[k], h[k + 4], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i hi = _mm512_shuffle_i32x4(h[k], h[k + 4], _MM_SHUFFLE(3, 2, 3, 2));
        lo = _mm512_shuffle_i32x4(lo, lo, _MM_SHUFFLE(3, 1, 2, 0));
        hi = _mm512_shuffle_i32x4(hi, hi, _MM_SHUFFLE(3, 1, 2, 0));
        storeu_half(out + k * B3_OUT_LEN, _mm512_castsi512_si256(lo));
        storeu_half(out + (k + 4) * B3_OUT_LEN, _mm512_extracti64x4_epi64(lo, 1));
        storeu_half(out + (k + 8) * B3_OUT_LEN, _mm512_castsi512_si256(hi));
        storeu_half(out + (k + 12) * B3_OUT_LEN, _mm512_extracti64x4_epi64(hi, 1));
    }
}

/* Every input is a 1 KiB chunk: too short a stream for the hardware
 * prefetcher to pick up before it ends, so each batch would start on cache
 * misses. Runs of chunks are contiguous, so while one batch computes, fetch
 * the matching block of the batch after it. The address is only a hint
 * (prefetches never fault), hence integer arithmetic rather than a pointer
 * that may leave the caller's buffer. */
AVX512_INLINE void prefetch16(const uint8_t *const *in, size_t offset) {
    for (size_t i = 0; i < 16; i++)
        _mm_prefetch((const char *)((uintptr_t)in[i] + offset), _MM_HINT_T0);
}

/* The round with every lane an independent state; each group of four lines is
 * one step of four G's, written out so that the message indices fold to
 * constants and the four dependency chains interleave. */
AVX512_INLINE void round16(__m512i v[16], const __m512i m[16], size_t r) {
    const uint8_t *s = B3_SCHEDULE[r];
    __m512i parked;
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
AVX512_INLINE void counter_vecs16(uint64_t counter, bool increment, __m512i *lo, __m512i *hi) {
    uint32_t l[16], h[16];
    for (size_t i = 0; i < 16; i++) {
        uint64_t c = counter + (increment ? (uint64_t)i : 0);
        l[i] = b3_counter_low(c);
        h[i] = b3_counter_high(c);
    }
    *lo = loadu(l);
    *hi = loadu(h);
}

AVX512_FN static void hash16(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                             uint64_t counter, bool increment_counter, uint8_t flags,
                             uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
    __m512i h[8];
    for (size_t i = 0; i < 8; i++) h[i] = splat(key[i]);
    __m512i ctr_lo, ctr_hi;
    counter_vecs16(counter, increment_counter, &ctr_lo, &ctr_hi);
    const size_t batch_span = 16 * blocks * B3_BLOCK_LEN;
    uint8_t block_flags = (uint8_t)(flags | flags_start);
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks) block_flags = (uint8_t)(block_flags | flags_end);
        prefetch16(inputs, batch_span + b * B3_BLOCK_LEN);
        __m512i m[16];
        load_msg16(inputs, b * B3_BLOCK_LEN, m);
        __m512i v[16] = {
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
            splat(B3_IV[0]), splat(B3_IV[1]), splat(B3_IV[2]), splat(B3_IV[3]),
            ctr_lo, ctr_hi, splat(B3_BLOCK_LEN), splat(block_flags),
        };
        round16(v, m, 0);
        round16(v, m, 1);
        round16(v, m, 2);
        round16(v, m, 3);
        round16(v, m, 4);
        round16(v, m, 5);
        round16(v, m, 6);
        for (size_t i = 0; i < 8; i++) h[i] = vxor(v[i], v[i + 8]);
        block_flags = flags;
    }
    store_cvs16(h, out);
}

AVX512_FN static void hash_many_avx512(const uint8_t *const *inputs, size_t num_inputs,
                                       size_t blocks, const uint32_t key[8], uint64_t counter,
                                       bool increment_counter, uint8_t flags,
                                       uint8_t flags_start, uint8_t flags_end, uint8_t *out) {
    while (num_inputs >= 16) {
        hash16(inputs, blocks, key, counter, increment_counter, flags, flags_start, flags_end,
               out);
        if (increment_counter) counter += 16;
        inputs += 16;
        num_inputs -= 16;
        out += 16 * B3_OUT_LEN;
    }
    NARROW_HASH_MANY(inputs, num_inputs, blocks, key, counter, increment_counter, flags,
                     flags_start, flags_end, out);
}

const cs_b3_impl cs_b3_impl_avx512 = {
    .name = "avx512",
    .degree = 16,
    .compress_in_place = NARROW_COMPRESS_IN_PLACE,
    .compress_xof = NARROW_COMPRESS_XOF,
    .hash_many = hash_many_avx512,
};

#else
typedef int cs_b3_avx512_unused;
#endif
