/*
 * fuzz_blake3.c -- differential libFuzzer target for the BLAKE3 tiers.
 *
 * Every sealed byte an attacker serves is hashed before anything else
 * looks at it, so the hasher is the first C code to see hostile input.
 * Input: mode (1) | split (2) | seek (2) | out length (1) | message...
 * Every tier compiled in and runnable here must give the portable tier's
 * answer, one-shot and incremental (the message split at an input-chosen
 * point), for any output length and XOF position.
 */
#include "coldseal.h"
#include "fuzz_input.h"

static const uint8_t KEY[CS_KEY_LEN] = "coldseal fuzz key, 32 bytes ...";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    int mode = (int)(fuzz_u64(&in, 1) % 3);
    size_t split = (size_t)fuzz_u64(&in, 2);
    uint64_t seek = fuzz_u64(&in, 2);
    size_t out_len = 1 + (size_t)fuzz_u64(&in, 1);
    const uint8_t *key = mode == CS_B3_MODE_KEYED ? KEY : (const uint8_t *)"coldseal fuzz context";
    size_t key_len = mode == CS_B3_MODE_HASH ? 0 : mode == CS_B3_MODE_KEYED ? CS_KEY_LEN : 21;
    if (mode == CS_B3_MODE_HASH) key = NULL;
    if (split > in.len) split = in.len;

    uint8_t ref[256], got[256];
    cs_blake3 *h = NULL;
    FUZZ_CHECK(cs_blake3_new(CS_B3_TIER_PORTABLE, mode, key, key_len, &h) == CS_OK);
    cs_blake3_update(h, in.p, in.len);
    cs_blake3_finalize(h, seek, ref, out_len);
    cs_blake3_free(h);

    for (int tier = CS_B3_TIER_PORTABLE; tier <= CS_B3_TIER_AVX512; tier++) {
        if (!cs_b3_tier_available(tier)) continue;
        if (seek == 0) {
            FUZZ_CHECK(cs_blake3_hash(tier, mode, key, key_len, in.p, in.len, got, out_len) ==
                       CS_OK);
            FUZZ_CHECK(memcmp(ref, got, out_len) == 0);
        }
        FUZZ_CHECK(cs_blake3_new(tier, mode, key, key_len, &h) == CS_OK);
        cs_blake3_update(h, in.p, split);
        cs_blake3_update(h, in.p + split, in.len - split);
        cs_blake3_finalize(h, seek, got, out_len);
        FUZZ_CHECK(memcmp(ref, got, out_len) == 0);
        cs_blake3_reset(h);
        cs_blake3_update(h, in.p, in.len);
        cs_blake3_finalize(h, seek, got, out_len);
        FUZZ_CHECK(memcmp(ref, got, out_len) == 0);
        cs_blake3_free(h);
    }
    return 0;
}
