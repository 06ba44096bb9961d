"""How many CPUs this process may really use.

A container or a Lambda function often sees the host's cores but is granted
fewer: by CPU affinity (``taskset``, cpusets) or by a CFS quota in its cgroup.
Parallelism sized to ``os.cpu_count()`` then oversubscribes and runs slower.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

_CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
_CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _quota_cpus() -> float | None:
    """CPUs allowed by the cgroup's CFS quota, or None when unlimited/unknown."""
    try:
        fields = _CGROUP_V2_CPU_MAX.read_text(encoding="ascii").split()
    except OSError:
        fields = []
    if len(fields) == 2:
        if fields[0] == "max":
            return None
        try:
            return int(fields[0]) / int(fields[1])
        except (ValueError, ZeroDivisionError):
            return None
    try:
        quota = int(_CGROUP_V1_QUOTA.read_text(encoding="ascii"))
        period = int(_CGROUP_V1_PERIOD.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def granted_cpus() -> int:
    """The number of CPUs to size thread pools by: affinity, capped by cgroup quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    quota = _quota_cpus()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)
