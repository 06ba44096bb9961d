/*
 * chunk.c -- the fused per-chunk operations every sealed byte goes through.
 *
 * Opening a chunk hashes and decrypts it in slices small enough to stay in
 * the L1/L2 cache, so each ciphertext byte is loaded from memory once for
 * both BLAKE3 and AES-GCM. Decryption writes into the caller's buffer (or
 * the context's scratch when the body is compressed) before the leaf and tag
 * are known to match; that is safe because nothing is returned until both
 * match, and the output is wiped on any failure.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "aead_internal.h"
#include "coldseal.h"
#include "cs_util.h"
#include "merkle.h"

/* Slice length for interleaving BLAKE3 and AES-GCM: a multiple of the
 * BLAKE3 chunk length and of 16 lanes of it, small enough for L2. */
#define FUSE_SLICE ((size_t)64 * 1024)

struct cs_chunk_ctx {
    cs_aead *aead;
    cs_zstd *zstd;
    cs_merkle_keys keys;
    cs_blake3 hasher;
    uint8_t archive_id[CS_ARCHIVE_ID_LEN];
    size_t max_chunk;
    uint8_t *scratch;
    size_t scratch_cap;
};

int cs_chunk_ctx_new(const uint8_t *dek, const uint8_t *archive_id, size_t max_chunk, int level,
                     cs_chunk_ctx **out) {
    if (out == NULL) return CS_ERR_ARG;
    *out = NULL;
    if (dek == NULL || archive_id == NULL) return CS_ERR_ARG;
    if (max_chunk < CS_MIN_CHUNK || max_chunk > CS_MAX_CHUNK) return CS_ERR_LIMIT;
    cs_chunk_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return CS_ERR_NOMEM;
    int rc = cs_aead_new(dek, &ctx->aead);
    if (rc == CS_OK) rc = cs_zstd_new(level, &ctx->zstd);
    if (rc == CS_OK) {
        ctx->scratch_cap = cs_zstd_bound(max_chunk);
        ctx->scratch = malloc(ctx->scratch_cap);
        if (ctx->scratch == NULL) rc = CS_ERR_NOMEM;
    }
    if (rc != CS_OK) {
        cs_chunk_ctx_free(ctx);
        return rc;
    }
    cs_merkle_keys_init(&ctx->keys);
    memcpy(ctx->archive_id, archive_id, CS_ARCHIVE_ID_LEN);
    ctx->max_chunk = max_chunk;
    *out = ctx;
    return CS_OK;
}

void cs_chunk_ctx_free(cs_chunk_ctx *ctx) {
    if (ctx == NULL) return;
    cs_aead_free(ctx->aead);
    cs_zstd_free(ctx->zstd);
    if (ctx->scratch != NULL) {
        cs_wipe(ctx->scratch, ctx->scratch_cap);
        free(ctx->scratch);
    }
    cs_wipe(ctx, sizeof *ctx);
    free(ctx);
}

size_t cs_sealed_bound(size_t plain_len) { return plain_len + CS_TAG_LEN; }

static void chunk_nonce(uint64_t index, uint8_t nonce[CS_NONCE_LEN]) {
    memset(nonce, 0, CS_NONCE_LEN);
    cs_store64le(nonce, index);
}

static void chunk_aad(const cs_chunk_ctx *ctx, uint64_t index, size_t plain_len,
                      uint8_t aad[CS_AAD_LEN]) {
    memcpy(aad, ctx->archive_id, CS_ARCHIVE_ID_LEN);
    cs_store64le(aad + CS_ARCHIVE_ID_LEN, index);
    cs_store64le(aad + CS_ARCHIVE_ID_LEN + 8, (uint64_t)plain_len);
}

/* Start an EVP message: nonce, then the associated data. */
static int evp_begin(EVP_CIPHER_CTX *evp, int encrypt, const uint8_t nonce[CS_NONCE_LEN],
                     const uint8_t aad[CS_AAD_LEN]) {
    int outl = 0;
    int ok = encrypt ? EVP_EncryptInit_ex(evp, NULL, NULL, NULL, nonce)
                     : EVP_DecryptInit_ex(evp, NULL, NULL, NULL, nonce);
    if (ok != 1) return 0;
    ok = encrypt ? EVP_EncryptUpdate(evp, NULL, &outl, aad, CS_AAD_LEN)
                 : EVP_DecryptUpdate(evp, NULL, &outl, aad, CS_AAD_LEN);
    return ok == 1;
}

int cs_seal_chunk(cs_chunk_ctx *ctx, uint64_t index, const uint8_t *plain, size_t plain_len,
                  uint8_t *sealed, size_t cap, size_t *sealed_len, uint8_t *leaf) {
    if (ctx == NULL || plain == NULL || sealed == NULL || sealed_len == NULL || leaf == NULL)
        return CS_ERR_ARG;
    *sealed_len = 0;
    if (plain_len == 0 || plain_len > ctx->max_chunk || cap < cs_sealed_bound(plain_len))
        return CS_ERR_LIMIT;

    /* Compress, and keep the result only when it is strictly shorter: a
     * stored chunk is then recognisable from its length alone. */
    size_t zlen = 0;
    int rc = cs_zstd_compress(ctx->zstd, plain, plain_len, ctx->scratch, ctx->scratch_cap, &zlen);
    if (rc != CS_OK && rc != CS_ERR_LIMIT) return rc;
    const uint8_t *body = plain;
    size_t body_len = plain_len;
    if (rc == CS_OK && zlen < plain_len) {
        body = ctx->scratch;
        body_len = zlen;
    }

    uint8_t nonce[CS_NONCE_LEN], aad[CS_AAD_LEN];
    chunk_nonce(index, nonce);
    chunk_aad(ctx, index, plain_len, aad);
    EVP_CIPHER_CTX *evp = ctx->aead->enc;
    if (!evp_begin(evp, 1, nonce, aad)) goto crypto_fail;
    cs_merkle_leaf_start(&ctx->keys, &ctx->hasher);
    for (size_t off = 0; off < body_len; off += FUSE_SLICE) {
        size_t n = body_len - off < FUSE_SLICE ? body_len - off : FUSE_SLICE;
        int outl = 0;
        if (EVP_EncryptUpdate(evp, sealed + off, &outl, body + off, (int)n) != 1)
            goto crypto_fail;
        cs_blake3_update(&ctx->hasher, sealed + off, n);
    }
    int outl = 0;
    if (EVP_EncryptFinal_ex(evp, NULL, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_GCM_GET_TAG, CS_TAG_LEN, sealed + body_len) != 1)
        goto crypto_fail;
    cs_blake3_update(&ctx->hasher, sealed + body_len, CS_TAG_LEN);
    cs_merkle_leaf_finish(&ctx->hasher, index, leaf);
    *sealed_len = body_len + CS_TAG_LEN;
    return CS_OK;

crypto_fail:
    ERR_clear_error();
    cs_wipe(sealed, cap);
    return CS_ERR_CRYPTO;
}

/* Hash-only path, used when the lengths rule out decryption: a mismatching
 * leaf still reports tampering rather than a length error. */
static int leaf_matches(cs_chunk_ctx *ctx, uint64_t index, const uint8_t *sealed,
                        size_t sealed_len, const uint8_t *leaf) {
    uint8_t got[CS_HASH_LEN];
    cs_merkle_leaf_start(&ctx->keys, &ctx->hasher);
    cs_blake3_update(&ctx->hasher, sealed, sealed_len);
    cs_merkle_leaf_finish(&ctx->hasher, index, got);
    return cs_ct_equal(got, leaf, CS_HASH_LEN);
}

int cs_open_chunk(cs_chunk_ctx *ctx, uint64_t index, const uint8_t *sealed, size_t sealed_len,
                  const uint8_t *leaf, uint8_t *out, size_t plain_len) {
    if (ctx == NULL || leaf == NULL || out == NULL || (sealed == NULL && sealed_len != 0))
        return CS_ERR_ARG;
    /* Out-of-bounds plain_len means a caller bug; `out` is not touched. */
    if (plain_len == 0 || plain_len > ctx->max_chunk) return CS_ERR_LIMIT;
    int status;
    if (sealed_len <= CS_TAG_LEN || sealed_len - CS_TAG_LEN > plain_len) {
        status = leaf_matches(ctx, index, sealed, sealed_len, leaf) ? CS_ERR_LIMIT : CS_ERR_AUTH;
        goto fail;
    }

    size_t body_len = sealed_len - CS_TAG_LEN;
    int stored = body_len == plain_len;
    uint8_t *dst = stored ? out : ctx->scratch;
    uint8_t nonce[CS_NONCE_LEN], aad[CS_AAD_LEN], tag[CS_TAG_LEN], got[CS_HASH_LEN];
    chunk_nonce(index, nonce);
    chunk_aad(ctx, index, plain_len, aad);
    EVP_CIPHER_CTX *evp = ctx->aead->dec;
    status = CS_ERR_CRYPTO;
    if (!evp_begin(evp, 0, nonce, aad)) goto fail;
    cs_merkle_leaf_start(&ctx->keys, &ctx->hasher);
    for (size_t off = 0; off < body_len; off += FUSE_SLICE) {
        size_t n = body_len - off < FUSE_SLICE ? body_len - off : FUSE_SLICE;
        int outl = 0;
        cs_blake3_update(&ctx->hasher, sealed + off, n);
        if (EVP_DecryptUpdate(evp, dst + off, &outl, sealed + off, (int)n) != 1) goto fail;
    }
    cs_blake3_update(&ctx->hasher, sealed + body_len, CS_TAG_LEN);
    cs_merkle_leaf_finish(&ctx->hasher, index, got);
    /* The signed leaf is the authority: AES-GCM alone is not key-committing. */
    if (!cs_ct_equal(got, leaf, CS_HASH_LEN)) {
        status = CS_ERR_AUTH;
        goto fail;
    }
    memcpy(tag, sealed + body_len, CS_TAG_LEN);
    int outl = 0;
    if (EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_GCM_SET_TAG, CS_TAG_LEN, tag) != 1) goto fail;
    if (EVP_DecryptFinal_ex(evp, NULL, &outl) != 1) {
        status = CS_ERR_AUTH;
        goto fail;
    }
    if (!stored) {
        status = cs_zstd_decompress(ctx->zstd, ctx->scratch, body_len, out, plain_len);
        if (status != CS_OK) goto fail;
    }
    return CS_OK;

fail:
    ERR_clear_error();
    cs_wipe(out, plain_len);
    return status;
}
