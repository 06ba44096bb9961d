"""Shared benchmark inputs. Sizes are the ones the issue targets name; with
``--benchmark-disable`` (the default in the test run) each benchmark runs
once, as a smoke test."""

from __future__ import annotations

import os

import pytest

from benchmarks._corpus import MIB, SealedArchive
from coldseal._cpus import granted_cpus


@pytest.fixture(scope="session")
def cores() -> int:
    return granted_cpus()


@pytest.fixture(scope="session")
def random_64mib() -> bytes:
    return os.urandom(64 * MIB)


@pytest.fixture(scope="session")
def sealed_archive(random_64mib: bytes) -> SealedArchive:
    return SealedArchive(random_64mib)


@pytest.fixture(scope="session")
def full_scale(request: pytest.FixtureRequest) -> bool:
    """True when benchmarks really run; with --benchmark-disable, inputs shrink."""
    return not request.config.getoption("benchmark_disable")
