"""coldseal.open: random reads return exactly the file bytes, tampering fails
only the reads that touch it, fetches stay within the bound, imports work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import HELLO, Keys, run_cli

import coldseal
from coldseal import reader as reader_module
from coldseal.errors import IntegrityError
from coldseal.keys import Kek, PublicKey
from coldseal.storage.local import LocalStorage

CHUNK = 4096


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("lazy") / "app"
    shutil.copytree(HELLO, src)
    (src / "big.bin").write_bytes(os.urandom(10 * CHUNK + 123))
    (src / "mid.txt").write_text("line %d\n" * 3000 % tuple(range(3000)))
    (src / "empty").write_bytes(b"")
    (src / "huge.bin").write_bytes(os.urandom(400_000))  # more than a pipe buffer holds
    return src


@pytest.fixture(scope="module")
def sealed(tree: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("lazy-sealed") / "s"
    r = run_cli(
        "seal",
        tree,
        dest,
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--chunk-size",
        "4K",
        "--name",
        "app",
    )
    assert r.code == 0, r.err
    return dest


def open_archive(sealed: Path, keys: Keys) -> coldseal.Archive:
    return coldseal.open(sealed, trust=[PublicKey.load(keys.public)], kek=Kek.load(keys.kek))


def test_list_stat_and_read_every_file(sealed: Path, tree: Path, keys: Keys) -> None:
    with open_archive(sealed, keys) as archive:
        files = [p for p in archive.namelist() if archive.is_file(p)]
        assert sorted(files) == sorted(
            p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()
        )
        for path in files:
            assert archive.read(path) == (tree / path).read_bytes()
            assert archive.stat(path).size == (tree / path).stat().st_size
        assert archive.is_dir("greetings/templates")
        assert archive.iterdir("greetings/templates") == [
            "greetings/templates/de.txt",
            "greetings/templates/en.txt",
            "greetings/templates/fr.txt",
        ]
        with pytest.raises(FileNotFoundError):
            archive.read("nope")


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_seeks_and_reads(sealed: Path, tree: Path, keys: Keys, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(["big.bin", "mid.txt", "handler.py", "empty"]))
    expected = (tree / path).read_bytes()
    with open_archive(sealed, keys) as archive, archive.open(path) as f:
        pos = 0
        for _ in range(data.draw(st.integers(1, 8))):
            whence = data.draw(st.sampled_from([0, 1, 2]))
            offset = data.draw(st.integers(-len(expected) - 5, len(expected) + 5))
            base = {0: 0, 1: pos, 2: len(expected)}[whence]
            if base + offset < 0:
                with pytest.raises(OSError, match="negative"):
                    f.seek(offset, whence)
                continue
            pos = f.seek(offset, whence)
            n = data.draw(st.integers(0, 3 * CHUNK))
            got = f.read(n)
            assert got == expected[pos : pos + n]
            pos += len(got)
            assert f.tell() == pos


def tamper_chunk(sealed: Path, dest: Path, chunk: int) -> Path:
    shutil.copytree(sealed, dest)
    payload = next(dest.glob("payload-*"))
    storage = LocalStorage(dest)
    from coldseal.verifier import load_layout, load_manifest  # noqa: PLC0415

    m = load_manifest(storage).manifest
    spans, _ = load_layout(storage, m)
    storage.close()
    raw = bytearray(payload.read_bytes())
    raw[spans[chunk][0] + 5] ^= 1
    payload.write_bytes(bytes(raw))
    return dest


def test_tampered_chunk_fails_only_reads_that_touch_it(
    sealed: Path, tree: Path, keys: Keys, tmp_path: Path
) -> None:
    with open_archive(sealed, keys) as archive:
        entry = archive._entries["big.bin"]
    bad_chunk = entry.offset // CHUNK + 3
    bad = tamper_chunk(sealed, tmp_path / "bad", bad_chunk)
    expected = (tree / "big.bin").read_bytes()
    with open_archive(bad, keys) as archive:
        for _ in range(2):  # a failure is never cached as success
            with pytest.raises(IntegrityError) as info:
                archive.read("big.bin")
            assert info.value.chunk == bad_chunk
            assert f"chunk {bad_chunk}" in str(info.value)
        # Reads elsewhere in the same file, and other files, still work.
        before = bad_chunk * CHUNK - entry.offset - 10
        with archive.open("big.bin") as f:
            assert f.read(before) == expected[:before]
        assert archive.read("handler.py") == (tree / "handler.py").read_bytes()


class CountingStorage(LocalStorage):
    calls: list[tuple[str, int, int]]

    def fetch(self, name: str, offset: int, length: int):  # type: ignore[no-untyped-def]
        data = super().fetch(name, offset, length)
        self.calls.append((name, offset, len(data)))
        return data


def test_reading_one_file_fetches_only_what_it_needs(
    sealed: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    CountingStorage.calls = []
    monkeypatch.setattr(reader_module, "open_storage", lambda source, **_: CountingStorage(source))
    with open_archive(sealed, keys) as archive:
        m = archive.manifest
        data = archive.read("handler.py")
        entry = archive._entries["handler.py"]
    calls = CountingStorage.calls
    # Round trips to the first verified byte: manifest, tail, the file's chunks.
    assert len(calls) == 3
    chunks = range(entry.offset // CHUNK, (entry.offset + entry.size - 1) // CHUNK + 1)
    file_bytes = sum(archive._spans[i][1] for i in chunks)
    assert calls[2][2] == file_bytes
    assert calls[1][2] == m.payload_size - m.index_sealed_offset
    fetched = sum(c[2] for c in calls)
    assert fetched < m.payload_size  # never the whole archive
    assert data


def test_many_threads_read_one_archive(sealed: Path, tree: Path, keys: Keys) -> None:
    files = ["big.bin", "mid.txt", "handler.py", "greetings/__init__.py"]
    expected = {p: (tree / p).read_bytes() for p in files}
    errors: list[BaseException] = []
    with open_archive(sealed, keys) as archive:
        archive._cache_limit = 3 * CHUNK  # force eviction and refetching

        def worker(seed: int) -> None:
            try:
                for k in range(30):
                    path = files[(seed + k) % len(files)]
                    assert archive.read(path) == expected[path]
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_cat_writes_the_file(sealed: Path, tree: Path, keys: Keys, tmp_path: Path) -> None:
    r = subprocess.run(
        [
            str(Path(sys.executable).with_name("coldseal")),
            "cat",
            str(sealed),
            "mid.txt",
            "--trust",
            str(keys.public),
            "--kek",
            str(keys.kek),
        ],
        capture_output=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == (tree / "mid.txt").read_bytes()
    bad = tamper_chunk(sealed, tmp_path / "bad", 0)
    r = subprocess.run(
        [
            str(Path(sys.executable).with_name("coldseal")),
            "cat",
            str(bad),
            "big.bin",
            "--trust",
            str(keys.public),
            "--kek",
            str(keys.kek),
        ],
        capture_output=True,
        check=False,
    )
    assert r.returncode == 1
    assert r.stderr.decode().startswith("coldseal: error: chunk 0")


IMPORT_SCRIPT = """
import sys, coldseal, coldseal.importer
archive = coldseal.open(sys.argv[1], trust=[coldseal.PublicKey.load(sys.argv[2])],
                        kek=coldseal.Kek.load(sys.argv[3]))
coldseal.importer.install(archive)
for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
    del sys.modules[name]
import rich, rich.text, rich.console
from importlib import resources
assert rich.__file__.startswith("coldseal://rich/"), rich.__file__
assert rich.__spec__.origin == rich.__file__
text = rich.text.Text("sealed")
print(text.plain, rich.__file__, resources.files("rich").joinpath("py.typed").is_file())
"""


@pytest.fixture(scope="module")
def sealed_rich(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import rich  # noqa: PLC0415

    src = tmp_path_factory.mktemp("rich-src")
    shutil.copytree(
        Path(rich.__file__).parent, src / "rich", ignore=shutil.ignore_patterns("__pycache__")
    )
    dest = tmp_path_factory.mktemp("rich-sealed") / "s"
    r = run_cli(
        "seal",
        src,
        dest,
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--name",
        "rich",
        "--chunk-size",
        "64K",
    )
    assert r.code == 0, r.err
    return dest


def test_importing_a_real_package_from_the_archive(sealed_rich: Path, keys: Keys) -> None:
    r = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, str(sealed_rich), str(keys.public), str(keys.kek)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sealed coldseal://rich/rich/__init__.py True")


def test_a_tampered_module_raises_on_import(sealed_rich: Path, keys: Keys, tmp_path: Path) -> None:
    with open_archive(sealed_rich, keys) as archive:
        entry = archive._entries["rich/text.py"]
    bad = tamper_chunk(sealed_rich, tmp_path / "bad", entry.offset // (64 << 10))
    r = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, str(bad), str(keys.public), str(keys.kek)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode != 0
    assert "IntegrityError" in r.stderr
    assert "failed verification" in r.stderr


def test_a_closed_pipe_is_not_an_error(sealed: Path, keys: Keys) -> None:
    # `coldseal cat ... | head -c 10`: the reader leaving early is not a failure.
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("coldseal")),
            "cat",
            str(sealed),
            "huge.bin",
            "--trust",
            str(keys.public),
            "--kek",
            str(keys.kek),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    _, err = proc.communicate()
    assert proc.returncode == 0
    assert err == b""
