"""Base64 straight between text buffers and protected key memory.

``base64.b64decode`` would return the key as an immutable ``bytes`` object
that can be neither locked nor wiped. These codecs read the text from a
caller-owned buffer (which the caller wipes) and write each decoded byte into
a :class:`~coldseal._native.Secret`, or encode a secret into a ``bytearray``
of its final size that the caller wipes, so the key never exists as one
Python object. What remains outside our control are the small ``int``
temporaries holding at most three key bytes at a time, which the interpreter
frees (or caches) without wiping.
"""

from __future__ import annotations

from coldseal._native import BytesLike, Secret
from coldseal.errors import UsageError

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALUES = {c: i for i, c in enumerate(_ALPHABET)}
_PAD = ord("=")


def b64_decoded_len(text: BytesLike) -> int:
    """How many bytes standard padded base64 ``text`` decodes to (format checked later)."""
    view = memoryview(text).cast("B")
    if len(view) % 4:
        raise UsageError("base64 text must be a multiple of 4 characters long")
    pad = 0
    if len(view) and view[-1] == _PAD:
        pad = 2 if view[-2] == _PAD else 1
    return len(view) // 4 * 3 - pad


def b64decode_into_secret(text: BytesLike) -> Secret:
    """Strictly decode padded standard base64 into new protected memory.

    Rejects characters outside the alphabet, misplaced padding and non-zero
    bits after the last byte, so every key has exactly one text form.
    """
    view = memoryview(text).cast("B")
    length = b64_decoded_len(view)
    if length == 0:
        raise UsageError("empty base64 key")
    secret = Secret(length)
    try:
        out = 0
        for start in range(0, len(view), 4):
            acc = 0
            quad = view[start : start + 4]
            last = start + 4 == len(view)
            for pos in range(4):
                char = quad[pos]
                if char == _PAD and last and pos >= 2 and (pos == 3 or quad[3] == _PAD):
                    acc <<= 6
                    continue
                value = _VALUES.get(char)
                if value is None:
                    raise UsageError("not valid base64")
                acc = (acc << 6) | value
            for shift in (16, 8, 0):
                if out < length and out < start // 4 * 3 + 3:
                    secret.set_byte(out, (acc >> shift) & 0xFF)
                    out += 1
                elif (acc >> shift) & 0xFF:
                    raise UsageError("not valid base64 (non-canonical padding bits)")
            acc = 0
    except BaseException:
        secret.close()
        raise
    return secret


def join_wiped(*parts: BytesLike) -> bytearray:
    """``parts`` joined in one buffer of the final size, for text around key material.

    Concatenating would leave intermediate copies of the key text that
    nobody wipes; the caller wipes the one buffer this returns.
    """
    out = bytearray(sum(memoryview(part).nbytes for part in parts))
    at = 0
    for part in parts:
        n = memoryview(part).nbytes
        out[at : at + n] = part
        at += n
    return out


def b64encode_secret(secret: Secret) -> bytearray:
    """Padded standard base64 of a secret, in a bytearray the caller wipes."""
    n = len(secret)
    # Sized once: appending would regrow the buffer and strand unwiped copies.
    out = bytearray((n + 2) // 3 * 4)
    at = 0
    for start in range(0, n, 3):
        take = min(3, n - start)
        acc = 0
        for i in range(3):
            acc = (acc << 8) | (secret.byte(start + i) if i < take else 0)
        for i in range(4):
            out[at] = _ALPHABET[(acc >> (18 - 6 * i)) & 0x3F] if i <= take else _PAD
            at += 1
        acc = 0
    return out
