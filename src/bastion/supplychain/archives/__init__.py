"""Bounded, lenient readers for the container formats model files arrive in (zip, tar, 7z, single streams).

Nothing is extracted to disk, executed or imported. Every reader is bounded by ``ArchiveLimits``
(member count, per-member and total decompressed bytes, compression ratio) and raises only
``ArchiveError`` (or its subclass ``LimitExceeded``) on bad input.
"""

from collections.abc import Callable, Iterator

from .compression import decompress, sniff_compression
from .limits import DEFAULT_LIMITS, ArchiveError, ArchiveLimits, Buffer, ByteBudget, LimitExceeded, Member
from .tar import iter_tar
from .zip import iter_zip, read_zip_member


def iter_7z(buf: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[tuple[Member, Callable[[], bytes]]]:
    """List and read the members of a 7z archive (py7zr is imported only when a 7z file is met).

    See ``sevenzip.iter_7z``: declared sizes are checked before anything is decoded.
    """
    from .sevenzip import iter_7z as _iter_7z

    return _iter_7z(buf, limits)


__all__ = [
    "ArchiveError",
    "ArchiveLimits",
    "Buffer",
    "ByteBudget",
    "LimitExceeded",
    "Member",
    "decompress",
    "iter_7z",
    "iter_tar",
    "iter_zip",
    "read_zip_member",
    "sniff_compression",
]
