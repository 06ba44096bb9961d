"""AES-256-GCM in the core: published vectors, and differential tests against
``cryptography``'s AESGCM (OpenSSL behind a different binding)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from coldseal import _native
from coldseal.errors import IntegrityError

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "aes_gcm_256.json").read_text())
KEYS = st.binary(min_size=32, max_size=32)
NONCES = st.binary(min_size=12, max_size=12)


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"{v['source']}:{v['name']}")
def test_published_vectors(v: dict[str, str]) -> None:
    ctx = _native.AeadContext(bytes.fromhex(v["key"]))
    nonce, aad = bytes.fromhex(v["iv"]), bytes.fromhex(v["aad"])
    sealed = bytes.fromhex(v["ct"]) + bytes.fromhex(v["tag"])
    if v.get("fail"):
        out = bytearray(b"\xaa" * (len(sealed) - 16))
        with pytest.raises(IntegrityError):
            ctx.open_into(nonce, aad, sealed, out)
        assert not any(out)
        return
    pt = bytes.fromhex(v["pt"])
    assert ctx.seal(nonce, aad, pt) == sealed
    assert ctx.open(nonce, aad, sealed) == pt


@given(key=KEYS, nonce=NONCES, aad=st.binary(max_size=300), pt=st.binary(max_size=5000))
def test_seal_matches_cryptography(key: bytes, nonce: bytes, aad: bytes, pt: bytes) -> None:
    ours = _native.AeadContext(key).seal(nonce, aad, pt)
    assert ours == AESGCM(key).encrypt(nonce, pt, aad)
    assert _native.AeadContext(key).open(nonce, aad, ours) == pt


@given(
    key=KEYS,
    nonce=NONCES,
    aad=st.binary(max_size=64),
    pt=st.binary(min_size=1, max_size=2000),
    data=st.data(),
)
def test_any_flipped_bit_is_refused(
    key: bytes, nonce: bytes, aad: bytes, pt: bytes, data: st.DataObject
) -> None:
    sealed = bytearray(AESGCM(key).encrypt(nonce, pt, aad))
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    out = bytearray(b"\xff" * len(pt))
    with pytest.raises(IntegrityError):
        _native.AeadContext(key).open_into(nonce, aad, sealed, out)
    assert not any(out)


def test_context_is_reusable_across_many_messages() -> None:
    key = bytes(range(32))
    ctx = _native.AeadContext(key)
    ref = AESGCM(key)
    for i in range(200):
        nonce = i.to_bytes(12, "little")
        pt = bytes([i % 256]) * (i * 13)
        sealed = ctx.seal(nonce, b"aad%d" % i, pt)
        assert sealed == ref.encrypt(nonce, pt, b"aad%d" % i)
        # A failure in between must not poison the context (or OpenSSL's error queue).
        with pytest.raises(IntegrityError):
            ctx.open(nonce, b"wrong", sealed)
        assert ctx.open(nonce, b"aad%d" % i, sealed) == pt


def test_wrong_key_is_refused() -> None:
    sealed = _native.AeadContext(bytes(32)).seal(bytes(12), b"", b"secret")
    with pytest.raises(IntegrityError):
        _native.AeadContext(b"\x01" * 32).open(bytes(12), b"", sealed)


def test_short_message_is_refused() -> None:
    with pytest.raises(IntegrityError):
        _native.AeadContext(bytes(32)).open(bytes(12), b"", b"\x00" * 15)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_key_length_is_checked(bad: bytes) -> None:
    with pytest.raises(ValueError, match="key"):
        _native.AeadContext(bad)
