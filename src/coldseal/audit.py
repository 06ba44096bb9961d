"""Audit events: one JSON line per command, and the violation hook.

``--audit-log FILE`` appends one line per event with a single ``write`` on a
file opened ``O_APPEND``, so lines from concurrent processes never
interleave. An event names what happened (time, action, source, archive
name, id, version, Merkle root, manifest digest, signer and KEK ids, result,
reason, phase timings, host) and never carries key material.

``--on-violation CMD`` runs ``CMD`` through the shell with the event as JSON
on stdin when a command fails for integrity reasons (exit 1). It is bounded
in time, and its own failure is reported but never changes the command's
result.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

from coldseal.errors import ColdsealError, IntegrityError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


HOOK_TIMEOUT_S = 30.0


def make_event(action: str, result: str, **fields: Any) -> dict[str, Any]:  # noqa: ANN401
    """An event dict with the common fields filled in."""
    event: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "action": action,
        "result": result,
        "host": os.uname().nodename,
        "pid": os.getpid(),
    }
    event.update({k: v for k, v in fields.items() if v is not None})
    return event


# The result of each exit status of the CLI contract (docs/cli.md); 4 is
# `coldseal bench`'s exceeded budget.
RESULTS = {0: "ok", 1: "integrity", 2: "usage", 3: "storage", 4: "budget"}
COMMON_FIELDS = frozenset({"time", "action", "result", "host", "pid", "reason"})


@contextlib.contextmanager
def reporting(
    action: str,
    on_event: Callable[[dict[str, Any]], None] | None,
    on_violation: Callable[[dict[str, Any]], None] | None,
) -> Iterator[dict[str, Any]]:
    """Emit one event for the operation in the ``with`` block.

    The block fills the yielded dict with what it learns (archive name, id,
    root, key ids, timings) as it goes, so a failure's event names as much
    as was known. ``on_event`` gets every event; ``on_violation`` also gets
    integrity failures. On success an exception from ``on_event`` propagates
    (an audit trail that cannot be written is a failure); on failure the
    callbacks' own exceptions are attached to the original error as notes,
    never replacing it.
    """
    fields: dict[str, Any] = {}
    try:
        yield fields
    except ColdsealError as error:
        event = make_event(
            action, RESULTS.get(error.exit_code, "error"), reason=str(error), **fields
        )
        callbacks = [on_event]
        if isinstance(error, IntegrityError):
            callbacks.append(on_violation)
        for callback in callbacks:
            if callback is None:
                continue
            try:
                callback(dict(event))
            except Exception as problem:  # noqa: BLE001 - must not mask the verdict
                error.add_note(f"an event callback failed: {type(problem).__name__}")
        raise
    if on_event is not None:
        on_event(make_event(action, "ok", **fields))


def append(path: str, event: dict[str, Any]) -> None:
    """Append one line to the audit log atomically with respect to other writers."""
    line = (json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def run_hook(command: str, event: dict[str, Any]) -> str | None:
    """Run the violation hook; returns a problem description, or None if it ran fine."""
    import subprocess  # noqa: PLC0415 - only when a hook is configured

    try:
        done = subprocess.run(  # noqa: S602 - the operator's own command line, by design
            command,
            shell=True,
            input=json.dumps(event).encode(),
            timeout=HOOK_TIMEOUT_S,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the violation hook did not finish within {HOOK_TIMEOUT_S:.0f} s"
    except OSError as error:
        return f"the violation hook could not run ({error.strerror})"
    if done.returncode != 0:
        return f"the violation hook exited with status {done.returncode}"
    return None
