"""Resource limits: what a hostile (even validly signed) archive can make verify spend.

Memory: the signed manifest fixes the chunk count, index size and chunk
size, and with them what verification must hold; ``coldseal.limits`` adds it
up before the payload is read, runs fewer threads to fit ``--max-memory``,
and refuses what cannot fit (exit 1). Coalesced reads of well-compressed
chunks cannot expand past one group's plaintext limit. Time: ``--deadline``
also stops a verify of a local folder (exit 3, nothing written).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import coldseal
from coldseal import _native, limits
from coldseal.errors import IntegrityError, StorageError
from coldseal.format import manifest as mf
from coldseal.keys import Kek, PublicKey, SigningKey
from coldseal.verifier import plan_groups
from tests.conftest import leftovers
from tests.hardening import corrupt_cases as cc


@pytest.fixture(scope="module")
def test_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cc.private_keys(tmp_path_factory.mktemp("limit-keys"))


def _golden() -> mf.Manifest:
    return mf.decode((cc.GOLDEN / mf.MANIFEST_FILE).read_bytes()).manifest


def _forge_huge(dest: Path, keys: Path, chunks: int) -> mf.Manifest:
    """A validly signed manifest for an archive of ``chunks`` 4 KiB chunks, payload sparse."""
    g = _golden()
    plain = chunks * g.chunk_size
    table = 17 * chunks
    tree = table + 8 * chunks
    m = replace(
        g,
        plain_size=plain,
        chunk_count=chunks,
        table_offset=table,
        tree_offset=tree,
        payload_size=tree + 32 * _native.merkle_tree_len(chunks),
        index_offset=plain - 100,
        index_size=100,
        index_sealed_offset=0,
    )
    signed = mf.sign(m, [SigningKey.load(keys / "signing.key")]).encode()
    mf.decode(signed)  # every field within the format's bounds
    dest.mkdir()
    (dest / mf.MANIFEST_FILE).write_bytes(signed)
    with (dest / m.payload).open("wb") as f:
        f.truncate(m.payload_size)
    return m


def _peak_rss_of_cli(
    args: list[str | Path],
) -> tuple[int, int, subprocess.CompletedProcess[str]]:
    """Run the CLI in a fresh interpreter; its peak RSS in KiB, exit code, and output."""
    probe = (
        "import resource, sys\n"
        "from coldseal._cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    peak_kib, code = map(int, r.stdout.split()[-2:])
    return peak_kib, code, r


def _baseline_kib() -> int:
    """Peak RSS of a CLI run that allocates nothing archive-sized (an inspect).

    Measured, not assumed: under the sanitize.sh run the child inherits ASan,
    whose shadow memory alone is over a gigabyte.
    """
    peak_kib, code, r = _peak_rss_of_cli(["inspect", cc.GOLDEN])
    assert code == 0, r.stderr
    return peak_kib


# What a refusal may cost beyond that baseline: parsing, imports of the
# verify path. An allocation of the archive's table and tree (~11 GiB) or a
# whole-file read of the trust state (4 GiB) would be far above it.
REFUSAL_SLACK_KIB = 150 << 10


def test_a_huge_signed_archive_is_refused_before_anything_is_allocated(
    tmp_path: Path, test_keys: Path
) -> None:
    # 2^27 chunks: the table and tree alone would be ~11 GiB in memory.
    m = _forge_huge(tmp_path / "huge", test_keys, 1 << 27)
    assert limits.layout_bytes(m) > 10 << 30
    args = [
        "verify",
        tmp_path / "huge",
        "--trust",
        test_keys / "signing.pub",
        "--kek",
        test_keys / "data.kek",
        "--out",
        tmp_path / "out",
    ]
    peak_kib, code, r = _peak_rss_of_cli(args)
    assert code == 1, r.stderr
    assert "needs about" in r.stderr
    assert "--max-memory" in r.stderr
    assert r.stderr.count("\n") == 1
    assert peak_kib < _baseline_kib() + REFUSAL_SLACK_KIB
    assert leftovers(tmp_path / "out") == []


def test_the_memory_limit_runs_fewer_threads_then_refuses(tmp_path: Path, test_keys: Path) -> None:
    pub, kek = PublicKey.load(test_keys / "signing.pub"), Kek.load(test_keys / "data.kek")
    m = _golden()
    fixed = limits.layout_bytes(m) + limits.index_bytes(m)
    local = {"request_size": 1 << 20, "io_workers": 0}
    two = fixed + limits.window_bytes(m, 2, **local)
    report = coldseal.verify(
        cc.GOLDEN, trust=[pub], kek=kek, threads=8, max_memory=two, out=tmp_path / "a"
    )
    assert report.threads == 2
    one = fixed + limits.window_bytes(m, 1, **local)
    report = coldseal.verify(cc.GOLDEN, trust=[pub], kek=kek, threads=8, max_memory=one)
    assert report.threads == 1
    with pytest.raises(IntegrityError, match="needs about"):
        coldseal.verify(cc.GOLDEN, trust=[pub], kek=kek, max_memory=one - 1, out=tmp_path / "b")
    assert leftovers(tmp_path / "b") == []
    with pytest.raises(IntegrityError, match="needs about"):
        coldseal.open(cc.GOLDEN, trust=[pub], kek=kek, max_memory=fixed // 2)


def test_cli_max_memory_option(tmp_path: Path, test_keys: Path) -> None:
    args = [
        "verify",
        cc.GOLDEN,
        "--trust",
        test_keys / "signing.pub",
        "--kek",
        test_keys / "data.kek",
        "--json",
    ]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coldseal",
            *map(str, args),
            "--max-memory",
            "64M",
            "--threads",
            "4",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["threads"] >= 1
    r = subprocess.run(
        [sys.executable, "-m", "coldseal", *map(str, args), "--max-memory", "1K"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 1
    assert "over the limit of 0 MiB (--max-memory)" in r.stderr


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20, 16 << 20])
def test_coalesced_reads_keep_a_bounded_amount_of_plaintext(chunk_size: int) -> None:
    # 10,000 chunks that each compressed to 40 sealed bytes: one 1 MiB read
    # would otherwise hold all of them, up to 160 GiB of plaintext.
    spans = [(40 * i, 40) for i in range(10_000)]
    request = 1 << 20
    limit = limits.group_plain_limit(request, chunk_size)
    groups = plan_groups(spans, range(10_000), request, plain=(chunk_size, limit))
    assert [i for g in groups for i in g] == list(range(10_000))
    assert all(len(g) * chunk_size <= max(limit, chunk_size) for g in groups)
    assert len(plan_groups(spans, range(10_000), request)) == 1  # sealed size alone


def test_deadline_stops_a_local_verify(tmp_path: Path, test_keys: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.bin").write_bytes(os.urandom(4 << 20))
    sealed = tmp_path / "sealed"
    key_args = ["--signing-key", test_keys / "signing.key", "--kek", test_keys / "data.kek"]
    subprocess.run(
        [sys.executable, "-m", "coldseal", "seal", src, sealed, *key_args, "--chunk-size", "4K"],
        check=True,
        capture_output=True,
    )
    pub, kek = PublicKey.load(test_keys / "signing.pub"), Kek.load(test_keys / "data.kek")
    with pytest.raises(StorageError, match="deadline exceeded"):
        coldseal.verify(
            sealed, trust=[pub], kek=kek, threads=1, deadline=1e-6, out=tmp_path / "out"
        )
    assert leftovers(tmp_path / "out") == []


def test_an_oversized_trust_state_file_is_refused_without_reading_it(
    tmp_path: Path, test_keys: Path
) -> None:
    state = tmp_path / "state.json"
    with state.open("wb") as f:
        f.truncate(4 << 30)  # sparse: reading it whole would take 4 GiB
    args = ["verify", cc.GOLDEN, "--trust", test_keys / "signing.pub", "--state", state]
    peak_kib, code, r = _peak_rss_of_cli(args)
    assert code == 2, r.stderr
    assert "trust state file is too large" in r.stderr
    assert peak_kib < _baseline_kib() + REFUSAL_SLACK_KIB
