"""A bare OpenSSL EVP AES-256-GCM decrypt loop, the yardstick for the core.

It is the least a C program can do to open N GCM messages: one context
keyed once, per message a nonce, the associated data, one update and the
tag check. Built with cffi into a cache folder the first time a benchmark
asks for it; never part of the package.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from cffi import FFI

CACHE = Path(__file__).resolve().parent.parent / ".coldseal-cache" / "bench"

CDEF = """
int evp_gcm_open_loop(const uint8_t *key, const uint8_t *sealed, size_t msg_len, size_t n,
                      const uint8_t *aads, size_t aad_len, uint8_t *out);
"""

SOURCE = r"""
#include <openssl/evp.h>
#include <string.h>

int evp_gcm_open_loop(const uint8_t *key, const uint8_t *sealed, size_t msg_len, size_t n,
                      const uint8_t *aads, size_t aad_len, uint8_t *out) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int failures = 0, outl = 0;
    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, NULL);
    for (size_t i = 0; i < n; i++) {
        unsigned char nonce[12] = {0};
        unsigned char tag[16];
        const uint8_t *msg = sealed + i * (msg_len + 16);
        for (int b = 0; b < 8; b++) nonce[b] = (unsigned char)(i >> (8 * b));
        memcpy(tag, msg + msg_len, 16);
        EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce);
        EVP_DecryptUpdate(ctx, NULL, &outl, aads + i * aad_len, (int)aad_len);
        EVP_DecryptUpdate(ctx, out + i * msg_len, &outl, msg, (int)msg_len);
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag);
        if (EVP_DecryptFinal_ex(ctx, NULL, &outl) != 1) failures++;
    }
    EVP_CIPHER_CTX_free(ctx);
    return failures;
}
"""


def load() -> Any:
    """Build (once) and import the baseline module."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if str(CACHE) not in sys.path:
        sys.path.insert(0, str(CACHE))
    try:
        return importlib.import_module("_cs_evp_baseline")
    except ImportError:
        ffi = FFI()
        ffi.cdef(CDEF)
        ffi.set_source("_cs_evp_baseline", SOURCE, libraries=["crypto"], extra_compile_args=["-O3"])
        ffi.compile(tmpdir=str(CACHE))
        return importlib.import_module("_cs_evp_baseline")
