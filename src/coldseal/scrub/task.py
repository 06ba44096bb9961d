"""The scrub task: verify a batch of archives, turn every outcome into a record.

This function is what runs on a worker, a thread of the local engine or a
Dask worker process alike, so both engines run one code path. Its inputs are
only names and options: archive URLs, the public trust keys, and the KEK
*spec* (today a key-file path), which the worker resolves in its own
environment; no archive bytes and no secret ever travel through a scheduler.
Each archive is verified by :func:`coldseal.verifier.verify`, the same engine
as ``coldseal verify``, with its own storage deadline; every verdict is data
(a :class:`Record`), so one bad archive never fails its batch.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from coldseal.errors import ColdsealError, IntegrityError, StorageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from obstore.store import S3Store

    from coldseal.keyproviders import KeyProvider
    from coldseal.keys import PublicKey

# A storage deadline per archive unless the caller sets one: generous for the
# request round trips, plus time for the bytes at a slow but healthy rate.
AUTO_DEADLINE_BASE_S = 60.0
AUTO_DEADLINE_RATE = 4 << 20  # bytes per second


class Status(StrEnum):
    """One archive's verdict."""

    OK = "ok"
    INTEGRITY = "integrity"  # tampered, bad signature, wrong key: exit 1
    STORAGE = "storage"  # missing object, network, deadline: exit 3
    INCOMPLETE = "incomplete"  # a payload under a prefix without a manifest
    EXPIRED = "expired"  # intact, but past the manifest's expiry
    EXPIRING = "expiring"  # intact, expires within the window asked for
    ERROR = "error"  # the check itself failed (KEK not loadable, crash)

    def __str__(self) -> str:
        """The value, as written in reports."""
        return self.value


@dataclass(frozen=True)
class ArchiveRef:
    """An archive found in the listing: its URL and the bytes listed under it."""

    url: str
    bytes: int


@dataclass
class Record:
    """The report line for one archive."""

    url: str
    status: Status
    bytes: int
    seconds: float = 0.0
    worker: str = ""
    name: str | None = None
    version: int | None = None
    reason: str | None = None
    kek_id: str | None = None
    expires: int | None = None
    decrypted: bool | None = None
    attempts: int = 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (status as its string)."""
        body = asdict(self)
        body["status"] = self.status.value
        return body


@dataclass(frozen=True)
class Options:
    """What every task needs: small, picklable, and free of secrets."""

    trust: tuple[bytes, ...]  # raw Ed25519 public keys
    kek: str | None = None  # the KEK spec, resolved on the worker; None: keyless
    endpoint_url: str | None = None
    threads: int = 1  # verify threads per archive; tasks run side by side
    threshold: int = 1
    archive_deadline: float | None = None  # seconds; None: AUTO_DEADLINE_*
    expiring_within: float = 0.0  # seconds; 0: no "expiring" verdict
    now: float = field(default_factory=time.time)  # one clock for the whole run

    def deadline_for(self, size: int) -> float:
        """The storage deadline, in seconds, for an archive of ``size`` bytes."""
        if self.archive_deadline is not None:
            return self.archive_deadline
        return AUTO_DEADLINE_BASE_S + size / AUTO_DEADLINE_RATE


def _load_kek(spec: str) -> KeyProvider:
    """The key provider a ``--kek`` spec names, from this worker's own environment.

    The one place scrub turns a spec into keys: a KEK file, ``keyring:DIR``
    (a mixed bucket wrapped under several KEKs) or ``kms:KEY`` (one Decrypt
    per archive, with the worker's own AWS credentials). Only the spec
    string travels through the scheduler, never key material.
    """
    from coldseal.keyproviders import load_kek  # noqa: PLC0415

    return load_kek(spec)


def worker_name() -> str:
    """Who runs this task: the Dask worker's address, else host, pid and thread."""
    if "distributed" in sys.modules:  # never import it here: the local engine must not
        try:
            worker = sys.modules["distributed"].get_worker()
        except ValueError:  # not inside a Dask worker
            pass
        else:
            return str(worker.name if isinstance(worker.name, str) else worker.address)
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def scrub_batch(batch: Sequence[ArchiveRef], options: Options) -> list[Record]:
    """Verify each archive of ``batch``; one record per archive, in order.

    Verdicts (integrity, storage, expiry) are records, never exceptions; an
    exception escaping this function means the task itself broke, and the
    driver re-runs the batch one archive per task to isolate the cause.
    """
    from coldseal.keys import PublicKey  # noqa: PLC0415
    from coldseal.storage.s3 import make_store, parse_url  # noqa: PLC0415

    worker = worker_name()
    trust = [PublicKey(raw) for raw in options.trust]
    kek: KeyProvider | None = None
    if options.kek is not None:
        try:
            kek = _load_kek(options.kek)
        except ColdsealError as error:
            reason = f"cannot load the KEK on worker {worker}: {error}"
            return [
                Record(r.url, Status.ERROR, r.bytes, worker=worker, reason=reason) for r in batch
            ]
    # One S3 client per bucket: making one costs 30-100 ms, a small archive's
    # whole verify ~30 ms. make_store caches per process by settings and
    # current credentials, so rotated credentials get a new client.
    stores: dict[str, S3Store] = {}
    try:
        for ref in batch:
            bucket = parse_url(ref.url)[0]
            if bucket not in stores:
                stores[bucket] = make_store(bucket, "", options.endpoint_url)
        return [_scrub_one(ref, options, trust, kek, worker, stores) for ref in batch]
    finally:
        if kek is not None:
            kek.close()


def _scrub_one(
    ref: ArchiveRef,
    options: Options,
    trust: list[PublicKey],
    kek: KeyProvider | None,
    worker: str,
    stores: dict[str, S3Store],
) -> Record:
    from coldseal.storage.s3 import S3Options, S3Storage, parse_url  # noqa: PLC0415
    from coldseal.verifier import verify  # noqa: PLC0415

    started = time.monotonic()
    record = Record(ref.url, Status.OK, ref.bytes, worker=worker, decrypted=kek is not None)
    try:
        until = started + options.deadline_for(ref.bytes)
        s3 = S3Options(endpoint_url=options.endpoint_url, deadline=until)
        storage = S3Storage(ref.url, s3, bucket_store=stores[parse_url(ref.url)[0]])
        report = verify(
            ref.url,
            storage=storage,
            trust=trust,
            kek=kek,
            threads=options.threads,
            threshold=options.threshold,
            allow_expired=True,
        )
    except IntegrityError as error:
        record.status, record.reason = Status.INTEGRITY, str(error)
    except StorageError as error:
        record.status, record.reason = Status.STORAGE, str(error)
    except ColdsealError as error:
        record.status, record.reason = Status.ERROR, str(error)
    except OSError as error:
        record.status, record.reason = Status.STORAGE, f"{error.strerror or error}"
    except Exception as error:  # noqa: BLE001 - a bug in one archive's check is that archive's verdict
        record.status = Status.ERROR
        record.reason = f"internal error, please report: {type(error).__name__}: {error}"
    else:
        record.name, record.version = report.name, report.version
        record.bytes, record.kek_id = report.sealed_bytes, report.kek_id
        record.expires = report.expires
        if report.expires is not None and report.expires <= options.now:
            record.status = Status.EXPIRED
            record.reason = f"expired at {_utc(report.expires)}"
        elif report.expires is not None and report.expires <= options.now + options.expiring_within:
            record.status = Status.EXPIRING
            record.reason = f"expires at {_utc(report.expires)}"
    record.seconds = round(time.monotonic() - started, 6)
    return record


def _utc(when: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(when))
