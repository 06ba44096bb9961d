"""Publish and verify against a real S3 server: round trips, tampering in the
bucket, missing objects, refused credentials, objects replaced mid-read,
injected network faults, deadlines, and the server dying mid-verify."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import obstore
import pytest
from tests import s3server
from tests.conftest import HELLO, Keys, leftovers, run_cli
from tests.faultproxy import FaultProxy

from coldseal.storage.s3 import S3Storage, make_store

pytestmark = pytest.mark.usefixtures("s3")


def seal(keys: Keys, src: Path, dest: Path, *extra: str) -> Path:
    r = run_cli(
        "seal", src, dest, "--signing-key", keys.signing, "--kek", keys.kek, "--name", "app", *extra
    )
    assert r.code == 0, r.err
    return dest


def verify(keys: Keys, url: str, *extra: str | Path) -> tuple[int, str, str]:
    r = run_cli("verify", url, "--trust", keys.public, "--kek", keys.kek, *extra)
    return r.code, r.out, r.err


@pytest.fixture(scope="module")
def app_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("app") / "app"
    shutil.copytree(HELLO, src)
    (src / "lib.bin").write_bytes(os.urandom(3 << 20))
    (src / "big.py").write_text("x = 1\n" * 300_000)
    return src


@pytest.fixture(scope="module")
def published(
    s3: s3server.S3Server, keys: Keys, app_tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    sealed = seal(keys, app_tree, tmp_path_factory.mktemp("s") / "sealed", "--chunk-size", "256K")
    url = "s3://coldseal/apps/app"
    r = run_cli("publish", sealed, url)
    assert r.code == 0, r.err
    return url


def same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    files_b = sorted(p.relative_to(b) for p in b.rglob("*"))
    return files_a == files_b and all(
        (a / p).read_bytes() == (b / p).read_bytes() for p in files_a if (a / p).is_file()
    )


def test_publish_then_verify_round_trip(
    published: str, keys: Keys, app_tree: Path, tmp_path: Path
) -> None:
    code, out, err = verify(keys, published, "--out", tmp_path / "out", "--name", "app", "--json")
    assert code == 0, err
    assert same_tree(tmp_path / "out", app_tree)
    io = json.loads(out)["io"]
    assert io["requests"] > 0
    assert io["bytes_fetched"] >= sum(p.stat().st_size for p in app_tree.rglob("*.bin")) // 2
    # The time split accounts for the whole chunk phase.
    phase = io["chunk_phase_seconds"]
    assert 0 <= io["network_busy_seconds"] <= phase
    assert 0 <= io["cpu_busy_seconds"] <= phase
    either = io["network_busy_seconds"] + io["cpu_busy_seconds"] - io["overlap_seconds"]
    assert abs(either + io["idle_seconds"] - phase) < 1e-3
    assert 0 <= io["idle_share"] <= 1


def test_publish_is_idempotent(published: str, keys: Keys, app_tree: Path, tmp_path: Path) -> None:
    sealed = tmp_path / "again"
    seal(keys, app_tree, sealed)
    r = run_cli("publish", sealed, "s3://coldseal/idem")
    assert r.code == 0, r.err
    r = run_cli("publish", sealed, "s3://coldseal/idem")
    assert r.code == 0, r.err
    assert "already present" in r.out
    assert verify(keys, "s3://coldseal/idem")[0] == 0


def test_new_version_never_disturbs_the_old_payload(
    s3: s3server.S3Server, keys: Keys, app_tree: Path, tmp_path: Path
) -> None:
    url = "s3://coldseal/versions"
    v1 = seal(keys, app_tree, tmp_path / "v1", "--version", "1")
    v2 = seal(keys, app_tree, tmp_path / "v2", "--version", "2")
    assert run_cli("publish", v1, url).code == 0
    store = make_store("coldseal", "versions", None)
    v1_payload = next(v1.glob("payload-*"))
    before = obstore.head(store, v1_payload.name)
    assert run_cli("publish", v2, url).code == 0
    assert obstore.head(store, v1_payload.name)["e_tag"] == before["e_tag"]
    code, out, _ = verify(keys, url, "--json")
    assert code == 0
    assert '"version": 2' in out


def test_tampered_payload_in_the_bucket(
    s3: s3server.S3Server, keys: Keys, app_tree: Path, tmp_path: Path
) -> None:
    sealed = seal(keys, app_tree, tmp_path / "s")
    url = "s3://coldseal/tampered"
    assert run_cli("publish", sealed, url).code == 0
    payload = next(sealed.glob("payload-*"))
    raw = bytearray(payload.read_bytes())
    raw[len(raw) // 3] ^= 0x40
    obstore.put(make_store("coldseal", "tampered", None), payload.name, bytes(raw))
    code, _, err = verify(keys, url, "--out", tmp_path / "out")
    assert code == 1, err
    assert leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("which", ["manifest.json", "payload"])
def test_missing_object(
    s3: s3server.S3Server, keys: Keys, app_tree: Path, tmp_path: Path, which: str
) -> None:
    sealed = seal(keys, app_tree, tmp_path / "s")
    prefix = f"missing-{which[:4]}"
    assert run_cli("publish", sealed, f"s3://coldseal/{prefix}").code == 0
    name = which if which == "manifest.json" else next(sealed.glob("payload-*")).name
    obstore.delete(make_store("coldseal", prefix, None), name)
    code, _, err = verify(keys, f"s3://coldseal/{prefix}", "--out", tmp_path / "out")
    assert code == 3, err
    assert "missing" in err
    assert f"s3://coldseal/{prefix}/{name}" in err
    assert leftovers(tmp_path / "out") == []


def test_wrong_credentials(published: str, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    code, _, err = verify(keys, published)
    assert code == 3
    assert "access denied" in err
    assert err.count("\n") == 1


def test_object_replaced_mid_read_fails_closed(
    s3: s3server.S3Server,
    keys: Keys,
    app_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sealed = seal(keys, app_tree, tmp_path / "s")
    url = "s3://coldseal/replaced"
    assert run_cli("publish", sealed, url).code == 0
    payload = next(sealed.glob("payload-*"))
    original_size = S3Storage.size

    def size_then_replace(self: S3Storage, name: str) -> int:
        size = original_size(self, name)
        if name == payload.name:
            # Same bytes, new object: the ETag pinned by the first look changes.
            obstore.put(make_store("coldseal", "replaced", None), name, payload.read_bytes()[::-1])
        return size

    monkeypatch.setattr(S3Storage, "size", size_then_replace)
    code, _, err = verify(keys, url, "--out", tmp_path / "out")
    assert code in (1, 3), err
    assert "changed while it was being read" in err
    assert leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fault_proxy_retries_or_fails_cleanly(
    published: str, keys: Keys, app_tree: Path, s3: s3server.S3Server, tmp_path: Path, seed: int
) -> None:
    with FaultProxy(
        s3.endpoint, reset=0.1, slowdown=0.1, truncate=0.1, stall=0.05, stall_seconds=0.5, seed=seed
    ) as proxy:
        started = time.monotonic()
        code, _, err = verify(
            keys,
            published,
            "--endpoint-url",
            proxy.url,
            "--out",
            tmp_path / "out",
            "--deadline",
            "20",
            "--request-size",
            "128K",
        )
        elapsed = time.monotonic() - started
    assert sum(v for k, v in proxy.counts.items() if k != "passed") > 0
    assert elapsed < 25
    if code == 0:
        assert same_tree(tmp_path / "out", app_tree)
    else:
        assert code == 3, err
        assert leftovers(tmp_path / "out") == []


def test_deadline_is_honoured(
    published: str, keys: Keys, s3: s3server.S3Server, tmp_path: Path
) -> None:
    with FaultProxy(s3.endpoint, stall=1.0, stall_seconds=5, methods=("GET", "HEAD")) as proxy:
        started = time.monotonic()
        code, _, err = verify(
            keys,
            published,
            "--endpoint-url",
            proxy.url,
            "--out",
            tmp_path / "out",
            "--deadline",
            "1.5",
        )
        elapsed = time.monotonic() - started
    assert code == 3, err
    assert "deadline" in err
    assert elapsed < 4
    assert leftovers(tmp_path / "out") == []


def test_server_killed_mid_verify(
    keys: Keys, app_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = s3server.start()
    try:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        sealed = seal(keys, app_tree, tmp_path / "s", "--chunk-size", "64K")
        assert run_cli("publish", sealed, "s3://coldseal/doomed").code == 0
        with FaultProxy(server.endpoint, stall=1.0, stall_seconds=0.3) as proxy:
            killer = threading.Timer(0.8, server.kill)
            killer.start()
            code, _, err = verify(
                keys,
                "s3://coldseal/doomed",
                "--endpoint-url",
                proxy.url,
                "--out",
                tmp_path / "out",
                "--deadline",
                "30",
            )
            killer.join()
        assert code == 3, err
        assert leftovers(tmp_path / "out") == []
    finally:
        server.stop()


def test_stragglers_are_hedged(
    published: str, keys: Keys, app_tree: Path, s3: s3server.S3Server, tmp_path: Path
) -> None:
    # A third of GETs stall for 4 s; the hedge (after 2 s) races a second copy.
    with FaultProxy(s3.endpoint, stall=0.34, stall_seconds=4, seed=7) as proxy:
        code, out, err = verify(
            keys,
            published,
            "--endpoint-url",
            proxy.url,
            "--json",
            "--out",
            tmp_path / "out",
            "--request-size",
            "512K",
        )
    assert code == 0, err
    assert proxy.counts["stall"] > 0
    assert json.loads(out)["io"]["hedges"] > 0
    assert same_tree(tmp_path / "out", app_tree)


def test_lazy_open_from_s3_takes_three_round_trips(
    published: str, keys: Keys, app_tree: Path
) -> None:
    import coldseal  # noqa: PLC0415
    from coldseal.keys import Kek, PublicKey  # noqa: PLC0415

    with coldseal.open(
        published, trust=[PublicKey.load(keys.public)], kek=Kek.load(keys.kek), name="app"
    ) as archive:
        assert archive.read("handler.py") == (app_tree / "handler.py").read_bytes()
        stats = archive._storage.stats  # type: ignore[attr-defined]
        assert stats.requests == 3  # manifest, index + table + tree, the file's chunks
        assert stats.bytes_fetched < archive.manifest.payload_size / 2
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    r = subprocess.run(
        [
            str(Path(sys.executable).with_name("coldseal")),
            "cat",
            published,
            "greetings/templates/en.txt",
            "--trust",
            str(keys.public),
            "--kek",
            str(keys.kek),
        ],
        capture_output=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == (app_tree / "greetings/templates/en.txt").read_bytes()
