"""`verify --out` when the destination refuses a write part-way through.

A file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so write(2) fails
with EFBIG) makes one file of the archive unwritable after many others were
written: by the batched writer threads for small files, by the feeding
thread for large ones. The run must end with the storage exit code and one
clear line, and leave nothing behind: no destination, no temporary folder.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Keys, leftovers, run_cli

LIMIT = 1 << 20


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.parametrize(
    ("big_name", "big_size"),
    [("pkg/m/late.bin", 2 << 20), ("pkg/z/huge.bin", 9 << 20)],
    ids=["batched-small-file", "streamed-large-file"],
)
def test_a_refused_write_leaves_nothing_and_exits_3(
    tmp_path: Path, keys: Keys, big_name: str, big_size: int
) -> None:
    tree = tmp_path / "tree"
    for i in range(400):  # several writer batches before the failing file
        path = tree / "pkg" / chr(ord("a") + i % 20) / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n" * 50)
    (tree / big_name).parent.mkdir(parents=True, exist_ok=True)
    (tree / big_name).write_bytes(os.urandom(big_size))
    sealed = tmp_path / "sealed"
    sealing = run_cli("seal", tree, sealed, "--signing-key", keys.signing, "--kek", keys.kek)
    assert sealing.code == 0, sealing.err

    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "coldseal",
            "verify",
            str(sealed),
            "--trust",
            str(keys.public),
            "--kek",
            str(keys.kek),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_limit_file_size,  # the limit must apply before exec
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert Path(big_name).name in lines[0]
    assert "cannot write" in lines[0]
    assert "Traceback" not in result.stderr
    assert leftovers(out) == []

    # Without the limit the same archive extracts completely.
    done = run_cli("verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--out", out)
    assert done.code == 0, done.err
    assert (out / big_name).stat().st_size == big_size
    assert (out / "pkg" / "t" / "mod399.py").read_text() == "VALUE = 399\n" * 50
