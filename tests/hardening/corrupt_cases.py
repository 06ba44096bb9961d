"""Golden corrupt inputs: derived byte for byte from the checked-in golden archive.

``tests/vectors/corrupt/golden`` is a small sealed archive (6 chunks of
4 KiB, three files and a symlink) made with the test-only keys in
``tests/vectors/corrupt/keys``. Each case below rewrites it in one hostile
way -- a flipped byte, a truncation, a re-signed manifest with a field out
of its bounds -- or is a standalone corrupt input for another parser (a zip
that does not decompress, a key file). Ed25519 signatures are
deterministic, so every case is the same bytes on every run; their SHA-256
digests are pinned in ``tests/vectors/corrupt/digests.json`` so the corpus
cannot drift silently.

Run ``python -m tests.hardening.corrupt_cases DIR`` to write the cases out
for inspection, or ``--update-digests`` after a deliberate change.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import struct
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coldseal.format import canonical
from coldseal.format import manifest as mf

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "corrupt"
GOLDEN = VECTORS / "golden"
KEYS = VECTORS / "keys"
DIGESTS = VECTORS / "digests.json"
NAME = "golden"


@dataclass(frozen=True)
class Case:
    """One corrupt input and how coldseal must refuse it."""

    name: str
    kind: str  # "archive" (verify), "zip" (seal), "key" (verify --trust/--kek)
    build: Callable[[Path], None]
    exit_code: int
    error: str  # the exception class the library raises
    message: str  # a fragment of the one-line error


def _manifest() -> dict[str, object]:
    return json.loads((GOLDEN / mf.MANIFEST_FILE).read_bytes())  # type: ignore[no-any-return]


def _payload_name() -> str:
    return str(_manifest()["manifest"]["payload"])  # type: ignore[index]


def _copy(dest: Path) -> None:
    shutil.copytree(GOLDEN, dest)


def private_keys(dest: Path) -> Path:
    """The test-only keys copied into ``dest`` with mode 0600, which git cannot keep."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("signing.key", "signing.pub", "data.kek"):
        shutil.copy(KEYS / name, dest / name)
        (dest / name).chmod(0o600)
    return dest


def _signer() -> object:
    from coldseal.keys import SigningKey  # noqa: PLC0415

    folder = Path(tempfile.mkdtemp(prefix="coldseal-golden-"))
    try:
        return SigningKey.load(private_keys(folder) / "signing.key")
    finally:
        shutil.rmtree(folder)


def _flip_signature(dest: Path) -> None:
    _copy(dest)
    envelope = _manifest()
    sig = envelope["signatures"][0]  # type: ignore[index]
    sig["signature"] = ("B" if sig["signature"][0] == "A" else "A") + sig["signature"][1:]
    (dest / mf.MANIFEST_FILE).write_bytes(canonical.encode(envelope))


def _resign(dest: Path, edit: Callable[[dict[str, object]], None]) -> None:
    """Copy the golden archive, edit the manifest body, sign it again with the test key."""
    _copy(dest)
    envelope = _manifest()
    body = envelope["manifest"]
    assert isinstance(body, dict)
    edit(body)
    key = _signer()
    message = mf.SIGNING_DOMAIN + canonical.encode(body)
    sig = key.sign(message)  # type: ignore[attr-defined]
    envelope["signatures"] = [
        {"key_id": key.key_id, "signature": base64.b64encode(sig).decode()}  # type: ignore[attr-defined]
    ]
    (dest / mf.MANIFEST_FILE).write_bytes(canonical.encode(envelope))


def _edit_manifest_bytes(fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def build(dest: Path) -> None:
        _copy(dest)
        path = dest / mf.MANIFEST_FILE
        path.write_bytes(fn(path.read_bytes()))

    return build


def _edit_payload(fn: Callable[[bytearray, dict[str, int]], None]) -> Callable[[Path], None]:
    def build(dest: Path) -> None:
        _copy(dest)
        path = dest / _payload_name()
        data = bytearray(path.read_bytes())
        body = _manifest()["manifest"]
        assert isinstance(body, dict)
        fn(data, {k: v for k, v in body.items() if isinstance(v, int)})
        path.write_bytes(bytes(data))

    return build


def _flip(
    offset_of: Callable[[dict[str, int]], int],
) -> Callable[[bytearray, dict[str, int]], None]:
    def fn(data: bytearray, m: dict[str, int]) -> None:
        data[offset_of(m)] ^= 0x01

    return fn


def _set(**fields: object) -> Callable[[Path], None]:
    return lambda dest: _resign(dest, lambda body: body.update(fields))


def _swap_table_entries(data: bytearray, m: dict[str, int]) -> None:
    t = m["table_offset"]
    ends = list(struct.unpack_from("<6Q", data, t))
    ends[1], ends[2] = ends[2], ends[1]
    struct.pack_into("<6Q", data, t, *ends)


def _delete(name: Callable[[], str]) -> Callable[[Path], None]:
    def build(dest: Path) -> None:
        _copy(dest)
        (dest / name()).unlink()

    return build


def _zip_with(mutate: Callable[[bytearray], None]) -> Callable[[Path], None]:
    """A valid two-file zip, then one byte-level change that zipfile trips over."""

    def build(dest: Path) -> None:
        dest.mkdir()
        path = dest / "input.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in (("a.py", "A = 1\n" * 50), ("b.py", "B = 2\n" * 50)):
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, text)
        data = bytearray(path.read_bytes())
        mutate(data)
        path.write_bytes(bytes(data))

    return build


def _deflate_garbage(data: bytearray) -> None:
    # The first member's compressed bytes start after its 30-byte local header and name.
    data[30 + 4 : 30 + 4 + 6] = b"\xff\xff\xff\xff\xff\xff"


def _bad_utf8_name(data: bytearray) -> None:
    # Flag the first member's name as UTF-8 (bit 11) in the central directory,
    # and make its local header's copy of the name invalid UTF-8.
    cd = data.index(b"PK\x01\x02")
    data[cd + 9] |= 0x08
    data[30] = 0x9E


def _future_version(data: bytearray) -> None:
    cd = data.index(b"PK\x01\x02")
    data[cd + 6] = 145  # "version needed to extract" 14.5


def _bogus_local_offset(data: bytearray) -> None:
    cd = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 42, 0xFFFFFFF0)


def _key_file(content: bytes, name: str) -> Callable[[Path], None]:
    def build(dest: Path) -> None:
        dest.mkdir()
        (dest / name).write_bytes(content)

    return build


_PUB = (
    b"-----BEGIN PUBLIC KEY-----\n"
    b"MCowBQYDK2VwAyEADR3PPLE6tR8kMYM5wI3faSviNHk5KKS8ubYnYsl55es=\n"
    b"-----END PUBLIC KEY-----\n"
)

CASES: list[Case] = [
    # -- the manifest ----------------------------------------------------------
    Case(
        "manifest_not_json",
        "archive",
        _edit_manifest_bytes(lambda b: b[:-1]),
        1,
        "ManifestError",
        "not canonical JSON",
    ),
    Case(
        "manifest_whitespace",
        "archive",
        _edit_manifest_bytes(lambda b: b.replace(b",", b", ", 1)),
        1,
        "ManifestError",
        "not in canonical form",
    ),
    Case(
        "manifest_oversize",
        "archive",
        _edit_manifest_bytes(lambda b: b + b" " * (16 << 10)),
        1,
        "IntegrityError",
        "over the 16384-byte limit",
    ),
    Case(
        "manifest_signature_flipped",
        "archive",
        _flip_signature,
        1,
        "IntegrityError",
        "0 valid signature(s)",
    ),
    Case(
        "manifest_format_2", "archive", _set(format=2), 1, "ManifestError", "unknown format version"
    ),
    Case(
        "manifest_unknown_cipher",
        "archive",
        _set(cipher="chacha20"),
        1,
        "ManifestError",
        "unknown cipher suite",
    ),
    Case(
        "manifest_archive_id_spaces",
        "archive",
        lambda d: _resign(
            d,
            lambda b: b.update(
                archive_id="5f d4 9f 0e fc 93 3f a3 bb 04 b9",
                payload="payload-5fd49f0efc933fa3bb04b9.bin",
            ),
        ),
        1,
        "ManifestError",
        "archive_id must be 32 lowercase hex digits",
    ),
    Case("manifest_chunk_count", "archive", _set(chunk_count=7), 1, "ManifestError", "chunk_count"),
    Case(
        "manifest_huge_chunk_count",
        "archive",
        _set(chunk_count=1 << 29),
        1,
        "ManifestError",
        "chunk_count",
    ),
    Case(
        "manifest_payload_size",
        "archive",
        _set(payload_size=6626),
        1,
        "ManifestError",
        "payload_size",
    ),
    Case(
        "manifest_index_size",
        "archive",
        _set(index_size=(256 << 20) + 1),
        1,
        "ManifestError",
        "index_size",
    ),
    Case(
        "manifest_kek_id",
        "archive",
        _set(
            dek={
                "scheme": "local-aes-256-gcm",
                "kek_id": "0000000000000000",
                "wrapped": _manifest()["manifest"]["dek"]["wrapped"],
            }
        ),  # type: ignore[index]
        1,
        "IntegrityError",
        "wrapped under KEK 0000000000000000",
    ),
    Case(
        "manifest_wrapped_dek_flipped",
        "archive",
        lambda d: _resign(
            d,
            lambda b: b["dek"].update(  # type: ignore[union-attr]
                wrapped="A" + b["dek"]["wrapped"][1:]
            ),
        ),  # type: ignore[index]
        1,
        "IntegrityError",
        "data key",
    ),
    Case(
        "manifest_merkle_root",
        "archive",
        _set(merkle_root="00" * 32),
        1,
        "IntegrityError",
        "Merkle root",
    ),
    Case(
        "manifest_wrong_name",
        "archive",
        _set(name="other"),
        1,
        "IntegrityError",
        "expected 'golden'",
    ),
    # -- the payload -----------------------------------------------------------
    Case(
        "payload_truncated",
        "archive",
        _edit_payload(lambda d, _m: d.__delitem__(slice(-1, None))),
        1,
        "IntegrityError",
        "the manifest says 6625",
    ),
    Case(
        "payload_extended",
        "archive",
        _edit_payload(lambda d, _m: d.extend(b"\0")),
        1,
        "IntegrityError",
        "the manifest says 6625",
    ),
    Case(
        "chunk_0_flipped",
        "archive",
        _edit_payload(_flip(lambda _m: 5)),
        1,
        "IntegrityError",
        "chunk 0 failed verification",
    ),
    Case(
        "index_chunk_flipped",
        "archive",
        _edit_payload(_flip(lambda m: m["index_sealed_offset"] + 3)),
        1,
        "IntegrityError",
        "failed verification",
    ),
    Case(
        "chunk_tag_flipped",
        "archive",
        _edit_payload(_flip(lambda m: m["table_offset"] - 1)),
        1,
        "IntegrityError",
        "failed verification",
    ),
    Case(
        "table_entry_flipped",
        "archive",
        _edit_payload(_flip(lambda m: m["table_offset"] + 8)),
        1,
        "IntegrityError",
        "chunk table does not match",
    ),
    Case(
        "table_entries_swapped",
        "archive",
        _edit_payload(_swap_table_entries),
        1,
        "IntegrityError",
        "chunk table",
    ),
    Case(
        "leaf_flipped",
        "archive",
        _edit_payload(_flip(lambda m: m["tree_offset"] + 40)),
        1,
        "IntegrityError",
        "Merkle root does not match",
    ),
    Case(
        "inner_node_flipped",
        "archive",
        _edit_payload(_flip(lambda m: m["tree_offset"] + 32 * 7)),
        1,
        "IntegrityError",
        "inner nodes",
    ),
    Case(
        "manifest_missing",
        "archive",
        _delete(lambda: mf.MANIFEST_FILE),
        3,
        "StorageError",
        "manifest.json",
    ),
    Case("payload_missing", "archive", _delete(_payload_name), 3, "StorageError", "payload-"),
    # -- inputs to seal (each found by fuzzing the zip reader) ------------------
    Case(
        "zip_member_does_not_inflate",
        "zip",
        _zip_with(_deflate_garbage),
        2,
        "UsageError",
        "not a readable zip file",
    ),
    Case(
        "zip_name_not_utf8",
        "zip",
        _zip_with(_bad_utf8_name),
        2,
        "UsageError",
        "not a readable zip file",
    ),
    Case(
        "zip_future_version",
        "zip",
        _zip_with(_future_version),
        2,
        "UsageError",
        "not a readable zip file",
    ),
    Case(
        "zip_bogus_member_offset",
        "zip",
        _zip_with(_bogus_local_offset),
        2,
        "UsageError",
        "not a readable zip file",
    ),
    # -- key files -------------------------------------------------------------
    Case(
        "pub_key_truncated",
        "key",
        _key_file(_PUB[:40], "signing.pub"),
        2,
        "UsageError",
        "not a PEM public key",
    ),
    Case(
        "pub_key_unknown_oid",
        "key",
        _key_file(_PUB.replace(b"K2Vw", b"K1Vw"), "signing.pub"),
        2,
        "UsageError",
        "signing.pub",
    ),
    Case(
        "kek_bad_base64",
        "key",
        _key_file(b"coldseal-kek-v1 !!!!\n", "data.kek"),
        2,
        "UsageError",
        "data.kek",
    ),
]

# Known to fail today (see docs/fuzzing.md, F3); a strict xfail turns green when fixed.
KNOWN_FAILING: set[str] = set()  # cases whose fix has not landed (none now)


def digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of every file of a case."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def main() -> None:
    """Write every case under DIR, or refresh the pinned digests."""
    update = "--update-digests" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--update-digests"]
    out = Path(args[0]) if args else Path("corrupt-cases")
    digests = {}
    for case in CASES:
        folder = out / case.name
        shutil.rmtree(folder, ignore_errors=True)
        case.build(folder)
        digests[case.name] = digest(folder)
    if update:
        DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
