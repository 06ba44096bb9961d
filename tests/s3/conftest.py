"""The S3 tests run against a real SeaweedFS server started here."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests import s3server


@pytest.fixture(scope="session")
def s3() -> Iterator[s3server.S3Server]:
    server = s3server.start()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
