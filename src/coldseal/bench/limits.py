"""The machine's limits, measured in the same run as the figures they bound.

* AES-256-GCM: a bare OpenSSL EVP decrypt loop (one context keyed once; per
  message a nonce, the associated data, one update and the tag check), the
  least a C program can do. It is compiled with cffi into the bench cache the
  first time (needs a C compiler and the OpenSSL headers, which
  ``scripts/setup.sh`` installs); where that is impossible, ``cryptography``'s
  AESGCM (the same EVP code plus a copy per call) stands in, and the report
  says which one was used.
* BLAKE3: the core's BLAKE3 over one buffer on one thread, which matches or
  beats the ``blake3`` package (``benchmarks/test_core.py`` checks that).
* L(t) = t / (1/AES + 1/BLAKE3): what t cores could verify per second if
  verification were nothing but those two passes, perfectly parallel.
* S3: raw parallel ranged GETs of the same payload with the same client and
  concurrency as verify, and the latency of one small ranged GET.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

MIB = 1 << 20
TAG_LEN = 16

_CDEF = """
int evp_gcm_open_loop(const uint8_t *key, const uint8_t *sealed, size_t msg_len, size_t n,
                      const uint8_t *aads, size_t aad_len, uint8_t *out);
"""

_SOURCE = r"""
#include <openssl/evp.h>
#include <string.h>

int evp_gcm_open_loop(const uint8_t *key, const uint8_t *sealed, size_t msg_len, size_t n,
                      const uint8_t *aads, size_t aad_len, uint8_t *out) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int failures = 0, outl = 0;
    if (ctx == NULL) return -1;
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

MODULE = "_cs_evp_baseline"


def load_evp(cache: Path) -> Any:  # noqa: ANN401 - a cffi module is untyped
    """The compiled bare-EVP loop (built into ``cache`` once), or None if it cannot be built."""
    cache.mkdir(parents=True, exist_ok=True)
    if str(cache) not in sys.path:
        sys.path.insert(0, str(cache))
    try:
        return importlib.import_module(MODULE)
    except ImportError:
        pass
    try:
        from cffi import FFI  # type: ignore[import-untyped]  # noqa: PLC0415

        ffi = FFI()
        ffi.cdef(_CDEF)
        ffi.set_source(MODULE, _SOURCE, libraries=["crypto"], extra_compile_args=["-O3"])
        ffi.compile(tmpdir=str(cache))
        return importlib.import_module(MODULE)
    except Exception:  # noqa: BLE001 - no compiler/headers/setuptools: fall back, and say so
        return None


def _messages(size: int) -> tuple[bytes, bytes, bytes, int]:
    """(key, joined sealed messages of 1 MiB + tag, joined 32-byte AADs, count)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    key = bytes(range(32))
    n = max(1, size // MIB)
    plain = os.urandom(MIB)
    aesgcm = AESGCM(key)
    aads = [bytes(16) + i.to_bytes(8, "little") + MIB.to_bytes(8, "little") for i in range(n)]
    sealed = b"".join(
        aesgcm.encrypt(i.to_bytes(8, "little") + bytes(4), plain, aads[i]) for i in range(n)
    )
    return key, sealed, b"".join(aads), n


def aes_gcm_rate(cache: Path, size: int, rounds: int) -> tuple[float, str]:
    """One-thread AES-256-GCM open rate in bytes/s (best of ``rounds``), and its source."""
    key, sealed, aads, n = _messages(size)
    out = bytearray(n * MIB)
    evp = load_evp(cache)
    best = float("inf")
    if evp is not None:
        src, dst = evp.ffi.from_buffer(sealed), evp.ffi.from_buffer(out)
        for _ in range(rounds + 1):  # the first round warms up
            start = time.perf_counter()
            failures = evp.lib.evp_gcm_open_loop(key, src, MIB, n, aads, 32, dst)
            best = min(best, time.perf_counter() - start)
            if failures:
                raise RuntimeError("the bare EVP loop refused its own messages")
        return n * MIB / best, "bare OpenSSL EVP loop (C)"
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    aesgcm = AESGCM(key)
    step = MIB + TAG_LEN
    for _ in range(rounds + 1):
        start = time.perf_counter()
        for i in range(n):
            aesgcm.decrypt(
                i.to_bytes(8, "little") + bytes(4),
                sealed[i * step : (i + 1) * step],
                aads[32 * i : 32 * i + 32],
            )
        best = min(best, time.perf_counter() - start)
    return n * MIB / best, "cryptography AESGCM (OpenSSL EVP; no C compiler for the bare loop)"


def blake3_rate(size: int, rounds: int) -> float:
    """One-thread BLAKE3 rate of the core in bytes/s (best of ``rounds``)."""
    from coldseal import _native  # noqa: PLC0415

    data = os.urandom(size)
    best = float("inf")
    for _ in range(rounds + 1):
        start = time.perf_counter()
        _native.b3_hash(data)
        best = min(best, time.perf_counter() - start)
    return size / best


def verify_limit(aes: float, b3: float, threads: int) -> float:
    """L(threads) in bytes/s: both crypto passes over every byte, perfectly parallel."""
    return threads / (1 / aes + 1 / b3)
