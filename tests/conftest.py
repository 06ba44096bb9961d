"""Shared test configuration: hypothesis profiles and the slow-test switch."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow; pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# ---- shared fixtures for archive-level tests ---------------------------------

import contextlib  # noqa: E402
import io  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from coldseal._cli import main  # noqa: E402


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str | Path) -> Result:
    """Run the CLI in-process and capture what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # --help and --version
            code = int(exit_.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


@dataclass
class Keys:
    dir: Path
    signing: Path
    public: Path
    kek: Path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys") / "k"
    assert run_cli("keygen", folder).code == 0
    return Keys(folder, folder / "signing.key", folder / "signing.pub", folder / "data.kek")


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys") / "other"
    assert run_cli("keygen", folder).code == 0
    return Keys(folder, folder / "signing.key", folder / "signing.pub", folder / "data.kek")


def leftovers(path: Path) -> list[str]:
    """Anything at or beside ``path`` that a failed run could have left."""
    found = [path.name] if path.exists() else []
    found += [p.name for p in path.parent.glob(f".{path.name}.coldseal-*")]
    return found


HELLO = Path(__file__).resolve().parent.parent / "src" / "coldseal" / "examples" / "hello_app"


@pytest.fixture(scope="session")
def sealed_hello(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    sealed = tmp_path_factory.mktemp("sealed") / "hello"
    result = run_cli(
        "seal",
        HELLO,
        sealed,
        "--signing-key",
        keys.signing,
        "--kek",
        keys.kek,
        "--version",
        "7",
        "--chunk-size",
        "4K",
    )
    assert result.code == 0, result.err
    return sealed


def secret_bytes(secret: object) -> bytes:
    """A test's copy of a protected secret's bytes (never done by the library)."""
    from coldseal._native import Secret  # noqa: PLC0415

    assert isinstance(secret, Secret)
    return bytes(secret.byte(i) for i in range(len(secret)))


def needles(secret: bytes) -> list[bytes]:
    """Every encoding of ``secret`` that a careless print or log could produce."""
    found = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    found.append(repr(secret)[2:-1].encode())
    for shift in range(3):
        # Inside a longer base64 string the key's encoding depends on its offset
        # mod 3: encode with each prefix and keep the middle, which is unaffected.
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + secret)
            found.append(text[4:-4])
    return found


def leaks(data: bytes, secrets: dict[str, bytes]) -> list[str]:
    """Names of the secrets some encoding of which occurs in ``data``."""
    return [name for name, s in secrets.items() if any(n in data for n in needles(s))]
