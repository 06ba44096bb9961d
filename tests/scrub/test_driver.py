"""The scrub driver without a bucket: listing grouping (property-tested), lazy
listing, packing, the retry rules, and flat driver memory over a 20k-object
synthetic listing. The S3 and Dask end-to-end tests are in tests/s3/test_scrub.py."""

from __future__ import annotations

import threading
import tracemalloc
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from coldseal.scrub import ArchiveRef, Options, Record, Status, scrub
from coldseal.scrub.engines import LocalEngine
from coldseal.scrub.listing import group_archives
from coldseal.scrub.report import ReportFile
from coldseal.scrub.run import CostModel, batches

OPTIONS = Options(trust=(bytes(32),))

segment = st.text(alphabet="ab-./_z0", min_size=1, max_size=4).filter(
    lambda s: "/" not in s and s not in (".", "..")
)
prefixes = st.lists(segment, min_size=1, max_size=4).map("/".join)
contents = st.fixed_dictionaries(
    {
        "manifest": st.booleans(),
        "payloads": st.lists(st.integers(0, 10**9), max_size=3),
        "other": st.booleans(),
    }
)


@given(st.dictionaries(prefixes, contents, max_size=12))
def test_grouping_finds_every_archive_once(tree: dict[str, dict]) -> None:
    objects = []
    for prefix, c in tree.items():
        if c["manifest"]:
            objects.append((f"{prefix}/manifest.json", 900))
        for i, size in enumerate(c["payloads"]):
            objects.append((f"{prefix}/payload-{i:02x}.bin", size))
        if c["other"]:
            objects.append((f"{prefix}/notes.txt", 5))
    objects.sort(key=lambda o: o[0].encode())  # S3 lists in UTF-8 byte order
    found = list(group_archives(objects, "b"))
    archives = {f"s3://b/{p}": sum(c["payloads"]) for p, c in tree.items() if c["manifest"]}
    incomplete = {
        f"s3://b/{p}": sum(c["payloads"])
        for p, c in tree.items()
        if not c["manifest"] and c["payloads"]
    }
    refs = [f for f in found if isinstance(f, ArchiveRef)]
    records = [f for f in found if isinstance(f, Record)]
    assert {r.url: r.bytes for r in refs} == archives
    assert len(refs) == len(archives)
    assert {r.url: r.bytes for r in records} == incomplete
    assert all(r.status is Status.INCOMPLETE for r in records)
    assert len(records) == len(incomplete)


def test_packing_follows_the_cost_model() -> None:
    model = CostModel(fixed_s=0.01, rate=100e6)
    refs = [ArchiveRef(f"s3://b/a{i}", 0) for i in range(650)] + [ArchiveRef("s3://b/big", 10**9)]
    out = list(batches(refs, model, task_seconds=1.0, workers=2))
    assert [r for b in out for r in b] == refs  # every archive once, in listing order
    # ~1 s tasks while the listing runs ahead; the big one (10 s) closes the last task.
    assert [len(b) for b in out] == [100, 100, 100, 100, 100, 100, 51]
    model.learn(Record("s3://b/x", Status.OK, 1000, seconds=0.11))
    assert 0.01 < model.fixed_s < 0.11


def test_a_small_scrub_is_spread_over_every_worker() -> None:
    model = CostModel(fixed_s=0.03, rate=100e6)
    refs = [ArchiveRef(f"s3://b/a{i}", 0) for i in range(64)]  # ~2 s of work in all
    sizes = [len(b) for b in batches(refs, model, task_seconds=1.0, workers=2)]
    assert sum(sizes) == 64
    assert len(sizes) >= 4  # at least two tasks per worker, not two 1 s tasks
    assert sizes == sorted(sizes, reverse=True)  # the last tasks are the short ones


def _synthetic(n_archives: int, pulled: list[int]) -> object:
    """A listing of ``n_archives`` prefixes (manifest + payload each) and some strays."""
    for i in range(n_archives):
        pulled[0] += 1
        yield f"fleet/{i:07d}/manifest.json", 700
        yield f"fleet/{i:07d}/payload-{i:032x}.bin", 4096 + i % 977


def _ok_task(batch, options):
    return [Record(r.url, Status.OK, r.bytes, seconds=0.03, name="x", version=1) for r in batch]


def _run(n_archives: int, report: Path) -> tuple[int, int]:
    """(driver peak traced bytes, records) for a scrub of a synthetic listing."""
    pulled = [0]
    engine = LocalEngine(2, task=_ok_task)
    out = ReportFile(str(report))
    tracemalloc.start()
    try:
        summary = scrub(
            group_archives(_synthetic(n_archives, pulled), "b"),
            engine,
            OPTIONS,
            lambda r: out.write(r.to_json()),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        engine.close()
    out.commit()
    assert summary.archives == n_archives == pulled[0]
    return peak, len(report.read_text().splitlines())


def test_driver_memory_stays_flat_over_a_20k_object_listing(tmp_path: Path) -> None:
    small_peak, small_lines = _run(1_000, tmp_path / "small.jsonl")  # 2k objects
    big_peak, big_lines = _run(10_000, tmp_path / "big.jsonl")  # 20k objects
    assert (small_lines, big_lines) == (1_000, 10_000)
    # Ten times the listing, about the same peak: nothing grows with the archive count.
    # (Measured: ~230 KB and ~260 KB; a sink that kept the records peaks at ~2.9 MB.)
    assert big_peak < 1.25 * small_peak + (64 << 10), (small_peak, big_peak)


def test_work_starts_while_the_listing_continues() -> None:
    pulled = [0]
    seen_at_first_task: list[int] = []
    lock = threading.Lock()

    def task(batch, options):
        with lock:
            if not seen_at_first_task:
                seen_at_first_task.append(pulled[0])
        return _ok_task(batch, options)

    engine = LocalEngine(2, task=task)
    try:
        summary = scrub(
            group_archives(_synthetic(5_000, pulled), "b"), engine, OPTIONS, lambda _: None
        )
    finally:
        engine.close()
    assert summary.archives == 5_000
    assert seen_at_first_task[0] < 2_000  # the first task ran long before the listing ended


def test_storage_gets_one_second_pass_and_integrity_none() -> None:
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def task(batch, options):
        out = []
        for ref in batch:
            with lock:
                calls[ref.url] += 1
                n = calls[ref.url]
            name = ref.url.rsplit("/", 1)[1]
            if name == "flaky" and n == 1:
                out.append(Record(ref.url, Status.STORAGE, 1, reason="503"))
            elif name == "gone":
                out.append(Record(ref.url, Status.STORAGE, 1, reason="missing"))
            elif name == "bad":
                out.append(Record(ref.url, Status.INTEGRITY, 1, reason="chunk 3"))
            else:
                out.append(Record(ref.url, Status.OK, 1))
        return out

    objects = [(f"{n}/manifest.json", 1) for n in ("bad", "flaky", "gone", "good")]
    records: list[Record] = []
    engine = LocalEngine(2, task=task)
    try:
        summary = scrub(group_archives(objects, "b"), engine, OPTIONS, records.append)
    finally:
        engine.close()
    final = {r.url.rsplit("/", 1)[1]: (r.status, r.attempts) for r in records}
    assert final == {
        "bad": (Status.INTEGRITY, 1),
        "flaky": (Status.OK, 2),
        "gone": (Status.STORAGE, 2),
        "good": (Status.OK, 1),
    }
    assert calls == {"s3://b/bad": 1, "s3://b/flaky": 2, "s3://b/gone": 2, "s3://b/good": 1}
    assert summary.exit_code == 1 and summary.second_pass == 2
