"""The manifest parser: strict, bounded, and never anything but ManifestError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldseal.format import canonical
from coldseal.format import manifest as mf
from coldseal.format.manifest import ManifestError


@pytest.fixture(scope="module")
def envelope(sealed_hello: Path) -> dict:
    return json.loads((sealed_hello / "manifest.json").read_bytes())


def encode(envelope: dict) -> bytes:
    return canonical.encode(envelope)


def test_stored_manifest_round_trips(sealed_hello: Path) -> None:
    data = (sealed_hello / "manifest.json").read_bytes()
    signed = mf.decode(data)
    assert signed.encode() == data
    assert signed.manifest.name == "hello_app"
    assert signed.manifest.version == 7
    assert len(data) < 4096


def test_manifest_stays_small_whatever_the_archive_size(envelope: dict) -> None:
    body = dict(envelope["manifest"])
    body["plain_size"] = 1 << 40
    # Sizes are integers: the encoding grows by digits, not by archive size.
    assert len(canonical.encode(body)) < 2048


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("format", 2, "unknown format version"),
        ("format", True, "unknown format version"),  # True == 1 must not pass
        ("cipher", "chacha20-poly1305", "unknown cipher suite"),
        ("compression", "lz4", "unknown compression suite"),
        ("hash", "sha256", "unknown hash suite"),
        ("name", "../evil", "name has characters"),
        ("name", "", "name has characters"),
        ("archive_id", "00", "archive_id must be"),
        ("version", -1, "version must be"),
        ("version", True, "version must be"),
        ("chunk_size", 100, "chunk_size must be"),
        ("chunk_count", 999, "chunk_count does not match"),
        ("payload", "payload-0.bin", "payload does not name"),
        ("tree_offset", 0, "tree_offset"),
        ("index_size", 1, "index must end"),
        ("merkle_root", "zz" * 32, "merkle_root must be"),
    ],
)
def test_bad_field_is_refused(envelope: dict, field: str, value: object, message: str) -> None:
    bad = json.loads(json.dumps(envelope))
    bad["manifest"][field] = value
    with pytest.raises(ManifestError, match=message):
        mf.decode(encode(bad))


def test_unknown_field_is_refused(envelope: dict) -> None:
    bad = json.loads(json.dumps(envelope))
    bad["manifest"]["extra"] = 1
    with pytest.raises(ManifestError, match="unknown field"):
        mf.decode(encode(bad))


def test_missing_field_is_refused(envelope: dict) -> None:
    bad = json.loads(json.dumps(envelope))
    del bad["manifest"]["expires"]
    with pytest.raises(ManifestError, match="missing field"):
        mf.decode(encode(bad))


def test_unknown_key_scheme_is_refused(envelope: dict) -> None:
    bad = json.loads(json.dumps(envelope))
    bad["manifest"]["dek"]["scheme"] = "rot13"
    with pytest.raises(ManifestError, match="unknown key scheme"):
        mf.decode(encode(bad))


def test_duplicate_and_unsorted_signatures_are_refused(envelope: dict) -> None:
    bad = json.loads(json.dumps(envelope))
    bad["signatures"] = bad["signatures"] * 2
    with pytest.raises(ManifestError, match="two signatures"):
        mf.decode(encode(bad))


def test_oversize_manifest_is_refused_before_parsing() -> None:
    with pytest.raises(ManifestError, match="limit"):
        mf.decode(b" " * (mf.MAX_MANIFEST_BYTES + 1))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=40),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=3),
    max_leaves=10,
)


@given(data=st.data())
def test_fuzzed_fields_only_raise_manifest_error(envelope: dict, data: st.DataObject) -> None:
    bad = json.loads(json.dumps(envelope))
    body = bad["manifest"]
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from(sorted(body)))
        body[field] = data.draw(json_values)
    try:
        raw = canonical.encode(bad)
    except canonical.CanonicalError:
        return
    try:
        mf.decode(raw)
    except ManifestError:
        pass


@given(raw=st.binary(max_size=2000))
def test_fuzzed_bytes_only_raise_manifest_error(raw: bytes) -> None:
    with pytest.raises(ManifestError):
        mf.decode(raw)
