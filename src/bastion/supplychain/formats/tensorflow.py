"""TensorFlow SavedModels and frozen graphs: find the ops that run Python, touch files or reach the network.

A SavedModel (``saved_model.pb``) or a frozen ``GraphDef`` is a program: loading and serving it runs its ops. Most
ops compute on tensors, but some reach outside the model: ``PyFunc`` calls back into Python, ``ReadFile`` and
``ImmutableConst`` read files, ``WriteFile`` and ``PrintV2`` to ``file://`` write them, RPC and tf.data-service ops
connect to addresses (the TensorAbuse primitives, Zhu et al., IEEE S&P 2025). The protobuf is parsed with
``protowire``, never with TensorFlow; every NodeDef of every meta graph's graph and of every function in its library
is examined, and each op found is reported once per graph, naming its nodes and functions.

The checkpoint machinery is the one legitimate user of file ops. A SavedModel's saver writes and reads the
variables with ``SaveV2``, ``RestoreV2`` and ``MergeV2Checkpoints`` at a path the loader feeds: TF1 graphs keep
them under the saver's name scope (``save/``), TF2 graphs in ``__inference__traced_save_N`` and
``__inference__traced_restore_N`` functions called from the nodes the ``saver_def`` names. Those ops are not
reported while the saver stays apart from the model and works on the loader's path: no other node, signature or
collection consumes a saver node, no function outside the saver calls a saver function, and each op's path is the
saver's filename tensor, an argument of the saver function, or a name derived from them (``StringJoin``,
``ShardedFilename``). The same op anywhere else, or with a path of its own, runs with the model and is reported.

Text-format graphs (``saved_model.pbtxt``, ``graph.pbtxt``) are searched for op names only and always marked
incomplete. A file named ``saved_model.pb`` that is not a SavedModel is marked incomplete and examined as unknown
content, so it never passes silently.

The analyser and its ``sniff`` (``classify``, a strict trial parse) live here; the parser and the judge live in
``_tensorflow_impl``, imported only when a graph is analysed (its public names, such as ``OPS``, are re-exported
lazily).
"""

from __future__ import annotations

import re
from functools import lru_cache

from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.formats.protowire import LEN, VARINT, WireError, scan_fields

SAVED_MODEL_NAME = "saved_model.pb"
"""The file name TensorFlow loads a SavedModel from."""
MAX_TEXT_BYTES = 256 * 1024 * 1024
"""Largest text-format graph searched."""

_LAZY = frozenset({"CLUSTER", "FILES", "MAX_NODES", "NETWORK", "OPS", "PYTHON"})
"""Names of the analysis half, served from ``_tensorflow_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _tensorflow_impl

        return getattr(_tensorflow_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- recognising the format ----
@lru_cache(maxsize=1)
def _name_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """What node names and op names look like, for ``_plausible_node`` (compiled on first use)."""
    return re.compile(r"[A-Za-z0-9_.\-/>]+"), re.compile(r"[A-Za-z0-9_>.]+")


def _plausible_node(blob: Blob, start: int, end: int) -> bool:
    """Whether ``blob[start:end]`` reads as a NodeDef with a node name and an op name."""
    found: dict[int, str] = {}
    for count, (number, wire, value, at) in enumerate(scan_fields(blob.source, start, end)):
        if wire != LEN or not 1 <= number <= 7:
            return False
        if number in (1, 2):
            if value > 512 or number in found:
                return False
            found[number] = blob.source.read_at(at, value).decode("utf-8", "replace")
        if count >= 32:
            break
    node_name, op_name = _name_patterns()
    return (node_name.fullmatch(found.get(1, "")) is not None
            and op_name.fullmatch(found.get(2, "")) is not None)


def _graph_def_prefix(blob: Blob, start: int, end: int, need_node: bool) -> bool:
    """Whether the first fields of ``blob[start:end]`` are those of a GraphDef, its first nodes plausible."""
    allowed = {1: LEN, 2: LEN, 3: VARINT, 4: LEN, 5: LEN}
    nodes = 0
    for count, (number, wire, value, at) in enumerate(scan_fields(blob.source, start, end)):
        if allowed.get(number) != wire or (count == 0 and need_node and number != 1):
            return False
        if number == 1 and nodes < 4:
            nodes += 1
            if not _plausible_node(blob, at, at + value):
                return False
        if count >= 64:
            break
    return nodes > 0 or not need_node


def _is_saved_model(blob: Blob) -> bool:
    """Top-level fields only ``saved_model_schema_version`` and ``meta_graphs``, ending exactly at the end of the
    file, and the first meta graph made of MetaGraphDef fields with a plausible graph."""
    first: tuple[int, int] | None = None
    for count, (number, wire, value, at) in enumerate(scan_fields(blob.source, 0, blob.size)):
        if count >= 256 or (number, wire) not in ((1, VARINT), (2, LEN)):
            return False
        if number == 2 and first is None:
            first = (at, value)
    if first is None:
        return False
    at, length = first
    for count, (number, wire, value, sub) in enumerate(scan_fields(blob.source, at, at + length)):
        if wire != LEN or not 1 <= number <= 7:
            return False
        if number == 2 and not _graph_def_prefix(blob, sub, sub + value, need_node=False):
            return False
        if count >= 4096:
            break
    return True


@lru_cache(maxsize=1)
def _text_start() -> re.Pattern[bytes]:
    """How a text-format graph starts (compiled on first use)."""
    return re.compile(rb"(saved_model_schema_version\s*:|meta_graphs\s*\{|node\s*\{|library\s*\{)")


def _is_text_graph(blob: Blob) -> bool:
    """A text-format SavedModel or GraphDef (``saved_model.pbtxt``, ``graph.pbtxt``): judged from its start."""
    lines = [ln.strip() for ln in blob.head.splitlines()]
    body = b"\n".join(ln for ln in lines if ln and not ln.startswith(b"#"))
    if not _text_start().match(body) or blob.size > MAX_TEXT_BYTES:
        return False
    try:
        blob.head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(blob.head) - 4:  # a cut multi-byte character at the end is fine
            return False
    return body.startswith((b"saved", b"meta")) or re.search(rb'\bop\s*:\s*"', body) is not None


def classify(blob: Blob) -> str | None:
    """``saved-model``, ``graph-def``, ``text``, ``named`` (called saved_model.pb, but not one), or None."""
    first = blob.head[:1]
    try:
        if first in (b"\x08", b"\x12") and _is_saved_model(blob):
            return "saved-model"
        if first == b"\x0a" and _graph_def_prefix(blob, 0, blob.size, need_node=True):
            return "graph-def"
    except WireError:
        pass
    if _is_text_graph(blob):
        return "text"
    if blob.name == SAVED_MODEL_NAME:
        from bastion.supplychain.formats.onnx import looks_like_onnx

        if not looks_like_onnx(blob):
            return "named"
    return None


# ---- the analyser ----
class TensorFlowAnalyzer:
    """SavedModels and frozen GraphDefs, binary or text."""

    kind = "tensorflow"

    def sniff(self, blob: Blob) -> bool:
        """A strict trial parse of the first fields, with plausible node and op names."""
        return classify(blob) is not None

    def analyse(self, blob: Blob, report: Report) -> None:
        """Parse every graph and function and report the ops that reach outside the model."""
        from bastion.supplychain.formats._tensorflow_impl import analyse

        analyse(blob, report)


ANALYZER = TensorFlowAnalyzer()
