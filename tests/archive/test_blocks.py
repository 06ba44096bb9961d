"""The aligned-block planner and the unit assembler of the S3 pipeline (no server needed)."""

from __future__ import annotations

import itertools
import os
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from coldseal.verifier import _ChunkReader, assemble_units, plan_blocks


def _spans(lengths: list[int], base: int) -> list[tuple[int, int]]:
    spans, offset = [], base
    for n in lengths:
        spans.append((offset, n))
        offset += n
    return spans


@given(
    lengths=st.lists(st.integers(1, 3000), min_size=1, max_size=30),
    base=st.integers(0, 3000),
    block=st.integers(256, 6000),
    max_run=st.none() | st.integers(1, 5),
    data=st.data(),
)
def test_units_cover_every_chunk_once_with_its_own_bytes(
    lengths: list[int], base: int, block: int, max_run: int | None, data: Any
) -> None:
    spans = _spans(lengths, base)
    first = data.draw(st.integers(0, len(spans) - 1))
    stop = data.draw(st.integers(first + 1, len(spans)))
    indices = range(first, stop)
    payload = memoryview(os.urandom(spans[-1][0] + spans[-1][1]))
    blocks = plan_blocks(spans, indices, block)
    # Reads are contiguous, cover exactly the chunks' bytes and never cross a multiple of block.
    assert blocks[0][0] == spans[first][0]
    assert sum(n for _, n in blocks) == spans[stop - 1][0] + spans[stop - 1][1] - spans[first][0]
    for (o, n), (o2, _) in itertools.pairwise(blocks):
        assert o + n == o2
    for o, n in blocks:
        assert o // block == (o + n - 1) // block
    archive = SimpleNamespace(
        storage=SimpleNamespace(request_size=block), manifest=SimpleNamespace(chunk_size=block)
    )
    reader = _ChunkReader(archive, None)  # type: ignore[arg-type]
    fetched = iter([payload[o : o + n] for o, n in blocks])
    seen: list[int] = []
    units = assemble_units(reader, spans, indices, blocks, fetched, max_run=max_run)
    for group, view, pooled in units:
        start = spans[group.start][0]
        end = spans[group[-1]][0] + spans[group[-1]][1]
        assert bytes(view) == bytes(payload[start:end])
        if pooled is None:  # zero-copy units never straddle a read
            assert start // block == (end - 1) // block or len(blocks) == 1
        if max_run is not None:
            assert len(group) <= max_run
        seen.extend(group)
    assert seen == list(indices)
