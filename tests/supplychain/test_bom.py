"""`bastion bom`: the CycloneDX 1.6 ML-BOM, checked against the official 1.6 schema shipped with cyclonedx-python-lib.

Scan results are built by hand (with the facts the format analysers report) and produced by real scans of a
generated project; the CLI command runs through Typer's CliRunner on an app made here.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import typer
from typer.testing import CliRunner

from bastion.cli.bom import bom_command
from bastion.findings import Finding, Location, ScanResult, Severity, TargetResult, TargetStatus
from bastion.scan import scan
from bastion.supplychain.bom import (
    BomValidationError,
    DatasetInfo,
    bom_json,
    build_bom,
    sniff_dataset,
    validate_bom_json,
)
from bastion.supplychain.bom.datasets import sniff_binary, sniff_text

MALICIOUS = b"cos\nsystem\n(S'id'\ntR."
"""A protocol-0 pickle that would run os.system('id'); written as bytes, never loaded."""
SERIAL = UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def target(path: Path, kind: str, status: TargetStatus = TargetStatus.SCANNED, reason: str | None = None,
           size: int | None = 100, facts: dict[str, Any] | None = None) -> TargetResult:
    return TargetResult(str(path), kind, sha(str(path)), status, reason, size, facts or {})


def finding(path: Path, rule_id: str = "BST-PKL-001", severity: Severity = Severity.CRITICAL,
            member: str | None = None, offset: int | None = 0, title: str = "Pickle imports os.system") -> Finding:
    return Finding(rule_id, severity, title, "os.system runs commands when the file is loaded.",
                   Location(str(path), member, offset), evidence="os.system('id')",
                   remediation="Do not load this file.", refs=("OWASP-ML06", "ATLAS:AML.T0011.000"))


@pytest.fixture()
def hand_built(tmp_path: Path) -> tuple[ScanResult, Path]:
    """A llama folder in two safetensors shards with configs, a stand-alone malicious pickle, an unreadable .pt,
    a CSV with a header, a CSV of names only, Parquet reported by facts, and NumPy arrays in and out of the folder."""
    root = tmp_path / "proj"
    llama, data = root / "llama", root / "data"
    llama.mkdir(parents=True)
    data.mkdir()
    (data / "train.csv").write_text("age,income,label\n31,5000,1\n45,7000,0\n52,6100,1\n")
    (data / "people.csv").write_text("Alice,Smith,London\nBob,Jones,Paris\nCarol,Brown,Rome\n")
    targets = (
        target(root / "broken.pt", "unrecognised", TargetStatus.INCOMPLETE,
               "broken.pt: the name suggests a model file (.pt) but the content is not a format Bastion recognises"),
        target(root / "evil.pkl", "pickle", size=len(MALICIOUS)),
        target(data / "embeddings.npy", "npy"),
        target(data / "people.csv", "unknown", TargetStatus.SKIPPED, "content is not a format any check examines",
               size=(data / "people.csv").stat().st_size),
        target(data / "table.parquet", "parquet", facts={"format": "parquet", "columns": ["id", "text"]}),
        target(data / "train.csv", "unknown", TargetStatus.SKIPPED, "content is not a format any check examines",
               size=(data / "train.csv").stat().st_size),
        target(llama / "README.md", "unknown", TargetStatus.SKIPPED, "content is not a format any check examines"),
        target(llama / "config.json", "hf-config", facts={
            "format": "hf-config", "architecture": "LlamaForCausalLM", "task": "text-generation",
            "license": "apache-2.0", "hf.model_type": "llama", "hf.vocab_size": 32000}),
        target(llama / "model-00001-of-00002.safetensors", "safetensors", facts={
            "format": "safetensors", "parameters": 100, "tensors": 3, "dtype": "BF16"}),
        target(llama / "model-00002-of-00002.safetensors", "safetensors", facts={
            "format": "safetensors", "parameters": 50, "tensors": 2, "dtype": "BF16"}),
        target(llama / "rope.npy", "npy"),
        target(llama / "tokenizer_config.json", "hf-tokenizer-config",
               facts={"format": "hf-tokenizer-config", "hf.chat_template": True}),
    )
    findings = (
        finding(root / "evil.pkl"),
        finding(llama / "tokenizer_config.json", "BST-HF-001", Severity.HIGH, member=None, offset=None,
                title="Chat template reaches Python internals"),
        finding(root / "gone.bin", "BST-PKL-011", Severity.MEDIUM, title="Pickle stream is malformed"),
    )
    return ScanResult(targets, findings), root


def document(result: ScanResult, root: Path) -> dict[str, Any]:
    text = bom_json(build_bom(result, str(root), serial_number=SERIAL, timestamp=WHEN))
    assert validate_bom_json(text) == []
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def components(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every component, nested ones included, by bom-ref."""
    found: dict[str, dict[str, Any]] = {}
    stack = list(doc.get("components", []))
    while stack:
        component = stack.pop()
        found[component["bom-ref"]] = component
        stack.extend(component.get("components", []))
    return found


def props(item: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in item.get("properties", []):
        found.setdefault(entry["name"], []).append(entry["value"])
    return found


# ---- the schema ----

def test_hand_built_bom_is_cyclonedx_1_6_and_validates(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    doc = document(result, root)
    assert doc["bomFormat"] == "CycloneDX"
    assert doc["specVersion"] == "1.6"
    assert doc["$schema"] == "http://cyclonedx.org/schema/bom-1.6.schema.json"
    assert doc["serialNumber"] == f"urn:uuid:{SERIAL}"
    assert doc["metadata"]["timestamp"].startswith("2025-01-02T03:04:05")
    assert list(doc)[:3] == ["$schema", "bomFormat", "specVersion"]


def test_the_validator_rejects_broken_documents(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    good = json.loads(bom_json(build_bom(result, str(root))))
    broken = json.loads(json.dumps(good))
    model = next(c for c in broken["components"] if c["type"] == "machine-learning-model" and "modelCard" in c)
    model["modelCard"]["modelParameters"]["parameterCount"] = 150  # not a 1.6 field
    assert any("parameterCount" in e for e in validate_bom_json(json.dumps(broken)))
    broken = json.loads(json.dumps(good))
    broken["vulnerabilities"][0]["ratings"][0]["severity"] = "catastrophic"
    assert validate_bom_json(json.dumps(broken))
    broken = json.loads(json.dumps(good))
    del broken["components"][0]["type"]
    assert validate_bom_json(json.dumps(broken))
    broken = json.loads(json.dumps(good))
    broken["components"][0]["data"] = [{"type": "spreadsheet"}]
    assert validate_bom_json(json.dumps(broken))


def test_bom_json_refuses_to_return_an_invalid_document(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    ml_bom = build_bom(result, str(root))
    card_ref = next(iter(ml_bom.model_cards))
    bad = replace(ml_bom, model_cards={card_ref: {"modelParameters": {"task": 7}}})
    with pytest.raises(BomValidationError) as caught:
        bom_json(bad)
    assert any("modelParameters/task" in e for e in caught.value.errors)
    assert json.loads(bom_json(bad, validate=False))  # the check is what refused it


# ---- models ----

def test_a_model_folder_is_one_model_whose_files_are_sub_components(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    doc = document(result, root)
    by_ref = components(doc)
    model = by_ref["model:llama"]
    assert model["type"] == "machine-learning-model"
    assert model["name"] == "llama"
    files = {c["name"] for c in model["components"]}
    assert files == {"llama/README.md", "llama/config.json", "llama/model-00001-of-00002.safetensors",
                     "llama/model-00002-of-00002.safetensors", "llama/rope.npy", "llama/tokenizer_config.json"}
    assert all(c["type"] == "file" for c in model["components"])
    shard = by_ref["file:llama/model-00001-of-00002.safetensors"]
    assert shard["hashes"] == [{"alg": "SHA-256", "content": sha(str(root / "llama/model-00001-of-00002.safetensors"))}]
    assert props(shard)["bastion:parameters"] == ["100"]
    assert props(shard)["bastion:format"] == ["safetensors"]
    facts = props(model)
    assert facts["bastion:parameters"] == ["150"]  # the two shards of one weight set
    assert facts["bastion:tensors"] == ["5"]
    assert facts["bastion:format"] == ["npy", "safetensors"]
    assert facts["bastion:dtype"] == ["BF16"]
    assert facts["bastion:files"] == ["6"]
    assert facts["bastion:fact:hf.vocab_size"] == ["32000"]
    assert facts["bastion:fact:hf.chat_template"] == ["true"]
    assert facts["bastion:scan-status"] == ["scanned"]
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]


def test_the_model_card_comes_from_the_config_beside_the_weights(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    model = components(document(result, root))["model:llama"]
    assert model["modelCard"] == {"modelParameters": {
        "task": "text-generation", "architectureFamily": "llama", "modelArchitecture": "LlamaForCausalLM"}}


def test_a_model_file_outside_a_model_folder_is_its_own_model(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    by_ref = components(document(result, root))
    evil = by_ref["model:evil.pkl"]
    assert evil["type"] == "machine-learning-model"
    assert evil["hashes"][0]["content"] == sha(str(root / "evil.pkl"))
    assert props(evil)["bastion:format"] == ["pickle"]
    assert "modelCard" not in evil  # nothing in the facts to fill it with, and nothing is guessed


def test_an_incomplete_target_says_so_on_its_component(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    broken = components(document(result, root))["model:broken.pt"]
    assert props(broken)["bastion:scan-status"] == ["incomplete"]
    assert "not a format Bastion recognises" in props(broken)["bastion:scan-reason"][0]
    meta = props(document(result, root)["metadata"])
    assert meta["bastion:scan-status"] == ["incomplete"]


def test_alternative_weight_formats_are_not_counted_twice(tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    result = ScanResult((
        target(folder / "config.json", "hf-config", facts={"format": "hf-config", "architecture": "BertModel"}),
        target(folder / "model.safetensors", "safetensors",
               facts={"format": "safetensors", "parameters": 110, "tensors": 199}),
        target(folder / "pytorch_model.bin", "pytorch-zip", facts={"parameters": 110}),
        target(folder / "onnx" / "model.onnx", "onnx", facts={"format": "onnx", "parameters": 109}),
    ), ())
    doc = document(result, tmp_path)
    model = components(doc)["model:bert"]
    assert props(model)["bastion:parameters"] == ["110"]
    assert {c["name"] for c in model["components"]} == {"bert/config.json", "bert/model.safetensors",
                                                         "bert/pytorch_model.bin", "bert/onnx/model.onnx"}
    assert model["modelCard"] == {"modelParameters": {"modelArchitecture": "BertModel"}}


def test_a_scanned_model_folder_is_the_model(tmp_path: Path) -> None:
    result = ScanResult((
        target(tmp_path / "config.json", "hf-config", facts={"format": "hf-config", "task": "fill-mask"}),
        target(tmp_path / "model.safetensors", "safetensors", facts={"format": "safetensors", "parameters": 7}),
    ), ())
    doc = document(result, tmp_path)
    model = components(doc)["model:."]
    assert model["name"] == tmp_path.name
    assert model["modelCard"]["modelParameters"]["task"] == "fill-mask"


def test_sub_models_stand_alone_and_weightless_sub_folders_join_their_model(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    hf = {"format": "hf-config"}
    result = ScanResult((
        target(pipe / "model_index.json", "hf-config", facts=hf),
        target(pipe / "tokenizer" / "tokenizer_config.json", "hf-tokenizer-config",
               facts={"format": "hf-tokenizer-config"}),
        target(pipe / "unet" / "config.json", "hf-config", facts={**hf, "architecture": "UNet2DConditionModel"}),
        target(pipe / "unet" / "model.safetensors", "safetensors", facts={"format": "safetensors", "parameters": 9}),
        target(pipe / "vae" / "config.json", "hf-config", facts={**hf, "architecture": "AutoencoderKL"}),
        target(pipe / "vae" / "model.safetensors", "safetensors", facts={"format": "safetensors", "parameters": 3}),
    ), ())
    by_ref = components(document(result, tmp_path))
    assert by_ref["model:pipe/unet"]["modelCard"]["modelParameters"]["modelArchitecture"] == "UNet2DConditionModel"
    assert props(by_ref["model:pipe/vae"])["bastion:parameters"] == ["3"]
    assert "model:pipe" not in by_ref  # no weights of its own
    assert by_ref["file:pipe/tokenizer/tokenizer_config.json"]["type"] == "file"
    llama = tmp_path / "llama"
    result = ScanResult((
        target(llama / "config.json", "hf-config", facts=hf),
        target(llama / "model.safetensors", "safetensors", facts={"format": "safetensors"}),
        target(llama / "original" / "tokenizer_config.json", "hf-tokenizer-config",
               facts={"format": "hf-tokenizer-config"}),
    ), ())
    model = components(document(result, tmp_path))["model:llama"]
    assert "llama/original/tokenizer_config.json" in {c["name"] for c in model["components"]}


def test_configs_without_weights_are_plain_files(tmp_path: Path) -> None:
    result = ScanResult((target(tmp_path / "tok" / "tokenizer_config.json", "hf-tokenizer-config",
                                facts={"format": "hf-tokenizer-config"}),), ())
    doc = document(result, tmp_path)
    assert [c["type"] for c in doc["components"]] == ["file"]
    assert not any(c["type"] == "machine-learning-model" for c in components(doc).values())


# ---- datasets ----

def test_datasets_are_data_components_with_column_names(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    by_ref = components(document(result, root))
    train = by_ref["data:data/train.csv"]
    assert train["type"] == "data"
    assert train["hashes"][0]["content"] == sha(str(root / "data/train.csv"))
    assert props(train)["bastion:format"] == ["csv"]
    [described] = train["data"]
    assert described["type"] == "dataset"
    assert [p["value"] for p in described["contents"]["properties"]] == ["age", "income", "label"]
    parquet = by_ref["data:data/table.parquet"]
    assert [p["value"] for p in parquet["data"][0]["contents"]["properties"]] == ["id", "text"]
    assert props(by_ref["data:data/embeddings.npy"])["bastion:format"] == ["npy"]  # an array outside model folders
    assert "data:llama/rope.npy" not in by_ref  # inside one it is part of the model


def test_no_cell_value_reaches_the_bom(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    text = bom_json(build_bom(result, str(root)))
    people = components(json.loads(text))["data:data/people.csv"]
    assert props(people)["bastion:format"] == ["csv"]
    assert "contents" not in people["data"][0]  # the first row is data, not a header
    for value in ("Alice", "Smith", "London", "5000"):
        assert value not in text


@pytest.mark.parametrize(("head", "tail", "expected"), [
    (b"PAR1\x15\x04", b"PAR1", "parquet"),
    (b"ARROW1\x00\x00", b"ARROW1", "arrow"),
    (b"FEA1\x00", b"", "feather"),
    (b"ORC\x0a", b"", "orc"),
    (b"Obj\x01\x04", b"", "avro"),
])
def test_columnar_formats_by_magic(head: bytes, tail: bytes, expected: str) -> None:
    assert sniff_binary(head, tail) == expected


def test_parquet_needs_its_footer_magic_too() -> None:
    assert sniff_binary(b"PAR1 and then prose", b"ose.") is None


@pytest.mark.parametrize(("text", "expected"), [
    (b'{"text": "hi", "label": 1}\n{"text": "yo", "label": 0}\n', DatasetInfo("jsonl", ("text", "label"))),
    (b'{"alice@example.com": 1}\n{"bob@example.com": 2}\n', DatasetInfo("jsonl", ())),
    (b"id\tscore\tname\n1\t0.5\tx\n2\t0.7\ty\n", DatasetInfo("tsv", ("id", "score", "name"))),
    (b"a;b\n1;2\n3;4\n", DatasetInfo("csv", ("a", "b"))),
    (b"\xef\xbb\xbfx,y\n1,2\n3,4\n", DatasetInfo("csv", ("x", "y"))),
    (b"1,2,3\n4,5,6\n7,8,9\n", DatasetInfo("csv", ())),
    (b'{"a": 1}\n', None),  # one JSON object: a document, not JSON Lines
    (b'{\n  "a": 1,\n  "b": 2\n}\n', None),
    (b"# Title\n\nSome prose, with a comma.\nAnother line without.\n", None),
    (b"def f(a, b):\n    return g(a, b, c)\n", None),
    (b"plain words\nno delimiters here\nat all\n", None),
    (b"a,b\x00c\n", None),
])
def test_text_datasets(text: bytes, expected: DatasetInfo | None) -> None:
    assert sniff_text(text, complete=True) == expected


def test_two_rows_are_a_table_only_under_a_table_name() -> None:
    assert sniff_text(b"x,y\n1,2\n", complete=True) is None
    assert sniff_text(b"x,y\n1,2\n", complete=True, suffix=".csv") == DatasetInfo("csv", ("x", "y"))


def test_only_the_head_of_a_large_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row = "1,2,3\n"
    path.write_text("a,b,c\n" + row * 40_000 + "4,5,\"cut")
    info = sniff_dataset(str(path), path.stat().st_size)
    assert info == DatasetInfo("csv", ("a", "b", "c"))
    assert sniff_dataset(str(tmp_path / "missing.csv"), 10) is None
    image = tmp_path / "photo.csv"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + b"a,b\n1,2\n" * 1000)
    assert sniff_dataset(str(image), image.stat().st_size) is None  # binary: not read past the first 4 KiB
    columnar = tmp_path / "blob"
    columnar.write_bytes(b"PAR1" + b"\x00" * 10_000 + b"PAR1")
    assert sniff_dataset(str(columnar), columnar.stat().st_size) == DatasetInfo("parquet")


# ---- vulnerabilities ----

def test_findings_become_vulnerabilities_affecting_their_component(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    doc = document(result, root)
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    assert set(vulns) == {"BST-PKL-001", "BST-HF-001", "BST-PKL-011"}
    evil = vulns["BST-PKL-001"]
    assert evil["affects"] == [{"ref": "model:evil.pkl"}]
    assert evil["source"] == {"name": "Bastion"}
    assert evil["ratings"] == [{"method": "other", "severity": "critical", "source": {"name": "Bastion"}}]
    assert evil["description"] == "Pickle imports os.system"
    assert evil["detail"].startswith("os.system runs commands")
    assert evil["recommendation"] == "Do not load this file."
    where = props(evil)
    assert where["bastion:location.path"] == ["evil.pkl"]
    assert where["bastion:location.offset"] == ["0"]
    assert where["bastion:evidence"] == ["os.system('id')"]
    assert sorted(where["bastion:ref"]) == ["ATLAS:AML.T0011.000", "OWASP-ML06"]
    template = vulns["BST-HF-001"]
    assert {a["ref"] for a in template["affects"]} == {"file:llama/tokenizer_config.json", "model:llama"}
    assert template["ratings"][0]["severity"] == "high"
    assert vulns["BST-PKL-011"]["affects"] == [{"ref": "root"}]  # a path no target holds: the scanned project
    every_ref = set(components(doc)) | {"root"}
    assert all(a["ref"] in every_ref for v in doc["vulnerabilities"] for a in v["affects"])


def test_vulnerability_refs_are_stable_and_unique(hand_built: tuple[ScanResult, Path]) -> None:
    result, root = hand_built
    twice = replace(result, findings=result.findings + result.findings[:1])
    first = [v["bom-ref"] for v in document(twice, root)["vulnerabilities"]]
    again = [v["bom-ref"] for v in document(twice, root)["vulnerabilities"]]
    assert sorted(first) == sorted(again)
    assert len(set(first)) == len(first) == 4
    assert all(ref.startswith("finding:BST-") for ref in first)


def test_metadata_names_bastion_and_the_project(hand_built: tuple[ScanResult, Path]) -> None:
    from bastion import __version__

    result, root = hand_built
    doc = document(result, root)
    meta = doc["metadata"]
    assert meta["tools"]["components"] == [{"name": "bastion", "type": "application", "version": __version__}]
    assert meta["component"] == {"bom-ref": "root", "name": "proj", "type": "application"}
    top = {c["bom-ref"] for c in doc["components"]}
    [root_deps] = [d for d in doc["dependencies"] if d["ref"] == "root"]
    assert set(root_deps["dependsOn"]) == top
    assert props(meta)["bastion:findings"] == ["3"]


def test_an_empty_scan_is_still_a_valid_bom(tmp_path: Path) -> None:
    doc = document(ScanResult((), ()), tmp_path)
    assert "components" not in doc and "vulnerabilities" not in doc


def test_importing_the_bom_code_does_not_import_cyclonedx() -> None:
    code = "import sys, bastion.supplychain.bom, bastion.cli.bom; print('cyclonedx' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "False", run.stderr


# ---- real scans ----

@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A generated project: a benign scikit-learn pickle, a malicious one, CSV, JSON Lines, and Parquet if possible."""
    from sklearn.linear_model import LogisticRegression

    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "data").mkdir()
    classifier = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    (root / "models" / "classifier.pkl").write_bytes(pickle.dumps(classifier))
    (root / "models" / "evil.pkl").write_bytes(MALICIOUS)
    (root / "data" / "train.csv").write_text("sepal_length,sepal_width,species\n5.1,3.5,0\n4.9,3.0,0\n6.2,3.4,2\n")
    (root / "data" / "chats.jsonl").write_text('{"prompt": "hi", "reply": "hello"}\n{"prompt": "bye", "reply": "ok"}\n')
    (root / "README.md").write_text("# A small AI project\n")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return root
    pq.write_table(pa.table({"id": [1, 2], "text": ["a", "b"]}), root / "data" / "table.parquet")
    return root


def test_a_real_scan_makes_a_valid_bom(project: Path) -> None:
    result = scan([str(project)])
    doc = document(result, project)
    by_ref = components(doc)
    classifier, evil = by_ref["model:models/classifier.pkl"], by_ref["model:models/evil.pkl"]
    assert classifier["type"] == evil["type"] == "machine-learning-model"
    digest = hashlib.sha256((project / "models" / "evil.pkl").read_bytes()).hexdigest()
    assert evil["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert props(by_ref["data:data/train.csv"])["bastion:format"] == ["csv"]
    assert by_ref["data:data/chats.jsonl"]["data"][0]["contents"]["properties"] == [
        {"name": "bastion:column", "value": "prompt"}, {"name": "bastion:column", "value": "reply"}]
    assert "file:README.md" not in by_ref
    affected = {a["ref"] for v in doc["vulnerabilities"] for a in v["affects"]}
    assert "model:models/evil.pkl" in affected
    assert "model:models/classifier.pkl" not in affected
    [system] = [v for v in doc["vulnerabilities"] if v["affects"] == [{"ref": "model:models/evil.pkl"}]
                and v["id"] == "BST-PKL-001"]
    assert "os.system" in system["description"]
    assert system["ratings"][0]["severity"] == "critical"


def test_a_real_parquet_file_is_a_dataset(project: Path) -> None:
    pytest.importorskip("pyarrow")
    by_ref = components(document(scan([str(project)]), project))
    parquet = by_ref["data:data/table.parquet"]
    assert props(parquet)["bastion:format"] == ["parquet"]
    assert parquet["hashes"][0]["content"] == hashlib.sha256((project / "data/table.parquet").read_bytes()).hexdigest()


# ---- the command ----

@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(bom_command)
    return app


def test_the_command_writes_a_valid_bom(cli: typer.Typer, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "bom.json"
    run = CliRunner().invoke(cli, [str(project), "--output", str(out)])
    assert run.exit_code == 0, run.output
    assert run.stdout == ""
    text = out.read_text("utf-8")
    assert validate_bom_json(text) == []
    assert "model:models/evil.pkl" in {a["ref"] for v in json.loads(text)["vulnerabilities"] for a in v["affects"]}
    assert not list(tmp_path.glob(".bom.json.*"))  # the atomic write left no temporary file


def test_the_command_prints_to_stdout_without_output(cli: typer.Typer, project: Path) -> None:
    run = CliRunner().invoke(cli, [str(project)])
    assert run.exit_code == 0, run.output
    assert validate_bom_json(run.stdout) == []


def test_a_bad_path_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    run = CliRunner().invoke(cli, [str(tmp_path / "nowhere")])
    assert run.exit_code == 2
    assert "no such file or directory" in run.stderr
    run = CliRunner().invoke(cli, [str(tmp_path), "--output", str(tmp_path / "no" / "bom.json")])
    assert run.exit_code == 2
    assert "does not exist" in run.stderr
    run = CliRunner().invoke(cli, [str(tmp_path), "--config", str(tmp_path / "missing.toml")])
    assert run.exit_code == 2
    assert "missing.toml: no such file" in run.stderr


def test_an_incomplete_scan_still_writes_the_bom_and_says_so(cli: typer.Typer, project: Path,
                                                               tmp_path: Path) -> None:
    (project / "models" / "weights.pt").write_bytes(b"not a model at all, just text")
    out = tmp_path / "bom.json"
    run = CliRunner().invoke(cli, [str(project), "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert "incomplete" in run.stderr and "weights.pt" in run.stderr
    weights = components(json.loads(out.read_text("utf-8")))["model:models/weights.pt"]
    assert props(weights)["bastion:scan-status"] == ["incomplete"]


def test_without_jsonschema_the_bom_is_written_unchecked_and_says_so(cli: typer.Typer, project: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import bastion.supplychain.bom as bom_package

    assert bom_package.can_validate()  # the dev environment has the validator
    monkeypatch.setattr(bom_package, "can_validate", lambda: False)
    out = tmp_path / "bom.json"
    run = CliRunner().invoke(cli, [str(project), "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert "not checked against the CycloneDX 1.6 schema" in run.stderr
    assert validate_bom_json(out.read_text("utf-8")) == []
