"""coldseal: seal code archives for S3 and verify them fast at cold start.

Importing this package is deliberately cheap, because a runtime pays for it
on every cold start: the C core, cryptography, S3 clients and rich are all
imported only when the function that needs them is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coldseal._version import __version__
from coldseal.errors import (
    ColdsealError,
    CoreError,
    IntegrityError,
    StorageError,
    UnsupportedError,
    UsageError,
)

if TYPE_CHECKING:
    from coldseal import hashing

__all__ = [
    "ColdsealError",
    "CoreError",
    "IntegrityError",
    "StorageError",
    "UnsupportedError",
    "UsageError",
    "__version__",
    "hashing",
]

_LAZY_MODULES = {"hashing"}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attributes of any kind
    """Import submodules on first use so that ``import coldseal`` stays cheap."""
    if name in _LAZY_MODULES:
        import importlib  # noqa: PLC0415 - deliberately lazy

        return importlib.import_module(f"coldseal.{name}")
    raise AttributeError(f"module 'coldseal' has no attribute {name!r}")
