"""``--compare OLD.json``: the ratios between two runs' figures, limits and budgets.

For each figure both runs have, the ratio new / old, and whether that is
better or worse given the figure's direction (lower is better for times and
memory, higher for throughput). Ratios, not differences, because the two
runs may come from machines of different speeds; the limits measured in
each run are compared the same way, so a reader can tell a slower machine
(limits moved too) from a slower coldseal (only the figures moved).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from coldseal.errors import UsageError

REQUIRED = ("schema", "figures", "limits", "budgets")
UNCHANGED = 0.05  # within ±5 %: reported as "same"


def load(path: str | Path) -> dict[str, Any]:
    """A bench JSON file, checked enough to compare (UsageError otherwise)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"{path}: cannot read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not a bench JSON file ({error})") from None
    if not isinstance(data, dict) or any(k not in data for k in REQUIRED):
        raise UsageError(f"{path}: not a coldseal bench JSON file (missing {', '.join(REQUIRED)})")
    if data["schema"] != 1:
        raise UsageError(f"{path}: bench schema {data['schema']!r}; this coldseal reads schema 1")
    return data


def _verdict(ratio: float, better: str) -> str:
    if abs(ratio - 1) <= UNCHANGED:
        return "same"
    improved = ratio < 1 if better == "lower" else ratio > 1
    return "better" if improved else "worse"


def _ratio(new: object, old: object) -> float | None:
    if not isinstance(new, int | float) or not isinstance(old, int | float):
        return None
    if isinstance(new, bool) or isinstance(old, bool) or old == 0 or not math.isfinite(new / old):
        return None
    return new / old


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure, limit and budget present in both runs: old, new, ratio, verdict."""
    rows = []
    for key in sorted(set(old["limits"]) & set(new["limits"])):
        ratio = _ratio(new["limits"][key], old["limits"][key])
        if ratio is not None:
            better = "lower" if key.endswith("_ms") else "higher"
            rows.append(
                {
                    "kind": "limit",
                    "key": key,
                    "old": old["limits"][key],
                    "new": new["limits"][key],
                    "ratio": ratio,
                    "verdict": _verdict(ratio, better),
                }
            )
    for key in sorted(set(old["figures"]) & set(new["figures"])):
        o, n = old["figures"][key], new["figures"][key]
        ratio = _ratio(n["value"], o["value"])
        if ratio is not None:
            rows.append(
                {
                    "kind": "figure",
                    "key": key,
                    "old": o["value"],
                    "new": n["value"],
                    "ratio": ratio,
                    "verdict": _verdict(ratio, n["better"]),
                }
            )
    old_budgets = {b["id"]: b for b in old["budgets"]}
    for b in new["budgets"]:
        if b["id"] not in old_budgets:
            continue
        o = old_budgets[b["id"]]
        ratio = _ratio(b["value"], o["value"])
        if ratio is not None:
            rows.append(
                {
                    "kind": "budget",
                    "key": b["id"],
                    "old": o["value"],
                    "new": b["value"],
                    "ratio": ratio,
                    "verdict": _verdict(ratio, "lower"),
                }
            )
    return rows


def format_rows(rows: list[dict[str, Any]], old_name: str, new_name: str) -> str:
    """The comparison as an aligned text table."""
    lines = [
        f"{'':7} {'':34} {'old':>10} {'new':>10} {'new/old':>8}",
        f"{'':7} {'(' + old_name + ' -> ' + new_name + ')':34}",
    ]
    lines += [
        f"{row['kind']:7} {row['key']:34} {row['old']:10.4g} {row['new']:10.4g} "
        f"{row['ratio']:7.2f}x  {row['verdict']}"
        for row in rows
    ]
    return "\n".join(lines)
