/*
 * tsan_driver.c -- drive the core's multi-threaded paths under ThreadSanitizer.
 *
 * The Python interpreter is not TSan-instrumented, so the threads that
 * matter are started here, in C, over the same entry points the verify
 * pipeline uses. An archive of CHUNKS chunks (some compressible, some not,
 * a short last one) is sealed once; then, repeatedly:
 *
 *   1. cs_open_chunks() opens every chunk with 1..MAX_T worker threads over
 *      the shared sealed bytes and leaves, one batch with a tampered chunk;
 *   2. MAX_T threads, each with its own cs_chunk_ctx, open overlapping runs
 *      of chunks from the same shared inputs while others recompute the
 *      Merkle root, tree and proofs over the shared leaves, and others
 *      hash with CS_B3_TIER_BEST;
 *   3. MAX_T threads seal chunks of the same plaintext with their own
 *      contexts (the sealer's pattern) and compare with the reference.
 *
 * Before any of that, MAX_T threads make the process's first BLAKE3 calls
 * at once, so the dispatcher's one global (its CPU feature cache) is
 * filled by racing threads.
 *
 * Every result is checked; TSan reports any data race, and the exit status
 * is non-zero on a wrong result. Usage: tsan_driver [ROUNDS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldseal.h"

#define CHUNK ((size_t)CS_MIN_CHUNK * 4)
#define CHUNKS 48
#define LAST (CHUNK / 3)
#define MAX_T 8

typedef struct {
    uint8_t dek[CS_KEY_LEN];
    uint8_t id[CS_ARCHIVE_ID_LEN];
    uint8_t *plain;              /* CHUNKS chunks back to back */
    uint8_t *sealed[CHUNKS];
    size_t sealed_len[CHUNKS];
    uint8_t leaves[CHUNKS * CS_HASH_LEN];
    uint8_t root[CS_HASH_LEN];
} archive_t;

typedef struct {
    const archive_t *a;
    unsigned id;
    int failures;
} worker_t;

static int failures_total(worker_t *w, unsigned n) {
    int f = 0;
    for (unsigned i = 0; i < n; i++) f += w[i].failures;
    return f;
}

#define EXPECT(w, cond)                                                            \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "tsan_driver: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            (w)->failures++;                                                       \
        }                                                                          \
    } while (0)

static size_t plain_len(size_t i) { return i == CHUNKS - 1 ? LAST : CHUNK; }

static void fill(uint8_t *p, size_t len, uint64_t seed, int compressible) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = compressible ? (uint8_t)("coldseal "[i % 9] + (x % 3 == 0)) : (uint8_t)x;
    }
}

static int seal_archive(archive_t *a) {
    for (size_t i = 0; i < CS_KEY_LEN; i++) a->dek[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < CS_ARCHIVE_ID_LEN; i++) a->id[i] = (uint8_t)(0xc0 + i);
    a->plain = malloc(CHUNK * CHUNKS);
    if (a->plain == NULL) return 0;
    cs_chunk_ctx *ctx = NULL;
    if (cs_chunk_ctx_new(a->dek, a->id, CHUNK, 3, &ctx) != CS_OK) return 0;
    for (size_t i = 0; i < CHUNKS; i++) {
        fill(a->plain + i * CHUNK, plain_len(i), i, i % 3 != 0);
        a->sealed[i] = malloc(cs_sealed_bound(plain_len(i)));
        if (a->sealed[i] == NULL ||
            cs_seal_chunk(ctx, i, a->plain + i * CHUNK, plain_len(i), a->sealed[i],
                          cs_sealed_bound(plain_len(i)), &a->sealed_len[i],
                          a->leaves + i * CS_HASH_LEN) != CS_OK)
            return 0;
    }
    cs_chunk_ctx_free(ctx);
    return cs_merkle_root(a->leaves, CHUNKS, a->root) == CS_OK;
}

/* Scenario 1: the C batch with t threads, and a tampered job. */
static void batch_round(const archive_t *a, worker_t *w, unsigned threads, int tamper) {
    cs_open_job jobs[CHUNKS];
    uint8_t *out = malloc(CHUNK * CHUNKS);
    uint8_t *bad = malloc(CHUNK + CS_TAG_LEN);
    EXPECT(w, out != NULL && bad != NULL);
    if (out == NULL || bad == NULL) return;
    size_t victim = (threads * 7) % CHUNKS;
    for (size_t i = 0; i < CHUNKS; i++) {
        jobs[i] = (cs_open_job){.index = i, .sealed = a->sealed[i], .sealed_len = a->sealed_len[i],
                                .leaf = a->leaves + i * CS_HASH_LEN, .out = out + i * CHUNK,
                                .plain_len = plain_len(i)};
    }
    if (tamper) {
        memcpy(bad, a->sealed[victim], a->sealed_len[victim]);
        bad[a->sealed_len[victim] / 2] ^= 1;
        jobs[victim].sealed = bad;
    }
    int rc = cs_open_chunks(a->dek, a->id, CHUNK, jobs, CHUNKS, threads);
    EXPECT(w, rc == (tamper ? CS_ERR_AUTH : CS_OK));
    for (size_t i = 0; i < CHUNKS; i++) {
        int expect_bad = tamper && i == victim;
        EXPECT(w, jobs[i].status == (expect_bad ? CS_ERR_AUTH : CS_OK));
        if (!expect_bad) EXPECT(w, memcmp(out + i * CHUNK, a->plain + i * CHUNK, plain_len(i)) == 0);
    }
    free(out);
    free(bad);
}

/* Scenario 2: one context per thread, overlapping runs, plus tree and hash work. */
static void *mixed_worker(void *arg) {
    worker_t *w = arg;
    const archive_t *a = w->a;
    uint8_t h[CS_HASH_LEN], proof[64 * CS_HASH_LEN];
    switch (w->id % 4) {
    case 0:
    case 1: {
        cs_chunk_ctx *ctx = NULL;
        uint8_t *out = malloc(CHUNK);
        EXPECT(w, out != NULL && cs_chunk_ctx_new(a->dek, a->id, CHUNK, 1, &ctx) == CS_OK);
        if (out == NULL || ctx == NULL) break;
        for (size_t k = 0; k < CHUNKS; k++) {
            size_t i = (k + w->id * 5) % CHUNKS;
            EXPECT(w, cs_open_chunk(ctx, i, a->sealed[i], a->sealed_len[i],
                                    a->leaves + i * CS_HASH_LEN, out, plain_len(i)) == CS_OK);
            EXPECT(w, memcmp(out, a->plain + i * CHUNK, plain_len(i)) == 0);
        }
        cs_chunk_ctx_free(ctx);
        free(out);
        break;
    }
    case 2: {
        uint8_t *tree = malloc(cs_merkle_tree_len(CHUNKS) * CS_HASH_LEN);
        EXPECT(w, tree != NULL && cs_merkle_tree(a->leaves, CHUNKS, tree) == CS_OK);
        if (tree != NULL)
            EXPECT(w, memcmp(tree + (cs_merkle_tree_len(CHUNKS) - 1) * CS_HASH_LEN, a->root,
                             CS_HASH_LEN) == 0);
        free(tree);
        EXPECT(w, cs_merkle_root(a->leaves, CHUNKS, h) == CS_OK && !memcmp(h, a->root, CS_HASH_LEN));
        for (uint64_t i = w->id % 3; i < CHUNKS; i += 3) {
            uint64_t n = cs_merkle_proof_len(i, CHUNKS);
            EXPECT(w, cs_merkle_proof(a->leaves, CHUNKS, i, proof, 64) == CS_OK);
            EXPECT(w, cs_merkle_verify(a->leaves + i * CS_HASH_LEN, i, CHUNKS, proof, n, a->root) ==
                          CS_OK);
        }
        break;
    }
    default:
        for (size_t i = 0; i < CHUNKS; i++) {
            uint8_t leaf[CS_HASH_LEN];
            EXPECT(w, cs_merkle_leaf(i, a->sealed[i], a->sealed_len[i], leaf) == CS_OK);
            EXPECT(w, memcmp(leaf, a->leaves + i * CS_HASH_LEN, CS_HASH_LEN) == 0);
            EXPECT(w, cs_blake3_hash(CS_B3_TIER_BEST, CS_B3_MODE_HASH, NULL, 0, a->sealed[i],
                                     a->sealed_len[i], h, sizeof h) == CS_OK);
        }
        break;
    }
    return NULL;
}

/* Scenario 3: sealing the same plaintext on many threads, one context each. */
static void *seal_worker(void *arg) {
    worker_t *w = arg;
    const archive_t *a = w->a;
    cs_chunk_ctx *ctx = NULL;
    uint8_t *buf = malloc(cs_sealed_bound(CHUNK));
    uint8_t leaf[CS_HASH_LEN];
    size_t len = 0;
    EXPECT(w, buf != NULL && cs_chunk_ctx_new(a->dek, a->id, CHUNK, 3, &ctx) == CS_OK);
    for (size_t i = w->id; ctx != NULL && buf != NULL && i < CHUNKS; i += 2) {
        EXPECT(w, cs_seal_chunk(ctx, i, a->plain + i * CHUNK, plain_len(i), buf,
                                cs_sealed_bound(CHUNK), &len, leaf) == CS_OK);
        EXPECT(w, len == a->sealed_len[i] && memcmp(buf, a->sealed[i], len) == 0);
        EXPECT(w, memcmp(leaf, a->leaves + i * CS_HASH_LEN, CS_HASH_LEN) == 0);
    }
    cs_chunk_ctx_free(ctx);
    free(buf);
    return NULL;
}

static int run_threads(const archive_t *a, void *(*fn)(void *)) {
    pthread_t tids[MAX_T];
    worker_t w[MAX_T];
    for (unsigned t = 0; t < MAX_T; t++) {
        w[t] = (worker_t){.a = a, .id = t};
        if (pthread_create(&tids[t], NULL, fn, &w[t]) != 0) return 1;
    }
    for (unsigned t = 0; t < MAX_T; t++) pthread_join(tids[t], NULL);
    return failures_total(w, MAX_T);
}

/* Scenario 0: the first BLAKE3 calls of the process, from racing threads. */
static void *cold_hash_worker(void *arg) {
    worker_t *w = arg;
    uint8_t h[CS_HASH_LEN], ref[CS_HASH_LEN];
    EXPECT(w, cs_blake3_hash(CS_B3_TIER_BEST, CS_B3_MODE_HASH, NULL, 0, (const uint8_t *)"abc", 3,
                             h, sizeof h) == CS_OK);
    EXPECT(w, cs_blake3_hash(CS_B3_TIER_PORTABLE, CS_B3_MODE_HASH, NULL, 0,
                             (const uint8_t *)"abc", 3, ref, sizeof ref) == CS_OK);
    EXPECT(w, memcmp(h, ref, sizeof h) == 0);
    return NULL;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    static archive_t a;
    int failures = run_threads(&a, cold_hash_worker);
    if (!seal_archive(&a)) {
        fprintf(stderr, "tsan_driver: could not seal the test archive\n");
        return 2;
    }
    for (int r = 0; r < rounds; r++) {
        failures += run_threads(&a, mixed_worker);
        for (unsigned t = 1; t <= MAX_T; t++) {
            worker_t w = {.a = &a};
            batch_round(&a, &w, t, (int)(t + (unsigned)r) % 2);
            failures += w.failures;
        }
        failures += run_threads(&a, seal_worker);
    }
    for (size_t i = 0; i < CHUNKS; i++) free(a.sealed[i]);
    free(a.plain);
    if (failures) {
        fprintf(stderr, "tsan_driver: %d wrong results\n", failures);
        return 1;
    }
    printf("tsan_driver: %d rounds, %d threads, %d chunks: ok\n", rounds, MAX_T, CHUNKS);
    return 0;
}
