"""What verification refuses even when every byte is authentic: rollbacks,
expired archives, mixed and spliced files, wrong names, keys and signers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from tests.conftest import HELLO, Keys, leftovers, run_cli


def seal(keys: Keys, dest: Path, *extra: str | Path, src: Path = HELLO) -> Path:
    r = run_cli(
        "seal",
        src,
        dest,
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--name",
        "app",
        "--chunk-size",
        "4K",
        *extra,
    )
    assert r.code == 0, r.err
    return dest


def verify(keys: Keys, sealed: Path, *extra: str | Path) -> tuple[int, str]:
    r = run_cli("verify", sealed, "--trust", keys.public, "--kek", keys.kek, *extra)
    return r.code, r.err


def payload(sealed: Path) -> Path:
    return next(sealed.glob("payload-*.bin"))


@pytest.fixture(scope="module")
def v1_v2(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("versions")
    return seal(keys, base / "v1", "--version", "1"), seal(keys, base / "v2", "--version", "2")


def test_min_version_refuses_rollback(v1_v2: tuple[Path, Path], keys: Keys) -> None:
    v1, v2 = v1_v2
    assert verify(keys, v2, "--min-version", "2")[0] == 0
    code, err = verify(keys, v1, "--min-version", "2")
    assert code == 1
    assert "rollback" in err


def test_state_file_never_goes_backwards(
    v1_v2: tuple[Path, Path], keys: Keys, tmp_path: Path
) -> None:
    v1, v2 = v1_v2
    state = tmp_path / "trust.json"
    assert verify(keys, v1, "--state", state)[0] == 0
    assert verify(keys, v2, "--state", state)[0] == 0
    assert json.loads(state.read_text())["archives"]["app"]["version"] == 2
    code, err = verify(keys, v1, "--state", state, "--out", tmp_path / "out")
    assert code == 1
    assert "rollback" in err
    assert leftovers(tmp_path / "out") == []
    assert json.loads(state.read_text())["archives"]["app"]["version"] == 2


def test_state_refuses_a_different_archive_with_the_same_version(
    tmp_path: Path, keys: Keys
) -> None:
    a = seal(keys, tmp_path / "a", "--version", "5")
    b = seal(keys, tmp_path / "b", "--version", "5")
    state = tmp_path / "trust.json"
    assert verify(keys, a, "--state", state)[0] == 0
    code, err = verify(keys, b, "--state", state)
    assert code == 1
    assert "different contents" in err


def test_a_failed_verify_does_not_advance_the_state(
    v1_v2: tuple[Path, Path], keys: Keys, tmp_path: Path
) -> None:
    v1, v2 = v1_v2
    state = tmp_path / "trust.json"
    assert verify(keys, v1, "--state", state)[0] == 0
    broken = tmp_path / "broken"
    shutil.copytree(v2, broken)
    raw = bytearray(payload(broken).read_bytes())
    raw[3] ^= 1
    payload(broken).write_bytes(bytes(raw))
    assert verify(keys, broken, "--state", state)[0] == 1
    assert json.loads(state.read_text())["archives"]["app"]["version"] == 1


def test_expired_archive_is_refused(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed = seal(keys, tmp_path / "s", "--expires-in", "1h")
    assert verify(keys, sealed)[0] == 0
    later = time.time() + 7200
    monkeypatch.setattr(time, "time", lambda: later)
    code, err = verify(keys, sealed)
    assert code == 1
    assert "expired" in err


def test_mixing_files_of_two_versions_is_refused(
    v1_v2: tuple[Path, Path], keys: Keys, tmp_path: Path
) -> None:
    v1, v2 = v1_v2
    mixed = tmp_path / "mixed"
    shutil.copytree(v1, mixed)
    # v2's payload under v1's name, beside v1's manifest.
    shutil.copy(payload(v2), payload(mixed))
    code, err = verify(keys, mixed, "--out", tmp_path / "out")
    assert code == 1, err
    assert leftovers(tmp_path / "out") == []


def test_splicing_chunks_between_identical_archives_is_refused(tmp_path: Path, keys: Keys) -> None:
    a = seal(keys, tmp_path / "a", "--version", "1")
    b = seal(keys, tmp_path / "b", "--version", "1")
    pa, pb = payload(a).read_bytes(), payload(b).read_bytes()
    assert len(pa) == len(pb)  # same content, same layout; only keys and ids differ
    spliced = tmp_path / "spliced"
    shutil.copytree(a, spliced)
    payload(spliced).write_bytes(pb[:100] + pa[100:])
    assert verify(keys, spliced)[0] == 1


def test_wrong_name_is_refused(v1_v2: tuple[Path, Path], keys: Keys) -> None:
    code, err = verify(keys, v1_v2[0], "--name", "other")
    assert code == 1
    assert "expected 'other'" in err
    assert verify(keys, v1_v2[0], "--name", "app")[0] == 0


def test_untrusted_signer_is_refused(
    v1_v2: tuple[Path, Path], keys: Keys, other_keys: Keys
) -> None:
    r = run_cli("verify", v1_v2[0], "--trust", other_keys.public, "--kek", keys.kek)
    assert r.code == 1
    assert "trusted" in r.err


def test_wrong_kek_is_refused(
    v1_v2: tuple[Path, Path], keys: Keys, other_keys: Keys, tmp_path: Path
) -> None:
    r = run_cli(
        "verify",
        v1_v2[0],
        "--trust",
        keys.public,
        "--kek",
        other_keys.kek,
        "--out",
        tmp_path / "out",
    )
    assert r.code == 1
    assert "KEK" in r.err
    assert leftovers(tmp_path / "out") == []


def test_k_of_n_signatures(tmp_path: Path, keys: Keys, other_keys: Keys) -> None:
    sealed = seal(keys, tmp_path / "s", "--signing-key", other_keys.signing)
    both = ["--trust", keys.public, "--trust", other_keys.public]
    assert run_cli("verify", sealed, *both, "--threshold", "2").code == 0
    r = run_cli("verify", sealed, "--trust", keys.public, "--threshold", "2")
    assert r.code == 1
    assert "2 required" in r.err
    single = seal(keys, tmp_path / "single")
    assert run_cli("verify", single, *both, "--threshold", "2").code == 1
