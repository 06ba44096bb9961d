"""Rotating the keys of a sealed archive without touching its payload.

KEK rotation: the data key is unwrapped with the old KEK, wrapped under the
new one, and the manifest — the same body but for its ``dek`` field — is
re-signed and replaced atomically (write, fsync, rename). The payload, the
Merkle root and the version are unchanged, so verifiers' trust state stays
valid; the old KEK no longer opens the archive, because the manifest names
and carries only the new wrapping. Without a new KEK the body is re-signed
unchanged: that is signing-key rotation (sign with the old and the new key
during a changeover).

Re-signing blesses the body, so the manifest must first verify under a key
the operator trusts: ``trust`` if given, else the public halves of the
signing keys themselves (the publisher re-signing its own archive). A
manifest edited since it was signed is refused, not re-signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coldseal import audit
from coldseal._atomic import replace_file
from coldseal.errors import IntegrityError, UsageError
from coldseal.format import manifest as mf
from coldseal.keyproviders import DekContext
from coldseal.storage.local import LocalStorage
from coldseal.verifier import check_policy, load_manifest, unwrap_dek

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Sequence

    from coldseal.keyproviders import KeyProvider
    from coldseal.keys import PublicKey, SigningKey


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
    old_kek: KeyProvider | None,
    new_kek: KeyProvider | None,
    signing_keys: list[SigningKey],
    trust: Sequence[PublicKey] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_violation: Callable[[dict[str, Any]], None] | None = None,
) -> RekeyReport:
    """Rewrap the archive's data key under ``new_kek`` (if given) and re-sign its manifest.

    The manifest must verify under ``trust`` (default: the signing keys'
    public halves) before anything is re-signed.

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
            trust=trust,
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
    old_kek: KeyProvider | None,
    new_kek: KeyProvider | None,
    signing_keys: list[SigningKey],
    trust: Sequence[PublicKey] | None,
) -> RekeyReport:
    """The body of :func:`rekey`."""
    if not signing_keys:
        raise UsageError("at least one signing key is needed to re-sign the manifest")
    folder = Path(sealed_path)
    storage = LocalStorage(folder)
    try:
        signed = load_manifest(storage)
    finally:
        storage.close()
    manifest = signed.manifest
    trusted = list(trust) if trust else [key.public for key in signing_keys]
    try:
        # Expiry is not rekey's business: an expired archive may be rewrapped.
        check_policy(signed, trusted, allow_expired=True)
    except IntegrityError as error:
        raise IntegrityError(
            f"{folder / mf.MANIFEST_FILE}: {error}; refusing to re-sign it"
        ) from None
    wrapped = manifest.dek
    if new_kek is not None:
        if old_kek is None:
            raise UsageError("rewrapping the data key needs the old KEK (--kek) too")
        dek = unwrap_dek(old_kek, manifest)
        try:
            wrapped = new_kek.wrap_data_key(dek, DekContext(manifest.name, manifest.archive_id))
        finally:
            dek.close()
        if (wrapped.scheme, wrapped.kek_id) == (manifest.dek.scheme, manifest.dek.kek_id):
            raise UsageError("the new KEK is the same key as the old one")
    rekeyed = manifest.with_dek(wrapped)
    data = mf.sign(rekeyed, signing_keys).encode()
    replace_file(folder / mf.MANIFEST_FILE, data, 0o644, "replace the manifest")
    return RekeyReport(
        name=manifest.name,
        version=manifest.version,
        old_kek_id=manifest.dek.kek_id,
        new_kek_id=wrapped.kek_id,
        signers=sorted(k.key_id for k in signing_keys),
    )
