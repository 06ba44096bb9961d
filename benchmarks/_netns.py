"""A shaped network link on this machine: a network namespace behind a veth pair.

On loopback the S3 server and the verifier share the same two vCPUs, so
"network" time is really the server's CPU time and the pipeline cannot
overlap it with its own crypto. To measure the pipeline where the link is
the bottleneck (as between a Lambda and S3), the server runs in a network
namespace reached through a veth pair whose ns-side egress is limited by a
token-bucket filter: responses flow at ``rate`` whatever the CPUs do.

Needs root (CAP_NET_ADMIN) and iproute2; ``available()`` says whether this
machine allows it, and the benchmarks that use it skip with a reason
otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ShapedLink:
    """A namespace reachable from here at ``server_ip`` through a rate-limited veth."""

    namespace: str
    server_ip: str
    rate: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def available() -> str | None:
    """None if a shaped link can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "needs iproute2 (ip, tc)"
    probe = f"csprobe{os.getpid() % 100000}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"cannot create a network namespace ({error})"
    _ip("netns", "del", probe)
    return None


@contextlib.contextmanager
def shaped_link(rate: str = "1gbit", *, index: int = 0) -> Iterator[ShapedLink]:
    """Create the namespace, veth pair and shaping; remove all of it afterwards."""
    tag = f"{os.getpid() % 10000}x{index}"
    ns, host_if, ns_if = f"cs{tag}", f"csh{tag}", f"csn{tag}"
    octet = 16 + (os.getpid() + index) % 200
    host_ip, server_ip = f"10.{octet}.77.1", f"10.{octet}.77.2"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{server_ip}/30", "dev", ns_if)
        _ip("-n", ns, "link", "set", ns_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        # Server -> client is the direction that carries the bytes.
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "tc",
                "qdisc",
                "add",
                "dev",
                ns_if,
                "root",
                "tbf",
                "rate",
                rate,
                "burst",
                "256kb",
                "latency",
                "50ms",
            ],
            check=True,
            capture_output=True,
        )
        yield ShapedLink(ns, server_ip, rate)
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
