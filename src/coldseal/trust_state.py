"""The verifier's trust state: per archive name, the newest version seen.

A runtime that keeps this file can never be rolled back: verification
refuses a version below the recorded one, and refuses a *different* archive
(another id or Merkle root) claiming the recorded version, which would mean
two signed archives with one version number. The file is JSON, read and
rewritten under an exclusive lock and replaced atomically (write, fsync,
rename), so concurrent verifiers and crashes never leave it half written.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coldseal.errors import IntegrityError, StorageError, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from coldseal.format.manifest import Manifest

STATE_FORMAT = 1
MAX_STATE_BYTES = 16 << 20


def _load(path: Path) -> dict[str, Any]:
    try:
        # Read one byte past the limit, never the whole of an oversized file.
        with path.open("rb") as handle:
            data = handle.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StorageError(f"{path}: cannot read trust state ({error.strerror})") from None
    if not data:
        return {}
    if len(data) > MAX_STATE_BYTES:
        raise UsageError(f"{path}: trust state file is too large")
    try:
        doc = json.loads(data)
        if doc.get("format") != STATE_FORMAT or not isinstance(doc.get("archives"), dict):
            raise ValueError
    except (ValueError, AttributeError):
        raise UsageError(f"{path}: not a coldseal trust state file") from None
    archives: dict[str, Any] = doc["archives"]
    return archives


@contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Hold the state's lock; yields the archives dict, saved if the block succeeds."""
    state_path = Path(path)
    lock_path = state_path.with_name(state_path.name + ".lock")
    try:
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise StorageError(f"{lock_path}: cannot open lock ({error.strerror})") from None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        archives = _load(state_path)
        before = json.dumps(archives, sort_keys=True)
        yield archives
        if json.dumps(archives, sort_keys=True) != before:
            _save(state_path, archives)
    finally:
        os.close(lock_fd)


def _save(path: Path, archives: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps({"format": STATE_FORMAT, "archives": archives}, indent=1, sort_keys=True)
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(data + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot save trust state ({error.strerror})") from None


def check(archives: dict[str, Any], manifest: Manifest) -> None:
    """Refuse a rollback or an equivocating archive for the manifest's name."""
    seen = archives.get(manifest.name)
    if not isinstance(seen, dict):
        return
    version = seen.get("version")
    if not isinstance(version, int):
        return
    if manifest.version < version:
        raise IntegrityError(
            f"rollback: {manifest.name} version {manifest.version} is older than version "
            f"{version} already trusted"
        )
    if manifest.version == version and (
        seen.get("archive_id") != manifest.archive_id.hex()
        or seen.get("merkle_root") != manifest.merkle_root.hex()
    ):
        raise IntegrityError(
            f"{manifest.name} version {version} is already trusted with different contents"
        )


def record(archives: dict[str, Any], manifest: Manifest) -> None:
    """Remember the manifest as the newest trusted version of its name."""
    seen = archives.get(manifest.name)
    if (
        isinstance(seen, dict)
        and isinstance(seen.get("version"), int)
        and (seen["version"] > manifest.version)
    ):
        return
    archives[manifest.name] = {
        "version": manifest.version,
        "archive_id": manifest.archive_id.hex(),
        "merkle_root": manifest.merkle_root.hex(),
    }
