"""A signed manifest has one byte form: values equal in Python but not in JSON are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.conftest import Keys, run_cli

from coldseal.format import canonical
from coldseal.format import manifest as mf


@pytest.mark.parametrize(
    ("field", "value"),
    [("format", True), ("version", 7.0), ("expires", False), ("chunk_count", True)],
)
def test_a_value_of_another_json_type_is_refused(
    sealed_hello: Path, keys: Keys, tmp_path: Path, field: str, value: object
) -> None:
    work = tmp_path / "s"
    shutil.copytree(sealed_hello, work)
    envelope = json.loads((work / "manifest.json").read_bytes())
    envelope["manifest"][field] = value
    try:
        raw = canonical.encode(envelope)
    except canonical.CanonicalError:
        return  # the encoder itself refuses the form (floats): nothing to sign
    with pytest.raises(mf.ManifestError):
        mf.decode(raw)
    (work / "manifest.json").write_bytes(raw)
    r = run_cli("verify", work, "--trust", keys.public, "--kek", keys.kek)
    assert r.code == 1, r.err
