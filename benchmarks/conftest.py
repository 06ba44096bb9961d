"""Shared benchmark inputs. Sizes are the ones the issue targets name; with
``--benchmark-disable`` (the default in the test run) each benchmark runs
once on shrunken inputs, as a smoke test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from benchmarks import _corpus
from benchmarks._corpus import MIB, SealedArchive
from coldseal._cpus import granted_cpus
from coldseal.bench import seaweed
from coldseal.keys import Kek, PublicKey, SigningKey


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


@pytest.fixture(scope="session")
def bench_keys() -> tuple[PublicKey, Kek, SigningKey]:
    k = _corpus.keys()
    return (
        PublicKey.load(k / "signing.pub"),
        Kek.load(k / "data.kek"),
        SigningKey.load(k / "signing.key"),
    )


@pytest.fixture(scope="session")
def s3() -> Iterator[seaweed.S3Server]:
    """One local SeaweedFS for every S3 benchmark of the session."""
    with seaweed.running() as server:
        yield server
