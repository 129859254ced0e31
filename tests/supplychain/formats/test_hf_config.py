"""Hugging Face JSON configs: strict recognition by keys, facts, chat templates, and remote-code references."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import Limits, Settings
from bastion.findings import Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain.formats.chat_template import ANALYZER as TEMPLATE_FILES
from bastion.supplychain.formats.hf_config import ANALYZER, task_of
from bastion.supplychain.formats.interface import Blob
from bastion.supplychain.modelfiles import ModelFileCheck
from bastion.supplychain.pickle import BufferSource
from bastion.taxonomy import rule

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EVIL = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
BENIGN = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "bfloat16",
    "transformers_version": "4.44.0", "hidden_size": 4096, "num_hidden_layers": 32, "vocab_size": 128256,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "rope_scaling": {"rope_type": "llama3"},
}
TOKENIZER_CONFIG = {
    "add_bos_token": True, "bos_token": "<|begin_of_text|>", "clean_up_tokenization_spaces": True,
    "eos_token": "<|eot_id|>", "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast",
    "added_tokens_decoder": {"128000": {"content": "<|begin_of_text|>", "special": True}},
    "chat_template": BENIGN,
}


@dataclass
class Recorder:
    """A Report that keeps everything; fails on unknown rule ids."""

    deadline: float = field(default_factory=lambda: time.monotonic() + 30)
    limits: Limits = field(default_factory=Limits)
    findings: list[tuple[str, Severity, str, str]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        self.findings.append((rule_id, severity or rule(rule_id).severity, title, detail))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(why)

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        raise AssertionError("configs have no nested content")

    def rules(self, at_least: Severity = Severity.INFO) -> set[str]:
        return {f[0] for f in self.findings if f[1] >= at_least}


def blob_of(data: bytes, name: str = "config.json") -> Blob:
    return Blob(BufferSource(data), len(data), data[:512], None, name, None, lambda: memoryview(data))


def analyse(document: object) -> Recorder:
    blob = blob_of(json.dumps(document).encode())
    assert ANALYZER.sniff(blob), document
    report = Recorder()
    ANALYZER.analyse(blob, report)
    return report


def examine(path: Path) -> CheckOutcome:
    check = ModelFileCheck(analyzers=(ANALYZER, TEMPLATE_FILES))
    return check.examine(Target(str(path), path, path.stat().st_size), Settings())


# ---- recognition ----
@pytest.mark.parametrize("document", [
    LLAMA_CONFIG, TOKENIZER_CONFIG, {"chat_template": BENIGN},
    {"_from_model_config": True, "bos_token_id": 1, "transformers_version": "4.40.0"},
    {"model_type": "linear_regression", "torch_dtype": "float32"},
    {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},  # special_tokens_map.json
])
def test_sniff_accepts_hugging_face_configs(document: object) -> None:
    assert ANALYZER.sniff(blob_of(json.dumps(document).encode()))


@pytest.mark.parametrize("document", [
    {"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": []},
     "registered_name": "Functional", "build_config": {}, "model_type": "x", "torch_dtype": "y"},
    {"__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ObjectNode", "content": {},
     "_name_or_path": "x"},
    {"name": "advanced_threat", "config": {"api_endpoint": "http://example.invalid"}},
    {"version": "1.0", "added_tokens": [], "normalizer": None, "model": {"type": "BPE", "vocab": {}}},
    {"architectures": "LlamaForCausalLM"},  # wrong type for a strong key, and nothing else
    {"model_type": "llama"},
    ["chat_template", "architectures"],
])
def test_sniff_rejects_other_json(document: object) -> None:
    assert not ANALYZER.sniff(blob_of(json.dumps(document).encode()))


@pytest.mark.parametrize("data", [b"", b"not json", b"{\"chat_template\": ", b"\xef\xbb\xbf{}", b"{" * 5000])
def test_sniff_rejects_broken_json(data: bytes) -> None:
    assert not ANALYZER.sniff(blob_of(data))


# ---- facts ----
def test_model_config_facts() -> None:
    report = analyse(LLAMA_CONFIG)
    assert report.findings == [] and report.incomplete == []
    assert report.facts == {
        "format": "hf-config", "architecture": "LlamaForCausalLM", "task": "text-generation",
        "framework": "transformers", "hf.model_type": "llama", "hf.transformers_version": "4.44.0",
        "dtype": "bfloat16",
    }


def test_tokenizer_config_facts() -> None:
    report = analyse(TOKENIZER_CONFIG)
    assert report.findings == [] and report.facts == {
        "format": "hf-tokenizer-config", "hf.tokenizer_class": "PreTrainedTokenizerFast"}


def test_stated_parameters_license_and_new_dtype_key() -> None:
    report = analyse({"architectures": ["BertModel"], "dtype": "float16", "license": "apache-2.0",
                      "num_parameters": 110_000_000})
    assert report.facts["dtype"] == "float16" and report.facts["license"] == "apache-2.0"
    assert report.facts["parameters"] == 110_000_000 and report.facts["task"] == "feature-extraction"


@pytest.mark.parametrize(("architecture", "config", "task"), [
    ("LlamaForCausalLM", {}, "text-generation"), ("GPT2LMHeadModel", {}, "text-generation"),
    ("BertForSequenceClassification", {}, "text-classification"),
    ("BertForTokenClassification", {}, "token-classification"),
    ("RobertaForQuestionAnswering", {}, "question-answering"), ("BertForMaskedLM", {}, "fill-mask"),
    ("T5ForConditionalGeneration", {"model_type": "t5"}, "text2text-generation"),
    ("LlavaForConditionalGeneration", {"model_type": "llava", "vision_config": {}}, "image-text-to-text"),
    ("Qwen2VLForConditionalGeneration", {"model_type": "qwen2_vl"}, "image-text-to-text"),
    ("WhisperForConditionalGeneration", {"model_type": "whisper"}, "automatic-speech-recognition"),
    ("ViTForImageClassification", {}, "image-classification"), ("DetrForObjectDetection", {}, "object-detection"),
    ("Wav2Vec2ForCTC", {}, "automatic-speech-recognition"), ("SomethingElse", {}, None),
])
def test_task_from_architecture(architecture: str, config: dict[str, object], task: str | None) -> None:
    assert task_of(architecture, config) == task


# ---- remote code ----
def test_auto_map_needs_trust_remote_code_medium() -> None:
    report = analyse({**LLAMA_CONFIG, "auto_map": {
        "AutoConfig": "configuration_phi3.Phi3Config", "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"}})
    assert [(f[0], f[1]) for f in report.findings] == [("BST-HF-001", Severity.MEDIUM)]
    title = report.findings[0][2]
    assert "configuration_phi3.Phi3Config" in title and "modeling_phi3.Phi3ForCausalLM" in title


def test_tokenizer_auto_map_pairs_and_custom_pipelines() -> None:
    report = analyse({**TOKENIZER_CONFIG,
                      "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]},
                      "custom_pipelines": {"text-generation": {"impl": "pipeline.MyPipeline", "pt": []}}})
    assert report.rules() == {"BST-HF-001"}
    detail = report.findings[0][3]
    assert "auto_map.AutoTokenizer = tokenization_chatglm.ChatGLMTokenizer" in detail
    assert "custom_pipelines.text-generation.impl = pipeline.MyPipeline" in detail


def test_auto_map_into_another_repository_is_high() -> None:
    report = analyse({**LLAMA_CONFIG, "auto_map": {
        "AutoConfig": "configuration_x.XConfig",
        "AutoModel": "someone-else/helper-repo--modeling_x.XModel"}})
    assert {(f[0], f[1]) for f in report.findings} == {("BST-HF-001", Severity.MEDIUM),
                                                       ("BST-HF-002", Severity.HIGH)}
    high = next(f for f in report.findings if f[0] == "BST-HF-002")
    assert high[2].endswith("someone-else/helper-repo") and "modeling_x.XModel" in high[3]


# ---- chat templates ----
def test_malicious_template_in_a_list_of_named_templates() -> None:
    report = analyse({**TOKENIZER_CONFIG, "chat_template": [
        {"name": "default", "template": BENIGN}, {"name": "tool_use", "template": EVIL}]})
    assert report.rules(Severity.CRITICAL) == {"BST-TPL-001", "BST-TPL-003"}
    assert all("chat_template['tool_use']" in f[3] for f in report.findings)


def test_templates_under_other_keys() -> None:
    hidden = analyse({**TOKENIZER_CONFIG, "custom_chat_template": EVIL, "note": "{{ x.__class__ }}"})
    assert hidden.rules(Severity.CRITICAL) == {"BST-TPL-001", "BST-TPL-003"}
    assert any("custom_chat_template" in f[3] for f in hidden.findings)
    assert any("note" in f[3] for f in hidden.findings)
    # A string that merely contains braces is not reported for failing to parse; a declared template is.
    assert analyse({**TOKENIZER_CONFIG, "note": "use {{ like this"}).findings == []
    assert analyse({**TOKENIZER_CONFIG, "chat_template": "{{ broken"}).rules() == {"BST-TPL-005"}


def test_too_many_templates_are_not_examined() -> None:
    report = analyse({"tokenizer_class": "X", **{f"t{i}_template": BENIGN for i in range(70)}})
    assert report.findings == [] and "only the first 64" in report.incomplete[0]


# ---- the shared corpus ----
def test_corpus_samples(shared_models: Path) -> None:
    root = shared_models / "modelaudit-assets" / "samples" / "jinja2"
    if not root.is_dir():
        pytest.skip("samples/jinja2 is absent")
    malicious = benign = 0
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".json", ".j2", ".jinja", ".template"):
            continue  # the YAML samples need a YAML parser, which Bastion does not ship
        outcome = examine(path)
        assert outcome.kind in ("hf-tokenizer-config", "jinja-template"), path  # the format fact names it
        top = max((f.severity for f in outcome.findings), default=Severity.INFO)
        name = str(path.relative_to(root))
        if "benign" in name or (name.startswith("edge_cases/") and "multiple_templates" not in name):
            assert top < Severity.MEDIUM, name
            benign += 1
        else:
            assert top >= Severity.HIGH, name
            malicious += 1
    assert malicious >= 24 and benign >= 14


def test_corpus_other_json_is_not_claimed(shared_models: Path) -> None:
    scenarios = shared_models / "modelaudit-assets" / "scenarios"
    mit = scenarios / "license_scenarios" / "mit_model" / "config.json"
    if not mit.is_file():
        pytest.skip("scenarios are absent")
    outcome = examine(mit)
    assert outcome.kind == "hf-config" and outcome.findings == [] and outcome.facts["license"] == "MIT"
    other = scenarios / "security_scenarios" / "mixed_malicious_model" / "config.json"
    assert examine(other).kind is None


# ---- fuzzing ----
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4), max_leaves=20)
_KEYS = st.sampled_from(["chat_template", "auto_map", "architectures", "custom_pipelines", "model_type",
                         "torch_dtype", "tokenizer_class", "x_template", "license", "num_parameters", "note"])


@FUZZ
@given(st.dictionaries(_KEYS, _JSON | st.sampled_from([EVIL, BENIGN, "{{ x", "a/b--m.C", ["m.C", None]]),
                       min_size=1, max_size=6))
def test_random_configs_never_raise(document: dict[str, object]) -> None:
    blob = blob_of(json.dumps({**document, "transformers_version": "4.0"}).encode())
    assert ANALYZER.sniff(blob)
    report = Recorder()
    ANALYZER.analyse(blob, report)
    assert all(f[0].startswith(("BST-TPL-", "BST-HF-")) for f in report.findings)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    blob = blob_of(b"{" + data)
    if ANALYZER.sniff(blob):
        ANALYZER.analyse(blob, Recorder())
