"""Publishing a SEALED folder to an S3 prefix.

The payload goes first (multipart and parallel when large), the manifest
last, so a reader never finds a manifest whose payload is incomplete. The
payload's name carries the archive id, so publishing a new version never
disturbs readers of the old one. Publishing the same folder again is
idempotent: a payload already present with the right size is not re-sent
(its name is unique to one sealing), and the manifest is rewritten with the
same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from coldseal import audit
from coldseal.errors import IntegrityError, StorageError
from coldseal.format import manifest as mf
from coldseal.storage.local import LocalStorage
from coldseal.storage.s3 import make_store, parse_url

if TYPE_CHECKING:
    from collections.abc import Callable

PART_SIZE = 8 << 20
UPLOAD_RETRIES = 5


@dataclass(frozen=True)
class PublishReport:
    """What a publish did."""

    url: str
    name: str
    version: int
    payload: str
    payload_bytes: int
    payload_uploaded: bool
    seconds: float


class _ProgressReader:
    """A file wrapper that reports bytes read (obstore reads uploads from it)."""

    def __init__(self, handle: BinaryIO, total: int, progress: Callable[[int, int], None]) -> None:
        self._handle = handle
        self._total = total
        self._done = 0
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._done += len(data)
        self._progress(self._done, self._total)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


def publish(
    sealed_path: str | Path,
    url: str,
    *,
    endpoint_url: str | None = None,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_violation: Callable[[dict[str, Any]], None] | None = None,
) -> PublishReport:
    """Upload the sealed archive in ``sealed_path`` under ``url`` (s3://bucket/prefix).

    ``on_event``/``on_violation`` receive the audit event, as for
    :func:`coldseal.verify`.
    """
    with audit.reporting("publish", on_event, on_violation) as event:
        event["source"] = str(sealed_path)
        report = _publish(
            sealed_path,
            url,
            endpoint_url=endpoint_url,
            concurrency=concurrency,
            progress=progress,
        )
        event.update(
            name=report.name,
            version=report.version,
            url=report.url,
            seconds={"publish": round(report.seconds, 6)},
        )
        return report


def _publish(
    sealed_path: str | Path,
    url: str,
    *,
    endpoint_url: str | None = None,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> PublishReport:
    """The body of :func:`publish`."""
    import obstore  # noqa: PLC0415

    started = time.monotonic()
    bucket, prefix = parse_url(url)
    local = LocalStorage(sealed_path)
    try:
        manifest_bytes = local.read_object(mf.MANIFEST_FILE, mf.MAX_MANIFEST_BYTES)
        manifest = mf.decode(manifest_bytes).manifest
        size = local.size(manifest.payload)
    finally:
        local.close()
    if size != manifest.payload_size:
        raise IntegrityError(
            f"{Path(sealed_path) / manifest.payload}: {size} bytes, the manifest says "
            f"{manifest.payload_size}; the sealed folder is damaged"
        )
    store = make_store(bucket, prefix, endpoint_url, client_retries=UPLOAD_RETRIES)
    where = f"s3://{bucket}/{prefix}".rstrip("/")
    uploaded = False
    try:
        try:
            present = obstore.head(store, manifest.payload)["size"] == size
        except FileNotFoundError:
            present = False
        if not present:
            with (Path(sealed_path) / manifest.payload).open("rb") as handle:
                source: BinaryIO | _ProgressReader = handle
                if progress is not None:
                    source = _ProgressReader(handle, size, progress)
                obstore.put(
                    store,
                    manifest.payload,
                    source,  # type: ignore[arg-type]
                    use_multipart=size > PART_SIZE,
                    chunk_size=PART_SIZE,
                    max_concurrency=concurrency,
                )
            uploaded = True
        # Last: only now may a reader find this version.
        obstore.put(store, mf.MANIFEST_FILE, manifest_bytes)
    except (StorageError, IntegrityError):
        raise
    except OSError as error:
        raise StorageError(f"{where}: upload failed ({error})") from None
    except Exception as error:  # noqa: BLE001 - obstore's error types all mean storage failed
        first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise StorageError(f"{where}: upload failed ({first})") from None
    return PublishReport(
        url=where,
        name=manifest.name,
        version=manifest.version,
        payload=manifest.payload,
        payload_bytes=size,
        payload_uploaded=uploaded,
        seconds=time.monotonic() - started,
    )
