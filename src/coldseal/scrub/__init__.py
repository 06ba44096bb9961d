"""``coldseal scrub``: re-verify every archive under an S3 prefix, on one machine or a cluster.

The pieces: :mod:`~coldseal.scrub.listing` streams the bucket listing and cuts
it into archives; :mod:`~coldseal.scrub.task` verifies a batch of them with
the ordinary verify engine; :mod:`~coldseal.scrub.engines` runs tasks on a
thread pool or on Dask; :mod:`~coldseal.scrub.run` packs, windows and
retries; :mod:`~coldseal.scrub.report` writes the per-archive report.
"""

from __future__ import annotations

from coldseal.scrub.run import scrub
from coldseal.scrub.task import ArchiveRef, Options, Record, Status

__all__ = ["ArchiveRef", "Options", "Record", "Status", "scrub"]
