"""coldseal: seal code archives for S3 and verify them fast at cold start.

Importing this package is deliberately cheap, because a runtime pays for it
on every cold start: the C core, cryptography, S3 clients and rich are all
imported only when the function that needs them is first used.
"""

from __future__ import annotations

from coldseal._version import __version__
from coldseal.errors import (
    ColdsealError,
    CoreError,
    IntegrityError,
    StorageError,
    UnsupportedError,
    UsageError,
)

# typing costs ~20 ms to import on a small machine; the constant below is
# recognised by type checkers and costs nothing at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from coldseal import hashing
    from coldseal.keyproviders import KeyProvider, load_kek
    from coldseal.keys import Kek, PublicKey, SigningKey, keygen
    from coldseal.reader import Archive, open  # noqa: A004 - coldseal.open, on purpose
    from coldseal.sealer import SealReport, seal
    from coldseal.verifier import Report, verify

__all__ = [
    "Archive",
    "ColdsealError",
    "CoreError",
    "IntegrityError",
    "Kek",
    "KeyProvider",
    "PublicKey",
    "Report",
    "SealReport",
    "SigningKey",
    "StorageError",
    "UnsupportedError",
    "UsageError",
    "__version__",
    "hashing",
    "keygen",
    "load_kek",
    "open",
    "seal",
    "verify",
]

_LAZY_MODULES = {"hashing"}
# Public names and the module that defines each, imported on first use.
_LAZY_ATTRS = {
    "Kek": "coldseal.keys",
    "PublicKey": "coldseal.keys",
    "SigningKey": "coldseal.keys",
    "keygen": "coldseal.keys",
    "KeyProvider": "coldseal.keyproviders",
    "load_kek": "coldseal.keyproviders",
    "Archive": "coldseal.reader",
    "open": "coldseal.reader",
    "SealReport": "coldseal.sealer",
    "seal": "coldseal.sealer",
    "Report": "coldseal.verifier",
    "verify": "coldseal.verifier",
}


def __getattr__(name: str) -> object:
    """Import submodules on first use so that ``import coldseal`` stays cheap."""
    import importlib  # noqa: PLC0415 - deliberately lazy

    if name in _LAZY_MODULES:
        return importlib.import_module(f"coldseal.{name}")
    if name in _LAZY_ATTRS:
        value = getattr(importlib.import_module(_LAZY_ATTRS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'coldseal' has no attribute {name!r}")
