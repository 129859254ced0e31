"""A small, bounded reader of the protocol-buffers wire format, for model files parsed without generated classes.

TensorFlow SavedModels and frozen graphs, and ONNX models, are single protobuf messages. This module reads the
wire format directly: a message is a sequence of fields, each a varint tag (field number and wire type) followed
by a varint, an 8-byte or 4-byte value, or a length-delimited payload. Length-delimited payloads are returned as
``memoryview`` slices of the input, so gigabytes of tensor data are skipped without being copied. Groups (wire
types 3 and 4, deprecated since proto2 and never written by TensorFlow or ONNX) are rejected. Every length is
checked against the buffer, and every malformed input raises one ``WireError`` naming the byte offset.

``scan_fields`` walks the top-level fields of a message through positional reads instead of a buffer, reading only
tags and lengths: format sniffers use it to judge a file's structure without mapping it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol

__all__ = [
    "I32", "I64", "LEN", "VARINT", "Field", "WireError", "as_view", "int64", "integer", "iter_fields", "payload",
    "read_varint", "repeated_fixed", "repeated_varints", "scan_fields", "text",
]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
"""Wire types."""
MAX_FIELD_NUMBER = (1 << 29) - 1
_RESERVED = range(19000, 20000)  # field numbers protobuf reserves for its own implementation
_WIRE_NAMES = {VARINT: "varint", I64: "64-bit", LEN: "length-delimited", I32: "32-bit"}
_MASK64 = (1 << 64) - 1
_ONE_BYTE_WIRES = frozenset({VARINT, I64, LEN, I32})


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message; ``offset`` is where reading failed."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at byte {offset}")
        self.reason = reason
        self.offset = offset


class Field(NamedTuple):
    """One field of a message (a NamedTuple rather than a dataclass: it is created once per field, millions of
    times for a large graph, and tuples are the cheapest immutable record Python has)."""

    number: int
    """Field number (1 .. 2**29-1)."""
    wire: int
    """Wire type (VARINT, I64, LEN or I32)."""
    value: int | memoryview
    """The integer (raw bits for I64/I32; unsigned for VARINT) or, for LEN, the payload without copying."""
    offset: int
    """Absolute byte offset: of the payload for LEN fields (sub-messages parse from there), of the tag otherwise."""


_make_field = tuple.__new__  # builds a Field without the generated __new__'s extra call: the hot path of parsing


class _Readable(Protocol):
    size: int

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``."""
        ...


def as_view(buffer: bytes | bytearray | memoryview) -> memoryview:
    """A flat byte view of ``buffer`` (memory maps and typed views are cast to unsigned bytes)."""
    view = memoryview(buffer)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def read_varint(data: memoryview | bytes, pos: int, base: int = 0) -> tuple[int, int]:
    """Decode the varint at ``pos``; returns (value, position after it). At most 10 bytes, at most 64 bits."""
    result = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise WireError("truncated varint", base + pos)
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result > _MASK64:
                raise WireError("varint exceeds 64 bits", base + pos - 1)
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", base + pos - 1)


def _tag(tag: int, offset: int) -> tuple[int, int]:
    """Split and validate a tag: (field number, wire type)."""
    number, wire = tag >> 3, tag & 7
    if number == 0 or number > MAX_FIELD_NUMBER or number in _RESERVED:
        raise WireError(f"invalid field number {number}", offset)
    if wire in (SGROUP, EGROUP):
        raise WireError(f"group (wire type {wire}) in field {number}", offset)
    if wire > I32:
        raise WireError(f"invalid wire type {wire} in field {number}", offset)
    return number, wire


def iter_fields(data: memoryview, base: int = 0) -> Iterator[Field]:
    """The fields of the message in ``data``, in order; ``base`` is the absolute offset of ``data[0]``.

    Raises ``WireError`` where the bytes stop being a valid message (the fields before it were yielded)."""
    pos = 0
    end = len(data)
    make = _make_field
    while pos < end:
        start = pos
        tag = data[pos]
        if 8 <= tag < 0x80 and tag & 7 in _ONE_BYTE_WIRES:  # fields 1-15: nearly every tag, decoded inline
            number, wire = tag >> 3, tag & 7
            pos += 1
        else:
            tag, pos = read_varint(data, pos, base)
            number, wire = _tag(tag, base + start)
        if wire == LEN:
            length = data[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = read_varint(data, pos, base)
            if length > end - pos:
                raise WireError(f"field {number} declares {length} bytes but {end - pos} remain", base + start)
            yield make(Field, (number, wire, data[pos : pos + length], base + pos))
            pos += length
            continue
        value: int
        if wire == VARINT:
            value = data[pos] if pos < end else 0x80
            if value < 0x80:
                pos += 1
            else:
                value, pos = read_varint(data, pos, base)
        else:
            width = 8 if wire == I64 else 4
            if width > end - pos:
                raise WireError(f"truncated {_WIRE_NAMES[wire]} field {number}", base + start)
            value = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        yield make(Field, (number, wire, value, base + start))


def scan_fields(source: _Readable, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The top-level fields of the message at ``source[start:end]`` without reading LEN payloads.

    Yields (number, wire, value, value_offset); for LEN, ``value`` is the payload length. Lazy: callers stop when
    they have seen enough. Ending normally means the fields tile ``start:end`` exactly; a malformed tag or a length
    past ``end`` raises ``WireError``."""
    window = b""
    window_at = start
    pos = start
    while pos < end:
        if pos + 20 > window_at + len(window):  # a tag and a varint take at most 15 bytes
            window_at, window = pos, source.read_at(pos, min(4096, end - pos))
        local = pos - window_at
        tag, after = read_varint(window, local, window_at)
        number, wire = _tag(tag, pos)
        if wire == VARINT:
            value, after = read_varint(window, after, window_at)
            yield number, wire, value, pos
            pos = window_at + after
        elif wire == LEN:
            value, after = read_varint(window, after, window_at)
            payload_at = window_at + after
            if value > end - payload_at:
                raise WireError(f"field {number} declares {value} bytes but {end - payload_at} remain", pos)
            yield number, wire, value, payload_at
            pos = payload_at + value
        else:
            width = 8 if wire == I64 else 4
            if window_at + after + width > end:
                raise WireError(f"truncated {_WIRE_NAMES[wire]} field {number}", pos)
            yield number, wire, int.from_bytes(window[after : after + width], "little"), pos
            pos = window_at + after + width


def payload(field: Field, what: str) -> memoryview:
    """The payload of a length-delimited field (a sub-message, bytes or a string)."""
    if not isinstance(field.value, memoryview):
        raise WireError(f"{what} (field {field.number}) is {_WIRE_NAMES[field.wire]}, expected length-delimited",
                        field.offset)
    return field.value


def integer(field: Field, what: str) -> int:
    """The unsigned value of a varint field."""
    if field.wire != VARINT or isinstance(field.value, memoryview):
        raise WireError(f"{what} (field {field.number}) is {_WIRE_NAMES[field.wire]}, expected varint", field.offset)
    return field.value


def int64(value: int) -> int:
    """A varint read as a signed 64-bit integer (two's complement, as int64/int32 fields are written)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def text(field: Field, what: str) -> str:
    """A string field decoded as UTF-8; ``WireError`` when it is not a string or not valid UTF-8."""
    data = payload(field, what)
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"{what} (field {field.number}) is not valid UTF-8", field.offset + exc.start) from None


def repeated_varints(field: Field, what: str) -> list[int]:
    """A repeated integer field's values from one field: a single varint, or a packed run of varints."""
    if field.wire == VARINT and isinstance(field.value, int):
        return [field.value]
    data = payload(field, what)
    values = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos, field.offset)
        values.append(value)
    return values


def repeated_fixed(field: Field, what: str, width: int) -> list[int]:
    """A repeated fixed-width field's raw values (``width`` 4 or 8): a single value, or a packed run."""
    if field.wire in (I32, I64) and isinstance(field.value, int):
        if field.wire != (I32 if width == 4 else I64):
            raise WireError(f"{what} (field {field.number}) has the wrong width", field.offset)
        return [field.value]
    data = payload(field, what)
    if len(data) % width:
        raise WireError(f"packed {what} (field {field.number}) is not a multiple of {width} bytes", field.offset)
    return [int.from_bytes(data[i : i + width], "little") for i in range(0, len(data), width)]
