"""Print the ratios the issues target from one pytest-benchmark JSON run.

Every ratio divides two figures measured side by side in the same session,
because absolute times drift on a shared machine. Throughput is computed
from each benchmark's fastest round (``stats.min``): the round least
disturbed by other tenants, for ours and the reference alike.

Usage: python benchmarks/compare.py reports/bench.json [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def throughputs(run: dict[str, Any]) -> dict[str, float]:
    """Bytes per second of every benchmark that records ``bytes``, by test name."""
    rates = {}
    for bench in run["benchmarks"]:
        nbytes = bench.get("extra_info", {}).get("bytes")
        if nbytes:
            rates[bench["name"]] = nbytes / bench["stats"]["min"]
    return rates


def ratios(rates: dict[str, float], cores: int) -> list[tuple[str, float, str, float]]:
    """(what, measured ratio, comparison, target) for every target whose inputs ran."""
    rows = []

    def add(what: str, num: float | None, den: float | None, op: str, target: float) -> None:
        if num and den:
            rows.append((what, num / den, op, target))

    r = rates.get
    add(
        "C BLAKE3 vs blake3 package, 1 thread, 64 MiB",
        r("test_blake3_coldseal"),
        r("test_blake3_reference"),
        ">=",
        1.0,
    )
    add(
        "core AES-GCM open vs bare EVP loop",
        r("test_aes_open_coldseal"),
        r("test_aes_open_bare_evp"),
        ">=",
        0.95,
    )
    aes, b3 = r("test_aes_open_bare_evp"), r("test_blake3_coldseal")
    limit = cores / (1 / aes + 1 / b3) if aes and b3 else None
    add(
        f"cs_open_chunk x{cores} cores (Python threads) vs L",
        r("test_open_chunks_python_threads"),
        limit,
        ">=",
        0.90,
    )
    add(
        f"cs_open_chunk x{cores} cores (C pthread pool) vs L",
        r("test_open_chunks_c_pool"),
        limit,
        ">=",
        0.90,
    )
    add(
        f"cs_open_chunk x{cores} cores (Python threads) vs naive Python loop",
        r("test_open_chunks_python_threads"),
        r("test_open_chunks_naive_python"),
        ">=",
        2.5,
    )
    add(
        "Python threads vs C pthread pool (same work)",
        r("test_open_chunks_python_threads"),
        r("test_open_chunks_c_pool"),
        "info",
        0.0,
    )
    add(f"verify (no --out) x{cores} cores vs L", r("test_verify_all_cores"), limit, ">=", 0.85)
    add(
        "verify vs naive Python verify (1 thread)",
        r("test_verify_all_cores"),
        r("test_verify_naive_python"),
        ">=",
        2.5,
    )
    # Time ratios are inverse throughput ratios over the same tree.
    add(
        "verify --out time / unzip time (<= 1.0)",
        r("test_extract_tree_unzip"),
        r("test_extract_tree_coldseal_cli"),
        "<=",
        1.0,
    )
    add(
        "seal vs zstd -3 (same bytes, same threads)",
        r("test_seal_tree_coldseal"),
        r("test_seal_tree_zstd"),
        ">=",
        0.8,
    )
    return rows


def extras(run: dict[str, Any]) -> dict[str, Any]:
    """Every benchmark's extra_info merged (import time, peak RSS, ...)."""
    merged: dict[str, Any] = {}
    for bench in run["benchmarks"]:
        merged.update(bench.get("extra_info", {}))
    return merged


def scrub_rows(run: dict[str, Any]) -> list[tuple[str, float, str, float]]:
    """Scrub figures (benchmarks/test_scrub.py): archives/s, GB/s, scaling, overhead share."""
    info = {
        b["name"]: {**b.get("extra_info", {}), "min": b["stats"]["min"]}
        for b in run["benchmarks"]
        if b["name"].startswith("test_scrub_")
    }
    rows: list[tuple[str, float, str, float]] = []
    for name, x in sorted(info.items()):
        label = name.removeprefix("test_scrub_").replace("_", " ")
        rows.append((f"scrub {label}: archives/s", x["archives"] / x["min"], "value", 0.0))
        rows.append((f"scrub {label}: GB/s", x["bytes"] / x["min"] / 1e9, "value", 0.0))
        busy = x["wall_seconds"] * x["workers"]
        rows.append(
            (
                f"scrub {label}: share of worker time not verifying",
                1 - x["verify_seconds"] / busy,
                "value",
                0.0,
            )
        )

    def ratio(what: str, num: str, den: str) -> None:
        if num in info and den in info:
            rows.append((what, info[den]["min"] / info[num]["min"], "info", 0.0))

    ratio(
        "scrub local: 2 workers / 1 worker (speed-up)",
        "test_scrub_local_2_workers",
        "test_scrub_local_1_worker",
    )
    ratio(
        "scrub dask: 2 workers / 1 worker (speed-up)",
        "test_scrub_dask_2_workers",
        "test_scrub_dask_1_worker",
    )
    ratio(
        "scrub 2 workers: dask / local (speed)",
        "test_scrub_dask_2_workers",
        "test_scrub_local_2_workers",
    )
    ratio(
        "scrub 2 local workers: keyless / decrypting (speed)",
        "test_scrub_keyless_local_2_workers",
        "test_scrub_local_2_workers",
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--json", type=Path, help="also write the ratios here")
    args = parser.parse_args(argv)
    run = json.loads(args.run.read_text())
    cores = max((b.get("extra_info", {}).get("threads", 1) for b in run["benchmarks"]), default=1)
    rates = throughputs(run)
    print(f"{'benchmark':45} {'MiB/s':>10}")
    for name, rate in sorted(rates.items()):
        print(f"{name:45} {rate / (1 << 20):10.0f}")
    print()
    missed = 0
    rows = ratios(rates, cores)
    info = extras(run)
    if "import_us_min" in info:
        rows.append(
            ("import coldseal, cumulative ms (<= 25)", info["import_us_min"] / 1000, "<=", 25.0)
        )
    if "import_us_min" in info and info.get("zipfile_import_us_min"):
        rows.append(
            (
                "import coldseal / import zipfile (the status quo's import)",
                info["import_us_min"] / info["zipfile_import_us_min"],
                "info",
                0.0,
            )
        )
    times = {b["name"]: b["stats"]["min"] for b in run["benchmarks"]}
    if "test_lazy_read_one_file" in times and "test_full_verify_same_archive" in times:
        rows.append(
            (
                "lazy read of one file: time / full verify time (<= 0.02)",
                times["test_lazy_read_one_file"] / times["test_full_verify_same_archive"],
                "<=",
                0.02,
            )
        )
    if "lazy_bytes" in info:
        rows.append(
            (
                "lazy read of one file: bytes / archive bytes (<= 0.01)",
                info["lazy_bytes"] / info["payload_bytes"],
                "<=",
                0.01,
            )
        )
        rows.append(
            (
                "round trips to the first verified byte (<= 3)",
                float(info["lazy_requests"]),
                "<=",
                3.0,
            )
        )
    if "test_import_lazily_from_s3" in times and "test_import_after_full_extract" in times:
        rows.append(
            (
                "import handler lazily from S3 / extract-then-import (< 1)",
                times["test_import_lazily_from_s3"] / times["test_import_after_full_extract"],
                "<=",
                1.0,
            )
        )
    s3_rows = [
        (
            "S3 verify --out time / GET + zipfile extract time, disk (<= 1.0)",
            "test_s3_get_zip_and_extract[disk]",
            "test_s3_verify_out[disk]",
            "<=",
            1.0,
        ),
        (
            "S3 verify --out time / GET + zipfile extract time, tmpfs (<= 1.0)",
            "test_s3_get_zip_and_extract[tmpfs]",
            "test_s3_verify_out[tmpfs]",
            "<=",
            1.0,
        ),
        (
            "S3 pipeline vs raw parallel GETs, loopback (>= 0.8)",
            "test_s3_verify_pipeline",
            "test_s3_raw_parallel_gets",
            ">=",
            0.8,
        ),
        (
            "S3 pipeline vs raw parallel GETs, 1 Gbit/s shaped link (>= 0.8)",
            "test_shaped_verify_pipeline",
            "test_shaped_raw_parallel_gets",
            ">=",
            0.8,
        ),
    ]
    for what, num, den, op, target in s3_rows:
        if rates.get(num) and rates.get(den):
            rows.append((what, rates[num] / rates[den], op, target))
    for tag, where in (("s3", "loopback"), ("shaped", "shaped link")):
        if f"{tag}_idle_share" in info:
            rows.append(
                (
                    f"S3 pipeline idle share of the chunk phase, {where}",
                    info[f"{tag}_idle_share"],
                    "<=",
                    0.10,
                )
            )
        cpu = [
            info.get(f"{tag}_{run}_{who}_cpu_seconds")
            for run in ("raw", "pipeline")
            for who in ("server", "client")
        ]
        if all(v is not None for v in cpu):
            # On shared CPUs the pipeline cannot beat raw CPU / pipeline CPU.
            rows.append(
                (
                    f"  CPU bound on that ratio, {where}: raw / pipeline CPU seconds",
                    (cpu[0] + cpu[1]) / (cpu[2] + cpu[3]),
                    "info",
                    0.0,
                )
            )
    if "rss_big_kib" in info:
        rows.append(
            (
                "peak RSS verifying 1 GiB / 128 MiB (<= 1.2)",
                info["rss_big_kib"] / info["rss_small_kib"],
                "<=",
                1.2,
            )
        )
    rows += scrub_rows(run)
    for what, value, op, target in rows:
        if op == "info":
            print(f"{what:70} {value:6.2f}x")
            continue
        if op == "value":
            print(f"{what:70} {value:8.3f}")
            continue
        ok = value >= target if op == ">=" else value <= target
        missed += not ok
        print(f"{what:70} {value:6.2f}   target {op} {target:.2f}  {'ok' if ok else 'MISSED'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [{"what": w, "ratio": v, "op": o, "target": t} for w, v, o, t in rows], indent=2
            )
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
