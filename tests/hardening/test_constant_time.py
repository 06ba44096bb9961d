"""MACs, hashes and secrets are compared in constant time, in Python and in C.

The Python check is static: every ``==``/``!=`` in ``src/coldseal`` whose
operand names a leaf, tag, root, digest, MAC, signature, wrapped key or
secret (other than through ``len()``) must be on the short allow-list of
comparisons of *public* values below, with the reason. Anything else must go
through ``hmac.compare_digest`` or the core's ``CRYPTO_memcmp``. The C check
is that the core compares hashes only through ``cs_ct_equal``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SENSITIVE = re.compile(r"leaf|tag\b|root|digest|mac\b|signature|table_hash|wrapped|dek\b|secret")
# (file, source text) -> why comparing it with == is fine.
PUBLIC = {
    (
        "trust_state.py",
        'seen.get("merkle_root") != manifest.merkle_root.hex()',
    ): "the signed manifest's public root against the trust state's copy of it",
    (
        "manifest.py",
        '[s["key_id"] for s in sigs] != sorted(signatures)',
    ): "public signer key ids, checked for canonical order",
    ("keys.py", "wrapped.kek_id != self.key_id"): "public KEK ids, not the keys",
    ("keys.py", "wrapped.scheme != self.scheme"): "the public name of a wrapping scheme",
    ("keyring.py", "wrapped.scheme != self.scheme"): "the public name of a wrapping scheme",
    ("kms.py", "wrapped.scheme != SCHEME"): "the public name of a wrapping scheme",
    ("kms.py", "kms_key_id(self.ref) != wrapped.kek_id"): "public ids of KMS key ARNs",
    ("kms.py", "kms_key_id(arn) != wrapped.kek_id"): "public ids of KMS key ARNs",
    (
        "rekey.py",
        "(wrapped.scheme, wrapped.kek_id) == (manifest.dek.scheme, manifest.dek.kek_id)",
    ): "public scheme names and KEK ids",
    ("listing.py", "leaf == MANIFEST_FILE"): "an object key's last path part, not a hash leaf",
    (
        "measure.py",
        "leaf != leaves[32 * i : 32 * i + 32]",
    ): "the benchmark's naive-Python baseline, written as a naive user would",
}


def _operand_texts(src: str, node: ast.Compare) -> list[str]:
    texts = []
    for operand in [node.left, *node.comparators]:
        if isinstance(operand, ast.Call) and getattr(operand.func, "id", None) == "len":
            continue
        texts.append(ast.get_source_segment(src, operand) or "")
    return texts


def test_python_compares_secrets_and_macs_only_in_constant_time() -> None:
    found = []
    for path in sorted((ROOT / "src" / "coldseal").rglob("*.py")):
        src = path.read_text()
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                continue
            if any(SENSITIVE.search(t) for t in _operand_texts(src, node)):
                text = ast.get_source_segment(src, node)
                if (path.name, text) not in PUBLIC:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text}")
    assert found == []


def test_the_sensitive_pattern_catches_a_plain_comparison() -> None:
    src = "ok = computed_leaf == leaf\n"
    node = next(n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Compare))
    assert any(SENSITIVE.search(t) for t in _operand_texts(src, node))


def test_c_core_compares_hashes_only_through_crypto_memcmp() -> None:
    for path in sorted((ROOT / "native").glob("*.c")):
        text = path.read_text()
        assert "memcmp(" not in text.replace("CRYPTO_memcmp(", ""), path.name
    util = (ROOT / "native" / "cs_util.c").read_text()
    assert "CRYPTO_memcmp(a, b, len)" in util
