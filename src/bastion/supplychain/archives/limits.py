"""Shared types for the archive readers: input buffers, bounds, errors and the member record.

Every reader in this package takes a read-only bytes-like ``Buffer`` and an ``ArchiveLimits``.
Nothing is ever written to disk: members come back as memory views or bytes, and every
decompression loop is capped so that a crafted archive cannot make the scanner allocate
more than the limits allow.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap
"""Read-only bytes-like input. Readers slice it through ``memoryview`` so a large mmap is never copied."""

MiB = 1024**2
GiB = 1024**3

RATIO_FLOOR_BYTES = 1 * MiB
"""Outputs at or below this size are never rejected for their compression ratio (small files compress oddly)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds applied by every reader; exceeding one raises ``LimitExceeded``."""

    max_members: int = 10_000
    """Most members (entries of any kind) one archive may list."""

    max_member_bytes: int = 4 * GiB
    """Largest declared or actual uncompressed size of one member."""

    max_total_bytes: int = 16 * GiB
    """Largest sum of bytes actually decompressed from one archive (per budget, see ``ByteBudget``)."""

    max_ratio: float = 200.0
    """Largest uncompressed/compressed ratio for a compressed member once its output passes 1 MiB."""

    def __post_init__(self) -> None:
        # Negative or zero bounds are programming errors, not archive problems.
        if self.max_members < 0 or self.max_member_bytes < 0 or self.max_total_bytes < 0:
            raise ValueError("archive limits must be non-negative")
        if self.max_ratio <= 0:
            raise ValueError("max_ratio must be positive")


DEFAULT_LIMITS = ArchiveLimits()


class ArchiveError(Exception):
    """Malformed or unreadable archive; the message says what and where (member name, offset)."""


class LimitExceeded(ArchiveError):
    """A bound from ``ArchiveLimits`` was hit; the message names the bound and the member."""


@dataclass(frozen=True)
class Member:
    """One entry of an archive, as listed (nothing has been decompressed to build it)."""

    name: str
    """Name as stored: cp437 or utf-8 per zip flag bit 11, decoded leniently (errors="replace")."""

    size: int
    """Uncompressed size as declared by the archive (it may lie; readers bound the actual size)."""

    compressed_size: int
    """Size of the stored data in the outer buffer; -1 when not known per member (solid 7z)."""

    offset: int
    """Byte offset of the member's data in the outer buffer (zip: after the local header); -1 if unknown."""

    method: str
    """One of "stored", "deflate", "bzip2", "lzma", "zstd", "tar", "7z" or "unknown:<n>"."""

    is_dir: bool
    """True for directory entries."""

    is_link: bool
    """True for tar symlinks/hardlinks, 7z symlinks and zip entries whose unix mode says symlink."""

    link_target: str | None
    """Link target when known, else None."""

    encrypted: bool
    """True when the archive marks the member encrypted (zip flag bit 0); its data is never decrypted."""


class ByteBudget:
    """Running count of bytes decompressed from one archive, checked against ``max_total_bytes``.

    Readers that iterate (tar, 7z) keep one internally; zip callers may pass one to
    ``read_zip_member`` so that the total bound spans several calls.
    """

    def __init__(self, limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.used = 0

    def remaining(self) -> int:
        """Bytes that may still be decompressed before the total bound is hit."""
        return max(0, self.limits.max_total_bytes - self.used)

    def member_cap(self) -> int:
        """Largest output one member may still produce under both the member and total bounds."""
        return min(self.limits.max_member_bytes, self.remaining())

    def charge(self, nbytes: int, member: str) -> None:
        """Count ``nbytes`` against the total, raising ``LimitExceeded`` once it is exceeded."""
        self.used += nbytes
        if self.used > self.limits.max_total_bytes:
            raise LimitExceeded(
                f"max_total_bytes={self.limits.max_total_bytes} exceeded while reading member {member!r}"
            )


def check_member_count(count: int, limits: ArchiveLimits, name: str) -> None:
    """Raise ``LimitExceeded`` when ``count`` members exceed ``max_members``."""
    if count > limits.max_members:
        raise LimitExceeded(f"max_members={limits.max_members} exceeded at member {name!r}")


def check_declared_size(size: int, limits: ArchiveLimits, name: str) -> None:
    """Raise ``LimitExceeded`` when a member's declared size is over ``max_member_bytes``."""
    if size > limits.max_member_bytes:
        raise LimitExceeded(
            f"max_member_bytes={limits.max_member_bytes} exceeded by member {name!r} (declared size {size})"
        )
