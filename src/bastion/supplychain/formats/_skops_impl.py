"""The analysis half of ``skops``: the schema walk and the audit of every name it imports, imported only when a
skops schema is analysed (``skops`` keeps the analyser and its ``sniff``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache

from bastion.findings import Severity
from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.pickle import Policy

__all__ = ["MAX_DEPTH", "MAX_NODES", "analyse"]

MAX_DEPTH = 512
"""Nesting depth of schema nodes examined (skops itself recurses once per level)."""
MAX_NODES = 5_000_000
"""JSON values visited per schema."""
_CHECK_EVERY = 4096
_MAX_FINDINGS = 50
"""Distinct names reported per schema; the rest are summarised."""
_LOADERS = frozenset({
    "DictNode", "DefaultDictNode", "ListNode", "SetNode", "TupleNode", "BytesNode", "BytearrayNode", "SliceNode",
    "FunctionNode", "MethodNode", "PartialNode", "TypeNode", "ConstructorFromReduceNode", "ObjectNode", "JsonNode",
    "OperatorFuncNode", "NdArrayNode", "MaskedArrayNode", "DTypeNode", "RandomStateNode", "RandomGeneratorNode",
    "SparseMatrixNode", "LossNode", "TreeNode", "QuantileForestNode", "_DictWithDeprecatedKeysNode", "CachedNode",
    "ReduceNode",
})
_UNRESOLVED = frozenset({"JsonNode", "SliceNode"})
"""Loaders that never import their ``(__module__, __class__)`` (skops does not audit them either)."""
_USE = {
    "ObjectNode": "instantiates it and sets its state from the file",
    "FunctionNode": "imports it and hands it to the model as a function",
    "TypeNode": "imports it and hands it to the model as a type (dict key types and defaultdict factories are "
                "called)",
    "MethodNode": "binds it as a method of an object built from the file",
    "OperatorFuncNode": "builds an operator function from it with arguments from the file",
    "PartialNode": "wraps a function from the file with arguments from the file",
    "ConstructorFromReduceNode": "calls it with arguments from the file",
    "LossNode": "calls it with arguments from the file",
    "ReduceNode": "calls it with arguments from the file",
}
_DEFAULT_USE = "imports it and calls it to build the value"
_ML_ROOTS = frozenset({"sklearn", "numpy", "scipy", "skops"})
_SAFE_BUILTINS = frozenset({
    "dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool", "complex", "bytes", "bytearray",
    "slice", "range", "object", "NoneType", "map",
})
"""Python types skops trusts as containers and primitives (map included: skops trusts it as a type)."""
_SAFE_COLLECTIONS = frozenset({"OrderedDict", "defaultdict", "Counter", "deque"})
_EXTRA_DENY = ("scipy.io", "sklearn.datasets", "sklearn.utils._testing", "numpy.lib.npyio", "numpy.lib._npyio_impl")
"""ML-ecosystem modules whose functions read or write files or fetch URLs when a model calls them."""
_BIT_GENERATORS = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})


@dataclass(frozen=True)
class _Verdict:
    """What the audit says about one name."""

    rule_id: str
    severity: Severity
    why: str


@dataclass
class _Seen:
    """Every place one name is referenced (mutable: counts grow during the walk)."""

    module: str
    name: str
    loader: str
    path: str
    verdict: _Verdict
    count: int = 1


@dataclass
class _Walk:
    """What one walk of the schema found."""

    refs: dict[tuple[str, str], _Seen]
    malformed: list[tuple[str, str, str]]
    """(JSON path, what, excerpt) of nodes skops cannot load."""
    nodes: int = 0
    stopped: str | None = None
    uses_sklearn: bool = False


def analyse(blob: Blob, report: Report) -> None:
    """Walk the schema, judge every name it makes skops import, and record what it says about the model."""
    try:
        doc = blob.json()
    except ValueError as exc:
        report.not_examined(blob.member, f"skops schema: {exc}")
        return
    if not isinstance(doc, dict):
        report.not_examined(blob.member, "skops schema is not a JSON object")
        return
    report.fact("format", "skops")
    _check_protocol(doc, blob.member, report)
    walk = _walk(doc, _policy_of(report), report.deadline)
    if walk.stopped:
        report.not_examined(blob.member, f"skops schema walk stopped: {walk.stopped}")
    _report_refs(walk, blob.member, report)
    _report_malformed(walk, blob.member, report)
    _record_facts(doc, walk, report)


def _policy_of(report: Report) -> Policy:
    # ModelFileCheck's report carries the policy built from the project's [pickle] allow; use it when present.
    policy = getattr(report, "policy", None)
    return policy if isinstance(policy, Policy) else _default_policy()


@lru_cache(maxsize=1)
def _default_policy() -> Policy:
    return Policy()


def _check_protocol(doc: dict[str, object], member: str | None, report: Report) -> None:
    protocol = doc.get("protocol")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or protocol < 0:
        report.add("BST-SKO-003", f"skops schema has an invalid protocol {_short(repr(protocol), 40)}",
                   "skops requires a non-negative integer protocol and refuses this file.", member, None,
                   evidence=f'"protocol": {_short(json.dumps(protocol), 60)}')
        return
    report.fact("skops.protocol", protocol)


# ---- the walk ----
def _walk(doc: dict[str, object], policy: Policy, deadline: float) -> _Walk:
    """Visit every JSON value iteratively; judge each node's names."""
    walk = _Walk({}, [])
    stack: list[tuple[object, str, int]] = [(doc, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        walk.nodes += 1
        if walk.nodes % _CHECK_EVERY == 0 and time.monotonic() > deadline:
            walk.stopped = "time limit reached"
            return walk
        if walk.nodes > MAX_NODES or depth > MAX_DEPTH:
            walk.stopped = f"more than {MAX_NODES} values" if walk.nodes > MAX_NODES else f"deeper than {MAX_DEPTH}"
            return walk
        if isinstance(value, dict):
            if "__loader__" in value:
                _visit_node(value, path, policy, walk)
            if value.get("__loader__") == "JsonNode":
                continue  # its content is a JSON string, never a node
            stack.extend((child, f"{path}.{key}", depth + 1) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in reversed(list(enumerate(value))))
    return walk


def _visit_node(node: dict[str, object], path: str, policy: Policy, walk: _Walk) -> None:
    loader, module, name = node.get("__loader__"), node.get("__module__"), node.get("__class__")
    if not isinstance(loader, str) or not isinstance(module, str) or not isinstance(name, str):
        walk.malformed.append((path, "a node whose __loader__, __module__ or __class__ is missing or not a string",
                               _node_excerpt(node)))
        return
    if loader not in _LOADERS:
        walk.malformed.append((path, f"an unknown loader {loader!r}", _node_excerpt(node)))
    walk.uses_sklearn = walk.uses_sklearn or module.split(".")[0] == "sklearn"
    if loader not in _UNRESOLVED:
        _note(walk, module, name, loader, path, _judge(policy, module, name))
    _visit_special(node, loader, module, name, path, policy, walk)


def _visit_special(node: dict[str, object], loader: str, module: str, name: str, path: str, policy: Policy,
                   walk: _Walk) -> None:
    """Names a node makes skops resolve besides its own type."""
    content = node.get("content")
    if loader == "FunctionNode" and isinstance(content, dict):
        # Protocol 0 FunctionNodes import content.module_path / content.function, not __module__ / __class__.
        target = content.get("module_path"), content.get("function")
        if isinstance(target[0], str) and isinstance(target[1], str):
            _note(walk, target[0], target[1], "FunctionNode (protocol 0)", f"{path}.content",
                  _judge(policy, target[0], target[1]))
    elif loader == "MethodNode":
        _visit_method(node, module, name, path, policy, walk)
    elif loader == "OperatorFuncNode" and module != "operator":
        walk.malformed.append((path, f"an OperatorFuncNode from module {module!r} (skops requires operator)",
                               _node_excerpt(node)))
    elif loader == "RandomGeneratorNode":
        _visit_generator(node, path, policy, walk)
    elif loader in ("NdArrayNode", "SparseMatrixNode"):
        kinds = ("numpy", "json") if loader == "NdArrayNode" else ("scipy",)
        if node.get("type") not in kinds:
            walk.malformed.append((path, f"a {loader} of unknown type {_short(repr(node.get('type')), 40)}",
                                   _node_excerpt(node)))


def _visit_method(node: dict[str, object], module: str, name: str, path: str, policy: Policy, walk: _Walk) -> None:
    content = node.get("content")
    func = content.get("func") if isinstance(content, dict) else None
    owner = content.get("obj") if isinstance(content, dict) else None
    if not isinstance(func, str) or not isinstance(owner, dict):
        walk.malformed.append((path, "a MethodNode without content.func and content.obj", _node_excerpt(node)))
        return
    if (owner.get("__module__"), owner.get("__class__")) != (module, name):
        walk.malformed.append((path, "a MethodNode whose declared type differs from the object it binds to "
                                     "(skops refuses it)", _node_excerpt(node)))
    method = f"{name}.{func}"
    _note(walk, module, method, "MethodNode", f"{path}.content.func", _judge(policy, module, method))


def _visit_generator(node: dict[str, object], path: str, policy: Policy, walk: _Walk) -> None:
    """numpy.random.Generator nodes name their bit generator in a JSON string that skops looks up and calls."""
    try:
        state = node["content"]["bit_generator"]["content"]["bit_generator"]  # type: ignore[index]
        bit_generator = json.loads(state["content"])
    except (KeyError, TypeError, ValueError):
        walk.malformed.append((path, "a RandomGeneratorNode without a bit generator name", _node_excerpt(node)))
        return
    if not isinstance(bit_generator, str):
        walk.malformed.append((path, "a RandomGeneratorNode whose bit generator name is not a string",
                               _node_excerpt(node)))
        return
    if bit_generator in _BIT_GENERATORS:
        return
    verdict = _judge(policy, "numpy.random", bit_generator, ml_exempt=False)
    _note(walk, "numpy.random", bit_generator, "RandomGeneratorNode bit generator", f"{path}.content.bit_generator",
          verdict)


def _note(walk: _Walk, module: str, name: str, loader: str, path: str, verdict: _Verdict | None) -> None:
    if verdict is None:
        return
    seen = walk.refs.get((module, name))
    if seen is None:
        walk.refs[(module, name)] = _Seen(module, name, loader, path, verdict)
    else:
        seen.count += 1


# ---- the audit ----
def _judge(policy: Policy, module: str, name: str, ml_exempt: bool = True) -> _Verdict | None:
    """The finding a referenced name deserves, or None when it is an ML-ecosystem or allowed name."""
    if (module == "builtins" and name in _SAFE_BUILTINS) or (module == "collections" and name in _SAFE_COLLECTIONS):
        return None
    dotted = f"{module}.{name}"
    if "<lambda>" in name or "<locals>" in name:
        return _Verdict("BST-SKO-003", Severity.LOW, "is a lambda or local function, which no loader can import")
    verdict = policy.judge(module, name)
    if verdict.rule_id is not None and verdict.rule_id != "BST-PKL-005":
        return _Verdict("BST-SKO-001", verdict.severity or Severity.CRITICAL, verdict.why)
    if any(dotted == p or dotted.startswith(p + ".") for p in _EXTRA_DENY):
        return _Verdict("BST-SKO-001", Severity.HIGH, "reads or writes files or fetches URLs when called")
    if verdict.rule_id is None or (ml_exempt and module.split(".")[0] in _ML_ROOTS):
        return None
    return _Verdict("BST-SKO-002", Severity.MEDIUM, "is outside scikit-learn, NumPy, SciPy and skops and not on "
                                                    "the allow-list")


def _report_refs(walk: _Walk, member: str | None, report: Report) -> None:
    ordered = sorted(walk.refs.values(), key=lambda s: (-s.verdict.severity, s.path))
    for seen in ordered[:_MAX_FINDINGS]:
        verdict = seen.verdict
        dotted = f"{seen.module}.{seen.name}"
        use = _USE.get(seen.loader.split(" ")[0], _DEFAULT_USE)
        times = f"{seen.count} time{'s' if seen.count != 1 else ''}"
        tail = ("skops cannot import it, so the file does not load." if verdict.rule_id == "BST-SKO-003" else
                "skops.io.load refuses it unless it is passed in trusted=, and get_untrusted_types() lists it, so a "
                "user who trusts that list runs it.")
        report.add(verdict.rule_id, f"{_TITLES[verdict.rule_id]}: {_short(dotted, 120)} ({seen.loader})",
                   f"{dotted} {verdict.why}. The schema references it {times}, first at {seen.path} as a "
                   f"{seen.loader}; skops {use}. {tail}",
                   member, None, evidence=_short(f'{{"__module__": "{seen.module}", "__class__": "{seen.name}", '
                                                 f'"__loader__": "{seen.loader}"}} at {seen.path}', 240),
                   severity=verdict.severity)
    rest = ordered[_MAX_FINDINGS:]
    if rest:
        worst = max(s.verdict.severity for s in rest)
        report.add(rest[0].verdict.rule_id, f"skops schema references {len(rest)} more names",
                   "Further names: " + _short(", ".join(f"{s.module}.{s.name}" for s in rest), 400), member, None,
                   severity=worst)


_TITLES = {
    "BST-SKO-001": "skops schema references a dangerous callable",
    "BST-SKO-002": "skops schema references a type outside the ML ecosystem",
    "BST-SKO-003": "skops schema references a name no loader can import",
}


def _report_malformed(walk: _Walk, member: str | None, report: Report) -> None:
    for path, what, excerpt in walk.malformed[:_MAX_FINDINGS]:
        report.add("BST-SKO-003", f"skops schema has {_short(what, 120)}",
                   f"At {path} the schema has {what}; skops cannot load it and refuses the file.", member, None,
                   evidence=excerpt)
    if len(walk.malformed) > _MAX_FINDINGS:
        report.add("BST-SKO-003", f"skops schema has {len(walk.malformed) - _MAX_FINDINGS} more malformed nodes",
                   "Further malformed nodes are not listed one by one.", member, None)


def _record_facts(doc: dict[str, object], walk: _Walk, report: Report) -> None:
    if walk.uses_sklearn:
        report.fact("framework", "scikit-learn")
    module, name = doc.get("__module__"), doc.get("__class__")
    if isinstance(module, str) and isinstance(name, str) and module != "builtins":
        report.fact("architecture", name)
    version = doc.get("_skops_version")
    if isinstance(version, str):
        report.fact("skops.version", _short(version, 40))
    sklearn_version = _sklearn_version(doc)
    if sklearn_version:
        report.fact("skops.sklearn_version", sklearn_version)


def _sklearn_version(doc: dict[str, object]) -> str | None:
    """``_sklearn_version`` from the top-level estimator's state, when it is stated."""
    try:
        node = doc["content"]["content"]["_sklearn_version"]  # type: ignore[index]
        value = json.loads(node["content"])
    except (KeyError, TypeError, ValueError):
        return None
    return _short(value, 40) if isinstance(value, str) else None


def _node_excerpt(node: dict[str, object]) -> str:
    keys = ("__module__", "__class__", "__loader__")
    return _short(json.dumps({k: node.get(k) for k in keys}, default=str), 200)


def _short(text: str, limit: int = 160) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."

