"""The abstract values the static pickle machine pushes on its stack.

Only what matters for security is modelled: strings (they name globals), globals, calls, byte strings (they
may hide nested pickles) and small containers (for evidence). Numbers and other data collapse into ``INERT``.
"""

from __future__ import annotations

import os
from typing import Protocol


class Source(Protocol):
    """Random-access bytes: a file read with pread, or an in-memory buffer. Never loaded whole."""

    size: int

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer at the end)."""
        ...


class BufferSource:
    """A source over bytes, a memoryview or an mmap; slices are copied only when read."""

    def __init__(self, buffer: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(buffer).cast("B") if not isinstance(buffer, bytes) else memoryview(buffer)
        self.size = len(self._view)

    def read_at(self, offset: int, length: int) -> bytes:
        """Copy out a slice."""
        return bytes(self._view[offset : offset + length])


class FileSource:
    """A source over an open file descriptor, read with ``os.pread`` so large files are never mapped whole."""

    def __init__(self, fd: int, size: int, base: int = 0) -> None:
        self._fd = fd
        self._base = base
        self.size = size

    def read_at(self, offset: int, length: int) -> bytes:
        """Read a slice with one system call (or a few, for short reads)."""
        length = max(0, min(length, self.size - offset))
        parts = []
        while length > 0:
            chunk = os.pread(self._fd, length, self._base + offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(parts)


class _Inert:
    """Numbers, None, booleans, persistent ids, out-of-band buffers and untracked containers."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "…"


INERT = _Inert()


class _Persistent:
    """What the loader's persistent_load returns (torch storages, legacy module classes): supplied by the loader."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<persistent id>"


PERSISTENT = _Persistent()


class Global:
    """A module attribute named by GLOBAL, STACK_GLOBAL, INST or an extension code."""

    __slots__ = ("module", "name", "offset", "dynamic")

    def __init__(self, module: str, name: str, offset: int, dynamic: bool = False) -> None:
        self.module = module
        self.name = name
        self.offset = offset
        self.dynamic = dynamic
        """True when the names were computed (not constant strings), so the real target is unknown."""

    @property
    def dotted(self) -> str:
        """``module.name`` as a single dotted path."""
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return self.dotted


class Call:
    """The result of REDUCE, NEWOBJ, NEWOBJ_EX, OBJ or INST: a callable applied to arguments."""

    __slots__ = ("func", "args", "offset", "value")

    def __init__(self, func: object, args: object, offset: int, value: object = None) -> None:
        self.func = func
        self.args = args
        self.offset = offset
        self.value = value
        """What the call statically evaluates to, for the pure decoders the machine emulates (else None)."""

    def __repr__(self) -> str:
        return short_repr(self)


class Bytes:
    """A bytes or bytearray value; large payloads stay in the source and are read only when needed."""

    __slots__ = ("source", "offset", "length", "_data")

    def __init__(self, source: Source | None, offset: int, length: int, data: bytes | None = None) -> None:
        self.source = source
        self.offset = offset
        self.length = length
        self._data = data

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes."""
        if self._data is not None:
            return self._data[:n]
        assert self.source is not None
        return self.source.read_at(self.offset, min(n, self.length))

    def data(self) -> bytes:
        """The whole value (callers bound ``length`` first)."""
        if self._data is None:
            assert self.source is not None
            self._data = self.source.read_at(self.offset, self.length)
        return self._data

    def __repr__(self) -> str:
        return f"<{self.length} bytes>" if self.length > 32 else repr(self.head(32))


class LongText:
    """A string too long to keep; only its length is known."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __repr__(self) -> str:
        return f"<text of {self.length} characters>"


class Box:
    """A list, dict or set; keeps the first few non-inert items for evidence."""

    __slots__ = ("kind", "items")
    KEEP = 32

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: list[object] = []

    def add(self, values: list[object]) -> None:
        """Keep the first ``KEEP`` items (dict items stay as key, value pairs)."""
        room = self.KEEP - len(self.items)
        if room > 0:
            self.items.extend(values[:room])

    def get(self, key: str) -> object:
        """The value stored under ``key`` in a dict box, or None."""
        for k, v in zip(self.items[::2], self.items[1::2], strict=False):
            if k == key:
                return v
        return None

    def __repr__(self) -> str:
        return short_repr(self)


def short_repr(value: object, limit: int = 160) -> str:
    """A bounded, printable rendering of a value for evidence (depth- and length-limited, never recursive)."""
    parts: list[str] = []
    size = 0
    # An explicit work stack of (value or literal text, depth) keeps deep nesting from recursing.
    work: list[tuple[object, int]] = [(value, 0)]
    while work and size <= limit:
        item, depth = work.pop()
        if isinstance(item, _Text):
            piece = item.text
        elif depth > 4:
            piece = "…"
        else:
            piece, children = _render_one(item)
            work.extend((child, depth + 1) for child in reversed(children))
        parts.append(piece)
        size += len(piece)
    text = "".join(parts)
    return text if len(text) <= limit and not work else text[: limit - 1] + "…"


class _Text:
    """Literal punctuation queued between children."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _join(open_: str, items: list[object], close: str) -> tuple[str, list[object]]:
    children: list[object] = []
    for index, item in enumerate(items[:8]):
        if index:
            children.append(_Text(", "))
        children.append(item)
    if len(items) > 8:
        children.append(_Text(", …"))
    children.append(_Text(close))
    return open_, children


def _render_one(item: object) -> tuple[str, list[object]]:
    if isinstance(item, Global):
        return item.dotted, []
    if isinstance(item, Call):
        args = list(item.args[:9]) if isinstance(item.args, tuple) else [item.args]
        return "", [item.func, _Text("("), *_join("", args, ")")[1]]
    if isinstance(item, Box):
        brackets = {"list": ("[", "]"), "dict": ("{", "}")}.get(item.kind, (f"{item.kind}(", ")"))
        return _join(brackets[0], item.items[:9], brackets[1])
    if isinstance(item, tuple):
        return _join("(", list(item[:9]), ")")
    if isinstance(item, str):
        return repr(item[:120]), []
    return repr(item), []
