/*
 * cs_util.c -- status strings, version, wiping and constant-time compare.
 */
#include "cs_util.h"

#include <openssl/crypto.h>

#include "coldseal.h"

#ifndef CS_VERSION
#error "CS_VERSION must be defined by the build (build_ext.py passes the package version)"
#endif

const char *cs_version(void) { return CS_VERSION; }

const char *cs_strerror(int status) {
    switch (status) {
    case CS_OK: return "ok";
    case CS_ERR_AUTH: return "authentication failed (data tampered with, or wrong key)";
    case CS_ERR_CORRUPT: return "authenticated data does not decode";
    case CS_ERR_LIMIT: return "a length is outside its allowed bound";
    case CS_ERR_NOMEM: return "out of memory";
    case CS_ERR_CRYPTO: return "the crypto library failed";
    case CS_ERR_ARG: return "invalid argument";
    case CS_ERR_UNSUPPORTED: return "not supported on this CPU or build";
    case CS_ERR_COMPRESS: return "compression failed";
    case CS_ERR_THREAD: return "could not start a worker thread";
    default: return "unknown status";
    }
}

void cs_wipe(void *p, size_t len) {
    if (p != NULL && len > 0) OPENSSL_cleanse(p, len);
}

int cs_ct_equal(const uint8_t *a, const uint8_t *b, size_t len) {
    return CRYPTO_memcmp(a, b, len) == 0;
}
