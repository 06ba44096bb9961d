"""BLAKE3 from coldseal's C core, with the same meaning as the ``blake3`` package.

``blake3(data)`` is the plain hash, ``blake3(data, key=k)`` the keyed hash
(``k`` is 32 bytes), ``blake3(data, derive_key_context=c)`` the key
derivation mode with context string ``c``; ``length`` asks for more (or
fewer) output bytes from the extendable output. The hashing runs with the
GIL released, on the fastest SIMD tier this CPU supports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coldseal import _native
from coldseal.errors import UsageError

if TYPE_CHECKING:
    from coldseal._native import BytesLike

__all__ = ["Blake3", "blake3"]


def _mode_and_key(
    key: BytesLike | None, derive_key_context: str | bytes | None
) -> tuple[int, BytesLike | None]:
    if key is not None and derive_key_context is not None:
        raise UsageError("give key or derive_key_context, not both")
    if key is not None:
        return _native.MODE_KEYED, key
    if derive_key_context is not None:
        context = (
            derive_key_context.encode("utf-8")
            if isinstance(derive_key_context, str)
            else derive_key_context
        )
        return _native.MODE_DERIVE_KEY, context
    return _native.MODE_HASH, None


def blake3(
    data: BytesLike,
    *,
    key: BytesLike | None = None,
    derive_key_context: str | bytes | None = None,
    length: int = 32,
) -> bytes:
    """Return ``length`` bytes of BLAKE3 output for ``data``.

    Exactly like ``blake3.blake3(data, key=..., derive_key_context=...).digest(length)``
    of the ``blake3`` package: plain hash by default, keyed hash with a 32-byte
    ``key``, key derivation with ``derive_key_context``.
    """
    mode, material = _mode_and_key(key, derive_key_context)
    return _native.b3_hash(data, mode=mode, key=material, length=length)


class Blake3:
    """An incremental BLAKE3 hasher; same modes as :func:`blake3`."""

    def __init__(
        self,
        data: BytesLike = b"",
        *,
        key: BytesLike | None = None,
        derive_key_context: str | bytes | None = None,
    ) -> None:
        """Start hashing, optionally with a first piece of ``data``."""
        mode, material = _mode_and_key(key, derive_key_context)
        self._hasher = _native.Blake3Hasher(mode=mode, key=material)
        if data:
            self._hasher.update(data)

    def update(self, data: BytesLike) -> Blake3:
        """Absorb more input; returns self so calls can be chained."""
        self._hasher.update(data)
        return self

    def digest(self, length: int = 32, *, seek: int = 0) -> bytes:
        """Output bytes ``seek`` to ``seek + length``; more input may follow."""
        return self._hasher.digest(length, seek=seek)

    def hexdigest(self, length: int = 32, *, seek: int = 0) -> str:
        """:meth:`digest` as lowercase hex."""
        return self.digest(length, seek=seek).hex()
