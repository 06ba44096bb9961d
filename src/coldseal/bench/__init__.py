"""``coldseal bench``: the cold-start budget suite.

It measures, in one run, what trusting code costs at cold start on the CPUs
this process is granted — verify (local and S3), extract, seal, lazy open,
``import coldseal``, peak RSS — next to the machine's limits (raw AES-GCM
and BLAKE3 rates, raw parallel GETs) and to baselines (naive Python, the
unverified zip, hash-only and decrypt-only), draws scaling curves, judges
the budgets of a TOML file, and writes a report. Nothing here is imported
by ``import coldseal``; matplotlib only by the report step.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache() -> Path:
    """Where corpora are cached: ``$COLDSEAL_BENCH_CACHE``, else the user's cache folder."""
    if os.environ.get("COLDSEAL_BENCH_CACHE"):
        return Path(os.environ["COLDSEAL_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coldseal" / "bench"
