"""A small HTTP proxy on loopback that injects the failures S3 clients meet.

Between the client and the real server it drops connections (TCP reset),
answers 503 SlowDown, cuts response bodies short, or stalls, each at a chosen
rate, drawn from a seeded generator so runs are repeatable. Requests pass
through unchanged otherwise (the SigV4 signature covers the Host header the
client sent to the proxy, which is forwarded as is).
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
}
SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class FaultProxy:
    """Forward to ``upstream``, injecting faults into requests of ``methods``."""

    def __init__(
        self,
        upstream: str,
        *,
        reset: float = 0.0,
        slowdown: float = 0.0,
        truncate: float = 0.0,
        stall: float = 0.0,
        stall_seconds: float = 1.0,
        methods: tuple[str, ...] = ("GET",),
        seed: int = 1,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rates = {"reset": reset, "slowdown": slowdown, "truncate": truncate, "stall": stall}
        self.stall_seconds = stall_seconds
        self.methods = methods
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        # Client connections open right now, and the most ever open at once.
        self.open_connections = 0
        self.peak_connections = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                proxy.connection_opened()

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    proxy.connection_closed()

            def _handle(self) -> None:
                proxy.forward(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def connection_opened(self) -> None:
        with self._lock:
            self.open_connections += 1
            self.peak_connections = max(self.peak_connections, self.open_connections)

    def connection_closed(self) -> None:
        with self._lock:
            self.open_connections -= 1

    def _pick(self, method: str) -> str | None:
        if method not in self.methods:
            return None
        with self._lock:
            roll = self._rng.random()
        for fault, rate in self.rates.items():
            if roll < rate:
                return fault
            roll -= rate
        return None

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        fault = self._pick(handler.command)
        with self._lock:
            self.counts[fault or "passed"] += 1
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if fault == "reset":
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.close_connection = True
            handler.connection.close()
            return
        if fault == "slowdown":
            handler.send_response(503, "Slow Down")
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(SLOWDOWN)))
            handler.end_headers()
            handler.wfile.write(SLOWDOWN)
            return
        if fault == "stall":
            time.sleep(self.stall_seconds)
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError:
            handler.close_connection = True
            return
        finally:
            upstream.close()
        handler.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            # A HEAD answer carries the object's length with no body: keep it.
            if key.lower() not in HOP_BY_HOP and (
                key.lower() != "content-length" or handler.command == "HEAD"
            ):
                handler.send_header(key, value)
        if handler.command != "HEAD":
            handler.send_header("Content-Length", str(len(data)))
        if fault == "truncate" and handler.command != "HEAD" and len(data) > 1:
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.close_connection = True
            return
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
