/*
 * secret.c -- protected memory for keys (see coldseal.h).
 *
 * The bookkeeping header sits on the first page of the same mapping as the
 * key, so a secret costs one mmap and no malloc. The key starts on the next
 * page: MADV_WIPEONFORK works on whole pages, and it must zero the key in a
 * forked child but leave the header intact, or the child could neither tell
 * the key's length nor unmap its copy.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise, mlock under -std=c11 */

#include <openssl/err.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coldseal.h"
#include "cs_util.h"

struct cs_secret {
    size_t len;
    size_t map_len;
    size_t offset; /* of the key: one page */
    int flags;
};

static size_t page_size(void) {
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

int cs_secret_new(size_t len, cs_secret **out) {
    if (out == NULL) return CS_ERR_ARG;
    *out = NULL;
    if (len == 0 || len > CS_SECRET_MAX) return CS_ERR_ARG;
    size_t page = page_size();
    size_t map_len = page + (len + page - 1) / page * page;
    void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return CS_ERR_NOMEM;
    cs_secret *s = map;
    s->len = len;
    s->map_len = map_len;
    s->offset = page;
    s->flags = 0;
    if (mlock(map, map_len) == 0) s->flags |= CS_SECRET_LOCKED;
#ifdef MADV_DONTDUMP
    if (madvise(map, map_len, MADV_DONTDUMP) == 0) s->flags |= CS_SECRET_NODUMP;
#endif
#ifdef MADV_WIPEONFORK
    if (madvise((uint8_t *)map + page, map_len - page, MADV_WIPEONFORK) == 0)
        s->flags |= CS_SECRET_WIPEONFORK;
#endif
    *out = s;
    return CS_OK;
}

uint8_t *cs_secret_data(cs_secret *s) {
    return s == NULL ? NULL : (uint8_t *)s + s->offset;
}

size_t cs_secret_len(const cs_secret *s) { return s == NULL ? 0 : s->len; }

int cs_secret_flags(const cs_secret *s) { return s == NULL ? 0 : s->flags; }

int cs_secret_random(cs_secret *s) {
    if (s == NULL) return CS_ERR_ARG;
    if (s->len > (size_t)INT32_MAX || RAND_bytes(cs_secret_data(s), (int)s->len) != 1) {
        ERR_clear_error();
        cs_wipe(cs_secret_data(s), s->len);
        return CS_ERR_CRYPTO;
    }
    return CS_OK;
}

int cs_secret_equal(const cs_secret *a, const cs_secret *b) {
    if (a == NULL || b == NULL || a->len != b->len) return 0;
    return cs_ct_equal((const uint8_t *)a + a->offset, (const uint8_t *)b + b->offset, a->len);
}

void cs_secret_free(cs_secret *s) {
    if (s == NULL) return;
    size_t map_len = s->map_len;
    int locked = s->flags & CS_SECRET_LOCKED;
    cs_wipe(s, map_len);
    if (locked) munlock(s, map_len);
    munmap(s, map_len);
}
