"""``bastion sign`` and ``bastion verify``: model signatures (OpenSSF model-signing format).

Parsed with argparse rather than Typer, like ``scan``: importing Typer (and the pydantic it pulls in) cost about
0.17 s per call, as much as hashing a few hundred megabytes. ``entry.py`` sends both verbs here directly; the Typer
app only lists them in ``bastion --help``. The signing library is imported when a command runs, not with this
module.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.cli import argparsing
from bastion.cli.output import write_report
from bastion.cli.passwords import PASSWORD_VARIABLE, key_password

if TYPE_CHECKING:
    from bastion.supplychain.signing import Verification

SIGN_DESCRIPTION = (
    "Sign every file of a model: a SHA-256 manifest in an in-toto statement, in a DSSE envelope, in PATH.sig."
)
VERIFY_DESCRIPTION = (
    "Check a model against its signature: exit 0 valid, 1 invalid (each changed file named), 2 usage or I/O error."
)
_WORKERS_HELP = "Hashing threads (default: 2 per CPU)."


class _ByteProgress:
    """A Rich progress bar on stderr, shown only when stderr is a terminal and hashing passes one second."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self.bar = Progress(TextColumn(self.verb), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _size(count: int) -> str:
    """Bytes in decimal units, as disks are sold."""
    if count < 1000:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def build_sign_parser() -> argparse.ArgumentParser:
    """The ``sign`` options; the one place they are defined."""
    from bastion.supplychain.signing.manifest import DEFAULT_IGNORE

    parser = argparsing.parser("bastion sign", SIGN_DESCRIPTION)
    parser.add_argument("path", type=Path, metavar="PATH", help="The model: a file or a folder.")
    parser.add_argument("-k", "--key", type=Path, help="Private key (default: the one bastion keys generate wrote "
                        f"to $BASTION_HOME/keys/signing.pem); password in ${PASSWORD_VARIABLE} if it is encrypted.")
    parser.add_argument("-s", "--signature", type=Path, metavar="FILE", help="Where to write the signature "
                        "(default: PATH.sig beside the model).")
    parser.add_argument("-i", "--ignore", action="append", default=[], metavar="RELPATH", help="Path relative to "
                        "the model root to leave out (repeatable; a folder leaves out its subtree).")
    parser.add_argument("--no-default-ignore", action="store_true", help="Also sign "
                        f"{', '.join(DEFAULT_IGNORE)} (left out by default).")
    parser.add_argument("--workers", type=argparsing.positive_int, metavar="N", help=_WORKERS_HELP)
    return parser


def build_verify_parser() -> argparse.ArgumentParser:
    """The ``verify`` options; the one place they are defined."""
    parser = argparsing.parser("bastion verify", VERIFY_DESCRIPTION)
    parser.add_argument("path", type=Path, metavar="PATH", help="The model: a file or a folder.")
    parser.add_argument("-k", "--key", type=Path, required=True, help="Public key of the signer (KEYFILE.pub).")
    parser.add_argument("-s", "--signature", type=Path, metavar="FILE",
                        help="The signature (default: PATH.sig beside the model).")
    parser.add_argument("-f", "--format", default="text", help="text or json.")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="Write the report here instead of stdout.")
    parser.add_argument("--workers", type=argparsing.positive_int, metavar="N", help=_WORKERS_HELP)
    return parser


def sign_main(argv: list[str]) -> int:
    """Run ``bastion sign`` with ``argv`` (the arguments after ``sign``) and return the exit code."""
    try:
        args = build_sign_parser().parse_args(argv)
    except argparsing.UsageError as exc:
        print(f"bastion sign: {exc}", file=sys.stderr)
        return 2
    from bastion.supplychain.signing import DEFAULT_IGNORE, SigningError, default_key_path, sign

    ignored = [*(() if args.no_default_ignore else DEFAULT_IGNORE), *args.ignore]
    progress = _ByteProgress("signing")
    started = time.monotonic()
    try:
        result = sign(args.path, args.key or default_key_path(), args.signature, ignore=ignored,
                      password=key_password(), workers=args.workers, progress=progress)
    except SigningError as exc:
        print(f"bastion sign: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    print(f"Signed {result.files} files ({_size(result.total_bytes)}) of {args.path} in "
          f"{time.monotonic() - started:.2f} s")
    print(f"  signature:   {result.signature_path}")
    print(f"  key id:      {result.key_id}")
    print(f"  root sha256: {result.root_digest}")
    return 0


def verify_main(argv: list[str]) -> int:
    """Run ``bastion verify`` with ``argv`` (the arguments after ``verify``) and return the exit code."""
    try:
        args = build_verify_parser().parse_args(argv)
    except argparsing.UsageError as exc:
        print(f"bastion verify: {exc}", file=sys.stderr)
        return 2
    if args.format not in ("text", "json"):
        print(f"bastion verify: unknown format {args.format!r}; choose one of: text, json", file=sys.stderr)
        return 2
    from bastion.supplychain.signing import SigningError, verify

    progress = _ByteProgress("verifying")
    try:
        result = verify(args.path, args.key, args.signature, workers=args.workers, progress=progress)
    except SigningError as exc:
        print(f"bastion verify: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    if args.format == "json":
        text = json.dumps({"path": str(args.path), **result.to_dict()}, indent=2) + "\n"
    else:
        text = _verdict(result)
    write_report(text, args.output)
    return 0 if result.ok else 1


def _verdict(result: Verification) -> str:
    """One line per changed file, then the verdict."""
    lines = [f"{kind}: {name}" for kind, names in (("modified", result.modified), ("missing", result.missing),
                                                   ("added", result.added)) for name in names]
    if result.ok:
        lines.append(f"OK: {result.files} files match the signature by key id {result.key_id}")
    elif result.error is not None:
        lines.append(f"FAILED: {result.error}")
    else:
        count = len(result.modified) + len(result.missing) + len(result.added)
        lines.append(f"FAILED: {count} file(s) differ from the signature ({len(result.modified)} modified, "
                     f"{len(result.missing)} missing, {len(result.added)} added)")
    return "\n".join(lines) + "\n"
