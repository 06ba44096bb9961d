"""The AWS KMS key provider, against moto's KMS server on loopback.

moto is an emulator, not AWS: it checks the request shape, the key and the
encryption context, but not the SigV4 signature. The signature is therefore
checked separately, against botocore's signer, byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from tests.conftest import HELLO, Keys, leaks, leftovers, run_cli
from tests.faultproxy import FaultProxy

import coldseal
from coldseal.format import manifest as mf
from coldseal.keyproviders import load_kek
from coldseal.keyproviders._aws import Credentials, sign_v4
from coldseal.keyproviders.kms import KmsKey, kms_key_id
from coldseal.keys import PublicKey, SigningKey

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def kms_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, kms_endpoint: str) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCOLDSEALKMSTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "coldseal-kms-test-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", kms_endpoint)
    return kms_endpoint


def _new_key(endpoint: str, alias: str) -> str:
    client = boto3.client(
        "kms",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIDCOLDSEALKMSTEST",
        aws_secret_access_key="coldseal-kms-test-secret",
    )
    arn = client.create_key(Description="coldseal test")["KeyMetadata"]["Arn"]
    client.create_alias(AliasName=alias, TargetKeyId=arn)
    return str(arn)


@pytest.fixture(scope="module")
def kms_keys(kms_endpoint: str) -> tuple[str, str]:
    return _new_key(kms_endpoint, "alias/coldseal-a"), _new_key(kms_endpoint, "alias/coldseal-b")


def _seal(keys: Keys, kek: str, out: Path, name: str = "hello_app") -> None:
    r = run_cli("seal", HELLO, out, "--signing-key", keys.signing, "--kek", kek, "--name", name)
    assert r.code == 0, r.err


def test_seal_and_verify_with_a_kms_key(
    keys: Keys, aws_env: str, kms_keys: tuple[str, str], tmp_path: Path
) -> None:
    arn, _ = kms_keys
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "s")
    body = json.loads((tmp_path / "s" / "manifest.json").read_bytes())["manifest"]
    assert body["dek"]["scheme"] == "aws-kms"
    assert body["dek"]["kek_id"] == kms_key_id(arn)
    for ref in ("alias/coldseal-a", arn, arn.rsplit("/", 1)[1]):
        r = run_cli(
            "verify",
            tmp_path / "s",
            "--trust",
            keys.public,
            "--kek",
            f"kms:{ref}",
            "--out",
            tmp_path / f"out-{len(ref)}",
        )
        assert r.code == 0, r.err
        assert (tmp_path / f"out-{len(ref)}" / "handler.py").read_bytes() == (
            HELLO / "handler.py"
        ).read_bytes()


def test_one_kms_call_per_verify_and_per_lazy_open(
    keys: Keys,
    aws_env: str,
    kms_keys: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "s")
    trust = [PublicKey.load(keys.public)]
    kek = KmsKey("alias/coldseal-a")
    coldseal.verify(tmp_path / "s", trust=trust, kek=kek, out=tmp_path / "out")
    assert kek.calls == 1
    kek = KmsKey("alias/coldseal-a")
    with coldseal.open(tmp_path / "s", trust=trust, kek=kek) as archive:
        assert archive.read("handler.py") == (HELLO / "handler.py").read_bytes()
    assert kek.calls == 1
    # The same through the CLI, counted on the wire by a proxy.
    with FaultProxy(aws_env, methods=("POST",)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", proxy.url)
        r = run_cli(
            "verify", tmp_path / "s", "--trust", keys.public, "--kek", "kms:alias/coldseal-a"
        )
        assert r.code == 0, r.err
        assert sum(proxy.counts.values()) == 1


def test_kms_throttling_is_retried(
    keys: Keys,
    aws_env: str,
    kms_keys: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "s")
    with FaultProxy(aws_env, methods=("POST",), slowdown=0.5, reset=0.2, seed=1) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", proxy.url)
        kek = KmsKey("alias/coldseal-a")
        trust = [PublicKey.load(keys.public)]
        try:
            coldseal.verify(tmp_path / "s", trust=trust, kek=kek)
            ok = True
        except coldseal.StorageError:
            ok = False
        faults = proxy.counts["slowdown"] + proxy.counts["reset"]
    # The seeded proxy faults the first attempts: only a client that retries
    # gets through, with exactly one answer passed and every fault counted.
    assert faults >= 1
    assert ok, "the retries should have got through the seeded faults"
    assert proxy.counts["passed"] == 1
    assert kek.calls == faults + 1


def test_a_wrapped_key_moved_to_another_archive_does_not_decrypt(
    keys: Keys, aws_env: str, kms_keys: tuple[str, str], tmp_path: Path
) -> None:
    """The encryption context binds the data key to its archive's name and id."""
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "a", name="app-a")
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "b", name="app-b")
    a = mf.decode((tmp_path / "a" / "manifest.json").read_bytes()).manifest
    b = mf.decode((tmp_path / "b" / "manifest.json").read_bytes()).manifest
    # The publisher's own key re-signs, so only the encryption context can object.
    forged = mf.sign(b.with_dek(a.dek), [SigningKey.load(keys.signing)])
    (tmp_path / "b" / "manifest.json").write_bytes(forged.encode())
    r = run_cli(
        "verify",
        tmp_path / "b",
        "--trust",
        keys.public,
        "--kek",
        "kms:alias/coldseal-a",
        "--out",
        tmp_path / "out",
    )
    assert r.code == 1, r.err
    assert "does not open" in r.err
    assert leftovers(tmp_path / "out") == []


def test_the_wrong_kms_key_is_refused(
    keys: Keys, aws_env: str, kms_keys: tuple[str, str], tmp_path: Path
) -> None:
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "s")
    # A key ARN names the key exactly: refused as the wrong key before any call.
    r = run_cli("verify", tmp_path / "s", "--trust", keys.public, "--kek", f"kms:{kms_keys[1]}")
    assert r.code == 1, r.err
    assert "not kms:" in r.err
    # Through an alias KMS decides. AWS answers IncorrectKeyException (exit 1);
    # moto answers AccessDeniedException, which coldseal must treat as a
    # storage-side refusal (exit 3) because IAM denials look the same.
    r = run_cli("verify", tmp_path / "s", "--trust", keys.public, "--kek", "kms:alias/coldseal-b")
    assert r.code in (1, 3), r.err
    assert "coldseal-b" in r.err
    r = run_cli("verify", tmp_path / "s", "--trust", keys.public, "--kek", str(keys.kek))
    assert r.code == 2, r.err
    assert "aws-kms" in r.err


def test_rotation_between_a_key_file_and_kms(
    keys: Keys, aws_env: str, kms_keys: tuple[str, str], tmp_path: Path
) -> None:
    sealed = tmp_path / "s"
    _seal(keys, str(keys.kek), sealed)
    payload = {p.name: p.read_bytes() for p in sealed.iterdir() if p.name != "manifest.json"}
    r = run_cli(
        "rekey",
        sealed,
        "--kek",
        str(keys.kek),
        "--new-kek",
        "kms:alias/coldseal-a",
        "--signing-key",
        keys.signing,
    )
    assert r.code == 0, r.err
    assert _verify_code(keys, sealed, str(keys.kek)) == 2  # wrong provider for this archive
    assert _verify_code(keys, sealed, "kms:alias/coldseal-a") == 0
    r = run_cli(
        "rekey",
        sealed,
        "--kek",
        "kms:alias/coldseal-a",
        "--new-kek",
        "kms:alias/coldseal-b",
        "--signing-key",
        keys.signing,
    )
    assert r.code == 0, r.err
    assert _verify_code(keys, sealed, f"kms:{kms_keys[0]}") == 1
    assert _verify_code(keys, sealed, "kms:alias/coldseal-a") != 0
    assert _verify_code(keys, sealed, "kms:alias/coldseal-b") == 0
    assert payload == {
        p.name: p.read_bytes() for p in sealed.iterdir() if p.name != "manifest.json"
    }


def _verify_code(keys: Keys, sealed: Path, kek: str) -> int:
    return run_cli("verify", sealed, "--trust", keys.public, "--kek", kek).code


def test_kms_unreachable_is_a_storage_failure(
    keys: Keys,
    aws_env: str,
    kms_keys: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seal(keys, "kms:alias/coldseal-a", tmp_path / "s")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{_free_port()}")
    r = run_cli("verify", tmp_path / "s", "--trust", keys.public, "--kek", "kms:alias/coldseal-a")
    assert r.code == 3
    assert r.err.count("\n") == 1
    assert "coldseal-kms-test-secret" not in r.err


def test_missing_credentials_are_a_usage_error(
    keys: Keys,
    aws_env: str,
    kms_keys: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    r = run_cli(
        "seal",
        HELLO,
        tmp_path / "s",
        "--signing-key",
        keys.signing,
        "--kek",
        "kms:alias/coldseal-a",
    )
    assert r.code == 2, r.err
    assert "credentials" in r.err
    assert leftovers(tmp_path / "s") == []


@pytest.mark.parametrize("token", [None, "session-token/with+odd=chars"])
def test_sigv4_matches_botocore(token: str | None) -> None:
    from botocore.auth import SigV4Auth  # noqa: PLC0415
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials as BotoCredentials  # noqa: PLC0415

    body = b'{"KeyId": "alias/x", "CiphertextBlob": "AAAA"}'
    url = "https://kms.eu-west-1.amazonaws.com/"
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Decrypt"}
    ours = sign_v4(
        method="POST",
        url=url,
        headers=headers,
        body=body,
        credentials=Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        region="eu-west-1",
        service="kms",
        amz_date="20261128T000102Z",
    )
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    request.context["timestamp"] = "20261128T000102Z"
    auth = SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        "kms",
        "eu-west-1",
    )
    request.headers["X-Amz-Date"] = "20261128T000102Z"
    if token:
        request.headers["X-Amz-Security-Token"] = token
    request.headers["Host"] = "kms.eu-west-1.amazonaws.com"
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    assert ours["Authorization"].endswith(f"Signature={signature}")
    assert (
        f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))},"
        in ours["Authorization"]
    )


def test_the_kms_client_and_botocore_load_only_for_kms_keys(keys: Keys, sealed_hello: Path) -> None:
    probe = (
        "import sys, coldseal\n"
        "from coldseal.keyproviders import load_kek\n"
        f"k = load_kek({str(keys.kek)!r})\n"
        f"pub = coldseal.PublicKey.load({str(keys.public)!r})\n"
        f"coldseal.verify({str(sealed_hello)!r}, trust=[pub], kek=k)\n"
        "heavy = ('botocore', 'boto3', 'coldseal.keyproviders.kms', 'http.client')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_kms_secret_never_reaches_output(
    keys: Keys, aws_env: str, kms_keys: tuple[str, str], tmp_path: Path
) -> None:
    sealing = run_cli(
        "seal",
        HELLO,
        tmp_path / "s",
        "--signing-key",
        keys.signing,
        "--kek",
        "kms:alias/coldseal-a",
    )
    assert sealing.code == 0, sealing.err
    kek = load_kek("kms:alias/coldseal-a")
    signed = mf.decode((tmp_path / "s" / "manifest.json").read_bytes())
    from tests.conftest import secret_bytes  # noqa: PLC0415

    from coldseal.keyproviders import DekContext  # noqa: PLC0415

    with kek.unwrap_data_key(
        signed.manifest.dek, DekContext(signed.manifest.name, signed.manifest.archive_id)
    ) as dek:  # type: ignore[attr-defined]
        raw = secret_bytes(dek)
    log = tmp_path / "audit.log"
    outputs = [sealing.out + sealing.err]
    for args in (
        [
            "verify",
            tmp_path / "s",
            "--trust",
            keys.public,
            "--kek",
            "kms:alias/coldseal-a",
            "--json",
        ],
        ["inspect", tmp_path / "s", "--json"],
        [
            "cat",
            tmp_path / "s",
            "handler.py",
            "--trust",
            keys.public,
            "--kek",
            "kms:alias/coldseal-b",
        ],
        [
            "rekey",
            tmp_path / "s",
            "--kek",
            "kms:alias/coldseal-a",
            "--new-kek",
            "kms:alias/coldseal-b",
            "--signing-key",
            keys.signing,
        ],
    ):
        r = run_cli(*args, "--audit-log", log)
        outputs.append(r.out + r.err)
    outputs.append(log.read_text())
    rekeyed = mf.decode((tmp_path / "s" / "manifest.json").read_bytes())
    assert rekeyed.manifest.dek.kek_id != signed.manifest.dek.kek_id  # the rekey into KMS ran
    secrets = {"DEK": raw, "AWS secret key": os.environ["AWS_SECRET_ACCESS_KEY"].encode()}
    for text in outputs:
        assert leaks(text.encode(), secrets) == []


def test_a_stalled_kms_cannot_outrun_the_deadline(
    keys: Keys,
    aws_env: str,
    kms_keys: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time  # noqa: PLC0415

    _seal(keys, "kms:alias/coldseal-a", tmp_path / "s")
    with FaultProxy(aws_env, methods=("POST",), stall=1.0, stall_seconds=20) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", proxy.url)
        started = time.monotonic()
        r = run_cli(
            "verify",
            tmp_path / "s",
            "--trust",
            keys.public,
            "--kek",
            "kms:alias/coldseal-a",
            "--deadline",
            "1.5",
            "--out",
            tmp_path / "out",
        )
        elapsed = time.monotonic() - started
    assert r.code == 3, r.err
    assert "deadline" in r.err
    assert elapsed < 5
    assert leftovers(tmp_path / "out") == []


class _CutOffResponse:
    """An HTTP response whose body stops part-way with a reset."""

    def __init__(self, body: bytes, cut: int) -> None:
        self.body, self.cut, self.given = body, cut, 0

    def getheader(self, name: str) -> str | None:
        return str(len(self.body)) if name == "Content-Length" else None

    def readinto(self, view: memoryview) -> int:
        if self.given >= self.cut:
            raise ConnectionResetError
        n = min(len(view), self.cut - self.given)
        view[:n] = self.body[self.given : self.given + n]
        self.given += n
        self.last = view.obj
        return n


def test_a_kms_answer_cut_off_mid_read_is_wiped() -> None:
    from coldseal.keyproviders._aws import _read_answer  # noqa: PLC0415

    body = b'{"KeyId": "k", "Plaintext": "' + base64.b64encode(b"\x42" * 32) + b'"}'
    response = _CutOffResponse(body, cut=40)
    with pytest.raises(ConnectionResetError):
        _read_answer(response)  # type: ignore[arg-type]
    assert bytes(response.last) == bytes(len(response.last))


def test_an_escaped_kms_plaintext_is_refused_and_wiped() -> None:
    from coldseal.keyproviders.kms import _take_plaintext  # noqa: PLC0415

    # JSON may escape any character; AWS never escapes base64, and decoding an
    # escape would need a Python str copy of the key: refused, buffer wiped.
    answer = bytearray(b'{"KeyId": "k", "Plaintext": "\\u0041' + b"A" * 43 + b'"}')
    with pytest.raises(coldseal.StorageError, match="not base64"):
        _take_plaintext(answer)
    assert answer == bytes(len(answer))
