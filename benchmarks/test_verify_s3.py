"""Phase 4, full verify from S3 (a local SeaweedFS), timed next to its references.

* ``s3-extract``: ``verify --out`` of a real site-packages tree from S3 vs the
  unverified status quo, one GET of the same tree as a deflate zip plus
  ``zipfile`` extraction (<= 1.0x the time, aim <= 0.5x), into a folder on
  disk and into tmpfs.
* ``s3-pipeline``: bytes/s of verify's ranged, verifying pipeline vs raw
  parallel ranged GETs of the same payload with the same client and
  concurrency (>= 0.8x); the verify report's time split gives the idle share
  (<= 10 %). On loopback the server runs on the same two vCPUs as the
  verifier, so both runs are CPU-bound: each also records the CPU seconds
  the server and the client spent, which bound the ratio (raw CPU /
  pipeline CPU).
* ``s3-pipeline-shaped``: the same pair against a server in a network
  namespace behind a veth shaped to 1 Gbit/s (``_netns.py``), where the link
  and not the shared CPUs is the bottleneck, as between a Lambda and S3.
  Skipped where network namespaces cannot be made (not root).
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import obstore
import pytest

from benchmarks import _corpus, _netns
from benchmarks._corpus import MIB
from coldseal.bench import seaweed
from coldseal.bench.corpus import tree_bytes
from coldseal.keys import Kek, PublicKey
from coldseal.publisher import publish
from coldseal.storage.s3 import make_store
from coldseal.verifier import verify

ROUNDS = 3


@pytest.fixture(scope="module")
def trust() -> tuple[PublicKey, Kek]:
    k = _corpus.keys()
    return PublicKey.load(k / "signing.pub"), Kek.load(k / "data.kek")


@pytest.fixture(scope="module")
def tree_on_s3(s3, full_scale: bool) -> tuple[str, str, int]:
    tree = _corpus.code_tree(full_scale)
    sealed = _corpus.sealed(tree)
    publish(sealed, "s3://coldseal/bench/tree")
    zipped = _corpus.deflate_zip(tree)
    obstore.put(make_store("coldseal", "bench", None), "tree.zip", zipped.read_bytes())
    size = tree_bytes(tree)
    return "s3://coldseal/bench/tree", "tree.zip", size


# Where the extracted tree goes. "disk" is what a runtime does (its /tmp);
# on this shared VM disk, writeback throttling swung the same extraction
# between 3 s and 19 s, so "tmpfs" (/dev/shm) is measured too: it keeps the
# file-creation syscalls and drops the disk, leaving each side's own work.
DESTINATIONS = ["disk", "tmpfs"]


def _destination(kind: str, tmp_path_factory, name: str) -> Path:
    if kind == "disk":
        return tmp_path_factory.mktemp(name) / "out"
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm")
    folder = shm / f"coldseal-bench-{os.getpid()}-{name}"
    folder.mkdir(exist_ok=True)
    return folder / "out"


def _fresh(out: Path) -> Callable[[], None]:
    """Remove the previous round's tree and flush its writeback outside the timing."""

    def setup() -> None:
        shutil.rmtree(out, ignore_errors=True)
        os.sync()

    return setup


@pytest.mark.benchmark(group="s3-extract")
@pytest.mark.parametrize("dest", DESTINATIONS)
def test_s3_verify_out(
    benchmark, tree_on_s3, trust, tmp_path_factory, cores: int, dest: str
) -> None:
    url, _, size = tree_on_s3
    pub, kek = trust
    out = _destination(dest, tmp_path_factory, "v")
    benchmark.extra_info["bytes"] = size
    try:
        benchmark.pedantic(
            lambda: verify(url, trust=[pub], kek=kek, out=out, threads=cores),
            setup=_fresh(out),
            rounds=ROUNDS,
            iterations=1,
        )
    finally:
        shutil.rmtree(out.parent if dest == "tmpfs" else out, ignore_errors=True)


@pytest.mark.benchmark(group="s3-extract")
@pytest.mark.parametrize("dest", DESTINATIONS)
def test_s3_get_zip_and_extract(benchmark, tree_on_s3, tmp_path_factory, dest: str) -> None:
    _, zip_name, size = tree_on_s3
    out = _destination(dest, tmp_path_factory, "z")
    store = make_store("coldseal", "bench", None)

    def status_quo() -> None:
        data = obstore.get(store, zip_name).bytes()
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            z.extractall(out)

    benchmark.extra_info["bytes"] = size
    try:
        benchmark.pedantic(status_quo, setup=_fresh(out), rounds=ROUNDS, iterations=1)
    finally:
        shutil.rmtree(out.parent if dest == "tmpfs" else out, ignore_errors=True)


SHAPED_RATE = "1gbit"


def _server_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _CpuMeter:
    """CPU seconds of the server and of this process over each timed round."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.rounds: list[tuple[float, float, float]] = []  # wall, server, client

    def measure(self, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            s0, c0, t0 = _server_cpu(self.pid), _client_cpu(), time.perf_counter()
            fn()
            self.rounds.append(
                (time.perf_counter() - t0, _server_cpu(self.pid) - s0, _client_cpu() - c0)
            )

        return run

    def record(self, info: dict[str, Any], prefix: str) -> None:
        wall, server, client = min(self.rounds)
        info[f"{prefix}_wall_seconds"] = wall
        info[f"{prefix}_server_cpu_seconds"] = server
        info[f"{prefix}_client_cpu_seconds"] = client


def _published_random(endpoint: str | None, prefix: str, full_scale: bool) -> tuple[str, str, int]:
    sealed = _corpus.sealed(_corpus.random_tree((256 if full_scale else 16) * MIB))
    url = f"s3://coldseal/{prefix}"
    publish(sealed, url, endpoint_url=endpoint)
    payload = next(sealed.glob("payload-*"))
    return url, payload.name, payload.stat().st_size


def _pipeline(benchmark, server, url: str, size: int, trust, cores: int, tag: str) -> None:
    pub, kek = trust
    reports = []
    meter = _CpuMeter(server.process.pid)

    def run() -> None:
        reports.append(
            verify(url, trust=[pub], kek=kek, threads=cores, endpoint_url=server.endpoint)
        )

    benchmark.extra_info["bytes"] = size
    benchmark.pedantic(meter.measure(run), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    best = min(reports[1:] or reports, key=lambda r: sum(r.seconds.values()))
    io_ = best.io
    benchmark.extra_info.update(
        {
            f"{tag}_requests": io_["requests"],
            f"{tag}_idle_share": io_["idle_share"],
            f"{tag}_network_busy_share": io_["network_busy_seconds"] / io_["chunk_phase_seconds"],
            f"{tag}_cpu_busy_share": io_["cpu_busy_seconds"] / io_["chunk_phase_seconds"],
        }
    )
    meter.record(benchmark.extra_info, f"{tag}_pipeline")


def _raw(benchmark, server, prefix: str, payload: str, size: int, tag: str) -> None:
    store = make_store("coldseal", prefix, server.endpoint)
    step = 8 * MIB
    ranges = [(o, min(o + step, size)) for o in range(0, size, step)]
    meter = _CpuMeter(server.process.pid)

    def fetch(r: tuple[int, int]) -> int:
        return len(obstore.get_range(store, payload, start=r[0], end=r[1]))

    def run() -> None:
        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(fetch, ranges)) == size

    benchmark.extra_info["bytes"] = size
    benchmark.pedantic(meter.measure(run), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    meter.record(benchmark.extra_info, f"{tag}_raw")


@pytest.fixture(scope="module")
def random_on_s3(s3, full_scale: bool) -> tuple[str, str, int]:
    return _published_random(s3.endpoint, "bench/random", full_scale)


@pytest.mark.benchmark(group="s3-pipeline")
def test_s3_verify_pipeline(benchmark, s3, random_on_s3, trust, cores: int) -> None:
    url, _, size = random_on_s3
    _pipeline(benchmark, s3, url, size, trust, cores, "s3")


@pytest.mark.benchmark(group="s3-pipeline")
def test_s3_raw_parallel_gets(benchmark, s3, random_on_s3) -> None:
    _, payload, size = random_on_s3
    _raw(benchmark, s3, "bench/random", payload, size, "s3")


@pytest.fixture(scope="module")
def shaped_s3() -> Iterator[seaweed.S3Server]:
    why = _netns.available()
    if why is not None:
        pytest.skip(f"no shaped link here: {why}")
    with _netns.shaped_link(SHAPED_RATE) as link:
        server = seaweed.start(ip=link.server_ip, wrap=link.command())
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def random_on_shaped(shaped_s3, full_scale: bool) -> tuple[str, str, int]:
    return _published_random(shaped_s3.endpoint, "bench/shaped", full_scale)


@pytest.mark.benchmark(group="s3-pipeline-shaped")
def test_shaped_verify_pipeline(benchmark, shaped_s3, random_on_shaped, trust, cores: int) -> None:
    url, _, size = random_on_shaped
    _pipeline(benchmark, shaped_s3, url, size, trust, cores, "shaped")


@pytest.mark.benchmark(group="s3-pipeline-shaped")
def test_shaped_raw_parallel_gets(benchmark, shaped_s3, random_on_shaped) -> None:
    _, payload, size = random_on_shaped
    _raw(benchmark, shaped_s3, "bench/shaped", payload, size, "shaped")
