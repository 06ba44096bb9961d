/*
 * fuzz_merkle.c -- libFuzzer target for the Merkle proof verifier and tree.
 *
 * Input: mode (1) | n (2) | index (2) | bytes...
 *
 *   mode even: cs_merkle_verify() on attacker-supplied leaf, proof and root
 *     for an attacker-chosen (index, n): the status must be CS_ERR_ARG
 *     exactly when the proof has the wrong number of hashes, else CS_OK or
 *     CS_ERR_AUTH, and CS_OK only if the root really is what the proof
 *     hashes to (recomputed with cs_merkle_node()).
 *   mode odd: n leaves derived from the input; the proof cs_merkle_proof()
 *     makes for `index` must verify against cs_merkle_root(), the last hash
 *     of cs_merkle_tree() must be that root, and flipping any one bit of the
 *     leaf, the proof or the root (position from the input) must give
 *     CS_ERR_AUTH.
 */
#include "coldseal.h"
#include "fuzz_input.h"

#define MAX_LEAVES 2048
#define MAX_PROOF 64

/* The root a proof hashes to, recomputed the slow way with cs_merkle_node(). */
static void fold(const uint8_t *leaf, uint64_t index, uint64_t n, const uint8_t *proof,
                 uint8_t out[CS_HASH_LEN]) {
    uint8_t h[CS_HASH_LEN];
    memcpy(h, leaf, CS_HASH_LEN);
    for (uint64_t width = n, pos = index; width > 1; width = (width + 1) / 2, pos /= 2) {
        if (pos % 2 == 1) {
            FUZZ_CHECK(cs_merkle_node(proof, h, h) == CS_OK);
            proof += CS_HASH_LEN;
        } else if (pos + 1 < width) {
            FUZZ_CHECK(cs_merkle_node(h, proof, h) == CS_OK);
            proof += CS_HASH_LEN;
        }
    }
    memcpy(out, h, CS_HASH_LEN);
}

static void hostile_proof(fuzz_input *in, uint64_t n, uint64_t index) {
    uint8_t leaf[CS_HASH_LEN], root[CS_HASH_LEN], proof[MAX_PROOF * CS_HASH_LEN];
    fuzz_bytes(in, leaf, sizeof leaf);
    fuzz_bytes(in, root, sizeof root);
    uint64_t count = fuzz_u64(in, 1) % MAX_PROOF;
    fuzz_bytes(in, proof, (size_t)count * CS_HASH_LEN);
    int rc = cs_merkle_verify(leaf, index, n, proof, count, root);
    if (index >= n || count != cs_merkle_proof_len(index, n)) {
        FUZZ_CHECK(rc == CS_ERR_ARG);
        return;
    }
    uint8_t want[CS_HASH_LEN];
    fold(leaf, index, n, proof, want);
    FUZZ_CHECK(rc == (memcmp(want, root, CS_HASH_LEN) == 0 ? CS_OK : CS_ERR_AUTH));
    /* The root the proof folds to is accepted. */
    FUZZ_CHECK(cs_merkle_verify(leaf, index, n, proof, count, want) == CS_OK);
}

static void honest_tree(fuzz_input *in, uint64_t n, uint64_t index) {
    if (n == 0) n = 1;
    index %= n;
    uint8_t *leaves = malloc((size_t)n * CS_HASH_LEN);
    uint8_t *tree = malloc((size_t)cs_merkle_tree_len(n) * CS_HASH_LEN);
    FUZZ_CHECK(leaves != NULL && tree != NULL);
    for (uint64_t i = 0; i < n; i++)
        FUZZ_CHECK(cs_merkle_leaf(i, in->p, in->len, leaves + i * CS_HASH_LEN) == CS_OK);
    uint8_t root[CS_HASH_LEN], proof[MAX_PROOF * CS_HASH_LEN];
    FUZZ_CHECK(cs_merkle_root(leaves, n, root) == CS_OK);
    FUZZ_CHECK(cs_merkle_tree(leaves, n, tree) == CS_OK);
    uint64_t tl = cs_merkle_tree_len(n);
    FUZZ_CHECK(memcmp(tree + (tl - 1) * CS_HASH_LEN, root, CS_HASH_LEN) == 0);
    FUZZ_CHECK(memcmp(tree, leaves, (size_t)n * CS_HASH_LEN) == 0);
    uint64_t count = cs_merkle_proof_len(index, n);
    FUZZ_CHECK(count <= MAX_PROOF);
    FUZZ_CHECK(cs_merkle_proof(leaves, n, index, proof, count) == CS_OK);
    const uint8_t *leaf = leaves + index * CS_HASH_LEN;
    FUZZ_CHECK(cs_merkle_verify(leaf, index, n, proof, count, root) == CS_OK);
    /* One flipped bit anywhere in (leaf, proof, root) must be caught. */
    uint64_t bits = (2 + count) * CS_HASH_LEN * 8;
    uint64_t bit = fuzz_u64(in, 4) % bits;
    uint8_t l2[CS_HASH_LEN], r2[CS_HASH_LEN];
    memcpy(l2, leaf, CS_HASH_LEN);
    memcpy(r2, root, CS_HASH_LEN);
    uint8_t *target = bit < 256 ? l2 : bit < 512 ? r2 : proof;
    size_t byte = (size_t)(bit < 256 ? bit : bit < 512 ? bit - 256 : bit - 512) / 8;
    target[byte] ^= (uint8_t)(1u << (bit % 8));
    FUZZ_CHECK(cs_merkle_verify(l2, index, n, proof, count, r2) == CS_ERR_AUTH);
    free(leaves);
    free(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    unsigned mode = (unsigned)fuzz_u64(&in, 1);
    uint64_t n = fuzz_u64(&in, 2) % (MAX_LEAVES + 1);
    uint64_t index = fuzz_u64(&in, 2);
    if (mode & 1) {
        honest_tree(&in, n, index);
    } else {
        /* Occasionally ask about enormous trees: only the proof length is computed. */
        if (mode & 2) n = (n << 16) | (uint64_t)fuzz_u64(&in, 2);
        hostile_proof(&in, n, index % (n + 2));
    }
    return 0;
}
