"""Zero-copy access to the input buffer: flat read-only views, bounded searches and a file-like reader."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from .limits import Buffer

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_FIRST_WINDOW = 1 << 12
_SEARCH_WINDOW = 1 << 20
"""Most bytes copied per step when searching a view (memoryview has no ``find``; copying it whole could be 500 MB).

Windows start at 4 KiB and double, because most searches (the next zip header after a data descriptor) end within
a few bytes: a full window per call copied, and paged in, 1 MiB for every member of a 500 MB checkpoint."""


def as_view(buf: Buffer) -> memoryview:
    """Return a flat, read-only, byte-format view of ``buf`` without copying it."""
    try:
        view = memoryview(buf)
    except TypeError as exc:
        raise TypeError(f"expected a bytes-like buffer, got {type(buf).__name__}") from exc
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view.toreadonly()


def find(view: memoryview, needle: bytes, start: int = 0, end: int | None = None) -> int:
    """Index of the first ``needle`` in ``view[start:end]``, or -1, copying at most one window at a time."""
    stop = len(view) if end is None else min(end, len(view))
    pos = max(0, start)
    overlap = len(needle) - 1
    window = _FIRST_WINDOW
    while pos < stop:
        window_end = min(stop, pos + window + overlap)
        hit = bytes(view[pos:window_end]).find(needle)
        if hit >= 0:
            return pos + hit
        if window_end >= stop:
            break
        pos += window
        window = min(window * 2, _SEARCH_WINDOW)
    return -1


def find_all_reversed(view: memoryview, needle: bytes, start: int) -> list[int]:
    """All offsets of ``needle`` in ``view[start:]``, last first (callers pass a small tail window)."""
    base = max(0, start)
    tail = bytes(view[base:])
    hits: list[int] = []
    pos = tail.find(needle)
    while pos >= 0:
        hits.append(base + pos)
        pos = tail.find(needle, pos + 1)
    return hits[::-1]


class BufferReader(io.RawIOBase):
    """Seekable read-only file object over a memoryview, for libraries that want a file (tarfile, py7zr).

    ``io.BytesIO`` would copy a memoryview or mmap; this reads slices on demand instead.
    ``read(n)`` never allocates more than what is left, so a header that asks for 4 GB gets what exists.
    """

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        start = min(self._pos, len(self._view))
        end = len(self._view) if size is None or size < 0 else min(len(self._view), start + size)
        self._pos = max(self._pos, end)
        return bytes(self._view[start:end])

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)
