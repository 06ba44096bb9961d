"""Measurement runners: each returns seconds (best of N rounds) or a child's figures.

In-process runners time the library calls a runtime makes (``verify``,
``open`` + ``read``, ``seal``) and their baselines on the same bytes: the
keyless verify (hash only), AES-GCM opens without BLAKE3 (decrypt only), a
naive one-thread Python pipeline (``cryptography`` + ``blake3`` + ``pyzstd``),
and the unverified status quo (one GET or read of a zip, then ``zipfile``
extraction). Cold figures come from fresh child interpreters: the import
time, peak RSS (``ru_maxrss`` of the child), runs pinned to fewer CPUs with
``os.sched_setaffinity``, and the breakdown of where cold-start time goes.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coldseal.errors import StorageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from coldseal._native import Secret
    from coldseal.keys import Kek, PublicKey

MIB = 1 << 20
NAIVE_LEAF_CONTEXT = "coldseal v1 chunk leaf"


class SkipError(Exception):
    """This figure cannot be measured here (a missing optional package, no S3)."""


def best_of(
    fn: Callable[[], object], rounds: int, setup: Callable[[], object] | None = None
) -> float:
    """The fastest of ``rounds`` timed calls after one untimed warm-up, in seconds.

    The fastest round is the one least disturbed by other tenants of a shared
    machine, for coldseal and its baselines alike.
    """
    best = float("inf")
    for i in range(rounds + 1):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        if i > 0 or rounds == 0:
            best = min(best, elapsed)
    return best


@dataclass
class Keys:
    """The benchmark keys, loaded once, and their files for child processes."""

    folder: Path
    public: PublicKey
    kek: Kek

    @classmethod
    def load(cls, folder: Path) -> Keys:
        """Load the public key and KEK from a keygen folder."""
        from coldseal.keys import Kek, PublicKey  # noqa: PLC0415

        return cls(folder, PublicKey.load(folder / "signing.pub"), Kek.load(folder / "data.kek"))


# ---- in-process runners --------------------------------------------------------


def verify_s(
    source: str, keys: Keys, threads: int, rounds: int, *, keyless: bool = False
) -> tuple[float, dict[str, Any]]:
    """Best time of a full verify (no extraction) of ``source``, and the best run's report."""
    from coldseal.verifier import verify  # noqa: PLC0415

    reports: list[tuple[float, dict[str, Any]]] = []

    def run() -> None:
        start = time.perf_counter()
        report = verify(
            source, trust=[keys.public], kek=None if keyless else keys.kek, threads=threads
        )
        reports.append((time.perf_counter() - start, report.to_json()))

    best = best_of(run, rounds)
    timed = reports[1:] or reports
    return best, min(timed, key=lambda r: r[0])[1]


def extract_s(source: str, keys: Keys, threads: int, rounds: int, scratch: Path) -> float:
    """Best time of ``verify --out`` (verify and extract every file) of ``source``."""
    from coldseal.verifier import verify  # noqa: PLC0415

    out = scratch / "extract"
    return best_of(
        lambda: verify(source, trust=[keys.public], kek=keys.kek, threads=threads, out=out),
        rounds,
        setup=lambda: shutil.rmtree(out, ignore_errors=True),
    )


def seal_s(
    tree: Path,
    folder: Path,
    threads: int,
    rounds: int,
    scratch: Path,
    *,
    chunk_size: int,
    level: int,
) -> tuple[float, int]:
    """Best time to seal ``tree``, and the sealed payload's size in bytes."""
    from coldseal.keys import Kek, SigningKey  # noqa: PLC0415
    from coldseal.sealer import seal  # noqa: PLC0415

    signer = SigningKey.load(folder / "signing.key")
    kek = Kek.load(folder / "data.kek")
    dest = scratch / "sealed"
    sizes: list[int] = []

    def run() -> None:
        report = seal(
            tree,
            dest,
            signing_keys=[signer],
            kek=kek,
            name="bench",
            version=1,
            chunk_size=chunk_size,
            level=level,
            threads=threads,
        )
        sizes.append(report.sealed_bytes)

    try:
        best = best_of(run, rounds, setup=lambda: shutil.rmtree(dest, ignore_errors=True))
    finally:
        kek.close()
        shutil.rmtree(dest, ignore_errors=True)
    return best, sizes[-1]


def lazy_first_byte_s(
    source: str, keys: Keys, rounds: int, path: str = "handler.py"
) -> tuple[float, dict[str, float]]:
    """Best time to open ``source`` lazily and read ``path`` whole, and that run's I/O."""
    from coldseal.reader import open_archive  # noqa: PLC0415

    runs: list[tuple[float, dict[str, float]]] = []

    def run() -> None:
        start = time.perf_counter()
        with open_archive(source, trust=[keys.public], kek=keys.kek) as archive:
            if not archive.read(path):
                raise StorageError(f"{source}: {path} read back empty")
            elapsed = time.perf_counter() - start
            stats = archive._storage.stats_json()  # noqa: SLF001 - the bench reads its own counters
        runs.append((elapsed, {**stats, "payload_bytes": archive.manifest.payload_size}))

    best = best_of(run, rounds)
    timed = runs[1:] or runs
    return best, min(timed, key=lambda r: r[0])[1]


def _layout(sealed: Path, keys: Keys) -> tuple[Any, list[tuple[int, int]], bytes, Secret]:
    from coldseal.storage.local import LocalStorage  # noqa: PLC0415
    from coldseal.verifier import load_layout, load_manifest, unwrap_dek  # noqa: PLC0415

    storage = LocalStorage(sealed)
    try:
        m = load_manifest(storage).manifest
        spans, leaves = load_layout(storage, m)
    finally:
        storage.close()
    return m, spans, leaves, unwrap_dek(keys.kek, m)


def decrypt_only_s(sealed: Path, keys: Keys, threads: int, rounds: int) -> float:
    """Best time to read and AES-GCM-open (and unzstd) every chunk, without BLAKE3."""
    from coldseal import _native  # noqa: PLC0415

    m, spans, _, dek = _layout(sealed, keys)
    # One AES context and one zstd context per worker: a context is used by one thread at a time.
    contexts = [(_native.AeadContext(dek), _native.ZstdContext()) for _ in range(threads)]
    dek.close()
    path = sealed / m.payload
    count = m.chunk_count

    def run() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:

            def worker(first: int) -> None:
                aead, zstd = contexts[first]
                scratch = bytearray(m.chunk_size + _native.TAG_LEN)
                for i in range(first, count, threads):
                    offset, length = spans[i]
                    body = os.pread(fd, length, offset)
                    plain_len = m.chunk_plain_len(i)
                    aad = m.archive_id + i.to_bytes(8, "little") + plain_len.to_bytes(8, "little")
                    opened = len(body) - _native.TAG_LEN
                    out = memoryview(scratch)[:opened]
                    aead.open_into(i.to_bytes(8, "little") + bytes(4), aad, body, out)
                    if opened != plain_len:
                        zstd.decompress(out, plain_len)

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(worker, range(threads)))
        finally:
            os.close(fd)

    return best_of(run, rounds)


def naive_python_s(sealed: Path, keys: Keys, rounds: int) -> float:
    """Best time of a naive one-thread Python verify (``blake3``, ``cryptography``, ``pyzstd``)."""
    try:
        import blake3  # noqa: PLC0415
        import pyzstd  # noqa: PLC0415
    except ImportError:
        raise SkipError(
            "naive Python pipeline needs the blake3 and pyzstd packages "
            "(pip install 'coldseal[bench]')"
        ) from None
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    m, spans, leaves, dek = _layout(sealed, keys)
    # The naive baseline holds the key as bytes, as a plain cryptography user would.
    aesgcm = AESGCM(bytes(dek.byte(i) for i in range(len(dek))))
    dek.close()
    path = sealed / m.payload

    def run() -> None:
        with path.open("rb") as f:
            for i, (offset, length) in enumerate(spans):
                f.seek(offset)
                body = f.read(length)
                leaf = blake3.blake3(
                    body + i.to_bytes(8, "little"), derive_key_context=NAIVE_LEAF_CONTEXT
                ).digest()
                if leaf != leaves[32 * i : 32 * i + 32]:
                    raise StorageError(f"naive pipeline: chunk {i} does not match its leaf")
                plain_len = m.chunk_plain_len(i)
                aad = m.archive_id + i.to_bytes(8, "little") + plain_len.to_bytes(8, "little")
                plain = aesgcm.decrypt(i.to_bytes(8, "little") + bytes(4), body, aad)
                if len(plain) != plain_len:
                    pyzstd.decompress(plain)

    return best_of(run, rounds)


def unzip_local_s(zipped: Path, rounds: int, scratch: Path) -> float:
    """Best time of the unverified status quo from disk: read the zip, extract every file."""
    out = scratch / "unzip"

    def run() -> None:
        with zipfile.ZipFile(io.BytesIO(zipped.read_bytes())) as z:
            z.extractall(out)

    return best_of(run, rounds, setup=lambda: shutil.rmtree(out, ignore_errors=True))


def unzip_s3_s(store: Any, name: str, rounds: int, scratch: Path) -> float:  # noqa: ANN401
    """Best time of the unverified status quo from S3: one GET of the zip, then extract."""
    import obstore  # noqa: PLC0415

    out = scratch / "unzip-s3"

    def run() -> None:
        data = obstore.get(store, name).bytes()
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            z.extractall(out)

    return best_of(run, rounds, setup=lambda: shutil.rmtree(out, ignore_errors=True))


def raw_gets_s(
    store: Any,  # noqa: ANN401 - obstore's S3Store
    name: str,
    size: int,
    rounds: int,
    *,
    concurrency: int = 8,
    request_size: int = 8 * MIB,
) -> float:
    """Best time of raw parallel ranged GETs of ``name`` (verify's client and concurrency)."""
    import obstore  # noqa: PLC0415

    ranges = [(o, min(o + request_size, size)) for o in range(0, size, request_size)]

    def fetch(r: tuple[int, int]) -> int:
        return len(obstore.get_range(store, name, start=r[0], end=r[1]))

    def run() -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            got = sum(pool.map(fetch, ranges))
        if got != size:
            raise StorageError(f"raw GETs returned {got} of {size} bytes")

    return best_of(run, rounds)


def small_get_s(store: Any, name: str, rounds: int) -> float:  # noqa: ANN401
    """Best latency of one 4 KiB ranged GET: the S3 round trip the lazy path pays."""
    import obstore  # noqa: PLC0415

    return best_of(lambda: obstore.get_range(store, name, start=0, end=4096), max(rounds, 3))


# ---- fresh child interpreters --------------------------------------------------

CHILD = r"""
import json, os, sys, time
spec = json.loads(sys.argv[1])
if spec.get("cpus"):
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: spec["cpus"]])
imports = {}
t = time.perf_counter()
import coldseal
imports["import coldseal"] = time.perf_counter() - t
t = time.perf_counter()
from coldseal import _native, reader, verifier
from coldseal.keys import Kek, PublicKey
if spec["source"].startswith("s3://"):
    import obstore
    from coldseal.storage import s3
imports["import verifier, crypto, core (+ S3 client)"] = time.perf_counter() - t
t = time.perf_counter()
pub = PublicKey.load(spec["trust"])
kek = Kek.load(spec["kek"])
imports["load keys"] = time.perf_counter() - t
rounds = []
for n in range(spec["rounds"]):
    t = time.perf_counter()
    if spec["op"] == "lazy":
        with reader.open_archive(spec["source"], trust=[pub], kek=kek) as a:
            opened = time.perf_counter()
            assert a.read("handler.py")
            now = time.perf_counter()
        rounds.append({"wall": now - t, "phases": {"open": opened - t, "read": now - opened}})
    else:
        out = None if spec["op"] == "verify" else os.path.join(spec["scratch"], f"out{n}")
        report = verifier.verify(
            spec["source"], trust=[pub], kek=kek, threads=spec["threads"], out=out
        )
        wall = time.perf_counter() - t
        rounds.append({"wall": wall, "phases": report.seconds, "threads": report.threads})
# Peak RSS of this process's own memory. Not ru_maxrss from wait4: Linux carries
# the parent's high-water mark over fork + exec into the child's figure.
with open("/proc/self/status") as status:
    hwm = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
print(json.dumps({"imports": imports, "rounds": rounds, "vm_hwm_kib": hwm}))
"""


@dataclass
class ChildResult:
    """What a child interpreter measured, and its peak RSS."""

    imports: dict[str, float]
    rounds: list[dict[str, Any]]
    peak_rss_mib: float

    @property
    def best_wall(self) -> float:
        """The fastest round after the first (which pays the cold imports), in seconds."""
        timed = self.rounds[1:] or self.rounds
        return float(min(r["wall"] for r in timed))


def run_child(
    op: str, source: str, keys: Keys, *, threads: int | None, rounds: int, cpus: int | None = None
) -> ChildResult:
    """Run ``op`` (verify, extract, lazy) on ``source`` ``rounds`` times in a fresh interpreter.

    ``cpus`` pins the child to that many of the CPUs this process may use
    (``os.sched_setaffinity``), as a small function is. Peak RSS is the
    child's own ``VmHWM`` (``/proc/self/status``), read by the child at its end.
    """
    with tempfile.TemporaryDirectory(prefix="coldseal-bench-") as scratch:
        spec = {
            "op": op,
            "source": source,
            "trust": str(keys.folder / "signing.pub"),
            "kek": str(keys.folder / "data.kek"),
            "threads": threads,
            "rounds": rounds,
            "cpus": cpus,
            "scratch": scratch,
        }
        with (Path(scratch) / "stderr").open("w+b") as err:
            result = subprocess.run(  # noqa: S603 - our own interpreter and script
                [sys.executable, "-c", CHILD, json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=err,
                check=False,
            )
            if result.returncode != 0:
                err.seek(0)
                lines = err.read().decode(errors="replace").strip().splitlines()
                raise StorageError(f"bench child ({op} {source}) failed: {(lines or ['?'])[-1]}")
    body = json.loads(result.stdout)
    return ChildResult(body["imports"], body["rounds"], body["vm_hwm_kib"] / 1024)


_IMPORTTIME = re.compile(r"\|\s+(\d+)\s+\|\s+coldseal$")


def import_ms(rounds: int) -> float:
    """``import coldseal`` in fresh interpreters: least cumulative ``-X importtime``, in ms."""
    samples = []
    for _ in range(rounds):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import coldseal"],
            capture_output=True,
            text=True,
            check=True,
        )
        found = [
            m.group(1) for line in result.stderr.splitlines() if (m := _IMPORTTIME.search(line))
        ]
        if not found:
            raise StorageError("python -X importtime printed no line for coldseal")
        samples.append(int(found[-1]))
    return min(samples) / 1000


def interpreter_start_ms(rounds: int) -> float:
    """The least wall time of ``python -c pass``: what every cold start pays before coldseal."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - start)
    return best * 1000
