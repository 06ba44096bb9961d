"""The budgets file parser: strict, one clear line and exit 2 for anything wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import run_cli

from coldseal.bench import budgets
from coldseal.bench.budgets import MEASURES, BudgetError

GOOD = """
version = 1

[budgets.verify-s3]
description = "full verify from S3"
measure = "verify"
source = "s3"
corpus = "random"
archive_mib = 250
threads = "granted"
max_ms = 3000

[budgets.one-cpu]
measure = "verify"
archive_mib = 64
cpus = 1
threads = 1
max_ms = 900.5

[budgets.rss]
measure = "peak-rss"
max_mib = 192

[budgets.import]
measure = "import"
max_ms = 25
"""


def test_good_file_parses() -> None:
    parsed = budgets.parse(GOOD, "good.toml")
    assert [b.id for b in parsed] == ["verify-s3", "one-cpu", "rss", "import"]
    s3, one, rss, imp = parsed
    assert (s3.measure, s3.source, s3.archive_mib, s3.threads, s3.limit, s3.unit) == (
        "verify",
        "s3",
        250,
        None,
        3000.0,
        "ms",
    )
    assert (one.cpus, one.threads, one.limit, one.source) == (1, 1, 900.5, "local")
    assert (rss.unit, rss.limit, rss.limit_key) == ("MiB", 192.0, "max_mib")
    assert imp.measure == "import"


def test_shipped_default_parses() -> None:
    parsed = budgets.load(budgets.DEFAULT_BUDGETS)
    measures = {b.measure for b in parsed}
    assert {"verify", "lazy-first-byte", "import", "peak-rss"} <= measures
    assert any(b.source == "s3" for b in parsed)
    assert any(b.cpus == 1 for b in parsed)


BAD = [
    ("version = 1\n[budgets.x\nmeasure = 'import'", "bad TOML"),
    ("version = 1\nextra = 2\n", "unknown top-level key 'extra'"),
    ("[budgets.x]\nmeasure = 'import'\nmax_ms = 1\n", "'version' must be 1"),
    ("version = 2\n", "'version' must be 1"),
    ("version = true\n", "'version' must be 1"),
    ("version = 1\nbudgets = 3\n", "'budgets' must be a table"),
    ("version = 1\n[budgets]\nx = 3\n", "budgets.x: must be a table"),
    ("version = 1\n[budgets.x]\nmeasure = 'speed'\nmax_ms = 1\n", "'measure' must be one of"),
    ("version = 1\n[budgets.x]\nmax_ms = 1\n", "'measure' must be one of"),
    (
        "version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = 1\ncolour = 'red'\n",
        "unknown key 'colour'",
    ),
    (
        "version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = 1\nsource = 's3'\n",
        "unknown key 'source'",
    ),
    ("version = 1\n[budgets.x]\nmeasure = 'peak-rss'\nmax_ms = 1\n", "unknown key 'max_ms'"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\n", "missing 'max_ms'"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = -5\n", "positive finite number"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = 0\n", "positive finite number"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = -0.5\n", "positive finite number"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = inf\n", "positive finite number"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = nan\n", "positive finite number"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = '25'\n", "must be a number"),
    ("version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = true\n", "must be a number"),
    (
        "version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\nthreads = 0\n",
        "'threads' must be between",
    ),
    ("version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\nthreads = 'all'\n", "whole number"),
    (
        "version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\ncpus = -1\n",
        "'cpus' must be between",
    ),
    (
        "version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\narchive_mib = 1.5\n",
        "whole number",
    ),
    (
        "version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\narchive_mib = 99999999\n",
        "between",
    ),
    (
        "version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\nsource = 'ftp'\n",
        "'source' must be one of",
    ),
    (
        "version = 1\n[budgets.x]\nmeasure = 'verify'\nmax_ms = 1\ncorpus = 'zeros'\n",
        "'corpus' must be one of",
    ),
    (
        "version = 1\n[budgets.x]\nmeasure = 'import'\nmax_ms = 1\ndescription = 3\n",
        "must be a string",
    ),
]


@pytest.mark.parametrize(("text", "needle"), BAD)
def test_bad_budgets_exit_2_with_one_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    # The budgets file is checked before anything is measured: this returns at once.
    result = run_cli("bench", "--profile", "tiny", "--budgets", path, "--out", tmp_path / "out")
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("coldseal: error: ")
    assert str(path) in lines[0]
    assert needle in lines[0]
    assert "Traceback" not in result.err
    assert not (tmp_path / "out").exists()


def test_unreadable_and_non_utf8_files_exit_2(tmp_path: Path) -> None:
    missing = run_cli("bench", "--budgets", tmp_path / "nope.toml", "--out", tmp_path / "o")
    assert missing.code == 2
    assert "cannot read the budgets file" in missing.err
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"version = 1\n\xff\xfe")
    result = run_cli("bench", "--budgets", binary, "--out", tmp_path / "o")
    assert result.code == 2
    assert "not UTF-8" in result.err


names = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
limits_ = st.integers(1, 10**6) | st.floats(0.001, 1e6, allow_nan=False)


@st.composite
def budget_tables(draw: st.DrawFn) -> dict[str, object]:
    measure = draw(st.sampled_from(sorted(MEASURES)))
    limit_key, _, keys = MEASURES[measure]
    table: dict[str, object] = {"measure": measure, limit_key: draw(limits_)}
    if "source" in keys and draw(st.booleans()):
        table["source"] = draw(st.sampled_from(budgets.SOURCES))
    if "corpus" in keys and draw(st.booleans()):
        table["corpus"] = draw(st.sampled_from(budgets.CORPORA))
    if "archive_mib" in keys and draw(st.booleans()):
        table["archive_mib"] = draw(st.integers(1, budgets.MAX_ARCHIVE_MIB))
    if "threads" in keys and draw(st.booleans()):
        table["threads"] = draw(st.integers(1, 64) | st.just("granted"))
    if "cpus" in keys and draw(st.booleans()):
        table["cpus"] = draw(st.integers(1, 64))
    return table


def _toml(tables: dict[str, dict[str, object]]) -> str:
    out = ["version = 1"]
    for name, table in tables.items():
        out.append(f"[budgets.{name}]")
        for key, value in table.items():
            out.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
    return "\n".join(out) + "\n"


@given(st.dictionaries(names, budget_tables(), max_size=5))
def test_valid_files_round_trip(tables: dict[str, dict[str, object]]) -> None:
    parsed = budgets.parse(_toml(tables))
    assert [b.id for b in parsed] == list(tables)
    for budget, table in zip(parsed, tables.values(), strict=True):
        assert budget.measure == table["measure"]
        assert budget.limit == float(table[budget.limit_key])  # type: ignore[arg-type]
        assert budget.source == table.get("source", "local")
        assert budget.archive_mib == table.get("archive_mib", 64)
        threads = table.get("threads", "granted")
        assert budget.threads == (None if threads == "granted" else threads)
        assert budget.cpus == table.get("cpus")


@given(budget_tables(), st.floats(-1e6, 0) | st.integers(-(10**6), 0))
def test_non_positive_limits_always_refused(table: dict[str, object], bad: float) -> None:
    limit_key = MEASURES[str(table["measure"])][0]
    table[limit_key] = bad
    with pytest.raises(BudgetError, match="positive finite number"):
        budgets.parse(_toml({"b": table}))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--endpoint-url", "http://127.0.0.1:1"), "--endpoint-url is for the bucket"),
        (("--s3-url", "http://bucket/x"), "not an s3:// URL"),
        (("--s3-url", "s3:///x"), "no bucket"),
        (("--profile", "huge"), "invalid choice"),
    ],
)
def test_bad_bench_options_exit_2_before_measuring(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    result = run_cli("bench", *args, "--out", tmp_path / "out")
    assert result.code == 2
    assert needle in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
