"""The tests' S3 server: SeaweedFS ``weed mini`` on loopback (see coldseal.bench.seaweed).

The start-up logic lives in the package because ``coldseal bench`` starts the
same server; this module keeps the names the tests import.
"""

from __future__ import annotations

from coldseal.bench.seaweed import (
    ACCESS_KEY,
    BUCKETS,
    PORT_FLAGS,
    SECRET_KEY,
    S3Server,
    SeaweedUnavailableError,
    free_ports,
    running,
    start,
    weed_binary,
)

__all__ = [
    "ACCESS_KEY",
    "BUCKETS",
    "PORT_FLAGS",
    "SECRET_KEY",
    "S3Server",
    "SeaweedUnavailableError",
    "free_ports",
    "running",
    "start",
    "weed_binary",
]
