"""Seal then verify gives back exactly the input tree: bytes, modes, links."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import HELLO, Keys, run_cli

import coldseal
from coldseal.keys import Kek, PublicKey, SigningKey

CHUNK = 4096
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 1, 5 * CHUNK - 17]

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=10,
).filter(lambda n: n not in (".", ".."))


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every path under root: kind, permission bits, bytes or link target."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            st_ = full.lstat()
            if stat.S_ISLNK(st_.st_mode):
                result[rel] = ("link", 0, os.readlink(full).encode())
            elif stat.S_ISDIR(st_.st_mode):
                result[rel] = ("dir", stat.S_IMODE(st_.st_mode), b"")
            else:
                result[rel] = ("file", stat.S_IMODE(st_.st_mode), full.read_bytes())
    return result


@st.composite
def file_trees(draw: st.DrawFn) -> dict[str, tuple[int, bytes]]:
    count = draw(st.integers(0, 12))
    tree: dict[str, tuple[int, bytes]] = {}
    for _ in range(count):
        parts = draw(st.lists(names, min_size=1, max_size=4))
        path = "/".join(parts)
        if any(p == path or p.startswith(path + "/") or path.startswith(p + "/") for p in tree):
            continue
        size = draw(st.sampled_from(SIZES) | st.integers(0, 3 * CHUNK))
        content = draw(st.sampled_from([b"a", b"\x00\xff", b"import os\n"])) * size
        tree[path] = (draw(st.sampled_from([0o644, 0o755, 0o600, 0o400])), content[:size])
    return tree


def write_tree(root: Path, tree: dict[str, tuple[int, bytes]]) -> None:
    root.mkdir(parents=True)
    for path, (mode, content) in tree.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(content)
        full.chmod(mode)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=file_trees(), chunk=st.sampled_from([4096, 8192, 65536]), level=st.integers(1, 12))
def test_random_trees_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    keys: Keys,
    tree: dict[str, tuple[int, bytes]],
    chunk: int,
    level: int,
) -> None:
    base = tmp_path_factory.mktemp("rt")
    write_tree(base / "in", tree)
    signing, kek, pub = (
        SigningKey.load(keys.signing),
        Kek.load(keys.kek),
        PublicKey.load(keys.public),
    )
    sealed = coldseal.seal(
        base / "in",
        base / "sealed",
        signing_keys=[signing],
        kek=kek,
        name="t",
        chunk_size=chunk,
        level=level,
    )
    report = coldseal.verify(base / "sealed", trust=[pub], kek=kek, out=base / "out")
    assert report.files == len(tree) == sealed.files
    assert snapshot(base / "out") == snapshot(base / "in")


def test_unbalanced_tree_and_boundaries(tmp_path: Path, keys: Keys) -> None:
    # 11 chunks: a Merkle tree whose right side is ragged.
    tree = {f"f{i}": (0o644, os.urandom(size)) for i, size in enumerate(SIZES)}
    tree["deep/" + "/".join(["ü"] * 40) + "/leaf.py"] = (0o755, b"print(1)\n")
    tree["empty/dir/file"] = (0o600, b"")
    write_tree(tmp_path / "in", tree)
    (tmp_path / "in" / "link").symlink_to("f1")
    (tmp_path / "in" / "deep" / "up").symlink_to("../f2")
    (tmp_path / "in" / "emptydir").mkdir(mode=0o700)
    r = run_cli(
        "seal",
        tmp_path / "in",
        tmp_path / "s",
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--chunk-size",
        "4K",
        "--name",
        "edge",
    )
    assert r.code == 0, r.err
    r = run_cli(
        "verify",
        tmp_path / "s",
        "--trust",
        keys.public,
        "--kek",
        keys.kek,
        "--out",
        tmp_path / "out",
    )
    assert r.code == 0, r.err
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "in")


def test_zip_input_round_trips(tmp_path: Path, keys: Keys) -> None:
    zpath = tmp_path / "app.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(HELLO.rglob("*")):
            z.write(path, path.relative_to(HELLO).as_posix())
    r = run_cli("seal", zpath, tmp_path / "s", "--signing-key", keys.signing, "--kek", keys.kek)
    assert r.code == 0, r.err
    assert "sealed app version" in r.out
    r = run_cli(
        "verify",
        tmp_path / "s",
        "--trust",
        keys.public,
        "--kek",
        keys.kek,
        "--out",
        tmp_path / "out",
        "--name",
        "app",
    )
    assert r.code == 0, r.err
    for path in HELLO.rglob("*"):
        if path.is_file():
            assert (tmp_path / "out" / path.relative_to(HELLO)).read_bytes() == path.read_bytes()


def test_empty_folder_round_trips(tmp_path: Path, keys: Keys) -> None:
    (tmp_path / "in").mkdir()
    assert (
        run_cli(
            "seal",
            tmp_path / "in",
            tmp_path / "s",
            "--signing-key",
            keys.signing,
            "--kek",
            keys.kek,
            "--name",
            "empty",
        ).code
        == 0
    )
    r = run_cli(
        "verify",
        tmp_path / "s",
        "--trust",
        keys.public,
        "--kek",
        keys.kek,
        "--out",
        tmp_path / "out",
    )
    assert r.code == 0, r.err
    assert list((tmp_path / "out").iterdir()) == []


def test_keyless_verify_checks_every_chunk(sealed_hello: Path, keys: Keys) -> None:
    r = run_cli("verify", sealed_hello, "--trust", keys.public, "--json")
    assert r.code == 0, r.err
    assert '"decrypted": false' in r.out
