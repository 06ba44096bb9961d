/*
 * aead.c -- AES-256-GCM through OpenSSL libcrypto's EVP interface.
 *
 * AES itself is never hand-written here: EVP picks AES-NI/VAES and
 * PCLMULQDQ kernels. A context is keyed once (one key schedule per thread,
 * not per message); each message only sets its nonce. Every failure path
 * empties OpenSSL's per-thread error queue so a stale entry never surfaces
 * later as somebody else's error.
 */
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "aead_internal.h"
#include "coldseal.h"
#include "cs_util.h"

static int fail(int status) {
    ERR_clear_error();
    return status;
}

int cs_aead_new(const uint8_t *key, cs_aead **out) {
    if (out == NULL) return CS_ERR_ARG;
    *out = NULL;
    if (key == NULL) return CS_ERR_ARG;
    cs_aead *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return CS_ERR_NOMEM;
    ctx->enc = EVP_CIPHER_CTX_new();
    ctx->dec = EVP_CIPHER_CTX_new();
    if (ctx->enc == NULL || ctx->dec == NULL) {
        cs_aead_free(ctx);
        return fail(CS_ERR_NOMEM);
    }
    const EVP_CIPHER *gcm = EVP_aes_256_gcm();
    if (EVP_EncryptInit_ex(ctx->enc, gcm, NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx->dec, gcm, NULL, key, NULL) != 1) {
        cs_aead_free(ctx);
        return fail(CS_ERR_CRYPTO);
    }
    /* The default IV length of EVP's GCM is 12; set it anyway so a change of
     * default can never silently change the nonce. */
    if (EVP_CIPHER_CTX_ctrl(ctx->enc, EVP_CTRL_GCM_SET_IVLEN, CS_NONCE_LEN, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx->dec, EVP_CTRL_GCM_SET_IVLEN, CS_NONCE_LEN, NULL) != 1) {
        cs_aead_free(ctx);
        return fail(CS_ERR_CRYPTO);
    }
    *out = ctx;
    return CS_OK;
}

void cs_aead_free(cs_aead *ctx) {
    if (ctx == NULL) return;
    /* EVP_CIPHER_CTX_free cleanses the key schedule it holds. */
    EVP_CIPHER_CTX_free(ctx->enc);
    EVP_CIPHER_CTX_free(ctx->dec);
    free(ctx);
}

/* EVP takes int lengths; feed longer inputs in slices. */
#define EVP_SLICE ((size_t)1 << 30)

int cs_aead_seal(cs_aead *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                 const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag) {
    if (ctx == NULL || nonce == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        ((pt == NULL || ct == NULL) && len != 0))
        return CS_ERR_ARG;
    int outl = 0;
    if (EVP_EncryptInit_ex(ctx->enc, NULL, NULL, NULL, nonce) != 1) return fail(CS_ERR_CRYPTO);
    for (size_t off = 0; off < aad_len; off += EVP_SLICE) {
        size_t n = aad_len - off < EVP_SLICE ? aad_len - off : EVP_SLICE;
        if (EVP_EncryptUpdate(ctx->enc, NULL, &outl, aad + off, (int)n) != 1)
            return fail(CS_ERR_CRYPTO);
    }
    for (size_t off = 0; off < len; off += EVP_SLICE) {
        size_t n = len - off < EVP_SLICE ? len - off : EVP_SLICE;
        if (EVP_EncryptUpdate(ctx->enc, ct + off, &outl, pt + off, (int)n) != 1)
            return fail(CS_ERR_CRYPTO);
    }
    if (EVP_EncryptFinal_ex(ctx->enc, NULL, &outl) != 1) return fail(CS_ERR_CRYPTO);
    if (EVP_CIPHER_CTX_ctrl(ctx->enc, EVP_CTRL_GCM_GET_TAG, CS_TAG_LEN, tag) != 1)
        return fail(CS_ERR_CRYPTO);
    return CS_OK;
}

int cs_aead_open(cs_aead *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                 const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *pt) {
    if (ctx == NULL || nonce == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        ((pt == NULL || ct == NULL) && len != 0))
        return CS_ERR_ARG;
    int outl = 0;
    int status = CS_ERR_CRYPTO;
    uint8_t tag_copy[CS_TAG_LEN];
    /* EVP wants a mutable tag pointer; never hand it the caller's buffer. */
    memcpy(tag_copy, tag, sizeof tag_copy);
    if (EVP_DecryptInit_ex(ctx->dec, NULL, NULL, NULL, nonce) != 1) goto out;
    for (size_t off = 0; off < aad_len; off += EVP_SLICE) {
        size_t n = aad_len - off < EVP_SLICE ? aad_len - off : EVP_SLICE;
        if (EVP_DecryptUpdate(ctx->dec, NULL, &outl, aad + off, (int)n) != 1) goto out;
    }
    for (size_t off = 0; off < len; off += EVP_SLICE) {
        size_t n = len - off < EVP_SLICE ? len - off : EVP_SLICE;
        if (EVP_DecryptUpdate(ctx->dec, pt + off, &outl, ct + off, (int)n) != 1) goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx->dec, EVP_CTRL_GCM_SET_TAG, CS_TAG_LEN, tag_copy) != 1) goto out;
    status = EVP_DecryptFinal_ex(ctx->dec, NULL, &outl) == 1 ? CS_OK : CS_ERR_AUTH;
out:
    if (status != CS_OK) {
        ERR_clear_error();
        if (len != 0) cs_wipe(pt, len);
    }
    return status;
}
