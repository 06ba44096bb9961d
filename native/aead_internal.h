/*
 * aead_internal.h -- the AES-GCM context's layout, shared with chunk.c so
 * the fused chunk operations can interleave EVP updates with hashing.
 */
#ifndef CS_AEAD_INTERNAL_H
#define CS_AEAD_INTERNAL_H

#include <openssl/evp.h>

#include "coldseal.h"

struct cs_aead {
    EVP_CIPHER_CTX *enc; /* keyed for encryption once, re-nonced per message */
    EVP_CIPHER_CTX *dec; /* keyed for decryption once, re-nonced per message */
};

#endif /* CS_AEAD_INTERNAL_H */
