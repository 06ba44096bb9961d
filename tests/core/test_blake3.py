"""BLAKE3: the official vectors on every tier, and differential tests against
the ``blake3`` package (the reference implementation's Rust crate)."""

from __future__ import annotations

import json
from pathlib import Path

import blake3 as reference
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldseal import _native
from coldseal.hashing import Blake3, blake3

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "blake3_test_vectors.json").read_text()
)
TIERS = [
    pytest.param(
        tier,
        id=name,
        marks=pytest.mark.skipif(
            not _native.b3_tier_available(tier), reason=f"{name} not compiled in or not on this CPU"
        ),
    )
    for tier, name in _native.TIER_NAMES.items()
]
BOUNDARIES = [
    0,
    1,
    63,
    64,
    65,
    1023,
    1024,
    1025,
    2048,
    4095,
    4096,
    4097,
    16 << 10,
    31 << 10,
    (64 << 10) + 1,
    (3 << 20) + 17,
]


def cycle_input(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["input_len"]))
def test_official_vectors(tier: int, case: dict[str, object]) -> None:
    data = cycle_input(int(case["input_len"]))  # type: ignore[call-overload]
    key = VECTORS["key"].encode()
    context = VECTORS["context_string"].encode()
    n = len(bytes.fromhex(str(case["hash"])))
    assert _native.b3_hash(data, length=n, tier=tier).hex() == case["hash"]
    assert (
        _native.b3_hash(data, mode=_native.MODE_KEYED, key=key, length=n, tier=tier).hex()
        == (case["keyed_hash"])
    )
    got = _native.b3_hash(data, mode=_native.MODE_DERIVE_KEY, key=context, length=n, tier=tier)
    assert got.hex() == case["derive_key"]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["input_len"]))
def test_official_vectors_incremental_and_seek(tier: int, case: dict[str, object]) -> None:
    data = cycle_input(int(case["input_len"]))  # type: ignore[call-overload]
    expected = bytes.fromhex(str(case["hash"]))
    hasher = _native.Blake3Hasher(tier=tier)
    for i in range(0, len(data), 1000):
        hasher.update(data[i : i + 1000])
    assert hasher.digest(len(expected)) == expected
    # The extendable output read from an offset is the same stream.
    assert hasher.digest(len(expected) - 37, seek=37) == expected[37:]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("size", BOUNDARIES)
def test_boundaries_against_reference(tier: int, size: int) -> None:
    data = bytes((i * 7 + size) % 256 for i in range(size))
    assert _native.b3_hash(data, tier=tier) == reference.blake3(data).digest()
    assert _native.b3_hash(data, tier=tier, length=131) == reference.blake3(data).digest(131)


@pytest.mark.parametrize("tier", TIERS)
def test_several_mib_against_reference(tier: int) -> None:
    data = bytes(range(256)) * (5 * 4096 + 3)
    assert _native.b3_hash(data, tier=tier) == reference.blake3(data).digest()


sizes = st.one_of(
    st.sampled_from(BOUNDARIES[:-1]),
    st.integers(0, 70_000),
    st.sampled_from(BOUNDARIES[:-1]).map(lambda n: n + 1024 * 8),
)


@given(data=st.data(), size=sizes, tier=st.sampled_from([t.values[0] for t in TIERS]))
def test_all_modes_match_reference(data: st.DataObject, size: int, tier: int) -> None:
    if not _native.b3_tier_available(tier):
        return
    message = data.draw(st.binary(min_size=size, max_size=size))
    key = data.draw(st.binary(min_size=32, max_size=32))
    context = data.draw(st.text(max_size=40))
    length = data.draw(st.integers(0, 200))
    assert _native.b3_hash(message, length=length, tier=tier) == reference.blake3(message).digest(
        length
    )
    assert _native.b3_hash(message, mode=_native.MODE_KEYED, key=key, tier=tier) == (
        reference.blake3(message, key=key).digest()
    )
    assert (
        _native.b3_hash(message, mode=_native.MODE_DERIVE_KEY, key=context.encode(), tier=tier)
        == reference.blake3(message, derive_key_context=context).digest()
    )


@given(
    message=st.binary(max_size=40_000),
    cuts=st.lists(st.integers(0, 40_000), max_size=12),
    tier=st.sampled_from([t.values[0] for t in TIERS]),
)
def test_incremental_random_splits(message: bytes, cuts: list[int], tier: int) -> None:
    if not _native.b3_tier_available(tier):
        return
    hasher = _native.Blake3Hasher(tier=tier)
    last = 0
    for cut in sorted(c % (len(message) + 1) for c in cuts):
        hasher.update(message[last:cut])
        last = cut
    hasher.update(message[last:])
    assert hasher.digest() == reference.blake3(message).digest()


def test_public_api_matches_reference() -> None:
    data = b"coldseal" * 1000
    key = bytes(range(32))
    assert blake3(data) == reference.blake3(data).digest()
    assert blake3(data, key=key, length=64) == reference.blake3(data, key=key).digest(64)
    assert blake3(data, derive_key_context="ctx") == (
        reference.blake3(data, derive_key_context="ctx").digest()
    )
    assert Blake3(data[:100]).update(data[100:]).hexdigest() == reference.blake3(data).hexdigest()


def test_public_api_rejects_both_modes() -> None:
    with pytest.raises(ValueError, match="not both"):
        blake3(b"", key=bytes(32), derive_key_context="x")


def test_keyed_mode_needs_a_32_byte_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        blake3(b"", key=b"short")


def test_buffers_are_released_after_the_call() -> None:
    # A leaked buffer export would make resizing the bytearray fail.
    data = bytearray(b"x" * 5000)
    blake3(data)
    hasher = Blake3()
    hasher.update(data)
    data.extend(b"more")
    assert hasher.digest() == reference.blake3(b"x" * 5000).digest()


def test_hasher_digest_does_not_consume_state() -> None:
    hasher = Blake3(b"abc")
    first = hasher.digest()
    assert hasher.digest() == first
    hasher.update(b"def")
    assert hasher.digest() == reference.blake3(b"abcdef").digest()
