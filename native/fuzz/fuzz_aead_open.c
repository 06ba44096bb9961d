/*
 * fuzz_aead_open.c -- libFuzzer target for cs_aead_open().
 *
 * The wrapped DEK in a manifest is archive data that reaches AES-GCM open;
 * the signature covers it, but a careless or compromised signer can sign
 * anything, so it is treated as hostile like every other archive byte.
 * Input: mode (1) | aad length (1) | nonce (12) | aad | ciphertext... | tag (16, last)
 *   mode even: the bytes as given: must be CS_ERR_AUTH (a forged tag) with
 *     the output zeroed, or CS_OK only if they are what the key seals;
 *   mode odd: the harness seals the ciphertext part as plaintext first, so
 *     the open must succeed and give it back, and flipping one input-chosen
 *     bit of nonce, aad, ciphertext or tag must give CS_ERR_AUTH.
 */
#include "coldseal.h"
#include "fuzz_input.h"

static const uint8_t KEY[CS_KEY_LEN] = {0x5a, 0x17, 0x9c, 0x03, 0xee, 0x41, 0x28, 0x6b,
                                        0x90, 0x0d, 0x77, 0xb2, 0x34, 0xc8, 0x1f, 0x65,
                                        0xa9, 0x52, 0x3e, 0xd0, 0x08, 0x81, 0xf4, 0x2c,
                                        0x6e, 0xb7, 0x13, 0x99, 0x47, 0xca, 0x25, 0x7d};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    unsigned mode = (unsigned)fuzz_u64(&in, 1);
    size_t aad_len = (size_t)fuzz_u64(&in, 1);
    uint8_t nonce[CS_NONCE_LEN], aad[255], tag[CS_TAG_LEN];
    fuzz_bytes(&in, nonce, sizeof nonce);
    if (aad_len > in.len) aad_len = in.len;
    fuzz_bytes(&in, aad, aad_len);
    if (in.len < CS_TAG_LEN) return 0;
    size_t len = in.len - CS_TAG_LEN;
    memcpy(tag, in.p + len, CS_TAG_LEN);
    uint8_t *ct = malloc(len + 1), *out = malloc(len + 1);
    FUZZ_CHECK(ct != NULL && out != NULL);
    if (len) memcpy(ct, in.p, len);
    cs_aead *ctx = NULL;
    FUZZ_CHECK(cs_aead_new(KEY, &ctx) == CS_OK);
    if (mode & 1) {
        FUZZ_CHECK(cs_aead_seal(ctx, nonce, aad, aad_len, in.p, len, ct, tag) == CS_OK);
        FUZZ_CHECK(cs_aead_open(ctx, nonce, aad, aad_len, ct, len, tag, out) == CS_OK);
        FUZZ_CHECK(len == 0 || memcmp(out, in.p, len) == 0);
        size_t bits = 8 * (CS_NONCE_LEN + aad_len + len + CS_TAG_LEN);
        size_t bit = (size_t)(mode >> 1) * 2654435761u % bits, byte = bit / 8;
        uint8_t *target = byte < CS_NONCE_LEN                      ? nonce + byte
                          : (byte -= CS_NONCE_LEN) < aad_len       ? aad + byte
                          : (byte -= aad_len) < len                ? ct + byte
                                                                   : tag + (byte - len);
        *target ^= (uint8_t)(1u << (bit % 8));
        memset(out, 0xee, len);
    }
    int rc = cs_aead_open(ctx, nonce, aad, aad_len, ct, len, tag, out);
    FUZZ_CHECK(rc == CS_OK || rc == CS_ERR_AUTH);
    if (mode & 1) FUZZ_CHECK(rc == CS_ERR_AUTH);
    if (rc != CS_OK) FUZZ_CHECK(fuzz_all_zero(out, len));
    cs_aead_free(ctx);
    free(ct);
    free(out);
    return 0;
}
