/*
 * fuzz_input.h -- carve typed fields off the front of a libFuzzer input.
 *
 * Each harness reads a few fixed-size fields (a mode byte, an index, a
 * length) from the front of the input and treats the rest as the attacker's
 * bytes. Reads past the end yield zeros, so every input is valid to carve.
 */
#ifndef CS_FUZZ_INPUT_H
#define CS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t len;
} fuzz_input;

static inline uint64_t fuzz_u64(fuzz_input *in, size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        uint8_t b = 0;
        if (in->len > 0) {
            b = in->p[0];
            in->p++;
            in->len--;
        }
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

/* Copy `n` bytes (zero-padded) into `out`. */
static inline void fuzz_bytes(fuzz_input *in, uint8_t *out, size_t n) {
    size_t take = in->len < n ? in->len : n;
    if (take) memcpy(out, in->p, take);
    if (take < n) memset(out + take, 0, n - take);
    in->p += take;
    in->len -= take;
}

/* An invariant the core promises was broken: report it and crash, so
 * libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static inline int fuzz_all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

#endif /* CS_FUZZ_INPUT_H */
