"""A sealed archive under an S3 prefix, read with parallel ranged GETs.

The client is obstore (Rust ``object_store``): it imports in ~25 ms where
boto3 takes ~600 ms with a client, and spends about half boto3's CPU per GiB
of ranged GETs (measurements in ``docs/s3.md``). Requests run as asyncio
tasks on one private event loop thread, so a slow request can be hedged and
a deadline can cancel requests in flight; callers in ordinary threads block
on them.

Every GET is pinned to the ETag the object had when first seen (If-Match):
an object replaced while an archive is being read fails the read instead of
mixing two versions. Transient failures (5xx, SlowDown, resets, timeouts)
are retried with jittered exponential backoff; missing objects, refused
credentials and changed objects are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coldseal.errors import IntegrityError, StorageError, UsageError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from obstore.store import S3Store

DEFAULT_REGION = "us-east-1"
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``; the prefix has no trailing slash."""
    if not url.startswith("s3://"):
        raise UsageError(f"{url}: not an s3:// URL")
    rest = url[5:]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"{url}: no bucket in the URL")
    return bucket, prefix.strip("/")


@dataclass
class S3Stats:
    """What the S3 reads cost; updated from many threads under a lock."""

    requests: int = 0
    bytes_fetched: int = 0
    retries: int = 0
    hedges: int = 0
    network_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: float) -> None:
        """Add to the named counters."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def to_json(self) -> dict[str, float]:
        """The counters as a dict."""
        return {
            "requests": self.requests,
            "bytes_fetched": self.bytes_fetched,
            "retries": self.retries,
            "hedges": self.hedges,
            "network_seconds": round(self.network_seconds, 6),
        }


@dataclass(frozen=True)
class S3Options:
    """Tuning and limits for one S3 source."""

    endpoint_url: str | None = None
    max_attempts: int = 5
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 2.0
    hedge_after_s: float = 2.0
    deadline: float | None = None  # time.monotonic() value after which reads fail
    concurrency: int = 8
    request_size: int = 8 << 20


def _loop_thread() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()

    def run() -> None:
        try:
            loop.run_forever()
        finally:
            # Release the selector and its self-pipe now, not whenever the
            # garbage collector gets to the loop (the soak test counts fds).
            loop.close()

    thread = threading.Thread(target=run, name="coldseal-s3", daemon=True)
    thread.start()
    return loop


class S3Storage:
    """Objects under ``s3://bucket/prefix``."""

    def __init__(
        self, url: str, options: S3Options | None = None, *, bucket_store: S3Store | None = None
    ) -> None:
        """Connect lazily to the bucket in ``url`` with the usual AWS variables.

        ``bucket_store``, a store for the whole bucket from :func:`make_store`
        with an empty prefix, is shared instead of making a new client (20-100
        ms each): a scrub reads many archives of one bucket.
        """
        self.bucket, self.prefix = parse_url(url)
        self.options = options or S3Options()
        self.stats = S3Stats()
        if bucket_store is None:
            # One client for all of this archive's objects: building one loads
            # the system's root certificates (20-100 ms here).
            bucket_store = make_store(self.bucket, "", self.options.endpoint_url)
        self._store = bucket_store
        self._etags: dict[str, tuple[int, str | None]] = {}
        self._lock = threading.Lock()
        self._loop = _loop_thread()

    @property
    def request_size(self) -> int:
        """Bytes per ranged GET (adjacent chunks are coalesced up to this)."""
        return self.options.request_size

    @property
    def concurrency(self) -> int:
        """Ranged GETs in flight at once."""
        return self.options.concurrency

    def stats_json(self) -> dict[str, float]:
        """Requests, bytes, retries, hedges and time waiting on the network."""
        return self.stats.to_json()

    # ---- plumbing -------------------------------------------------------------

    def _key(self, name: str) -> str:
        """The object key of ``name`` under this archive's prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def describe(self, name: str) -> str:
        """The object's s3:// URL."""
        key = self._key(name)
        return f"s3://{self.bucket}/{key}"

    def _remaining(self) -> float | None:
        if self.options.deadline is None:
            return None
        return self.options.deadline - time.monotonic()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:  # noqa: ANN401 - the coroutine's result
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        remaining = self._remaining()
        try:
            return future.result(timeout=None if remaining is None else max(remaining, 0.0))
        except TimeoutError:
            future.cancel()
            raise StorageError("deadline exceeded while reading from S3") from None

    async def _attempts(self, what: str, request: Callable[[], Awaitable[Any]]) -> Any:  # noqa: ANN401
        """Run ``request`` with retries on transient errors and a hedge for stragglers."""
        from obstore.exceptions import (  # noqa: PLC0415
            PermissionDeniedError,
            PreconditionError,
            UnauthenticatedError,
        )

        opts = self.options
        for attempt in range(opts.max_attempts):
            try:
                return await self._hedged(request)
            except FileNotFoundError:
                raise StorageError(f"{what}: missing") from None
            except PreconditionError:
                raise StorageError(
                    f"{what}: the object changed while it was being read; retry the verify"
                ) from None
            except (PermissionDeniedError, UnauthenticatedError):
                raise StorageError(
                    f"{what}: access denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
                ) from None
            except (StorageError, IntegrityError):
                raise
            except Exception as error:  # noqa: BLE001 - every other failure is transient here
                last = error
            if attempt + 1 < opts.max_attempts:
                delay = min(opts.backoff_cap_s, opts.backoff_base_s * 2**attempt)
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
                remaining = self._remaining()
                if remaining is not None and delay >= remaining:
                    break
                self.stats.add(retries=1)
                await asyncio.sleep(delay)
        reason = str(last).splitlines()[0][:160] if str(last) else type(last).__name__
        raise StorageError(f"{what}: failed after {opts.max_attempts} attempts ({reason})")

    async def _hedged(self, request: Callable[[], Awaitable[Any]]) -> Any:  # noqa: ANN401
        """Run ``request``; if it is still running after hedge_after_s, race a second copy."""
        first = _abandonable(request())
        try:
            done, _ = await asyncio.wait({first}, timeout=self.options.hedge_after_s)
        except BaseException:
            first.cancel()  # the caller gave up (deadline): stop the request too
            raise
        if done:
            return first.result()
        self.stats.add(hedges=1)
        second = _abandonable(request())
        pending = {first, second}
        error: BaseException | None = None
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        return task.result()
                    error = task.exception()
            assert error is not None
            raise error
        finally:
            for task in pending:
                task.cancel()

    # ---- the Storage interface ---------------------------------------------------

    def _meta(self, name: str) -> tuple[int, str | None]:
        with self._lock:
            if name in self._etags:
                return self._etags[name]
        import obstore  # noqa: PLC0415

        async def head() -> Any:  # noqa: ANN401
            started = time.monotonic()
            meta = await obstore.head_async(self._store, self._key(name))
            self.stats.add(requests=1, network_seconds=time.monotonic() - started)
            return meta

        meta = self._run(self._attempts(self.describe(name), head))
        entry = (int(meta["size"]), meta.get("e_tag"))
        with self._lock:
            return self._etags.setdefault(name, entry)

    def size(self, name: str) -> int:
        """The object's size, as first seen."""
        return self._meta(name)[0]

    def read_object(self, name: str, max_size: int) -> bytes:
        """The whole object, refusing one larger than ``max_size``."""
        size = self.size(name)
        if size > max_size:
            raise IntegrityError(
                f"{self.describe(name)}: {size} bytes is over the {max_size}-byte limit"
            )
        buf = bytearray(size)
        if size:
            self.read_into(name, 0, memoryview(buf))
        return bytes(buf)

    def read_into(self, name: str, offset: int, out: memoryview) -> None:
        """Fill ``out`` from ``offset`` with one ranged GET pinned to the ETag."""
        import obstore  # noqa: PLC0415

        _, etag = self._meta(name)
        end = offset + len(out)
        what = f"{self.describe(name)} bytes {offset}-{end}"
        options: dict[str, Any] = {"range": (offset, end)}
        if etag:
            options["if_match"] = etag

        async def get() -> Any:  # noqa: ANN401 - obstore.Bytes
            started = time.monotonic()
            result = await obstore.get_async(self._store, self._key(name), options=options)  # type: ignore[arg-type]
            data = await result.bytes_async()
            if len(data) != len(out):
                raise StorageError(f"{what}: short read ({len(data)} bytes)")
            self.stats.add(
                requests=1, bytes_fetched=len(data), network_seconds=time.monotonic() - started
            )
            return data

        # The copy runs on the calling worker, not on the event loop's one thread.
        out[:] = memoryview(self._run(self._attempts(what, get)))

    def fetch(self, name: str, offset: int, length: int) -> bytes | bytearray | memoryview:
        """Up to ``length`` bytes from ``offset`` in one GET (fewer at the object's end).

        The first request to an object pins the ETag and size its response
        reports, so a lazy reader needs no HEAD round trip; later requests
        carry If-Match like :meth:`read_into`.
        """
        import obstore  # noqa: PLC0415

        with self._lock:
            known = self._etags.get(name)
        end = offset + length
        what = f"{self.describe(name)} bytes {offset}-{end}"
        options: dict[str, Any] = {"range": (offset, end)}
        if known is not None and known[1]:
            options["if_match"] = known[1]

        async def get() -> Any:  # noqa: ANN401 - (meta, obstore.Bytes)
            started = time.monotonic()
            result = await obstore.get_async(self._store, self._key(name), options=options)  # type: ignore[arg-type]
            data = await result.bytes_async()
            self.stats.add(
                requests=1, bytes_fetched=len(data), network_seconds=time.monotonic() - started
            )
            return result.meta, data

        meta, data = self._run(self._attempts(what, get))
        entry = (int(meta["size"]), meta.get("e_tag"))
        with self._lock:
            pinned = self._etags.setdefault(name, entry)
        if pinned != entry:
            raise StorageError(f"{what}: the object changed while it was being read")
        if len(data) != min(length, max(0, entry[0] - offset)):
            raise StorageError(f"{what}: short read ({len(data)} bytes)")
        return memoryview(data)

    def close(self) -> None:
        """Cancel requests still in flight (after a failure) and stop the loop thread."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)


def _abandonable(coro: Awaitable[Any]) -> asyncio.Future[Any]:
    """A task whose failure is consumed even if nobody awaits it any more.

    A hedge's loser, or a request left behind by a deadline, may still fail
    later; unretrieved, asyncio would print its traceback to stderr at exit,
    breaking the one-line error contract.
    """
    task = asyncio.ensure_future(coro)
    task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
    return task


def make_store(
    bucket: str, prefix: str, endpoint_url: str | None, *, client_retries: int = 0
) -> S3Store:
    """An obstore S3Store for ``bucket``/``prefix`` from the usual AWS variables.

    ``client_retries`` lets obstore retry on its own (uploads); reads keep it
    at 0 because they retry themselves. Creating a store loads the system's
    root certificates (20-100 ms measured here), so one S3Storage reads all
    of an archive's objects through one bucket-wide store, and a scrub shares
    one per bucket across its archives. Stores are not cached process-wide:
    a store's idle pooled connections live as long as it does, and a
    long-running process that verifies many archives would keep them open.
    """
    endpoint = (
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    from datetime import timedelta  # noqa: PLC0415

    from obstore.store import S3Store  # noqa: PLC0415

    config: dict[str, Any] = {"region": region}
    for name, var in (
        ("access_key_id", "AWS_ACCESS_KEY_ID"),
        ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("session_token", "AWS_SESSION_TOKEN"),
    ):
        if os.environ.get(var):
            config[name] = os.environ[var]
    client: dict[str, Any] = {
        "timeout": f"{int(REQUEST_TIMEOUT_S)}s",
        "connect_timeout": f"{int(CONNECT_TIMEOUT_S)}s",
    }
    if endpoint:
        config["endpoint"] = endpoint
        # Path-style addressing, as S3-compatible servers on one host need.
        config["virtual_hosted_style_request"] = False
        if endpoint.startswith("http://"):
            client["allow_http"] = True
    # Retries are ours (counted, jittered, deadline-aware), not the client's.
    retry = {
        "max_retries": client_retries,
        "retry_timeout": timedelta(seconds=REQUEST_TIMEOUT_S),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=2),
            "base": 2,
        },
    }
    try:
        return S3Store(
            bucket,
            prefix=prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=client,  # type: ignore[arg-type]
            retry_config=retry,  # type: ignore[arg-type]
        )
    except Exception as error:  # noqa: BLE001 - obstore raises several config error types
        raise UsageError(f"s3://{bucket}/{prefix}: bad S3 configuration ({error})") from None
