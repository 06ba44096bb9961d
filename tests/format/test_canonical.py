"""Canonical JSON: one byte string per value, everything else refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldseal.format import canonical
from coldseal.format.canonical import CanonicalError

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_round_trip(value: object) -> None:
    data = canonical.encode(value)
    assert canonical.decode(data, max_size=1 << 20) == value
    assert data.isascii()


@given(st.binary(max_size=300))
def test_arbitrary_bytes_fail_cleanly(data: bytes) -> None:
    try:
        value = canonical.decode(data, max_size=1 << 20)
    except CanonicalError:
        return
    assert canonical.encode(value) == data


@pytest.mark.parametrize(
    "text",
    [
        '{"b":1,"a":2}',  # key order
        '{"a": 1}',  # whitespace
        '{"a":1.0}',  # float
        '{"a":1e3}',  # exponent
        '{"a":NaN}',  # non-finite
        '{"a":1,"a":1}',  # duplicate key
        '"\\u00e9"'.replace("\\u00e9", "é"),  # raw non-ASCII
        '"\\u0041"',  # escape where none is needed
        "[9007199254740993]",  # beyond 2^53
        "[" * 5000 + "]" * 5000,  # deep nesting
    ],
)
def test_non_canonical_is_refused(text: str) -> None:
    with pytest.raises(CanonicalError):
        canonical.decode(text.encode("utf-8"), max_size=1 << 20)


def test_size_bound_is_checked_first() -> None:
    with pytest.raises(CanonicalError, match="limit"):
        canonical.decode(b"[" + b"1," * 5000 + b"1]", max_size=100)


def test_encoding_matches_plain_json_sorted() -> None:
    value = {"z": [1, "é", None], "a": {"b": True}}
    assert (
        canonical.encode(value) == json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    )
