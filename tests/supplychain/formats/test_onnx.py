"""The ONNX analyser: models built with the ``onnx`` package (serialised only, never run), external data edited
to point outside the model's folder, custom operator domains, subgraphs, functions and malformed files."""

from __future__ import annotations

import io
import os
import pickle
import random
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, numpy_helper
from protobuf_samples import FakeReport, blob_of, fld, frozen_graph, keras_like_saved_model, msg, rep

from bastion.config import Settings
from bastion.findings import Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain import ModelFileCheck
from bastion.supplychain.formats import onnx as onnx_format
from bastion.supplychain.formats import tensorflow

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- builders ----
def _weights(name: str, *shape: int) -> TensorProto:
    return numpy_helper.from_array(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape), name)


def _mlp(extra_nodes: Sequence[onnx.NodeProto] = (), opsets: Sequence[tuple[str, int]] = (("", 17),),
         functions: Sequence[onnx.FunctionProto] = (), initializers: Sequence[TensorProto] = ()) -> onnx.ModelProto:
    nodes = [oh.make_node("MatMul", ["x", "W"], ["h"], name="matmul"), oh.make_node("Add", ["h", "b"], ["y"]),
             *extra_nodes]
    graph = oh.make_graph(nodes, "mlp", [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
                          [_weights("W", 64, 32), _weights("b", 32), *initializers])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid(d, v) for d, v in opsets], functions=functions,
                          producer_name="bastion-tests", producer_version="1.0")
    model.ir_version = 9
    return model


def _examine(path: Path) -> CheckOutcome:
    check = ModelFileCheck(analyzers=(onnx_format.ANALYZER, tensorflow.ANALYZER))
    return check.examine(Target(str(path), path, path.stat().st_size), Settings())


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def _external_model(folder: Path, location: str = "weights.bin") -> Path:
    """An MLP saved by onnx with its weights in one external file (a real layout)."""
    (folder / location).parent.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(_mlp(), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=0)
    return path


def _relocate(path: Path, location: str) -> Path:
    """Rewrite every external_data location of the saved model (as an attacker would edit the file)."""
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    return _save(model, path)


def _analyse(model: onnx.ModelProto | bytes, fs_path: Path | None = None) -> FakeReport:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    blob = blob_of(data, "model.onnx", fs_path)
    assert onnx_format.ANALYZER.sniff(blob)
    report = FakeReport()
    onnx_format.ANALYZER.analyse(blob, report)
    return report


# ---- benign models ----
def test_plain_model_is_clean_with_its_facts() -> None:
    report = _analyse(_mlp())
    assert report.findings == [] and report.incomplete == []
    facts = report.facts
    assert facts["format"] == "onnx" and facts["framework"] == "onnx"
    assert facts["onnx.ir_version"] == 9 and facts["onnx.producer"] == "bastion-tests"
    assert facts["onnx.opsets"] == {"ai.onnx": 17} and facts["onnx.nodes"] == 2
    assert facts["parameters"] == 64 * 32 + 32 and facts["tensors"] == 2 and facts["dtype"] == "float32"


def test_onnx_backend_models_are_clean() -> None:
    root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    models = sorted(root.rglob("*.onnx"))
    if not models:
        pytest.skip("the onnx package ships no backend test models")
    for path in models:
        outcome = _examine(path)
        assert outcome.kind == "onnx" and outcome.findings == [] and outcome.incomplete == [], path


def test_torch_export_is_clean() -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 6 * 6, 10))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, and says so
        torch.onnx.export(net, torch.randn(1, 3, 8, 8), buffer, dynamo=False)
    report = _analyse(buffer.getvalue())
    assert report.findings == [] and report.facts["onnx.producer"] == "pytorch"
    assert report.facts["parameters"] == 8 * 3 * 3 * 3 + 8 + 288 * 10 + 10


def test_external_data_inside_the_folder_is_clean(tmp_path: Path) -> None:
    outcome = _examine(_external_model(tmp_path / "m", "data/weights.bin"))
    assert outcome.findings == [] and outcome.incomplete == []
    assert outcome.facts["onnx.external_data"] == ["data/weights.bin"]
    assert outcome.facts["parameters"] == 64 * 32 + 32


def test_hugging_face_cache_symlinks_are_not_escapes(tmp_path: Path) -> None:
    # snapshots/<rev>/model.onnx and model.onnx_data both link to ../../blobs/<sha>
    source = _external_model(tmp_path / "src", "model.onnx_data")
    blobs, snapshot = tmp_path / "cache" / "blobs", tmp_path / "cache" / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name, sha in (("model.onnx", "1111"), ("model.onnx_data", "2222")):
        (blobs / sha).write_bytes((source.parent / name).read_bytes())
        (snapshot / name).symlink_to(Path("../../blobs") / sha)
    outcome = _examine(snapshot / "model.onnx")
    assert outcome.findings == [] and outcome.incomplete == []


def test_custom_domain_defined_by_a_local_function_is_clean() -> None:
    gelu = oh.make_function("pkg.custom", "Gelu", ["x"], ["y"], [oh.make_node("Relu", ["x"], ["y"])],
                            [oh.make_opsetid("", 17)])
    model = _mlp([oh.make_node("Gelu", ["y"], ["z"], domain="pkg.custom")],
                 opsets=[("", 17), ("pkg.custom", 1)], functions=[gelu])
    report = _analyse(model)
    assert report.findings == [] and report.facts["onnx.functions"] == 1 and report.facts["onnx.nodes"] == 4


def test_onnxruntime_domains_and_unused_opsets_are_clean() -> None:
    model = _mlp([oh.make_node("FusedMatMul", ["y", "y"], ["z"], domain="com.microsoft"),
                  oh.make_node("ATen", ["z"], ["w"], domain="org.pytorch.aten", operator="relu")],
                 opsets=[("", 17), ("com.microsoft", 1), ("org.pytorch.aten", 1), ("ai.onnx.ml", 3)])
    assert _analyse(model).findings == []


# ---- external data that escapes ----
@pytest.mark.parametrize(("location", "why"), [
    ("../secrets.bin", "'..'"),
    ("sub/../../secrets.bin", "'..'"),
    ("/etc/passwd", "absolute path"),
    ("C:\\Windows\\win.ini", "Windows drive"),
    ("\\\\attacker.example\\share\\w.bin", "UNC"),
    ("..\\..\\id_rsa", "'..'"),
    ("*/_ORT_MEM_ADDR_/*", "raw memory address"),
])
def test_escaping_location_is_high(tmp_path: Path, location: str, why: str) -> None:
    outcome = _examine(_relocate(_external_model(tmp_path / "m"), location))
    [finding] = outcome.findings
    assert (finding.rule_id, finding.severity) == ("BST-ONX-001", Severity.HIGH)
    assert repr(location) in finding.title and why in finding.detail and finding.evidence == f"location={location}"
    assert "'W'" in finding.detail and "'b'" in finding.detail and finding.location.offset is not None


def test_symlink_out_of_the_folder_is_high(tmp_path: Path) -> None:
    path = _external_model(tmp_path / "m")
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"x" * 4096)
    (path.parent / "weights.bin").unlink()
    (path.parent / "weights.bin").symlink_to(secret)
    [finding] = _examine(path).findings
    assert finding.rule_id == "BST-ONX-001" and str(secret) in finding.detail and "symbolic link" in finding.detail


def test_missing_and_short_external_files_are_low(tmp_path: Path) -> None:
    missing = _relocate(_external_model(tmp_path / "a"), "gone.bin")
    [finding] = _examine(missing).findings
    assert (finding.rule_id, finding.severity) == ("BST-ONX-002", Severity.LOW) and "does not exist" in finding.detail
    assert finding.title == "ONNX external data file is missing: 'gone.bin'"
    short = _external_model(tmp_path / "b")
    (short.parent / "weights.bin").write_bytes(b"\0" * 16)
    [finding] = _examine(short).findings
    assert finding.rule_id == "BST-ONX-002" and finding.title.startswith("ONNX external data file is shorter")


def _external_tensor(name: str, location: str) -> TensorProto:
    tensor = _weights(name, 1)
    onnx.external_data_helper.set_external_data(tensor, location)
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    return tensor


def test_external_data_in_a_constant_and_a_subgraph_is_found() -> None:
    value = _external_tensor("v", "/etc/shadow")
    constant = oh.make_node("Constant", [], ["c"], value=value)
    branch = oh.make_graph([oh.make_node("Identity", ["c2"], ["o"])], "then", [],
                           [oh.make_tensor_value_info("o", TensorProto.FLOAT, [1])])
    branch.initializer.append(_external_tensor("c2", "../../../root/.ssh/id_rsa"))
    cond = oh.make_node("If", ["flag"], ["o"], then_branch=branch, else_branch=branch, name="gate")
    report = _analyse(_mlp([constant, cond]))
    locations = sorted(f.evidence for f in report.findings)
    assert locations == ["location=../../../root/.ssh/id_rsa", "location=/etc/shadow"]
    assert any("node 'gate' attribute then_branch" in f.detail for f in report.findings)


def test_external_data_without_location_is_low() -> None:
    tensor = _weights("W2", 2)
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    [finding] = _analyse(_mlp(initializers=[tensor])).findings
    assert finding.rule_id == "BST-ONX-002" and "without a location" in finding.detail


def test_escapes_are_judged_inside_archives_without_resolving() -> None:
    tensor = _external_tensor("W2", "weights.bin")
    blob = blob_of(_mlp(initializers=[tensor]).SerializeToString(), "model.onnx", None, member="a.zip!model.onnx")
    report = FakeReport()
    onnx_format.ANALYZER.analyse(blob, report)
    assert report.findings == [] and report.facts["onnx.external_data"] == ["weights.bin"]


# ---- custom operator domains ----
def test_custom_domain_is_medium_once_per_domain() -> None:
    model = _mlp([oh.make_node("Decrypt", ["y"], ["z"], domain="com.evil", name="d1"),
                  oh.make_node("Decrypt", ["z"], ["z2"], domain="com.evil"),
                  oh.make_node("Exfil", ["z2"], ["z3"], domain="com.evil")],
                 opsets=[("", 17), ("com.evil", 1)])
    [finding] = _analyse(model).findings
    assert (finding.rule_id, finding.severity) == ("BST-ONX-003", Severity.MEDIUM)
    assert "'com.evil'" in finding.title and "Decrypt x2, Exfil x1" in finding.detail and "'d1'" in finding.detail
    assert finding.evidence == "com.evil::Decrypt"


def test_custom_domain_in_a_loop_body_is_found() -> None:
    body = oh.make_graph([oh.make_node("Leak", ["v"], ["v2"], domain="my.ops")], "body", [], [])
    loop = oh.make_node("Loop", ["n", "c"], ["o"], body=body)
    [finding] = _analyse(_mlp([loop])).findings
    assert finding.rule_id == "BST-ONX-003" and "attribute body" in finding.detail


# ---- recognition ----
def test_neither_analyser_claims_the_other_format() -> None:
    model = _mlp().SerializeToString()
    assert not tensorflow.ANALYZER.sniff(blob_of(model, "model.pb"))
    for sample in (keras_like_saved_model(), frozen_graph()):
        assert not onnx_format.ANALYZER.sniff(blob_of(sample, "model.onnx"))


@pytest.mark.parametrize("data", [
    pickle.dumps({"ir_version": 9}, protocol=2), b'{"ir_version": 9, "graph": {}}', b"PK\x03\x04" + b"\0" * 60,
    bytes(random.Random(7).randrange(256) for _ in range(2048)), b"\x08\x09", b"",
    onnx.TensorProto(dims=[2], data_type=1, float_data=[1.0, 2.0]).SerializeToString(),
], ids=["pickle", "json", "zip", "random", "ir-only", "empty", "tensor"])
def test_other_content_is_not_onnx(data: bytes) -> None:
    assert not onnx_format.ANALYZER.sniff(blob_of(data, "model.onnx"))


def test_trailing_bytes_are_not_onnx() -> None:
    assert not onnx_format.ANALYZER.sniff(blob_of(_mlp().SerializeToString() + b"\xff", "model.onnx"))


# ---- malformed and bounded ----
def test_malformed_graph_is_incomplete() -> None:
    graph = oh.make_graph([oh.make_node("Relu", ["x"], ["y"], domain="com.evil")], "g", [], [])
    data = bytearray(oh.make_model(graph).SerializeToString())
    data[data.index(b"Relu") - 1] = 0x7F  # op_type's length now runs past the node
    report = _analyse(bytes(data))
    assert any("malformed ONNX model" in why for why in report.incomplete)


def test_nesting_deeper_than_the_bound_is_incomplete() -> None:
    # Written with the test encoder: protobuf's own parsers refuse messages nested this deep.
    inner = msg(fld(1, msg(fld(4, "Relu"))), fld(2, "leaf"))
    for _ in range(onnx_format.MAX_DEPTH + 2):
        attribute = msg(fld(1, "then_branch"), fld(6, inner), fld(20, 5))
        inner = msg(fld(1, msg(rep(1, ["c"]), rep(2, ["y"]), fld(4, "If"), fld(5, attribute))), fld(2, "level"))
    report = _analyse(msg(fld(1, 9), fld(7, inner), fld(8, msg(fld(1, ""), fld(2, 17)))))
    assert any("nested deeper" in why for why in report.incomplete)


def test_deadline_is_honoured() -> None:
    nodes = [oh.make_node("Relu", ["x"], ["x"]) for _ in range(3000)]
    data = oh.make_model(oh.make_graph(nodes, "g", [], [])).SerializeToString()
    report = FakeReport(deadline=time.monotonic() - 1)
    onnx_format.ANALYZER.analyse(blob_of(data, "model.onnx"), report)
    assert any("time limit" in why for why in report.incomplete)


# ---- fuzzing: never raise ----
def _never_raises(data: bytes, fs_path: Path | None = None) -> None:
    """Sniff, and analyse whatever the sniffer says: the walker must survive content it would refuse."""
    blob = blob_of(data, "model.onnx", fs_path)
    onnx_format.ANALYZER.sniff(blob)
    onnx_format.ANALYZER.analyse(blob, FakeReport())


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    _never_raises(data)
    _never_raises(b"\x08\x09" + data)


def _fuzz_seed() -> bytes:
    """A model with every structure the walker reads: external data, a subgraph, a function, a custom domain."""
    branch = oh.make_graph([oh.make_node("Leak", ["y"], ["o"], domain="my.ops")], "then", [], [],
                           [_external_tensor("c", "../x.bin")])
    fn = oh.make_function("pkg", "F", ["x"], ["y"], [oh.make_node("Relu", ["x"], ["y"])], [oh.make_opsetid("", 17)])
    model = _mlp([oh.make_node("If", ["flag"], ["o"], then_branch=branch),
                  oh.make_node("F", ["y"], ["z"], domain="pkg")], opsets=[("", 17), ("pkg", 1)], functions=[fn],
                 initializers=[_external_tensor("e", "w.bin")])
    return bytes(model.SerializeToString())


_SEED = _fuzz_seed()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, 1 << 20))
def test_fuzz_mutated_model(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_SEED)
    for at, value in flips:
        data[at % len(data)] = value
    _never_raises(bytes(data), Path(os.devnull))
    _never_raises(bytes(data[: cut % (len(data) + 1)]))
