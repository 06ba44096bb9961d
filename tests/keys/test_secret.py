"""Protected key memory (cs_secret) and the base64 codecs that fill it."""

from __future__ import annotations

import base64
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import blake3
import pytest
from coldseal._core import ffi
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import secret_bytes

from coldseal import _native
from coldseal._secret_codec import b64decode_into_secret, b64encode_secret
from coldseal.errors import UsageError
from coldseal.keys import Kek


def _vm_flags(address: int) -> set[str]:
    """The kernel's VmFlags of the mapping holding ``address``."""
    text = Path("/proc/self/smaps").read_text()
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        start, end = (int(x, 16) for x in block.split(" ", 1)[0].split("-"))
        if start <= address < end:
            match = re.search(r"^VmFlags:(.*)$", block, re.MULTILINE)
            assert match is not None
            return set(match.group(1).split())
    msg = f"no mapping holds {address:#x}"
    raise AssertionError(msg)


def test_secret_memory_is_locked_and_left_out_of_core_dumps() -> None:
    secret = _native.Secret.random(32)
    address = int(ffi.cast("uintptr_t", secret.pointer()))
    flags = _vm_flags(address)
    assert "dd" in flags  # MADV_DONTDUMP
    assert "nodump" in secret.protections
    # mlock may be refused by RLIMIT_MEMLOCK; the flag must then say so honestly.
    # AddressSanitizer replaces mlock with a no-op that reports success, so
    # under the sanitizer run only the other protections can be checked.
    if "asan" not in os.environ.get("LD_PRELOAD", ""):
        assert ("lo" in flags) == ("locked" in secret.protections)
    assert ("wf" in flags) == ("wipeonfork" in secret.protections)
    secret.close()


def test_closed_secret_cannot_be_used_and_close_is_idempotent() -> None:
    secret = _native.Secret.copy_of(bytes(range(32)))
    assert secret_bytes(secret) == bytes(range(32))
    secret.close()
    secret.close()
    assert secret.closed
    with pytest.raises(UsageError, match="already released"):
        _native.AeadContext(secret)
    assert repr(secret) == "Secret(32 bytes, closed)"


def test_secret_is_never_pickled_or_shown() -> None:
    secret = _native.Secret.copy_of(b"\xaa" * 32)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert "aa" not in repr(secret)
    kek = Kek.from_bytes(b"\xbb" * 32)
    with pytest.raises(TypeError):
        pickle.dumps(kek)
    assert "bb" not in repr(kek)


def test_secret_equality_is_by_content() -> None:
    a, b = _native.Secret.copy_of(b"k" * 32), _native.Secret.copy_of(b"k" * 32)
    c = _native.Secret.copy_of(b"k" * 31 + b"j")
    assert a.equals(b)
    assert not a.equals(c)
    assert not a.equals(_native.Secret.copy_of(b"k" * 16))


@pytest.mark.parametrize("length", [0, _native.SECRET_MAX + 1])
def test_secret_lengths_are_bounded(length: int) -> None:
    with pytest.raises(UsageError):
        _native.Secret(length)


def test_aes_gcm_through_a_secret_matches_through_bytes() -> None:
    raw = bytes(range(32))
    nonce = b"n" * 12
    with _native.Secret.copy_of(raw) as key:
        via_secret = _native.AeadContext(key).seal(nonce, b"aad", b"plaintext")
    assert via_secret == _native.AeadContext(raw).seal(nonce, b"aad", b"plaintext")


def test_close_while_a_call_holds_the_secret_waits_for_the_call() -> None:
    secret = _native.Secret.copy_of(b"\x5a" * 32)
    raw = secret.pointer()
    with _native._Held(secret):  # what every core call does around itself
        secret.close()
        assert secret.closed
        # The call in flight still reads intact, mapped memory ...
        assert ffi.buffer(raw, 32)[:] == b"\x5a" * 32
        # ... and no new call may start.
        with pytest.raises(UsageError, match="already released"):
            _native.AeadContext(secret)
    assert secret._ptr is None  # the hold's release performed the wipe


def test_keyed_blake3_takes_a_secret_key() -> None:
    key = bytes(range(32))
    with _native.Secret.copy_of(key) as secret:
        expected = _native.b3_hash(b"data", mode=_native.MODE_KEYED, key=key)
        assert _native.b3_hash(b"data", mode=_native.MODE_KEYED, key=secret) == expected
        hasher = _native.Blake3Hasher(mode=_native.MODE_KEYED, key=secret)
        hasher.update(b"data")
        assert hasher.digest() == expected
    assert blake3.blake3(b"data", key=key).digest() == expected


def test_concurrent_close_never_lets_a_call_touch_freed_memory() -> None:
    nonce, aad = b"n" * 12, b"aad"
    expected = _native.AeadContext(b"k" * 32).seal(nonce, aad, b"p" * 4096)
    for _ in range(20):
        secret = _native.Secret.copy_of(b"k" * 32)
        outcomes: list[str] = []

        def use(key: _native.Secret = secret, out: list[str] = outcomes) -> None:
            for _ in range(200):
                try:
                    sealed = _native.AeadContext(key).seal(nonce, aad, b"p" * 4096)
                except UsageError:
                    out.append("refused")
                    return
                assert sealed == expected
            out.append("done")

        users = [threading.Thread(target=use) for _ in range(4)]
        for thread in users:
            thread.start()
        secret.close()
        for thread in users:
            thread.join()
        assert set(outcomes) <= {"done", "refused"}
        assert len(outcomes) == len(users)
        assert secret._ptr is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sees_a_blank_key_and_refuses_to_use_it() -> None:
    secret = _native.Secret.copy_of(b"\x77" * 32)
    raw = secret.pointer()
    wiped_in_child = "wipeonfork" in secret.protections
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 0
        try:
            if wiped_in_child and ffi.buffer(raw, 32)[:] != bytes(32):
                code = 2
            try:
                _native.AeadContext(secret)
                code = 3
            except UsageError as error:
                if "fork" not in str(error):
                    code = 4
            secret.close()  # frees the child's blank copy without the parent's lock
            if not secret.closed:
                code = 5
        except BaseException:
            code = 6
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert secret_bytes(secret) == b"\x77" * 32  # the parent's key is untouched
    secret.close()


@given(st.binary(min_size=1, max_size=200))
def test_base64_codecs_match_the_standard_library(raw: bytes) -> None:
    text = base64.b64encode(raw)
    with b64decode_into_secret(bytearray(text)) as secret:
        assert secret_bytes(secret) == raw
        assert bytes(b64encode_secret(secret)) == text


@given(st.binary(min_size=1, max_size=64))
def test_base64_decoder_accepts_exactly_what_strict_base64_accepts(text: bytes) -> None:
    try:
        expected = base64.b64decode(text, validate=True)
        canonical = base64.b64encode(expected) == text and len(expected) > 0
    except ValueError:
        canonical = False
    if canonical:
        with b64decode_into_secret(text) as secret:
            assert secret_bytes(secret) == expected
    else:
        with pytest.raises(UsageError):
            b64decode_into_secret(text).close()


def test_a_refused_mlock_is_reported_and_the_key_still_works() -> None:
    # RLIMIT_MEMLOCK of 0 makes mlock fail (as a small limit or 64 KiB pages
    # would): the key must still be usable, and `protections` must say so.
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))\n"
        "from coldseal import _native\n"
        "key = _native.Secret.copy_of(bytes(range(32)))\n"
        "assert 'locked' not in key.protections, key.protections\n"
        "sealed = _native.AeadContext(key).seal(b'n' * 12, b'aad', b'plaintext')\n"
        "plain = _native.AeadContext(bytes(range(32))).open(b'n' * 12, b'aad', sealed)\n"
        "assert plain == b'plaintext'\n"
    )
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's mlock always reports success")
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        # root's CAP_IPC_LOCK ignores the limit: run without that capability.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_IPC_LOCK")
        command = [setpriv, "--bounding-set=-ipc_lock", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
