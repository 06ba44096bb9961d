"""A small AWS JSON-protocol client: SigV4 signing over ``http.client``.

Why not boto3/botocore: importing ``botocore.session`` alone costs 210-330 ms
here and creating a client about as much again, paid at every cold start
that opens a KMS-wrapped archive. One signed POST needs only ``hmac``,
``hashlib`` and ``http.client``. The request path is the same against AWS
and against a local emulator; only the endpoint differs.

Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN`` (what Lambda and most CI set). Without them, and only
then, botocore's credential chain (profiles, SSO, ECS and EC2 roles) is used
if botocore is installed. Secrets never appear in errors.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from coldseal.errors import StorageError, UsageError

ATTEMPTS = 4
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
MAX_RESPONSE = 64 << 10
_RETRYABLE_TYPES = frozenset(
    {
        "ThrottlingException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "ServiceUnavailableException",
        "InternalFailure",
        "RequestLimitExceeded",
    }
)


@dataclass(frozen=True)
class Credentials:
    """An access key pair, with a session token for temporary credentials."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        """The access key id only."""
        return f"Credentials(access_key={self.access_key!r})"


class AwsError(Exception):
    """An error answer from the service: its type name and message."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        """Keep the short type name (after ``#``) and the HTTP status."""
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.message = message
        self.status = status


def load_credentials() -> Credentials:
    """Credentials from the environment, else from botocore's chain if installed."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
    try:
        import botocore.session  # type: ignore[import-untyped]  # noqa: PLC0415 - slow path
    except ImportError:
        raise UsageError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or install botocore for profiles and instance roles)"
        ) from None
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        found = botocore.session.get_session().get_credentials()
    except BotoCoreError as error:
        raise UsageError(f"AWS credentials: {error}") from None
    if found is None:
        raise UsageError("no AWS credentials found (environment, profiles or instance role)")
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_v4(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | bytearray,
    credentials: Credentials,
    region: str,
    service: str,
    amz_date: str,
) -> dict[str, str]:
    """The headers of a request signed with AWS Signature Version 4.

    ``headers`` must not yet hold Authorization, X-Amz-Date or the session
    token; they are added. ``amz_date`` is ``YYYYMMDDTHHMMSSZ`` (UTC).
    """
    parts = urllib.parse.urlsplit(url)
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    names = sorted(signed)
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    )
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(parts.path or "/", safe="/-_.~"),
            canonical_query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + credentials.secret_key).encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = dict(headers)
    out["X-Amz-Date"] = amz_date
    if credentials.token:
        out["X-Amz-Security-Token"] = credentials.token
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


class JsonClient:
    """Signed POSTs of the AWS JSON 1.1 protocol to one service endpoint."""

    def __init__(self, *, service: str, target_prefix: str, region: str, endpoint: str) -> None:
        """A client for ``service`` at ``endpoint`` (https, or http for local emulators)."""
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise UsageError(f"not an http(s) endpoint URL: {endpoint[:80]!r}")
        self.service = service
        self.target_prefix = target_prefix
        self.region = region
        self.endpoint = endpoint.rstrip("/") + "/"
        self._parts = parts
        self._credentials: Credentials | None = None
        self.calls = 0

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        host, port = self._parts.hostname or "", self._parts.port
        if self._parts.scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def call(
        self, action: str, body: bytes | bytearray, *, deadline: float | None = None
    ) -> bytearray:
        """POST ``body`` (JSON) as ``action``; the raw JSON answer in a bytearray.

        Retries throttling, 5xx, resets and timeouts with jittered backoff;
        raises AwsError for an error answer and StorageError when the service
        cannot be reached or ``deadline`` (a ``time.monotonic()`` value) passes.
        """
        if self._credentials is None:
            self._credentials = load_credentials()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{self.target_prefix}.{action}",
        }
        last = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                pause = random.uniform(0.05, 0.1 * 2**attempt)  # noqa: S311 - jitter
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
            left = float("inf") if deadline is None else deadline - time.monotonic()
            if left <= 0:
                why = last or "waiting"
                raise StorageError(f"{self.service} at {self._parts.netloc}: deadline ({why})")
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            signed = sign_v4(
                method="POST",
                url=self.endpoint,
                headers=headers,
                body=body,
                credentials=self._credentials,
                region=self.region,
                service=self.service,
                amz_date=amz_date,
            )
            conn = self._connection(min(CONNECT_TIMEOUT_S, left))
            try:
                self.calls += 1
                conn.request("POST", self._parts.path or "/", body=body, headers=signed)
                conn.sock.settimeout(min(READ_TIMEOUT_S, max(0.01, left)))
                response = conn.getresponse()
                answer = _read_answer(response)
                status = response.status
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                last = f"{type(error).__name__}"
                continue
            finally:
                conn.close()
            if len(answer) > MAX_RESPONSE:
                answer[:] = bytes(len(answer))
                raise StorageError(f"{self.service} answered with over {MAX_RESPONSE} bytes")
            if status == 200:
                return answer
            failure = _error_of(answer, status)
            if status >= 500 or failure.kind in _RETRYABLE_TYPES:
                last = failure.kind
                continue
            raise failure
        raise StorageError(
            f"{self.service} at {self._parts.netloc} failed after {ATTEMPTS} attempts ({last})"
        )


def _read_answer(response: http.client.HTTPResponse) -> bytearray:
    """The body, read into one bytearray the caller wipes (at most MAX_RESPONSE + 1 bytes).

    ``response.read()`` would return an immutable ``bytes`` copy of answers
    that carry a plaintext data key. Reading into a buffer allocated once
    avoids that copy; what the socket and TLS layers buffered underneath is
    beyond Python's reach.
    """
    declared = response.getheader("Content-Length")
    size = int(declared) if declared and declared.isdigit() else MAX_RESPONSE
    answer = bytearray(min(size, MAX_RESPONSE) + 1)
    view = memoryview(answer)
    filled = 0
    try:
        while filled < len(answer):
            got = response.readinto(view[filled:])
            if not got:
                break
            filled += got
    except BaseException:
        view.release()
        answer[:] = bytes(len(answer))  # a partial answer may hold part of a key
        raise
    view.release()
    if filled == len(answer):
        return answer
    # Shrinking could let the allocator move the bytes and leave the old block
    # unwiped: copy the answer out, then wipe the whole buffer in place.
    exact = answer[:filled]
    answer[:] = bytes(len(answer))
    return exact


def _error_of(answer: bytearray, status: int) -> AwsError:
    try:
        doc: Any = json.loads(answer)
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    kind = str(doc.get("__type", f"HTTP{status}")).rsplit("#", 1)[-1][:80]
    message = str(doc.get("message") or doc.get("Message") or "")[:200]
    return AwsError(kind, message, status)
