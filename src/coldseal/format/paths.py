"""What an archive path may be, and where its symlinks may point.

The same rules run when sealing (so an unsafe input is refused up front) and
when verifying (so a compromised signer still cannot write outside the output
folder): a path is relative, '/'-separated, UTF-8, with no empty, '.' or
'..' component, no NUL, backslash or control character; and a symlink's
target, resolved through the archive's own symlinks, must stay inside it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from coldseal.errors import IntegrityError, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
MAX_DEPTH = 256
MAX_LINK_HOPS = 40

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")

FILE = 1
DIR = 2
SYMLINK = 3


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a safe archive path, or None if it is."""
    if not path:
        return "empty path"
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"path longer than {MAX_PATH_BYTES} bytes"
    if path.startswith("/"):
        return "absolute path"
    if _FORBIDDEN.search(path):
        return "backslash, NUL or control character in path"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "path is not valid UTF-8"
    parts = path.split("/")
    if len(parts) > MAX_DEPTH:
        return f"path deeper than {MAX_DEPTH} components"
    for part in parts:
        if part in ("", ".", ".."):
            return "'..', '.' or empty component in path"
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            return f"path component longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def _resolve(
    parts: list[str], kinds: Mapping[str, int], targets: Mapping[str, str], hops: int
) -> list[str] | None:
    """Resolve components through the archive's symlinks; None if it leaves the root."""
    resolved: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        resolved.append(part)
        here = "/".join(resolved)
        if kinds.get(here) == SYMLINK:
            if hops >= MAX_LINK_HOPS:
                return None
            target = targets[here]
            if target.startswith("/"):
                return None
            sub = _resolve(resolved[:-1] + target.split("/"), kinds, targets, hops + 1)
            if sub is None:
                return None
            resolved = sub
    return resolved


def link_problem(
    link: str, target: str, kinds: Mapping[str, int], targets: Mapping[str, str]
) -> str | None:
    """Why symlink ``link`` -> ``target`` would leave the archive, or None."""
    if not target or len(target.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return "symlink target is empty or too long"
    if target.startswith("/"):
        return "symlink to an absolute path"
    if "\x00" in target or "\\" in target:
        return "NUL or backslash in symlink target"
    parent = link.split("/")[:-1]
    if _resolve(parent + target.split("/"), kinds, targets, 0) is None:
        return "symlink points outside the archive"
    return None


def tree_problems(
    entries: list[tuple[str, int, str | None]],
) -> list[tuple[str, str]]:
    """Every (path, reason) that makes a set of (path, kind, link target) unsafe.

    Checks each path, duplicates, entries below a file or symlink, and every
    symlink's resolved target.
    """
    problems: list[tuple[str, str]] = []
    kinds: dict[str, int] = {}
    targets: dict[str, str] = {}
    for path, kind, target in entries:
        reason = path_problem(path)
        if reason:
            problems.append((path, reason))
            continue
        if path in kinds:
            problems.append((path, "duplicate path"))
            continue
        kinds[path] = kind
        if kind == SYMLINK:
            targets[path] = target or ""
    for path in kinds:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            if kinds.get(ancestor, DIR) != DIR:
                problems.append((path, f"'{ancestor}' is not a folder"))
                break
    for path, target in targets.items():
        reason = link_problem(path, target, kinds, targets)
        if reason:
            problems.append((path, reason))
    return problems


def check_tree(entries: list[tuple[str, int, str | None]], *, sealing: bool) -> None:
    """Raise if the tree is unsafe: UsageError when sealing, IntegrityError when reading."""
    problems = tree_problems(entries)
    if not problems:
        return
    path, reason = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    shown = path.encode("unicode_escape").decode("ascii")[:200]
    if sealing:
        raise UsageError(f"unsafe entry {shown!r}: {reason}{more}")
    raise IntegrityError(f"file index: unsafe entry {shown!r}: {reason}{more}")
