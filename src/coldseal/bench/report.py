"""Write a run's results: ``bench.json``, PNG plots, ``report.md`` and ``report.html``.

The plots are drawn with matplotlib (the ``coldseal[bench]`` extra), imported
here only: throughput vs threads with the limit L(t) drawn in, the CPU-limited
curve, time to the first verified byte vs archive size (lazy vs full), peak
RSS vs archive size, throughput vs chunk size, seal vs compression level, and
a stacked bar of where cold-start time goes. ``report.html`` embeds the PNGs
(base64), so the one file can be attached to a ticket; ``report.md`` links
the PNG files next to it. Every file is written to a temporary name and
renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import base64
import html
import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

PLOTS = ("threads", "cpus", "sizes", "rss", "chunks", "levels")
BREAKDOWN_PNG = "breakdown.png"
_CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
    "table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%;text-align:left}"
    ".PASS{color:#070}.FAIL{color:#b00;font-weight:bold}.SKIPPED{color:#777}"
)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write the results as JSON (atomically)."""
    _write(path, (json.dumps(results, indent=2, sort_keys=True) + "\n").encode())


def _plot_curve(curve: dict[str, Any]) -> bytes:
    import matplotlib as mpl  # noqa: PLC0415 - the report step alone needs it

    mpl.use("Agg")
    import io  # noqa: PLC0415

    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    units = list(dict.fromkeys(s["unit"] for s in curve["series"].values()))
    axes = {units[0]: ax}
    if len(units) > 1:
        axes[units[1]] = ax.twinx()
    markers = "osD^v<>"
    for i, (label, series) in enumerate(curve["series"].items()):
        target = axes.get(series["unit"], ax)
        points = [(x, y) for x, y in zip(curve["x"], series["y"], strict=True) if y is not None]
        if not points:
            continue
        target.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker=markers[i % len(markers)],
            label=label,
            color=f"C{i}",
        )
    if curve.get("limit"):
        limit = curve["limit"]
        axes[limit["unit"]].plot(
            curve["x"], limit["y"], linestyle="--", color="black", label=limit["label"]
        )
    for unit, axis in axes.items():
        axis.set_ylabel(unit)
        if curve.get("log"):
            axis.set_yscale("log")
        elif unit != "ms":
            axis.set_ylim(bottom=0)
    if curve.get("log") or curve.get("log_x"):
        from matplotlib.ticker import FixedLocator, ScalarFormatter  # noqa: PLC0415

        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(curve["x"]))
        ax.xaxis.set_major_formatter(ScalarFormatter())
    else:
        from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(curve["x_label"])
    ax.set_title(curve["title"], fontsize=10)
    ax.grid(visible=True, alpha=0.3)
    handles, labels = [], []
    for axis in axes.values():
        h, lab = axis.get_legend_handles_labels()
        handles += h
        labels += lab
    ax.legend(handles, labels, fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _plot_breakdown(breakdown: dict[str, dict[str, float]]) -> bytes:
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    import io  # noqa: PLC0415

    import matplotlib.pyplot as plt  # noqa: PLC0415

    phases = list(dict.fromkeys(p for bar in breakdown.values() for p in bar))
    labels = list(breakdown)
    fig, ax = plt.subplots(figsize=(8, 0.9 * len(labels) + 2.2), dpi=100)
    left = [0.0] * len(labels)
    for i, phase in enumerate(phases):
        widths = [breakdown[label].get(phase, 0.0) for label in labels]
        ax.barh(labels, widths, left=left, label=phase, color=plt.get_cmap("tab20")(i % 20))
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlabel("ms (cold process: first run after start)")
    ax.set_title("Where cold-start time goes", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def _pct(fraction: float | None) -> str:
    return "—" if fraction is None else f"{100 * fraction:.0f} %"


def budget_line(b: dict[str, Any]) -> str:
    """One budget as the terminal prints it."""
    mark = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}[b["status"]]
    if b["status"] == "skipped":
        return f"{mark}  {b['id']}: skipped ({b['note']})"
    measured, limit = _fmt(b["value"], b["unit"]), _fmt(b["limit"], b["unit"])
    return (
        f"{mark}  {b['id']}: {measured} (budget <= {limit}; "
        f"{_pct(b['of_limit'])} of machine limit) — {b['note']}"
    )


def _tables(results: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    m, lim = results["machine"], results["limits"]
    machine = [
        ["granted CPUs (affinity + cgroup quota)", str(m["granted_cpus"])],
        ["visible CPUs", str(m["visible_cpus"])],
        ["BLAKE3 tier", m["blake3_tier"]],
        [
            "AES-256-GCM open, 1 thread",
            f"{_fmt(lim['aes_gcm_mib_s'], 'MiB/s')} ({lim['aes_gcm_source']})",
        ],
        ["BLAKE3, 1 thread", _fmt(lim["blake3_mib_s"], "MiB/s")],
        [
            f"limit L({m['granted_cpus']}) = cores / (1/AES + 1/BLAKE3)",
            _fmt(lim["verify_limit_mib_s"], "MiB/s"),
        ],
        ["S3 raw parallel GETs (8 x 8 MiB in flight)", _fmt(lim["s3_raw_get_mib_s"], "MiB/s")],
        ["S3 GET latency (4 KiB)", _fmt(lim["s3_get_latency_ms"], "ms")],
        ["S3 target", m["s3"] or "none"],
        ["Python", f"{m['python']} on {m['platform']}"],
    ]
    budgets = [
        [
            b["status"].upper(),
            b["id"],
            b["description"],
            _fmt(b["value"], b["unit"]),
            f"≤ {_fmt(b['limit'], b['unit'])}",
            _pct(b["of_limit"]),
            b["note"],
        ]
        for b in results["budgets"]
    ]
    figures = [
        [key, f["what"], _fmt(f["value"], f["unit"]), _pct(f["of_limit"])]
        for key, f in results["figures"].items()
    ]
    return [
        ("Machine and limits (measured in this run)", ["what", "value"], machine),
        (
            "Budgets",
            ["status", "budget", "what", "measured", "budget", "of machine limit", "how"],
            budgets,
        ),
        (
            "Headline figures and baselines",
            ["figure", "what", "value", "of machine limit"],
            figures,
        ),
    ]


def _heading(results: dict[str, Any]) -> tuple[str, str]:
    title = f"coldseal bench — profile {results['profile']}"
    sub = (
        f"coldseal {results['coldseal_version']}, started {results['started']}, "
        f"{results['seconds']:.0f} s. Every ratio divides two figures measured in this run "
        "(best round of each), because absolute times drift on a shared machine."
    )
    return title, sub


def write_markdown(results: dict[str, Any], path: Path, images: dict[str, str]) -> None:
    """``report.md``: the tables, and links to the PNG files next to it."""
    title, sub = _heading(results)
    lines = [f"# {title}", "", sub, ""]
    for heading, header, rows in _tables(results):
        lines += [f"## {heading}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        ]
        lines.append("")
    if results["skipped"]:
        lines += ["## Skipped", ""] + [f"- {s}" for s in results["skipped"]] + [""]
    lines += ["## Plots", ""]
    lines += [f"![{name}]({file})" for name, file in images.items()]
    _write(path, ("\n".join(lines) + "\n").encode())


def write_html(results: dict[str, Any], path: Path, pngs: dict[str, bytes]) -> None:
    """``report.html``: one self-contained page, plots embedded as data URIs."""
    title, sub = _heading(results)
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1><p>{esc(sub)}</p>",
    ]
    for heading, header, rows in _tables(results):
        parts.append(f"<h2>{esc(heading)}</h2><table><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in header]
        parts.append("</tr>")
        for row in rows:
            cls = row[0] if heading == "Budgets" else ""
            parts.append(
                f"<tr class='{esc(cls)}'>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
            )
        parts.append("</table>")
    if results["skipped"]:
        parts.append(
            "<h2>Skipped</h2><ul>"
            + "".join(f"<li>{esc(s)}</li>" for s in results["skipped"])
            + "</ul>"
        )
    parts.append("<h2>Plots</h2>")
    for name, data in pngs.items():
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(f"<p><img alt='{esc(name)}' src='data:image/png;base64,{encoded}'></p>")
    parts.append("</body></html>")
    _write(path, "\n".join(parts).encode())


def write_all(results: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write bench.json, the PNGs, report.md and report.html into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "bench.json",
        "markdown": folder / "report.md",
        "html": folder / "report.html",
    }
    write_json(results, paths["json"])
    pngs: dict[str, bytes] = {}
    for name in PLOTS:
        if name in results["curves"]:
            pngs[f"{name}.png"] = _plot_curve(results["curves"][name])
    if results["breakdown"]:
        pngs[BREAKDOWN_PNG] = _plot_breakdown(results["breakdown"])
    for file, data in pngs.items():
        _write(folder / file, data)
        paths[file] = folder / file
    write_markdown(results, paths["markdown"], {f.removesuffix(".png"): f for f in pngs})
    write_html(results, paths["html"], pngs)
    return paths
