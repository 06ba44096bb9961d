"""Where sealed archives live: one small interface, one module per backend.

A backend reads whole small objects (the manifest), sizes, and byte ranges
of large ones straight into a caller's buffer. ``open_storage`` picks the
backend from the source string: a local folder, or ``s3://bucket/prefix``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from coldseal.errors import UsageError

if TYPE_CHECKING:
    import os


class Storage(Protocol):
    """Read access to the objects of one sealed archive."""

    def describe(self, name: str) -> str:
        """A human-readable location of object ``name`` for messages."""
        ...

    def read_object(self, name: str, max_size: int) -> bytes:
        """The whole object; StorageError if missing, UsageError... if over ``max_size``."""
        ...

    def size(self, name: str) -> int:
        """The object's size in bytes; StorageError if it is missing."""
        ...

    def read_into(self, name: str, offset: int, out: memoryview) -> None:
        """Fill ``out`` with the object's bytes from ``offset``; StorageError if short."""
        ...

    def close(self) -> None:
        """Release handles and connections."""
        ...


def open_storage(source: str | os.PathLike[str]) -> Storage:
    """The backend for ``source``: a folder path, or an s3:// URL."""
    text = str(source)
    if text.startswith("s3://"):
        raise UsageError(f"{text}: S3 sources are not supported by this build yet")
    from coldseal.storage.local import LocalStorage  # noqa: PLC0415

    return LocalStorage(text)
