"""A tiny protobuf encoder, TensorFlow graph builders and analyser stubs for the tests (TensorFlow is not installed).

Field numbers follow tensorflow/core/protobuf/{saved_model,meta_graph,saver}.proto and
tensorflow/core/framework/{graph,node_def,function,attr_value,tensor,op_def}.proto. ``keras_like_saved_model``
mirrors the layout ``tf.saved_model.save`` writes for a Keras/tf.Module model in TF 2.15: the saver's
``__inference__traced_save_N``/``__inference__traced_restore_N`` functions called from the graph nodes the
``saver_def`` names, and the serving function reached through a signature wrapper.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bastion.config import Limits
from bastion.findings import Severity
from bastion.supplychain.formats import Blob
from bastion.supplychain.pickle import BufferSource
from bastion.taxonomy import rule

Value = int | bytes | str


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fld(number: int, value: Value) -> bytes:
    """One field: an int as a varint, bytes or str as length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def msg(*parts: bytes) -> bytes:
    return b"".join(parts)


def rep(number: int, values: Iterable[Value]) -> bytes:
    return b"".join(fld(number, v) for v in values)


# ---- AttrValue ----
def av_s(value: str | bytes) -> bytes:
    return fld(2, value)


def av_list_s(values: Sequence[str]) -> bytes:
    return fld(1, rep(2, values))


def av_func(name: str) -> bytes:
    return fld(10, fld(1, name))


def av_type(dtype: int) -> bytes:
    return fld(6, dtype)


def av_string_tensor(*values: str | bytes) -> bytes:
    """A DT_STRING tensor (dtype 7) holding ``values``."""
    shape = fld(2, fld(2, fld(1, len(values)))) if len(values) != 1 else fld(2, b"")
    return fld(8, msg(fld(1, 7), shape, rep(8, values)))


def av_float_tensor(*dims: int, dtype: int = 1) -> bytes:
    """A floating-point tensor of shape ``dims`` (content omitted: only dtype and shape matter here)."""
    return fld(8, msg(fld(1, dtype), fld(2, rep(2, [fld(1, d) for d in dims]))))


def node(name: str, op: str, inputs: Sequence[str] = (), attrs: Mapping[str, bytes] | None = None,
         device: str = "") -> bytes:
    entries = b"".join(fld(5, msg(fld(1, k), fld(2, v))) for k, v in (attrs or {}).items())
    return msg(fld(1, name), fld(2, op), rep(3, inputs), fld(4, device) if device else b"", entries)


def const(name: str, value: str) -> bytes:
    return node(name, "Const", attrs={"value": av_string_tensor(value), "dtype": av_type(7)})


def call(name: str, function: str, inputs: Sequence[str] = (), op: str = "StatefulPartitionedCall") -> bytes:
    return node(name, op, inputs, {"f": av_func(function)})


def function(name: str, args: Sequence[str], nodes: Sequence[bytes]) -> bytes:
    signature = msg(fld(1, name), *(fld(2, fld(1, a)) for a in args))
    return msg(fld(1, signature), rep(3, nodes))


def graph(nodes: Sequence[bytes], functions: Sequence[bytes] = (), producer: int = 1645) -> bytes:
    library = fld(2, rep(1, functions)) if functions else b""
    return msg(rep(1, nodes), library, fld(4, fld(1, producer)))


def tensor_info(name: str) -> bytes:
    return fld(1, name)


def signature(key: str, outputs: Mapping[str, str], inputs: Mapping[str, str] | None = None) -> bytes:
    body = msg(*(fld(1, msg(fld(1, k), fld(2, tensor_info(v)))) for k, v in (inputs or {}).items()),
               *(fld(2, msg(fld(1, k), fld(2, tensor_info(v)))) for k, v in outputs.items()),
               fld(3, "tensorflow/serving/predict"))
    return msg(fld(1, key), fld(2, body))


def meta_graph(graph_def: bytes, tags: Sequence[str] = ("serve",), version: str = "2.15.0",
               saver: Sequence[str] | None = None, signatures: Sequence[bytes] = (),
               collections: Mapping[str, Sequence[str]] | None = None, assets: Mapping[str, str] | None = None
               ) -> bytes:
    info = fld(1, msg(rep(4, tags), fld(5, version)))
    saver_def = fld(3, msg(*(fld(i + 1, n) for i, n in enumerate(saver)), fld(7, 2))) if saver else b""
    collection_defs = b"".join(fld(4, msg(fld(1, k), fld(2, fld(1, rep(1, v)))))
                               for k, v in (collections or {}).items())
    asset_defs = b"".join(fld(6, msg(fld(1, tensor_info(t)), fld(2, f))) for t, f in (assets or {}).items())
    return msg(info, fld(2, graph_def), saver_def, collection_defs, rep(5, signatures), asset_defs)


def saved_model(*metas: bytes, schema: int = 1) -> bytes:
    return msg(fld(1, schema), rep(2, metas))


# ---- realistic samples ----
def traced_save(name: str = "__inference__traced_save_64") -> bytes:
    """The TF2 saver's save function: SaveV2 and MergeV2Checkpoints at the path fed in ``file_prefix``."""
    return function(name, ["file_prefix", "read_variable", "savev2_const"], [
        node("StaticRegexFullMatch", "StaticRegexFullMatch", ["file_prefix"], {"pattern": av_s("^s3://.*")}),
        const("Const", ".part"),
        const("Const_1", "_temp/part"),
        node("Select", "Select", ["StaticRegexFullMatch:output:0", "Const:output:0", "Const_1:output:0"]),
        node("StringJoin", "StringJoin", ["file_prefix", "Select:output:0"]),
        node("num_shards", "Const", attrs={"dtype": av_type(3)}),
        node("ShardedFilename/shard", "Const", attrs={"dtype": av_type(3)}),
        node("ShardedFilename", "ShardedFilename",
             ["StringJoin:output:0", "ShardedFilename/shard:output:0", "num_shards:output:0"]),
        node("Read/ReadVariableOp", "ReadVariableOp", ["read_variable"]),
        node("SaveV2/tensor_names", "Const", attrs={"value": av_string_tensor("a/.ATTRIBUTES/VARIABLE_VALUE")}),
        node("SaveV2/shape_and_slices", "Const", attrs={"value": av_string_tensor("")}),
        node("SaveV2", "SaveV2", ["ShardedFilename:filename:0", "SaveV2/tensor_names:output:0",
                                  "SaveV2/shape_and_slices:output:0", "Read/ReadVariableOp:value:0",
                                  "savev2_const"]),
        node("MergeV2Checkpoints/checkpoint_prefixes", "Pack", ["ShardedFilename:filename:0", "^SaveV2"]),
        node("MergeV2Checkpoints", "MergeV2Checkpoints",
             ["MergeV2Checkpoints/checkpoint_prefixes:output:0", "file_prefix"]),
        node("Identity", "Identity", ["file_prefix", "^MergeV2Checkpoints"]),
    ])


def traced_restore(name: str = "__inference__traced_restore_79") -> bytes:
    return function(name, ["file_prefix", "assignvariableop_variable"], [
        node("RestoreV2/tensor_names", "Const", attrs={"value": av_string_tensor("a/.ATTRIBUTES/VARIABLE_VALUE")}),
        node("RestoreV2/shape_and_slices", "Const", attrs={"value": av_string_tensor("")}),
        node("RestoreV2", "RestoreV2", ["file_prefix", "RestoreV2/tensor_names:output:0",
                                        "RestoreV2/shape_and_slices:output:0"]),
        node("Identity", "Identity", ["RestoreV2:tensors:0"]),
        node("AssignVariableOp", "AssignVariableOp", ["assignvariableop_variable", "Identity:output:0"]),
        node("Identity_1", "Identity", ["file_prefix", "^AssignVariableOp"]),
    ])


def serving_call(extra: Sequence[bytes] = (), name: str = "__inference___call___32") -> bytes:
    """The model's forward function (y = a * x + b), with ``extra`` nodes added to it."""
    return function(name, ["x", "readvariableop_resource"], [
        node("ReadVariableOp", "ReadVariableOp", ["readvariableop_resource"]),
        node("mul", "Mul", ["ReadVariableOp:value:0", "x"]),
        node("add", "AddV2", ["mul:z:0", "ReadVariableOp:value:0"]),
        *extra,
        node("Identity", "Identity", ["add:z:0"]),
    ])


def keras_like_saved_model(call_extra: Sequence[bytes] = (), functions: Sequence[bytes] = (),
                           graph_extra: Sequence[bytes] = (), save: bytes | None = None,
                           signature_outputs: Mapping[str, str] | None = None,
                           assets: Mapping[str, str] | None = None) -> bytes:
    """A TF2 SavedModel as ``tf.saved_model.save`` writes it: saver functions, a signature wrapper, a main op."""
    nodes = [
        node("Variable", "VarHandleOp", attrs={"dtype": av_type(1), "shared_name": av_s("Variable")}),
        node("NoOp", "NoOp"),
        const("Const", "object graph proto"),
        node("saver_filename", "Placeholder", attrs={"dtype": av_type(7)}),
        call("StatefulPartitionedCall", "__inference__traced_save_64", ["saver_filename", "Variable", "Const"]),
        call("StatefulPartitionedCall_1", "__inference__traced_restore_79", ["saver_filename", "Variable"]),
        node("serving_default_x", "Placeholder", attrs={"dtype": av_type(1)}),
        call("StatefulPartitionedCall_2", "__inference_signature_wrapper_45", ["serving_default_x", "Variable"]),
        *graph_extra,
    ]
    library = [
        save if save is not None else traced_save(),
        traced_restore(),
        serving_call(call_extra),
        function("__inference_signature_wrapper_45", ["x", "unknown"], [
            call("StatefulPartitionedCall", "__inference___call___32", ["x", "unknown"]),
            node("Identity", "Identity", ["StatefulPartitionedCall:output:0"]),
        ]),
        *functions,
    ]
    outputs = signature_outputs or {"output_0": "StatefulPartitionedCall_2:0"}
    meta = meta_graph(
        graph(nodes, library),
        saver=["saver_filename:0", "StatefulPartitionedCall:0", "StatefulPartitionedCall_1"],
        signatures=[signature("serving_default", outputs, {"x": "serving_default_x:0"}),
                    signature("__saved_model_init_op", {"__saved_model_init_op": "NoOp"})],
        collections={"saved_model_main_op": ["NoOp"]},
        assets=assets,
    )
    return saved_model(meta)


def tf1_saver_nodes(scope: str = "save") -> list[bytes]:
    """The nodes ``tf.compat.v1.train.Saver(sharded=True)`` adds under its name scope."""
    s = scope
    return [
        const(f"{s}/filename/input", "model"),
        node(f"{s}/filename", "PlaceholderWithDefault", [f"{s}/filename/input"]),
        node(f"{s}/Const", "PlaceholderWithDefault", [f"{s}/filename"]),
        const(f"{s}/StringJoin/inputs_1", "_temp_0123/part"),
        node(f"{s}/StringJoin", "StringJoin", [f"{s}/Const", f"{s}/StringJoin/inputs_1"]),
        node(f"{s}/num_shards", "Const"),
        node(f"{s}/ShardedFilename/shard", "Const"),
        node(f"{s}/ShardedFilename", "ShardedFilename",
             [f"{s}/StringJoin", f"{s}/ShardedFilename/shard", f"{s}/num_shards"]),
        node(f"{s}/SaveV2/tensor_names", "Const", attrs={"value": av_string_tensor("dense/kernel")}),
        node(f"{s}/SaveV2/shape_and_slices", "Const", attrs={"value": av_string_tensor("")}),
        node(f"{s}/SaveV2", "SaveV2", [f"{s}/ShardedFilename", f"{s}/SaveV2/tensor_names",
                                       f"{s}/SaveV2/shape_and_slices", "dense/kernel"]),
        node(f"{s}/control_dependency", "Identity", [f"{s}/ShardedFilename", f"^{s}/SaveV2"]),
        node(f"{s}/MergeV2Checkpoints/checkpoint_prefixes", "Pack",
             [f"{s}/ShardedFilename", f"^{s}/control_dependency"]),
        node(f"{s}/MergeV2Checkpoints", "MergeV2Checkpoints",
             [f"{s}/MergeV2Checkpoints/checkpoint_prefixes", f"{s}/Const"]),
        node(f"{s}/Identity", "Identity", [f"{s}/Const", f"^{s}/MergeV2Checkpoints", f"^{s}/control_dependency"]),
        node(f"{s}/RestoreV2/tensor_names", "Const", attrs={"value": av_string_tensor("dense/kernel")}),
        node(f"{s}/RestoreV2/shape_and_slices", "Const", attrs={"value": av_string_tensor("")}),
        node(f"{s}/RestoreV2", "RestoreV2", [f"{s}/Const", f"{s}/RestoreV2/tensor_names",
                                             f"{s}/RestoreV2/shape_and_slices"]),
        node(f"{s}/Assign", "Assign", ["dense/kernel", f"{s}/RestoreV2"]),
        node(f"{s}/restore_shard", "NoOp", [f"^{s}/Assign"]),
        node(f"{s}/restore_all", "NoOp", [f"^{s}/restore_shard"]),
    ]


def tf1_estimator_saved_model(extra: Sequence[bytes] = (), output: str = "MatMul:0") -> bytes:
    """A TF1 SavedModel (Estimator export): a dense layer, a sharded V2 saver under save/, one signature."""
    nodes = [
        node("input_example_tensor", "Placeholder", attrs={"dtype": av_type(7)}),
        node("x", "Placeholder", attrs={"dtype": av_type(1)}),
        node("dense/kernel", "VariableV2", attrs={"dtype": av_type(1)}),
        node("dense/kernel/read", "Identity", ["dense/kernel"]),
        node("MatMul", "MatMul", ["x", "dense/kernel/read"]),
        node("init_all_tables", "NoOp"),
        node("group_deps", "NoOp", ["^init_all_tables"]),
        *tf1_saver_nodes(),
        *extra,
    ]
    meta = meta_graph(
        graph(nodes, producer=27), version="1.15.5",
        saver=["save/Const:0", "save/Identity:0", "save/restore_all"],
        signatures=[signature("serving_default", {"y": output}, {"x": "x:0"})],
        collections={"saved_model_main_op": ["group_deps"], "trainable_variables": []},
    )
    return saved_model(meta)


def frozen_graph(extra: Sequence[bytes] = ()) -> bytes:
    """A frozen inference graph: weights as Const nodes, no saver."""
    return graph([
        node("input", "Placeholder", attrs={"dtype": av_type(1)}),
        node("dense/kernel", "Const", attrs={"value": av_float_tensor(784, 128), "dtype": av_type(1)}),
        node("dense/bias", "Const", attrs={"value": av_float_tensor(128), "dtype": av_type(1)}),
        node("dense/MatMul", "MatMul", ["input", "dense/kernel"]),
        node("dense/BiasAdd", "BiasAdd", ["dense/MatMul", "dense/bias"]),
        node("scale", "Const", attrs={"value": av_float_tensor(), "dtype": av_type(1)}),
        node("output", "Mul", ["dense/BiasAdd", "scale"]),
        *extra,
    ], producer=1645)


# ---- running an analyser on bytes ----
def blob_of(data: bytes, name: str = "model.pb", fs_path: Path | None = None, member: str | None = None) -> Blob:
    """A Blob over ``data`` as ModelFileCheck builds one."""
    return Blob(BufferSource(data), len(data), data[:512], member, name, fs_path, lambda: memoryview(data))


@dataclass(frozen=True)
class Reported:
    rule_id: str
    severity: Severity
    title: str
    detail: str
    member: str | None
    offset: int | None
    evidence: str


@dataclass
class FakeReport:
    """A ``Report`` that records what the analyser says; rule ids are checked against the catalogue."""

    deadline: float = field(default_factory=lambda: time.monotonic() + 60)
    limits: Limits = field(default_factory=Limits)
    findings: list[Reported] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    nested_members: list[str] = field(default_factory=list)

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        entry = rule(rule_id)
        self.findings.append(Reported(rule_id, severity or entry.severity, title, detail, member, offset, evidence))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(why)

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        self.nested_members.append(member)

    def rules(self, at_least: Severity = Severity.INFO) -> list[str]:
        return [f.rule_id for f in self.findings if f.severity >= at_least]
