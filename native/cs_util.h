/*
 * cs_util.h -- small internal helpers shared by the core's modules.
 */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Overwrite secret memory in a way the compiler may not elide. */
void cs_wipe(void *p, size_t len);

/* Constant-time equality of two buffers of `len` bytes: 1 if equal. */
int cs_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

static inline void cs_store64le(uint8_t *p, uint64_t v) {
    for (size_t i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#endif /* CS_UTIL_H */
