"""Secret hygiene: no key material in anything coldseal prints, writes or raises.

One scenario runs every CLI command as a real process -- keygen, seal,
verify (keyless, with --out, --json, --state), inspect (text and --json),
cat, rekey, publish and verify from S3, and error paths (wrong KEK,
tampered payload, bad key file, bad option) -- with ``--audit-log`` and an
``--on-violation`` hook that saves the event it receives. Then every byte of
stdout and stderr and every file written (except the key files themselves)
is searched for each secret: the KEKs, the archive's DEK (unwrapped here by
the test) and the Ed25519 signing key's seed, as raw bytes, hex (both
cases), base64 (standard and URL-safe, at every alignment) and Python's
bytes repr. Library reprs and exception messages are checked the same way.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests import s3server
from tests.conftest import HELLO, leaks, secret_bytes

import coldseal
from coldseal import reader
from coldseal.errors import ColdsealError, IntegrityError
from coldseal.format import manifest as mf
from coldseal.keys import Kek, PublicKey, SigningKey

pytestmark = pytest.mark.usefixtures("s3")


class Runner:
    """Runs the CLI as a process and keeps everything it printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.outputs: list[tuple[str, bytes]] = []

    def __call__(self, *args: str | Path, code: int = 0) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "coldseal", *map(str, args)]
        r = subprocess.run(argv, capture_output=True, env=self.env, timeout=120, check=False)
        label = " ".join(map(str, args[:2]))
        self.outputs += [(f"stdout of {label}", r.stdout), (f"stderr of {label}", r.stderr)]
        assert r.returncode == code, (args, r.stderr.decode())
        return r


def _signing_seed(path: Path) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _kek_bytes(path: Path) -> bytes:
    return base64.b64decode(path.read_bytes().split()[1])


def test_no_key_material_in_any_output_or_file(s3: s3server.S3Server, tmp_path: Path) -> None:
    env = {**os.environ, **s3.env}
    run = Runner(env)
    keys, new_keys = tmp_path / "keys", tmp_path / "new-keys"
    log, hook = tmp_path / "audit.jsonl", tmp_path / "hook-events.jsonl"
    common = ["--audit-log", log, "--on-violation", f"cat >> {hook}"]
    run("keygen", keys, *common)
    run("keygen", new_keys, *common)
    signing, pub, kek = keys / "signing.key", keys / "signing.pub", keys / "data.kek"
    app = tmp_path / "app"
    shutil.copytree(HELLO, app)
    sealed = tmp_path / "sealed"
    seal = ["--signing-key", signing, "--kek", kek, "--name", "app", "--chunk-size", "4K"]
    run("seal", app, sealed, *seal, "--json", *common)
    reading = ["--trust", pub, "--name", "app", *common]
    run("verify", sealed, *reading)
    run("verify", sealed, *reading, "--kek", kek, "--json", "--state", tmp_path / "state.json")
    run("verify", sealed, *reading, "--kek", kek, "--out", tmp_path / "out")
    run("inspect", sealed, *common)
    run("inspect", sealed, "--json", *common)
    run("cat", sealed, "handler.py", *reading, "--kek", kek)
    rekeyed = tmp_path / "rekeyed"
    shutil.copytree(sealed, rekeyed)
    new_kek = new_keys / "data.kek"
    run("rekey", rekeyed, "--kek", kek, "--new-kek", new_kek, "--signing-key", signing, *common)
    run("verify", rekeyed, *reading, "--kek", new_kek, "--json")
    url = "s3://coldseal/hygiene/app"
    run("publish", sealed, url, "--json", *common)
    run("verify", url, *reading, "--kek", kek, "--json", "--out", tmp_path / "out-s3")
    run("cat", url, "handler.py", *reading, "--kek", kek)
    # Error paths: the wrong KEK, a tampered payload, a bad key file, a bad option.
    run("verify", sealed, *reading, "--kek", new_kek, code=1)
    run("cat", sealed, "handler.py", *reading, "--kek", new_kek, code=1)
    run("rekey", rekeyed, "--kek", kek, "--new-kek", new_kek, "--signing-key", signing, code=1)
    tampered = tmp_path / "tampered"
    shutil.copytree(sealed, tampered)
    manifest = mf.decode((sealed / mf.MANIFEST_FILE).read_bytes()).manifest
    payload = tampered / manifest.payload
    data = bytearray(payload.read_bytes())
    data[3] ^= 1
    payload.write_bytes(bytes(data))
    run("verify", tampered, *reading, "--kek", kek, "--out", tmp_path / "never", code=1)
    bad_kek = tmp_path / "bad.kek"
    bad_kek.write_bytes(kek.read_bytes()[:-6] + b"!!!\n")
    bad_kek.chmod(0o600)
    run("verify", sealed, *reading, "--kek", bad_kek, code=2)
    run("seal", app, tmp_path / "x", "--signing-key", kek, "--kek", kek, code=2)
    run("verify", sealed, *reading, "--kek", kek, "--threads", "0", code=2)

    secrets = {
        "KEK": _kek_bytes(kek),
        "new KEK": _kek_bytes(new_kek),
        "signing key seed": _signing_seed(signing),
    }
    loaded = Kek.load(kek)
    try:
        secrets["DEK"] = secret_bytes(loaded.unwrap(manifest.dek.wrapped, manifest.archive_id))
    finally:
        loaded.close()
    assert hook.exists(), "the violation hook never ran"
    assert log.exists(), "nothing was audited"
    key_files = {p for d in (keys, new_keys) for p in d.iterdir()} | {bad_kek}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p not in key_files]
    assert any(p.name.startswith("payload-") for p in written)
    problems = [
        f"{label}: {leaks(out, secrets)}" for label, out in run.outputs if leaks(out, secrets)
    ]
    problems += [
        f"{p}: {leaks(p.read_bytes(), secrets)}" for p in written if leaks(p.read_bytes(), secrets)
    ]
    assert problems == []


def test_reprs_and_exception_messages_hold_no_key_material(tmp_path: Path) -> None:
    run = Runner(dict(os.environ))
    keys = tmp_path / "keys"
    run("keygen", keys)
    sealed = tmp_path / "sealed"
    run("seal", HELLO, sealed, "--signing-key", keys / "signing.key", "--kek", keys / "data.kek")
    other = tmp_path / "other"
    run("keygen", other)
    kek, wrong = Kek.load(keys / "data.kek"), Kek.load(other / "data.kek")
    signing, pub = SigningKey.load(keys / "signing.key"), PublicKey.load(keys / "signing.pub")
    signed = mf.decode((sealed / mf.MANIFEST_FILE).read_bytes())
    dek = kek.unwrap(signed.manifest.dek.wrapped, signed.manifest.archive_id)
    secrets = {
        "KEK": _kek_bytes(keys / "data.kek"),
        "other KEK": _kek_bytes(other / "data.kek"),
        "signing key seed": _signing_seed(keys / "signing.key"),
        "DEK": secret_bytes(dek),
    }
    texts = [repr(kek), repr(wrong), repr(signing), repr(pub), repr(signed), str(signed)]
    report = coldseal.verify(sealed, trust=[pub], kek=kek, out=tmp_path / "out")
    texts += [repr(report), str(report.to_json())]
    failures: list[BaseException] = []
    for attempt in (
        lambda: coldseal.verify(sealed, trust=[pub], kek=wrong),
        lambda: wrong.unwrap(signed.manifest.dek.wrapped, signed.manifest.archive_id),
        lambda: coldseal.open(sealed, trust=[pub], kek=wrong),
    ):
        with pytest.raises(ColdsealError) as info:
            attempt()
        failures.append(info.value)
    texts += [f"{e!r} {e} {e.args}" for e in failures]
    with coldseal.open(sealed, trust=[pub], kek=kek) as archive:
        texts.append(repr(archive))
    problems = [t for t in texts if leaks(t.encode(), secrets)]
    assert problems == []


def test_a_failed_lazy_open_wipes_its_copy_of_the_dek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Runner(dict(os.environ))
    keys = tmp_path / "keys"
    run("keygen", keys)
    sealed = tmp_path / "sealed"
    run("seal", HELLO, sealed, "--signing-key", keys / "signing.key", "--kek", keys / "data.kek")
    m = mf.decode((sealed / mf.MANIFEST_FILE).read_bytes()).manifest
    payload = sealed / m.payload
    data = bytearray(payload.read_bytes())
    data[m.tree_offset] ^= 1  # the open fails after the DEK was unwrapped
    payload.write_bytes(bytes(data))
    made: list[reader.ThreadContexts] = []

    class Recording(reader.ThreadContexts):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(reader, "ThreadContexts", Recording)
    pub, kek = PublicKey.load(keys / "signing.pub"), Kek.load(keys / "data.kek")
    with pytest.raises(IntegrityError):
        coldseal.open(sealed, trust=[pub], kek=kek)
    assert len(made) == 1
    assert made[0]._dek.closed  # wiped and unmapped, not left for the collector


def test_needles_find_every_encoding() -> None:
    secret = bytes(range(38, 6, -1))
    for prefix in (b"", b"a", b"ab", b"abc"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            assert leaks(b"<" + encode(prefix + secret).rstrip(b"=") + b">", {"k": secret})
    for text in (secret, secret.hex().upper().encode(), repr(secret).encode()):
        assert leaks(b"x" + text + b"y", {"k": secret})
    assert not leaks(bytes(range(256)) * 8, {"k": secret})
