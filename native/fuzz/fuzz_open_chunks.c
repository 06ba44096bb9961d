/*
 * fuzz_open_chunks.c -- libFuzzer target for the threaded batch cs_open_chunks().
 *
 * Input: threads (1) | jobs (1) | per job: index (2), plain length (2),
 * sealed length (2), leaf mode (1) | shared byte pool...
 *
 * Each job's sealed bytes are a slice of the shared pool (slices may
 * overlap, as chunks of one ranged read do). The batch must give every job
 * the same status, and the same output, as cs_open_chunk() on its own, for
 * any number of worker threads, and zero the output of every failed job.
 * Leaf mode 1 uses the true leaf of the slice, so the tag check is reached.
 */
#include "coldseal.h"
#include "fuzz_input.h"

#define MAX_CHUNK ((size_t)CS_MIN_CHUNK)
#define MAX_JOBS 16

static const uint8_t DEK[CS_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                                        31, 32};
static const uint8_t ARCHIVE_ID[CS_ARCHIVE_ID_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    unsigned threads = 1 + (unsigned)(fuzz_u64(&in, 1) % 4);
    size_t n = (size_t)(fuzz_u64(&in, 1) % (MAX_JOBS + 1));
    uint64_t idx[MAX_JOBS], plen[MAX_JOBS], slen[MAX_JOBS], lmode[MAX_JOBS];
    for (size_t i = 0; i < n; i++) {
        idx[i] = fuzz_u64(&in, 2);
        plen[i] = 1 + fuzz_u64(&in, 2) % MAX_CHUNK;
        slen[i] = fuzz_u64(&in, 2);
        lmode[i] = fuzz_u64(&in, 1) & 1;
    }
    const uint8_t *pool = in.p;
    size_t pool_len = in.len;

    cs_open_job jobs[MAX_JOBS];
    uint8_t leaves[MAX_JOBS][CS_HASH_LEN];
    uint8_t *outs[MAX_JOBS], *refs[MAX_JOBS];
    int ref_status[MAX_JOBS];
    cs_chunk_ctx *ctx = NULL;
    FUZZ_CHECK(cs_chunk_ctx_new(DEK, ARCHIVE_ID, MAX_CHUNK, 1, &ctx) == CS_OK);
    for (size_t i = 0; i < n; i++) {
        size_t start = pool_len ? (size_t)(idx[i] * 131) % pool_len : 0;
        size_t len = (size_t)slen[i] % (pool_len - start + 1);
        if (lmode[i]) {
            FUZZ_CHECK(cs_merkle_leaf(idx[i], pool + start, len, leaves[i]) == CS_OK);
        } else {
            memset(leaves[i], (int)(idx[i] & 0xff), CS_HASH_LEN);
        }
        outs[i] = malloc(plen[i]);
        refs[i] = malloc(plen[i]);
        FUZZ_CHECK(outs[i] != NULL && refs[i] != NULL);
        memset(outs[i], 0xee, plen[i]);
        ref_status[i] = cs_open_chunk(ctx, idx[i], pool + start, len, leaves[i], refs[i], plen[i]);
        jobs[i] = (cs_open_job){.index = idx[i], .sealed = pool + start, .sealed_len = len,
                                .leaf = leaves[i], .out = outs[i], .plain_len = plen[i],
                                .status = 12345};
    }
    cs_chunk_ctx_free(ctx);

    int rc = cs_open_chunks(DEK, ARCHIVE_ID, MAX_CHUNK, jobs, n, threads);
    int first = CS_OK;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(jobs[i].status == ref_status[i]);
        FUZZ_CHECK(memcmp(outs[i], refs[i], plen[i]) == 0);
        if (jobs[i].status != CS_OK) FUZZ_CHECK(fuzz_all_zero(outs[i], plen[i]));
        if (first == CS_OK) first = jobs[i].status;
        free(outs[i]);
        free(refs[i]);
    }
    FUZZ_CHECK(rc == first);
    return 0;
}
