"""Bounded, lenient readers for the container formats model files arrive in (zip, tar, 7z, single streams).

Nothing is extracted to disk, executed or imported. Every reader is bounded by ``ArchiveLimits``
(member count, per-member and total decompressed bytes, compression ratio) and raises only
``ArchiveError`` (or its subclass ``LimitExceeded``) on bad input.
"""

from .compression import decompress, sniff_compression
from .limits import ArchiveError, ArchiveLimits, Buffer, ByteBudget, LimitExceeded, Member
from .sevenzip import iter_7z
from .tar import iter_tar
from .zip import iter_zip, read_zip_member

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
