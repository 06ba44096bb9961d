"""``coldseal scrub`` against a real SeaweedFS bucket of ~50 archives, on the
local engine and on a real Dask LocalCluster with 2 workers: clean, tampered,
missing objects, a worker killed mid-run, a crashing task, and the same
report from both engines."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import obstore
import pytest
from tests import s3server
from tests.conftest import Keys, run_cli

from coldseal.keys import PublicKey
from coldseal.scrub import Options, Status, scrub
from coldseal.scrub.engines import DaskEngine, LocalEngine
from coldseal.scrub.listing import group_archives, list_objects
from coldseal.scrub.task import scrub_batch
from coldseal.storage.s3 import make_store

pytestmark = pytest.mark.usefixtures("s3")

ROOT = "s3://coldseal/fleet"
ARCHIVES = 50  # 47 plain + 1 large + 1 expiring + 1 expired; plus 1 incomplete prefix


def _seal_publish(keys: Keys, src: Path, sealed: Path, url: str, *extra: str) -> None:
    r = run_cli(
        "seal", src, sealed, "--signing-key", keys.signing, "--kek", keys.kek, "--version", "3",
        "--chunk-size", "64K", *extra,
    )  # fmt: skip
    assert r.code == 0, r.err
    r = run_cli("publish", sealed, url)
    assert r.code == 0, r.err


@pytest.fixture(scope="module")
def fleet(
    s3: s3server.S3Server, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The bucket, built once: url -> sealed folder."""
    work = tmp_path_factory.mktemp("fleet")
    sealed: dict[str, Path] = {}
    for i in range(ARCHIVES):
        src = work / "src" / f"app{i:02d}"
        src.mkdir(parents=True)
        (src / "handler.py").write_text(f"VALUE = {i}\n" * (1 + 40 * i))
        # Mostly small; a few hundred KiB, and one of a few MiB (64K chunks: many chunks).
        size = 3 << 20 if i == 7 else (i % 5) * 60_000
        (src / "blob.bin").write_bytes(os.urandom(size))
        extra: tuple[str, ...] = ()
        if i == 11:
            extra = ("--expires-in", "1s")  # expired by the time any scrub runs
        elif i == 12:
            extra = ("--expires-in", "10d")
        url = f"{ROOT}/team{i % 3}/app{i:02d}"
        _seal_publish(keys, src, work / "sealed" / f"app{i:02d}", url, *extra)
        sealed[url] = work / "sealed" / f"app{i:02d}"
    # A payload whose manifest never arrived.
    lone = next(sealed[f"{ROOT}/team0/app00"].glob("payload-*"))
    obstore.put(
        make_store("coldseal", "fleet/team0/half-published", None), lone.name, lone.read_bytes()
    )
    return sealed


def _scrub(keys: Keys, tmp: Path, *extra: str | Path) -> tuple[int, list[dict], dict, str]:
    report = tmp / "report.jsonl"
    r = run_cli(
        "scrub", ROOT, "--trust", keys.public, "--report", report, "--task-seconds", "0.1", *extra
    )
    lines = (
        [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    )
    records = [x for x in lines if "summary" not in x]
    summary = lines[-1]["summary"] if lines else {}
    return r.code, records, summary, r.err


def _by_url(records: list[dict]) -> dict[str, dict]:
    by_url = {r["url"]: r for r in records}
    assert len(by_url) == len(records), "an archive was reported twice"
    return by_url


def _expected_status(url: str) -> str:
    return {"app11": "expired", "app12": "expiring", "half-published": "incomplete"}.get(
        url.rsplit("/", 1)[1], "ok"
    )


def _check_clean(fleet: dict[str, Path], records: list[dict]) -> None:
    by_url = _by_url(records)
    assert set(by_url) == {*fleet, f"{ROOT}/team0/half-published"}
    for url, record in by_url.items():
        assert record["status"] == _expected_status(url), record
    for url, sealed in fleet.items():
        assert by_url[url]["name"] == url.rsplit("/", 1)[1]
        assert by_url[url]["version"] == 3
        assert by_url[url]["bytes"] == next(sealed.glob("payload-*")).stat().st_size


def test_clean_bucket_local(fleet: dict[str, Path], keys: Keys, tmp_path: Path) -> None:
    code, records, summary, err = _scrub(keys, tmp_path, "--kek", keys.kek)
    assert code == 0, err
    _check_clean(fleet, records)
    assert all(r["decrypted"] for r in records if r["status"] == "ok")
    assert summary["archives"] == ARCHIVES + 1
    assert summary["counts"]["ok"] == ARCHIVES - 2
    assert summary["exit_status"] == 0
    assert summary["tasks"] >= 2  # small archives were packed, but not into one task


def test_keyless_scrub_needs_no_kek(fleet: dict[str, Path], keys: Keys, tmp_path: Path) -> None:
    code, records, _, err = _scrub(keys, tmp_path, "--kek", keys.kek, "--no-decrypt")
    assert code == 0, err
    _check_clean(fleet, records)
    assert not any(r["decrypted"] for r in records if r["status"] == "ok")
    # The report on stdout: JSON lines only there, the summary for people on stderr.
    r = run_cli("scrub", ROOT, "--trust", keys.public, "--report", "-")
    assert r.code == 0, r.err
    lines = [json.loads(line) for line in r.out.splitlines()]
    assert _comparable(lines[:-1]) == _comparable(records)
    assert lines[-1]["summary"]["archives"] == ARCHIVES + 1
    assert "scrubbed 51 archives" in r.err


def _comparable(records: list[dict]) -> dict[str, dict]:
    return {
        url: {k: v for k, v in r.items() if k not in ("seconds", "worker")}
        for url, r in _by_url(records).items()
    }


@pytest.fixture(scope="module")
def dask_engine(s3: s3server.S3Server) -> Iterator[DaskEngine]:
    """One real LocalCluster of 2 worker processes for the module (it takes seconds to start)."""
    engine = DaskEngine(workers=2)
    try:
        yield engine
    finally:
        engine.close()


def test_local_and_dask_give_the_same_report(
    fleet: dict[str, Path], keys: Keys, tmp_path: Path, dask_engine: DaskEngine
) -> None:
    # The CLI connects to the fixture's cluster as to a remote scheduler.
    scheduler = dask_engine.client.scheduler.address
    (tmp_path / "l").mkdir()
    (tmp_path / "d").mkdir()
    code_l, local, _, err = _scrub(keys, tmp_path / "l", "--kek", keys.kek)
    assert code_l == 0, err
    code_d, dask, summary, err = _scrub(
        keys, tmp_path / "d", "--kek", keys.kek, "--engine", "dask", "--scheduler", scheduler
    )
    assert code_d == 0, err
    assert summary["engine"] == "dask" and summary["workers"] == 2
    assert _comparable(local) == _comparable(dask)
    workers = {r["worker"] for r in dask if r["worker"]}
    assert 1 <= len(workers) <= 2 and all(w.startswith("tcp://") for w in workers)


def _payload_url(fleet: dict[str, Path], url: str) -> tuple[obstore.store.S3Store, Path]:
    prefix = url.removeprefix("s3://coldseal/")
    return make_store("coldseal", prefix, None), next(fleet[url].glob("payload-*"))


def test_one_tampered_chunk_is_one_integrity_record(
    fleet: dict[str, Path], keys: Keys, tmp_path: Path
) -> None:
    victim = f"{ROOT}/team1/app07"  # the large one: a chunk in the middle
    store, payload = _payload_url(fleet, victim)
    raw = bytearray(payload.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    obstore.put(store, payload.name, bytes(raw))
    hook_out = tmp_path / "hook.json"
    audit = tmp_path / "audit.jsonl"
    try:
        code, records, summary, err = _scrub(
            keys, tmp_path, "--kek", keys.kek,
            "--audit-log", audit, "--on-violation", f"cat > {hook_out}",
        )  # fmt: skip
    finally:
        obstore.put(store, payload.name, payload.read_bytes())
    assert code == 1, err
    bad = [r for r in records if r["status"] == "integrity"]
    assert [r["url"] for r in bad] == [victim]
    assert "chunk" in bad[0]["reason"] and bad[0]["attempts"] == 1  # never retried
    assert summary["counts"]["ok"] == ARCHIVES - 3
    assert err.strip().splitlines()[-1].startswith("coldseal: error: scrub of")
    assert victim in err
    event = json.loads(hook_out.read_text())
    assert event["action"] == "scrub-archive" and event["url"] == victim
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    per_archive = [e for e in events if e["action"] == "scrub-archive"]
    assert len(per_archive) == ARCHIVES + 1
    assert [e["url"] for e in per_archive if e["result"] == "integrity"] == [victim]
    assert events[-1]["action"] == "scrub" and events[-1]["result"] == "integrity"
    assert not any("kek" in k and k != "kek_id" for e in events for k in e)


def test_missing_object_is_exit_3_after_a_second_pass(
    fleet: dict[str, Path], keys: Keys, tmp_path: Path
) -> None:
    victim = f"{ROOT}/team2/app20"
    store, payload = _payload_url(fleet, victim)
    obstore.delete(store, payload.name)
    try:
        code, records, summary, err = _scrub(keys, tmp_path)
    finally:
        obstore.put(store, payload.name, payload.read_bytes())
    assert code == 3, err
    bad = [r for r in records if r["status"] not in ("ok", "expired", "expiring", "incomplete")]
    assert [(r["url"], r["status"], r["attempts"]) for r in bad] == [(victim, "storage", 2)]
    assert "missing" in bad[0]["reason"]
    assert summary["second_pass"] == 1
    assert "missing" in err.strip().splitlines()[-1]


def _options(keys: Keys) -> Options:
    return Options(
        trust=(PublicKey.load(keys.public).raw,), kek=str(keys.kek), expiring_within=30 * 86400
    )


def _listing() -> object:
    return group_archives(list_objects(ROOT), "coldseal")


def test_a_worker_killed_mid_run_loses_nothing(
    fleet: dict[str, Path], keys: Keys, dask_engine: DaskEngine
) -> None:
    engine = dask_engine
    killed: list[int] = []
    records = []
    lock = threading.Lock()

    def sink(record: object) -> None:
        with lock:
            records.append(record)
            if len(records) == 5 and not killed:
                pids = engine.client.run(os.getpid)
                pid = next(iter(pids.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    summary = scrub(_listing(), engine, _options(keys), sink, task_seconds=0.05, window=4)
    assert killed
    engine.client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed one
    assert killed[0] not in engine.client.run(os.getpid).values()
    by_url = {r.url: r for r in records}
    assert len(by_url) == len(records) == ARCHIVES + 1
    for url, record in by_url.items():
        assert record.status.value == _expected_status(url), record
    assert summary.exit_code == 0


def test_a_crashing_task_is_split_and_the_poison_archive_named(
    fleet: dict[str, Path], keys: Keys
) -> None:
    poison = f"{ROOT}/team0/app03"

    def task(batch, options):
        if any(ref.url == poison for ref in batch):
            raise MemoryError("simulated: the worker ran out of memory")
        return scrub_batch(batch, options)

    records = []
    engine = LocalEngine(2, task=task)
    try:
        summary = scrub(_listing(), engine, _options(keys), records.append, task_seconds=5.0)
    finally:
        engine.close()
    by_url = {r.url: r for r in records}
    assert len(by_url) == len(records) == ARCHIVES + 1
    assert by_url[poison].status is Status.ERROR
    assert "MemoryError" in (by_url[poison].reason or "")
    others = {u: r.status.value for u, r in by_url.items() if u != poison}
    assert others == {u: _expected_status(u) for u in others}
    assert summary.split_tasks >= 2 and summary.exit_code == 3


def test_verify_no_decrypt_is_keyless_even_with_a_kek(fleet: dict[str, Path], keys: Keys) -> None:
    url = f"{ROOT}/team1/app01"
    r = run_cli("verify", url, "--trust", keys.public, "--kek", keys.kek, "--no-decrypt", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["decrypted"] is False
    r = run_cli("verify", url, "--trust", keys.public, "--kek", keys.kek, "--json")
    assert json.loads(r.out)["decrypted"] is True


def test_scrub_usage_errors(keys: Keys, tmp_path: Path) -> None:
    r = run_cli("scrub", ROOT, "--trust", keys.public, "--kek", tmp_path / "nope.kek")
    assert r.code == 2 and "no such key file" in r.err
    r = run_cli("scrub", ROOT, "--trust", keys.public, "--scheduler", "tcp://127.0.0.1:1")
    assert r.code == 2 and "--engine dask" in r.err
    r = run_cli("scrub", "s3://", "--trust", keys.public)
    assert r.code == 2
    r = run_cli("scrub", "s3://no-such-bucket-here/x", "--trust", keys.public)
    assert r.code == 3, r.err


def test_scrub_with_a_keyring_kek(
    fleet: dict[str, Path], keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    """A bucket wrapped under several KEKs scrubs with one keyring (only its path travels)."""
    ring = tmp_path / "ring"
    assert run_cli("keyring", "add", ring, other_keys.kek).code == 0
    assert run_cli("keyring", "add", ring, keys.kek).code == 0
    code, records, _summary, err = _scrub(keys, tmp_path, "--kek", f"keyring:{ring}")
    assert code == 0, err
    _check_clean(fleet, records)
    assert all(r["decrypted"] for r in records if r["status"] == "ok")
