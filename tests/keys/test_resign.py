"""Signing-key rotation with ``rekey`` (no new KEK), and the trust check before any re-sign."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import HELLO, Keys, run_cli

from coldseal.format import canonical


def _seal(keys: Keys, out: Path) -> None:
    r = run_cli("seal", HELLO, out, "--signing-key", keys.signing, "--kek", keys.kek)
    assert r.code == 0, r.err


def _signers(sealed: Path) -> list[str]:
    envelope = json.loads((sealed / "manifest.json").read_bytes())
    return sorted(s["key_id"] for s in envelope["signatures"])


def _payload(sealed: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sealed.iterdir() if p.name != "manifest.json"}


def _verify(trust: Path, sealed: Path, kek: Path) -> int:
    return run_cli("verify", sealed, "--trust", trust, "--kek", kek).code


def test_signing_key_rotation(keys: Keys, other_keys: Keys, tmp_path: Path) -> None:
    sealed = tmp_path / "s"
    _seal(keys, sealed)
    payload = _payload(sealed)
    # Changeover: both keys sign; runtimes trusting either accept.
    r = run_cli("rekey", sealed, "--signing-key", keys.signing, "--signing-key", other_keys.signing)
    assert r.code == 0, r.err
    assert len(_signers(sealed)) == 2
    assert _verify(keys.public, sealed, keys.kek) == 0
    assert _verify(other_keys.public, sealed, keys.kek) == 0
    # Retire the old key: only the new one signs.
    r = run_cli("rekey", sealed, "--signing-key", other_keys.signing)
    assert r.code == 0, r.err
    assert len(_signers(sealed)) == 1
    assert _verify(keys.public, sealed, keys.kek) == 1
    assert _verify(other_keys.public, sealed, keys.kek) == 0
    assert payload == {
        p.name: p.read_bytes() for p in sealed.iterdir() if p.name != "manifest.json"
    }


def test_a_new_key_alone_needs_the_old_one_trusted(
    keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    sealed = tmp_path / "s"
    _seal(keys, sealed)
    before = (sealed / "manifest.json").read_bytes()
    r = run_cli("rekey", sealed, "--signing-key", other_keys.signing)
    assert r.code == 1
    assert "refusing to re-sign" in r.err
    assert (sealed / "manifest.json").read_bytes() == before
    r = run_cli("rekey", sealed, "--signing-key", other_keys.signing, "--trust", keys.public)
    assert r.code == 0, r.err
    assert _verify(other_keys.public, sealed, keys.kek) == 0


def test_an_edited_manifest_is_never_blessed_by_rekey(
    keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    sealed = tmp_path / "s"
    _seal(keys, sealed)
    envelope = json.loads((sealed / "manifest.json").read_bytes())
    envelope["manifest"]["version"] += 1  # a rollback-defeating edit by someone without the key
    (sealed / "manifest.json").write_bytes(canonical.encode(envelope))
    edited = (sealed / "manifest.json").read_bytes()
    for extra in ([], ["--kek", str(keys.kek), "--new-kek", str(other_keys.kek)]):
        r = run_cli("rekey", sealed, "--signing-key", keys.signing, *extra)
        assert r.code == 1, r.err
        assert (sealed / "manifest.json").read_bytes() == edited
    assert not [p for p in sealed.iterdir() if p.name.startswith(".")]


def test_new_kek_without_old_is_a_usage_error(keys: Keys, other_keys: Keys, tmp_path: Path) -> None:
    sealed = tmp_path / "s"
    _seal(keys, sealed)
    r = run_cli("rekey", sealed, "--new-kek", other_keys.kek, "--signing-key", keys.signing)
    assert r.code == 2
    assert "--kek" in r.err
