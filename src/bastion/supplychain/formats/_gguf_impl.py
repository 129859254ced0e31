"""The analysis half of ``gguf``: the bounded header parser, layout checks and facts, imported only when a
GGUF blob is analysed (``gguf`` keeps the analyser and its ``sniff``).
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass, field

from bastion.supplychain.formats._chat_template_impl import report_template
from bastion.supplychain.formats.chat_template import MAX_TEMPLATE_CHARS
from bastion.supplychain.formats.gguf import _versions
from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.pickle import Source
from bastion.taxonomy import rule

__all__ = ["GGML_TYPES", "analyse"]

MAX_KEY = 65535
"""Longest metadata key the format allows."""
MAX_METADATA = 256 * 1024 * 1024
"""Total metadata bytes (strings and arrays) walked per file."""
MAX_ARRAY = 16_000_000
"""Most elements walked in one string or nested array (token lists hold ~150k-260k strings)."""
MAX_KV = 1_000_000
MAX_TENSORS = 1_000_000
MAX_DIMS = 8
"""Most dimensions parsed for one tensor; ggml itself supports 4 (GGML_MAX_DIMS)."""
GGML_MAX_DIMS = 4
GGML_MAX_NAME = 64
MAX_NESTING = 4
_WINDOW = 1 << 20
_INT64_MAX = (1 << 63) - 1
_PLAUSIBLE_BYTES = 1 << 48
"""Tensor data ends beyond this are not a truncated real file but a crafted offset."""

STRING, ARRAY = 8, 9
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("B", "uint8"), 1: ("b", "int8"), 2: ("H", "uint16"), 3: ("h", "int16"), 4: ("I", "uint32"),
    5: ("i", "int32"), 6: ("f", "float32"), 7: ("?", "bool"), 10: ("Q", "uint64"), 11: ("q", "int64"),
    12: ("d", "float64"),
}

GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 31: ("Q4_0_4_4", 32, 18), 32: ("Q4_0_4_8", 32, 18),
    33: ("Q4_0_8_8", 32, 18), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 36: ("IQ4_NL_4_4", 32, 18),
    37: ("IQ4_NL_4_8", 32, 18), 38: ("IQ4_NL_8_8", 32, 18), 39: ("MXFP4", 32, 17),
}
"""ggml tensor type -> (name, elements per block, bytes per block)."""

_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}
"""llama.cpp's general.file_type (llama_ftype) -> name."""

_TASKS = frozenset({"text-generation", "text2text-generation", "feature-extraction", "sentence-similarity",
                    "image-text-to-text", "automatic-speech-recognition", "text-to-speech", "fill-mask",
                    "text-classification", "translation", "summarization"})

OVERFLOW, LAYOUT, MALFORMED = "BST-GGUF-001", "BST-GGUF-002", "BST-GGUF-003"


class _Stop(Exception):
    """Parsing cannot go on: ``rule_id`` says why (None: a bound of Bastion's own was reached)."""

    def __init__(self, rule_id: str | None, title: str, detail: str, offset: int) -> None:
        super().__init__(detail)
        self.rule_id = rule_id
        self.title = title
        self.detail = detail
        self.offset = offset


@dataclass(frozen=True)
class _Tensor:
    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int
    info_at: int
    elements: int | None
    nbytes: int | None


@dataclass
class _Problems:
    """Problems of one kind are reported once: the first one's title and detail, and how many more."""

    seen: dict[tuple[str, str], list[tuple[str, str, int]]] = field(default_factory=dict)

    def add(self, rule_id: str, kind: str, title: str, detail: str, offset: int) -> None:
        """``kind`` groups problems; ``title`` names this one (a key, a tensor)."""
        self.seen.setdefault((rule_id, kind), []).append((title, detail, offset))

    def report(self, report: Report, member: str | None) -> None:
        for (rule_id, _), examples in self.seen.items():
            title, detail, offset = examples[0]
            more = f" (and {len(examples) - 1} more like it)" if len(examples) > 1 else ""
            report.add(rule_id, f"{title}{more}", f"{detail}{more}. {rule(rule_id).description}", member, offset,
                       evidence=detail[:200])


class _Reader:
    """Bounds-checked little- or big-endian reads through a moving window of the source."""

    def __init__(self, source: Source, size: int, order: str, version: int) -> None:
        self.source = source
        self.size = size
        self.order = order
        self.wide = version >= 2  # version 1 stores counts, lengths and dimensions in 32 bits
        self.pos = 0
        self._window = b""
        self._start = 0
        self._structs: dict[str, struct.Struct] = {}

    def _ensure(self, n: int, what: str) -> int:
        """Make ``n`` bytes at ``pos`` readable; the window-relative position."""
        if self.pos + n > self.size:
            raise self._truncated(n, what)
        rel = self.pos - self._start
        if rel < 0 or rel + n > len(self._window):
            self._window = self.source.read_at(self.pos, max(n, _WINDOW))
            self._start, rel = self.pos, 0
        return rel

    def unpack(self, fmt: str, what: str) -> int | float | bool:
        layout = self._structs.get(fmt)
        if layout is None:
            layout = self._structs[fmt] = struct.Struct(self.order + fmt)
        rel = self._ensure(layout.size, what)
        value: int | float | bool = layout.unpack_from(self._window, rel)[0]
        self.pos += layout.size
        return value

    def u32(self, what: str) -> int:
        return int(self.unpack("I", what))

    def count(self, what: str) -> int:
        """A count or length: 64-bit from version 2 on, 32-bit in version 1."""
        return int(self.unpack("Q" if self.wide else "I", what))

    def take(self, n: int, what: str) -> bytes:
        rel = self._ensure(n, what)
        data = self._window[rel:rel + n]
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        if self.pos + n > self.size:
            raise self._truncated(n, what)
        self.pos += n

    def skip_strings(self, count: int) -> tuple[int, tuple[int, int] | None]:
        """Skip ``count`` strings: the bytes skipped, and (length, data offset) of one running past the end."""
        width = 8 if self.wide else 4
        layout = self._structs.get("len")
        if layout is None:
            layout = self._structs["len"] = struct.Struct(self.order + ("Q" if self.wide else "I"))
        total = 0
        for _ in range(count):
            rel = self._ensure(width, "the length of a string")
            length: int = layout.unpack_from(self._window, rel)[0]
            self.pos += width
            if length > self.size - self.pos:
                return total, (length, self.pos)
            self.pos += length
            total += length
        return total, None

    def _truncated(self, n: int, what: str) -> _Stop:
        return _Stop(MALFORMED, "GGUF file is truncated in its header", f"the file ends inside {what} (needs {n} "
                     f"bytes at byte {self.pos}, {self.size - self.pos} left)", self.pos)


@dataclass
class _Header:
    """What the header says, as far as the analyser needs it."""

    version: int
    order: str
    n_tensors: int = 0
    n_kv: int = 0
    values: dict[str, object] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    tensors: list[_Tensor] = field(default_factory=list)
    alignment: int = 32
    data_start: int = 0


def analyse(blob: Blob, report: Report) -> None:
    """Parse the header, check counts and the tensor layout, and analyse chat templates."""
    little, big = _versions(blob.head)
    version, order = (little, "<") if 1 <= little <= 3 else (big, ">") if 1 <= big <= 3 else (little, "<")
    report.fact("format", "gguf")
    report.fact("framework", "ggml")
    report.fact("gguf.version", version)
    if version > 3:
        report.not_examined(blob.member, f"GGUF version {version} is newer than the versions Bastion parses (1-3)")
        return
    if order == ">":
        report.fact("gguf.byte_order", "big-endian")
    header = _Header(version, order)
    problems = _Problems()
    parser = _Parser(blob, report, header, problems)
    try:
        parser.run()
    except _Stop as stop:
        if stop.rule_id is not None:
            problems.add(stop.rule_id, stop.title, stop.title, stop.detail, stop.offset)
        report.not_examined(blob.member, f"GGUF header: {stop.detail}")
    problems.report(report, blob.member)
    _record_facts(header, report)


class _Parser:
    """Walks one GGUF header, recording values Bastion needs and problems found."""

    def __init__(self, blob: Blob, report: Report, header: _Header, problems: _Problems) -> None:
        self.blob = blob
        self.report = report
        self.header = header
        self.problems = problems
        self.reader = _Reader(blob.source, blob.size, header.order, header.version)
        self.budget = MAX_METADATA

    def run(self) -> None:
        reader = self.reader
        reader.skip(8, "the magic and version")
        self.header.n_tensors = reader.count("the tensor count")
        self.header.n_kv = reader.count("the metadata count")
        self._check_count(self.header.n_kv, 13 if reader.wide else 9, MAX_KV, "metadata entries",
                          16 if reader.wide else 12)
        self._check_count(self.header.n_tensors, 24 if reader.wide else 20, MAX_TENSORS, "tensors", 8)
        for index in range(self.header.n_kv):
            self._tick(index)
            self._kv()
        self.header.alignment = self._alignment()
        for index in range(self.header.n_tensors):
            self._tick(index)
            self.header.tensors.append(self._tensor_info())
        self.header.data_start = _align(reader.pos, self.header.alignment)
        _check_layout(self.header, self.blob.size, self.problems)

    # ---- bounds ----
    def _tick(self, index: int) -> None:
        if index % 1024 == 0 and time.monotonic() > self.report.deadline:
            raise _Stop(None, "time limit", "time limit reached while parsing the header", self.reader.pos)

    def _check_count(self, count: int, min_size: int, bound: int, what: str, at: int) -> None:
        """A count the rest of the file cannot hold: absurd (beyond ``bound``), it is a parser-overflow trigger;
        plausible, the file was cut short. Within the file but beyond ``bound``, it is Bastion's limit."""
        left = self.blob.size - self.reader.pos
        room = left // min_size
        if count > room:
            detail = f"the header declares {count} {what}; the rest of the file ({left} bytes) holds at most {room}"
            if count > bound:
                raise _Stop(OVERFLOW, f"GGUF header declares {count} {what}", detail, at)
            raise _Stop(MALFORMED, "GGUF file is truncated in its header", detail, at)
        if count > bound:
            raise _Stop(None, "bound", f"the header declares {count} {what}, beyond Bastion's bound of {bound}", at)

    def _spend(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise _Stop(None, "bound", f"metadata exceeds Bastion's budget of {MAX_METADATA} bytes", self.reader.pos)

    def _too_long(self, length: int, what: str, at: int) -> _Stop:
        """A string running past the end of the file: absurdly long, an overflow trigger; else a truncation."""
        detail = (f"{what} declares a length of {length} bytes; {self.blob.size - at} bytes of the file are left "
                  "after its length field")
        if length > MAX_METADATA:
            return _Stop(OVERFLOW, f"GGUF string declares {length} bytes", detail, at)
        return _Stop(MALFORMED, "GGUF file is truncated in its header", detail, at)

    # ---- metadata ----
    def _string(self, what: str, keep: int) -> tuple[str | None, int]:
        """A string: its text when it is at most ``keep`` bytes (else None, skipped unread) and its data offset."""
        length = self.reader.count(f"the length of {what}")
        at = self.reader.pos
        if length > self.blob.size - at:
            raise self._too_long(length, what, at)
        self._spend(length)
        if length <= keep:
            return self.reader.take(length, what).decode("utf-8", "replace"), at
        self.reader.skip(length, what)
        return None, at

    def _kv(self) -> None:
        at = self.reader.pos
        key, _ = self._string("a metadata key", MAX_KEY)
        if key is None:
            raise _Stop(MALFORMED, f"GGUF metadata key longer than {MAX_KEY} bytes", f"the metadata key at byte {at} "
                        f"is longer than the {MAX_KEY} bytes the format allows", at)
        value_type = self.reader.u32(f"the type of {key!r}")
        if key in self.header.types:
            self.problems.add(MALFORMED, "duplicate key", f"Duplicate GGUF metadata key {key[:80]!r}",
                              f"metadata key {key!r} appears twice", at)
        self.header.types[key] = value_type
        if value_type == STRING:
            self._string_value(key)
        elif value_type == ARRAY:
            self.header.values[key] = self._array(key, 1)
        elif value_type in _SCALARS:
            self.header.values[key] = self.reader.unpack(_SCALARS[value_type][0], f"the value of {key!r}")
        else:
            raise _Stop(MALFORMED, f"Unknown GGUF metadata value type {value_type} for {key[:80]!r}",
                        f"metadata key {key!r} has unknown value type {value_type}", at)

    def _string_value(self, key: str) -> None:
        """Keep short strings (general.*); chat templates (any key naming a template) are analysed."""
        templated = "template" in key.lower()
        keep = MAX_TEMPLATE_CHARS * 4 if templated else 4096
        text, offset = self._string(f"the value of {key!r}", keep)
        if text is None:
            if templated:
                self.report.not_examined(self.blob.member, f"{key}: chat template longer than {keep} bytes")
            return
        self.header.values[key] = text
        if templated:
            report_template(self.report, text, key, self.blob.member, offset)

    def _array(self, key: str, depth: int) -> object:
        """Walk an array; returns its strings for small string arrays (general.tags), else its length."""
        at = self.reader.pos
        elem_type = self.reader.u32(f"the element type of {key!r}")
        count = self.reader.count(f"the length of {key!r}")
        if elem_type in _SCALARS:
            size = struct.calcsize(_SCALARS[elem_type][0])
            self._check_array(key, count, size, at)
            self._spend(count * size)
            self.reader.skip(count * size, f"the array {key!r}")
            return count
        if elem_type == STRING:
            self._check_array(key, count, 8 if self.reader.wide else 4, at)
            return self._strings(key, count)
        if elem_type == ARRAY:
            if depth >= MAX_NESTING:
                raise _Stop(None, "bound", f"array {key!r} nests deeper than {MAX_NESTING} levels", at)
            self._check_array(key, count, 12 if self.reader.wide else 8, at)
            for index in range(count):
                self._tick(index)
                self._array(key, depth + 1)
            return count
        raise _Stop(MALFORMED, f"Unknown GGUF array element type {elem_type} in {key[:80]!r}",
                    f"array {key!r} has unknown element type {elem_type}", at)

    def _check_array(self, key: str, count: int, min_size: int, at: int) -> None:
        self._check_count(count, min_size, MAX_ARRAY, f"elements in array {key[:80]!r}", at)

    def _strings(self, key: str, count: int) -> object:
        """Walk a string array (token lists hold ~150k strings, so the loop is tight); keep general.tags."""
        if key == "general.tags" and count <= 1024:
            return [self._string(f"element {index} of {key!r}", 256)[0] or "" for index in range(count)]
        reader = self.reader
        for index in range(0, count, 4096):
            self._tick(0)
            skipped, bad = reader.skip_strings(min(4096, count - index))
            self._spend(skipped)
            if bad is not None:
                length, at = bad
                raise self._too_long(length, f"an element of {key[:80]!r}", at)
        return count

    def _alignment(self) -> int:
        value = self.header.values.get("general.alignment")
        if value is None:
            return 32
        kind = self.header.types.get("general.alignment", -1)
        if kind != 4:
            type_name = _SCALARS.get(kind, ("", f"type {kind}"))[1]
            self.problems.add(MALFORMED, "alignment type", "GGUF general.alignment is not a uint32",
                              f"general.alignment is a {type_name}; llama.cpp expects a uint32", 0)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0 and value & (value - 1) == 0:
            return value
        self.problems.add(MALFORMED, "alignment", f"Invalid GGUF general.alignment {str(value)[:40]}",
                          f"general.alignment is {value!r}, not a positive power of two; the default 32 is assumed", 0)
        return 32

    # ---- tensors ----
    def _tensor_info(self) -> _Tensor:
        reader = self.reader
        at = reader.pos
        text, _ = self._string("a tensor name", 1 << 16)
        name = text if text is not None else "<unnamed>"
        short = repr(name[:80])
        if len(name.encode("utf-8", "replace")) >= GGML_MAX_NAME:
            self.problems.add(MALFORMED, "long name", f"Over-long GGUF tensor name {short}",
                              f"tensor name {short} is {len(name)} characters; ggml allows {GGML_MAX_NAME - 1}", at)
        n_dims = reader.u32(f"the dimension count of {short}")
        if n_dims > GGML_MAX_DIMS:
            title = f"GGUF tensor {short} declares {n_dims} dimensions"
            detail = f"tensor {short} declares {n_dims} dimensions; ggml supports {GGML_MAX_DIMS}"
            if n_dims > MAX_DIMS:
                raise _Stop(OVERFLOW, title, detail, at)
            self.problems.add(OVERFLOW, "dims", title, detail, at)
        dims = tuple(reader.count(f"the dimensions of {short}") for _ in range(n_dims))
        ggml_type = reader.u32(f"the type of {short}")
        offset = int(reader.unpack("Q", f"the offset of {short}"))
        elements, nbytes = self._size(short, dims, ggml_type, at)
        if offset % self.header.alignment:
            self.problems.add(MALFORMED, "misaligned", f"Misaligned GGUF tensor offset: {short}", f"tensor {short} "
                              f"has offset {offset}, not a multiple of the alignment {self.header.alignment}", at)
        return _Tensor(name, dims, ggml_type, offset, at, elements, nbytes)

    def _size(self, short: str, dims: tuple[int, ...], ggml_type: int, at: int) -> tuple[int | None, int | None]:
        """Element count and byte size, or None where the declaration is invalid (reported)."""
        if any(d > _INT64_MAX for d in dims):
            self.problems.add(OVERFLOW, "negative", f"GGUF tensor {short} has a negative dimension",
                              f"tensor {short} has dimensions {dims}: one is negative as a signed 64-bit value", at)
            return None, None
        elements = math.prod(dims)
        if elements > _INT64_MAX:
            self.problems.add(OVERFLOW, "size", f"GGUF tensor {short} size overflows 64 bits",
                              f"tensor {short} with dimensions {dims} has {elements} elements", at)
            return None, None
        spec = GGML_TYPES.get(ggml_type)
        if spec is None:
            self.problems.add(MALFORMED, "type", f"Unknown ggml type {ggml_type} for GGUF tensor {short}",
                              f"tensor {short} has ggml type {ggml_type}, which ggml does not define", at)
            return elements, None
        type_name, block, type_size = spec
        if dims and dims[0] % block:
            self.problems.add(MALFORMED, "block", f"GGUF tensor {short} rows do not fill whole blocks",
                              f"tensor {short} of type {type_name} has rows of {dims[0]} elements, not a multiple "
                              f"of its block size {block}", at)
            return elements, None
        nbytes = elements // block * type_size
        if nbytes > _INT64_MAX:
            self.problems.add(OVERFLOW, "size", f"GGUF tensor {short} size overflows 64 bits",
                              f"tensor {short} of type {type_name} needs {nbytes} bytes", at)
            return elements, None
        return elements, nbytes


def _align(offset: int, alignment: int) -> int:
    return -(-offset // alignment) * alignment


def _check_layout(header: _Header, size: int, problems: _Problems) -> None:
    """Tensor data inside the file and disjoint; a contiguous layout cut short is a truncation, not tampering."""
    names: set[str] = set()
    placed: list[tuple[int, int, _Tensor]] = []
    for tensor in header.tensors:
        if tensor.name in names:
            problems.add(MALFORMED, "duplicate name", f"Duplicate GGUF tensor name {tensor.name[:80]!r}",
                         f"tensor name {tensor.name[:80]!r} appears twice", tensor.info_at)
        names.add(tensor.name)
        if tensor.nbytes is not None:
            start = header.data_start + tensor.offset
            placed.append((start, start + tensor.nbytes, tensor))
    placed.sort(key=lambda p: (p[0], p[1]))
    overlaps, contiguous, end = 0, True, header.data_start
    previous: _Tensor | None = None
    for start, stop, tensor in placed:
        if start < end and stop > start and previous is not None:
            overlaps += 1
            problems.add(LAYOUT, "overlap", f"GGUF tensors overlap: {tensor.name[:60]!r} and {previous.name[:60]!r}",
                         f"tensor {tensor.name[:80]!r} (bytes {start}-{stop}) overlaps tensor "
                         f"{previous.name[:80]!r} (which ends at byte {end})", tensor.info_at)
        contiguous = contiguous and start == _align(end, header.alignment)
        if stop >= end:
            end, previous = stop, tensor
    beyond = [(start, stop, t) for start, stop, t in placed if stop > size]
    if not beyond:
        return
    if not overlaps and contiguous and end <= _PLAUSIBLE_BYTES:
        start, stop, tensor = beyond[0]
        problems.add(MALFORMED, "truncated", f"GGUF file is truncated: tensor {tensor.name[:80]!r} is cut off",
                     f"tensor {tensor.name[:80]!r} occupies bytes {start}-{stop} but the file has {size} bytes; the "
                     f"tensors are laid out contiguously up to byte {end}, so the file was cut short (an incomplete "
                     "download or copy)", tensor.info_at)
        return
    for start, stop, tensor in beyond:
        problems.add(LAYOUT, "beyond", f"GGUF tensor {tensor.name[:80]!r} lies beyond the end of the file",
                     f"tensor {tensor.name[:80]!r} occupies bytes {start}-{stop} but the file has {size} bytes",
                     tensor.info_at)


def _record_facts(header: _Header, report: Report) -> None:
    values = header.values
    for key, fact in (("general.architecture", "architecture"), ("general.name", "gguf.name"),
                      ("general.license", "license"), ("general.size_label", "gguf.size_label"),
                      ("general.basename", "gguf.basename")):
        value = values.get(key)
        if isinstance(value, str) and value:
            report.fact(fact, value[:200])
    tensors = [t for t in header.tensors if t.elements is not None]
    if header.tensors:
        report.fact("tensors", len(header.tensors))
        report.fact("parameters", sum(t.elements or 0 for t in tensors))
    by_type: dict[int, int] = {}
    for tensor in tensors:
        by_type[tensor.ggml_type] = by_type.get(tensor.ggml_type, 0) + (tensor.elements or 0)
    known = {k: v for k, v in by_type.items() if k in GGML_TYPES}
    file_type = values.get("general.file_type")
    if known:
        report.fact("dtype", GGML_TYPES[max(known, key=lambda k: known[k])][0])
    elif isinstance(file_type, int) and file_type in _FILE_TYPES:
        report.fact("dtype", _FILE_TYPES[file_type])
    if isinstance(file_type, int) and file_type in _FILE_TYPES:
        report.fact("gguf.file_type", _FILE_TYPES[file_type])
    tags = values.get("general.tags")
    if isinstance(tags, list):
        task = next((t for t in tags if t in _TASKS), None)
        if task:
            report.fact("task", task)

