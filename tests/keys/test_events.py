"""Library callbacks: the audit event of every verify/open, and the violation hook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import HELLO, Keys, run_cli

import coldseal
from coldseal.keys import Kek, PublicKey

FIELDS = {"name", "version", "archive_id", "merkle_root", "manifest_digest", "kek_id", "signers"}


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.violations: list[dict[str, Any]] = []

    def on_event(self, event: dict[str, Any]) -> None:
        json.dumps(event)  # every event must serialise as one audit line
        self.events.append(event)

    def on_violation(self, event: dict[str, Any]) -> None:
        self.violations.append(event)


def _tampered(sealed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(sealed, copy)
    payload = next(p for p in copy.iterdir() if p.name.startswith("payload-"))
    data = bytearray(payload.read_bytes())
    data[10] ^= 1
    payload.write_bytes(bytes(data))
    return copy


def test_verify_reports_one_ok_event_and_no_violation(keys: Keys, sealed_hello: Path) -> None:
    rec = Recorder()
    with Kek.load(keys.kek) as kek:
        report = coldseal.verify(
            sealed_hello,
            trust=[PublicKey.load(keys.public)],
            kek=kek,
            on_event=rec.on_event,
            on_violation=rec.on_violation,
        )
    assert rec.violations == []
    (event,) = rec.events
    assert event["action"] == "verify"
    assert event["result"] == "ok"
    assert set(event) >= FIELDS
    assert event["merkle_root"] == report.merkle_root
    assert event["manifest_digest"] == report.manifest_digest
    assert event["signers"] == report.signers


def test_tamper_reaches_both_callbacks_and_still_raises(
    keys: Keys, sealed_hello: Path, tmp_path: Path
) -> None:
    rec = Recorder()
    bad = _tampered(sealed_hello, tmp_path)
    with Kek.load(keys.kek) as kek, pytest.raises(coldseal.IntegrityError):
        coldseal.verify(
            bad,
            trust=[PublicKey.load(keys.public)],
            kek=kek,
            on_event=rec.on_event,
            on_violation=rec.on_violation,
        )
    assert len(rec.events) == 1
    assert rec.violations == rec.events
    event = rec.violations[0]
    assert event["result"] == "integrity"
    assert event["name"] == "hello_app"  # known before the failure, so reported
    assert "failed verification" in event["reason"]


def test_a_failing_callback_never_masks_the_verdict(
    keys: Keys, sealed_hello: Path, tmp_path: Path
) -> None:
    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("audit sink down")

    bad = _tampered(sealed_hello, tmp_path)
    with Kek.load(keys.kek) as kek, pytest.raises(coldseal.IntegrityError) as caught:
        coldseal.verify(
            bad, trust=[PublicKey.load(keys.public)], kek=kek, on_event=broken, on_violation=broken
        )
    assert any("callback failed" in note for note in caught.value.__notes__)
    # On success an audit sink that fails is the caller's failure to see.
    with Kek.load(keys.kek) as kek, pytest.raises(RuntimeError):
        coldseal.verify(sealed_hello, trust=[PublicKey.load(keys.public)], kek=kek, on_event=broken)


def test_open_reports_events_and_violations(
    keys: Keys, other_keys: Keys, sealed_hello: Path
) -> None:
    rec = Recorder()
    with (
        Kek.load(keys.kek) as kek,
        coldseal.open(
            sealed_hello, trust=[PublicKey.load(keys.public)], kek=kek, on_event=rec.on_event
        ) as archive,
    ):
        assert archive.read("handler.py") == (HELLO / "handler.py").read_bytes()
    assert [e["result"] for e in rec.events] == ["ok"]
    assert rec.events[0]["action"] == "open"
    with Kek.load(other_keys.kek) as wrong, pytest.raises(coldseal.IntegrityError):
        coldseal.open(
            sealed_hello,
            trust=[PublicKey.load(keys.public)],
            kek=wrong,
            on_event=rec.on_event,
            on_violation=rec.on_violation,
        )
    assert [e["result"] for e in rec.violations] == ["integrity"]
    assert "wrong" in rec.violations[0]["reason"] or "KEK" in rec.violations[0]["reason"]


def test_cli_audit_line_of_a_failed_verify_names_the_archive(
    keys: Keys, sealed_hello: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    bad = _tampered(sealed_hello, tmp_path)
    r = run_cli("verify", bad, "--trust", keys.public, "--kek", keys.kek, "--audit-log", log)
    assert r.code == 1
    (line,) = log.read_text().splitlines()
    event = json.loads(line)
    assert event["result"] == "integrity"
    assert event["name"] == "hello_app"
    assert event["source"] == str(bad)


def test_seal_and_rekey_report_events(keys: Keys, other_keys: Keys, tmp_path: Path) -> None:
    from coldseal.keys import SigningKey  # noqa: PLC0415
    from coldseal.rekey import rekey  # noqa: PLC0415

    rec = Recorder()
    signing = [SigningKey.load(keys.signing)]
    with Kek.load(keys.kek) as kek:
        report = coldseal.seal(
            HELLO, tmp_path / "s", signing_keys=signing, kek=kek, on_event=rec.on_event
        )
    with (
        Kek.load(other_keys.kek) as wrong,
        Kek.load(keys.kek) as new,
        pytest.raises(coldseal.IntegrityError),
    ):
        rekey(
            tmp_path / "s",
            old_kek=wrong,
            new_kek=new,
            signing_keys=signing,
            on_event=rec.on_event,
            on_violation=rec.on_violation,
        )
    seal_event, rekey_event = rec.events
    assert (seal_event["action"], seal_event["result"]) == ("seal", "ok")
    assert seal_event["archive_id"] == report.archive_id
    assert seal_event["kek_id"] == report.kek_id
    assert (rekey_event["action"], rekey_event["result"]) == ("rekey", "integrity")
    assert rec.violations == [rekey_event]
