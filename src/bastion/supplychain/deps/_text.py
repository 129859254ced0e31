"""Bounded reading of manifest text, and line numbers with their byte offsets (for findings' locations)."""

from __future__ import annotations

import codecs
from pathlib import Path

from bastion.supplychain.deps.interface import ManifestError, ManifestLimits


def read_text(path: Path, shown: str, limits: ManifestLimits) -> tuple[str, int]:
    """The file's text and the byte length of a stripped UTF-8 BOM; ManifestError when too large or not UTF-8."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ManifestError(f"{shown}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise ManifestError(f"{shown}: larger than the {limits.max_bytes:,}-byte limit for manifests; not read")
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{shown}: not UTF-8 text (byte {exc.start + bom})") from None


class Lines:
    """A text's lines with the byte offset where each starts; 1-based like editors."""

    def __init__(self, text: str, base: int = 0) -> None:
        self.lines = text.splitlines()
        self._starts: list[int] = []
        position = base
        for line in text.splitlines(keepends=True):
            self._starts.append(position)
            position += len(line.encode("utf-8"))

    def offset(self, line: int | None) -> int | None:
        """Byte offset where 1-based ``line`` starts, ``None`` when unknown."""
        if line is None or not 1 <= line <= len(self._starts):
            return None
        return self._starts[line - 1]

    def find(self, needle: str, start: int = 1, stop: int | None = None) -> int | None:
        """The first 1-based line at or after ``start`` (and before ``stop``) that contains ``needle``."""
        end = len(self.lines) if stop is None else min(stop - 1, len(self.lines))
        for index in range(max(start, 1) - 1, end):
            if needle in self.lines[index]:
                return index + 1
        return None

    def headers(self, header: str) -> list[int]:
        """1-based lines that are exactly the TOML table header ``header`` (``[[package]]``), in order."""
        return [index + 1 for index, line in enumerate(self.lines) if line.strip() == header]
