"""Phase 5, lazy open against a local SeaweedFS, timed next to a full verify.

* ``lazy-one-file``: open + read one small file of a 1 GiB sealed archive on
  S3 vs a full verify of it (<= 2 % of the time, <= 1 % of the bytes), and
  the round trips to the first verified byte (<= 3).
* ``lazy-import``: a fresh interpreter importing a handler that pulls in a
  real package (rich) straight from a sealed site-packages on S3, vs
  ``coldseal verify --out`` of it and importing from the extracted folder
  (faster end to end).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import coldseal
from benchmarks import _corpus
from benchmarks._corpus import MIB
from coldseal.keys import Kek, PublicKey
from coldseal.publisher import publish

ROUNDS = 3
CLI = str(Path(sys.executable).with_name("coldseal"))


@pytest.fixture(scope="module")
def trust() -> tuple[PublicKey, Kek]:
    k = _corpus.keys()
    return PublicKey.load(k / "signing.pub"), Kek.load(k / "data.kek")


@pytest.fixture(scope="module")
def big_on_s3(s3, full_scale: bool) -> str:
    sealed = _corpus.sealed(_corpus.random_tree((1024 if full_scale else 16) * MIB))
    publish(sealed, "s3://coldseal/bench/big")
    return "s3://coldseal/bench/big"


@pytest.mark.benchmark(group="lazy-one-file")
def test_lazy_read_one_file(benchmark, big_on_s3: str, trust) -> None:
    pub, kek = trust
    stats: list[tuple[int, int, int]] = []

    def read_one() -> None:
        with coldseal.open(big_on_s3, trust=[pub], kek=kek) as archive:
            assert archive.read("handler.py").startswith(b'"""A Lambda')
            s = archive._storage.stats
            stats.append((s.requests, s.bytes_fetched, archive.manifest.payload_size))

    benchmark.pedantic(read_one, rounds=5, iterations=1, warmup_rounds=1)
    requests, fetched, payload = stats[-1]
    benchmark.extra_info.update(lazy_requests=requests, lazy_bytes=fetched, payload_bytes=payload)


@pytest.mark.benchmark(group="lazy-one-file")
def test_full_verify_same_archive(benchmark, big_on_s3: str, trust, cores: int) -> None:
    pub, kek = trust
    benchmark.pedantic(
        lambda: coldseal.verify(big_on_s3, trust=[pub], kek=kek, threads=cores),
        rounds=ROUNDS,
        iterations=1,
    )


LAZY_IMPORT = """
import sys, coldseal, coldseal.importer
a = coldseal.open(sys.argv[1], trust=[coldseal.PublicKey.load(sys.argv[2])],
                  kek=coldseal.Kek.load(sys.argv[3]))
coldseal.importer.install(a)
from handler import handler
assert handler({"name": "x"}, None) == "hello x"
assert sys.modules["rich"].__file__.startswith("coldseal://")
"""

EXTRACTED_IMPORT = """
import sys
sys.path.insert(0, sys.argv[1])
from handler import handler
assert handler({"name": "x"}, None) == "hello x"
"""


@pytest.fixture(scope="module")
def app_on_s3(s3, full_scale: bool) -> str:
    publish(_corpus.sealed(_corpus.app_with_site_packages(full_scale)), "s3://coldseal/bench/app")
    return "s3://coldseal/bench/app"


def _clean_env() -> dict[str, str]:
    # Make sure the extracted/sealed rich is what gets imported, not site-packages'.
    return {**os.environ, "PYTHONNOUSERSITE": "1"}


@pytest.mark.benchmark(group="lazy-import")
def test_import_lazily_from_s3(benchmark, app_on_s3: str) -> None:
    k = _corpus.keys()
    args = [
        sys.executable,
        "-S",
        "-c",
        LAZY_IMPORT,
        app_on_s3,
        str(k / "signing.pub"),
        str(k / "data.kek"),
    ]
    env = {
        **_clean_env(),
        "PYTHONPATH": os.pathsep.join(
            p for p in sys.path if "site-packages" in p or p.endswith("/src")
        ),
    }
    benchmark.pedantic(
        lambda: subprocess.run(args, check=True, env=env),
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )


@pytest.mark.benchmark(group="lazy-import")
def test_import_after_full_extract(benchmark, app_on_s3: str, tmp_path_factory) -> None:
    k = _corpus.keys()
    out = tmp_path_factory.mktemp("x") / "out"

    def extract_then_import() -> None:
        subprocess.run(
            [
                CLI,
                "verify",
                app_on_s3,
                "--trust",
                str(k / "signing.pub"),
                "--kek",
                str(k / "data.kek"),
                "--out",
                str(out),
            ],
            check=True,
        )
        subprocess.run(
            [sys.executable, "-S", "-c", EXTRACTED_IMPORT, str(out)], check=True, env=_clean_env()
        )

    benchmark.pedantic(
        extract_then_import,
        setup=lambda: shutil.rmtree(out, ignore_errors=True),
        rounds=ROUNDS,
        iterations=1,
    )
