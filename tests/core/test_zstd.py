"""zstd in the core against ``pyzstd``, both ways, and its hard output bound."""

from __future__ import annotations

import pytest
import pyzstd
from hypothesis import given
from hypothesis import strategies as st

from coldseal import _native
from coldseal.errors import IntegrityError

texty = st.lists(
    st.sampled_from([b"def ", b"return ", b"import os\n", b"x", b"\x00", b"  "]), max_size=3000
).map(b"".join)
payloads = st.one_of(st.binary(max_size=20_000), texty)


@given(data=payloads, level=st.integers(-5, 19))
def test_ours_decode_with_pyzstd(data: bytes, level: int) -> None:
    frame = _native.ZstdContext(level).compress(data)
    assert pyzstd.decompress(frame) == data
    # The frame records its content size, so a reader can bound it up front.
    assert pyzstd.get_frame_info(frame).decompressed_size == len(data)


@given(data=payloads, level=st.integers(1, 19))
def test_pyzstd_frames_decode_with_ours(data: bytes, level: int) -> None:
    frame = pyzstd.compress(data, level)
    assert _native.ZstdContext().decompress(frame, len(data)) == data


def test_over_long_frame_stops_at_the_bound() -> None:
    bomb = pyzstd.compress(b"\x00" * (8 << 20))
    with pytest.raises(IntegrityError) as info:
        _native.ZstdContext().decompress(bomb, 1 << 20)
    assert info.value.status == _native.ERR_LIMIT


def test_frame_without_content_size_is_still_bounded() -> None:
    compressor = pyzstd.ZstdCompressor()
    frame = compressor.compress(b"a" * 100_000) + compressor.flush()
    assert pyzstd.get_frame_info(frame).decompressed_size is None
    with pytest.raises(IntegrityError) as info:
        _native.ZstdContext().decompress(frame, 50_000)
    assert info.value.status == _native.ERR_LIMIT
    assert _native.ZstdContext().decompress(frame, 100_000) == b"a" * 100_000


def test_short_result_is_corrupt() -> None:
    frame = pyzstd.compress(b"abc" * 100)
    with pytest.raises(IntegrityError) as info:
        _native.ZstdContext().decompress(frame, 301)
    assert info.value.status == _native.ERR_CORRUPT


@pytest.mark.parametrize(
    "mangle",
    [
        lambda f: f + b"\x00",  # trailing byte
        lambda f: f + f,  # a second frame
        lambda f: f[:-1],  # truncated
        lambda f: b"\x00" * len(f),  # not a frame
    ],
)
def test_malformed_frames_are_corrupt(mangle: object) -> None:
    frame = pyzstd.compress(b"hello world " * 50)
    with pytest.raises(IntegrityError):
        _native.ZstdContext().decompress(mangle(frame), 600)  # type: ignore[operator]


def test_level_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="zstd level"):
        _native.ZstdContext(99)
