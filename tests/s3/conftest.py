"""The S3 tests run against a real SeaweedFS server started here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests import s3server


@pytest.fixture(scope="session")
def s3() -> Iterator[s3server.S3Server]:
    with s3server.running() as server:
        yield server
