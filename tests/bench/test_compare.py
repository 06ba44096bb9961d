"""``coldseal bench --compare``: ratio arithmetic and the direction of 'better'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import run_cli

from coldseal.bench import compare
from coldseal.errors import UsageError


def run_with(
    figures: dict[str, tuple[float, str]],
    limits: dict[str, object],
    budgets: dict[str, float | None],
) -> dict[str, Any]:
    return {
        "schema": 1,
        "limits": limits,
        "figures": {
            k: {"value": v, "unit": "", "what": k, "better": b, "of_limit": None}
            for k, (v, b) in figures.items()
        },
        "budgets": [{"id": k, "value": v} for k, v in budgets.items()],
    }


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["kind"], r["key"]): r for r in rows}


def test_ratios_and_verdicts() -> None:
    old = run_with(
        {
            "verify_mib_s": (1000.0, "higher"),
            "import_ms": (5.0, "lower"),
            "rss": (100.0, "lower"),
            "only_old": (1.0, "lower"),
        },
        {"aes_gcm_mib_s": 2000.0, "s3_get_latency_ms": 4.0, "aes_gcm_source": "bare", "gone": None},
        {"b1": 400.0, "b2": None, "b3": 10.0},
    )
    new = run_with(
        {
            "verify_mib_s": (1500.0, "higher"),
            "import_ms": (10.0, "lower"),
            "rss": (102.0, "lower"),
            "only_new": (1.0, "lower"),
        },
        {"aes_gcm_mib_s": 1000.0, "s3_get_latency_ms": 2.0, "aes_gcm_source": "other", "gone": 3.0},
        {"b1": 200.0, "b2": 50.0, "b4": 3.0},
    )
    rows = by_key(compare.compare(old, new))
    assert rows["figure", "verify_mib_s"]["ratio"] == pytest.approx(1.5)
    assert rows["figure", "verify_mib_s"]["verdict"] == "better"  # higher throughput
    assert rows["figure", "import_ms"]["ratio"] == pytest.approx(2.0)
    assert rows["figure", "import_ms"]["verdict"] == "worse"  # slower import
    assert rows["figure", "rss"]["ratio"] == pytest.approx(1.02)
    assert rows["figure", "rss"]["verdict"] == "same"  # within 5 %
    assert rows["limit", "aes_gcm_mib_s"]["ratio"] == pytest.approx(0.5)
    assert rows["limit", "aes_gcm_mib_s"]["verdict"] == "worse"
    assert rows["limit", "s3_get_latency_ms"]["verdict"] == "better"  # lower latency
    assert rows["budget", "b1"]["ratio"] == pytest.approx(0.5)
    assert rows["budget", "b1"]["verdict"] == "better"
    # Only what both runs measured, as numbers, is compared.
    assert set(rows) == {
        ("figure", "verify_mib_s"),
        ("figure", "import_ms"),
        ("figure", "rss"),
        ("limit", "aes_gcm_mib_s"),
        ("limit", "s3_get_latency_ms"),
        ("budget", "b1"),
    }
    text = compare.format_rows(compare.compare(old, new), "old.json", "this run")
    assert "1.50x  better" in text
    assert "2.00x  worse" in text


def test_zero_old_value_is_not_a_ratio() -> None:
    old = run_with({"x": (0.0, "lower")}, {}, {})
    new = run_with({"x": (3.0, "lower")}, {}, {})
    assert compare.compare(old, new) == []


@given(
    st.floats(1e-6, 1e9, allow_nan=False),
    st.floats(1e-6, 1e9, allow_nan=False),
    st.sampled_from(["lower", "higher"]),
)
def test_ratio_is_new_over_old(old_value: float, new_value: float, better: str) -> None:
    rows = compare.compare(
        run_with({"x": (old_value, better)}, {}, {}), run_with({"x": (new_value, better)}, {}, {})
    )
    (row,) = rows
    assert row["ratio"] == pytest.approx(new_value / old_value)
    ratio = new_value / old_value
    if abs(ratio - 1) <= compare.UNCHANGED:
        assert row["verdict"] == "same"
    elif (ratio < 1) == (better == "lower"):
        assert row["verdict"] == "better"
    else:
        assert row["verdict"] == "worse"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not a bench JSON file"),
        ("[1, 2]", "not a coldseal bench JSON file"),
        ('{"schema": 1, "figures": {}}', "not a coldseal bench JSON file"),
        ('{"schema": 7, "figures": {}, "limits": {}, "budgets": []}', "schema 7"),
    ],
)
def test_bad_compare_file_exit_2_before_measuring(
    tmp_path: Path, content: str, needle: str
) -> None:
    old = tmp_path / "old.json"
    old.write_text(content)
    result = run_cli("bench", "--compare", old, "--out", tmp_path / "out")
    assert result.code == 2
    assert needle in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError):
        compare.load(old)


def test_missing_compare_file_exit_2(tmp_path: Path) -> None:
    result = run_cli("bench", "--compare", tmp_path / "none.json", "--out", tmp_path / "out")
    assert result.code == 2
    assert "cannot read" in result.err
