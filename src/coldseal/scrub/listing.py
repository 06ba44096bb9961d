"""Stream a bucket's listing and cut it into archives as it arrives.

S3 lists keys in lexicographic order, one page at a time, so every key
under ``P/`` comes in one contiguous run: when a key outside ``P/`` shows
up, everything under ``P`` has been seen and ``P`` can be judged. The open
prefixes form a stack no deeper than the key paths, so memory stays flat
however long the listing, and the first archive is handed out while the
listing is still going.

A prefix is an archive when it holds ``manifest.json`` directly; a prefix
holding ``payload-*`` objects but no manifest is *incomplete* (an
interrupted publish, or a deleted manifest). Other objects are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coldseal.errors import StorageError
from coldseal.format.manifest import MANIFEST_FILE
from coldseal.scrub.task import ArchiveRef, Record, Status
from coldseal.storage.s3 import make_store, parse_url

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

PAYLOAD_PREFIX = "payload-"
LIST_PAGE = 1000


def list_objects(url: str, *, endpoint_url: str | None = None) -> Iterator[tuple[str, int]]:
    """(key, size) of every object under ``url`` (s3://bucket/prefix), page by page."""
    import obstore  # noqa: PLC0415

    bucket, prefix = parse_url(url)
    store = make_store(bucket, "", endpoint_url)
    try:
        stream = obstore.list(store, prefix=prefix or None, chunk_size=LIST_PAGE)
        for page in stream:
            for meta in page:
                yield str(meta["path"]), int(meta["size"])
    except StorageError:
        raise
    except FileNotFoundError:
        raise StorageError(f"s3://{bucket}: no such bucket") from None
    except Exception as error:  # noqa: BLE001 - obstore's error types all mean the listing failed
        first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise StorageError(f"{url}: listing failed ({first})") from None


@dataclass
class _Group:
    """What the listing showed directly under one prefix."""

    prefix: str
    manifest: bool = False
    payloads: int = 0
    payload_bytes: int = 0


def group_archives(
    objects: Iterable[tuple[str, int]], bucket: str
) -> Iterator[ArchiveRef | Record]:
    """Archives (and incomplete prefixes, as records) from a key-ordered listing."""
    stack: list[_Group] = []
    for key, size in objects:
        while stack and not key.startswith(stack[-1].prefix + "/") and stack[-1].prefix:
            yield from _judge(stack.pop(), bucket)
        parent, _, leaf = key.rpartition("/")
        if not stack or stack[-1].prefix != parent:
            stack.append(_Group(parent))
        group = stack[-1]
        if leaf == MANIFEST_FILE:
            group.manifest = True
        elif leaf.startswith(PAYLOAD_PREFIX):
            group.payloads += 1
            group.payload_bytes += size
    while stack:
        yield from _judge(stack.pop(), bucket)


def _judge(group: _Group, bucket: str) -> Iterator[ArchiveRef | Record]:
    url = f"s3://{bucket}/{group.prefix}"
    if group.manifest:
        yield ArchiveRef(url, group.payload_bytes)
    elif group.payloads:
        yield Record(
            url,
            Status.INCOMPLETE,
            group.payload_bytes,
            reason=f"{group.payloads} payload object(s) but no {MANIFEST_FILE}",
        )
