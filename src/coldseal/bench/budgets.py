"""The budgets file: what a cold start may cost, as TOML.

Format (documented in ``docs/bench.md``; the shipped default is
``default_budgets.toml`` next to this module)::

    version = 1

    [budgets.verify-s3-250]
    description = "full verify of a 250 MiB archive from S3 on the granted cores"
    measure = "verify"        # verify | extract | seal | lazy-first-byte | import | peak-rss
    source = "s3"             # local | s3
    corpus = "random"         # random | code | site-packages
    archive_mib = 250
    threads = "granted"       # or a whole number
    cpus = 1                  # optional: pin the run to this many CPUs (a small Lambda)
    max_ms = 3000             # peak-rss takes max_mib instead

Parsing is strict: bad TOML, an unknown key, a key the measure does not
take, a wrong type, a missing or non-positive limit are each one
:class:`~coldseal.errors.UsageError` (exit 2) naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldseal.errors import UsageError

FORMAT_VERSION = 1
DEFAULT_BUDGETS = Path(__file__).resolve().parent / "default_budgets.toml"

SOURCES = ("local", "s3")
CORPORA = ("random", "code", "site-packages")
MAX_ARCHIVE_MIB = 64 * 1024
MAX_THREADS = 1024

# measure -> (limit key, unit, the other keys it takes)
_ARCHIVE_KEYS = ("source", "corpus", "archive_mib")
MEASURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "verify": ("max_ms", "ms", (*_ARCHIVE_KEYS, "threads", "cpus")),
    "extract": ("max_ms", "ms", (*_ARCHIVE_KEYS, "threads", "cpus")),
    "seal": ("max_ms", "ms", ("corpus", "archive_mib", "threads", "cpus")),
    "lazy-first-byte": ("max_ms", "ms", _ARCHIVE_KEYS),
    "import": ("max_ms", "ms", ()),
    "peak-rss": ("max_mib", "MiB", (*_ARCHIVE_KEYS, "threads", "cpus")),
}
_COMMON_KEYS = ("measure", "description")


class BudgetError(UsageError):
    """The budgets file is unreadable or invalid (exit 2)."""


@dataclass(frozen=True)
class Budget:
    """One limit: a measurement, its parameters, and the most it may cost."""

    id: str
    measure: str
    limit: float
    unit: str
    description: str = ""
    source: str = "local"
    corpus: str = "random"
    archive_mib: int = 64
    threads: int | None = None  # None: the CPUs this process is granted
    cpus: int | None = None  # None: not pinned

    @property
    def limit_key(self) -> str:
        """The TOML key that holds the limit (``max_ms`` or ``max_mib``)."""
        return MEASURES[self.measure][0]


def load(path: str | Path) -> list[Budget]:
    """Read and validate the budgets file at ``path``."""
    where = str(path)
    try:
        text = Path(path).read_bytes()
    except OSError as error:
        raise BudgetError(f"{where}: cannot read the budgets file ({error.strerror})") from None
    return parse(text, where)


def parse(text: bytes | str, where: str = "budgets") -> list[Budget]:
    """Validate budgets from TOML ``text``; ``where`` names the file in messages."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise BudgetError(f"{where}: not UTF-8 text") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BudgetError(f"{where}: bad TOML: {error}") from None
    unknown = sorted(set(doc) - {"version", "budgets"})
    if unknown:
        raise BudgetError(
            f"{where}: unknown top-level key {unknown[0]!r} (allowed: version, budgets)"
        )
    version = doc.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise BudgetError(f"{where}: 'version' must be {FORMAT_VERSION}, not {version!r}")
    tables = doc.get("budgets", {})
    if not isinstance(tables, dict):
        raise BudgetError(f"{where}: 'budgets' must be a table of [budgets.NAME] tables")
    return [_budget(where, name, body) for name, body in tables.items()]


def _budget(where: str, name: str, body: object) -> Budget:
    at = f"{where}: budgets.{name}"
    if not isinstance(body, dict):
        raise BudgetError(f"{at}: must be a table")
    measure = body.get("measure")
    if measure not in MEASURES:
        raise BudgetError(f"{at}: 'measure' must be one of {', '.join(MEASURES)}, not {measure!r}")
    limit_key, unit, keys = MEASURES[measure]
    allowed = {*_COMMON_KEYS, limit_key, *keys}
    for key in body:
        if key not in allowed:
            raise BudgetError(
                f"{at}: unknown key {key!r} for measure {measure!r} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    if limit_key not in body:
        raise BudgetError(f"{at}: missing {limit_key!r}, the limit")
    limit = _positive_number(at, limit_key, body[limit_key])
    fields: dict[str, Any] = {}
    if "description" in body:
        fields["description"] = _string(at, "description", body["description"])
    if "source" in body:
        fields["source"] = _choice(at, "source", body["source"], SOURCES)
    if "corpus" in body:
        fields["corpus"] = _choice(at, "corpus", body["corpus"], CORPORA)
    if "archive_mib" in body:
        fields["archive_mib"] = _whole(at, "archive_mib", body["archive_mib"], MAX_ARCHIVE_MIB)
    if "threads" in body and body["threads"] != "granted":
        fields["threads"] = _whole(at, "threads", body["threads"], MAX_THREADS, granted=True)
    if "cpus" in body:
        fields["cpus"] = _whole(at, "cpus", body["cpus"], MAX_THREADS)
    return Budget(id=name, measure=measure, limit=limit, unit=unit, **fields)


def _positive_number(at: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BudgetError(f"{at}: {key!r} must be a number, not {value!r}")
    if not value > 0 or value == float("inf"):
        raise BudgetError(f"{at}: {key!r} must be a positive finite number, not {value!r}")
    return float(value)


def _whole(at: str, key: str, value: object, high: int, *, granted: bool = False) -> int:
    also = ' or "granted"' if granted else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BudgetError(f"{at}: {key!r} must be a whole number{also}, not {value!r}")
    if not 1 <= value <= high:
        raise BudgetError(f"{at}: {key!r} must be between 1 and {high}, not {value}")
    return value


def _choice(at: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BudgetError(f"{at}: {key!r} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _string(at: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise BudgetError(f"{at}: {key!r} must be a string, not {value!r}")
    return value
