"""Keys: Ed25519 signing keys, the local KEK, and wrapping of data keys.

The key-encryption key (KEK) wraps each archive's data key (DEK).

File formats (see ``docs/keys.md``): ``signing.key`` is a PKCS#8 PEM Ed25519
private key, ``signing.pub`` a SubjectPublicKeyInfo PEM public key, and
``data.kek`` one ASCII line ``coldseal-kek-v1 <base64 of 32 bytes>``. Files
holding secrets must not be readable by group or others.

Key ids are short public names for keys: the first 8 bytes, in hex, of
BLAKE3 in derive-key mode over the raw key under a context of its own. They
let a verifier say *which* key signed or which KEK is needed, without
revealing anything usable about the key.

The DEK is wrapped with AES-256-GCM under the KEK, with a random nonce and
the archive id as associated data, by the C core (the same OpenSSL EVP code
``cryptography`` would call): that way the unwrapped DEK lands in a
``bytearray`` that is wiped after use, never in an immutable ``bytes``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Self

from coldseal._atomic import write_all
from coldseal.errors import IntegrityError, StorageError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from coldseal._native import Secret
    from coldseal.format.manifest import WrappedDek
    from coldseal.keyproviders import DekContext

SIGNING_KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"
KEK_FILE = "data.kek"
KEK_MAGIC = "coldseal-kek-v1"
KEY_LEN = 32
WRAP_NONCE_LEN = 12
WRAPPED_DEK_LEN = WRAP_NONCE_LEN + KEY_LEN + 16
MAX_KEY_FILE = 16 << 10

_SIGNER_ID_CONTEXT = "coldseal v1 signer key id"
_KEK_ID_CONTEXT = "coldseal v1 kek id"
_WRAP_AAD_PREFIX = b"coldseal v1 dek wrap"


def key_id(context: str, raw: bytes | bytearray | Secret) -> str:
    """A 16-hex-digit public name for a key."""
    from coldseal import _native  # noqa: PLC0415 - loads the C core

    return _native.b3_hash(raw, mode=_native.MODE_DERIVE_KEY, key=context.encode(), length=8).hex()


def wipe(buf: bytearray) -> None:
    """Overwrite a secret held in a bytearray."""
    buf[:] = bytes(len(buf))


def _read_key_file(path: Path, *, secret: bool) -> bytearray:
    """Read a small key file into a bytearray the caller wipes; refuses secrets others may read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such key file") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read key file ({error.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path}: not a regular file")
    if secret and st.st_mode & 0o077:
        raise UsageError(
            f"{path} is readable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod 600 {path}"
        )
    if st.st_size > MAX_KEY_FILE:
        raise UsageError(f"{path}: {st.st_size} bytes is too large for a key file")
    data = bytearray(st.st_size + 1)  # one byte more: a file that grew is noticed
    try:
        with path.open("rb", buffering=0) as handle:
            n = handle.readinto(data)
    except OSError as error:
        wipe(data)
        raise UsageError(f"{path}: cannot read key file ({error.strerror})") from None
    if n is None or n > st.st_size:
        wipe(data)
        raise UsageError(f"{path}: changed while it was read")
    del data[n:]
    return data


class SigningKey:
    """An Ed25519 private key that signs manifests."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        """Wrap a ``cryptography`` Ed25519 private key."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        self._private = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = PublicKey(raw)
        self.key_id = self.public.key_id

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SigningKey:
        """Load a PEM (PKCS#8) Ed25519 private key; refuses loose permissions."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
        )

        path = Path(path)
        data = _read_key_file(path, secret=True)
        from cryptography.exceptions import (  # noqa: PLC0415
            InternalError,
            UnsupportedAlgorithm,
        )

        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm, InternalError):
            # cryptography raises all four for bytes that are not a usable key.
            raise UsageError(f"{path}: not an unencrypted PEM private key") from None
        finally:
            wipe(data)  # the PEM holds the seed; the key object keeps its own copy
        if not isinstance(private, Ed25519PrivateKey):
            raise UsageError(f"{path}: not an Ed25519 key")
        return cls(private)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private.sign(message)

    def __repr__(self) -> str:
        """Name the key by its id only."""
        return f"SigningKey(key_id={self.key_id!r})"


class PublicKey:
    """An Ed25519 public key a verifier trusts (or a signer's own)."""

    def __init__(self, raw: bytes) -> None:
        """From the 32 raw public key bytes."""
        if len(raw) != KEY_LEN:
            raise UsageError("an Ed25519 public key is 32 bytes")
        self.raw = bytes(raw)
        self.key_id = key_id(_SIGNER_ID_CONTEXT, self.raw)
        self._key: Ed25519PublicKey | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PublicKey:
        """Load a PEM SubjectPublicKeyInfo Ed25519 public key."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

        path = Path(path)
        data = _read_key_file(path, secret=False)
        from cryptography.exceptions import (  # noqa: PLC0415
            InternalError,
            UnsupportedAlgorithm,
        )

        try:
            key = serialization.load_pem_public_key(bytes(data))  # public: no need to wipe
        except (ValueError, TypeError, UnsupportedAlgorithm, InternalError):
            raise UsageError(f"{path}: not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise UsageError(f"{path}: not an Ed25519 public key")
        return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``message``."""
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

        if self._key is None:
            self._key = Ed25519PublicKey.from_public_bytes(self.raw)
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        """The key as SubjectPublicKeyInfo PEM."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )

        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        """Name the key by its id."""
        return f"PublicKey(key_id={self.key_id!r})"


class Kek:
    """A local key-encryption key: 32 secret bytes in protected C memory.

    The key lives in a :class:`~coldseal._native.Secret` (locked in RAM, left
    out of core dumps, wiped on :meth:`close`); it never exists as Python
    ``bytes``. A ``Kek`` is also a key provider (``coldseal.keyproviders``):
    it makes, wraps and unwraps the data keys of ``local-aes-256-gcm``
    archives.
    """

    scheme = "local-aes-256-gcm"

    def __init__(self, secret: Secret, *, source: str = "memory") -> None:
        """Take ownership of a 32-byte secret."""
        if len(secret) != KEY_LEN:
            secret.close()
            raise UsageError("a KEK is 32 bytes")
        self._secret = secret
        self.key_id = key_id(_KEK_ID_CONTEXT, secret)
        self.spec = source

    @classmethod
    def generate(cls) -> Kek:
        """A fresh random KEK, generated straight into protected memory."""
        from coldseal._native import Secret  # noqa: PLC0415

        return cls(Secret.random(KEY_LEN))

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | memoryview) -> Kek:
        """A KEK from raw bytes the caller already holds (and should wipe)."""
        from coldseal._native import Secret  # noqa: PLC0415

        if memoryview(raw).nbytes != KEY_LEN:
            raise UsageError("a KEK is 32 bytes")
        return cls(Secret.copy_of(raw))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Kek:
        """Load a ``data.kek`` file; refuses loose permissions and other formats."""
        from coldseal._secret_codec import b64decode_into_secret  # noqa: PLC0415

        path = Path(path)
        data = _read_key_file(path, secret=True)
        try:
            view = memoryview(data)
            end = len(data)
            while end and data[end - 1] in b" \t\r\n":
                end -= 1
            magic = KEK_MAGIC.encode() + b" "
            if not data.startswith(magic):
                raise UsageError(f"{path}: not a coldseal KEK file (expected '{KEK_MAGIC} ...')")
            try:
                secret = b64decode_into_secret(view[len(magic) : end])
            except UsageError:
                raise UsageError(f"{path}: the KEK is not valid base64") from None
            finally:
                view.release()
            if len(secret) != KEY_LEN:
                secret.close()
                raise UsageError(f"{path}: a KEK is {KEY_LEN} bytes, this one is not")
            return cls(secret, source=str(path))
        finally:
            wipe(data)

    def file_bytes(self) -> bytearray:
        """The contents of a ``data.kek`` file holding this key (wipe it after use)."""
        from coldseal._secret_codec import b64encode_secret, join_wiped  # noqa: PLC0415

        encoded = b64encode_secret(self._secret)
        try:
            return join_wiped(KEK_MAGIC.encode(), b" ", encoded, b"\n")
        finally:
            wipe(encoded)

    def wrap(self, dek: Secret | bytes | bytearray, archive_id: bytes) -> bytes:
        """Encrypt ``dek`` for the archive ``archive_id``: nonce || ciphertext || tag."""
        from coldseal import _native  # noqa: PLC0415

        nonce = os.urandom(WRAP_NONCE_LEN)
        sealed = _native.AeadContext(self._secret).seal(nonce, _WRAP_AAD_PREFIX + archive_id, dek)
        return nonce + sealed

    def unwrap(self, wrapped: bytes, archive_id: bytes) -> Secret:
        """The DEK in protected memory (close it after use); IntegrityError for a wrong KEK."""
        from coldseal import _native  # noqa: PLC0415

        if len(wrapped) != WRAPPED_DEK_LEN:
            raise IntegrityError("the wrapped data key has the wrong length")
        dek = _native.Secret(KEY_LEN)
        try:
            _native.AeadContext(self._secret).open_into(
                wrapped[:WRAP_NONCE_LEN],
                _WRAP_AAD_PREFIX + archive_id,
                wrapped[WRAP_NONCE_LEN:],
                dek,
            )
        except IntegrityError:
            dek.close()
            raise IntegrityError(
                f"the data key does not open with KEK {self.key_id} (wrong KEK?)"
            ) from None
        return dek

    # -- the key-provider interface (coldseal.keyproviders.KeyProvider) --

    def new_data_key(self, archive: DekContext) -> tuple[Secret, WrappedDek]:
        """A fresh random DEK for a new archive, and its wrapped form."""
        from coldseal import _native  # noqa: PLC0415

        dek = _native.Secret.random(KEY_LEN)
        try:
            return dek, self.wrap_data_key(dek, archive)
        except BaseException:
            dek.close()
            raise

    def wrap_data_key(self, dek: Secret, archive: DekContext) -> WrappedDek:
        """Wrap an existing DEK (rotation) under this KEK."""
        from coldseal.format.manifest import WrappedDek  # noqa: PLC0415

        return WrappedDek(self.scheme, self.key_id, self.wrap(dek, archive.archive_id))

    def unwrap_data_key(self, wrapped: WrappedDek, archive: DekContext) -> Secret:
        """Unwrap an archive's DEK; IntegrityError if it is not under this KEK."""
        if wrapped.scheme != self.scheme:
            raise UsageError(
                f"the data key is wrapped by {wrapped.scheme}, and this KEK is a local key file"
            )
        if wrapped.kek_id != self.key_id:
            raise IntegrityError(
                f"the data key is wrapped under KEK {wrapped.kek_id}, not the given "
                f"KEK {self.key_id}"
            )
        return self.unwrap(wrapped.wrapped, archive.archive_id)

    def close(self) -> None:
        """Wipe and release the key."""
        self._secret.close()

    def __enter__(self) -> Self:
        """Use as a context manager that wipes the key on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Wipe the key."""
        self.close()

    def __repr__(self) -> str:
        """Name the key by its id, never its bytes."""
        return f"Kek(key_id={self.key_id!r})"


def _write_new(path: Path, data: bytes | bytearray, mode: int) -> None:
    """Create ``path`` with ``mode`` from the first byte on; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UsageError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as error:
        raise StorageError(f"{path}: cannot create ({error.strerror})") from None
    try:
        try:
            write_all(fd, data)  # unbuffered: a buffered file keeps a copy of key text
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        path.unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot write ({error.strerror})") from None


def keygen(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Create signing.key (0600), signing.pub and data.kek (0600) in ``directory``."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    folder = Path(directory)
    paths = {
        "signing_key": folder / SIGNING_KEY_FILE,
        "public_key": folder / PUBLIC_KEY_FILE,
        "kek": folder / KEK_FILE,
    }
    for path in paths.values():
        if path.exists():
            raise UsageError(f"{path} already exists; refusing to overwrite a key")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{folder}: cannot create folder ({error.strerror})") from None
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kek = Kek.generate()
    try:
        _write_new(paths["signing_key"], pem, 0o600)
        _write_new(paths["public_key"], SigningKey(private).public.pem(), 0o644)
        kek_text = kek.file_bytes()
        try:
            _write_new(paths["kek"], kek_text, 0o600)
        finally:
            wipe(kek_text)
    except BaseException:
        for path in paths.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        kek.close()
    return paths
