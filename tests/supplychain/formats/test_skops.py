"""The skops analyser: benign archives written by ``skops.io.dump``, malicious ones made by editing their schema.

Nothing here loads a skops file: samples are dumped from fitted estimators, their ``schema.json`` is rewritten as
JSON, and the scan reads them as bytes.
"""

from __future__ import annotations

import io
import json
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import Limits, Settings
from bastion.findings import Finding, Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain import ModelFileCheck
from bastion.supplychain.formats import Blob
from bastion.supplychain.formats import skops as sk_format
from bastion.supplychain.pickle import BufferSource

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
Node = dict[str, Any]


# ---- builders ----
def _fit(name: str) -> object:
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x = np.random.RandomState(0).rand(60, 4)
    y = (x[:, 0] > 0.5).astype(int)
    makers: dict[str, Callable[[], object]] = {
        "logistic": lambda: LogisticRegression().fit(x, y),
        "forest": lambda: RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        "pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "hist_gb": lambda: HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        "gb_regressor": lambda: GradientBoostingRegressor(n_estimators=3).fit(x, y),
        "sgd": lambda: SGDClassifier(random_state=0).fit(x, y),
        "function": lambda: FunctionTransformer(np.log1p).fit(x),
        "knn": lambda: KNeighborsClassifier().fit(x, y),
        "tfidf": lambda: TfidfVectorizer().fit(["alpha beta gamma", "beta gamma delta"]),
    }
    return makers[name]()


@cache
def _dump(name: str, compression: int = zipfile.ZIP_STORED) -> bytes:
    import skops.io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(skops.io.dumps(_fit(name), compression=compression))


def _edit(data: bytes, change: Callable[[Node], None]) -> bytes:
    """Rewrite schema.json of a skops archive with ``change``; other members are copied as they are."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "schema.json":
                schema = json.loads(content)
                change(schema)
                content = json.dumps(schema, indent=2).encode()
            target.writestr(info, content)
    return out.getvalue()


def _nodes(value: object) -> Iterator[Node]:
    if isinstance(value, dict):
        if "__loader__" in value:
            yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _first(schema: Node, loader: str) -> Node:
    return next(n for n in _nodes(schema) if n["__loader__"] == loader)


def _examine(path: Path, settings: Settings | None = None) -> CheckOutcome:
    check = ModelFileCheck(analyzers=(sk_format.ANALYZER,))
    return check.examine(Target(str(path), path, path.stat().st_size), settings or Settings())


def _scan(tmp_path: Path, data: bytes, name: str = "model.skops", settings: Settings | None = None) -> CheckOutcome:
    path = tmp_path / name
    path.write_bytes(data)
    return _examine(path, settings)


def _rules(outcome: CheckOutcome, at_least: Severity = Severity.INFO) -> dict[str, Severity]:
    worst: dict[str, Severity] = {}
    for f in outcome.findings:
        if f.severity >= at_least:
            worst[f.rule_id] = max(f.severity, worst.get(f.rule_id, Severity.INFO))
    return worst


def _only(outcome: CheckOutcome, rule_id: str) -> list[Finding]:
    return [f for f in outcome.findings if f.rule_id == rule_id]


# ---- benign archives ----
@pytest.mark.parametrize("name", ["logistic", "forest", "pipeline", "hist_gb", "gb_regressor", "sgd", "function",
                                  "knn", "tfidf"])
def test_real_estimators_are_clean(tmp_path: Path, name: str) -> None:
    outcome = _scan(tmp_path, _dump(name))
    assert outcome.kind == "skops"
    assert outcome.findings == [], [f.title for f in outcome.findings]
    assert outcome.incomplete == []
    assert outcome.facts["format"] == "skops" and outcome.facts["framework"] == "scikit-learn"
    assert outcome.facts["skops.protocol"] == 2


def test_facts_of_a_pipeline(tmp_path: Path) -> None:
    import sklearn

    facts = _scan(tmp_path, _dump("pipeline")).facts
    assert facts["architecture"] == "Pipeline"
    assert facts["skops.sklearn_version"] == sklearn.__version__
    assert isinstance(facts["skops.version"], str)


def test_compressed_archive_is_examined(tmp_path: Path) -> None:
    data = _edit(_dump("function", zipfile.ZIP_DEFLATED),
                 lambda s: _first(s, "FunctionNode").update({"__module__": "builtins", "__class__": "eval"}))
    assert _rules(_scan(tmp_path, data)) == {"BST-SKO-001": Severity.CRITICAL}


# ---- malicious edits ----
def _function_to(module: str, name: str) -> Callable[[Node], None]:
    return lambda s: _first(s, "FunctionNode").update({"__module__": module, "__class__": name})


@pytest.mark.parametrize(("module", "name"), [("builtins", "eval"), ("os", "system"), ("subprocess", "Popen"),
                                              ("builtins", "__import__"), ("pickle", "loads")])
def test_dangerous_function_node_is_critical(tmp_path: Path, module: str, name: str) -> None:
    outcome = _scan(tmp_path, _edit(_dump("function"), _function_to(module, name)))
    found = _only(outcome, "BST-SKO-001")
    assert len(found) == 1 and found[0].severity == Severity.CRITICAL
    assert f"{module}.{name}" in found[0].title and "FunctionNode" in found[0].title
    assert found[0].location.member == "schema.json"
    assert "trusted=" in found[0].detail


def test_unknown_module_is_medium_and_says_skops_refuses_it(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        schema.update({"__module__": "mypkg.models", "__class__": "Backdoor"})

    outcome = _scan(tmp_path, _edit(_dump("logistic"), change))
    assert _rules(outcome) == {"BST-SKO-002": Severity.MEDIUM}
    assert "skops.io.load refuses it" in outcome.findings[0].detail
    assert outcome.facts["architecture"] == "Backdoor"


def test_project_allow_list_accepts_a_custom_type(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        schema.update({"__module__": "mypkg.models", "__class__": "Backdoor"})

    allow = Settings(pickle_allow=frozenset({("mypkg.models", "Backdoor")}))
    assert _scan(tmp_path, _edit(_dump("logistic"), change), settings=allow).findings == []


def test_operator_methodcaller_is_critical(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        dict_node = schema["content"]
        dict_node["content"]["hook"] = {
            "__class__": "methodcaller", "__module__": "operator", "__loader__": "OperatorFuncNode",
            "attrs": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": [
                {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": '"system"'}]}}

    found = _only(_scan(tmp_path, _edit(_dump("logistic"), change)), "BST-SKO-001")
    assert found and "operator.methodcaller" in found[0].title and found[0].severity == Severity.CRITICAL


def test_protocol_0_function_node_imports_its_content(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        schema["protocol"] = 0
        _first(schema, "FunctionNode")["content"] = {"module_path": "os", "function": "system"}

    outcome = _scan(tmp_path, _edit(_dump("function"), change))
    found = _only(outcome, "BST-SKO-001")
    assert found and "os.system (FunctionNode (protocol 0))" in found[0].title
    assert outcome.facts["skops.protocol"] == 0


def test_method_node_with_dunder_method_is_critical(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        schema["content"]["content"]["hook"] = {
            "__class__": "LogisticRegression", "__module__": "sklearn.linear_model._logistic",
            "__loader__": "MethodNode", "content": {"func": "__reduce_ex__", "obj": {
                "__class__": "LogisticRegression", "__module__": "sklearn.linear_model._logistic",
                "__loader__": "ObjectNode"}}}

    found = _only(_scan(tmp_path, _edit(_dump("logistic"), change)), "BST-SKO-001")
    assert found and "LogisticRegression.__reduce_ex__" in found[0].title


def test_method_node_type_mismatch_is_malformed(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        schema["content"]["content"]["hook"] = {
            "__class__": "LogisticRegression", "__module__": "sklearn.linear_model._logistic",
            "__loader__": "MethodNode", "content": {"func": "predict", "obj": {
                "__class__": "StandardScaler", "__module__": "sklearn.preprocessing._data",
                "__loader__": "ObjectNode"}}}

    outcome = _scan(tmp_path, _edit(_dump("logistic"), change))
    assert _rules(outcome) == {"BST-SKO-003": Severity.LOW}


def test_random_generator_with_a_non_generator_name(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        node = _first(schema, "RandomGeneratorNode")
        node["content"]["bit_generator"]["content"]["bit_generator"]["content"] = '"seed"'

    found = _only(_scan(tmp_path, _edit(_dump("hist_gb"), change)), "BST-SKO-002")
    assert found and "numpy.random.seed" in found[0].title


def test_loss_node_calling_exec_is_critical(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        _first(schema, "LossNode").update({"__module__": "builtins", "__class__": "exec"})

    found = _only(_scan(tmp_path, _edit(_dump("sgd"), change)), "BST-SKO-001")
    assert found and "builtins.exec (LossNode)" in found[0].title


def test_dict_key_type_eval_is_critical(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        key_types = schema["content"]["key_types"]["content"]
        key_types[0].update({"__class__": "eval", "__id__": 1})

    found = _only(_scan(tmp_path, _edit(_dump("logistic"), change)), "BST-SKO-001")
    assert found and "builtins.eval (TypeNode)" in found[0].title


def test_repeated_names_are_reported_once_with_a_count(tmp_path: Path) -> None:
    def change(schema: Node) -> None:
        for node in _nodes(schema):
            if node["__loader__"] == "TypeNode":
                node.update({"__module__": "webbrowser", "__class__": "open"})

    found = _only(_scan(tmp_path, _edit(_dump("pipeline"), change)), "BST-SKO-001")
    assert len(found) == 1 and " times, first at $." in found[0].detail


@pytest.mark.parametrize(("change", "needle"), [
    (lambda s: s.update({"protocol": "2"}), "invalid protocol"),
    (lambda s: s.update({"protocol": True}), "invalid protocol"),
    (lambda s: s["content"].update({"__loader__": "EvilNode"}), "unknown loader"),
    (lambda s: _first(s, "NdArrayNode").update({"type": "pickle"}), "unknown type"),
    (lambda s: _first(s, "ObjectNode").update({"__module__": 7}), "missing or not a string"),
])
def test_malformed_schemas_are_low(tmp_path: Path, change: Callable[[Node], None], needle: str) -> None:
    outcome = _scan(tmp_path, _edit(_dump("logistic"), change))
    found = _only(outcome, "BST-SKO-003")
    assert found and needle in found[0].title and found[0].severity == Severity.LOW, outcome.findings


def test_lambda_function_is_low(tmp_path: Path) -> None:
    outcome = _scan(tmp_path, _edit(_dump("function"), _function_to("__main__", "<lambda>")))
    assert _rules(outcome) == {"BST-SKO-003": Severity.LOW}


# ---- recognition ----
@pytest.mark.parametrize("doc", [
    {"__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ObjectNode"},
    {"architectures": ["BertModel"], "model_type": "bert"},
    {"class_name": "Sequential", "config": {}, "module": "keras"},
    {"__class__": "X", "__module__": "m", "__loader__": 3, "protocol": 2},
])
def test_sniff_rejects_other_json(doc: dict[str, object]) -> None:
    assert not sk_format.ANALYZER.sniff(_blob(json.dumps(doc).encode(), "schema.json"))


def test_sniff_finds_reordered_keys_only_in_schema_json() -> None:
    padded = b"{" + b" " * 2000 + b'"content": {}, "__class__": "A", "__module__": "m", "__loader__": "ObjectNode",' \
             b' "protocol": 2}'
    assert sk_format.ANALYZER.sniff(_blob(padded, "schema.json"))
    assert not sk_format.ANALYZER.sniff(_blob(padded, "other.json"))


def test_schema_too_large_to_parse_is_reported_not_examined() -> None:
    class _Huge:
        size = sk_format.MAX_JSON_BYTES + 1

        def read_at(self, offset: int, length: int) -> bytes:
            return b"{"[offset : offset + length]

    blob = Blob(_Huge(), _Huge.size, b'{"__class__": "A"', "schema.json", "schema.json", None,
                lambda: memoryview(b""))
    assert sk_format.ANALYZER.sniff(blob)
    report = _Recorder()
    sk_format.ANALYZER.analyse(blob, report)
    assert report.incomplete and "exceeds" in report.incomplete[0] and report.findings == []


# ---- the shared fixture ----
def test_pipeline_fixture(shared_models: Path) -> None:
    outcome = _examine(shared_models / "modelaudit-assets/samples/pipeline.skops")
    assert _rules(outcome) == {"BST-SKO-002": Severity.MEDIUM}
    assert "__main__.DivideColumns" in outcome.findings[0].title
    assert outcome.facts["skops.protocol"] == 0 and outcome.facts["architecture"] == "Pipeline"


# ---- robustness ----
@dataclass
class _Recorder:
    """A Report that records everything, for driving ``analyse`` directly."""

    deadline: float = field(default_factory=lambda: time.monotonic() + 10)
    limits: Limits = field(default_factory=Limits)
    findings: list[tuple[str, str]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        self.findings.append((rule_id, title))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(why)

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        raise AssertionError("the skops analyser never nests")


def _blob(data: bytes, name: str = "schema.json") -> Blob:
    return Blob(BufferSource(data), len(data), data[:512], "schema.json", name, None, lambda: memoryview(data))


def _drive(data: bytes) -> _Recorder:
    report = _Recorder()
    blob = _blob(data)
    if sk_format.ANALYZER.sniff(blob):
        sk_format.ANALYZER.analyse(blob, report)
        assert report.facts["format"] == "skops"
    return report


def test_deep_and_wide_schemas_are_bounded() -> None:
    opening = '{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": ['
    text = '{"protocol": 2, ' + opening[1:] + opening * 300 + "]}" * 301  # 602 levels: parseable, past MAX_DEPTH
    report = _drive(text.encode())
    assert any("deeper than" in why for why in report.incomplete)
    late = _Recorder(deadline=time.monotonic() - 1)
    deep: Node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}
    wide = {**deep, "protocol": 2, "content": [dict(deep) for _ in range(10_000)]}
    blob = _blob(json.dumps(wide).encode())
    sk_format.ANALYZER.analyse(blob, late)
    assert any("time limit" in why for why in late.incomplete)


def _schema_text() -> str:
    with zipfile.ZipFile(io.BytesIO(_dump("pipeline"))) as archive:
        return archive.read("schema.json").decode()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12)
    | st.sampled_from(["ObjectNode", "FunctionNode", "MethodNode", "RandomGeneratorNode", "OperatorFuncNode",
                       "builtins", "eval", "os", "numpy.random", '"PCG64"', "<lambda>", "__class__"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["__class__", "__module__", "__loader__", "content", "attrs", "func", "obj", "bit_generator", "type",
         "module_path", "function", "key_types", "__reduce__", "args"]), inner, max_size=6),
    max_leaves=30,
)


@FUZZ
@given(_JSON, st.sampled_from(["ObjectNode", "DictNode", "MethodNode", "FunctionNode"]))
def test_fuzz_structured_schemas(content: object, loader: str) -> None:
    doc = {"__class__": "A", "__module__": "sklearn.base", "__loader__": loader, "protocol": 2, "content": content}
    _drive(json.dumps(doc).encode())


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10_000), st.characters(codec="ascii")), min_size=1, max_size=6))
def test_fuzz_mutations_of_a_real_schema(edits: list[tuple[int, str]]) -> None:
    text = list(_schema_text())
    for at, char in edits:
        text[at % len(text)] = char
    _drive("".join(text).encode())


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    _drive(data)
    _drive(b'{"__class__": "A", "__module__": "m", "__loader__": "ObjectNode", "protocol": 2, "content": ' + data)
