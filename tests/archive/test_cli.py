"""The command-line contract: files keygen writes, exit codes, what inspect
shows (and never shows), and that the real console script runs."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import HELLO, Keys, run_cli, secret_bytes

from coldseal.keys import Kek

ROOT = Path(__file__).resolve().parents[2]


def test_keygen_writes_private_files_0600(tmp_path: Path) -> None:
    r = run_cli("keygen", tmp_path / "k")
    assert r.code == 0, r.err
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "k").iterdir()}
    assert modes["signing.key"] == 0o600
    assert modes["data.kek"] == 0o600
    assert set(modes) == {"signing.key", "signing.pub", "data.kek"}
    assert (tmp_path / "k" / "signing.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_keygen_never_overwrites(keys: Keys) -> None:
    before = keys.kek.read_bytes()
    r = run_cli("keygen", keys.dir)
    assert r.code == 2
    assert "refusing to overwrite" in r.err
    assert keys.kek.read_bytes() == before


def test_inspect_shows_public_fields_and_no_key_material(sealed_hello: Path, keys: Keys) -> None:
    r = run_cli("inspect", sealed_hello, "--json")
    assert r.code == 0, r.err
    fields = json.loads(r.out)
    assert fields["name"] == "hello_app"
    assert fields["version"] == 7
    assert "wrapped" not in fields["dek"]
    kek = Kek.load(keys.kek)
    secrets = [secret_bytes(kek._secret)]
    manifest = json.loads((sealed_hello / "manifest.json").read_bytes())
    wrapped = base64.b64decode(manifest["manifest"]["dek"]["wrapped"])
    secrets.append(
        secret_bytes(kek.unwrap(wrapped, bytes.fromhex(manifest["manifest"]["archive_id"])))
    )
    for command in (
        ["inspect", sealed_hello],
        ["inspect", sealed_hello, "--json"],
        ["verify", sealed_hello, "--trust", keys.public, "--kek", keys.kek, "--json"],
    ):
        result = run_cli(*command)
        text = result.out + result.err
        for secret in secrets:
            assert secret.hex() not in text
            assert base64.b64encode(secret).decode() not in text
    assert "Kek(key_id=" in repr(kek)
    assert secrets[0].hex() not in repr(kek)


def test_usage_errors_exit_2_with_one_line() -> None:
    for args in (
        ["verify"],
        ["seal", "a"],
        ["nosuchcommand"],
        ["seal", "a", "b", "--signing-key", "k", "--kek", "k", "--chunk-size", "lots"],
    ):
        r = run_cli(*args)
        assert r.code == 2, args
        assert r.err.startswith("coldseal: error: "), r.err
        assert r.err.count("\n") == 1


def test_chunk_size_out_of_range_is_a_usage_error(tmp_path: Path, keys: Keys) -> None:
    r = run_cli(
        "seal",
        HELLO,
        tmp_path / "s",
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--chunk-size",
        "1K",
    )
    assert r.code == 2
    assert "chunk size" in r.err


def test_missing_key_file_is_a_usage_error(tmp_path: Path, sealed_hello: Path) -> None:
    r = run_cli("verify", sealed_hello, "--trust", tmp_path / "nope.pub")
    assert r.code == 2
    assert "no such key file" in r.err


def test_missing_source_is_a_storage_error(tmp_path: Path, keys: Keys) -> None:
    r = run_cli("verify", tmp_path / "absent", "--trust", keys.public)
    assert r.code == 3
    assert "no such folder" in r.err


def test_console_script_runs(sealed_hello: Path, keys: Keys, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("coldseal")
    r = subprocess.run(
        [
            str(exe),
            "verify",
            str(sealed_hello),
            "--trust",
            str(keys.public),
            "--kek",
            str(keys.kek),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "handler.py").read_bytes() == (HELLO / "handler.py").read_bytes()
    r = subprocess.run(
        [sys.executable, "-m", "coldseal", "--version"], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0
    assert r.stdout.startswith("coldseal ")


def test_import_is_cheap() -> None:
    code = (
        "import sys, coldseal\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('cryptography', 'rich', 'pyzstd', 'boto3', 'botocore', 'obstore', '_cffi_backend')"
        " or m == 'coldseal._core' or m == 'typing']\n"
        "print(','.join(heavy))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert r.stdout.strip() == ""


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version(flag: str) -> None:
    assert run_cli(flag).code == 0
