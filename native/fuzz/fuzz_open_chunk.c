/*
 * fuzz_open_chunk.c -- libFuzzer target for cs_open_chunk().
 *
 * Input: mode (1) | index (8) | plain length selector (4) | body...
 *
 * mode & 3 picks what the attacker controls:
 *   0  the sealed bytes and the expected leaf (both from the input): the
 *      tamper path, where almost everything must fail with CS_ERR_AUTH;
 *   1  the sealed bytes, with the leaf the harness computes over them (a
 *      leaf the tree would vouch for): the AES-GCM tag must still refuse;
 *   2,3 the *body*: the harness encrypts it with the test DEK under the
 *      right nonce and AAD and computes its leaf, so cs_open_chunk gets an
 *      authentic chunk whose content is hostile. This is the compromised-
 *      publisher case and the only way the fuzzer reaches the zstd decoder
 *      through the fused path.
 * Invariants checked: the status is one the header documents for that case;
 * on failure `out` is all zeros; on success a stored chunk equals its body
 * and a compressed one equals what libzstd's one-shot decoder makes of it.
 */
#include <zstd.h>

#include "coldseal.h"
#include "fuzz_input.h"

#define MAX_CHUNK ((size_t)CS_MIN_CHUNK * 16) /* 64 KiB keeps executions fast */

static const uint8_t DEK[CS_KEY_LEN] = {
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
static const uint8_t ARCHIVE_ID[CS_ARCHIVE_ID_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                                      0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
                                                      0xac, 0xad, 0xae, 0xaf};

static void store64le(uint8_t *p, uint64_t v) {
    for (size_t i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Seal `body` as chunk `index` of plaintext length `plain_len` (FORMAT.md §2). */
static int seal_body(uint64_t index, size_t plain_len, const uint8_t *body, size_t len,
                     uint8_t *sealed) {
    uint8_t nonce[CS_NONCE_LEN] = {0}, aad[CS_AAD_LEN];
    store64le(nonce, index);
    memcpy(aad, ARCHIVE_ID, CS_ARCHIVE_ID_LEN);
    store64le(aad + CS_ARCHIVE_ID_LEN, index);
    store64le(aad + CS_ARCHIVE_ID_LEN + 8, plain_len);
    cs_aead *aead = NULL;
    if (cs_aead_new(DEK, &aead) != CS_OK) return 0;
    int rc = cs_aead_seal(aead, nonce, aad, CS_AAD_LEN, body, len, sealed, sealed + len);
    cs_aead_free(aead);
    return rc == CS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    unsigned mode = (unsigned)fuzz_u64(&in, 1) & 3;
    uint64_t index = fuzz_u64(&in, 8);
    size_t plain_len = 1 + (size_t)(fuzz_u64(&in, 4) % MAX_CHUNK);
    uint8_t leaf[CS_HASH_LEN];
    if (mode == 0) fuzz_bytes(&in, leaf, sizeof leaf);
    const uint8_t *body = in.p;
    size_t body_len = in.len;
    if (body_len > MAX_CHUNK + CS_TAG_LEN) return 0;

    uint8_t *sealed = malloc(body_len + CS_TAG_LEN + 1);
    uint8_t *out = malloc(plain_len);
    FUZZ_CHECK(sealed != NULL && out != NULL);
    size_t sealed_len = body_len;
    if (mode >= 2) {
        FUZZ_CHECK(seal_body(index, plain_len, body, body_len, sealed));
        sealed_len = body_len + CS_TAG_LEN;
    } else if (body_len) {
        memcpy(sealed, body, body_len);
    }
    if (mode >= 1) FUZZ_CHECK(cs_merkle_leaf(index, sealed, sealed_len, leaf) == CS_OK);

    cs_chunk_ctx *ctx = NULL;
    FUZZ_CHECK(cs_chunk_ctx_new(DEK, ARCHIVE_ID, MAX_CHUNK, 1, &ctx) == CS_OK);
    memset(out, 0xee, plain_len);
    int rc = cs_open_chunk(ctx, index, sealed, sealed_len, leaf, out, plain_len);
    cs_chunk_ctx_free(ctx);

    FUZZ_CHECK(rc == CS_OK || rc == CS_ERR_AUTH || rc == CS_ERR_LIMIT || rc == CS_ERR_CORRUPT);
    if (rc != CS_OK) FUZZ_CHECK(fuzz_all_zero(out, plain_len));
    if (mode == 1) FUZZ_CHECK(rc != CS_OK); /* a tag forged without the DEK */
    if (mode >= 2) {
        /* Authentic: only the body's length or content can be refused. */
        FUZZ_CHECK(rc != CS_ERR_AUTH);
        if (body_len > plain_len || body_len == 0) FUZZ_CHECK(rc == CS_ERR_LIMIT);
        if (body_len == plain_len) FUZZ_CHECK(rc == CS_OK && memcmp(out, body, plain_len) == 0);
        if (rc == CS_OK && body_len < plain_len) {
            uint8_t *ref = malloc(plain_len);
            FUZZ_CHECK(ref != NULL);
            size_t r = ZSTD_decompress(ref, plain_len, body, body_len);
            FUZZ_CHECK(!ZSTD_isError(r) && r == plain_len && memcmp(ref, out, plain_len) == 0);
            free(ref);
        }
    }
    free(sealed);
    free(out);
    return 0;
}
