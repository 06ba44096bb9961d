"""The golden corrupt corpus keeps failing the way it must.

Every case of :mod:`tests.hardening.corrupt_cases` is rebuilt from the
checked-in golden archive, checked against its pinned digest (the corpus is
golden: the bytes do not drift), and refused both by the library (with the
expected exception class) and by the CLI (the documented exit code, one
line on stderr naming the problem, nothing extracted).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import coldseal
from coldseal import errors, sources
from coldseal.format import manifest as mf
from coldseal.keys import Kek, PublicKey
from tests.conftest import leftovers, run_cli
from tests.hardening import corrupt_cases as cc


@pytest.fixture(scope="module")
def test_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test-only keys, copied with the 0600 mode git cannot keep."""
    return cc.private_keys(tmp_path_factory.mktemp("golden-keys"))


def _error_class(name: str) -> type[BaseException]:
    for module in (errors, mf):
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
    raise AssertionError(name)


def test_golden_archive_verifies(test_keys: Path, tmp_path: Path) -> None:
    """The corpus's base is sound, so each case fails for its own change."""
    r = run_cli(
        "verify",
        cc.GOLDEN,
        "--trust",
        test_keys / "signing.pub",
        "--kek",
        test_keys / "data.kek",
        "--name",
        cc.NAME,
        "--out",
        tmp_path / "out",
    )
    assert r.code == 0, r.err
    assert (tmp_path / "out" / "app" / "handler.py").is_file()


def test_digests_cover_every_case() -> None:
    pinned = json.loads(cc.DIGESTS.read_text())
    assert sorted(pinned) == sorted(c.name for c in cc.CASES)


def _xfail_known(case: cc.Case) -> object:
    if case.name in cc.KNOWN_FAILING:
        return pytest.param(
            case,
            id=case.name,
            marks=pytest.mark.xfail(
                strict=True,
                reason="keys.py lets cryptography's exception escape (docs/fuzzing.md F3)",
            ),
        )
    return pytest.param(case, id=case.name)


@pytest.mark.parametrize("case", [_xfail_known(c) for c in cc.CASES])
def test_corrupt_case_is_refused(case: cc.Case, test_keys: Path, tmp_path: Path) -> None:
    folder = tmp_path / case.name
    case.build(folder)
    assert cc.digest(folder) == json.loads(cc.DIGESTS.read_text())[case.name], "corpus drifted"
    out = tmp_path / "out"
    pub, kek = test_keys / "signing.pub", test_keys / "data.kek"
    if case.kind == "archive":
        args = ["verify", folder, "--trust", pub, "--kek", kek, "--name", cc.NAME, "--out", out]
    elif case.kind == "zip":
        args = [
            "seal",
            folder / "input.zip",
            out,
            "--signing-key",
            test_keys / "signing.key",
            "--kek",
            kek,
        ]
    else:
        key = next(folder.iterdir())
        key.chmod(0o600)
        trust = key if key.name.endswith(".pub") else pub
        args = ["verify", cc.GOLDEN, "--trust", trust, "--name", cc.NAME]
        if key.name.endswith(".kek"):
            args += ["--kek", key]
    r = run_cli(*args)
    assert r.code == case.exit_code, r.err
    assert r.err.count("\n") == 1, r.err
    assert r.err.startswith("coldseal: error: ")
    assert case.message in r.err, r.err
    assert leftovers(out) == []

    with pytest.raises(_error_class(case.error)):
        _library_call(case, folder, test_keys, out)


def _library_call(case: cc.Case, folder: Path, test_keys: Path, out: Path) -> None:
    """What the case does through the library rather than the CLI."""
    pub, kek = test_keys / "signing.pub", test_keys / "data.kek"
    if case.kind == "archive":
        trust = [PublicKey.load(pub)]
        coldseal.verify(folder, trust=trust, kek=Kek.load(kek), name=cc.NAME, out=out)
    elif case.kind == "zip":
        source = sources.open_source(folder / "input.zip")
        try:
            for _ in source.blocks():
                pass
        finally:
            source.close()
    else:
        key = next(folder.iterdir())
        (PublicKey.load if key.name.endswith(".pub") else Kek.load)(key)
