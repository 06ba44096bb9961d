"""Hostile inputs: unsafe trees are refused at seal time with exit 2, and
hostile archives (even validly signed ones) fail verification with exit 1 —
always one clear line, never a traceback, never a partial output."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
import pyzstd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.conftest import HELLO, Keys, leftovers, run_cli

from coldseal import _native
from coldseal.format import canonical, tail
from coldseal.format import manifest as mf
from coldseal.keys import Kek, SigningKey


def assert_one_line(err: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith("coldseal: error: ")
    assert "Traceback" not in err


def seal_result(keys: Keys, src: Path, dest: Path) -> tuple[int, str]:
    r = run_cli("seal", src, dest, "--signing-key", keys.signing, "--kek", keys.kek, "--name", "x")
    return r.code, r.err


def make_zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([("../evil.py", b"x", 0o100644)], "'..'"),
        (([("a/../../evil.py", b"x", 0o100644)]), "'..'"),
        ([("/etc/cron.d/x", b"x", 0o100644)], "absolute"),
        ([("link", b"../../etc/passwd", 0o120777)], "outside"),
        ([("link", b"/etc/passwd", 0o120777)], "absolute"),
        ([("fifo", b"", 0o010644)], "devices"),
        ([("a.py", b"1", 0o100644), ("a.py", b"2", 0o100644)], "duplicate"),
        ([("a", b"1", 0o100644), ("a/b", b"2", 0o100644)], "not a folder"),
    ],
)
def test_unsafe_zip_entries_are_refused(
    tmp_path: Path, keys: Keys, entries: list[tuple[str, bytes, int]], reason: str
) -> None:
    with pytest.warns(UserWarning, match="Duplicate name") if "duplicate" in reason else _nothing():
        src = make_zip(tmp_path / "in.zip", entries)
    code, err = seal_result(keys, src, tmp_path / "sealed")
    assert code == 2, err
    assert reason in err
    assert_one_line(err)
    assert leftovers(tmp_path / "sealed") == []


class _nothing:  # noqa: N801 - a stand-in context manager
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_escaping_symlink_in_folder_is_refused(tmp_path: Path, keys: Keys) -> None:
    src = tmp_path / "in"
    shutil.copytree(HELLO, src)
    (src / "greetings" / "leak").symlink_to("../../../etc/passwd")
    code, err = seal_result(keys, src, tmp_path / "sealed")
    assert code == 2
    assert "outside" in err
    assert_one_line(err)
    assert leftovers(tmp_path / "sealed") == []


def test_fifo_in_folder_is_refused(tmp_path: Path, keys: Keys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    os.mkfifo(src / "pipe")
    code, err = seal_result(keys, src, tmp_path / "sealed")
    assert code == 2
    assert "fifos" in err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", os.urandom(3000)])
def test_corrupt_zip_is_refused(tmp_path: Path, keys: Keys, content: bytes) -> None:
    src = tmp_path / "bad.zip"
    src.write_bytes(content)
    code, err = seal_result(keys, src, tmp_path / "sealed")
    assert code == 2
    assert "zip" in err
    assert_one_line(err)


def test_missing_input_is_refused(tmp_path: Path, keys: Keys) -> None:
    code, err = seal_result(keys, tmp_path / "nope", tmp_path / "sealed")
    assert code == 2
    assert "no such file" in err


def test_sealed_folder_that_exists_is_refused(tmp_path: Path, keys: Keys) -> None:
    (tmp_path / "sealed").mkdir()
    (tmp_path / "sealed" / "keep").write_text("mine")
    code, err = seal_result(keys, HELLO, tmp_path / "sealed")
    assert code == 2
    assert "not empty" in err
    assert (tmp_path / "sealed" / "keep").read_text() == "mine"


def forge_archive(dest: Path, keys: Keys, bodies: list[tuple[bytes, int]], index: bytes) -> Path:
    """A correctly signed archive whose chunk bodies are whatever the signer chose.

    This is what a publisher with the signing key (or a buggy sealer) could
    produce; verification must still bound and refuse it.
    """
    kek, signer = Kek.load(keys.kek), SigningKey.load(keys.signing)
    archive_id, dek = os.urandom(16), os.urandom(32)
    aead = _native.AeadContext(dek)
    chunk = 4096
    sealed_chunks, leaves = [], b""
    plain_lens = [n for _, n in bodies]
    for i, (body, plain_len) in enumerate(bodies):
        aad = archive_id + i.to_bytes(8, "little") + plain_len.to_bytes(8, "little")
        sealed = aead.seal(i.to_bytes(8, "little") + bytes(4), aad, body)
        sealed_chunks.append(sealed)
        leaves += _native.merkle_leaf(i, sealed)
    ends, offset = [], 0
    for s in sealed_chunks:
        offset += len(s)
        ends.append(offset)
    table = tail.encode_table(ends)
    tree = _native.merkle_tree(leaves)
    plain_size = sum(plain_lens)
    manifest = mf.Manifest(
        name="x",
        archive_id=archive_id,
        version=1,
        created=1,
        expires=None,
        plain_size=plain_size,
        chunk_size=chunk,
        chunk_count=len(bodies),
        payload_size=offset + len(table) + len(tree),
        table_offset=offset,
        tree_offset=offset + len(table),
        table_hash=tail.table_hash(table),
        index_offset=plain_size - len(index),
        index_size=len(index),
        index_sealed_offset=ends[-2] if len(ends) > 1 else 0,
        merkle_root=_native.merkle_root(leaves),
        dek=mf.WrappedDek(mf.DEK_SCHEME_LOCAL, kek.key_id, kek.wrap(dek, archive_id)),
    )
    dest.mkdir()
    (dest / manifest.payload).write_bytes(b"".join(sealed_chunks) + table + tree)
    (dest / mf.MANIFEST_FILE).write_bytes(mf.sign(manifest, [signer]).encode())
    return dest


def test_zstd_bomb_chunk_is_refused(tmp_path: Path, keys: Keys) -> None:
    from coldseal.format import index as ix  # noqa: PLC0415

    index = ix.encode([ix.Entry("big", 1, 0o644, 0, 4096)])
    bomb = pyzstd.compress(b"\x00" * (64 << 20))  # 64 MiB claimed to fit in 4 KiB
    sealed = forge_archive(tmp_path / "s", keys, [(bomb, 4096), (index, len(index))], index)
    r = run_cli(
        "verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--out", tmp_path / "out"
    )
    assert r.code == 1, r.err
    assert "chunk 0" in r.err
    assert_one_line(r.err)
    assert leftovers(tmp_path / "out") == []


def test_signed_index_with_traversal_is_refused(tmp_path: Path, keys: Keys) -> None:
    from coldseal.format import index as ix  # noqa: PLC0415

    # Build the index bytes by hand: the encoder itself would not check.
    index = ix.encode([ix.Entry("../escape.py", 1, 0o644, 0, 5)])
    body = b"evil\n"
    sealed = forge_archive(tmp_path / "s", keys, [(body + index, len(body) + len(index))], index)
    r = run_cli(
        "verify", sealed, "--trust", keys.public, "--kek", keys.kek, "--out", tmp_path / "out"
    )
    assert r.code == 1, r.err
    assert "unsafe entry" in r.err
    assert not (tmp_path / "escape.py").exists()
    assert leftovers(tmp_path / "out") == []


@pytest.fixture(scope="module")
def manifest_bytes(sealed_hello: Path) -> bytes:
    return (sealed_hello / "manifest.json").read_bytes()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_manifests_fail_with_one_line(
    sealed_hello: Path,
    keys: Keys,
    manifest_bytes: bytes,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    work = tmp_path_factory.mktemp("fuzz") / "s"
    shutil.copytree(sealed_hello, work)
    envelope = json.loads(manifest_bytes)
    choice = data.draw(st.sampled_from(["bytes", "field", "signature"]))
    if choice == "bytes":
        raw = data.draw(st.binary(max_size=600))
    elif choice == "field":
        field = data.draw(st.sampled_from(sorted(envelope["manifest"])))
        envelope["manifest"][field] = data.draw(
            st.none() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=30) | st.booleans()
        )
        raw = canonical.encode(envelope)
    else:
        envelope["signatures"][0]["signature"] = data.draw(st.text(max_size=100))
        raw = canonical.encode(envelope)
    assume(raw != manifest_bytes)  # a "mutation" that changed nothing must verify
    (work / "manifest.json").write_bytes(raw)
    r = run_cli("verify", work, "--trust", keys.public, "--kek", keys.kek)
    assert r.code in (1, 2), r.err
    assert_one_line(r.err)


def test_key_file_with_loose_permissions_is_refused(tmp_path: Path, keys: Keys) -> None:
    loose = tmp_path / "data.kek"
    shutil.copy(keys.kek, loose)
    loose.chmod(0o644)
    r = run_cli("seal", HELLO, tmp_path / "s", "--signing-key", keys.signing, "--kek", loose)
    assert r.code == 2
    assert f"chmod 600 {loose}" in r.err
    assert_one_line(r.err)
    assert stat.S_IMODE(keys.kek.stat().st_mode) == 0o600
