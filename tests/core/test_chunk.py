"""The fused chunk operations: differential against cryptography + pyzstd +
blake3 doing the documented steps one by one, and every refusal with its
status and a zeroed output."""

from __future__ import annotations

import os

import blake3
import pytest
import pyzstd
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from coldseal import _native
from coldseal.errors import IntegrityError

MAX = 64 << 10
DEK = bytes(range(32))
AID = bytes(range(100, 116))


def nonce(index: int) -> bytes:
    return index.to_bytes(8, "little") + bytes(4)


def aad(archive_id: bytes, index: int, plain_len: int) -> bytes:
    return archive_id + index.to_bytes(8, "little") + plain_len.to_bytes(8, "little")


def ref_leaf(index: int, sealed: bytes) -> bytes:
    return blake3.blake3(
        sealed + index.to_bytes(8, "little"), derive_key_context="coldseal v1 chunk leaf"
    ).digest()


def forge(body: bytes, plain_len: int, index: int = 0, dek: bytes = DEK) -> tuple[bytes, bytes]:
    """A sealed chunk built with the reference libraries: valid tag and leaf, any body."""
    sealed = AESGCM(dek).encrypt(nonce(index), body, aad(AID, index, plain_len))
    return sealed, ref_leaf(index, sealed)


def ref_open(sealed: bytes, index: int, plain_len: int) -> bytes:
    body = AESGCM(DEK).decrypt(nonce(index), sealed, aad(AID, index, plain_len))
    return body if len(body) == plain_len else pyzstd.decompress(body)


def expect_refusal(
    sealed: bytes,
    leaf: bytes,
    plain_len: int,
    status: int,
    *,
    index: int = 0,
    ctx: _native.ChunkContext | None = None,
) -> None:
    ctx = ctx or _native.ChunkContext(DEK, AID, MAX)
    out = bytearray(b"\x5a" * plain_len)
    with pytest.raises(IntegrityError) as info:
        ctx.open_into(index, sealed, leaf, out)
    assert info.value.status == status
    assert info.value.chunk == index
    assert str(info.value) == f"chunk {index} failed verification"
    assert not any(out), "plaintext left behind after a refusal"


chunk_bodies = st.one_of(
    st.binary(min_size=1, max_size=MAX),
    st.integers(1, MAX).map(lambda n: (b"def handler(event):\n    return 1\n" * (n // 30 + 1))[:n]),
)


@given(plain=chunk_bodies, index=st.integers(0, 2**64 - 1), level=st.integers(1, 9))
def test_seal_matches_the_documented_steps(plain: bytes, index: int, level: int) -> None:
    ctx = _native.ChunkContext(DEK, AID, MAX, level)
    sealed, leaf = ctx.seal(index, plain)
    assert leaf == ref_leaf(index, sealed)
    assert ref_open(sealed, index, len(plain)) == plain
    # Stored exactly when compression does not shrink the chunk.
    compressed = len(sealed) - 16 < len(plain)
    assert compressed == (len(pyzstd.compress(plain, level)) < len(plain))
    assert ctx.open(index, sealed, leaf, len(plain)) == plain


@pytest.mark.parametrize("size", [1, 2, MAX - 1, MAX, 4096, 65535])
def test_boundary_sizes_round_trip(size: int) -> None:
    ctx = _native.ChunkContext(DEK, AID, MAX)
    for plain in (os.urandom(size), b"a" * size):
        sealed, leaf = ctx.seal(7, plain)
        assert ctx.open(7, sealed, leaf, size) == plain


def test_reference_sealed_chunks_open() -> None:
    plain = b"import json\n" * 500
    sealed, leaf = forge(pyzstd.compress(plain), len(plain), index=3)
    assert _native.ChunkContext(DEK, AID, MAX).open(3, sealed, leaf, len(plain)) == plain
    sealed, leaf = forge(plain, len(plain), index=4)
    assert _native.ChunkContext(DEK, AID, MAX).open(4, sealed, leaf, len(plain)) == plain


@pytest.fixture(scope="module", params=["stored", "compressed"])
def sealed_chunk(request: pytest.FixtureRequest) -> tuple[bytes, bytes, int]:
    plain = os.urandom(20_000) if request.param == "stored" else b"print('hi')\n" * 2000
    sealed, leaf = _native.ChunkContext(DEK, AID, MAX).seal(0, plain)
    return sealed, leaf, len(plain)


@given(data=st.data())
def test_any_flipped_bit_of_ciphertext_or_tag_is_refused(
    sealed_chunk: tuple[bytes, bytes, int], data: st.DataObject
) -> None:
    sealed, leaf, n = sealed_chunk
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    bad = bytearray(sealed)
    bad[bit // 8] ^= 1 << (bit % 8)
    expect_refusal(bytes(bad), leaf, n, _native.ERR_AUTH)


def test_every_tag_bit_is_checked(sealed_chunk: tuple[bytes, bytes, int]) -> None:
    sealed, leaf, n = sealed_chunk
    for bit in range(128):
        bad = bytearray(sealed)
        bad[len(sealed) - 16 + bit // 8] ^= 1 << (bit % 8)
        expect_refusal(bytes(bad), leaf, n, _native.ERR_AUTH)


def test_wrong_index_is_refused(sealed_chunk: tuple[bytes, bytes, int]) -> None:
    sealed, leaf, n = sealed_chunk
    expect_refusal(sealed, leaf, n, _native.ERR_AUTH, index=1)


def test_wrong_leaf_is_refused(sealed_chunk: tuple[bytes, bytes, int]) -> None:
    sealed, leaf, n = sealed_chunk
    bad = bytearray(leaf)
    bad[0] ^= 0x80
    expect_refusal(sealed, bytes(bad), n, _native.ERR_AUTH)


def test_wrong_key_is_refused_even_with_the_right_leaf(
    sealed_chunk: tuple[bytes, bytes, int],
) -> None:
    sealed, leaf, n = sealed_chunk
    other = _native.ChunkContext(b"\x01" * 32, AID, MAX)
    expect_refusal(sealed, leaf, n, _native.ERR_AUTH, ctx=other)


def test_chunk_of_another_archive_is_refused(sealed_chunk: tuple[bytes, bytes, int]) -> None:
    sealed, leaf, n = sealed_chunk
    other = _native.ChunkContext(DEK, bytes(16), MAX)
    expect_refusal(sealed, leaf, n, _native.ERR_AUTH, ctx=other)


def test_wrong_declared_size_is_refused(sealed_chunk: tuple[bytes, bytes, int]) -> None:
    sealed, leaf, n = sealed_chunk
    # The plaintext length is bound into the associated data.
    out = bytearray(n + 1)
    with pytest.raises(IntegrityError):
        _native.ChunkContext(DEK, AID, MAX).open_into(0, sealed, leaf, out)
    assert not any(out)


@pytest.mark.parametrize("cut", [1, 16, 17])
def test_truncation_is_refused(sealed_chunk: tuple[bytes, bytes, int], cut: int) -> None:
    sealed, leaf, n = sealed_chunk
    expect_refusal(sealed[:-cut], leaf, n, _native.ERR_AUTH)
    expect_refusal(sealed[:0], leaf, n, _native.ERR_AUTH)


def test_extension_is_refused(sealed_chunk: tuple[bytes, bytes, int]) -> None:
    sealed, leaf, n = sealed_chunk
    expect_refusal(sealed + b"\x00", leaf, n, _native.ERR_AUTH)


def test_over_long_decompression_is_refused() -> None:
    # Validly encrypted and leafed by a (compromised) signer, but the frame
    # expands past the chunk's declared size: the bound must hold anyway.
    plain_len = 4096
    sealed, leaf = forge(pyzstd.compress(b"\x00" * (plain_len * 64)), plain_len)
    expect_refusal(sealed, leaf, plain_len, _native.ERR_LIMIT)


def test_body_longer_than_the_chunk_is_refused() -> None:
    sealed, leaf = forge(b"\x01" * 5000, 4000)
    expect_refusal(sealed, leaf, 4000, _native.ERR_LIMIT)


def test_undecodable_body_is_refused() -> None:
    sealed, leaf = forge(b"\x28\xb5\x2f\xfd" + b"\xff" * 100, 4000)
    expect_refusal(sealed, leaf, 4000, _native.ERR_CORRUPT)


def test_short_decompression_is_refused() -> None:
    sealed, leaf = forge(pyzstd.compress(b"a" * 1000), 4000)
    expect_refusal(sealed, leaf, 4000, _native.ERR_CORRUPT)


def test_context_survives_failures() -> None:
    ctx = _native.ChunkContext(DEK, AID, MAX)
    plain = b"x" * 10_000
    sealed, leaf = ctx.seal(2, plain)
    for _ in range(3):
        expect_refusal(sealed, leaf, len(plain), _native.ERR_AUTH, index=3, ctx=ctx)
        assert ctx.open(2, sealed, leaf, len(plain)) == plain


@pytest.mark.parametrize("size", [0, MAX + 1])
def test_plain_length_bounds(size: int) -> None:
    ctx = _native.ChunkContext(DEK, AID, MAX)
    with pytest.raises(IntegrityError) as info:
        ctx.open(0, b"\x00" * 32, bytes(32), size)
    assert info.value.status == _native.ERR_LIMIT


@pytest.mark.parametrize("max_chunk", [0, 4095, (16 << 20) + 1])
def test_chunk_size_bounds(max_chunk: int) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        _native.ChunkContext(DEK, AID, max_chunk)


@pytest.mark.parametrize("size", [0, 4097])
def test_seal_refuses_chunk_sizes_out_of_bounds(size: int) -> None:
    with pytest.raises(ValueError, match="chunks hold 1 to 4096"):
        _native.ChunkContext(DEK, AID, 4096).seal(0, b"x" * size)


def test_seal_into_a_short_buffer_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="bound"):
        _native.ChunkContext(DEK, AID, 4096).seal_into(0, b"x" * 100, bytearray(50))


def test_buffers_are_released_after_open() -> None:
    ctx = _native.ChunkContext(DEK, AID, MAX)
    plain = b"abc" * 1000
    sealed, leaf = ctx.seal(0, plain)
    sealed_buf, out = bytearray(sealed), bytearray(len(plain))
    ctx.open_into(0, sealed_buf, leaf, out)
    sealed_buf.extend(b"!")  # fails if the C view were still exported
    out.extend(b"!")
    assert out[:-1] == plain
