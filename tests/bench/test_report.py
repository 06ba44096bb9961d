"""``coldseal bench`` end to end on the tiny profile: report files, JSON schema, real PNGs.

One run (a few seconds) is shared by the module. No timing is asserted: the
figures are whatever this machine measured; what is checked is that every
file exists, that the JSON keeps its schema (keys and types), that the plots
are PNGs matplotlib can decode at sane sizes, and the exit status.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import pytest
from tests.conftest import Result, run_cli

from coldseal.bench import seaweed

BUDGETS = """
version = 1

[budgets.verify-local]
description = "verify a 2 MiB archive"
measure = "verify"
archive_mib = 2
max_ms = 600000

[budgets.verify-s3]
measure = "verify"
source = "s3"
archive_mib = 2
max_ms = 600000

[budgets.lazy-s3]
measure = "lazy-first-byte"
source = "s3"
archive_mib = 2
max_ms = 600000

[budgets.extract-code]
measure = "extract"
corpus = "code"
archive_mib = 1
max_ms = 600000

[budgets.pinned]
measure = "verify"
archive_mib = 2
cpus = 1
max_ms = 600000

[budgets.rss]
measure = "peak-rss"
archive_mib = 2
max_mib = 100000

[budgets.seal]
measure = "seal"
archive_mib = 2
max_ms = 600000

[budgets.import-impossible]
description = "no interpreter imports anything in a tenth of a microsecond"
measure = "import"
max_ms = 0.0001

[budgets.too-many-threads]
measure = "verify"
threads = 1024
max_ms = 1
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("threads", "cpus", "sizes", "rss", "chunks", "levels", "breakdown")


@dataclass
class Run:
    out: Path
    result: Result
    data: dict[str, Any]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("bench")
    budgets = base / "budgets.toml"
    budgets.write_text(BUDGETS)
    out = base / "report"
    result = run_cli(
        "bench", "--profile", "tiny", "--budgets", budgets, "--out", out, "--cache", base / "cache"
    )
    assert (out / "bench.json").is_file(), f"exit {result.code}: {result.err[-2000:]}"
    data = json.loads((out / "bench.json").read_text())
    return Run(out, result, data)


def test_exit_status_4_names_the_failed_budget(tiny: Run) -> None:
    assert tiny.result.code == 4, tiny.result.err
    last = tiny.result.err.strip().splitlines()[-1]
    assert last == "coldseal: error: budget exceeded: import-impossible"
    assert "Traceback" not in tiny.result.err


def test_each_budget_printed_with_value_verdict_and_limit(tiny: Run) -> None:
    lines = tiny.result.out.splitlines()
    verify = next(line for line in lines if "verify-local:" in line)
    assert verify.startswith("PASS")
    assert re.search(r"\d+(\.\d+)? ms \(budget <= 6\d+ ms; \d+ % of machine limit\)", verify)
    assert next(line for line in lines if "import-impossible:" in line).startswith("FAIL")
    skipped = next(line for line in lines if "too-many-threads:" in line)
    assert skipped.startswith("SKIP")
    assert "CPUs" in skipped
    assert any(line.startswith("report: ") for line in lines)


def test_report_files_exist(tiny: Run) -> None:
    for name in ("bench.json", "report.md", "report.html", *(f"{p}.png" for p in PLOTS)):
        assert (tiny.out / name).stat().st_size > 0, name
    assert not list(tiny.out.glob(".*.tmp"))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_json_schema_is_stable(tiny: Run) -> None:
    d = tiny.data
    assert set(d) == {
        "schema",
        "tool",
        "coldseal_version",
        "profile",
        "started",
        "seconds",
        "machine",
        "limits",
        "figures",
        "curves",
        "breakdown",
        "budgets",
        "skipped",
    }
    assert d["schema"] == 1
    assert d["profile"] == "tiny"
    assert _is_number(d["seconds"])
    assert isinstance(d["skipped"], list)
    assert set(d["machine"]) == {
        "granted_cpus",
        "visible_cpus",
        "python",
        "platform",
        "executable",
        "blake3_tier",
        "s3",
    }
    assert isinstance(d["machine"]["granted_cpus"], int)
    assert d["machine"]["granted_cpus"] >= 1
    assert set(d["limits"]) == {
        "aes_gcm_mib_s",
        "aes_gcm_source",
        "blake3_mib_s",
        "verify_limit_mib_s",
        "s3_raw_get_mib_s",
        "s3_get_latency_ms",
    }
    for key in ("aes_gcm_mib_s", "blake3_mib_s", "verify_limit_mib_s"):
        assert _is_number(d["limits"][key])
        assert d["limits"][key] > 0
    for key, figure in d["figures"].items():
        assert set(figure) == {"value", "unit", "what", "better", "of_limit"}, key
        assert _is_number(figure["value"]), key
        assert figure["better"] in ("lower", "higher")
        assert figure["of_limit"] is None or _is_number(figure["of_limit"])
    for key in (
        "verify_local_mib_s",
        "hash_only_mib_s",
        "decrypt_only_mib_s",
        "naive_python_mib_s",
        "extract_code_ms",
        "unzip_code_ms",
        "import_ms",
        "peak_rss_big_mib",
    ):
        assert key in d["figures"], key
    for name in ("threads", "cpus", "sizes", "rss", "chunks", "levels"):
        curve = d["curves"][name]
        assert {"title", "x_label", "x", "series"} <= set(curve)
        assert curve["x"]
        for series in curve["series"].values():
            assert len(series["y"]) == len(curve["x"])
            assert all(_is_number(y) for y in series["y"])
    granted = d["machine"]["granted_cpus"]
    assert d["curves"]["threads"]["x"] == list(range(1, granted + 1))
    assert d["curves"]["cpus"]["x"] == list(range(1, granted + 1))
    assert len(d["curves"]["threads"]["limit"]["y"]) == granted
    for bar in d["breakdown"].values():
        assert {"interpreter start", "import coldseal"} <= set(bar)
        assert all(_is_number(ms) and ms >= 0 for ms in bar.values())
    for budget in d["budgets"]:
        assert set(budget) == {
            "id",
            "description",
            "measure",
            "params",
            "limit",
            "unit",
            "value",
            "status",
            "of_limit",
            "note",
        }
        assert budget["status"] in ("pass", "fail", "skipped")
        assert (budget["value"] is None) == (budget["status"] == "skipped")
    statuses = {b["id"]: b["status"] for b in d["budgets"]}
    assert statuses["import-impossible"] == "fail"
    assert statuses["too-many-threads"] == "skipped"
    assert statuses["verify-local"] == "pass"


def test_s3_figures_when_a_server_is_available(tiny: Run) -> None:
    statuses = {b["id"]: b for b in tiny.data["budgets"]}
    if not seaweed.available():
        assert statuses["verify-s3"]["status"] == "skipped"
        assert any("S3" in line for line in tiny.data["skipped"])
        return
    assert statuses["verify-s3"]["status"] == "pass"
    assert _is_number(statuses["verify-s3"]["of_limit"])
    assert _is_number(tiny.data["limits"]["s3_raw_get_mib_s"])
    assert "verify_s3_mib_s" in tiny.data["figures"]
    assert tiny.data["figures"]["lazy_s3_requests"]["value"] >= 1


def test_plots_are_real_pngs(tiny: Run) -> None:
    for name in PLOTS:
        path = tiny.out / f"{name}.png"
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = mpimg.imread(path)
        height, width = pixels.shape[:2]
        assert 200 <= width <= 2000, (name, width)
        assert 200 <= height <= 2000, (name, height)
        assert pixels.shape[2] in (3, 4)
        assert pixels.std() > 0.01, name  # something is drawn, not a blank canvas


def test_html_is_self_contained(tiny: Run) -> None:
    page = (tiny.out / "report.html").read_text()
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    files = {(tiny.out / f"{p}.png").read_bytes() for p in PLOTS}
    assert {base64.b64decode(e) for e in embedded} == files
    assert "http://" not in page.replace(tiny.data["machine"]["s3"] or "", "")
    assert "import-impossible" in page
    md = (tiny.out / "report.md").read_text()
    for name in PLOTS:
        assert f"]({name}.png)" in md


def test_results_and_compare_reuse_a_saved_run(tiny: Run, tmp_path: Path) -> None:
    saved = tiny.out / "bench.json"
    again = run_cli("bench", "--results", saved, "--compare", saved, "--out", tmp_path / "again")
    assert again.code == 4  # the saved run's failed budget still fails
    rows = [
        line for line in again.out.splitlines() if line.startswith(("figure", "limit", "budget"))
    ]
    assert rows
    assert all("1.00x  same" in line for line in rows)
    assert json.loads((tmp_path / "again" / "bench.json").read_text()) == tiny.data
