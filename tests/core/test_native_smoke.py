"""The extension loads, its constants are what the format assumes, and one
known answer per primitive comes out right."""

from __future__ import annotations

import pytest
from coldseal._core import ffi, lib

from coldseal import _native
from coldseal._version import __version__
from coldseal.errors import UnsupportedError


def test_constants_come_from_c() -> None:
    assert lib.CS_KEY_LEN == 32
    assert lib.CS_NONCE_LEN == 12
    assert lib.CS_TAG_LEN == 16
    assert lib.CS_HASH_LEN == 32
    assert lib.CS_AAD_LEN == lib.CS_ARCHIVE_ID_LEN + 8 + 8
    assert lib.CS_MIN_CHUNK <= 1 << 20 <= lib.CS_MAX_CHUNK
    assert _native.KEY_LEN == lib.CS_KEY_LEN


def test_version_is_embedded() -> None:
    assert ffi.string(lib.cs_version()).decode() == __version__


def test_every_status_has_a_message() -> None:
    seen = set()
    for status in range(lib.CS_ERR__MAX):
        message = _native.strerror(status)
        assert message
        assert message != "unknown status"
        seen.add(message)
    assert len(seen) == lib.CS_ERR__MAX
    assert _native.strerror(lib.CS_ERR__MAX) == "unknown status"
    assert _native.strerror(-5) == "unknown status"


def test_blake3_known_answer() -> None:
    assert _native.b3_hash(b"").hex() == (
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )


def test_aes_gcm_known_answer() -> None:
    # McGrew & Viega, "The Galois/Counter Mode of Operation", test case 13.
    sealed = _native.AeadContext(bytes(32)).seal(bytes(12), b"", b"")
    assert sealed.hex() == "530f8afbc74536b9a963b4f1c4cb738b"


def test_zstd_round_trip() -> None:
    z = _native.ZstdContext(3)
    assert z.decompress(z.compress(b"coldseal" * 100), 800) == b"coldseal" * 100


def test_best_tier_is_available() -> None:
    assert _native.b3_tier_available(_native.b3_best_tier())
    assert _native.b3_tier_available(_native.TIER_PORTABLE)


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(UnsupportedError):
        _native.b3_hash(b"x", tier=99)
