"""``bastion sign`` and ``bastion verify``: model signatures (OpenSSF model-signing format)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from bastion.cli.keys import key_password
from bastion.cli.output import write_report
from bastion.supplychain.signing import (
    DEFAULT_IGNORE,
    SigningError,
    Verification,
    default_key_path,
    sign,
    verify,
)


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


def sign_command(
    path: Path = typer.Argument(..., help="The model: a file or a folder."),
    key: Path | None = typer.Option(None, "--key", "-k", help="Private key (default: the one bastion keys "
                                    "generate wrote to $BASTION_HOME/keys/signing.pem); password in "
                                    "$BASTION_KEY_PASSWORD if it is encrypted."),
    signature: Path | None = typer.Option(None, "--signature", "-s", help="Where to write the signature "
                                          "(default: PATH.sig beside the model)."),
    ignore: list[str] | None = typer.Option(None, "--ignore", "-i", help="Path relative to the model root to "
                                            "leave out (repeatable; a folder leaves out its subtree)."),
    no_default_ignore: bool = typer.Option(False, "--no-default-ignore", help="Also sign "
                                           f"{', '.join(DEFAULT_IGNORE)} (left out by default)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Hashing threads (default: 2 per CPU)."),
) -> None:
    """Sign every file of a model: a SHA-256 manifest in an in-toto statement, in a DSSE envelope, in PATH.sig."""
    ignored = [*(() if no_default_ignore else DEFAULT_IGNORE), *(ignore or [])]
    progress = _ByteProgress("signing")
    started = time.monotonic()
    try:
        result = sign(path, key or default_key_path(), signature, ignore=ignored, password=key_password(),
                      workers=workers, progress=progress)
    except SigningError as exc:
        typer.echo(f"bastion sign: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        progress.close()
    typer.echo(f"Signed {result.files} files ({_size(result.total_bytes)}) of {path} in "
               f"{time.monotonic() - started:.2f} s")
    typer.echo(f"  signature:   {result.signature_path}")
    typer.echo(f"  key id:      {result.key_id}")
    typer.echo(f"  root sha256: {result.root_digest}")


def verify_command(
    path: Path = typer.Argument(..., help="The model: a file or a folder."),
    key: Path = typer.Option(..., "--key", "-k", help="Public key of the signer (KEYFILE.pub)."),
    signature: Path | None = typer.Option(None, "--signature", "-s", help="The signature "
                                          "(default: PATH.sig beside the model)."),
    format: str = typer.Option("text", "--format", "-f", help="text or json."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Hashing threads (default: 2 per CPU)."),
) -> None:
    """Check a model against its signature: exit 0 valid, 1 invalid (each changed file named), 2 usage or I/O error."""
    if format not in ("text", "json"):
        typer.echo(f"bastion verify: unknown format {format!r}; choose one of: text, json", err=True)
        raise typer.Exit(2)
    progress = _ByteProgress("verifying")
    try:
        result = verify(path, key, signature, workers=workers, progress=progress)
    except SigningError as exc:
        typer.echo(f"bastion verify: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        progress.close()
    if format == "json":
        text = json.dumps({"path": str(path), **result.to_dict()}, indent=2) + "\n"
    else:
        text = _verdict(result)
    write_report(text, output)
    raise typer.Exit(0 if result.ok else 1)


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
