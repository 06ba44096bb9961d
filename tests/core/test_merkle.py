"""The Merkle tree against a from-the-definition Python model built on the
``blake3`` package, plus proofs for every leaf of many tree shapes."""

from __future__ import annotations

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldseal import _native
from coldseal.errors import IntegrityError


def ref_leaf(index: int, sealed: bytes) -> bytes:
    return blake3.blake3(
        sealed + index.to_bytes(8, "little"), derive_key_context="coldseal v1 chunk leaf"
    ).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return blake3.blake3(left + right, derive_key_context="coldseal v1 tree node").digest()


def ref_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return blake3.blake3(b"", derive_key_context="coldseal v1 empty tree").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return ref_node(ref_root(leaves[:k]), ref_root(leaves[k:]))


def make_leaves(n: int) -> list[bytes]:
    return [blake3.blake3(i.to_bytes(4, "little")).digest() for i in range(n)]


@given(index=st.integers(0, 2**64 - 1), sealed=st.binary(max_size=3000))
def test_leaf_matches_definition(index: int, sealed: bytes) -> None:
    assert _native.merkle_leaf(index, sealed) == ref_leaf(index, sealed)


def test_node_matches_definition() -> None:
    left, right = bytes(range(32)), bytes(range(32, 64))
    assert _native.merkle_node(left, right) == ref_node(left, right)
    assert _native.merkle_node(left, right) != _native.merkle_node(right, left)


def test_leaf_and_node_domains_differ() -> None:
    block = bytes(range(64))
    # The same 64 bytes hashed as a node and as a (sealed, index) leaf input differ.
    assert _native.merkle_node(block[:32], block[32:]) != _native.merkle_leaf(
        int.from_bytes(block[56:], "little"), block[:56]
    )


@pytest.mark.parametrize("n", [*range(40), 63, 64, 65, 127, 128, 129, 1000, 1025])
def test_root_and_tree_match_definition(n: int) -> None:
    leaves = make_leaves(n)
    joined = b"".join(leaves)
    root = _native.merkle_root(joined)
    assert root == ref_root(leaves)
    tree = _native.merkle_tree(joined)
    assert len(tree) == _native.merkle_tree_len(n) * 32
    if n:
        assert tree[: 32 * n] == joined
        assert tree[-32:] == root


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 100])
def test_every_proof_verifies_and_tampering_fails(n: int) -> None:
    leaves = make_leaves(n)
    joined = b"".join(leaves)
    root = _native.merkle_root(joined)
    for i in range(n):
        proof = _native.merkle_proof(joined, i)
        assert len(proof) == 32 * _native.merkle_proof_len(i, n)
        _native.merkle_verify(leaves[i], i, n, proof, root)
        with pytest.raises(IntegrityError):
            _native.merkle_verify(leaves[(i + 1) % n] if n > 1 else bytes(32), i, n, proof, root)
        if proof:
            bad = bytearray(proof)
            bad[-1] ^= 1
            with pytest.raises(IntegrityError):
                _native.merkle_verify(leaves[i], i, n, bytes(bad), root)
        if n > 1:
            # A proof is tied to its position. (The tree size is not hashed in:
            # it comes from the signed manifest, never from the prover.)
            with pytest.raises(IntegrityError):
                _native.merkle_verify(leaves[i], (i + 1) % n, n, proof, root)


@given(n=st.integers(1, 300), data=st.data())
def test_proof_property(n: int, data: st.DataObject) -> None:
    leaves = make_leaves(n)
    joined = b"".join(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = _native.merkle_proof(joined, i)
    _native.merkle_verify(leaves[i], i, n, proof, ref_root(leaves))


def test_ragged_leaves_are_refused() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        _native.merkle_root(b"\x00" * 33)
