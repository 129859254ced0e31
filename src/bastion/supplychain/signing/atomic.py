"""Writing key and signature files whole or not at all, with their final mode from the moment they exist."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bastion.supplychain.signing.base import SigningError


def _stage(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a new temporary file beside ``path``, created with ``mode`` (minus the umask), fsync'd."""
    import secrets

    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temp, flags, mode)  # the mode is set at creation: a private key is never readable by others
    except OSError as exc:
        raise SigningError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise SigningError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return temp


def _commit(temp: Path, path: Path, overwrite: bool) -> None:
    """Move the staged file into place; without ``overwrite`` an existing file is an error, checked atomically."""
    try:
        if overwrite:
            os.replace(temp, path)
            return
        try:
            os.link(temp, path)  # fails if ``path`` exists, with no window in which another writer could slip in
        except FileExistsError:
            raise SigningError(f"{path}: already exists (pass --force to replace it)") from None
        except OSError:  # a file system without hard links: fall back to check-then-rename
            if os.path.lexists(path):
                raise SigningError(f"{path}: already exists (pass --force to replace it)") from None
            os.replace(temp, path)
            return
        temp.unlink()
    except SigningError:
        raise
    except OSError as exc:
        raise SigningError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_files(files: Sequence[tuple[Path, bytes, int]], *, overwrite: bool = True) -> None:
    """Write each ``(path, data, mode)`` atomically; if one fails, the ones this call created are removed again."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data, mode in files:
            staged.append((_stage(path, data, mode), path))
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    done: list[Path] = []
    try:
        for temp, path in staged:
            _commit(temp, path, overwrite)
            done.append(path)
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        if not overwrite:  # only files that did not exist before were created: remove them, leave nothing half-made
            for path in done:
                path.unlink(missing_ok=True)
        raise
    for folder in {path.parent for _, path in staged}:
        _sync_folder(folder)
