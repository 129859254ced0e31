"""The protobuf wire-format reader: values, offsets, bounds and errors, checked against messages that the
``protobuf`` package (through ``onnx``'s generated classes) serialises."""

from __future__ import annotations

import struct

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protobuf_samples import fld, msg, varint

from bastion.supplychain.formats.protowire import (
    I32,
    I64,
    LEN,
    VARINT,
    Field,
    WireError,
    as_view,
    int64,
    integer,
    iter_fields,
    payload,
    read_varint,
    repeated_fixed,
    repeated_varints,
    scan_fields,
    text,
)
from bastion.supplychain.pickle import BufferSource

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fields(data: bytes, base: int = 0) -> list[Field]:
    return list(iter_fields(memoryview(data), base))


def error(data: bytes) -> WireError:
    with pytest.raises(WireError) as caught:
        fields(data)
    return caught.value


# ---- varints ----
@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**31, 2**63, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    encoded = varint(value)
    assert read_varint(encoded, 0) == (value, len(encoded))


def test_varint_bounds() -> None:
    with pytest.raises(WireError, match="truncated varint at byte 12"):
        read_varint(b"\x80\x80", 0, base=10)
    with pytest.raises(WireError, match="exceeds 64 bits"):
        read_varint(b"\xff" * 9 + b"\x02", 0)
    with pytest.raises(WireError, match="longer than 10 bytes"):
        read_varint(b"\x80" * 10 + b"\x00", 0)
    assert read_varint(b"\x80\x80\x00", 0) == (0, 3)  # non-minimal encodings are valid protobuf


def test_int64_reads_twos_complement() -> None:
    assert int64(2**64 - 1) == -1 and int64(5) == 5 and int64(2**63) == -(2**63)


# ---- against the protobuf package ----
def test_fields_match_a_protobuf_serialised_message() -> None:
    tensor = onnx.TensorProto(dims=[3, 4], data_type=7, name="w", int64_data=[-1, 0, 2**40],
                              float_data=[1.5, -2.0], double_data=[0.25])
    data = tensor.SerializeToString()
    parsed = fields(data)
    assert [f.number for f in parsed] == [1, 1, 2, 4, 7, 8, 10]  # proto2: dims are not packed, the rest are
    dims = [v for f in parsed if f.number == 1 for v in repeated_varints(f, "dims")]
    assert dims == [3, 4]
    [int64_field] = [f for f in parsed if f.number == 7]
    assert [int64(v) for v in repeated_varints(int64_field, "int64_data")] == [-1, 0, 2**40]
    [floats] = [f for f in parsed if f.number == 4]
    assert [struct.unpack("<f", v.to_bytes(4, "little"))[0] for v in repeated_fixed(floats, "f", 4)] == [1.5, -2.0]
    [name] = [f for f in parsed if f.number == 8]
    assert text(name, "name") == "w" and data[name.offset : name.offset + 1] == b"w"


def test_nested_messages_keep_absolute_offsets() -> None:
    model = onnx.ModelProto(ir_version=9, producer_name="p")
    model.graph.name = "graph-name"
    data = model.SerializeToString()
    graph = next(f for f in fields(data) if f.number == 7)
    name = next(f for f in iter_fields(payload(graph, "graph"), graph.offset) if f.number == 2)
    assert data[name.offset : name.offset + 10] == b"graph-name"


def test_length_delimited_values_are_views_not_copies() -> None:
    big = b"\x00" * 1_000_000
    data = bytearray(fld(9, big) + fld(1, 7))
    view = memoryview(data)
    first, second = iter_fields(view)
    assert isinstance(first.value, memoryview) and first.value.obj is data and len(first.value) == len(big)
    assert (second.number, second.wire, second.value) == (1, VARINT, 7)


def test_fixed_width_fields() -> None:
    data = bytes([1 << 3 | I64]) + (2**64 - 2).to_bytes(8, "little") + bytes([2 << 3 | I32]) + b"\x01\0\0\0"
    first, second = fields(data)
    assert (first.wire, int64(int(first.value))) == (I64, -2) and (second.wire, second.value) == (I32, 1)
    assert repeated_fixed(first, "x", 8) == [2**64 - 2]
    with pytest.raises(WireError, match="wrong width"):
        repeated_fixed(first, "x", 4)
    with pytest.raises(WireError, match="multiple of 4"):
        repeated_fixed(fields(fld(3, b"\0\0\0"))[0], "x", 4)


def test_as_view_flattens_typed_views() -> None:
    view = as_view(memoryview(bytearray(8)).cast("I"))
    assert view.format == "B" and len(view) == 8


# ---- malformed input ----
def test_groups_are_rejected() -> None:
    assert "group (wire type 3)" in error(msg(fld(1, 1), bytes([2 << 3 | 3]), bytes([2 << 3 | 4]))).reason
    assert error(b"\x08\x01" + bytes([5 << 3 | 4])).offset == 2


@pytest.mark.parametrize(("data", "reason"), [
    (bytes([1 << 3 | 6]), "invalid wire type 6"),
    (bytes([1 << 3 | 7]), "invalid wire type 7"),
    (b"\x00\x01", "invalid field number 0"),
    (varint(19000 << 3), "invalid field number 19000"),
    (b"\x0a\x05abc", "declares 5 bytes but 3 remain"),
    (b"\x09\x01\x02", "truncated 64-bit field 1"),
    (b"\x0d\x01", "truncated 32-bit field 1"),
    (b"\x08", "truncated varint"),
    (b"\x08\x80", "truncated varint"),
])
def test_malformed_messages_raise_with_offset(data: bytes, reason: str) -> None:
    caught = error(b"\x10\x01" + data)
    assert reason in caught.reason and caught.offset >= 2


def test_accessors_check_wire_types() -> None:
    number, string = fields(fld(1, 5) + fld(2, b"\xff\xfe"))
    with pytest.raises(WireError, match="expected length-delimited"):
        payload(number, "x")
    with pytest.raises(WireError, match="expected varint"):
        integer(string, "x")
    with pytest.raises(WireError, match="not valid UTF-8") as caught:
        text(string, "name")
    assert caught.value.offset == string.offset
    assert repeated_varints(number, "x") == [5]
    with pytest.raises(WireError, match="truncated varint"):
        repeated_varints(fields(fld(3, b"\x80"))[0], "x")


# ---- scanning through positional reads ----
def test_scan_matches_iteration_across_window_refills() -> None:
    data = b"".join(fld(2, b"x" * (i % 50)) + fld(1, i * 1000) for i in range(400))  # ~ 12 KiB
    scanned = list(scan_fields(BufferSource(data), 0, len(data)))
    parsed = [(f.number, f.wire, len(f.value) if isinstance(f.value, memoryview) else f.value, f.offset)
              for f in fields(data)]
    assert scanned == parsed


def test_scan_checks_lengths_against_the_end() -> None:
    data = fld(1, b"abcdef")
    with pytest.raises(WireError, match="declares 6 bytes"):
        list(scan_fields(BufferSource(data), 0, len(data) - 1))
    assert list(scan_fields(BufferSource(b"\x08\x01" + data), 2, 2 + len(data))) == [(1, LEN, 6, 4)]


# ---- fuzzing ----
@FUZZ
@given(st.binary(max_size=512), st.integers(0, 1 << 40))
def test_fuzz_only_wire_errors(data: bytes, base: int) -> None:
    try:
        parsed = fields(data, base)
    except WireError as exc:
        assert base <= exc.offset <= base + len(data)
        parsed = None
    try:
        scanned = list(scan_fields(BufferSource(data), 0, len(data)))
    except WireError:
        scanned = None
    assert (parsed is None) == (scanned is None)
    if parsed is not None:
        for f in parsed:
            if isinstance(f.value, memoryview):
                assert data[f.offset - base : f.offset - base + len(f.value)] == f.value
