"""Format-blind tampering: change any byte of any sealed file and verify
must fail with exit 1 (3 when a file is missing) and leave nothing behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import HELLO, Keys, leftovers, run_cli


@pytest.fixture(scope="module")
def sealed_multi(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    base = tmp_path_factory.mktemp("multi")
    src = base / "in"
    shutil.copytree(HELLO, src)
    (src / "blob.bin").write_bytes(os.urandom(20_000))
    (src / "text.py").write_text("def f():\n    return 42\n" * 900)
    sealed = base / "sealed"
    r = run_cli(
        "seal",
        src,
        sealed,
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--chunk-size",
        "4K",
        "--name",
        "multi",
    )
    assert r.code == 0, r.err
    assert len(list(sealed.iterdir())) == 2
    return sealed


def verify_out(sealed: Path, keys: Keys, out: Path) -> tuple[int, str]:
    r = run_cli("verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--out", out)
    return r.code, r.err


def test_untampered_archive_verifies(sealed_multi: Path, keys: Keys, tmp_path: Path) -> None:
    assert verify_out(sealed_multi, keys, tmp_path / "out")[0] == 0


mutations = st.sampled_from(["flip", "overwrite", "truncate", "extend"])


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["manifest", "payload"]), how=mutations, data=st.data())
def test_any_change_fails_closed(
    sealed_multi: Path,
    keys: Keys,
    tmp_path_factory: pytest.TempPathFactory,
    which: str,
    how: str,
    data: st.DataObject,
) -> None:
    work = tmp_path_factory.mktemp("tamper")
    sealed = work / "sealed"
    shutil.copytree(sealed_multi, sealed)
    target = next(p for p in sealed.iterdir() if p.name.startswith(which))
    raw = bytearray(target.read_bytes())
    pos = data.draw(st.integers(0, len(raw) - 1), label="position")
    if how == "flip":
        raw[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    elif how == "overwrite":
        new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]), label="byte")
        raw[pos] = new
    elif how == "truncate":
        del raw[pos:]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=64), label="extra")
    target.write_bytes(bytes(raw))
    code, err = verify_out(sealed, keys, work / "out")
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("coldseal: error: ")
    assert "Traceback" not in err
    assert leftovers(work / "out") == []


@pytest.mark.parametrize("which", ["manifest", "payload"])
def test_missing_file_is_a_storage_failure(
    sealed_multi: Path, keys: Keys, tmp_path: Path, which: str
) -> None:
    sealed = tmp_path / "sealed"
    shutil.copytree(sealed_multi, sealed)
    next(p for p in sealed.iterdir() if p.name.startswith(which)).unlink()
    code, err = verify_out(sealed, keys, tmp_path / "out")
    assert code == 3, err
    assert "missing" in err
    assert leftovers(tmp_path / "out") == []


def test_every_chunk_is_checked_without_the_kek(
    sealed_multi: Path, keys: Keys, tmp_path: Path
) -> None:
    sealed = tmp_path / "sealed"
    shutil.copytree(sealed_multi, sealed)
    payload = next(p for p in sealed.iterdir() if p.name.startswith("payload"))
    raw = bytearray(payload.read_bytes())
    raw[5] ^= 1  # inside chunk 0
    payload.write_bytes(bytes(raw))
    r = run_cli("verify", sealed, "--trust", keys.public)
    assert r.code == 1
    assert "chunk 0" in r.err
