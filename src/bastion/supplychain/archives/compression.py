"""Bounded decompression of single streams (gzip, bz2, xz, lzma, zlib, zstd) and format sniffing.

All decoders are driven through one loop that asks for at most ``cap + 1`` bytes of output at a
time, so a bomb is stopped at the bound instead of after it has been allocated.
"""

from __future__ import annotations

import bz2
import importlib
import lzma
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ._buffer import as_view
from .limits import ArchiveError, Buffer, LimitExceeded

__all__ = [
    "Decoder",
    "OutputBound",
    "TruncatedStream",
    "decompress",
    "make_decoder",
    "make_zip_lzma_decoder",
    "run_decoder",
    "sniff_compression",
]

_IN_CHUNK = 1 << 16
"""Compressed bytes fed per step; small enough that a bz2 block cannot expand unchecked between checks."""

_OUT_CHUNK = 1 << 22
"""Most output requested per step, so the output buffer grows in modest increments."""

_LZMA_MEMLIMIT = 256 * 1024**2
"""liblzma allocates the declared dictionary up front; refuse headers asking for more (xz -9 needs 65 MiB)."""

_MAX_STALLS = 3
"""Consecutive steps without output or input before a decoder is declared stuck (guards against hangs)."""

_STREAM_MAGIC = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00", "zstd": b"\x28\xb5\x2f\xfd"}
"""Formats whose files may hold several concatenated streams, with the magic that starts each one."""


class TruncatedStream(ArchiveError):
    """The input ended before the compressed stream did."""


class Decoder(Protocol):
    """A streaming decompressor driven by ``run_decoder``."""

    @property
    def eof(self) -> bool:
        """True once the end of the compressed stream has been decoded."""

    @property
    def unused_data(self) -> bytes:
        """Input bytes that came after the end of the stream."""

    def hungry(self) -> bool:
        """True when no progress is possible without more input."""

    def step(self, data: memoryview | None, max_length: int) -> bytes:
        """Decode ``data`` (None: keep working on input already given) into at most ``max_length`` bytes."""


class _LibDecompressor(Protocol):
    """The shape shared by bz2, lzma and zstd decompressor objects."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes | memoryview, max_length: int = -1) -> bytes: ...


class _ZlibDecoder:
    """zlib keeps input it could not process in ``unconsumed_tail``, which must be fed again before new input."""

    def __init__(self, wbits: int) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._maybe_pending = False

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    def hungry(self) -> bool:
        return not self._obj.unconsumed_tail and not self._maybe_pending

    def step(self, data: memoryview | None, max_length: int) -> bytes:
        source: bytes | memoryview = self._obj.unconsumed_tail if data is None else data
        out = self._obj.decompress(source, max_length)
        # A full output buffer can leave output inside zlib even when all input was consumed.
        self._maybe_pending = len(out) == max_length
        return out


class _LibDecoder:
    """Adapter for bz2/lzma/zstd objects, which buffer input themselves and say when they need more."""

    def __init__(self, obj: _LibDecompressor) -> None:
        self._obj = obj

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    def hungry(self) -> bool:
        return self._obj.needs_input

    def step(self, data: memoryview | None, max_length: int) -> bytes:
        return self._obj.decompress(b"" if data is None else data, max_length)


@dataclass(frozen=True)
class OutputBound:
    """One ceiling on decompressed output, with the message raised when it is crossed."""

    limit: int
    """Most output bytes allowed."""

    message: str
    """``LimitExceeded`` message; it names the bound and the member."""


def _zstd_module() -> Any:
    """The stdlib ``compression.zstd`` (3.14+) or the ``backports.zstd`` package, else None."""
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _zstd_decoder() -> Decoder:
    module = _zstd_module()
    if module is None:
        raise ArchiveError("zstd data found but no zstd decoder is installed (compression.zstd or backports.zstd)")
    return _LibDecoder(module.ZstdDecompressor())


_FACTORIES: dict[str, Callable[[], Decoder]] = {
    "deflate": lambda: _ZlibDecoder(-15),
    "zlib": lambda: _ZlibDecoder(15),
    "gzip": lambda: _ZlibDecoder(31),
    "bz2": lambda: _LibDecoder(bz2.BZ2Decompressor()),
    "xz": lambda: _LibDecoder(lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=_LZMA_MEMLIMIT)),
    "lzma": lambda: _LibDecoder(lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=_LZMA_MEMLIMIT)),
    "zstd": _zstd_decoder,
}


def make_decoder(kind: str) -> Decoder:
    """A fresh decoder for ``kind`` (deflate = raw zip deflate); ValueError for a kind this module lacks."""
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ValueError(f"unknown compression kind {kind!r}; expected one of {sorted(_FACTORIES)}")
    return factory()


def make_zip_lzma_decoder(props: bytes) -> Decoder:
    """Decoder for a zip LZMA member (method 14) given the 5-byte LZMA1 properties from its data header."""
    if len(props) < 5:
        raise ArchiveError(f"zip lzma properties too short ({len(props)} bytes)")
    packed, dict_size = props[0], struct.unpack_from("<I", props, 1)[0]
    if packed >= 9 * 5 * 5:
        raise ArchiveError(f"invalid lzma properties byte 0x{packed:02x}")
    if dict_size > _LZMA_MEMLIMIT:
        # FORMAT_RAW takes no memlimit, so bound the dictionary liblzma would allocate ourselves.
        raise LimitExceeded(f"lzma dictionary of {dict_size} bytes is over the {_LZMA_MEMLIMIT}-byte decoder limit")
    lc, rest = packed % 9, packed // 9
    lzma_filter = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": rest % 5, "pb": rest // 5}
    return _LibDecoder(lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter]))


def _room(out: bytearray, cap: int) -> int:
    """Output to request next: one byte past the cap is enough to prove the cap was crossed."""
    return max(1, min(_OUT_CHUNK, cap + 1 - len(out)))


def _append(out: bytearray, piece: bytes, bounds: Sequence[OutputBound]) -> None:
    out += piece
    for bound in bounds:
        if len(out) > bound.limit:
            raise LimitExceeded(bound.message)


def run_decoder(
    decoder: Decoder, view: memoryview, start: int, out: bytearray, bounds: Sequence[OutputBound], label: str
) -> int:
    """Decode one stream from ``view[start:]`` into ``out``; return the offset just past the stream.

    Raises ``LimitExceeded`` as soon as ``out`` passes a bound and ``ArchiveError`` on corrupt or
    truncated data. Library exceptions are left to the caller to wrap with its own context.
    """
    cap = min((bound.limit for bound in bounds), default=1 << 62)
    pos, stalls = start, 0
    while not decoder.eof:
        if decoder.hungry():
            if pos >= len(view):
                raise TruncatedStream(f"{label}: compressed data truncated at offset {pos}")
            chunk = view[pos : pos + _IN_CHUNK]
            pos += len(chunk)
            piece = decoder.step(chunk, _room(out, cap))
            stalls = 0
        else:
            piece = decoder.step(None, _room(out, cap))
            stalls = 0 if piece else stalls + 1
            if stalls >= _MAX_STALLS:
                raise ArchiveError(f"{label}: decoder made no progress at offset {pos}")
        _append(out, piece, bounds)
    return pos - len(decoder.unused_data)


def _next_stream(kind: str, view: memoryview, end: int) -> bool:
    """True when another stream of the same format follows (``cat a.gz b.gz`` is a valid gzip file)."""
    magic = _STREAM_MAGIC.get(kind)
    return magic is not None and bytes(view[end : end + len(magic)]) == magic


def decompress(kind: str, buf: Buffer, max_bytes: int) -> bytes:
    """Decompress a whole gzip/bz2/xz/lzma/zlib/zstd (or raw deflate) file in ``buf``, at most ``max_bytes`` out.

    Concatenated streams are joined; bytes after the last stream are ignored (as gzip tools do with
    padding). Raises ``LimitExceeded`` past ``max_bytes``, ``ArchiveError`` on malformed input and
    ``ValueError`` for an unknown ``kind``.
    """
    make_decoder(kind)  # fail fast with ValueError on an unknown kind, before touching the data
    view = as_view(buf)
    out = bytearray()
    bounds = [OutputBound(max_bytes, f"max_bytes={max_bytes} exceeded while decompressing {kind} data")]
    pos = 0
    try:
        while True:
            pos = run_decoder(make_decoder(kind), view, pos, out, bounds, f"{kind} stream at offset {pos}")
            if not _next_stream(kind, view, pos):
                return bytes(out)
    except ArchiveError:
        raise
    except Exception as exc:  # zlib.error, LZMAError, OSError from bz2, ZstdError, EOFError, ...
        raise ArchiveError(f"corrupt {kind} data near offset {pos}: {exc}") from exc


def _is_zlib(head: bytes) -> bool:
    # A zlib header is CMF=0x78 (deflate, 32K window) and an FLG whose check bits make CMF*256+FLG a multiple of 31.
    if len(head) < 2 or head[0] != 0x78:
        return False
    return head[1] in (0x01, 0x5E, 0x9C, 0xDA) and (head[0] * 256 + head[1]) % 31 == 0


def _is_lzma_alone(head: bytes) -> bool:
    # Legacy .lzma: properties byte (0x5d for the usual lc=3 lp=0 pb=2), LE32 dictionary size, LE64 size.
    if len(head) < 13 or head[0] != 0x5D:
        return False
    dict_size = struct.unpack_from("<I", head, 1)[0]
    size = struct.unpack_from("<Q", head, 5)[0]
    plausible_dict = dict_size == 0xFFFFFFFF or any(dict_size in (1 << n, 3 << (n - 1)) for n in range(12, 31))
    return plausible_dict and (size == 0xFFFFFFFFFFFFFFFF or size < 1 << 48)


_PREFIXES = (
    ("7z", b"7z\xbc\xaf\x27\x1c"),
    ("gzip", b"\x1f\x8b"),
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
)
"""Formats recognised by their leading magic bytes."""


def sniff_compression(head: Buffer) -> str | None:
    """Name the container or compression format that ``head`` (the first bytes of a file) starts with.

    Returns "zip", "7z", "gzip", "bz2", "xz", "zstd", "tar", "zlib", "lzma" or None. Pass at least
    262 bytes for tar to be recognised (its "ustar" magic sits at offset 257).
    """
    data = bytes(as_view(head)[:512])
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    for name, magic in _PREFIXES:
        if data.startswith(magic):
            return name
    if data[:3] == b"BZh" and data[3:4] in [b"%d" % n for n in range(1, 10)]:
        return "bz2"
    if data[257:262] == b"ustar":
        return "tar"
    if _is_zlib(data):
        return "zlib"
    if _is_lzma_alone(data):
        return "lzma"
    return None
