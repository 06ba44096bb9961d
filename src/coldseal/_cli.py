"""The ``coldseal`` command line.

``main(argv) -> int`` parses, dispatches and turns every failure into one
line on stderr and the documented exit status: 0 success, 1 integrity
failure, 2 usage error or unreadable input, 3 storage or I/O failure. No
command lets a traceback reach the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, NoReturn

from coldseal._version import __version__
from coldseal.errors import ColdsealError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_INTEGRITY = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="coldseal",
        description="Seal code archives for S3 and verify them fast at cold start.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"coldseal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser(
        "selfcheck",
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
    return parser


def _fail(code: int, message: str) -> int:
    """Write the one last line on stderr that says what failed, and return ``code``."""
    sys.stderr.write(f"coldseal: error: {message}\n")
    sys.stderr.flush()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except ColdsealError as error:
        return _fail(error.exit_code, str(error))
    except KeyboardInterrupt:
        return _fail(EXIT_STORAGE, "interrupted")
    except MemoryError:
        return _fail(EXIT_STORAGE, "out of memory")
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        return _fail(EXIT_STORAGE, f"{error.strerror or error}{where}")
    except Exception as error:  # noqa: BLE001 - a bug must still end in one line, not a traceback
        return _fail(
            EXIT_STORAGE, f"internal error, please report: {type(error).__name__}: {error}"
        )


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
