"""Key providers: where the key-encryption key lives, chosen by a ``--kek`` value.

Every archive has its own random data key (DEK); a provider makes it at seal
time, wraps it under the KEK, and unwraps it at verify time. Three providers
sit behind the one :class:`KeyProvider` interface, picked by the URI-like
spec that ``--kek`` (and :func:`load_kek`) takes:

* ``PATH`` or ``file:PATH`` -- one local KEK file (``data.kek``);
* ``keyring:DIR`` -- a folder of KEK files named by key id, so archives
  wrapped under an older KEK still open during a rotation; new archives are
  wrapped under the one ``DIR/CURRENT`` names;
* ``kms:KEY_ID_OR_ARN`` -- an AWS KMS key: ``GenerateDataKey`` at seal,
  ``Decrypt`` at verify, with an encryption context that binds the archive's
  name and id. The KMS client is imported only when such a key is used.

Providers hand out DEKs as :class:`~coldseal._native.Secret` handles
(protected C memory), never as ``bytes``; the caller closes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from coldseal.errors import UsageError

if TYPE_CHECKING:
    from coldseal._native import Secret
    from coldseal.format.manifest import WrappedDek


@dataclass(frozen=True)
class DekContext:
    """What a wrapped data key is bound to: the archive's name and random id.

    ``deadline`` (a ``time.monotonic()`` value) bounds any remote call the
    provider makes for it, as ``verify --deadline`` bounds the whole run.
    """

    name: str
    archive_id: bytes
    deadline: float | None = None


class KeyProvider(Protocol):
    """Makes, wraps and unwraps archive data keys under one KEK (or a set of them)."""

    spec: str
    """The ``--kek`` value it was loaded from: printable, never secret."""

    def new_data_key(self, archive: DekContext) -> tuple[Secret, WrappedDek]:
        """A fresh DEK for a new archive and its wrapped form (one KMS call for KMS)."""
        ...

    def wrap_data_key(self, dek: Secret, archive: DekContext) -> WrappedDek:
        """Wrap an existing DEK (rotation)."""
        ...

    def unwrap_data_key(self, wrapped: WrappedDek, archive: DekContext) -> Secret:
        """Unwrap an archive's DEK; IntegrityError if it does not open."""
        ...

    def close(self) -> None:
        """Wipe any key material held."""
        ...


def load_kek(spec: str) -> KeyProvider:
    """The key provider a ``--kek`` value names (see the module docstring)."""
    if not spec:
        raise UsageError("--kek needs a value: a KEK file, keyring:DIR or kms:KEY_ID")
    if spec.startswith("kms:"):
        from coldseal.keyproviders.kms import KmsKey  # noqa: PLC0415 - only when used

        return KmsKey(spec.removeprefix("kms:"))
    if spec.startswith("keyring:"):
        from coldseal.keyproviders.keyring import Keyring  # noqa: PLC0415

        return Keyring(spec.removeprefix("keyring:"))
    from coldseal.keys import Kek  # noqa: PLC0415

    return Kek.load(spec.removeprefix("file:"))
