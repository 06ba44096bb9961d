"""rekey rotates the KEK without touching the payload; the audit log and the
violation hook record what happened and never carry key material."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from pathlib import Path

from tests.conftest import HELLO, Keys, run_cli, secret_bytes

from coldseal import audit
from coldseal.keys import Kek


def seal(keys: Keys, dest: Path, *extra: str | Path) -> Path:
    r = run_cli(
        "seal",
        HELLO,
        dest,
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--name",
        "app",
        *extra,
    )
    assert r.code == 0, r.err
    return dest


def test_rekey_rotates_the_kek_and_leaves_the_payload(
    keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    sealed = seal(keys, tmp_path / "s", "--version", "3")
    payload = next(sealed.glob("payload-*"))
    before = payload.read_bytes()
    state = tmp_path / "trust.json"
    assert (
        run_cli("verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--state", state).code
        == 0
    )
    r = run_cli(
        "rekey",
        sealed,
        "--kek",
        keys.kek,
        "--new-kek",
        other_keys.kek,
        "--signing-key",
        keys.signing,
    )
    assert r.code == 0, r.err
    assert payload.read_bytes() == before
    old = run_cli("verify", sealed, "--trust", keys.public, "--kek", keys.kek)
    assert old.code == 1
    assert "KEK" in old.err
    new = run_cli(
        "verify",
        sealed,
        "--trust",
        keys.public,
        "--kek",
        other_keys.kek,
        "--state",
        state,
        "--out",
        tmp_path / "out",
        "--json",
    )
    assert new.code == 0, new.err
    assert json.loads(new.out)["version"] == 3
    assert (tmp_path / "out" / "handler.py").read_bytes() == (HELLO / "handler.py").read_bytes()


def test_rekey_refuses_the_wrong_old_kek_and_a_no_op(
    keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    sealed = seal(keys, tmp_path / "s")
    manifest = (sealed / "manifest.json").read_bytes()
    r = run_cli(
        "rekey",
        sealed,
        "--kek",
        other_keys.kek,
        "--new-kek",
        keys.kek,
        "--signing-key",
        keys.signing,
    )
    assert r.code == 1
    r = run_cli(
        "rekey", sealed, "--kek", keys.kek, "--new-kek", keys.kek, "--signing-key", keys.signing
    )
    assert r.code == 2
    assert (sealed / "manifest.json").read_bytes() == manifest


def secrets_of(keys: Keys, sealed: Path) -> list[bytes]:
    kek = Kek.load(keys.kek)
    body = json.loads((sealed / "manifest.json").read_bytes())["manifest"]
    dek = kek.unwrap(base64.b64decode(body["dek"]["wrapped"]), bytes.fromhex(body["archive_id"]))
    return [secret_bytes(kek._secret), secret_bytes(dek)]


def test_audit_log_records_every_command_without_secrets(keys: Keys, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    sealed = seal(keys, tmp_path / "s", "--audit-log", log)
    assert (
        run_cli(
            "verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--audit-log", log
        ).code
        == 0
    )
    bad = tmp_path / "bad"
    shutil.copytree(sealed, bad)
    payload = next(bad.glob("payload-*"))
    raw = bytearray(payload.read_bytes())
    raw[7] ^= 1
    payload.write_bytes(bytes(raw))
    assert (
        run_cli("verify", bad, "--trust", keys.public, "--kek", keys.kek, "--audit-log", log).code
        == 1
    )
    lines = log.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["action"], e["result"]) for e in events] == [
        ("seal", "ok"),
        ("verify", "ok"),
        ("verify", "integrity"),
    ]
    ok = events[1]
    for field in (
        "name",
        "archive_id",
        "version",
        "merkle_root",
        "manifest_digest",
        "signers",
        "kek_id",
        "seconds",
        "host",
        "time",
    ):
        assert field in ok, field
    assert "chunk" in events[2]["reason"]
    text = log.read_text()
    for secret in secrets_of(keys, sealed):
        assert secret.hex() not in text
        assert base64.b64encode(secret).decode() not in text


def test_violation_hook_runs_on_tamper_only(keys: Keys, tmp_path: Path) -> None:
    sealed = seal(keys, tmp_path / "s")
    marker = tmp_path / "hook.json"
    hook = f"cat > {marker}"
    assert (
        run_cli(
            "verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--on-violation", hook
        ).code
        == 0
    )
    assert not marker.exists()
    r = run_cli(
        "verify",
        sealed,
        "--trust",
        keys.public,
        "--kek",
        keys.kek,
        "--name",
        "other",
        "--on-violation",
        hook,
    )
    assert r.code == 1
    event = json.loads(marker.read_text())
    assert event["result"] == "integrity"
    assert "expected 'other'" in event["reason"]


def test_a_failing_hook_never_masks_the_result(keys: Keys, tmp_path: Path) -> None:
    sealed = seal(keys, tmp_path / "s")
    r = run_cli(
        "verify",
        sealed,
        "--trust",
        keys.public,
        "--kek",
        keys.kek,
        "--name",
        "other",
        "--on-violation",
        "exit 7",
    )
    assert r.code == 1
    assert r.err.splitlines()[-1].startswith("coldseal: error: archive is named")
    assert "hook exited with status 7" in r.err


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"

    def writer(n: int) -> None:
        for i in range(200):
            audit.append(str(log), audit.make_event("verify", "ok", reason="x" * (n * 500), i=i))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = log.read_text().splitlines()
    assert len(lines) == 1600
    assert all(json.loads(line)["action"] == "verify" for line in lines)
