"""Hazmat: the one module that touches the C core through cffi.

Nothing outside this module sees ``ffi`` or ``lib``. It reads the core's
constants once, maps the core's status codes to exceptions in one table, and
wraps each C entry point in a typed function that validates arguments in
Python (where the message can name the argument) and passes buffers without
copying. These wrappers are low level: they do no format parsing and keep no
policy; use :mod:`coldseal.hashing` and the archive API instead.

cffi releases the GIL around every call into ``lib``, so the wrappers that
touch bulk data run in parallel from Python threads. A context object
(:class:`ChunkContext`, :class:`Blake3Hasher`, ...) must be used by one thread
at a time; create one per thread.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Final, Self

from coldseal._core import ffi, lib
from coldseal._version import __version__
from coldseal.errors import (
    CoreError,
    IntegrityError,
    UnsupportedError,
    UsageError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

BytesLike = bytes | bytearray | memoryview

if ffi.string(lib.cs_version()).decode() != __version__:  # pragma: no cover - broken install
    raise ImportError(
        f"coldseal's C core is version {ffi.string(lib.cs_version()).decode()}, "
        f"the Python package {__version__}: reinstall coldseal"
    )

KEY_LEN: Final[int] = lib.CS_KEY_LEN
NONCE_LEN: Final[int] = lib.CS_NONCE_LEN
TAG_LEN: Final[int] = lib.CS_TAG_LEN
HASH_LEN: Final[int] = lib.CS_HASH_LEN
ARCHIVE_ID_LEN: Final[int] = lib.CS_ARCHIVE_ID_LEN
AAD_LEN: Final[int] = lib.CS_AAD_LEN
MIN_CHUNK: Final[int] = lib.CS_MIN_CHUNK
MAX_CHUNK: Final[int] = lib.CS_MAX_CHUNK
MAX_THREADS: Final[int] = lib.CS_MAX_THREADS
MAX_LEAVES: Final[int] = lib.CS_MAX_LEAVES

OK: Final[int] = lib.CS_OK
ERR_AUTH: Final[int] = lib.CS_ERR_AUTH
ERR_CORRUPT: Final[int] = lib.CS_ERR_CORRUPT
ERR_LIMIT: Final[int] = lib.CS_ERR_LIMIT
ERR_NOMEM: Final[int] = lib.CS_ERR_NOMEM
ERR_CRYPTO: Final[int] = lib.CS_ERR_CRYPTO
ERR_ARG: Final[int] = lib.CS_ERR_ARG
ERR_UNSUPPORTED: Final[int] = lib.CS_ERR_UNSUPPORTED
ERR_COMPRESS: Final[int] = lib.CS_ERR_COMPRESS
ERR_THREAD: Final[int] = lib.CS_ERR_THREAD

TIER_BEST: Final[int] = lib.CS_B3_TIER_BEST
TIER_PORTABLE: Final[int] = lib.CS_B3_TIER_PORTABLE
TIER_SSE41: Final[int] = lib.CS_B3_TIER_SSE41
TIER_AVX2: Final[int] = lib.CS_B3_TIER_AVX2
TIER_AVX512: Final[int] = lib.CS_B3_TIER_AVX512
TIER_NAMES: Final[dict[int, str]] = {
    TIER_PORTABLE: "portable",
    TIER_SSE41: "sse41",
    TIER_AVX2: "avx2",
    TIER_AVX512: "avx512",
}

MODE_HASH: Final[int] = lib.CS_B3_MODE_HASH
MODE_KEYED: Final[int] = lib.CS_B3_MODE_KEYED
MODE_DERIVE_KEY: Final[int] = lib.CS_B3_MODE_DERIVE_KEY

# Statuses that mean "the bytes cannot be trusted" when they come from opening
# or verifying data; the rest are misuse or environment failures.
_INTEGRITY_STATUSES: Final = frozenset({ERR_AUTH, ERR_CORRUPT, ERR_LIMIT})


def strerror(status: int) -> str:
    """The core's description of a status code."""
    return str(ffi.string(lib.cs_strerror(status)).decode())


def _raise(status: int, what: str, *, chunk: int | None = None, reading: bool = True) -> None:
    """The single place C statuses become exceptions (no-op for CS_OK).

    ``reading`` says whether the call consumed untrusted data (opening,
    verifying, decompressing): there a bound or decode failure means the data
    cannot be trusted. When producing data (sealing, compressing) the same
    statuses mean the caller passed something out of bounds.
    """
    if status == OK:
        return
    if status in _INTEGRITY_STATUSES and not reading:
        raise UsageError(f"{what}: {strerror(status)}")
    if status in _INTEGRITY_STATUSES:
        # Name the object, never the reason: which check failed is an oracle.
        raise IntegrityError(f"{what} failed verification", status=status, chunk=chunk)
    if status == ERR_NOMEM:
        raise MemoryError(f"{what}: {strerror(status)}")
    if status == ERR_UNSUPPORTED:
        raise UnsupportedError(f"{what}: {strerror(status)}")
    if status == ERR_ARG:
        raise UsageError(f"{what}: {strerror(status)}")
    raise CoreError(f"{what}: {strerror(status)}", status=status)


def _in(data: BytesLike | Secret) -> object:
    """A zero-copy C view of a readable buffer (or a secret's own memory)."""
    if isinstance(data, Secret):
        return data.held_pointer()
    return ffi.from_buffer(data)


def _out(buf: bytearray | memoryview | Secret) -> object:
    """A zero-copy C view of a writable buffer (or a secret's own memory)."""
    if isinstance(buf, Secret):
        return buf.held_pointer()
    return ffi.from_buffer(buf, require_writable=True)


def _check_len(name: str, data: BytesLike | Secret, length: int) -> None:
    if _nbytes(data) != length:
        raise UsageError(f"{name} must be {length} bytes")


def _nbytes(data: BytesLike | Secret) -> int:
    if isinstance(data, Secret):
        return len(data)
    return memoryview(data).nbytes


# ---- protected key memory ---------------------------------------------------

SECRET_MAX: Final[int] = lib.CS_SECRET_MAX
SECRET_LOCKED: Final[int] = lib.CS_SECRET_LOCKED
SECRET_NODUMP: Final[int] = lib.CS_SECRET_NODUMP
SECRET_WIPEONFORK: Final[int] = lib.CS_SECRET_WIPEONFORK


# Serialises close() of inherited secrets in a forked child, the one place
# that cannot take the secret's own lock (see Secret.close).
_CHILD_CLOSE_LOCK = threading.Lock()


class Secret:
    """Key bytes in C-owned memory: locked, left out of core dumps, wiped on close.

    Python code passes the handle itself to the core's functions (they accept
    a ``Secret`` wherever they take a key) instead of copying the bytes into
    ``bytes`` objects that the interpreter can neither lock nor wipe. The
    memory is released by :meth:`close` (or when the handle is collected).
    Every core call holds the secret for its duration (:class:`_Held`), so a
    ``close`` from another thread during a call waits for the call to end
    before the memory is wiped, and a later use raises ``UsageError``. After
    ``fork()`` the child's copy of the key is zeroed by the kernel, and using
    the handle there raises rather than computing with a blank key.
    """

    __slots__ = ("__weakref__", "_closing", "_len", "_lock", "_pid", "_ptr", "_s", "_users")

    def __init__(self, length: int) -> None:
        """``length`` zero bytes of protected memory."""
        if not 1 <= length <= SECRET_MAX:
            raise UsageError(f"a secret is 1 to {SECRET_MAX} bytes")
        holder = ffi.new("cs_secret **")
        _raise(lib.cs_secret_new(length, holder), "protected key memory")
        self._s: object = ffi.gc(holder[0], lib.cs_secret_free)
        self._ptr: object = lib.cs_secret_data(self._s)
        self._len = length
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False
        self._pid = os.getpid()

    @classmethod
    def random(cls, length: int) -> Secret:
        """``length`` bytes from the CSPRNG, generated straight into protected memory."""
        secret = cls(length)
        _raise(lib.cs_secret_random(secret._s), "random key")
        return secret

    @classmethod
    def copy_of(cls, data: BytesLike | Secret) -> Secret:
        """Protected copy of another secret, or of key bytes that had to arrive as a buffer."""
        secret = cls(_nbytes(data))
        with _Held(data, secret):
            ffi.memmove(_out(secret), _in(data), secret._len)
        return secret

    def _check_usable(self) -> None:
        if self._ptr is None or self._closing:
            raise UsageError("the key was already released")
        if os.getpid() != self._pid:
            raise UsageError(
                "a key loaded before fork() is blank in the child process; load it again there"
            )

    def pointer(self) -> object:
        """The C pointer to the bytes, for calls that keep the GIL; only for this module."""
        self._check_usable()
        return self._ptr

    def held_pointer(self) -> object:
        """The C pointer for a call made inside a :class:`_Held` block."""
        self._check_usable()
        if self._users <= 0:  # pragma: no cover - a wrapper forgot its _Held
            raise UsageError("internal error: a key was passed to the core without a hold")
        return self._ptr

    def acquire(self) -> None:
        """Count one more call using the memory (see :class:`_Held`)."""
        if os.getpid() != self._pid:
            # Before the lock: a parent thread may have held it at fork time,
            # and in the child it would never be released.
            self._check_usable()
        with self._lock:
            self._check_usable()
            self._users += 1

    def release(self) -> None:
        """End one call; the last one out performs a pending :meth:`close`."""
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._closing:
                self._free()

    def set_byte(self, index: int, value: int) -> None:
        """Write one byte (decoders fill a secret without a Python copy of it)."""
        if not 0 <= index < self._len:
            raise UsageError("secret index out of range")
        with _Held(self):
            self.held_pointer()[index] = value  # type: ignore[index]

    def byte(self, index: int) -> int:
        """Read one byte (encoders read a secret without a Python copy of it)."""
        if not 0 <= index < self._len:
            raise UsageError("secret index out of range")
        with _Held(self):
            return int(self.held_pointer()[index])  # type: ignore[index]

    def equals(self, other: Secret) -> bool:
        """Constant-time comparison of two secrets."""
        with _Held(self, other):
            return bool(lib.cs_secret_equal(self._s, other._s))

    @property
    def protections(self) -> frozenset[str]:
        """Which protections the kernel granted: locked, nodump, wipeonfork."""
        try:
            with _Held(self):
                flags = int(lib.cs_secret_flags(self._s))
        except UsageError:
            flags = 0
        names = {SECRET_LOCKED: "locked", SECRET_NODUMP: "nodump", SECRET_WIPEONFORK: "wipeonfork"}
        return frozenset(name for bit, name in names.items() if flags & bit)

    @property
    def closed(self) -> bool:
        """Whether the memory has been (or is about to be) wiped and released."""
        return self._ptr is None or self._closing

    def close(self) -> None:
        """Wipe, unlock and release the memory (idempotent).

        If a core call in another thread is using the key, the release
        happens when that call returns; new uses are refused at once.
        """
        if os.getpid() != self._pid:
            # In a child nothing is using the (blank) copy, and the parent's
            # lock may have been held at fork time: never take it here.
            with _CHILD_CLOSE_LOCK:
                if self._ptr is not None:
                    self._free()
            return
        with self._lock:
            if self._ptr is None or self._closing:
                return
            self._closing = True
            if self._users == 0:
                self._free()

    def _free(self) -> None:
        self._ptr = None
        ffi.gc(self._s, None)  # detach the collector's free: it happens now, once
        lib.cs_secret_free(self._s)

    def __len__(self) -> int:
        """The secret's length in bytes."""
        return self._len

    def __enter__(self) -> Self:
        """Use as a context manager that closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Wipe and release."""
        self.close()

    def __repr__(self) -> str:
        """Never the bytes."""
        return f"Secret({self._len} bytes{', closed' if self.closed else ''})"

    def __reduce__(self) -> str | tuple[object, ...]:
        """Refuse pickling: a key must not travel as bytes."""
        raise TypeError("a Secret cannot be pickled")


class _Held:
    """Hold every :class:`Secret` among ``items`` for the length of a core call.

    cffi releases the GIL during the call, so without the hold another thread
    could close the secret and the core would read unmapped memory.
    """

    __slots__ = ("_secrets",)

    def __init__(self, *items: object) -> None:
        self._secrets = [item for item in items if isinstance(item, Secret)]

    def __enter__(self) -> None:
        taken: list[Secret] = []
        try:
            for secret in self._secrets:
                secret.acquire()
                taken.append(secret)
        except BaseException:
            for secret in taken:
                secret.release()
            raise

    def __exit__(self, *exc: object) -> None:
        for secret in self._secrets:
            secret.release()


# ---- BLAKE3 -----------------------------------------------------------------


def b3_tier_available(tier: int) -> bool:
    """Whether a BLAKE3 tier is compiled in and runs on this CPU."""
    return bool(lib.cs_b3_tier_available(tier))


def b3_best_tier() -> int:
    """The tier the dispatcher picks on this CPU."""
    return int(lib.cs_b3_best_tier())


def _b3_key(mode: int, key: BytesLike | Secret | None) -> tuple[object, int]:
    """The key argument pair; call inside a ``_Held`` of ``key``."""
    if mode == MODE_HASH:
        return ffi.NULL, 0
    if key is None:
        raise UsageError("this BLAKE3 mode needs a key or context")
    if mode == MODE_KEYED:
        _check_len("key", key, KEY_LEN)
    return _in(key), _nbytes(key)


def b3_hash(
    data: BytesLike | Secret,
    *,
    mode: int = MODE_HASH,
    key: BytesLike | Secret | None = None,
    length: int = HASH_LEN,
    tier: int = TIER_BEST,
) -> bytes:
    """One-shot BLAKE3 of ``data`` in ``mode``; ``key`` is the key or the context."""
    if length < 0:
        raise UsageError("length must not be negative")
    out = bytearray(length)
    with _Held(data, key):
        kptr, klen = _b3_key(mode, key)
        rc = lib.cs_blake3_hash(tier, mode, kptr, klen, _in(data), _nbytes(data), _out(out), length)
    _raise(rc, "BLAKE3")
    return bytes(out)


class Blake3Hasher:
    """An incremental BLAKE3 hasher on a chosen tier."""

    def __init__(
        self,
        *,
        mode: int = MODE_HASH,
        key: BytesLike | Secret | None = None,
        tier: int = TIER_BEST,
    ) -> None:
        """Start a hasher in ``mode`` (see :func:`b3_hash`)."""
        holder = ffi.new("cs_blake3 **")
        with _Held(key):
            kptr, klen = _b3_key(mode, key)
            _raise(lib.cs_blake3_new(tier, mode, kptr, klen, holder), "BLAKE3 hasher")
        self._h = ffi.gc(holder[0], lib.cs_blake3_free)

    def update(self, data: BytesLike) -> None:
        """Absorb ``data``."""
        lib.cs_blake3_update(self._h, _in(data), _nbytes(data))

    def digest(self, length: int = HASH_LEN, *, seek: int = 0) -> bytes:
        """``length`` output bytes from offset ``seek``; the hasher stays usable."""
        if length < 0 or seek < 0:
            raise UsageError("length and seek must not be negative")
        out = bytearray(length)
        lib.cs_blake3_finalize(self._h, seek, _out(out), length)
        return bytes(out)

    def reset(self) -> None:
        """Forget all input, keeping mode and key."""
        lib.cs_blake3_reset(self._h)


# ---- AES-256-GCM ------------------------------------------------------------


class AeadContext:
    """AES-256-GCM under one key, keyed once and reused for many messages."""

    def __init__(self, key: BytesLike | Secret) -> None:
        """Key a context; the key schedule is cleansed when the object dies."""
        _check_len("key", key, KEY_LEN)
        holder = ffi.new("cs_aead **")
        with _Held(key):
            _raise(lib.cs_aead_new(_in(key), holder), "AES-GCM context")
        self._ctx = ffi.gc(holder[0], lib.cs_aead_free)

    def seal(self, nonce: BytesLike, aad: BytesLike, plaintext: BytesLike | Secret) -> bytes:
        """Encrypt; returns ciphertext || tag."""
        _check_len("nonce", nonce, NONCE_LEN)
        n = _nbytes(plaintext)
        out = bytearray(n + TAG_LEN)
        view = memoryview(out)
        with _Held(plaintext):
            rc = lib.cs_aead_seal(
                self._ctx,
                _in(nonce),
                _in(aad),
                _nbytes(aad),
                _in(plaintext),
                n,
                _out(view[:n]) if n else ffi.NULL,
                _out(view[n:]),
            )
        _raise(rc, "AES-GCM seal")
        return bytes(out)

    def open_into(
        self,
        nonce: BytesLike,
        aad: BytesLike,
        sealed: BytesLike,
        out: bytearray | memoryview | Secret,
    ) -> None:
        """Decrypt ciphertext || tag into ``out``; on a bad tag ``out`` is zeroed."""
        _check_len("nonce", nonce, NONCE_LEN)
        total = _nbytes(sealed)
        n = total - TAG_LEN
        if n < 0:
            raise IntegrityError("AES-GCM message failed verification", status=ERR_AUTH)
        if _nbytes(out) != n:
            raise UsageError(f"output buffer must be {n} bytes")
        view = memoryview(sealed)
        with _Held(out):
            rc = lib.cs_aead_open(
                self._ctx,
                _in(nonce),
                _in(aad),
                _nbytes(aad),
                _in(view[:n]) if n else ffi.NULL,
                n,
                _in(view[n:]),
                _out(out) if n else ffi.NULL,
            )
        _raise(rc, "AES-GCM message")

    def open(self, nonce: BytesLike, aad: BytesLike, sealed: BytesLike) -> bytes:
        """Decrypt ciphertext || tag; raises IntegrityError on a bad tag."""
        out = bytearray(max(0, _nbytes(sealed) - TAG_LEN))
        self.open_into(nonce, aad, sealed, out)
        return bytes(out)


# ---- zstd -------------------------------------------------------------------


class ZstdContext:
    """Reusable zstd compression and bounded decompression contexts."""

    def __init__(self, level: int = 3) -> None:
        """Contexts compressing at ``level``."""
        holder = ffi.new("cs_zstd **")
        _raise(lib.cs_zstd_new(level, holder), f"zstd level {level}")
        self._z = ffi.gc(holder[0], lib.cs_zstd_free)

    def compress(self, data: BytesLike) -> bytes:
        """One zstd frame holding ``data``, its size recorded in the header."""
        n = _nbytes(data)
        cap = int(lib.cs_zstd_bound(n))
        out = bytearray(cap)
        size = ffi.new("size_t *")
        rc = lib.cs_zstd_compress(self._z, _in(data), n, _out(out), cap, size)
        _raise(rc, "zstd", reading=False)
        del out[size[0] :]
        return bytes(out)

    def decompress(self, frame: BytesLike, size: int) -> bytes:
        """Decode one frame that must expand to exactly ``size`` bytes."""
        out = bytearray(size)
        dst = _out(out) if size else ffi.NULL
        rc = lib.cs_zstd_decompress(self._z, _in(frame), _nbytes(frame), dst, size)
        _raise(rc, "zstd frame")
        return bytes(out)


# ---- Merkle -------------------------------------------------------------------


def merkle_leaf(index: int, sealed: BytesLike) -> bytes:
    """The leaf hash of sealed chunk ``index``."""
    out = bytearray(HASH_LEN)
    _raise(lib.cs_merkle_leaf(index, _in(sealed), _nbytes(sealed), _out(out)), "Merkle leaf")
    return bytes(out)


def merkle_node(left: BytesLike, right: BytesLike) -> bytes:
    """The parent of two hashes."""
    _check_len("left", left, HASH_LEN)
    _check_len("right", right, HASH_LEN)
    out = bytearray(HASH_LEN)
    _raise(lib.cs_merkle_node(_in(left), _in(right), _out(out)), "Merkle node")
    return bytes(out)


def _leaf_count(leaves: BytesLike) -> int:
    n, rest = divmod(_nbytes(leaves), HASH_LEN)
    if rest:
        raise UsageError("leaves must be a whole number of 32-byte hashes")
    return n


def merkle_root(leaves: BytesLike) -> bytes:
    """The root over concatenated 32-byte leaves."""
    n = _leaf_count(leaves)
    out = bytearray(HASH_LEN)
    src = _in(leaves) if n else ffi.NULL
    _raise(lib.cs_merkle_root(src, n, _out(out)), "Merkle root")
    return bytes(out)


def merkle_tree_len(n: int) -> int:
    """Hashes in all rows of a tree of ``n`` leaves."""
    return int(lib.cs_merkle_tree_len(n))


def merkle_tree(leaves: BytesLike) -> bytes:
    """Every row of the tree, leaves first and root last, concatenated."""
    n = _leaf_count(leaves)
    out = bytearray(merkle_tree_len(n) * HASH_LEN)
    if n:
        _raise(lib.cs_merkle_tree(_in(leaves), n, _out(out)), "Merkle tree")
    return bytes(out)


def merkle_proof_len(index: int, n: int) -> int:
    """Sibling hashes in the proof of leaf ``index`` of ``n``."""
    return int(lib.cs_merkle_proof_len(index, n))


def merkle_proof(leaves: BytesLike, index: int) -> bytes:
    """The proof of leaf ``index``: sibling hashes from the leaf up."""
    n = _leaf_count(leaves)
    if not 0 <= index < n:
        raise UsageError(f"leaf index {index} outside a tree of {n}")
    count = merkle_proof_len(index, n)
    out = bytearray(count * HASH_LEN)
    dst = _out(out) if count else ffi.NULL
    _raise(lib.cs_merkle_proof(_in(leaves), n, index, dst, count), "Merkle proof")
    return bytes(out)


def merkle_verify(leaf: BytesLike, index: int, n: int, proof: BytesLike, root: BytesLike) -> None:
    """Raise IntegrityError unless ``proof`` puts ``leaf`` at ``index`` under ``root``."""
    _check_len("leaf", leaf, HASH_LEN)
    _check_len("root", root, HASH_LEN)
    count, rest = divmod(_nbytes(proof), HASH_LEN)
    if rest or not 0 <= index < n or count != merkle_proof_len(index, n):
        raise IntegrityError(f"Merkle proof of chunk {index} failed verification", chunk=index)
    src = _in(proof) if count else ffi.NULL
    rc = lib.cs_merkle_verify(_in(leaf), index, n, src, count, _in(root))
    _raise(rc, f"Merkle proof of chunk {index}", chunk=index)


# ---- fused chunks -------------------------------------------------------------


def sealed_bound(plain_len: int) -> int:
    """The largest sealed size of a chunk of ``plain_len`` bytes."""
    return int(lib.cs_sealed_bound(plain_len))


class ChunkContext:
    """Per-thread state for sealing and opening the chunks of one archive."""

    def __init__(
        self, dek: BytesLike | Secret, archive_id: BytesLike, max_chunk: int, level: int = 3
    ) -> None:
        """Key schedule, zstd contexts and scratch for chunks up to ``max_chunk`` bytes."""
        _check_len("data key", dek, KEY_LEN)
        _check_len("archive id", archive_id, ARCHIVE_ID_LEN)
        if not MIN_CHUNK <= max_chunk <= MAX_CHUNK:
            raise UsageError(f"chunk size must be between {MIN_CHUNK} and {MAX_CHUNK} bytes")
        holder = ffi.new("cs_chunk_ctx **")
        with _Held(dek):
            rc = lib.cs_chunk_ctx_new(_in(dek), _in(archive_id), max_chunk, level, holder)
        _raise(rc, "chunk context")
        self._ctx = ffi.gc(holder[0], lib.cs_chunk_ctx_free)
        self.max_chunk = max_chunk

    def seal_into(
        self, index: int, plain: BytesLike, out: bytearray | memoryview
    ) -> tuple[int, bytes]:
        """Seal chunk ``index`` into ``out``; returns (sealed length, leaf)."""
        n = _nbytes(plain)
        cap = memoryview(out).nbytes
        size = ffi.new("size_t *")
        leaf = bytearray(HASH_LEN)
        if not 0 < n <= self.max_chunk:
            raise UsageError(f"chunk {index} holds {n} bytes; chunks hold 1 to {self.max_chunk}")
        rc = lib.cs_seal_chunk(self._ctx, index, _in(plain), n, _out(out), cap, size, _out(leaf))
        _raise(rc, f"sealing chunk {index}", reading=False)
        return int(size[0]), bytes(leaf)

    def seal(self, index: int, plain: BytesLike) -> tuple[bytes, bytes]:
        """Seal chunk ``index``; returns (sealed bytes, leaf)."""
        out = bytearray(sealed_bound(_nbytes(plain)))
        size, leaf = self.seal_into(index, plain, out)
        del out[size:]
        return bytes(out), leaf

    def open_into(
        self, index: int, sealed: BytesLike, leaf: BytesLike, out: bytearray | memoryview
    ) -> None:
        """Verify and open chunk ``index`` into ``out`` (exactly its plaintext length)."""
        _check_len("leaf", leaf, HASH_LEN)
        n = memoryview(out).nbytes
        rc = lib.cs_open_chunk(
            self._ctx, index, _in(sealed), _nbytes(sealed), _in(leaf), _out(out), n
        )
        _raise(rc, f"chunk {index}", chunk=index)

    def open(self, index: int, sealed: BytesLike, leaf: BytesLike, plain_len: int) -> bytes:
        """Verify and open chunk ``index``; returns its ``plain_len`` plaintext bytes."""
        out = bytearray(plain_len)
        self.open_into(index, sealed, leaf, out)
        return bytes(out)


class OpenJob:
    """One chunk of a batch for :func:`open_chunks`."""

    __slots__ = ("index", "leaf", "out", "sealed")

    def __init__(
        self, index: int, sealed: BytesLike, leaf: BytesLike, out: bytearray | memoryview
    ) -> None:
        """A chunk to open: its index, sealed bytes, expected leaf and output buffer."""
        self.index = index
        self.sealed = sealed
        self.leaf = leaf
        self.out = out


def open_chunks(
    dek: BytesLike | Secret,
    archive_id: BytesLike,
    max_chunk: int,
    jobs: Sequence[OpenJob],
    threads: int,
) -> list[int]:
    """Open a batch on the core's own thread pool; returns each job's status.

    Raises the exception of the first failed job (in batch order) after every
    job has run; outputs of failed jobs are zeroed.
    """
    _check_len("data key", dek, KEY_LEN)
    _check_len("archive id", archive_id, ARCHIVE_ID_LEN)
    if not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"threads must be between 1 and {MAX_THREADS}")
    c_jobs = ffi.new("cs_open_job[]", len(jobs))
    # The C views must outlive the call, and must be released explicitly: a
    # from_buffer view left in a frame that a traceback keeps alive can be
    # torn down by the cycle collector after the memoryview it wraps, which
    # crashes CPython 3.11.
    views: list[object] = []
    try:
        for c_job, job in zip(c_jobs, jobs, strict=False):
            _check_len("leaf", job.leaf, HASH_LEN)
            views += [_in(job.sealed), _in(job.leaf), _out(job.out)]
            c_job.index = job.index
            c_job.sealed = views[-3]
            c_job.sealed_len = _nbytes(job.sealed)
            c_job.leaf = views[-2]
            c_job.out = views[-1]
            c_job.plain_len = memoryview(job.out).nbytes
        with _Held(dek):
            rc = lib.cs_open_chunks(
                _in(dek), _in(archive_id), max_chunk, c_jobs, len(jobs), threads
            )
        statuses = [int(c_job.status) for c_job in c_jobs]
    finally:
        for view in views:
            ffi.release(view)
        del views
    for job, status in zip(jobs, statuses, strict=False):
        _raise(status, f"chunk {job.index}", chunk=job.index)
    _raise(rc, "chunk batch")
    return statuses
