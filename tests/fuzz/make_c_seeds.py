"""Write the libFuzzer seed corpus for native/fuzz (deterministic, no key material).

Each target's seeds follow its input layout (see the comment at the top of
its harness): a few well-formed inputs that reach the deep paths -- a real
zstd frame as an authentic chunk body, an honest Merkle tree, a batch with
true leaves -- and a few boundary shapes. The corpus is small and checked
in; re-running this script rewrites it byte for byte.

Usage: python tests/fuzz/make_c_seeds.py [OUTDIR]   (default native/fuzz/corpus)
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from coldseal import _native


def _u(value: int, width: int) -> bytes:
    return value.to_bytes(width, "little")


def _text(n: int) -> bytes:
    words = b"def handler(event, context):\n    return {'status': 200, 'body': event}\n"
    return (words * (n // len(words) + 1))[:n]


def seeds() -> dict[str, dict[str, bytes]]:
    """Seed name -> bytes, per target."""
    z = _native.ZstdContext(3)
    frame = z.compress(_text(3000))
    tiny = z.compress(b"a" * 4096)
    out: dict[str, dict[str, bytes]] = {}
    out["fuzz_open_chunk"] = {
        # mode | index | plain length selector (1 + v % 64 KiB) | [leaf] | body
        "authentic_zstd": _u(2, 1) + _u(7, 8) + _u(2999, 4) + frame,
        "authentic_rle": _u(3, 1) + _u(0, 8) + _u(4095, 4) + tiny,
        "authentic_stored": _u(2, 1) + _u(1, 8) + _u(63, 4) + _text(64),
        "true_leaf_bad_tag": _u(1, 1) + _u(3, 8) + _u(99, 4) + _text(116),
        "tampered": _u(0, 1) + _u(5, 8) + _u(10, 4) + bytes(32) + _text(27),
        "too_short": _u(1, 1) + _u(0, 8) + _u(0, 4) + b"\x00" * 16,
    }
    out["fuzz_zstd"] = {
        "frame": _u(3000, 4) + frame,
        "rle": _u(4096, 4) + tiny,
        "wrong_size": _u(2999, 4) + frame,
        "two_frames": _u(6000, 4) + frame + frame,
        "empty": _u(0, 4),
    }
    out["fuzz_merkle"] = {
        # mode | n | index | ...
        "honest_7": _u(1, 1) + _u(7, 2) + _u(6, 2) + _text(40),
        "honest_1": _u(1, 1) + _u(1, 2) + _u(0, 2) + b"x",
        "honest_1000": _u(1, 1) + _u(1000, 2) + _u(513, 2) + _text(10) + _u(700, 4),
        "hostile_5": _u(0, 1) + _u(5, 2) + _u(4, 2) + bytes(64) + _u(1, 1) + bytes(32),
        "hostile_huge": _u(2, 1) + _u(300, 2) + _u(9, 2) + _u(0xFFFF, 2) + bytes(64) + _u(25, 1),
    }
    out["fuzz_blake3"] = {
        # mode | split | seek | out length - 1 | message
        "hash_1025": _u(0, 1) + _u(1024, 2) + _u(0, 2) + _u(31, 1) + _text(1025),
        "keyed_4097": _u(1, 1) + _u(64, 2) + _u(0, 2) + _u(63, 1) + _text(4097),
        "derive_xof": _u(2, 1) + _u(3, 2) + _u(77, 2) + _u(255, 1) + _text(300),
        "empty": _u(0, 1) + _u(0, 2) + _u(0, 2) + _u(31, 1),
        "many_chunks": _u(0, 1) + _u(5000, 2) + _u(0, 2) + _u(31, 1) + _text(17 * 1024 + 5),
    }
    # The batch: jobs over one pool; leaf mode 1 means the true leaf of the slice.
    pool = _text(2000)
    jobs = b"".join(
        struct.pack("<HHHB", index, plain, sealed, leaf_mode)
        for index, plain, sealed, leaf_mode in [(0, 99, 80, 1), (1, 4000, 300, 1), (2, 5, 0, 0)]
    )
    out["fuzz_open_chunks"] = {
        "three_jobs_two_threads": _u(1, 1) + _u(3, 1) + jobs + pool,
        "one_job": _u(0, 1) + _u(1, 1) + struct.pack("<HHHB", 4, 40, 56, 1) + pool[:100],
    }
    aad = b"coldseal v1 dek wrap" + bytes(range(16))
    out["fuzz_aead_open"] = {
        # mode | aad length | nonce (12) | aad | ciphertext | tag (16)
        "wrapped_dek_shape": _u(1, 1) + _u(len(aad), 1) + bytes(12) + aad + bytes(48),
        "forged": _u(0, 1) + _u(len(aad), 1) + bytes(range(12)) + aad + _text(48),
        "empty_message": _u(3, 1) + _u(0, 1) + bytes(12) + bytes(16),
    }
    return out


def main() -> None:
    """Write every seed under the output folder, one folder per target."""
    default = Path(__file__).resolve().parents[2] / "native" / "fuzz" / "corpus"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    for target, named in seeds().items():
        folder = root / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in named.items():
            (folder / name).write_bytes(data)


if __name__ == "__main__":
    main()
