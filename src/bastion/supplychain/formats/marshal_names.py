"""Read the names a marshalled Python code object references, without building or running it.

Keras Lambda layers (and dill/cloudpickle payloads) store functions as ``marshal.dumps(func.__code__)``. This is
a bounded, pure-Python reader of the marshal format: it builds no code object, so malformed or hostile data can
only make it give up, and it reads code marshalled by CPython 2.7 and 3.x (checked against 2.7 and 3.6-3.13; the
layout of a code object changed across versions, so each known layout is tried and validated in turn).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_MARSHAL_BYTES = 4 * 1024 * 1024
"""Larger payloads are not read (Lambda bytecode is a few kilobytes)."""
MAX_OBJECTS = 200_000
"""Objects read per payload before giving up."""
MAX_NESTING = 100
"""Containers and code objects nested deeper than this are refused."""
MAX_READ_BYTES = 16 * MAX_MARSHAL_BYTES
"""Bytes read in all, counting those read again when a code layout is retried."""

_FLAG_REF = 0x80


@dataclass(frozen=True)
class CodeNames:
    """What the code objects in a marshal payload reference."""

    names: tuple[str, ...]
    """Global and attribute names (``co_names``) of every code object, in order of first appearance."""
    strings: tuple[str, ...]
    """String and bytes constants (``co_consts``) of every code object, in order of first appearance."""
    code_objects: int
    """How many code objects were read."""


class _Bad(Exception):
    """The payload is not marshal data this reader understands."""


@dataclass
class _Code:
    names: tuple[str, ...]
    consts: tuple[object, ...]


@dataclass(frozen=True)
class _Layout:
    ints: int
    """32-bit integers after the type code (argcount, ..., flags)."""
    fields: tuple[str, ...]
    """The objects that follow; ``firstlineno`` (a bare integer) comes after them, then ``tail`` objects."""
    tail: int
    kinds_is_bytes: bool
    """3.11+: the fifth field (localspluskinds) is bytes, where older layouts have a tuple (freevars)."""


_OLD_FIELDS = ("code", "consts", "names", "varnames", "freevars", "cellvars", "filename", "name")
_LAYOUTS = (
    _Layout(5, ("code", "consts", "names", "localsplusnames", "localspluskinds", "filename", "name", "qualname"),
            2, True),  # 3.11 - 3.13
    _Layout(6, _OLD_FIELDS, 1, False),  # 3.8 - 3.10 (posonlyargcount added)
    _Layout(5, _OLD_FIELDS, 1, False),  # 3.0 - 3.7
    _Layout(4, _OLD_FIELDS, 1, False),  # 2.x
)


@dataclass
class _Reader:
    data: bytes
    pos: int = 0
    objects: int = 0
    read: int = 0
    refs: list[object] = field(default_factory=list)
    interned: list[object] = field(default_factory=list)
    codes: list[_Code] = field(default_factory=list)

    def take(self, n: int) -> bytes:
        self.read += n
        if n < 0 or self.pos + n > len(self.data) or self.read > MAX_READ_BYTES:
            raise _Bad("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def i32(self) -> int:
        value: int = struct.unpack("<i", self.take(4))[0]
        return value

    def length(self, n: int) -> int:
        if n < 0 or n > len(self.data) - self.pos:
            raise _Bad("bad length")
        return n

    def obj(self, depth: int = 0) -> object:
        self.objects += 1
        if self.objects > MAX_OBJECTS or depth > MAX_NESTING:
            raise _Bad("too many or too deeply nested objects")
        code = self.byte()
        slot = None
        if code & _FLAG_REF:
            slot = len(self.refs)
            self.refs.append(None)
        value = self._value(chr(code & ~_FLAG_REF), depth)
        if slot is not None:
            self.refs[slot] = value
        return value

    def _value(self, kind: str, depth: int) -> object:
        simple = _SIMPLE.get(kind)
        if simple is not None:
            return simple(self)
        if kind in "([<>)":
            n = self.byte() if kind == ")" else self.length(self.i32())
            return tuple(self.obj(depth + 1) for _ in range(n))
        if kind == "{":
            pairs = []
            while (key := self.obj(depth + 1)) is not _NULL:
                pairs.append((key, self.obj(depth + 1)))
            return tuple(pairs)
        if kind == "c":
            return self._code(depth)
        if kind == ":":  # 3.14 slice
            return tuple(self.obj(depth + 1) for _ in range(3))
        raise _Bad(f"unknown marshal type {kind!r}")

    def _code(self, depth: int) -> _Code:
        start, refs, interned, codes = self.pos, len(self.refs), len(self.interned), len(self.codes)
        for layout in _LAYOUTS:
            try:
                return self._code_as(layout, depth)
            except _Bad:
                self.pos = start
                del self.refs[refs:]
                del self.interned[interned:]
                del self.codes[codes:]
        raise _Bad("code object of no known layout")

    def _code_as(self, layout: _Layout, depth: int) -> _Code:
        self.take(4 * layout.ints)
        values = {name: self.obj(depth + 1) for name in layout.fields}
        self.take(4)  # firstlineno
        for _ in range(layout.tail):
            self.obj(depth + 1)
        names, consts = values["names"], values["consts"]
        kinds = values.get("localspluskinds", values.get("freevars"))
        if not isinstance(values["code"], bytes) or not isinstance(consts, tuple) or not isinstance(names, tuple):
            raise _Bad("not a code object of this layout")
        if isinstance(kinds, bytes) != layout.kinds_is_bytes or not all(isinstance(n, (str, bytes)) for n in names):
            raise _Bad("not a code object of this layout")
        code = _Code(tuple(_text(n) for n in names), consts)
        self.codes.append(code)
        return code


def _text(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


class _Null:
    """TYPE_NULL: the end of a dict."""


_NULL = _Null()


def _ref(reader: _Reader) -> object:
    index = reader.i32()
    if not 0 <= index < len(reader.refs):
        raise _Bad("bad reference")
    return reader.refs[index]


def _stringref(reader: _Reader) -> object:  # Python 2 interned-string reference
    index = reader.i32()
    if not 0 <= index < len(reader.interned):
        raise _Bad("bad string reference")
    return reader.interned[index]


def _interned(reader: _Reader) -> object:
    value = _unicode(reader)
    reader.interned.append(value)
    return value


def _unicode(reader: _Reader) -> str:
    return reader.take(reader.length(reader.i32())).decode("utf-8", "replace")


def _long(reader: _Reader) -> int:
    reader.take(reader.length(2 * abs(reader.i32())))  # 15-bit digits; the value does not matter here
    return 0


def _skip(size: int, value: object) -> Callable[[_Reader], object]:
    def read(reader: _Reader) -> object:
        reader.take(size)
        return value

    return read


def _float_text(reader: _Reader) -> float:
    reader.take(reader.byte())
    return 0.0


def _complex_text(reader: _Reader) -> complex:
    reader.take(reader.byte())
    reader.take(reader.byte())
    return 0j


_SIMPLE: dict[str, Callable[[_Reader], object]] = {
    "0": lambda r: _NULL,
    "N": lambda r: None,
    "F": lambda r: False,
    "T": lambda r: True,
    "S": lambda r: StopIteration,
    ".": lambda r: Ellipsis,
    "i": lambda r: r.i32(),
    "I": _skip(8, 0),
    "l": _long,
    "f": _float_text,
    "g": _skip(8, 0.0),
    "x": _complex_text,
    "y": _skip(16, 0j),
    "s": lambda r: r.take(r.length(r.i32())),
    "t": _interned,
    "u": _unicode,
    "a": lambda r: r.take(r.length(r.i32())).decode("latin-1"),
    "A": lambda r: r.take(r.length(r.i32())).decode("latin-1"),
    "z": lambda r: r.take(r.byte()).decode("latin-1"),
    "Z": lambda r: r.take(r.byte()).decode("latin-1"),
    "r": _ref,
    "R": _stringref,
}


def code_names(data: bytes) -> CodeNames | None:
    """The names and string constants of the code object(s) marshalled in ``data``; None when it is not readable
    marshal data of a code object (or exceeds the bounds)."""
    if len(data) > MAX_MARSHAL_BYTES or data[:1] not in (b"c", b"\xe3"):
        return None
    reader = _Reader(data)
    try:
        reader.obj()
    except (_Bad, RecursionError):
        return None
    names: dict[str, None] = {}
    strings: dict[str, None] = {}
    for code in reader.codes:
        names.update(dict.fromkeys(code.names))
        strings.update(dict.fromkeys(_strings(code.consts)))
    return CodeNames(tuple(names), tuple(strings), len(reader.codes))


def _strings(consts: tuple[object, ...]) -> list[str]:
    found: list[str] = []
    for value in consts:
        if isinstance(value, tuple):  # constant tuples (default arguments, keyword names)
            found.extend(_text(v) for v in value if isinstance(v, (str, bytes)))
        elif isinstance(value, (str, bytes)):  # bytes: Python 2 str constants
            found.append(_text(value))
    return found
