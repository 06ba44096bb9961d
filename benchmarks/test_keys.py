"""What a KMS-wrapped data key adds to a cold start, side by side.

Group ``kms-cold-start``: a fresh interpreter that unwraps one archive's
data key — from a local KEK file, through coldseal's KMS client (one
``Decrypt`` against moto's KMS server on loopback), and, as the reference,
through botocore's client (import, client creation, the same ``Decrypt``).
The loopback emulator answers in well under a millisecond, so the figures
are the client's own cost; add one KMS round trip (typically 5-15 ms in
region) for AWS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldseal._cli import main

REGION = "eu-west-1"
HELLO = Path(__file__).resolve().parent.parent / "src" / "coldseal" / "examples" / "hello_app"


@pytest.fixture(scope="module")
def kms_env() -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDCOLDSEALBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_KMS": f"http://127.0.0.1:{port}",
    }
    try:
        yield env
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sealed_both(
    kms_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    import boto3  # noqa: PLC0415

    client = boto3.client(
        "kms",
        region_name=REGION,
        endpoint_url=kms_env["AWS_ENDPOINT_URL_KMS"],
        aws_access_key_id=kms_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=kms_env["AWS_SECRET_ACCESS_KEY"],
    )
    arn = client.create_key()["KeyMetadata"]["Arn"]
    client.create_alias(AliasName="alias/bench", TargetKeyId=arn)
    root = tmp_path_factory.mktemp("kms-bench")
    assert main(["keygen", str(root / "k")]) == 0
    saved = dict(os.environ)
    os.environ.update(kms_env)
    try:
        for kek, out in ((str(root / "k" / "data.kek"), "file"), ("kms:alias/bench", "kms")):
            code = main(
                [
                    "seal",
                    str(HELLO),
                    str(root / out),
                    "--signing-key",
                    str(root / "k" / "signing.key"),
                    "--kek",
                    kek,
                ]
            )
            assert code == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"root": root, "file": root / "file", "kms": root / "kms"}


_UNWRAP = """
import sys
from coldseal.format import manifest as mf
from coldseal.keyproviders import DekContext, load_kek
m = mf.decode(open(sys.argv[1] + "/manifest.json", "rb").read()).manifest
with load_kek(sys.argv[2]) as kek:
    kek.unwrap_data_key(m.dek, DekContext(m.name, m.archive_id)).close()
"""

_BOTOCORE = """
import sys
from coldseal.format import manifest as mf
import botocore.session
m = mf.decode(open(sys.argv[1] + "/manifest.json", "rb").read()).manifest
client = botocore.session.get_session().create_client("kms", region_name="eu-west-1")
client.decrypt(CiphertextBlob=m.dek.wrapped, KeyId="alias/bench",
               EncryptionContext={"coldseal:archive": m.name,
                                  "coldseal:archive-id": m.archive_id.hex()})
"""


def _run(code: str, env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-c", code, *args], env=env, check=True)


@pytest.mark.benchmark(group="kms-cold-start")
def test_unwrap_local_kek_file(benchmark, sealed_both: dict[str, Path], kms_env) -> None:
    kek = str(sealed_both["root"] / "k" / "data.kek")
    benchmark(_run, _UNWRAP, kms_env, str(sealed_both["file"]), kek)


@pytest.mark.benchmark(group="kms-cold-start")
def test_unwrap_kms_coldseal_client(benchmark, sealed_both: dict[str, Path], kms_env) -> None:
    benchmark(_run, _UNWRAP, kms_env, str(sealed_both["kms"]), "kms:alias/bench")


@pytest.mark.benchmark(group="kms-cold-start")
def test_unwrap_kms_botocore_reference(benchmark, sealed_both: dict[str, Path], kms_env) -> None:
    benchmark(_run, _BOTOCORE, kms_env, str(sealed_both["kms"]))
