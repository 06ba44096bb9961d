/*
 * fuzz_zstd.c -- libFuzzer target for cs_zstd_decompress().
 *
 * Input: expected length selector (4) | frame...
 *
 * The decoder must never write past `expected_len`, must refuse anything
 * but exactly one frame that expands to exactly that many bytes, and must
 * leave the output zeroed on failure. Successful outputs are compared with
 * libzstd's one-shot decoder given a larger buffer, which also shows that
 * a frame which would expand further was not accepted.
 */
#include <zstd.h>

#include "coldseal.h"
#include "fuzz_input.h"

#define MAX_OUT ((size_t)1 << 17)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    size_t expected = (size_t)(fuzz_u64(&in, 4) % (MAX_OUT + 1));
    cs_zstd *z = NULL;
    FUZZ_CHECK(cs_zstd_new(1, &z) == CS_OK);
    uint8_t *out = malloc(expected ? expected : 1);
    FUZZ_CHECK(out != NULL);
    memset(out, 0xee, expected);
    int rc = cs_zstd_decompress(z, in.p, in.len, out, expected);
    FUZZ_CHECK(rc == CS_OK || rc == CS_ERR_LIMIT || rc == CS_ERR_CORRUPT);
    if (rc != CS_OK) {
        FUZZ_CHECK(fuzz_all_zero(out, expected));
    } else {
        /* One more byte of room: a frame that fills it would have been too long. */
        uint8_t *ref = malloc(expected + 1);
        FUZZ_CHECK(ref != NULL);
        size_t r = ZSTD_decompress(ref, expected + 1, in.p, in.len);
        FUZZ_CHECK(!ZSTD_isError(r) && r == expected && memcmp(ref, out, expected) == 0);
        free(ref);
    }
    /* The context stays usable after any input. */
    uint8_t frame[64], back[8];
    size_t flen = 0;
    FUZZ_CHECK(cs_zstd_compress(z, (const uint8_t *)"coldseal", 8, frame, sizeof frame, &flen) ==
               CS_OK);
    FUZZ_CHECK(cs_zstd_decompress(z, frame, flen, back, 8) == CS_OK && memcmp(back, "coldseal", 8) == 0);
    cs_zstd_free(z);
    free(out);
    return 0;
}
