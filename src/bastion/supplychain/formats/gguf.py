"""GGUF (llama.cpp / ggml) files: bounded header parsing, tensor layout checks, chat templates in the metadata.

Layout (versions 1-3; version 1 uses 32-bit counts, lengths and dimensions): magic ``GGUF``, version, tensor count,
metadata count, the metadata key/value pairs, the tensor infos (name, dimensions, ggml type, offset), padding to
``general.alignment`` (default 32), then the tensor data. Big-endian files (the version reads as 1-3 in big-endian)
are parsed with that byte order. Only the header is read, in windows, through ``Blob.source``; tensor data never
is. Counts and lengths are checked against the file size before anything is skipped or read, since crafted counts
are what overflowed ggml's own parser (CVE-2024-21836, CVE-2024-23496, CVE-2024-23605...).

The analyser and its ``sniff`` (the magic and version check) live here; the parser lives in ``_gguf_impl``,
imported only when a GGUF blob is analysed (its public names, such as ``GGML_TYPES``, are re-exported lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.supplychain.formats.interface import Blob, Report

if TYPE_CHECKING:
    from bastion.supplychain.formats._gguf_impl import GGML_TYPES

__all__ = ["ANALYZER", "GGML_TYPES", "GgufAnalyzer"]

MAGIC = b"GGUF"

_LAZY = frozenset({
    "ARRAY", "GGML_MAX_DIMS", "GGML_MAX_NAME", "GGML_TYPES", "LAYOUT", "MALFORMED", "MAX_ARRAY", "MAX_DIMS", "MAX_KEY",
    "MAX_KV", "MAX_METADATA", "MAX_NESTING", "MAX_TENSORS", "OVERFLOW", "STRING",
})
"""Names of the analysis half, served from ``_gguf_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _gguf_impl

        return getattr(_gguf_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class GgufAnalyzer:
    """GGUF model files."""

    kind = "gguf"

    def sniff(self, blob: Blob) -> bool:
        """Magic ``GGUF`` and a version that reads 1-3 (either byte order) or a small future one."""
        if blob.head[:4] != MAGIC or len(blob.head) < 8:
            return False
        little, big = _versions(blob.head)
        return 1 <= little <= 255 or 1 <= big <= 3

    def analyse(self, blob: Blob, report: Report) -> None:
        """Parse the header, check counts and the tensor layout, and analyse chat templates."""
        from bastion.supplychain.formats._gguf_impl import analyse

        analyse(blob, report)


def _versions(head: bytes) -> tuple[int, int]:
    """The version field read little- and big-endian."""
    return int.from_bytes(head[4:8], "little"), int.from_bytes(head[4:8], "big")


ANALYZER = GgufAnalyzer()
