"""Canonical JSON: the one byte string a given value encodes to.

The manifest is signed over these bytes, so two encoders must agree on every
byte: keys sorted, no whitespace, ASCII only (anything else as JSON
u-escapes), integers only (no floats, no exponents), and integers within
+-2^53 so every JSON implementation reads them exactly. Decoding is strict:
the input is bounded in size, parsed with duplicate keys and non-finite
numbers refused, and then re-encoded: any input that is not already in
canonical form is rejected, so exactly one byte string verifies.
"""

from __future__ import annotations

import json
from typing import Any

from coldseal.errors import IntegrityError

MAX_SAFE_INT = (1 << 53) - 1


class CanonicalError(IntegrityError):
    """Bytes that are not canonical JSON of an allowed value."""


def _check(value: Any, depth: int = 0) -> None:  # noqa: ANN401 - any JSON value
    if depth > 16:
        raise CanonicalError("nesting too deep")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise CanonicalError("integer out of range")
        return
    if isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError("object keys must be strings")
            _check(item, depth + 1)
        return
    raise CanonicalError(f"{type(value).__name__} is not allowed in canonical JSON")


def encode(value: Any) -> bytes:  # noqa: ANN401 - any JSON value
    """The canonical bytes of ``value`` (dicts, lists, str, int, bool, None)."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_floats(text: str) -> Any:  # noqa: ANN401 - json hook signature
    raise CanonicalError(f"non-integer number {text[:20]!r}")


def decode(data: bytes, *, max_size: int) -> Any:  # noqa: ANN401 - any JSON value
    """Parse canonical JSON no longer than ``max_size`` bytes, or raise CanonicalError."""
    if len(data) > max_size:
        raise CanonicalError(f"{len(data)} bytes is over the {max_size}-byte limit")
    try:
        text = data.decode("ascii")
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_floats,
            parse_constant=_no_floats,
        )
    except CanonicalError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CanonicalError(f"not canonical JSON: {type(error).__name__}") from None
    if encode(value) != data:
        raise CanonicalError("not in canonical form")
    return value
