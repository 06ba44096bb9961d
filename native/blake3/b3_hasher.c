/*
 * b3_hasher.c -- the BLAKE3 tree: chunk state, chaining-value stack, wide
 * subtree hashing and the extendable output, over whichever tier the hasher
 * was created with.
 *
 * Large updates are cut into power-of-two subtrees aligned on the chunk
 * counter, so that whole chunks and then whole rows of parents go through
 * the tier's hash_many several at a time. A chaining value is merged into its
 * parent only once more input proves it is not the root (the "lazy merge" of
 * the specification, section 5.1.2).
 */
#include <stdlib.h>

#include "../coldseal.h"
#include "../cs_util.h"
#include "b3_impl.h"

#define MAX_DEGREE_OR_2 (B3_MAX_SIMD_DEGREE > 2 ? B3_MAX_SIMD_DEGREE : 2)

/* Everything needed to produce a node's chaining value or the root's output. */
typedef struct {
    uint32_t input_cv[8];
    uint64_t counter;
    uint8_t block[B3_BLOCK_LEN];
    uint8_t block_len;
    uint8_t flags;
} output_t;

/* ---- chunk state -------------------------------------------------------- */

static void chunk_init(b3_chunk_state *c, const uint32_t key[8], uint64_t counter) {
    memcpy(c->cv, key, sizeof c->cv);
    c->chunk_counter = counter;
    memset(c->buf, 0, sizeof c->buf);
    c->buf_len = 0;
    c->blocks_compressed = 0;
}

static size_t chunk_len(const b3_chunk_state *c) {
    return (size_t)c->blocks_compressed * B3_BLOCK_LEN + c->buf_len;
}

static uint8_t chunk_start_flag(const b3_chunk_state *c) {
    return c->blocks_compressed == 0 ? B3_CHUNK_START : 0;
}

static void chunk_update(const cs_b3_impl *impl, b3_chunk_state *c, uint8_t flags,
                         const uint8_t *input, size_t len) {
    /* The last block of a chunk is never compressed here: it needs CHUNK_END,
     * and maybe ROOT, which are known only once the input ends. */
    while (len > 0) {
        if (c->buf_len == B3_BLOCK_LEN) {
            impl->compress_in_place(c->cv, c->buf, B3_BLOCK_LEN, c->chunk_counter,
                                    flags | chunk_start_flag(c));
            c->blocks_compressed += 1;
            c->buf_len = 0;
            memset(c->buf, 0, sizeof c->buf);
        }
        if (c->buf_len == 0) {
            while (len > B3_BLOCK_LEN) {
                impl->compress_in_place(c->cv, input, B3_BLOCK_LEN, c->chunk_counter,
                                        flags | chunk_start_flag(c));
                c->blocks_compressed += 1;
                input += B3_BLOCK_LEN;
                len -= B3_BLOCK_LEN;
            }
        }
        size_t take = B3_BLOCK_LEN - c->buf_len;
        if (take > len) take = len;
        memcpy(c->buf + c->buf_len, input, take);
        c->buf_len = (uint8_t)(c->buf_len + take);
        input += take;
        len -= take;
    }
}

static output_t chunk_output(const b3_chunk_state *c, uint8_t flags) {
    output_t o;
    memcpy(o.input_cv, c->cv, sizeof o.input_cv);
    o.counter = c->chunk_counter;
    memcpy(o.block, c->buf, sizeof o.block);
    o.block_len = c->buf_len;
    o.flags = (uint8_t)(flags | chunk_start_flag(c) | B3_CHUNK_END);
    return o;
}

static output_t parent_output(const uint8_t block[B3_BLOCK_LEN], const uint32_t key[8],
                              uint8_t flags) {
    output_t o;
    memcpy(o.input_cv, key, sizeof o.input_cv);
    o.counter = 0;
    memcpy(o.block, block, sizeof o.block);
    o.block_len = B3_BLOCK_LEN;
    o.flags = (uint8_t)(flags | B3_PARENT);
    return o;
}

static void output_cv(const cs_b3_impl *impl, const output_t *o, uint8_t out[B3_OUT_LEN]) {
    uint32_t cv[8];
    memcpy(cv, o->input_cv, sizeof cv);
    impl->compress_in_place(cv, o->block, o->block_len, o->counter, o->flags);
    b3_store_cv_words(out, cv);
}

static void output_root_bytes(const cs_b3_impl *impl, const output_t *o, uint64_t seek,
                              uint8_t *out, size_t out_len) {
    uint64_t block_counter = seek / 64;
    size_t offset = (size_t)(seek % 64);
    uint8_t wide[64];
    while (out_len > 0) {
        impl->compress_xof(o->input_cv, o->block, o->block_len, block_counter,
                           (uint8_t)(o->flags | B3_ROOT), wide);
        size_t take = 64 - offset;
        if (take > out_len) take = out_len;
        memcpy(out, wide + offset, take);
        out += take;
        out_len -= take;
        offset = 0;
        block_counter += 1;
    }
}

/* ---- wide subtrees ------------------------------------------------------ */

static size_t round_down_pow2(uint64_t x) {
    /* x > 0 */
    uint64_t p = 1;
    while (p <= x / 2) p <<= 1;
    return (size_t)p;
}

/* Bytes in the left subtree of an input of `len` > CHUNK_LEN bytes: the
 * largest power-of-two number of whole chunks that leaves at least one byte
 * for the right. */
static size_t left_len(size_t len) {
    size_t full_chunks = (len - 1) / B3_CHUNK_LEN;
    return round_down_pow2(full_chunks) * B3_CHUNK_LEN;
}

/* Hash up to `degree` chunks of `input` side by side; the last may be partial. */
static size_t compress_chunks_parallel(const cs_b3_impl *impl, const uint8_t *input, size_t len,
                                       const uint32_t key[8], uint64_t chunk_counter,
                                       uint8_t flags, uint8_t *out) {
    const uint8_t *ptrs[B3_MAX_SIMD_DEGREE];
    size_t n = 0;
    while (len - n * B3_CHUNK_LEN >= B3_CHUNK_LEN) {
        ptrs[n] = input + n * B3_CHUNK_LEN;
        n += 1;
    }
    impl->hash_many(ptrs, n, B3_CHUNK_LEN / B3_BLOCK_LEN, key, chunk_counter, true, flags,
                    B3_CHUNK_START, B3_CHUNK_END, out);
    size_t rest = len - n * B3_CHUNK_LEN;
    if (rest > 0) {
        b3_chunk_state c;
        chunk_init(&c, key, chunk_counter + n);
        chunk_update(impl, &c, flags, input + n * B3_CHUNK_LEN, rest);
        output_t o = chunk_output(&c, flags);
        output_cv(impl, &o, out + n * B3_OUT_LEN);
        return n + 1;
    }
    return n;
}

/* Hash pairs of chaining values into parents side by side; an odd one out is
 * carried up unchanged. */
static size_t compress_parents_parallel(const cs_b3_impl *impl, const uint8_t *cvs, size_t num_cvs,
                                        const uint32_t key[8], uint8_t flags, uint8_t *out) {
    const uint8_t *ptrs[MAX_DEGREE_OR_2];
    size_t pairs = num_cvs / 2;
    for (size_t i = 0; i < pairs; i++) ptrs[i] = cvs + 2 * i * B3_OUT_LEN;
    impl->hash_many(ptrs, pairs, 1, key, 0, false, (uint8_t)(flags | B3_PARENT), 0, 0, out);
    if (num_cvs % 2 == 1) {
        memcpy(out + pairs * B3_OUT_LEN, cvs + 2 * pairs * B3_OUT_LEN, B3_OUT_LEN);
        return pairs + 1;
    }
    return pairs;
}

/* Reduce a subtree of whole power-of-two chunks (plus, at the right edge, a
 * partial one) to at most max(degree, 2) chaining values, and at least 2 when
 * the input is longer than one chunk, so the caller can still decide which
 * parent is the root. */
static size_t compress_subtree_wide(const cs_b3_impl *impl, const uint8_t *input, size_t len,
                                    const uint32_t key[8], uint64_t chunk_counter, uint8_t flags,
                                    uint8_t *out) {
    size_t degree = impl->degree;
    if (len <= degree * B3_CHUNK_LEN) {
        return compress_chunks_parallel(impl, input, len, key, chunk_counter, flags, out);
    }
    size_t left = left_len(len);
    uint8_t cvs[2 * MAX_DEGREE_OR_2 * B3_OUT_LEN];
    size_t left_n = compress_subtree_wide(impl, input, left, key, chunk_counter, flags, cvs);
    size_t right_n =
        compress_subtree_wide(impl, input + left, len - left, key,
                              chunk_counter + left / B3_CHUNK_LEN, flags,
                              cvs + left_n * B3_OUT_LEN);
    if (left_n == 1) {
        /* Only with a degree-1 tier: two chaining values, left then right. */
        memcpy(out, cvs, 2 * B3_OUT_LEN);
        return 2;
    }
    return compress_parents_parallel(impl, cvs, left_n + right_n, key, flags, out);
}

static void compress_subtree_to_parent_node(const cs_b3_impl *impl, const uint8_t *input,
                                            size_t len, const uint32_t key[8],
                                            uint64_t chunk_counter, uint8_t flags,
                                            uint8_t out[2 * B3_OUT_LEN]) {
    uint8_t cvs[MAX_DEGREE_OR_2 * B3_OUT_LEN];
    size_t n = compress_subtree_wide(impl, input, len, key, chunk_counter, flags, cvs);
    uint8_t tmp[MAX_DEGREE_OR_2 / 2 * B3_OUT_LEN];
    while (n > 2) {
        n = compress_parents_parallel(impl, cvs, n, key, flags, tmp);
        memcpy(cvs, tmp, n * B3_OUT_LEN);
    }
    memcpy(out, cvs, 2 * B3_OUT_LEN);
}

/* ---- the chaining-value stack ------------------------------------------- */

static void merge_stack(cs_blake3 *h, uint64_t total_chunks) {
    /* A complete subtree per set bit of the chunk count stays on the stack. */
    size_t keep = (size_t)__builtin_popcountll(total_chunks);
    while (h->stack_len > keep) {
        uint8_t *pair = h->stack + (size_t)(h->stack_len - 2) * B3_OUT_LEN;
        output_t o = parent_output(pair, h->key, h->flags);
        output_cv(h->impl, &o, pair);
        h->stack_len -= 1;
    }
}

static void push_cv(cs_blake3 *h, const uint8_t cv[B3_OUT_LEN], uint64_t chunk_counter) {
    merge_stack(h, chunk_counter);
    memcpy(h->stack + (size_t)h->stack_len * B3_OUT_LEN, cv, B3_OUT_LEN);
    h->stack_len += 1;
}

/* ---- hasher ------------------------------------------------------------- */

void cs_b3_init_words(cs_blake3 *h, const cs_b3_impl *impl, const uint32_t key[8],
                      uint8_t flags) {
    h->impl = impl;
    memcpy(h->key, key, sizeof h->key);
    h->flags = flags;
    chunk_init(&h->chunk, key, 0);
    h->stack_len = 0;
}

static void hasher_update(cs_blake3 *h, const uint8_t *input, size_t len) {
    if (len == 0) return;
    if (chunk_len(&h->chunk) > 0) {
        size_t take = B3_CHUNK_LEN - chunk_len(&h->chunk);
        if (take > len) take = len;
        chunk_update(h->impl, &h->chunk, h->flags, input, take);
        input += take;
        len -= take;
        if (len == 0) return;
        uint8_t cv[B3_OUT_LEN];
        output_t o = chunk_output(&h->chunk, h->flags);
        output_cv(h->impl, &o, cv);
        push_cv(h, cv, h->chunk.chunk_counter);
        chunk_init(&h->chunk, h->key, h->chunk.chunk_counter + 1);
    }
    while (len > B3_CHUNK_LEN) {
        size_t subtree = round_down_pow2(len);
        uint64_t done_bytes = h->chunk.chunk_counter * B3_CHUNK_LEN;
        while ((((uint64_t)subtree - 1) & done_bytes) != 0) subtree /= 2;
        uint64_t subtree_chunks = subtree / B3_CHUNK_LEN;
        if (subtree <= B3_CHUNK_LEN) {
            b3_chunk_state c;
            chunk_init(&c, h->key, h->chunk.chunk_counter);
            chunk_update(h->impl, &c, h->flags, input, subtree);
            uint8_t cv[B3_OUT_LEN];
            output_t o = chunk_output(&c, h->flags);
            output_cv(h->impl, &o, cv);
            push_cv(h, cv, c.chunk_counter);
        } else {
            uint8_t pair[2 * B3_OUT_LEN];
            compress_subtree_to_parent_node(h->impl, input, subtree, h->key,
                                            h->chunk.chunk_counter, h->flags, pair);
            push_cv(h, pair, h->chunk.chunk_counter);
            push_cv(h, pair + B3_OUT_LEN, h->chunk.chunk_counter + subtree_chunks / 2);
        }
        h->chunk.chunk_counter += subtree_chunks;
        input += subtree;
        len -= subtree;
    }
    if (len > 0) {
        chunk_update(h->impl, &h->chunk, h->flags, input, len);
        merge_stack(h, h->chunk.chunk_counter);
    }
}

static void hasher_finalize(const cs_blake3 *h, uint64_t seek, uint8_t *out, size_t out_len) {
    if (out_len == 0) return;
    output_t o;
    size_t remaining;
    if (h->stack_len == 0) {
        o = chunk_output(&h->chunk, h->flags);
        output_root_bytes(h->impl, &o, seek, out, out_len);
        return;
    }
    if (chunk_len(&h->chunk) > 0) {
        o = chunk_output(&h->chunk, h->flags);
        remaining = h->stack_len;
    } else {
        /* The input ended on a chunk boundary: the top two stacked values are
         * the last parent's children. */
        o = parent_output(h->stack + (size_t)(h->stack_len - 2) * B3_OUT_LEN, h->key, h->flags);
        remaining = (size_t)h->stack_len - 2;
    }
    while (remaining > 0) {
        remaining -= 1;
        uint8_t block[B3_BLOCK_LEN];
        memcpy(block, h->stack + remaining * B3_OUT_LEN, B3_OUT_LEN);
        output_cv(h->impl, &o, block + B3_OUT_LEN);
        o = parent_output(block, h->key, h->flags);
    }
    output_root_bytes(h->impl, &o, seek, out, out_len);
}

void cs_b3_context_key(const cs_b3_impl *impl, const uint8_t *context, size_t len,
                       uint32_t key[8]) {
    cs_blake3 h;
    uint8_t bytes[B3_KEY_LEN];
    cs_b3_init_words(&h, impl, B3_IV, B3_DERIVE_KEY_CONTEXT);
    hasher_update(&h, context, len);
    hasher_finalize(&h, 0, bytes, sizeof bytes);
    b3_load_key_words(bytes, key);
    cs_wipe(bytes, sizeof bytes);
}

/* Set up `h` for `mode`, deriving the context key when needed. */
static int hasher_setup(cs_blake3 *h, const cs_b3_impl *impl, int mode, const uint8_t *key,
                        size_t key_len) {
    uint32_t words[8];
    switch (mode) {
    case CS_B3_MODE_HASH:
        cs_b3_init_words(h, impl, B3_IV, 0);
        return CS_OK;
    case CS_B3_MODE_KEYED:
        if (key == NULL || key_len != B3_KEY_LEN) return CS_ERR_ARG;
        b3_load_key_words(key, words);
        cs_b3_init_words(h, impl, words, B3_KEYED_HASH);
        cs_wipe(words, sizeof words);
        return CS_OK;
    case CS_B3_MODE_DERIVE_KEY:
        if (key == NULL && key_len != 0) return CS_ERR_ARG;
        cs_b3_context_key(impl, key, key_len, words);
        cs_b3_init_words(h, impl, words, B3_DERIVE_KEY_MATERIAL);
        cs_wipe(words, sizeof words);
        return CS_OK;
    default:
        return CS_ERR_ARG;
    }
}

/* ---- public API ------------------------------------------------------------ */

int cs_blake3_new(int tier, int mode, const uint8_t *key, size_t key_len, cs_blake3 **out) {
    if (out == NULL) return CS_ERR_ARG;
    *out = NULL;
    const cs_b3_impl *impl = cs_b3_impl_for_tier(tier);
    if (impl == NULL) return CS_ERR_UNSUPPORTED;
    cs_blake3 *h = calloc(1, sizeof *h);
    if (h == NULL) return CS_ERR_NOMEM;
    int rc = hasher_setup(h, impl, mode, key, key_len);
    if (rc != CS_OK) {
        free(h);
        return rc;
    }
    *out = h;
    return CS_OK;
}

void cs_blake3_free(cs_blake3 *h) {
    if (h == NULL) return;
    cs_wipe(h, sizeof *h);
    free(h);
}

void cs_blake3_reset(cs_blake3 *h) {
    chunk_init(&h->chunk, h->key, 0);
    h->stack_len = 0;
}

void cs_blake3_update(cs_blake3 *h, const uint8_t *input, size_t len) {
    hasher_update(h, input, len);
}

void cs_blake3_finalize(const cs_blake3 *h, uint64_t seek, uint8_t *out, size_t out_len) {
    hasher_finalize(h, seek, out, out_len);
}

int cs_blake3_hash(int tier, int mode, const uint8_t *key, size_t key_len, const uint8_t *input,
                   size_t len, uint8_t *out, size_t out_len) {
    if ((input == NULL && len != 0) || (out == NULL && out_len != 0)) return CS_ERR_ARG;
    const cs_b3_impl *impl = cs_b3_impl_for_tier(tier);
    if (impl == NULL) return CS_ERR_UNSUPPORTED;
    cs_blake3 h;
    int rc = hasher_setup(&h, impl, mode, key, key_len);
    if (rc != CS_OK) return rc;
    hasher_update(&h, input, len);
    hasher_finalize(&h, 0, out, out_len);
    if (mode != CS_B3_MODE_HASH) cs_wipe(&h, sizeof h);
    return CS_OK;
}
