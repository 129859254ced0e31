"""Bounded reader for plain (uncompressed) tar archives, built on the stdlib ``tarfile`` parser.

Only headers are parsed and member data is sliced from the buffer: nothing is extracted, links are
reported rather than followed. Compressed tars are handled by the caller (``decompress`` first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ._buffer import BufferReader, as_view
from .limits import (
    DEFAULT_LIMITS,
    ArchiveError,
    ArchiveLimits,
    Buffer,
    ByteBudget,
    LimitExceeded,
    Member,
    check_declared_size,
    check_member_count,
)

if TYPE_CHECKING:
    import tarfile

__all__ = ["iter_tar"]

TarReader = Callable[[], bytes]
"""Returns one member's data, bounded by the archive's limits; raises ArchiveError/LimitExceeded."""


def _open(view: memoryview) -> tarfile.TarFile:
    import tarfile  # only tar inputs pay for it

    try:
        # "r:" = uncompressed, random access; errors="replace" keeps odd names printable instead of surrogates.
        return tarfile.open(fileobj=BufferReader(view), mode="r:", encoding="utf-8", errors="replace")
    except Exception as exc:  # tarfile.ReadError and anything a malformed header provokes
        raise ArchiveError(f"not a readable tar archive: {exc}") from exc


def _next(archive: tarfile.TarFile, previous: int) -> tarfile.TarInfo | None:
    """Next header after the one at offset ``previous``, or None at the end of the archive."""
    try:
        info = archive.next()
    except Exception as exc:
        raise ArchiveError(f"corrupt tar header near offset {archive.offset}: {exc}") from exc
    # A negative base-256 size would send tarfile back to an earlier header, forever.
    if info is not None and (info.size < 0 or info.offset <= previous):
        raise ArchiveError(f"corrupt tar header at offset {info.offset}: size {info.size} does not advance")
    return info


def _member(info: tarfile.TarInfo) -> Member:
    is_link = info.issym() or info.islnk()
    return Member(
        name=info.name,
        size=info.size,
        compressed_size=info.size,
        offset=info.offset_data,
        method="tar",
        is_dir=info.isdir(),
        is_link=is_link,
        link_target=info.linkname if is_link else None,
        encrypted=False,
    )


def _read_sparse(archive: tarfile.TarFile, info: tarfile.TarInfo, cap: int) -> bytes:
    """GNU sparse members need tarfile to reassemble their holes; read one byte past the cap to detect excess."""
    handle = archive.extractfile(info)
    return b"" if handle is None else handle.read(cap + 1)


def _read(view: memoryview, archive: tarfile.TarFile, info: tarfile.TarInfo, budget: ByteBudget) -> bytes:
    limits = budget.limits
    check_declared_size(info.size, limits, info.name)
    if not info.isreg():
        return b""  # directories, links and devices carry no data of their own; links are never followed
    cap = budget.member_cap()
    if info.issparse():
        data = _read_sparse(archive, info, cap)
    else:
        end = info.offset_data + info.size
        if end > len(view):
            raise ArchiveError(f"member {info.name!r}: data at offset {info.offset_data} runs past the end ({end})")
        data = bytes(view[info.offset_data : min(end, info.offset_data + cap + 1)])
    budget.charge(len(data), info.name)
    if len(data) > limits.max_member_bytes:
        raise LimitExceeded(f"max_member_bytes={limits.max_member_bytes} exceeded by member {info.name!r}")
    return data


def _reader(view: memoryview, archive: tarfile.TarFile, info: tarfile.TarInfo, budget: ByteBudget) -> TarReader:
    def read() -> bytes:
        try:
            return _read(view, archive, info, budget)
        except ArchiveError:
            raise
        except Exception as exc:
            raise ArchiveError(f"member {info.name!r} at offset {info.offset_data}: {exc}") from exc

    return read


def iter_tar(buf: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[tuple[Member, TarReader]]:
    """Yield each member of the plain tar in ``buf`` with a bounded reader for its data.

    Readers stay valid after iteration moves on. Names are reported as stored (``../evil`` included);
    symlinks and hardlinks are marked ``is_link`` and read as empty. The total bound spans all readers.
    """
    view = as_view(buf)
    archive = _open(view)
    budget = ByteBudget(limits)
    count, previous = 0, -1
    while (info := _next(archive, previous)) is not None:
        count, previous = count + 1, info.offset
        check_member_count(count, limits, info.name)
        yield _member(info), _reader(view, archive, info, budget)
