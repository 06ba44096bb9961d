/*
 * batch.c -- open many chunks on a small pool of POSIX threads.
 *
 * The pool lives for one call: workers are started, each creates its own
 * chunk context (so no state is shared but an atomic job cursor), take jobs
 * until none are left, and are joined before the call returns. Errors are
 * data: each job records its own status and the caller raises after the join.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "coldseal.h"
#include "cs_util.h"

/* Marks a job no worker reached (every worker failed to set up). */
#define JOB_PENDING (-1)

typedef struct {
    const uint8_t *dek;
    const uint8_t *archive_id;
    size_t max_chunk;
    cs_open_job *jobs;
    size_t n;
    atomic_size_t next;
    atomic_int setup_status;
} batch_t;

static void *worker(void *arg) {
    batch_t *b = arg;
    cs_chunk_ctx *ctx = NULL;
    /* The level only matters for sealing; any valid one will do. */
    int rc = cs_chunk_ctx_new(b->dek, b->archive_id, b->max_chunk, 1, &ctx);
    if (rc != CS_OK) {
        atomic_store(&b->setup_status, rc);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n) break;
        cs_open_job *job = &b->jobs[i];
        job->status = cs_open_chunk(ctx, job->index, job->sealed, job->sealed_len, job->leaf,
                                    job->out, job->plain_len);
    }
    cs_chunk_ctx_free(ctx);
    return NULL;
}

int cs_open_chunks(const uint8_t *dek, const uint8_t *archive_id, size_t max_chunk,
                   cs_open_job *jobs, size_t n, unsigned threads) {
    if (dek == NULL || archive_id == NULL || (jobs == NULL && n != 0) || threads == 0 ||
        threads > CS_MAX_THREADS)
        return CS_ERR_ARG;
    if (n == 0) return CS_OK;
    for (size_t i = 0; i < n; i++) jobs[i].status = JOB_PENDING;
    batch_t b = {.dek = dek, .archive_id = archive_id, .max_chunk = max_chunk, .jobs = jobs,
                 .n = n};
    atomic_init(&b.next, 0);
    atomic_init(&b.setup_status, CS_OK);

    if (threads > n) threads = (unsigned)n;
    pthread_t tids[CS_MAX_THREADS];
    unsigned started = 0;
    /* The calling thread is worker 0; the others are spawned. */
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tids[started], NULL, worker, &b) != 0) break;
        started += 1;
    }
    worker(&b);
    for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);

    int batch_error = atomic_load(&b.setup_status);
    if (batch_error == CS_OK && started + 1 < threads) batch_error = CS_ERR_THREAD;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].status == JOB_PENDING) {
            jobs[i].status = batch_error != CS_OK ? batch_error : CS_ERR_THREAD;
            if (jobs[i].out != NULL && jobs[i].plain_len <= max_chunk)
                cs_wipe(jobs[i].out, jobs[i].plain_len);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].status != CS_OK) return jobs[i].status;
    }
    return CS_OK;
}
