"""The analysis half of ``tensorflow``: the graph parser, the saver-aware judge and the text search, imported
only when a TensorFlow graph is analysed (``tensorflow`` keeps the analyser and its strict trial parse).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.formats.protowire import (
    Field,
    WireError,
    as_view,
    integer,
    iter_fields,
    payload,
    scan_fields,
    text,
)
from bastion.supplychain.formats.tensorflow import SAVED_MODEL_NAME, classify

__all__ = ["MAX_NODES", "OPS", "analyse"]

MAX_NODES = 5_000_000
"""NodeDefs examined per file, graphs and functions together."""
_CHECK_EVERY = 1024  # nodes between deadline checks

PYTHON, FILES, NETWORK, CLUSTER = "BST-TF-001", "BST-TF-002", "BST-TF-003", "BST-TF-004"
_VERBS = {PYTHON: "runs Python code", FILES: "reads or writes files", NETWORK: "opens network connections",
          CLUSTER: "exchanges tensors with other workers"}


@dataclass(frozen=True)
class _Op:
    """How one op is judged: its rule, the input that names its file or address, and whether the saver uses it."""

    rule_id: str
    target: int | None = None
    checkpoint: bool = False


def _ops(rule_id: str, names: dict[str, int | None], checkpoint: bool = False) -> dict[str, _Op]:
    return {name: _Op(rule_id, index, checkpoint) for name, index in names.items()}


_PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
OPS: dict[str, _Op] = {
    **_ops(PYTHON, dict.fromkeys(_PYTHON_OPS)),
    **_ops(FILES, {
        "ReadFile": 0, "WriteFile": 0, "MatchingFiles": 0, "ImmutableConst": None,
        "WholeFileReader": None, "WholeFileReaderV2": None, "TextLineReader": None, "TextLineReaderV2": None,
        "FixedLengthRecordReader": None, "FixedLengthRecordReaderV2": None, "TFRecordReader": None,
        "TFRecordReaderV2": None, "LMDBReader": None,
        "TextLineDataset": 0, "TFRecordDataset": 0, "TFRecordDatasetV2": 0, "FixedLengthRecordDataset": 0,
        "FixedLengthRecordDatasetV2": 0, "CSVDataset": 0, "CSVDatasetV2": 0, "ExperimentalCSVDataset": 0,
        "MatchingFilesDataset": 0, "ExperimentalMatchingFilesDataset": 0, "LMDBDataset": 0,
        "ExperimentalLMDBDataset": 0, "SqlDataset": 1, "ExperimentalSqlDataset": 1, "SaveDataset": 1,
        "SaveDatasetV2": 1, "LoadDataset": 0, "SnapshotDataset": 1, "SnapshotDatasetV2": 1,
        "DatasetToTFRecord": 1, "ExperimentalDatasetToTFRecord": 1, "InitializeTableFromTextFile": 1,
        "InitializeTableFromTextFileV2": 1, "CreateSummaryFileWriter": 1, "CreateSummaryDbWriter": 1,
        "LoadAndRemapMatrix": 0, "GenerateVocabRemapping": 0,
    }),
    **_ops(FILES, {"Save": 0, "SaveV2": 0, "SaveSlices": 0, "Restore": 0, "RestoreV2": 0, "RestoreSlice": 0,
                   "MergeV2Checkpoints": 1}, checkpoint=True),
    **_ops(NETWORK, {
        "Rpc": 0, "TryRpc": 0, "RpcClient": 0, "RpcServer": 0, "RpcServerRegister": None, "RpcServerStart": None,
        "RpcCall": None, "RpcCheckStatus": None, "RpcGetValue": None, "DeleteRpcFutureResource": None,
        "DataServiceDataset": 2, "DataServiceDatasetV2": 2, "DataServiceDatasetV3": 2, "DataServiceDatasetV4": 2,
        "RegisterDataset": 1, "RegisterDatasetV2": 1, "DistributedSave": 2, "GcsConfigureCredentials": None,
        "GcsConfigureBlockCache": None, "BigQueryReader": None,
    }),
    **_ops(CLUSTER, {"RemoteCall": 0}),
}
"""Ops reported whatever their attributes (``target``: the input holding the file name or address)."""
_DEBUG_OPS = frozenset({"DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
                        "DebugNumericSummary"})
_SEND_RECV = frozenset({"_Send", "_Recv", "_HostSend", "_HostRecv"})
_DESCRIPTOR_OPS = frozenset({"DecodeProtoV2", "EncodeProto"})
_TABLE_FROM_FILE = frozenset({"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})
_IDENTITY_OPS = frozenset({"Identity", "IdentityN", "PlaceholderWithDefault", "StopGradient", "Snapshot"})
_PATH_OPS = frozenset({"Identity", "IdentityN", "StringJoin", "ShardedFilename", "ShardedFilespec", "Pack"})
"""Ops through which a saver derives its shard and temporary names from the checkpoint path (first input)."""
_CHECKPOINT_PATHS = {"MergeV2Checkpoints": (0, 1)}  # it also deletes the directories of its first input

_SAVER_SCOPE = re.compile(r"save(_\d+)?/")
_SAVER_FUNCTION = re.compile(r"__inference__traced_(save|restore)_\d+")
_TASK = re.compile(r"/job:([^/]*)(?:/replica:(\d+))?(?:/task:(\d+))?")
_FLOAT_TYPES = {1: "float32", 2: "float64", 14: "bfloat16", 19: "float16"}  # TensorFlow DataType numbers


class _Bound(Exception):
    """A limit of the scan was reached; the message says which."""


# ---- the parsed graph ----
@dataclass(frozen=True)
class _Node:
    """One NodeDef; attributes stay in ``raw`` and are decoded only for the nodes that need them."""

    name: str
    op: str
    inputs: tuple[str, ...]
    calls: tuple[str, ...]
    """Functions named by its function-valued attributes (``f``, ``then_branch``, ``body``...)."""
    raw: memoryview
    offset: int


@dataclass
class _Function:
    """One FunctionDef of a graph's library."""

    name: str = ""
    args: set[str] = field(default_factory=set)
    nodes: list[_Node] = field(default_factory=list)


@dataclass
class _MetaGraph:
    """One graph with its library: a MetaGraphDef of a SavedModel, or a whole frozen GraphDef."""

    index: int
    tags: list[str] = field(default_factory=list)
    tf_version: str = ""
    nodes: list[_Node] = field(default_factory=list)
    functions: dict[str, _Function] = field(default_factory=dict)
    saver: list[str] = field(default_factory=list)
    """The tensor and op names of the ``saver_def`` (filename, save, restore)."""
    assets: set[str] = field(default_factory=set)
    """Nodes that hold the path of an asset file shipped with the model."""
    asset_files: int = 0
    signatures: list[str] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)
    """Nodes that signature outputs and node-list collections name: what running the model fetches."""
    producer: int | None = None

    def where(self) -> str:
        tags = f" (tags {','.join(self.tags)})" if self.tags else ""
        return f"meta graph {self.index}{tags}"


def _node_ref(name: str) -> str:
    """The node a tensor or control-input name refers to (``^n``, ``n:1``, ``n:output:0`` -> ``n``)."""
    return name.lstrip("^").split(":", 1)[0]


class _Parser:
    """Reads SavedModel and GraphDef messages into ``_MetaGraph``s, bounded by node count and deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.metas: list[_MetaGraph] = []
        self.nodes = 0
        self.schema_version: int | None = None

    def saved_model(self, data: memoryview) -> None:
        for f in iter_fields(data):
            if f.number == 1:
                self.schema_version = integer(f, "saved_model_schema_version")
            elif f.number == 2:
                meta = _MetaGraph(len(self.metas))
                self.metas.append(meta)
                self._meta_graph(payload(f, "meta_graphs"), f.offset, meta)

    def graph_def(self, data: memoryview, base: int, meta: _MetaGraph) -> None:
        for f in iter_fields(data, base):
            if f.number == 1:
                meta.nodes.append(self._node(payload(f, "node"), f.offset))
            elif f.number == 2:
                self._library(payload(f, "library"), f.offset, meta)
            elif f.number == 4:
                for v in iter_fields(payload(f, "versions"), f.offset):
                    if v.number == 1:
                        meta.producer = integer(v, "producer")

    def _meta_graph(self, data: memoryview, base: int, meta: _MetaGraph) -> None:
        for f in iter_fields(data, base):
            if f.number == 1:
                self._meta_info(payload(f, "meta_info_def"), f.offset, meta)
            elif f.number == 2:
                self.graph_def(payload(f, "graph_def"), f.offset, meta)
            elif f.number == 3:
                meta.saver = [text(s, "saver_def name") for s in iter_fields(payload(f, "saver_def"), f.offset)
                              if s.number in (1, 2, 3)]
            elif f.number == 4:
                self._collection(payload(f, "collection_def"), f.offset, meta)
            elif f.number == 5:
                self._signature(payload(f, "signature_def"), f.offset, meta)
            elif f.number == 6:
                self._asset(payload(f, "asset_file_def"), f.offset, meta)

    def _meta_info(self, data: memoryview, base: int, meta: _MetaGraph) -> None:
        for f in iter_fields(data, base):
            if f.number == 4:
                meta.tags.append(text(f, "tags"))
            elif f.number == 5:
                meta.tf_version = text(f, "tensorflow_version")

    def _collection(self, entry: memoryview, base: int, meta: _MetaGraph) -> None:
        """A ``collection_def`` map entry: the node names of node-list collections."""
        key = ""
        for f in iter_fields(entry, base):
            if f.number == 1:
                key = text(f, "collection key")
            elif f.number == 2:
                for kind in iter_fields(payload(f, "CollectionDef"), f.offset):
                    if kind.number == 1:  # node_list
                        names = {_node_ref(text(v, "node_list value"))
                                 for v in iter_fields(payload(kind, "node_list"), kind.offset) if v.number == 1}
                        (meta.assets if key == "asset_filepaths" else meta.referenced).update(names)

    def _signature(self, entry: memoryview, base: int, meta: _MetaGraph) -> None:
        """A ``signature_def`` map entry: its key, and the nodes its outputs fetch."""
        for f in iter_fields(entry, base):
            if f.number == 1:
                meta.signatures.append(text(f, "signature key"))
            elif f.number == 2:
                for part in iter_fields(payload(f, "SignatureDef"), f.offset):
                    if part.number == 2:  # outputs: map<string, TensorInfo>
                        meta.referenced.update(self._tensor_names(payload(part, "outputs"), part.offset))

    def _asset(self, data: memoryview, base: int, meta: _MetaGraph) -> None:
        meta.asset_files += 1
        for f in iter_fields(data, base):
            if f.number == 1:  # tensor_info
                meta.assets.update(self._tensor_info_names(payload(f, "tensor_info"), f.offset))

    def _tensor_names(self, entry: memoryview, base: int) -> set[str]:
        names: set[str] = set()
        for f in iter_fields(entry, base):
            if f.number == 2:
                names |= self._tensor_info_names(payload(f, "TensorInfo"), f.offset)
        return names

    @staticmethod
    def _tensor_info_names(data: memoryview, base: int) -> set[str]:
        return {_node_ref(text(f, "TensorInfo name")) for f in iter_fields(data, base) if f.number == 1}

    def _library(self, data: memoryview, base: int, meta: _MetaGraph) -> None:
        for f in iter_fields(data, base):
            if f.number == 1:
                function = _Function()
                self._function(payload(f, "function"), f.offset, function)
                meta.functions[function.name] = function

    def _function(self, data: memoryview, base: int, function: _Function) -> None:
        for f in iter_fields(data, base):
            if f.number == 1:  # signature: OpDef
                for s in iter_fields(payload(f, "signature"), f.offset):
                    if s.number == 1:
                        function.name = text(s, "function name")
                    elif s.number == 2:  # input_arg: ArgDef
                        function.args.update(text(a, "argument name")
                                             for a in iter_fields(payload(s, "input_arg"), s.offset) if a.number == 1)
            elif f.number == 3:
                function.nodes.append(self._node(payload(f, "node_def"), f.offset))

    def _node(self, data: memoryview, base: int) -> _Node:
        self.nodes += 1
        if self.nodes % _CHECK_EVERY == 0:
            if self.nodes > MAX_NODES:
                raise _Bound(f"more than {MAX_NODES} graph nodes")
            if time.monotonic() > self.deadline:
                raise _Bound("time limit reached while reading the graph")
        name = op = ""
        inputs: list[str] = []
        calls: list[str] = []
        for f in iter_fields(data, base):
            if f.number == 1:
                name = text(f, "node name")
            elif f.number == 2:
                op = text(f, "op")
            elif f.number == 3:
                inputs.append(text(f, "input"))
            elif f.number == 5:
                for e in iter_fields(payload(f, "attr"), f.offset):
                    if e.number == 2:
                        calls.extend(_attr_functions(payload(e, "AttrValue"), e.offset, 0))
        return _Node(name, op, tuple(inputs), tuple(calls), data, base)


def _attr_functions(value: memoryview, base: int, depth: int) -> Iterator[str]:
    """Function names in an AttrValue: ``func`` (a NameAttrList) or a list of them, and their own attributes."""
    if depth > 4:
        return
    for f in iter_fields(value, base):
        if f.number == 10:  # func
            yield from _name_attr_list(payload(f, "func"), f.offset, depth)
        elif f.number == 1:  # list
            for item in iter_fields(payload(f, "list"), f.offset):
                if item.number == 9:
                    yield from _name_attr_list(payload(item, "func"), item.offset, depth)


def _name_attr_list(data: memoryview, base: int, depth: int) -> Iterator[str]:
    for f in iter_fields(data, base):
        if f.number == 1:
            yield text(f, "function name")
        elif f.number == 2:
            for e in iter_fields(payload(f, "attr"), f.offset):
                if e.number == 2:
                    yield from _attr_functions(payload(e, "AttrValue"), e.offset, depth + 1)


# ---- attributes, read on demand ----
def _attr(node: _Node, key: str) -> Field | None:
    """The AttrValue of ``node``'s attribute ``key`` as a field, or None."""
    wanted = key.encode()
    for f in iter_fields(node.raw, node.offset):
        if f.number != 5:
            continue
        entry = payload(f, "attr")
        found: Field | None = None
        name = b""
        for e in iter_fields(entry, f.offset):
            if e.number == 1:
                name = bytes(payload(e, "attr key"))
            elif e.number == 2:
                found = e
        if name == wanted and found is not None:
            return found
    return None


def _attr_strings(node: _Node, key: str) -> list[bytes]:
    """The string (``s``) or list-of-strings value of an attribute; empty when absent."""
    value = _attr(node, key)
    if value is None:
        return []
    strings: list[bytes] = []
    for f in iter_fields(payload(value, "AttrValue"), value.offset):
        if f.number == 2:
            strings.append(bytes(payload(f, "s")))
        elif f.number == 1:
            strings.extend(bytes(payload(s, "s")) for s in iter_fields(payload(f, "list"), f.offset)
                           if s.number == 2)
    return strings


def _const_tensor(node: _Node) -> Field | None:
    """The TensorProto of a Const node's ``value`` attribute."""
    value = _attr(node, "value")
    if value is None:
        return None
    return next((f for f in iter_fields(payload(value, "AttrValue"), value.offset) if f.number == 8), None)


def _const_string(node: _Node) -> bytes | None:
    """The first string of a Const node's value (``string_val``), or None."""
    tensor = _const_tensor(node)
    if tensor is None:
        return None
    return next((bytes(payload(f, "string_val")) for f in iter_fields(payload(tensor, "tensor"), tensor.offset)
                 if f.number == 8), None)


def _shown(raw: bytes | str, limit: int = 160) -> str:
    """A short printable rendering of an untrusted string for titles and evidence."""
    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return repr(value if len(value) <= limit else value[:limit] + "...")


# ---- judging nodes ----
@dataclass(frozen=True)
class _Hit:
    """One reported node."""

    rule_id: str
    op: str
    node: str
    function: str | None
    evidence: str
    offset: int


@dataclass
class _Scope:
    """The nodes of one graph or function, for following a node's inputs back to their source."""

    nodes: dict[str, _Node]
    args: set[str]
    function: str | None


class _Judge:
    """Decides which nodes of one meta graph to report, knowing which belong to the saver."""

    def __init__(self, meta: _MetaGraph) -> None:
        self.meta = meta
        self.saver_nodes, self.saver_functions = _saver_parts(meta)
        self.saver_names = {_node_ref(n) for n in meta.saver if n}
        self.errors: list[str] = []

    def hits(self, deadline: float) -> Iterator[_Hit]:
        """The reported nodes of the graph and of every function; unreadable attributes go to ``errors``."""
        scopes: list[tuple[list[_Node], set[str], str | None]] = [(self.meta.nodes, set(), None)]
        scopes += [(fn.nodes, fn.args, name) for name, fn in self.meta.functions.items()]
        for count, (nodes, args, function) in enumerate(scopes):
            if count % 64 == 0 and time.monotonic() > deadline:
                raise _Bound("time limit reached while examining the graph")
            scope: _Scope | None = None
            for node in nodes:
                if node.op not in OPS and node.op not in _ATTR_CHECKS:
                    continue
                scope = scope or _Scope({n.name: n for n in nodes}, args, function)
                try:
                    hit = self._judge(node, scope)
                except WireError as exc:
                    self.errors.append(f"{node.op} node {_shown(node.name)}: {exc}")
                    continue
                if hit is not None:
                    yield hit

    def _judge(self, node: _Node, scope: _Scope) -> _Hit | None:
        check = _ATTR_CHECKS.get(node.op)
        if check is not None:
            found = check(node)
            return None if found is None else _Hit(found[0], node.op, node.name, scope.function, found[1],
                                                   node.offset)
        op = OPS[node.op]
        if op.checkpoint and self._in_saver(node, scope):
            paths = _CHECKPOINT_PATHS.get(node.op, (0,))
            if all(self._saver_path(node, i, scope) for i in paths):
                return None
        source = self._source(node, op.target, scope) if op.target is not None else None
        if node.op in _TABLE_FROM_FILE and source is not None and self._asset_source(source):
            return None  # a vocabulary table filled from an asset shipped with the model
        evidence = f"{node.op} node {_shown(node.name)}"
        if node.op in _PYTHON_OPS:
            token = _attr_strings(node, "token")
            evidence += f", token {_shown(token[0])}" if token else ", no token attribute"
        elif node.op == "ImmutableConst":
            region = _attr_strings(node, "memory_region_name")
            evidence += f", memory_region_name {_shown(region[0])}" if region else ""
        if source is not None:
            evidence += f", {source[1]}"
        return _Hit(op.rule_id, node.op, node.name, scope.function, evidence, node.offset)

    def _in_saver(self, node: _Node, scope: _Scope) -> bool:
        if scope.function is None:
            return node.name in self.saver_nodes
        return scope.function in self.saver_functions

    def _saver_path(self, node: _Node, index: int, scope: _Scope) -> bool:
        """Whether input ``index`` is the checkpoint path the loader feeds the saver, or a name derived from it:
        the ``saver_def``'s filename tensor (TF1), an argument of the saver function (TF2), or a placeholder in
        the saver's scope (a graph without saver_def)."""
        if index >= len(node.inputs):
            return False
        name = node.inputs[index]
        for _ in range(16):
            ref = _node_ref(name)
            if scope.function is not None and ":" not in name and ref in scope.args:
                return True
            if scope.function is None and ref in self.saver_names:
                return True
            producer = scope.nodes.get(ref)
            if producer is None:
                return False
            if scope.function is None and ref in self.saver_nodes and producer.op in ("Placeholder",
                                                                                       "PlaceholderWithDefault"):
                return True
            if producer.op not in _PATH_OPS or not producer.inputs:
                return False
            name = producer.inputs[0]
        return False

    def _asset_source(self, source: tuple[str, str]) -> bool:
        kind = source[0]
        return self.meta.asset_files > 0 and kind in ("argument", "asset")

    def _source(self, node: _Node, index: int, scope: _Scope) -> tuple[str, str]:
        """Where input ``index`` comes from: (kind, description) with kind const/argument/asset/computed/absent."""
        if index >= len(node.inputs):
            return "absent", f"input {index} is not connected"
        name = node.inputs[index]
        for _ in range(8):  # follow identities back to the producer
            ref = _node_ref(name)
            if scope.function is not None and ":" not in name and ref in scope.args:
                return "argument", f"path from function argument {_shown(ref)}"
            if ref in self.meta.assets:
                return "asset", f"path from asset tensor {_shown(ref)}"
            producer = scope.nodes.get(ref)
            if producer is None:
                return "computed", f"path from {_shown(name)}"
            if producer.op == "Const":
                value = _const_string(producer)
                return "const", f"path {_shown(value)}" if value is not None else f"path from Const {_shown(ref)}"
            if producer.op not in _IDENTITY_OPS or not producer.inputs:
                return "computed", f"path computed by {producer.op} node {_shown(ref)}"
            name = producer.inputs[0]
        return "computed", f"path from {_shown(name)}"


def _print_v2(node: _Node) -> tuple[str, str] | None:
    stream = b"".join(_attr_strings(node, "output_stream")[:1])
    if stream.startswith(b"file://"):
        return FILES, f"PrintV2 node {_shown(node.name)} appends to {_shown(stream)}"
    return None


def _debug(node: _Node) -> tuple[str, str] | None:
    urls = _attr_strings(node, "debug_urls")
    remote = [u for u in urls if u.startswith(b"grpc://")]
    if remote:
        return NETWORK, f"{node.op} node {_shown(node.name)} streams tensors to {_shown(remote[0])}"
    files = [u for u in urls if u.startswith(b"file://")]
    if files:
        return FILES, f"{node.op} node {_shown(node.name)} dumps tensors to {_shown(files[0])}"
    return None


def _send_recv(node: _Node) -> tuple[str, str] | None:
    send = b"".join(_attr_strings(node, "send_device")[:1]).decode("utf-8", "replace")
    recv = b"".join(_attr_strings(node, "recv_device")[:1]).decode("utf-8", "replace")
    ends = _TASK.match(send), _TASK.match(recv)
    if ends[0] and ends[1] and ends[0].groups() != ends[1].groups():
        return CLUSTER, f"{node.op} node {_shown(node.name)} from {_shown(send)} to {_shown(recv)}"
    return None


def _descriptor(node: _Node) -> tuple[str, str] | None:
    source = b"".join(_attr_strings(node, "descriptor_source")[:1])
    if source not in (b"", b"local://"):
        return FILES, f"{node.op} node {_shown(node.name)} reads descriptors from {_shown(source)}"
    return None


def _collective(node: _Node) -> tuple[str, str] | None:
    return CLUSTER, f"{node.op} node {_shown(node.name)}"


_ATTR_CHECKS: dict[str, Callable[[_Node], tuple[str, str] | None]] = {
    "PrintV2": _print_v2, **dict.fromkeys(_DEBUG_OPS, _debug), **dict.fromkeys(_SEND_RECV, _send_recv),
    **dict.fromkeys(_DESCRIPTOR_OPS, _descriptor),
    **dict.fromkeys(("CollectiveReduce", "CollectiveReduceV2", "CollectiveReduceV3", "CollectiveReduceScatterV2",
                     "CollectiveGather", "CollectiveGatherV2", "CollectiveBcastSend", "CollectiveBcastRecv",
                     "CollectiveBcastSendV2", "CollectiveBcastRecvV2", "CollectiveAllToAllV2",
                     "CollectiveAllToAllV3", "CollectiveInitializeCommunicator", "CollectiveAssignGroupV2"),
                    _collective),
}
"""Ops judged by their attributes (a print to a file, a debug URL, a device on another task)."""


def _saver_parts(meta: _MetaGraph) -> tuple[set[str], set[str]]:
    """The graph nodes and the functions that belong to the saver and nothing else.

    Saver graph nodes: those the ``saver_def`` names and those under its scope (or ``save/``, ``save_N/``),
    provided no other node, signature output or collection consumes one. Saver functions: those the saver nodes
    call (or named ``__inference__traced_save_N``/``_restore_N``), and what they call, minus every function
    that anything outside the saver can reach."""
    named = {_node_ref(n) for n in meta.saver if n}
    scopes = tuple(n.rsplit("/", 1)[0] + "/" for n in named if "/" in n)
    saver = {n.name for n in meta.nodes
             if n.name in named or n.name.startswith(scopes) or _SAVER_SCOPE.match(n.name)}
    outside = (n for n in meta.nodes if n.name not in saver)
    consumers = {_node_ref(i) for n in outside for i in n.inputs} | meta.referenced
    if saver & consumers:
        saver = set()  # the model uses the saver's nodes: its ops run with the model
    calls = _call_graph(meta)
    seeds = {f for n in meta.nodes if n.name in saver for f in calls.get(n.name, ())}
    seeds |= {name for name in meta.functions if _SAVER_FUNCTION.fullmatch(name)}
    owned = _closure(seeds, calls)
    roots = {f for n in meta.nodes if n.name not in saver for f in calls.get(n.name, ())}
    roots |= set(meta.functions) - owned
    return saver, owned - _closure(roots, calls)


def _call_graph(meta: _MetaGraph) -> dict[str, set[str]]:
    """Who calls which function: graph node name -> functions, and ``fn:NAME`` -> functions its nodes call."""
    library = meta.functions

    def called(nodes: Iterable[_Node]) -> Iterator[str]:
        for n in nodes:
            yield from (c for c in n.calls if c in library)
            if n.op in library:  # a node whose op is a library function calls it
                yield n.op

    calls = {n.name: set(called((n,))) for n in meta.nodes}
    calls.update({f"fn:{name}": set(called(fn.nodes)) for name, fn in library.items()})
    return calls


def _closure(start: set[str], calls: dict[str, set[str]]) -> set[str]:
    """Every function reachable from ``start`` through calls, ``start`` included."""
    seen = set(start)
    stack = list(start)
    while stack:
        for callee in calls.get(f"fn:{stack.pop()}", ()):
            if callee not in seen:
                seen.add(callee)
                stack.append(callee)
    return seen


def analyse(blob: Blob, report: Report) -> None:
    """Parse every graph and function and report the ops that reach outside the model."""
    kind = classify(blob)
    if kind == "text":
        _analyse_text(blob, report)
    elif kind == "named":
        _not_a_saved_model(blob, report)
    elif kind is not None:
        _analyse_binary(blob, report, kind)


def _analyse_binary(blob: Blob, report: Report, kind: str) -> None:
    parser = _Parser(report.deadline)
    what = "SavedModel" if kind == "saved-model" else "GraphDef"
    report.fact("format", "tensorflow-savedmodel" if kind == "saved-model" else "tensorflow-graphdef")
    report.fact("framework", "tensorflow")
    try:
        view = as_view(blob.view())
        if kind == "saved-model":
            parser.saved_model(view)
        else:
            parser.metas.append(_MetaGraph(0))
            parser.graph_def(view, 0, parser.metas[0])
    except WireError as exc:
        report.not_examined(blob.member, f"malformed TensorFlow {what}: {exc}; the rest was not examined")
    except _Bound as exc:
        report.not_examined(blob.member, f"TensorFlow {what} not examined completely: {exc}")
    for meta in parser.metas:
        judge = _Judge(meta)
        label = meta.where() if kind == "saved-model" else "the graph"
        try:
            _report_hits(label, judge.hits(report.deadline), blob, report)
        except _Bound as exc:
            report.not_examined(blob.member, f"TensorFlow {what} not examined completely: {exc}")
        for error in judge.errors[:10]:
            report.not_examined(blob.member, f"malformed node attribute in TensorFlow {what}: {error}")
    try:
        _facts(parser, report, kind)
    except WireError as exc:
        report.not_examined(blob.member, f"malformed constant in TensorFlow {what}: {exc}")


def _report_hits(label: str, hits: Iterable[_Hit], blob: Blob, report: Report) -> None:
    """One finding per rule and op in the graph, naming its first nodes."""
    grouped: dict[tuple[str, str], list[_Hit]] = {}
    for hit in hits:
        grouped.setdefault((hit.rule_id, hit.op), []).append(hit)
    for (rule_id, op), found in grouped.items():
        first = found[0]
        where = f" in function {_shown(first.function)}" if first.function else ""
        places = "; ".join(f"{h.evidence}{' in function ' + _shown(h.function) if h.function else ''}"
                           for h in found[:5])
        more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
        report.add(rule_id, f"TensorFlow op {op} {_VERBS[rule_id]} (node {_shown(first.node)}{where})",
                   f"{label[:1].upper()}{label[1:]} has {len(found)} {op} node{'s' if len(found) > 1 else ''}: "
                   f"{places}{more}. {_EXPLAIN[rule_id]}", blob.member, first.offset, evidence=first.evidence)


_EXPLAIN = {
    PYTHON: "This op calls back into the Python interpreter that runs the graph, invoking whatever callable is "
            "registered under its token; no exported model needs it to be served.",
    FILES: "This op reads or writes files when the graph runs, at a path the graph chooses or receives; it is "
           "not part of the saver's checkpoint machinery.",
    NETWORK: "This op connects to, or listens on, a network address when the graph runs.",
    CLUSTER: "This op exchanges tensors with other processes of a distributed TensorFlow cluster.",
}


def _facts(parser: _Parser, report: Report, kind: str) -> None:
    metas = parser.metas
    report.fact("tf.ops", sum(len(m.nodes) + sum(len(f.nodes) for f in m.functions.values()) for m in metas))
    report.fact("tf.functions", sum(len(m.functions) for m in metas))
    if kind == "saved-model":
        report.fact("tf.meta_graphs", len(metas))
        if any(m.tags for m in metas):
            report.fact("tf.tags", [",".join(m.tags) for m in metas])
        signatures = sorted({s for m in metas for s in m.signatures})
        if signatures:
            report.fact("tf.signatures", signatures[:64])
        if parser.schema_version is not None:
            report.fact("tf.schema_version", parser.schema_version)
    version = next((m.tf_version for m in metas if m.tf_version), "")
    if version:
        report.fact("tf.version", version)
    producer = next((m.producer for m in metas if m.producer is not None), None)
    if producer is not None:
        report.fact("tf.graph_producer", producer)
    if kind == "graph-def" and metas:
        _weight_facts(metas[0], report)


def _weight_facts(meta: _MetaGraph, report: Report) -> None:
    """For a frozen graph, where the weights are Const nodes: their count, elements and dominant type."""
    tensors = 0
    elements: dict[str, int] = {}
    for node in meta.nodes:
        if node.op != "Const":
            continue
        shape = _float_shape(node)
        if shape is not None and shape[1]:
            tensors += 1
            count = 1
            for dim in shape[1]:
                count *= dim
            elements[shape[0]] = elements.get(shape[0], 0) + count
    if tensors:
        report.fact("parameters", sum(elements.values()))
        report.fact("tensors", tensors)
        report.fact("dtype", max(elements, key=lambda k: elements[k]))


def _float_shape(node: _Node) -> tuple[str, list[int]] | None:
    """(dtype, dims) of a floating-point Const, or None for other types and unknown shapes."""
    tensor = _const_tensor(node)
    if tensor is None:
        return None
    dtype: str | None = None
    dims: list[int] = []
    for f in iter_fields(payload(tensor, "tensor"), tensor.offset):
        if f.number == 1:
            dtype = _FLOAT_TYPES.get(integer(f, "dtype"))
        elif f.number == 2:
            for d in iter_fields(payload(f, "tensor_shape"), f.offset):
                if d.number == 2:
                    size = next((integer(s, "size") for s in iter_fields(payload(d, "dim"), d.offset)
                                 if s.number == 1), 0)
                    dims.append(size if size < 1 << 62 else 0)  # -1 (unknown) is a huge unsigned varint
    return (dtype, dims) if dtype is not None else None


def _not_a_saved_model(blob: Blob, report: Report) -> None:
    """A file named saved_model.pb that does not parse as one: never a silent pass."""
    reason = "it is empty"
    if blob.size:
        reason = "its fields are not those of a SavedModel"
        try:
            for count, _ in enumerate(scan_fields(blob.source, 0, blob.size)):
                if count >= 4096:
                    break
        except WireError as exc:
            reason = f"it is not a valid protobuf message ({exc})"
    report.not_examined(blob.member, f"named {SAVED_MODEL_NAME}, the file TensorFlow loads as a SavedModel, but "
                                     f"{reason}; it was examined as unknown content instead")
    if blob.size:
        report.nested(blob.view(), f"{blob.member}!<content>" if blob.member else "<content>")


_TEXT_NODE = re.compile(rb'\bname\s*:\s*"((?:[^"\\\n]|\\.)*)"\s*op\s*:\s*"([A-Za-z0-9_>.]*)"')


def _analyse_text(blob: Blob, report: Report) -> None:
    """A text-format graph: found by op-name search only, so the target is always marked incomplete."""
    saved = blob.head.lstrip().startswith((b"saved", b"meta"))
    report.fact("format", "tensorflow-savedmodel-text" if saved else "tensorflow-graphdef-text")
    report.fact("framework", "tensorflow")
    hits: list[_Hit] = []
    count = 0
    for count, match in enumerate(_TEXT_NODE.finditer(blob.view()), start=1):
        if count % _CHECK_EVERY == 0 and time.monotonic() > report.deadline:
            report.not_examined(blob.member, "time limit reached while searching the text-format graph")
            break
        op = match.group(2).decode()
        rule = OPS.get(op)
        if rule is None or rule.checkpoint or op in _TABLE_FROM_FILE:
            continue  # these depend on context the text search cannot see
        name = match.group(1).decode("utf-8", "replace")
        hits.append(_Hit(rule.rule_id, op, name, None, f"{op} node {_shown(name)}", match.start()))
    report.fact("tf.ops", count)
    _report_hits("the text-format graph", hits, blob, report)
    report.not_examined(blob.member, "text-format TensorFlow graph examined by op-name search only: attributes, "
                                     "checkpoint and table ops and the saver's context were not analysed")
