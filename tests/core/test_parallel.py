"""Opening many chunks at once: the core's pthread batch and the Python
thread pool give the same bytes and report failures per chunk."""

from __future__ import annotations

import os

import pytest

from coldseal import _native
from coldseal._parallel import ChunkOpener
from coldseal.errors import IntegrityError

DEK = os.urandom(32)
AID = os.urandom(16)
CHUNK = 16 << 10


@pytest.fixture(scope="module")
def archive() -> tuple[bytes, list[tuple[bytes, bytes]]]:
    data = b"".join(os.urandom(CHUNK // 2) + b"z" * (CHUNK // 2) for _ in range(40)) + b"tail"
    ctx = _native.ChunkContext(DEK, AID, CHUNK)
    sealed = [
        ctx.seal(i, data[off : off + CHUNK]) for i, off in enumerate(range(0, len(data), CHUNK))
    ]
    return data, sealed


def jobs_for(
    data: bytes, sealed: list[tuple[bytes, bytes]], out: bytearray
) -> list[_native.OpenJob]:
    view = memoryview(out)
    return [
        _native.OpenJob(i, body, leaf, view[i * CHUNK : min(len(data), (i + 1) * CHUNK)])
        for i, (body, leaf) in enumerate(sealed)
    ]


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_batch_opens_everything(
    archive: tuple[bytes, list[tuple[bytes, bytes]]], threads: int
) -> None:
    data, sealed = archive
    out = bytearray(len(data))
    statuses = _native.open_chunks(DEK, AID, CHUNK, jobs_for(data, sealed, out), threads)
    assert statuses == [0] * len(sealed)
    assert out == data


@pytest.mark.parametrize("threads", [1, 2, 8])
def test_thread_pool_opens_everything(
    archive: tuple[bytes, list[tuple[bytes, bytes]]], threads: int
) -> None:
    data, sealed = archive
    out = bytearray(len(data))
    with ChunkOpener(DEK, AID, CHUNK, threads) as opener:
        opener.open_all(jobs_for(data, sealed, out))
    assert out == data


def tampered(sealed: list[tuple[bytes, bytes]], *bad: int) -> list[tuple[bytes, bytes]]:
    result = list(sealed)
    for i in bad:
        body = bytearray(result[i][0])
        body[3] ^= 4
        result[i] = (bytes(body), result[i][1])
    return result


def test_batch_reports_each_failed_chunk(archive: tuple[bytes, list[tuple[bytes, bytes]]]) -> None:
    data, sealed = archive
    out = bytearray(b"\x01" * len(data))
    jobs = jobs_for(data, tampered(sealed, 5, 17), out)
    with pytest.raises(IntegrityError) as info:
        _native.open_chunks(DEK, AID, CHUNK, jobs, 2)
    assert info.value.chunk == 5
    assert not any(out[5 * CHUNK : 6 * CHUNK])
    assert not any(out[17 * CHUNK : 18 * CHUNK])
    assert out[: 5 * CHUNK] == data[: 5 * CHUNK]


def test_thread_pool_raises_first_failure_in_order(
    archive: tuple[bytes, list[tuple[bytes, bytes]]],
) -> None:
    data, sealed = archive
    out = bytearray(b"\x01" * len(data))
    with ChunkOpener(DEK, AID, CHUNK, 2) as opener, pytest.raises(IntegrityError) as info:
        opener.open_all(jobs_for(data, tampered(sealed, 30, 9), out))
    assert info.value.chunk == 9
    assert not any(out[9 * CHUNK : 10 * CHUNK])
    assert not any(out[30 * CHUNK : 31 * CHUNK])


@pytest.mark.parametrize("threads", [0, 257])
def test_batch_thread_bounds(threads: int) -> None:
    with pytest.raises(ValueError, match="threads"):
        _native.open_chunks(DEK, AID, CHUNK, [], threads)


def test_empty_batch() -> None:
    assert _native.open_chunks(DEK, AID, CHUNK, [], 2) == []
