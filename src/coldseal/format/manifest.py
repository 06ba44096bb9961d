"""The signed manifest: the one small object that fixes everything else.

On disk (``manifest.json``) it is canonical JSON of an envelope::

    {"manifest": {...body...}, "signatures": [{"key_id": ..., "signature": ...}]}

Each signature is Ed25519 over ``SIGNING_DOMAIN || canonical(body)``. The
body's fields and their bounds are listed in ``docs/FORMAT.md``; parsing
rejects unknown format versions, unknown suites, missing or unknown fields,
and any value outside its bound, before any of it is used.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from coldseal import _native
from coldseal.errors import IntegrityError
from coldseal.format import canonical

if TYPE_CHECKING:
    from coldseal.keys import PublicKey, SigningKey

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 10
MAX_SIGNATURES = 16
SIGNING_DOMAIN = b"coldseal manifest v1\n"
CIPHER_SUITE = "aes-256-gcm"
COMPRESSION_SUITE = "zstd"
HASH_SUITE = "blake3"
DEK_SCHEME_LOCAL = "local-aes-256-gcm"
DEK_SCHEME_KMS = "aws-kms"
KNOWN_DEK_SCHEMES = frozenset({DEK_SCHEME_LOCAL, DEK_SCHEME_KMS})
ARCHIVE_ID_LEN = 16
HASH_LEN = 32
MIN_CHUNK = 4096
MAX_CHUNK = 16 << 20
MAX_CHUNKS = 1 << 28
MAX_PLAIN_SIZE = 1 << 40
MAX_INDEX_SIZE = 256 << 20
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]{0,127}")
KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
MAX_VERSION = (1 << 53) - 1

_BODY_FIELDS = frozenset(
    {
        "format",
        "name",
        "archive_id",
        "version",
        "created",
        "expires",
        "plain_size",
        "chunk_size",
        "chunk_count",
        "payload",
        "payload_size",
        "table_offset",
        "tree_offset",
        "table_hash",
        "index_offset",
        "index_size",
        "index_sealed_offset",
        "merkle_root",
        "cipher",
        "compression",
        "hash",
        "dek",
    }
)
_DEK_FIELDS = frozenset({"scheme", "kek_id", "wrapped"})


class ManifestError(IntegrityError):
    """A manifest that is malformed, out of bounds or of an unknown kind."""


def payload_name(archive_id: bytes) -> str:
    """The payload object's name: unique to the archive, so versions never collide."""
    return f"payload-{archive_id.hex()}.bin"


@dataclass(frozen=True)
class WrappedDek:
    """The archive's data key, encrypted under a KEK named by ``kek_id``."""

    scheme: str
    kek_id: str
    wrapped: bytes


@dataclass(frozen=True)
class Manifest:
    """The manifest's body: every public fact about one sealed archive."""

    name: str
    archive_id: bytes
    version: int
    created: int
    expires: int | None
    plain_size: int
    chunk_size: int
    chunk_count: int
    payload_size: int
    table_offset: int
    tree_offset: int
    table_hash: bytes
    index_offset: int
    index_size: int
    index_sealed_offset: int
    merkle_root: bytes
    dek: WrappedDek
    format: int = FORMAT_VERSION
    cipher: str = CIPHER_SUITE
    compression: str = COMPRESSION_SUITE
    hash: str = HASH_SUITE

    @property
    def payload(self) -> str:
        """The payload object's name."""
        return payload_name(self.archive_id)

    def chunk_plain_len(self, index: int) -> int:
        """Plaintext bytes in chunk ``index`` (the last one may be short)."""
        return min(self.chunk_size, self.plain_size - index * self.chunk_size)

    def to_json(self) -> dict[str, Any]:
        """The body as a JSON-ready dict."""
        return {
            "format": self.format,
            "name": self.name,
            "archive_id": self.archive_id.hex(),
            "version": self.version,
            "created": self.created,
            "expires": self.expires,
            "plain_size": self.plain_size,
            "chunk_size": self.chunk_size,
            "chunk_count": self.chunk_count,
            "payload": self.payload,
            "payload_size": self.payload_size,
            "table_offset": self.table_offset,
            "tree_offset": self.tree_offset,
            "table_hash": self.table_hash.hex(),
            "index_offset": self.index_offset,
            "index_size": self.index_size,
            "index_sealed_offset": self.index_sealed_offset,
            "merkle_root": self.merkle_root.hex(),
            "cipher": self.cipher,
            "compression": self.compression,
            "hash": self.hash,
            "dek": {
                "scheme": self.dek.scheme,
                "kek_id": self.dek.kek_id,
                "wrapped": base64.b64encode(self.dek.wrapped).decode("ascii"),
            },
        }

    def canonical_body(self) -> bytes:
        """The canonical bytes of the body."""
        return canonical.encode(self.to_json())

    def signing_message(self) -> bytes:
        """What each signature covers."""
        return SIGNING_DOMAIN + self.canonical_body()

    def with_dek(self, dek: WrappedDek) -> Manifest:
        """The same manifest with another wrapped DEK (rekey)."""
        return replace(self, dek=dek)


@dataclass(frozen=True)
class SignedManifest:
    """A manifest body and its signatures, as stored."""

    manifest: Manifest
    signatures: dict[str, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The canonical bytes of ``manifest.json``."""
        return canonical.encode(
            {
                "manifest": self.manifest.to_json(),
                "signatures": [
                    {"key_id": key_id, "signature": base64.b64encode(sig).decode("ascii")}
                    for key_id, sig in sorted(self.signatures.items())
                ],
            }
        )

    def trusted_signers(self, trusted: list[PublicKey]) -> list[str]:
        """Ids of the trusted keys whose signature over this body verifies."""
        message = self.manifest.signing_message()
        good = []
        for key in trusted:
            sig = self.signatures.get(key.key_id)
            if sig is not None and key.verify(sig, message) and key.key_id not in good:
                good.append(key.key_id)
        return good


def sign(manifest: Manifest, keys: list[SigningKey]) -> SignedManifest:
    """Sign ``manifest`` with every key in ``keys``."""
    message = manifest.signing_message()
    return SignedManifest(manifest, {key.key_id: key.sign(message) for key in keys})


# ---- parsing ----------------------------------------------------------------


def _fail(message: str) -> ManifestError:
    return ManifestError(f"manifest: {message}")


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(f"{name} must be an integer from {low} to {high}")
    return value


def _str(body: dict[str, Any], name: str, max_len: int = 256) -> str:
    value = body[name]
    if not isinstance(value, str) or len(value) > max_len:
        raise _fail(f"{name} must be a string of at most {max_len} characters")
    return value


_HEX_RE = re.compile(r"[0-9a-f]*")


def _hex(body: dict[str, Any], name: str, length: int) -> bytes:
    value = _str(body, name, 2 * length)
    # A pattern, not bytes.fromhex alone: fromhex skips whitespace, so
    # "00 11 ..." of the right length would decode to fewer bytes.
    if len(value) != 2 * length or not _HEX_RE.fullmatch(value):
        raise _fail(f"{name} must be {2 * length} lowercase hex digits")
    return bytes.fromhex(value)


def _b64(value: object, name: str, max_len: int) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * math.ceil(max_len / 3):
        raise _fail(f"{name} must be base64 of at most {max_len} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{name} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise _fail(f"{name} is not canonical base64")
    return raw


def _exact_fields(obj: object, expected: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _fail(f"{what} must be an object")
    keys = set(obj)
    if keys != expected:
        unknown = sorted(keys - expected)
        missing = sorted(expected - keys)
        detail = (f"unknown field(s) {', '.join(unknown)}" if unknown else "") + (
            f"{'; ' if unknown else ''}missing field(s) {', '.join(missing)}" if missing else ""
        )
        raise _fail(f"{what}: {detail}")
    return obj


def parse_body(obj: object) -> Manifest:
    """Validate a decoded body and build a Manifest, or raise ManifestError."""
    if not isinstance(obj, dict):
        raise _fail("body must be an object")
    fmt = obj.get("format")
    if isinstance(fmt, bool) or fmt != FORMAT_VERSION:  # JSON true == 1 in Python
        raise _fail(f"unknown format version {fmt!r} (this coldseal reads {FORMAT_VERSION})")
    body = _exact_fields(obj, _BODY_FIELDS, "body")
    for name, known in (
        ("cipher", CIPHER_SUITE),
        ("compression", COMPRESSION_SUITE),
        ("hash", HASH_SUITE),
    ):
        if body[name] != known:
            raise _fail(f"unknown {name} suite {str(body[name])[:40]!r}")
    name = _str(body, "name", 128)
    if not NAME_RE.fullmatch(name):
        raise _fail("name has characters outside A-Z a-z 0-9 . _ + @ -")
    archive_id = _hex(body, "archive_id", ARCHIVE_ID_LEN)
    version = _int(body, "version", 0, MAX_VERSION)
    created = _int(body, "created", 0, MAX_VERSION)
    expires = None if body["expires"] is None else _int(body, "expires", 0, MAX_VERSION)
    plain_size = _int(body, "plain_size", 0, MAX_PLAIN_SIZE)
    chunk_size = _int(body, "chunk_size", MIN_CHUNK, MAX_CHUNK)
    chunk_count = _int(body, "chunk_count", 0, MAX_CHUNKS)
    if chunk_count != -(-plain_size // chunk_size):
        raise _fail("chunk_count does not match plain_size and chunk_size")
    if body["payload"] != payload_name(archive_id):
        raise _fail("payload does not name this archive's payload")
    payload_size = _int(body, "payload_size", 0, MAX_PLAIN_SIZE + (MAX_CHUNKS << 7))
    table_offset = _int(body, "table_offset", 0, payload_size)
    tree_offset = _int(body, "tree_offset", 0, payload_size)
    if not chunk_count * 17 <= table_offset <= plain_size + chunk_count * 16:
        raise _fail("table_offset is outside what the chunks can occupy")
    if tree_offset != table_offset + 8 * chunk_count:
        raise _fail("tree_offset does not follow the chunk table")
    if payload_size != tree_offset + HASH_LEN * _native.merkle_tree_len(chunk_count):
        raise _fail("payload_size does not match the chunk table and tree")
    index_offset = _int(body, "index_offset", 0, plain_size)
    index_size = _int(body, "index_size", 0, MAX_INDEX_SIZE)
    if index_offset + index_size != plain_size:
        raise _fail("the file index must end the logical stream")
    index_sealed_offset = _int(body, "index_sealed_offset", 0, table_offset)
    dek_obj = _exact_fields(body["dek"], _DEK_FIELDS, "dek")
    scheme = dek_obj["scheme"]
    if scheme not in KNOWN_DEK_SCHEMES:
        raise _fail(f"unknown key scheme {str(scheme)[:40]!r}")
    kek_id = dek_obj["kek_id"]
    if not isinstance(kek_id, str) or not KEY_ID_RE.fullmatch(kek_id):
        raise _fail("dek.kek_id must be 16 lowercase hex digits")
    wrapped = _b64(dek_obj["wrapped"], "dek.wrapped", 1024)
    manifest = Manifest(
        name=name,
        archive_id=archive_id,
        version=version,
        created=created,
        expires=expires,
        plain_size=plain_size,
        chunk_size=chunk_size,
        chunk_count=chunk_count,
        payload_size=payload_size,
        table_offset=table_offset,
        tree_offset=tree_offset,
        table_hash=_hex(body, "table_hash", HASH_LEN),
        index_offset=index_offset,
        index_size=index_size,
        index_sealed_offset=index_sealed_offset,
        merkle_root=_hex(body, "merkle_root", HASH_LEN),
        dek=WrappedDek(scheme, kek_id, wrapped),
    )
    # Signatures are checked over the re-encoded body; a body with two byte
    # forms of one meaning (true for 1, say) would make signed bytes malleable.
    if canonical.encode(manifest.to_json()) != canonical.encode(body):
        raise _fail("body is not in the one form coldseal writes")
    return manifest


def decode(data: bytes) -> SignedManifest:
    """Parse ``manifest.json`` bytes strictly, or raise ManifestError."""
    try:
        obj = canonical.decode(data, max_size=MAX_MANIFEST_BYTES)
    except canonical.CanonicalError as error:
        raise _fail(str(error)) from None
    envelope = _exact_fields(obj, frozenset({"manifest", "signatures"}), "envelope")
    manifest = parse_body(envelope["manifest"])
    sigs = envelope["signatures"]
    if not isinstance(sigs, list) or len(sigs) > MAX_SIGNATURES:
        raise _fail(f"signatures must be a list of at most {MAX_SIGNATURES}")
    signatures: dict[str, bytes] = {}
    for entry in sigs:
        item = _exact_fields(entry, frozenset({"key_id", "signature"}), "signature")
        key_id = item["key_id"]
        if not isinstance(key_id, str) or not KEY_ID_RE.fullmatch(key_id):
            raise _fail("signature key_id must be 16 lowercase hex digits")
        if key_id in signatures:
            raise _fail(f"two signatures by key {key_id}")
        sig = _b64(item["signature"], "signature", 64)
        if len(sig) != 64:
            raise _fail("an Ed25519 signature is 64 bytes")
        signatures[key_id] = sig
    if [s["key_id"] for s in sigs] != sorted(signatures):
        raise _fail("signatures are not sorted by key id")
    return SignedManifest(manifest, signatures)
