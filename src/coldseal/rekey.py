"""Rotating the key-encryption key of a sealed archive without touching its payload.

The data key is unwrapped with the old KEK, wrapped under the new one, and
the manifest — the same body but for its ``dek`` field — is re-signed and
replaced atomically (write, fsync, rename). The payload, the Merkle root and
the version are unchanged, so verifiers' trust state stays valid; the old
KEK no longer opens the archive, because the manifest names and carries only
the new wrapping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coldseal import audit
from coldseal._atomic import fsync_dir
from coldseal.errors import StorageError, UsageError
from coldseal.format import manifest as mf
from coldseal.keyproviders import DekContext
from coldseal.storage.local import LocalStorage
from coldseal.verifier import unwrap_dek

if TYPE_CHECKING:
    from collections.abc import Callable

    from coldseal.keyproviders import KeyProvider
    from coldseal.keys import SigningKey


@dataclass(frozen=True)
class RekeyReport:
    """What a rekey changed."""

    name: str
    version: int
    old_kek_id: str
    new_kek_id: str
    signers: list[str]


def rekey(
    sealed_path: str | os.PathLike[str],
    *,
    old_kek: KeyProvider,
    new_kek: KeyProvider,
    signing_keys: list[SigningKey],
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_violation: Callable[[dict[str, Any]], None] | None = None,
) -> RekeyReport:
    """Rewrap the archive's data key under ``new_kek`` and re-sign its manifest.

    ``on_event``/``on_violation`` receive the audit event, as for
    :func:`coldseal.verify`.
    """
    with audit.reporting("rekey", on_event, on_violation) as event:
        event["source"] = str(sealed_path)
        report = _rekey(
            sealed_path,
            old_kek=old_kek,
            new_kek=new_kek,
            signing_keys=signing_keys,
        )
        event.update(
            name=report.name,
            version=report.version,
            kek_id=report.new_kek_id,
            old_kek_id=report.old_kek_id,
            signers=report.signers,
        )
        return report


def _rekey(
    sealed_path: str | os.PathLike[str],
    *,
    old_kek: KeyProvider,
    new_kek: KeyProvider,
    signing_keys: list[SigningKey],
) -> RekeyReport:
    """The body of :func:`rekey`."""
    if not signing_keys:
        raise UsageError("at least one signing key is needed to re-sign the manifest")
    folder = Path(sealed_path)
    storage = LocalStorage(folder)
    try:
        signed = mf.decode(storage.read_object(mf.MANIFEST_FILE, mf.MAX_MANIFEST_BYTES))
    finally:
        storage.close()
    manifest = signed.manifest
    dek = unwrap_dek(old_kek, manifest)
    try:
        wrapped = new_kek.wrap_data_key(dek, DekContext(manifest.name, manifest.archive_id))
    finally:
        dek.close()
    if (wrapped.scheme, wrapped.kek_id) == (manifest.dek.scheme, manifest.dek.kek_id):
        raise UsageError("the new KEK is the same key as the old one")
    rekeyed = manifest.with_dek(wrapped)
    data = mf.sign(rekeyed, signing_keys).encode()
    target = folder / mf.MANIFEST_FILE
    tmp = folder / f".{mf.MANIFEST_FILE}.{os.getpid()}.tmp"
    try:
        with tmp.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)
        fsync_dir(folder)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"{target}: cannot replace the manifest ({error.strerror})") from None
    return RekeyReport(
        name=manifest.name,
        version=manifest.version,
        old_kek_id=manifest.dek.kek_id,
        new_kek_id=wrapped.kek_id,
        signers=sorted(k.key_id for k in signing_keys),
    )
