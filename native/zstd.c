/*
 * zstd.c -- zstd through libzstd, with hard output bounds.
 *
 * Decompression is single-shot into the caller's buffer sized to the
 * chunk's declared plaintext length, so zstd never allocates a window and a
 * frame can never expand past that length: a "bomb" stops at the bound and
 * is reported, with the partial output wiped.
 */
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "coldseal.h"
#include "cs_util.h"

struct cs_zstd {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level;
};

int cs_zstd_new(int level, cs_zstd **out) {
    if (out == NULL) return CS_ERR_ARG;
    *out = NULL;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) return CS_ERR_ARG;
    cs_zstd *z = calloc(1, sizeof *z);
    if (z == NULL) return CS_ERR_NOMEM;
    z->cctx = ZSTD_createCCtx();
    z->dctx = ZSTD_createDCtx();
    z->level = level;
    if (z->cctx == NULL || z->dctx == NULL) {
        cs_zstd_free(z);
        return CS_ERR_NOMEM;
    }
    /* The frame records its content size (so a reader can reject a lying
     * frame before decoding) and no checksum: the chunk is already
     * authenticated by AES-GCM and the Merkle leaf. */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_contentSizeFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 0))) {
        cs_zstd_free(z);
        return CS_ERR_ARG;
    }
    *out = z;
    return CS_OK;
}

void cs_zstd_free(cs_zstd *z) {
    if (z == NULL) return;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    free(z);
}

size_t cs_zstd_bound(size_t len) { return ZSTD_compressBound(len); }

int cs_zstd_compress(cs_zstd *z, const uint8_t *src, size_t len, uint8_t *dst, size_t cap,
                     size_t *out_len) {
    if (z == NULL || out_len == NULL || (src == NULL && len != 0) || dst == NULL)
        return CS_ERR_ARG;
    *out_len = 0;
    size_t r = ZSTD_compress2(z->cctx, dst, cap, src, len);
    if (ZSTD_isError(r)) {
        ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only);
        return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? CS_ERR_LIMIT
                                                                   : CS_ERR_COMPRESS;
    }
    *out_len = r;
    return CS_OK;
}

int cs_zstd_decompress(cs_zstd *z, const uint8_t *src, size_t len, uint8_t *dst,
                       size_t expected_len) {
    if (z == NULL || (src == NULL && len != 0) || (dst == NULL && expected_len != 0))
        return CS_ERR_ARG;
    int status;
    /* One frame, nothing after it: a second frame or trailing bytes would be
     * data the declared size does not account for. */
    size_t frame = ZSTD_findFrameCompressedSize(src, len);
    if (ZSTD_isError(frame) || frame != len) {
        status = CS_ERR_CORRUPT;
        goto fail;
    }
    unsigned long long declared = ZSTD_getFrameContentSize(src, len);
    if (declared == ZSTD_CONTENTSIZE_ERROR) {
        status = CS_ERR_CORRUPT;
        goto fail;
    }
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_len) {
        status = declared > expected_len ? CS_ERR_LIMIT : CS_ERR_CORRUPT;
        goto fail;
    }
    size_t r = ZSTD_decompressDCtx(z->dctx, dst, expected_len, src, len);
    if (ZSTD_isError(r)) {
        status = ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? CS_ERR_LIMIT
                                                                     : CS_ERR_CORRUPT;
        ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
        goto fail;
    }
    if (r != expected_len) {
        status = CS_ERR_CORRUPT;
        goto fail;
    }
    return CS_OK;
fail:
    if (expected_len != 0) cs_wipe(dst, expected_len);
    return status;
}
