/*
 * merkle.h -- internal: the leaf hashing that chunk.c fuses with AES-GCM.
 */
#ifndef CS_MERKLE_H
#define CS_MERKLE_H

#include "blake3/b3_impl.h"
#include "coldseal.h"

/* Context keys of the leaf and node domains, derived once per context. */
typedef struct {
    const cs_b3_impl *impl;
    uint32_t leaf[8];
    uint32_t node[8];
} cs_merkle_keys;

void cs_merkle_keys_init(cs_merkle_keys *k);

/* leaf = finish(update(start(), sealed...), index): lets chunk.c feed the
 * sealed bytes in slices between AES-GCM calls. */
void cs_merkle_leaf_start(const cs_merkle_keys *k, cs_blake3 *h);
void cs_merkle_leaf_finish(cs_blake3 *h, uint64_t index, uint8_t out[CS_HASH_LEN]);

#endif /* CS_MERKLE_H */
