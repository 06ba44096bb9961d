"""The keyring provider: KEKs by id, CURRENT, rotation through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import HELLO, Keys, run_cli

from coldseal.errors import IntegrityError, UsageError
from coldseal.keyproviders import load_kek
from coldseal.keyproviders.keyring import Keyring
from coldseal.keys import Kek


def _ids(folder: Path) -> list[str]:
    return Keyring(folder).ids()


def _seal(keys: Keys, kek: str, out: Path) -> None:
    r = run_cli("seal", HELLO, out, "--signing-key", keys.signing, "--kek", kek, "--json")
    assert r.code == 0, r.err


def _verify(keys: Keys, kek: str, sealed: Path) -> int:
    return run_cli("verify", sealed, "--trust", keys.public, "--kek", kek).code


def test_rotation_through_a_keyring(keys: Keys, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    spec = f"keyring:{ring}"
    assert run_cli("keyring", "new", ring).code == 0
    (first,) = _ids(ring)
    _seal(keys, spec, tmp_path / "v1")
    # Rotate: a new KEK becomes current; the old archive still opens.
    assert run_cli("keyring", "new", ring).code == 0
    second = next(i for i in _ids(ring) if i != first)
    assert Keyring(ring).current_id() == second
    _seal(keys, spec, tmp_path / "v2")
    assert _verify(keys, spec, tmp_path / "v1") == 0
    assert _verify(keys, spec, tmp_path / "v2") == 0
    listing = run_cli("keyring", "list", ring).out.splitlines()
    assert sorted(listing) == sorted([first, f"{second}  current"])
    # Rewrap v1 under the current KEK, then retire the old one.
    assert (
        run_cli(
            "rekey",
            tmp_path / "v1",
            "--kek",
            spec,
            "--new-kek",
            spec,
            "--signing-key",
            keys.signing,
        ).code
        == 0
    )
    (ring / f"{first}.kek").unlink()
    assert _verify(keys, spec, tmp_path / "v1") == 0
    assert _verify(keys, spec, tmp_path / "v2") == 0


def test_an_archive_under_a_key_the_keyring_lacks_is_an_integrity_failure(
    keys: Keys, sealed_hello: Path, tmp_path: Path
) -> None:
    ring = tmp_path / "ring"
    assert run_cli("keyring", "new", ring).code == 0
    r = run_cli("verify", sealed_hello, "--trust", keys.public, "--kek", f"keyring:{ring}")
    assert r.code == 1
    assert "does not hold" in r.err


def test_keyring_add_and_use(keys: Keys, sealed_hello: Path, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    assert run_cli("keyring", "add", ring, keys.kek).code == 0
    with Kek.load(keys.kek) as kek:
        kid = kek.key_id
    assert _ids(ring) == [kid]
    assert Keyring(ring).current_id() == kid  # the only key needs no CURRENT
    assert _verify(keys, f"keyring:{ring}", sealed_hello) == 0
    assert run_cli("keyring", "new", ring, "--no-current").code == 0
    with pytest.raises(UsageError, match="no CURRENT"):
        Keyring(ring).current_id()
    assert run_cli("keyring", "use", ring, kid).code == 0
    assert Keyring(ring).current_id() == kid
    r = run_cli("keyring", "use", ring, "0123456789abcdef")
    assert r.code == 2
    assert "holds no KEK" in r.err


def test_a_misnamed_key_file_is_refused(tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    assert run_cli("keyring", "new", ring).code == 0
    (kid,) = _ids(ring)
    wrong = "f" * 16
    (ring / f"{kid}.kek").rename(ring / f"{wrong}.kek")
    with pytest.raises(UsageError, match="named by its id"):
        Keyring(ring).get(wrong)
    with pytest.raises(IntegrityError):
        Keyring(ring).get(kid)


def test_a_group_writable_keyring_is_refused(tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    assert run_cli("keyring", "new", ring).code == 0
    ring.chmod(0o770)
    r = run_cli("keyring", "list", ring)
    assert r.code == 2
    assert "writable by group or others" in r.err
    with pytest.raises(UsageError):
        load_kek(f"keyring:{ring}")


def test_keyring_files_are_private(tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    assert run_cli("keyring", "new", ring).code == 0
    assert ring.stat().st_mode & 0o777 == 0o700
    for entry in ring.iterdir():
        assert entry.stat().st_mode & 0o077 == 0, entry
    assert not [p for p in ring.iterdir() if p.name.startswith(".")]


def test_kek_spec_forms(keys: Keys) -> None:
    with load_kek(str(keys.kek)) as a, load_kek(f"file:{keys.kek}") as b:  # type: ignore[attr-defined]
        assert a.key_id == b.key_id
    for bad in ("", "kms:", "kms:not a key", "keyring:/nonexistent/ring"):
        with pytest.raises(UsageError):
            load_kek(bad)
