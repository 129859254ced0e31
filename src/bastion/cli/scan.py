"""``bastion scan PATH...``.

Parsed with argparse rather than Typer: scanning is the verb CI runs on every commit, and importing Typer
(which now pulls in pydantic) cost 0.1 s of CPU before the first byte was read. ``entry.py`` sends ``scan``
here directly; the Typer app only lists it in ``bastion --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bastion.cli import argparsing
from bastion.cli.output import write_report

DESCRIPTION = (
    "Examine model files and project trees; exit 0 clean, 1 findings at --fail-on, 2 not examined completely."
)


class _DelayedProgress:
    """A Rich progress bar on stderr, shown only when stderr is a terminal and the scan passes one second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int, path: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        self.bar.update(self.task, completed=done, total=total, description=path[-60:])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def build_parser() -> argparse.ArgumentParser:
    """The ``scan`` options; the one place they are defined."""
    parser = argparsing.parser("bastion scan", DESCRIPTION)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Files or directories to examine.")
    parser.add_argument("-f", "--format", default="table", help="table, json or sarif (or a plug-in format).")
    parser.add_argument("-o", "--output", type=Path, help="Write the report here instead of stdout.")
    parser.add_argument("--fail-on", default="medium", help="Exit 1 when a finding is at or above this severity.")
    parser.add_argument("--config", type=Path, help="Project file (default: ./bastion.toml if present).")
    parser.add_argument("--trust", action="append", default=[], metavar="KEY.pub",
                        help="Trusted public key (repeatable): each PATH must carry a valid PATH.sig signed by one.")
    parser.add_argument("--hash", dest="hash_files", action=argparse.BooleanOptionalAction, default=True,
                        help="Record each file's SHA-256 in the report (default: on).")
    return parser


def main(argv: list[str]) -> int:
    """Run ``bastion scan`` with ``argv`` (the arguments after ``scan``) and return the exit code."""
    from bastion.config import ConfigError, load_settings
    from bastion.findings import Severity
    from bastion.reports import get_format

    try:
        args = build_parser().parse_args(argv)
        threshold = Severity.parse(args.fail_on)
        renderer = get_format(args.format)
        settings = load_settings(args.config)
        settings = replace(settings, hash_files=args.hash_files, trust_keys=(*settings.trust_keys, *args.trust))
    except (argparsing.UsageError, ValueError, ConfigError) as exc:
        print(f"bastion scan: {exc}", file=sys.stderr)
        return 2
    output: Path | None = args.output
    if output is not None and str(output) != "-" and str(output.parent) and not output.parent.exists():
        print(f"bastion scan: --output folder {output.parent} does not exist", file=sys.stderr)
        return 2
    from bastion.scan import scan

    progress = _DelayedProgress()
    try:
        result = scan(args.paths, settings, progress=progress)
    except ConfigError as exc:
        print(f"bastion scan: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    if args.format == "table" and output is None:
        from bastion.reports import TableFormat

        renderer = TableFormat(color=sys.stdout.isatty())
    write_report(renderer.render(result), output)
    for error in result.errors:
        print(f"bastion scan: {error}", file=sys.stderr)
    return result.exit_code(threshold)
