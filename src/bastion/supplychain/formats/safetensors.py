"""Safetensors: the header and layout checked as strictly as the reference Rust crate, and ``__metadata__`` judged.

A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON padded with spaces, then the data section.
The JSON maps tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the data
section) plus an optional ``__metadata__`` string map. The crate refuses any file whose tensors do not tile the
data section exactly; every such deviation is reported here, because lenient loaders read what the crate refuses.

The format cannot carry code, so what an attacker can do is lay tensors out to make loaders read out of bounds or
disagree, hide bytes where no tensor looks, and stage payloads in the metadata for a second tool. The metadata
classifier looks for Python, shell commands, active web content, suspicious links and encoded blobs; a decoded
pickle or archive is handed back to the scan (``Report.nested``) to be judged by its own analyser.

``model.safetensors.index.json`` (the shard index) is recognised too: shard paths and metadata strings are checked.

The analyser, its ``sniff`` and the header parse that ``sniff`` and ``analyse`` share live here; the layout checks
and the metadata classifier live in ``_safetensors_impl``, imported only when a file is analysed (its public
names, such as ``CRATE_MAX_HEADER``, are re-exported lazily).
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bastion.supplychain.formats.interface import Blob, Report

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""Largest header recognised (the crate's own limit, 100,000,000 bytes, is reported when exceeded)."""
_WS = b" \t\r\n"


@lru_cache(maxsize=1)
def _header_prefix() -> re.Pattern[bytes]:
    """What a safetensors header that is not valid JSON must still start with to be recognised (compiled on first
    use)."""
    return re.compile(
        rb'\{\s*(?:\}|"__metadata__"\s*:|"(?:[^"\\]|\\.){0,1024}"\s*:\s*\{\s*"(?:dtype|shape|data_offsets)")')


@dataclass(frozen=True)
class _Header:
    """The JSON header of one file, parsed once by ``sniff`` and reused by ``analyse``."""

    raw: bytes
    """The N header bytes."""
    value: dict[str, object] | None
    """The parsed object, or None when it is not one."""
    error: str | None
    """Why it is not, when it is not."""
    error_at: int
    """Header byte where the problem is."""
    json_end: int
    """Header byte where the JSON object ends (padding follows)."""
    duplicates: tuple[tuple[str, object, object], ...]
    """Keys seen twice in one JSON object: (key, first value, second value)."""


_LAZY = frozenset({"CRATE_MAX_HEADER"})
"""Names of the analysis half, served from ``_safetensors_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _safetensors_impl

        return getattr(_safetensors_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- recognition ----
class SafetensorsAnalyzer:
    """Validates safetensors files and their shard index; judges their metadata."""

    kind = "safetensors"

    def __init__(self) -> None:
        # The header parsed by sniff, kept for analyse; a weak reference so no blob (or its memory map) outlives
        # its scan, and compared by identity so threads sharing the analyser at worst parse twice.
        self._cache: tuple[weakref.ref[Blob], _Header] | None = None

    def sniff(self, blob: Blob) -> bool:
        """An 8-byte length, then a JSON object of tensor entries; or a shard index with a weight_map."""
        length = _binary_length(blob)
        if length is not None:
            return self._sniff_binary(blob, length)
        return _sniff_index(blob)

    def analyse(self, blob: Blob, report: Report) -> None:
        """Validate the header and layout, record facts, and classify the metadata."""
        from bastion.supplychain.formats._safetensors_impl import _analyse_file, _analyse_index

        length = _binary_length(blob)
        if length is None:
            _analyse_index(blob, report)
            return
        header = self._header(blob, length)
        self._cache = None
        _analyse_file(blob, header, report)

    def _sniff_binary(self, blob: Blob, length: int) -> bool:
        header = self._header(blob, length)
        if header.value is not None:
            recognised = _holds_tensors(header.value)
        else:
            recognised = _header_prefix().match(header.raw.lstrip(_WS)) is not None
        if not recognised:
            self._cache = None  # do not hold a large header that another analyser will examine
        return recognised

    def _header(self, blob: Blob, length: int) -> _Header:
        cached = self._cache
        if cached is not None and cached[0]() is blob:
            return cached[1]
        header = _parse_header(blob.source.read_at(8, length))
        self._cache = (weakref.ref(blob), header)
        return header


def _binary_length(blob: Blob) -> int | None:
    """The header length when the head looks like a safetensors file: plausible N, then ``{`` after whitespace."""
    if blob.size < 10 or len(blob.head) < 9:
        return None
    length = int.from_bytes(blob.head[:8], "little")
    if not 2 <= length <= min(blob.size - 8, MAX_HEADER_BYTES):
        return None
    start = blob.head[8 : 8 + length].lstrip(_WS)
    if not start and length > len(blob.head) - 8:  # long leading whitespace (the crate accepts it): look further
        start = blob.source.read_at(8, length).lstrip(_WS)
    return length if start[:1] == b"{" else None


def _holds_tensors(value: dict[str, object]) -> bool:
    """Empty, or metadata, or at least one tensor-like entry (malformed entries beside it are reported)."""
    if not value or "__metadata__" in value:
        return True
    return any(isinstance(v, dict) and ("dtype" in v or "data_offsets" in v) for v in value.values())


def _parse_header(raw: bytes) -> _Header:
    """Parse the header JSON, keeping duplicate keys and where the object ends."""
    bad: int | None = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # the JSON may still end before the bad byte (then the padding hides it)
        bad = exc.start
        text = raw[:bad].decode("utf-8")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    duplicates: list[tuple[str, object, object]] = []
    try:
        value, end = json.JSONDecoder(object_pairs_hook=_keep_duplicates(duplicates)).raw_decode(text, start)
    except (ValueError, RecursionError) as exc:
        why = f"not UTF-8 at header byte {bad}" if bad is not None else f"not valid JSON ({_short(str(exc), 120)})"
        return _Header(raw, None, why, bad if bad is not None else getattr(exc, "pos", 0), 0, ())
    if not isinstance(value, dict):
        return _Header(raw, None, f"a JSON {type(value).__name__}, not an object", start, 0, ())
    json_end = end if text.isascii() else len(text[:end].encode("utf-8"))
    return _Header(raw, value, None, 0, json_end, tuple(duplicates))


_PairsHook = Callable[[list[tuple[str, object]]], dict[str, object]]


def _keep_duplicates(found: list[tuple[str, object, object]]) -> _PairsHook:
    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out and len(found) < 1000:
                found.append((key, out[key], value))
            out[key] = value  # the last one wins, as in Python's json and the crate's map
        return out

    return hook


def _short(text: str, limit: int = 160) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- the shard index ----
def _sniff_index(blob: Blob) -> bool:
    if not blob.looks_like_json_object() or (b'"weight_map"' not in blob.head and b'"metadata"' not in blob.head):
        return False
    try:
        doc = blob.json()
    except ValueError:
        return False
    return (isinstance(doc, dict) and isinstance(doc.get("weight_map"), dict) and bool(doc["weight_map"])
            and set(doc) <= {"metadata", "weight_map"}
            and any(isinstance(v, str) and v.endswith(".safetensors") for v in list(doc["weight_map"].values())[:8]))


ANALYZER = SafetensorsAnalyzer()
"""The safetensors analyser, registered in ``bastion.supplychain.formats``."""
