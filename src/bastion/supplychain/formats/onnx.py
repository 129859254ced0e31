"""ONNX models: external data that reaches outside the model's folder, and operators that need a custom-op library.

An ONNX model is one ``ModelProto`` message. It carries no code, but two of its features reach outside it when it
is loaded. A tensor can keep its bytes in an external file named by ``external_data`` ``location``: onnx and
onnxruntime read that file at load time, so a location that is absolute, climbs out with ``..`` or resolves through
a symbolic link outside the model's folder reads arbitrary local files into the weights (CVE-2022-25882,
CVE-2024-27318), and tools that re-save the model write there (CVE-2025-51480). And a node can use an operator
domain that no runtime implements: running it needs a custom-op library, native code registered into the process
from outside the model.

The message is parsed with ``protowire`` (never with the ``onnx`` package): the graph, every subgraph held in node
attributes (``If``/``Loop``/``Scan`` bodies), training graphs and model-local functions, bounded by nesting depth,
node count and the scan's deadline. Tensor bytes (``raw_data``) are never read; parameter counts come from dims.

The analyser and its ``sniff`` (``looks_like_onnx``) live here; the walk lives in ``_onnx_impl``, imported only
when a model is analysed (its public names, such as ``MAX_DEPTH``, are re-exported lazily).
"""

from __future__ import annotations

from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.formats.protowire import LEN, VARINT, WireError, scan_fields

_MODEL_FIELDS = {1: VARINT, 2: LEN, 3: LEN, 4: LEN, 5: VARINT, 6: LEN, 7: LEN, 8: LEN, 14: LEN, 20: LEN, 25: LEN,
                 26: LEN}
_GRAPH_FIELDS = {1: LEN, 2: LEN, 5: LEN, 10: LEN, 11: LEN, 12: LEN, 13: LEN, 14: LEN, 15: LEN, 16: LEN}

_LAZY = frozenset({
    "CUSTOM_DOMAIN", "ESCAPES", "MAX_DEPTH", "MAX_NODES", "MISSING", "ORT_MEMORY_TAG", "STANDARD_DOMAINS",
})
"""Names of the analysis half, served from ``_onnx_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _onnx_impl

        return getattr(_onnx_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- recognising the format ----
def looks_like_onnx(blob: Blob) -> bool:
    """A ModelProto: ``ir_version`` first (serialisers write fields in number order), only ModelProto fields
    with their wire types, ending exactly at the end of the content, and a graph that starts like a GraphProto."""
    if blob.head[:1] != b"\x08":
        return False
    seen: dict[int, tuple[int, int]] = {}
    try:
        for count, (number, wire, value, at) in enumerate(scan_fields(blob.source, 0, blob.size)):
            expected = _MODEL_FIELDS.get(number)
            if (expected is None and number > 64) or (expected is not None and wire != expected):
                return False
            seen.setdefault(number, (value, at))
            if count >= 4096:
                break
        ir_version, graph = seen.get(1), seen.get(7)
        if ir_version is None or graph is None or not 1 <= ir_version[0] <= 64:
            return False
        length, at = graph
        first = next(iter(scan_fields(blob.source, at, at + length)), None)
    except WireError:
        return False
    return first is None or _GRAPH_FIELDS.get(first[0]) == first[1]


# ---- the analyser ----
class OnnxAnalyzer:
    """ONNX ModelProto files."""

    kind = "onnx"

    def sniff(self, blob: Blob) -> bool:
        """A strict trial walk of the top-level fields."""
        return looks_like_onnx(blob)

    def analyse(self, blob: Blob, report: Report) -> None:
        """Walk every graph and function; report escaping external data and custom operator domains."""
        from bastion.supplychain.formats._onnx_impl import analyse

        analyse(blob, report)


ANALYZER = OnnxAnalyzer()
