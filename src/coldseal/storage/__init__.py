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
        """The whole object; StorageError if missing, IntegrityError if over ``max_size``."""
        ...

    def size(self, name: str) -> int:
        """The object's size in bytes; StorageError if it is missing."""
        ...

    def read_into(self, name: str, offset: int, out: memoryview) -> None:
        """Fill ``out`` with the object's bytes from ``offset``; StorageError if short."""
        ...

    def fetch(self, name: str, offset: int, length: int) -> bytes | bytearray | memoryview:
        """Up to ``length`` bytes from ``offset`` in one request, pinning the object."""
        ...

    def close(self) -> None:
        """Release handles and connections."""
        ...

    @property
    def request_size(self) -> int:
        """Preferred bytes per read: small for local files, ~8 MiB for S3."""
        ...

    @property
    def concurrency(self) -> int:
        """Reads worth having in flight at once (0: one per CPU)."""
        ...

    def stats_json(self) -> dict[str, float]:
        """Requests made, bytes fetched, retries, time spent waiting on storage."""
        ...


def open_storage(
    source: str | os.PathLike[str],
    *,
    endpoint_url: str | None = None,
    deadline: float | None = None,
    request_size: int | None = None,
) -> Storage:
    """The backend for ``source``: a folder path, or an s3:// URL.

    ``deadline`` is a ``time.monotonic()`` value after which S3 reads fail
    with StorageError; ``endpoint_url`` overrides ``AWS_ENDPOINT_URL``;
    ``request_size`` sets the bytes per ranged GET on S3.
    """
    text = str(source)
    if text.startswith("s3://"):
        from coldseal.storage.s3 import S3Options, S3Storage  # noqa: PLC0415

        options = S3Options(endpoint_url=endpoint_url, deadline=deadline)
        if request_size is not None:
            options = S3Options(
                endpoint_url=endpoint_url, deadline=deadline, request_size=request_size
            )
        return S3Storage(text, options)
    if "://" in text:
        raise UsageError(f"{text}: only local folders and s3:// URLs are supported")
    from coldseal.storage.local import LocalStorage  # noqa: PLC0415

    return LocalStorage(text)
