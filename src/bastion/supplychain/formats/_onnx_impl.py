"""The analysis half of ``onnx``: the bounded ModelProto walk and its checks, imported only when an ONNX model
is analysed (``onnx`` keeps the analyser and its strict trial parse, ``looks_like_onnx``).
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.formats.protowire import (
    WireError,
    as_view,
    int64,
    integer,
    iter_fields,
    payload,
    repeated_varints,
    text,
)

__all__ = ["MAX_DEPTH", "MAX_NODES", "STANDARD_DOMAINS", "analyse"]

STANDARD_DOMAINS = frozenset({
    "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
    "com.microsoft", "com.microsoft.experimental", "com.microsoft.nchwc", "com.ms.internal.nhwc",
    "com.microsoft.dml", "org.pytorch.aten",
})
"""Operator domains implemented by ONNX itself and by onnxruntime's own kernels (its ``constants.h``: contrib ops,
layout-transformed NCHWc/NHWC ops, DirectML, and the ATen fallback of training builds). Any other domain needs a
custom-op library unless a function in the model defines the operator."""
MAX_DEPTH = 32
"""Subgraphs nested inside node attributes."""
MAX_NODES = 5_000_000
"""Nodes examined per model, subgraphs and functions included."""
_CHECK_EVERY = 1024
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_TYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
          9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128",
          16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
          21: "uint4", 22: "int4", 23: "float4e2m1"}
ESCAPES, MISSING, CUSTOM_DOMAIN = "BST-ONX-001", "BST-ONX-002", "BST-ONX-003"
ORT_MEMORY_TAG = "*/_ORT_MEM_ADDR_/*"
"""onnxruntime's location for data already in memory: the tensor's ``offset`` is then read as a raw address."""


class _Bound(Exception):
    """A limit of the scan was reached; the message says which."""


@dataclass(frozen=True)
class _External:
    """One tensor whose data lives in an external file."""

    location: str | None
    tensor: str
    where: str
    start: int | None
    length: int | None
    offset: int
    """Where the tensor is in the model file."""


@dataclass
class _Model:
    """What the walk collected."""

    info: dict[str, object] = field(default_factory=dict)
    opsets: dict[str, int] = field(default_factory=dict)
    ops: dict[str, list[tuple[str, str, str, int]]] = field(default_factory=dict)
    """Domain -> (op_type, node name, where, offset) of every node."""
    functions: set[tuple[str, str]] = field(default_factory=set)
    externals: list[_External] = field(default_factory=list)
    elements: dict[int, int] = field(default_factory=dict)
    """Initializer element counts by data type."""
    tensors: int = 0
    nodes: int = 0


class _Walker:
    """Walks a ModelProto into a ``_Model``, bounded by depth, node count and deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.model = _Model()

    def walk(self, data: memoryview) -> None:
        info = self.model.info
        for f in iter_fields(data):
            n = f.number
            if n == 1:
                info["onnx.ir_version"] = int64(integer(f, "ir_version"))
            elif n in (2, 3, 4):
                info[{2: "onnx.producer", 3: "onnx.producer_version", 4: "onnx.domain"}[n]] = text(f, "model info")
            elif n == 5:
                info["onnx.model_version"] = int64(integer(f, "model_version"))
            elif n == 7:
                self.graph(payload(f, "graph"), f.offset, 0, "the main graph")
            elif n == 8:
                self._opset(payload(f, "opset_import"), f.offset)
            elif n == 20:
                for g in iter_fields(payload(f, "training_info"), f.offset):
                    if g.number in (1, 2):
                        self.graph(payload(g, "training graph"), g.offset, 1, "a training graph")
            elif n == 25:
                self._function(payload(f, "function"), f.offset)

    def _opset(self, data: memoryview, base: int) -> None:
        domain, version = "", 0
        for f in iter_fields(data, base):
            if f.number == 1:
                domain = text(f, "opset domain")
            elif f.number == 2:
                version = int64(integer(f, "opset version"))
        self.model.opsets[domain or "ai.onnx"] = version

    def graph(self, data: memoryview, base: int, depth: int, where: str) -> None:
        if depth > MAX_DEPTH:
            raise _Bound(f"subgraphs nested deeper than {MAX_DEPTH}")
        for f in iter_fields(data, base):
            if f.number == 1:
                self._node(payload(f, "node"), f.offset, depth, where)
            elif f.number == 5:
                self._tensor(payload(f, "initializer"), f.offset, where, weight=True)
            elif f.number == 15:
                self._sparse(payload(f, "sparse_initializer"), f.offset, where, weight=True)

    def _node(self, data: memoryview, base: int, depth: int, where: str) -> None:
        model = self.model
        model.nodes += 1
        if model.nodes % _CHECK_EVERY == 0:
            if model.nodes > MAX_NODES:
                raise _Bound(f"more than {MAX_NODES} nodes")
            if time.monotonic() > self.deadline:
                raise _Bound("time limit reached while reading the graph")
        name = op = domain = ""
        for f in iter_fields(data, base):
            if f.number == 3:
                name = text(f, "node name")
            elif f.number == 4:
                op = text(f, "op_type")
            elif f.number == 7:
                domain = text(f, "domain")
            elif f.number == 5:
                self._attribute(payload(f, "attribute"), f.offset, depth, f"node {_shown(name or op)}")
        model.ops.setdefault(domain, []).append((op, name, where, base))

    def _attribute(self, data: memoryview, base: int, depth: int, where: str) -> None:
        name = ""
        for f in iter_fields(data, base):
            n = f.number
            if n == 1:
                name = text(f, "attribute name")
            elif n in (5, 10):
                self._tensor(payload(f, "attribute tensor"), f.offset, f"{where} attribute {name}", weight=False)
            elif n in (6, 11):
                self.graph(payload(f, "attribute graph"), f.offset, depth + 1, f"{where} attribute {name}")
            elif n in (22, 23):
                self._sparse(payload(f, "attribute sparse tensor"), f.offset, f"{where} attribute {name}",
                             weight=False)

    def _tensor(self, data: memoryview, base: int, where: str, weight: bool) -> tuple[int, list[int]]:
        """Record a TensorProto's external data and, for weights, its element count; returns (type, dims)."""
        dims: list[int] = []
        dtype = location = 0
        name = ""
        entries: dict[str, str] = {}
        for f in iter_fields(data, base):
            n = f.number
            if n == 1:
                dims.extend(int64(v) for v in repeated_varints(f, "dims"))
            elif n == 2:
                dtype = integer(f, "data_type")
            elif n == 8:
                name = text(f, "tensor name")
            elif n == 13:
                key, value = _entry(payload(f, "external_data"), f.offset)
                entries.setdefault(key, value)
            elif n == 14:
                location = integer(f, "data_location")
        if weight:
            self._count(dtype, dims)
        if location == _EXTERNAL:
            self.model.externals.append(_External(entries.get("location"), name, where,
                                                  _number(entries.get("offset")), _number(entries.get("length")),
                                                  base))
        return dtype, dims

    def _sparse(self, data: memoryview, base: int, where: str, weight: bool) -> None:
        dtype = 0
        dims: list[int] = []
        for f in iter_fields(data, base):
            if f.number in (1, 2):  # values, indices
                kind = self._tensor(payload(f, "sparse tensor part"), f.offset, where, weight=False)[0]
                dtype = kind if f.number == 1 else dtype
            elif f.number == 3:
                dims.extend(int64(v) for v in repeated_varints(f, "dims"))
        if weight:
            self._count(dtype, dims)

    def _count(self, dtype: int, dims: list[int]) -> None:
        if any(d < 0 for d in dims):
            return
        elements = 1
        for d in dims:
            elements *= d
        if elements < 1 << 63:
            self.model.tensors += 1
            self.model.elements[dtype] = self.model.elements.get(dtype, 0) + elements

    def _function(self, data: memoryview, base: int) -> None:
        name = domain = ""
        for f in iter_fields(data, base):
            if f.number == 1:
                name = text(f, "function name")
            elif f.number == 10:
                domain = text(f, "function domain")
            elif f.number == 7:
                self._node(payload(f, "function node"), f.offset, 1, f"function {_shown(name)}")
        self.model.functions.add((domain, name))


def _entry(data: memoryview, base: int) -> tuple[str, str]:
    """A StringStringEntryProto as (key, value)."""
    key = value = ""
    for f in iter_fields(data, base):
        if f.number == 1:
            key = text(f, "external_data key")
        elif f.number == 2:
            value = text(f, "external_data value")
    return key, value


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _shown(raw: str, limit: int = 160) -> str:
    return repr(raw if len(raw) <= limit else raw[:limit] + "...")


def analyse(blob: Blob, report: Report) -> None:
    """Walk every graph and function; report escaping external data and custom operator domains."""
    walker = _Walker(report.deadline)
    report.fact("format", "onnx")
    report.fact("framework", "onnx")
    try:
        walker.walk(as_view(blob.view()))
    except WireError as exc:
        report.not_examined(blob.member, f"malformed ONNX model: {exc}; the rest was not examined")
    except _Bound as exc:
        report.not_examined(blob.member, f"ONNX model not examined completely: {exc}")
    model = walker.model
    _report_external(model, blob, report)
    _report_domains(model, blob, report)
    _facts(model, report)


def _escape(location: str) -> str | None:
    """Why ``location`` leaves the model's folder whatever the file system holds, or None."""
    normal = location.replace("\\", "/")
    if location == ORT_MEMORY_TAG:
        return "is onnxruntime's in-memory tag: the runtime reads the tensor from the raw memory address in its offset"
    if "\x00" in location:
        return "contains a NUL byte"
    if normal.startswith("//"):
        return "is a UNC network path (Windows connects to that host to read it)"
    if normal.startswith("/"):
        return "is an absolute path"
    if re.match(r"[A-Za-z]:", normal):
        return "is a Windows drive path"
    if ".." in normal.split("/"):
        return "climbs out of the model's folder with '..'"
    return None


def _resolve(location: str, model_file: Path) -> _Problem | None:
    """Check a relative location against the file system."""
    folder = model_file.parent
    target = folder / location
    try:
        info = os.stat(target)
    except (OSError, ValueError):
        return _Problem(MISSING, "ONNX external data file is missing", "does not exist next to the model")
    real = os.path.realpath(target)
    # The model's own folder, and the folder its file really lives in (a Hugging Face cache links both files to
    # ../../blobs): data that resolves inside either belongs to the model.
    roots = {os.path.realpath(folder), os.path.dirname(os.path.realpath(model_file))}
    if not any(os.path.commonpath([real, root]) == root for root in roots):
        return _Problem(ESCAPES, "ONNX external data file links outside the model folder",
                        f"resolves through a symbolic link to {real}, outside the model's folder")
    if not stat.S_ISREG(info.st_mode):
        return _Problem(MISSING, "ONNX external data file is not a regular file", "is not a regular file")
    return None


def _short(ref: _External, model_file: Path) -> bool:
    if ref.location is None or ref.length is None:
        return False
    try:
        size = os.stat(model_file.parent / ref.location).st_size
    except (OSError, ValueError):
        return False
    return (ref.start or 0) + ref.length > size


@dataclass(frozen=True)
class _Problem:
    rule_id: str
    title: str
    """The finding's title, before the location."""
    why: str
    """For the detail: why, about the first tensor found."""


def _report_external(model: _Model, blob: Blob, report: Report) -> None:
    """One finding per rule and location, naming the tensors that use it."""
    grouped: dict[tuple[str, str], tuple[_Problem, list[_External]]] = {}
    for ref in model.externals:
        problem = _judge_external(ref, blob)
        if problem is not None:
            grouped.setdefault((problem.rule_id, ref.location or ""), (problem, []))[1].append(ref)
    for (rule_id, location), (problem, refs) in grouped.items():
        tensors = ", ".join(f"{_shown(r.tensor)} in {r.where}" for r in refs[:5])
        more = f" and {len(refs) - 5} more" if len(refs) > 5 else ""
        plural = "s" if len(refs) > 1 else ""
        report.add(rule_id, f"{problem.title}: {_shown(location)}",
                   f"Tensor{plural} {tensors}{more} keep{'' if plural else 's'} data in the external file "
                   f"{_shown(location)}, which {problem.why}. {_EXPLAIN[rule_id]}",
                   blob.member, refs[0].offset, evidence=f"location={location}")


def _judge_external(ref: _External, blob: Blob) -> _Problem | None:
    if not ref.location:
        return _Problem(MISSING, "ONNX external data has no location",
                        "is empty: the tensor declares external data without a location")
    why = _escape(ref.location)
    if why is not None:
        return _Problem(ESCAPES, "ONNX external data location escapes the model folder", why)
    if blob.fs_path is None or blob.member is not None:
        return None  # inside an archive: nothing to resolve against
    found = _resolve(ref.location, blob.fs_path)
    if found is None and _short(ref, blob.fs_path):
        return _Problem(MISSING, "ONNX external data file is shorter than declared",
                        f"is shorter than the {ref.start or 0} + {ref.length} bytes the first tensor declares")
    return found


_EXPLAIN = {
    ESCAPES: "onnx and onnxruntime read external data when the model is loaded, so the model pulls that file into "
             "its weights and can return it in its outputs; tools that re-save the model write to it.",
    MISSING: "Loading the model fails or reads something other than what was published; what it would read cannot "
             "be verified.",
}


def _report_domains(model: _Model, blob: Blob, report: Report) -> None:
    """One finding per operator domain that neither ONNX, onnxruntime nor a model-local function provides."""
    for domain, nodes in model.ops.items():
        if domain in STANDARD_DOMAINS:
            continue
        custom = [n for n in nodes if (domain, n[0]) not in model.functions]
        if not custom:
            continue
        counts: dict[str, int] = {}
        for op, *_ in custom:
            counts[op] = counts.get(op, 0) + 1
        ops = ", ".join(f"{op} x{count}" for op, count in list(counts.items())[:10])
        op, name, where, offset = custom[0]
        version = model.opsets.get(domain)
        declared = f" (opset version {version} imported)" if version is not None else " (no opset imported)"
        report.add(CUSTOM_DOMAIN, f"ONNX model uses custom operator domain {_shown(domain)}: {_shown(op)}",
                   f"{len(custom)} node{'s' if len(custom) > 1 else ''} use domain {_shown(domain)}{declared}: "
                   f"{ops}; the first is node {_shown(name)} in {where}. Running them needs a custom-op library "
                   "registered into the runtime: native code from outside the model, to be trusted separately.",
                   blob.member, offset, evidence=f"{domain}::{op}")


def _facts(model: _Model, report: Report) -> None:
    for key, value in model.info.items():
        report.fact(key, value)
    if model.opsets:
        report.fact("onnx.opsets", dict(sorted(model.opsets.items())))
    report.fact("onnx.nodes", model.nodes)
    if model.functions:
        report.fact("onnx.functions", len(model.functions))
    locations = sorted({r.location for r in model.externals if r.location})
    if locations:
        report.fact("onnx.external_data", locations[:64])
    if model.tensors:
        report.fact("parameters", sum(model.elements.values()))
        report.fact("tensors", model.tensors)
        dominant = max(model.elements, key=lambda k: model.elements[k])
        report.fact("dtype", _TYPES.get(dominant, f"onnx type {dominant}"))

