"""AWS KMS as the KEK: the data key is made and unwrapped inside KMS.

Seal calls ``GenerateDataKey`` (one call: a fresh AES-256 key in plaintext
and wrapped under the KMS key); verify calls ``Decrypt`` once; rotation to
KMS calls ``Encrypt``. Every call carries the encryption context
``{"coldseal:archive": NAME, "coldseal:archive-id": HEX}``, which KMS binds
into the ciphertext: a wrapped key copied into another archive's manifest
does not decrypt there, and CloudTrail logs name the archive.

The manifest records scheme ``aws-kms``, the ciphertext blob, and as
``kek_id`` the BLAKE3-derived id of the key ARN that KMS reports, so
``inspect`` and audit lines name the key without exposing the ARN.

The plaintext key arrives base64-encoded in the JSON answer. It is decoded
from the answer's own buffer straight into protected memory, and that part
of the buffer is overwritten before anything else parses it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from typing import TYPE_CHECKING, Any, Self

from coldseal.errors import IntegrityError, StorageError, UsageError
from coldseal.keyproviders._aws import AwsError, JsonClient
from coldseal.keys import KEY_LEN, key_id

if TYPE_CHECKING:
    from coldseal._native import Secret
    from coldseal.format.manifest import WrappedDek
    from coldseal.keyproviders import DekContext

SCHEME = "aws-kms"
_KMS_ID_CONTEXT = "coldseal v1 kms key id"
_ARN = re.compile(r"arn:(aws[a-z-]*):kms:([a-z0-9-]+):\d{12}:(key|alias)/[\w/.+=,@-]+")
_KEY_REF = re.compile(r"(alias/[\w/.+=,@-]{1,250}|[0-9a-fA-F-]{36}|mrk-[0-9a-f]{32})")
_INTEGRITY = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_USAGE = frozenset(
    {"ValidationException", "InvalidKeyUsageException", "UnsupportedOperationException"}
)


def kms_key_id(arn: str) -> str:
    """The 16-hex public id under which a manifest names a KMS key."""
    return key_id(_KMS_ID_CONTEXT, arn.encode())


def encryption_context(archive: DekContext) -> dict[str, str]:
    """The KMS encryption context binding a data key to its archive."""
    return {"coldseal:archive": archive.name, "coldseal:archive-id": archive.archive_id.hex()}


class KmsKey:
    """A KMS key (id, alias or ARN) as a key provider; one KMS call per operation."""

    scheme = SCHEME

    def __init__(self, ref: str) -> None:
        """Name the KMS key; nothing is imported or called until a key is needed."""
        match = _ARN.fullmatch(ref)
        if match is None and not _KEY_REF.fullmatch(ref):
            raise UsageError(f"kms:{ref[:80]}: not a KMS key id, alias/NAME or key ARN")
        self.ref = ref
        self.spec = f"kms:{ref}"
        region = match.group(2) if match else None
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise UsageError(f"{self.spec}: no region (set AWS_REGION or use the key's ARN)")
        suffix = "amazonaws.com.cn" if match and match.group(1) == "aws-cn" else "amazonaws.com"
        endpoint = (
            os.environ.get("AWS_ENDPOINT_URL_KMS")
            or os.environ.get("AWS_ENDPOINT_URL")
            or f"https://kms.{region}.{suffix}"
        )
        self.client = JsonClient(
            service="kms", target_prefix="TrentService", region=region, endpoint=endpoint
        )

    @property
    def calls(self) -> int:
        """How many requests this provider has sent to KMS (retries included)."""
        return self.client.calls

    def _call(self, action: str, body: bytes | bytearray, deadline: float | None) -> bytearray:
        try:
            return self.client.call(action, body, deadline=deadline)
        except AwsError as error:
            what = f"KMS {action} with key {self.ref}"
            if error.kind in _INTEGRITY:
                raise IntegrityError(
                    f"the data key does not open with {self.spec} ({error.kind})"
                ) from None
            if error.kind in _USAGE:
                raise UsageError(f"{what} refused: {error}") from None
            raise StorageError(f"{what} failed: {error}") from None

    def new_data_key(self, archive: DekContext) -> tuple[Secret, WrappedDek]:
        """GenerateDataKey: a fresh AES-256 DEK and its KMS ciphertext."""
        body = json.dumps(
            {
                "KeyId": self.ref,
                "KeySpec": "AES_256",
                "EncryptionContext": encryption_context(archive),
            }
        ).encode()
        answer = self._call("GenerateDataKey", body, archive.deadline)
        dek, doc = _take_plaintext(answer)
        try:
            return dek, self._wrapped(doc)
        except BaseException:
            dek.close()
            raise

    def wrap_data_key(self, dek: Secret, archive: DekContext) -> WrappedDek:
        """Encrypt: wrap an existing DEK (rotation into KMS)."""
        from coldseal._secret_codec import b64encode_secret, join_wiped  # noqa: PLC0415

        head = json.dumps(
            {"KeyId": self.ref, "EncryptionContext": encryption_context(archive)}
        ).encode()
        encoded = b64encode_secret(dek)
        body = join_wiped(head[:-1], b', "Plaintext": "', encoded, b'"}')
        try:
            answer = self._call("Encrypt", body, archive.deadline)
        finally:
            encoded[:] = bytes(len(encoded))
            body[:] = bytes(len(body))
        return self._wrapped(_parse(answer))

    def unwrap_data_key(self, wrapped: WrappedDek, archive: DekContext) -> Secret:
        """Decrypt: the archive's DEK, from one KMS call."""
        if wrapped.scheme != SCHEME:
            raise UsageError(
                f"the data key is wrapped by {wrapped.scheme}, not by AWS KMS ({self.spec})"
            )
        # A full key ARN names the key exactly: a mismatch needs no KMS call.
        exact = _ARN.fullmatch(self.ref) is not None and ":key/" in self.ref
        if exact and kms_key_id(self.ref) != wrapped.kek_id:
            raise IntegrityError(
                f"the data key is wrapped under KMS key {wrapped.kek_id}, not {self.spec}"
            )
        body = json.dumps(
            {
                "KeyId": self.ref,
                "CiphertextBlob": base64.b64encode(wrapped.wrapped).decode(),
                "EncryptionContext": encryption_context(archive),
            }
        ).encode()
        answer = self._call("Decrypt", body, archive.deadline)
        dek, doc = _take_plaintext(answer)
        arn = str(doc.get("KeyId", ""))
        if kms_key_id(arn) != wrapped.kek_id:
            dek.close()
            raise IntegrityError(
                f"KMS decrypted the data key with a key whose id is {kms_key_id(arn)}, "
                f"but the manifest names {wrapped.kek_id}"
            )
        return dek

    def _wrapped(self, doc: dict[str, Any]) -> WrappedDek:
        from coldseal.format.manifest import WrappedDek  # noqa: PLC0415

        arn, blob = doc.get("KeyId"), doc.get("CiphertextBlob")
        if not isinstance(arn, str) or not isinstance(blob, str):
            raise StorageError("KMS answered without KeyId or CiphertextBlob")
        try:
            ciphertext = base64.b64decode(blob, validate=True)
        except binascii.Error:
            raise StorageError("KMS answered with a ciphertext that is not base64") from None
        return WrappedDek(SCHEME, kms_key_id(arn), ciphertext)

    def close(self) -> None:
        """Nothing secret is held between calls."""

    def __enter__(self) -> Self:
        """Use as a context manager that wipes any key material on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Wipe any key material."""
        self.close()

    def __repr__(self) -> str:
        """The key reference (public)."""
        return f"KmsKey({self.ref!r})"


def _parse(answer: bytearray) -> dict[str, Any]:
    try:
        doc = json.loads(answer)
    except ValueError:
        raise StorageError("KMS answered with something that is not JSON") from None
    if not isinstance(doc, dict):
        raise StorageError("KMS answered with something that is not a JSON object")
    return doc


def _take_plaintext(answer: bytearray) -> tuple[Secret, dict[str, Any]]:
    """Decode the answer's Plaintext into protected memory, blank it, parse the rest."""
    from coldseal._secret_codec import b64decode_into_secret  # noqa: PLC0415

    try:
        marker = answer.find(b'"Plaintext"')
        colon = answer.find(b":", marker + 11) if marker >= 0 else -1
        start = answer.find(b'"', colon + 1) + 1 if colon >= 0 else 0
        end = answer.find(b'"', start) if start > 0 else -1
        if marker < 0 or colon < 0 or start <= 0 or end < 0 or answer[marker + 11 : colon].strip():
            raise StorageError("KMS answered without a plaintext data key")
        view = memoryview(answer)
        try:
            dek = b64decode_into_secret(view[start:end])
        except UsageError:
            raise StorageError("KMS answered with a plaintext key that is not base64") from None
        finally:
            view.release()
        answer[start:end] = b"A" * (end - start)
        if len(dek) != KEY_LEN:
            dek.close()
            raise StorageError(f"KMS returned a {len(dek)}-byte data key, not {KEY_LEN}")
        try:
            return dek, _parse(answer)
        except BaseException:
            dek.close()
            raise
    finally:
        answer[:] = bytes(len(answer))
