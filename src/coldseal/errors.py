"""The exception types coldseal raises, one per exit status of the CLI.

Every failure a caller can act on is one of three kinds, matching the exit
codes of the command-line contract: an :class:`IntegrityError` (exit 1) means
the archive cannot be trusted — tampering, a bad or untrusted signature, a
rollback, a wrong name or a wrong key; a :class:`UsageError` (exit 2) means
the caller asked for something invalid or gave unreadable input; a
:class:`StorageError` (exit 3) means bytes could not be read or written.
"""

from __future__ import annotations


class ColdsealError(Exception):
    """Base class of every error coldseal raises on purpose."""

    exit_code: int = 3


class IntegrityError(ColdsealError):
    """The data failed verification; nothing derived from it may be used."""

    exit_code = 1

    def __init__(
        self, message: str, *, status: int | None = None, chunk: int | None = None
    ) -> None:
        """Record the message and, when the core reported it, the status and chunk index."""
        super().__init__(message)
        self.status = status
        self.chunk = chunk


class UsageError(ColdsealError, ValueError):
    """The caller's request or input is invalid (bad option, unreadable file)."""

    exit_code = 2


class UnsupportedError(UsageError):
    """A feature this build or CPU lacks was asked for (a BLAKE3 tier, say)."""


class StorageError(ColdsealError, OSError):
    """Bytes could not be read from or written to storage."""

    exit_code = 3


class CoreError(ColdsealError):
    """The C core failed for a reason that is neither tampering nor misuse."""

    exit_code = 3

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Record the message and the core's status code."""
        super().__init__(message)
        self.status = status
