/*
 * merkle.c -- the Merkle tree over sealed chunks.
 *
 * Leaves and nodes are BLAKE3 in derive-key mode under different contexts,
 * so a leaf can never be passed off as a node or the other way round. A tree
 * of n leaves splits at the largest power of two below n (as RFC 6962 does),
 * which is the same as pairing each row left to right and carrying an odd
 * last node up unchanged: that is how rows are computed here, many nodes per
 * hash_many call.
 */
#include <stdlib.h>

#include "blake3/b3_impl.h"
#include "coldseal.h"
#include "cs_util.h"
#include "merkle.h"

static const char LEAF_CONTEXT[] = "coldseal v1 chunk leaf";
static const char NODE_CONTEXT[] = "coldseal v1 tree node";
static const char EMPTY_CONTEXT[] = "coldseal v1 empty tree";

void cs_merkle_keys_init(cs_merkle_keys *k) {
    k->impl = cs_b3_impl_for_tier(CS_B3_TIER_BEST);
    cs_b3_context_key(k->impl, (const uint8_t *)LEAF_CONTEXT, sizeof LEAF_CONTEXT - 1, k->leaf);
    cs_b3_context_key(k->impl, (const uint8_t *)NODE_CONTEXT, sizeof NODE_CONTEXT - 1, k->node);
}

void cs_merkle_leaf_start(const cs_merkle_keys *k, cs_blake3 *h) {
    cs_b3_init_words(h, k->impl, k->leaf, B3_DERIVE_KEY_MATERIAL);
}

void cs_merkle_leaf_finish(cs_blake3 *h, uint64_t index, uint8_t out[CS_HASH_LEN]) {
    uint8_t suffix[8];
    cs_store64le(suffix, index);
    cs_blake3_update(h, suffix, sizeof suffix);
    cs_blake3_finalize(h, 0, out, CS_HASH_LEN);
}

/* Hash `pairs` consecutive (left || right) blocks of `row` into `out`. A
 * one-block input's root hash is the first 32 bytes of one compression with
 * CHUNK_START | CHUNK_END | ROOT, which is exactly what hash_many returns. */
static void hash_row(const cs_merkle_keys *k, const uint8_t *row, uint64_t pairs, uint8_t *out) {
    const uint8_t *ptrs[B3_MAX_SIMD_DEGREE];
    while (pairs > 0) {
        size_t batch = pairs < B3_MAX_SIMD_DEGREE ? (size_t)pairs : B3_MAX_SIMD_DEGREE;
        for (size_t i = 0; i < batch; i++) ptrs[i] = row + i * 2 * CS_HASH_LEN;
        k->impl->hash_many(ptrs, batch, 1, k->node, 0, false, B3_DERIVE_KEY_MATERIAL,
                           B3_CHUNK_START, B3_CHUNK_END | B3_ROOT, out);
        row += batch * 2 * CS_HASH_LEN;
        out += batch * CS_HASH_LEN;
        pairs -= batch;
    }
}

/* One row up: pairs hashed, an odd last node carried. Returns the new width. */
static uint64_t next_row(const cs_merkle_keys *k, const uint8_t *row, uint64_t width, uint8_t *out) {
    uint64_t pairs = width / 2;
    hash_row(k, row, pairs, out);
    if (width % 2 == 1) {
        memmove(out + pairs * CS_HASH_LEN, row + (width - 1) * CS_HASH_LEN, CS_HASH_LEN);
    }
    return pairs + width % 2;
}

static void empty_root(uint8_t out[CS_HASH_LEN]) {
    cs_blake3_hash(CS_B3_TIER_BEST, CS_B3_MODE_DERIVE_KEY, (const uint8_t *)EMPTY_CONTEXT,
                   sizeof EMPTY_CONTEXT - 1, NULL, 0, out, CS_HASH_LEN);
}

int cs_merkle_leaf(uint64_t index, const uint8_t *sealed, size_t len, uint8_t *out) {
    if ((sealed == NULL && len != 0) || out == NULL) return CS_ERR_ARG;
    cs_merkle_keys k;
    cs_blake3 h;
    cs_merkle_keys_init(&k);
    cs_merkle_leaf_start(&k, &h);
    cs_blake3_update(&h, sealed, len);
    cs_merkle_leaf_finish(&h, index, out);
    return CS_OK;
}

int cs_merkle_node(const uint8_t *left, const uint8_t *right, uint8_t *out) {
    if (left == NULL || right == NULL || out == NULL) return CS_ERR_ARG;
    cs_merkle_keys k;
    uint8_t block[2 * CS_HASH_LEN];
    cs_merkle_keys_init(&k);
    memcpy(block, left, CS_HASH_LEN);
    memcpy(block + CS_HASH_LEN, right, CS_HASH_LEN);
    hash_row(&k, block, 1, out);
    return CS_OK;
}

uint64_t cs_merkle_tree_len(uint64_t n) {
    if (n == 0) return 0;
    uint64_t total = n;
    while (n > 1) {
        n = (n + 1) / 2;
        total += n;
    }
    return total;
}

int cs_merkle_tree(const uint8_t *leaves, uint64_t n, uint8_t *tree) {
    if ((leaves == NULL && n != 0) || (tree == NULL && n != 0)) return CS_ERR_ARG;
    if (n > CS_MAX_LEAVES) return CS_ERR_LIMIT;
    if (n == 0) return CS_OK;
    cs_merkle_keys k;
    cs_merkle_keys_init(&k);
    memmove(tree, leaves, (size_t)n * CS_HASH_LEN);
    uint8_t *row = tree;
    uint64_t width = n;
    while (width > 1) {
        uint8_t *up = row + (size_t)width * CS_HASH_LEN;
        width = next_row(&k, row, width, up);
        row = up;
    }
    return CS_OK;
}

int cs_merkle_root(const uint8_t *leaves, uint64_t n, uint8_t *out) {
    if ((leaves == NULL && n != 0) || out == NULL) return CS_ERR_ARG;
    if (n > CS_MAX_LEAVES) return CS_ERR_LIMIT;
    if (n == 0) {
        empty_root(out);
        return CS_OK;
    }
    if (n == 1) {
        memcpy(out, leaves, CS_HASH_LEN);
        return CS_OK;
    }
    cs_merkle_keys k;
    cs_merkle_keys_init(&k);
    uint8_t *scratch = malloc((size_t)((n + 1) / 2) * CS_HASH_LEN);
    if (scratch == NULL) return CS_ERR_NOMEM;
    uint64_t width = next_row(&k, leaves, n, scratch);
    while (width > 1) width = next_row(&k, scratch, width, scratch);
    memcpy(out, scratch, CS_HASH_LEN);
    free(scratch);
    return CS_OK;
}

uint64_t cs_merkle_proof_len(uint64_t index, uint64_t n) {
    if (index >= n) return 0;
    uint64_t len = 0;
    for (uint64_t width = n, pos = index; width > 1; width = (width + 1) / 2, pos /= 2) {
        if (pos % 2 == 1 || pos + 1 < width) len += 1;
    }
    return len;
}

int cs_merkle_proof(const uint8_t *leaves, uint64_t n, uint64_t index, uint8_t *proof,
                    uint64_t cap) {
    if (leaves == NULL || index >= n || (proof == NULL && cap != 0)) return CS_ERR_ARG;
    if (n > CS_MAX_LEAVES) return CS_ERR_LIMIT;
    if (cap < cs_merkle_proof_len(index, n)) return CS_ERR_LIMIT;
    cs_merkle_keys k;
    cs_merkle_keys_init(&k);
    uint8_t *scratch = malloc((size_t)((n + 1) / 2 + 1) * CS_HASH_LEN);
    if (scratch == NULL) return CS_ERR_NOMEM;
    const uint8_t *row = leaves;
    uint64_t width = n, pos = index, out = 0;
    while (width > 1) {
        if (pos % 2 == 1) {
            memcpy(proof + out++ * CS_HASH_LEN, row + (pos - 1) * CS_HASH_LEN, CS_HASH_LEN);
        } else if (pos + 1 < width) {
            memcpy(proof + out++ * CS_HASH_LEN, row + (pos + 1) * CS_HASH_LEN, CS_HASH_LEN);
        }
        width = next_row(&k, row, width, scratch);
        row = scratch;
        pos /= 2;
    }
    free(scratch);
    return CS_OK;
}

int cs_merkle_verify(const uint8_t *leaf, uint64_t index, uint64_t n, const uint8_t *proof,
                     uint64_t count, const uint8_t *root) {
    if (leaf == NULL || root == NULL || (proof == NULL && count != 0) || index >= n)
        return CS_ERR_ARG;
    if (count != cs_merkle_proof_len(index, n)) return CS_ERR_ARG;
    cs_merkle_keys k;
    cs_merkle_keys_init(&k);
    uint8_t block[2 * CS_HASH_LEN];
    uint8_t h[CS_HASH_LEN];
    memcpy(h, leaf, CS_HASH_LEN);
    uint64_t used = 0;
    for (uint64_t width = n, pos = index; width > 1; width = (width + 1) / 2, pos /= 2) {
        if (pos % 2 == 1) {
            memcpy(block, proof + used++ * CS_HASH_LEN, CS_HASH_LEN);
            memcpy(block + CS_HASH_LEN, h, CS_HASH_LEN);
        } else if (pos + 1 < width) {
            memcpy(block, h, CS_HASH_LEN);
            memcpy(block + CS_HASH_LEN, proof + used++ * CS_HASH_LEN, CS_HASH_LEN);
        } else {
            continue;
        }
        hash_row(&k, block, 1, h);
    }
    return cs_ct_equal(h, root, CS_HASH_LEN) ? CS_OK : CS_ERR_AUTH;
}
