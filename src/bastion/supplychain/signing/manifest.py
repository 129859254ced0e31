"""The manifest: every file of a model with its SHA-256, walked without following links and hashed in parallel.

Canonical form (OpenSSF model signing, ``files`` serialization): names are POSIX paths relative to the model root,
sorted by Unicode code point; a single-file model has one resource named ``.`` (what model-signing 1.x writes);
the root digest is SHA-256 over the raw file digests concatenated in that order.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from bastion.supplychain.signing.base import SigningError

if TYPE_CHECKING:
    import threading

DEFAULT_IGNORE = (".git", ".gitattributes", ".github", ".gitignore")
"""Ignored at the model root unless told otherwise: the same four paths model-signing ignores by default."""

MAX_FILES = 1_000_000
"""Most files one manifest may list (walking and parsing stop with an error beyond it)."""

SINGLE_FILE = "."
"""The resource name of a model that is one file."""

CHUNK_BYTES = 1 << 20
"""Read size: 1 MiB keeps SHA-256 at full speed with one small reusable buffer per thread."""

Progress = Callable[[int, int], None]
"""Called as (bytes hashed so far, bytes to hash) from the calling thread."""


@dataclass(frozen=True)
class FileEntry:
    """One file found under the model root."""

    name: str
    """Canonical relative POSIX path (``.`` for a single-file model)."""
    path: Path
    """Where to read it."""
    size: int
    """Size in bytes at walk time."""
    regular: bool = True
    """False for a symbolic link or special file met while verifying: reported, never opened."""


@dataclass(frozen=True)
class Resource:
    """One manifest line: a file and its digest."""

    name: str
    """Canonical relative POSIX path."""
    digest: str
    """SHA-256 of the content, lowercase hex."""


@dataclass(frozen=True)
class Manifest:
    """What a signature covers."""

    model_name: str
    """The model's base name (informational: renaming the model keeps the signature valid)."""
    resources: tuple[Resource, ...]
    """Every file, in canonical order."""
    ignore_paths: tuple[str, ...] | None
    """Paths relative to the root that were left out (a folder's whole subtree); None when a signature does not
    record them (model-signing before 1.1)."""

    def root_digest(self) -> str:
        """SHA-256 over the raw digests concatenated in manifest order, hex."""
        import hashlib

        digest = hashlib.sha256()
        for resource in self.resources:
            digest.update(bytes.fromhex(resource.digest))
        return digest.hexdigest()

    def digests(self) -> dict[str, str]:
        """Name -> digest."""
        return {r.name: r.digest for r in self.resources}


def model_name(root: Path) -> str:
    """The model's base name: the folder or file name, resolved when the path is ``.`` or ``..``."""
    name = root.name
    return name if name not in ("", ".", "..") else root.resolve().name


def normalize_ignore(paths: Iterable[str]) -> tuple[str, ...]:
    """Canonical, sorted, unique ignore paths; raises SigningError for absolute, ``..`` or pattern entries."""
    result: set[str] = set()
    for given in paths:
        if not given or given.startswith("/") or any(c in given for c in "*?["):
            raise SigningError(f"ignore path {given!r}: give an exact path relative to the model root "
                               "(no leading '/', no '*', '?' or '[')")
        parts = [p for p in PurePosixPath(given.replace(os.sep, "/")).parts if p != "."]
        if not parts or ".." in parts:
            raise SigningError(f"ignore path {given!r}: must name something inside the model root")
        result.add("/".join(parts))
    return tuple(sorted(result))


def relative_inside(root: Path, path: Path) -> str | None:
    """``path`` relative to the folder ``root`` (POSIX), or None when it lies outside; links resolved on both."""
    if not root.is_dir():
        return None
    try:
        relative = (path.parent.resolve() / path.name).relative_to(root.resolve())
    except ValueError:
        return None
    return relative.as_posix()


def list_files(root: Path, ignore: Collection[str], *, strict: bool) -> list[FileEntry]:
    """Every file under ``root`` in canonical order, skipping ``ignore`` (exact relative paths).

    Links inside the tree are never followed. With ``strict`` (signing) a link, special file or non-UTF-8 name is
    an error naming it; without (verifying) it comes back with ``regular=False`` so it is reported, not read.
    ``root`` itself may be a link: it is the path the user named.
    """
    try:
        info = root.stat()
    except OSError as exc:
        raise SigningError(f"{root}: {exc.strerror or 'cannot be read'}") from None
    if stat.S_ISREG(info.st_mode):
        return [FileEntry(SINGLE_FILE, root, info.st_size)]
    if not stat.S_ISDIR(info.st_mode):
        raise SigningError(f"{root}: not a regular file or directory")
    entries: list[FileEntry] = []
    folders = [("", root)]
    while folders:
        prefix, folder = folders.pop()
        for item in _scan(folder):
            name = _checked_name(prefix + item.name, item.path, strict)
            if name in ignore:
                continue
            if item.is_dir(follow_symlinks=False):
                folders.append((name + "/", Path(item.path)))
            elif item.is_file(follow_symlinks=False):
                entries.append(FileEntry(name, Path(item.path), item.stat(follow_symlinks=False).st_size))
            else:
                entries.append(_irregular(item, name, strict))
            if len(entries) > MAX_FILES:
                raise SigningError(f"{root}: more than {MAX_FILES} files; sign smaller parts separately")
    entries.sort(key=lambda e: e.name)
    return entries


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as items:
            return list(items)
    except OSError as exc:
        raise SigningError(f"{folder}: cannot list the folder: {exc.strerror or exc}") from None


def _checked_name(name: str, where: str, strict: bool) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir gave undecodable bytes as surrogates: they cannot go into JSON
        if strict:
            shown = where.encode("utf-8", "backslashreplace").decode("utf-8")
            raise SigningError(f"{shown}: file name is not valid UTF-8 and cannot be recorded in a signature") from None
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name


def _irregular(item: os.DirEntry[str], name: str, strict: bool) -> FileEntry:
    kind = "a symbolic link" if item.is_symlink() else "not a regular file or folder"
    if strict:
        raise SigningError(f"{item.path}: {kind}; links are never followed and special files cannot be signed "
                           "(replace it with the file itself, or leave it out with --ignore)")
    return FileEntry(name, Path(item.path), 0, regular=False)


def default_workers() -> int:
    """Threads for hashing: two per CPU this process may use (reads overlap hashing), at most 32."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(32, 2 * cpus))


def hash_files(entries: Sequence[FileEntry], *, workers: int | None = None,
               progress: Progress | None = None) -> dict[str, str | None]:
    """SHA-256 (hex) of each regular entry, by name; None when it was no longer a regular file at open time.

    Files are hashed in a thread pool (hashlib releases the GIL), largest first so the pool finishes together.
    Raises SigningError naming the file when one cannot be read.
    """
    import threading
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    order = sorted((e for e in entries if e.regular), key=lambda e: -e.size)
    total = sum(e.size for e in order)
    done = [0] * len(order)  # bytes per file; each slot written by one worker, summed by this thread
    state = _WorkerState(threading.local(), threading.Event())
    count = max(1, min(len(order), workers or default_workers()))
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="bastion-hash") as pool:
        futures = [pool.submit(_sha256_file, entry.path, state, done, index) for index, entry in enumerate(order)]
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
                if any(f.exception() is not None for f in finished):
                    break
                if progress is not None:
                    progress(sum(done), total)
        finally:  # after a failure or Ctrl-C, workers stop at their next chunk instead of finishing big files
            state.stop.set()
            for future in pending:
                future.cancel()
    for future in futures:  # the real failure, not a file stopped or cancelled because of it
        error = None if future.cancelled() else future.exception()
        if error is not None and not isinstance(error, _Stopped):
            raise error
    return {entry.name: future.result() for entry, future in zip(order, futures, strict=True)}


class _Stopped(Exception):
    """A worker gave up because another one failed."""


@dataclass(frozen=True)
class _WorkerState:
    """What the hashing threads share."""

    buffers: threading.local
    """One read buffer per thread, reused for every file it hashes."""
    stop: threading.Event
    """Set when the pool is being abandoned."""


def _sha256_file(path: Path, state: _WorkerState, done: list[int], index: int) -> str | None:
    """Hash one file through a reusable per-thread buffer; None if it is not a regular file once opened."""
    import errno
    import hashlib
    import io

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # O_NOFOLLOW: a file swapped for a link after the walk is not followed either
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise SigningError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # O_NONBLOCK above: opening a FIFO did not hang
            return None
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        view: memoryview | None = getattr(state.buffers, "view", None)
        if view is None:
            view = state.buffers.view = memoryview(bytearray(CHUNK_BYTES))
        digest = hashlib.sha256()
        reader = io.FileIO(fd, closefd=False)  # readinto: no new bytes object per chunk, and portable
        while count := reader.readinto(view):
            if state.stop.is_set():
                raise _Stopped()
            digest.update(view[:count])
            done[index] += count
        return digest.hexdigest()
    except OSError as exc:
        raise SigningError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def compare(signed: dict[str, str], entries: Sequence[FileEntry], digests: dict[str, str | None]
            ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(modified, missing, added)`` names between the signed digests and the files found now."""
    present = {e.name: e for e in entries}
    modified = sorted(name for name, entry in present.items()
                      if name in signed and (not entry.regular or digests.get(name) != signed[name]))
    missing = sorted(name for name in signed if name not in present)
    added = sorted(name for name in present if name not in signed)
    return tuple(modified), tuple(missing), tuple(added)
