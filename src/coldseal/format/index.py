"""The file index: which bytes of the logical stream belong to which path.

It is the last region of the logical stream, so it is compressed, encrypted
and Merkle-authenticated like any file content. Layout (little-endian)::

    magic "CSIX" | u32 version (1) | u64 entry count | u64 content size
    entry*: u8 kind | u32 mode | u16 path length | path (UTF-8)
            | u64 offset | u64 size | [kind 3 only: u16 target length | target]

Entries are sorted by path (UTF-8 bytes, strictly increasing). Files lie
back to back in index order: the first at offset 0, each next one where the
previous ended, the last ending at the content size, so no two paths can
share bytes and no byte is unaccounted for. Folders and symlinks have offset
and size 0.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from coldseal.errors import IntegrityError
from coldseal.format.paths import DIR, FILE, MAX_PATH_BYTES, SYMLINK, check_tree

MAGIC = b"CSIX"
VERSION = 1
MAX_ENTRIES = 1_000_000
MODE_MASK = 0o777
_HEADER = struct.Struct("<4sIQQ")
_ENTRY = struct.Struct("<BIH")
_SPAN = struct.Struct("<QQ")
_U16 = struct.Struct("<H")


class FileIndexError(IntegrityError):
    """A file index that is malformed or unsafe."""


@dataclass(frozen=True)
class Entry:
    """One path of the archive."""

    path: str
    kind: int
    mode: int
    offset: int = 0
    size: int = 0
    target: str | None = None


def encode(entries: list[Entry]) -> bytes:
    """Serialise entries (already sorted, laid out and checked) to index bytes."""
    content = sum(e.size for e in entries if e.kind == FILE)
    out = bytearray(_HEADER.pack(MAGIC, VERSION, len(entries), content))
    for e in entries:
        path = e.path.encode("utf-8")
        out += _ENTRY.pack(e.kind, e.mode & MODE_MASK, len(path)) + path
        out += _SPAN.pack(e.offset, e.size)
        if e.kind == SYMLINK:
            target = (e.target or "").encode("utf-8")
            out += _U16.pack(len(target)) + target
    return bytes(out)


def layout(entries: list[Entry]) -> list[Entry]:
    """Sort entries by path and give files consecutive offsets."""
    ordered = sorted(entries, key=lambda e: e.path.encode("utf-8"))
    offset = 0
    result = []
    for e in ordered:
        if e.kind == FILE:
            result.append(Entry(e.path, FILE, e.mode & MODE_MASK, offset, e.size))
            offset += e.size
        else:
            result.append(Entry(e.path, e.kind, e.mode & MODE_MASK, 0, 0, e.target))
    return result


def _fail(message: str) -> FileIndexError:
    return FileIndexError(f"file index: {message}")


def decode(data: bytes | bytearray | memoryview, content_size: int) -> list[Entry]:
    """Parse and check index bytes against the manifest's content size."""
    view = memoryview(data)
    if len(view) < _HEADER.size:
        raise _fail("shorter than its header")
    magic, version, count, content = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise _fail("bad magic")
    if version != VERSION:
        raise _fail(f"unknown version {version}")
    if count > MAX_ENTRIES:
        raise _fail(f"{count} entries is over the limit of {MAX_ENTRIES}")
    if content != content_size:
        raise _fail("content size disagrees with the manifest")
    pos = _HEADER.size
    entries: list[Entry] = []
    expected_offset = 0
    previous = b""
    for _ in range(count):
        if pos + _ENTRY.size > len(view):
            raise _fail("truncated entry")
        kind, mode, path_len = _ENTRY.unpack_from(view, pos)
        pos += _ENTRY.size
        if kind not in (FILE, DIR, SYMLINK) or mode & ~MODE_MASK or path_len > MAX_PATH_BYTES:
            raise _fail("bad entry header")
        if pos + path_len + _SPAN.size > len(view):
            raise _fail("truncated entry")
        raw_path = bytes(view[pos : pos + path_len])
        pos += path_len
        offset, size = _SPAN.unpack_from(view, pos)
        pos += _SPAN.size
        if raw_path <= previous:
            raise _fail("entries are not sorted and unique")
        previous = raw_path
        try:
            path = raw_path.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("path is not UTF-8") from None
        target = None
        if kind == FILE:
            if offset != expected_offset or size > content_size - offset:
                raise _fail("file spans do not tile the content")
            expected_offset += size
        elif offset or size:
            raise _fail("a folder or symlink with a byte span")
        if kind == SYMLINK:
            if pos + _U16.size > len(view):
                raise _fail("truncated entry")
            (target_len,) = _U16.unpack_from(view, pos)
            pos += _U16.size
            if target_len > MAX_PATH_BYTES or pos + target_len > len(view):
                raise _fail("bad symlink target")
            try:
                target = bytes(view[pos : pos + target_len]).decode("utf-8")
            except UnicodeDecodeError:
                raise _fail("symlink target is not UTF-8") from None
            pos += target_len
        entries.append(Entry(path, kind, mode, offset, size, target))
    if pos != len(view):
        raise _fail("trailing bytes")
    if expected_offset != content_size:
        raise _fail("file spans do not cover the content")
    check_tree([(e.path, e.kind, e.target) for e in entries], sealing=False)
    return entries
