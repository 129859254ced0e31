"""The analysis half of ``hf_config``: facts, chat templates and remote-code references, imported only when a
Hugging Face config is analysed (``hf_config`` keeps the analyser and its key-based ``sniff``).
"""

from __future__ import annotations

import re

from bastion.supplychain.formats._chat_template_impl import report_template
from bastion.supplychain.formats.chat_template import looks_like_template
from bastion.supplychain.formats.interface import Blob, Report

__all__ = ["MAX_TEMPLATES", "analyse", "task_of"]

_TOKENIZER_KEYS = frozenset({"tokenizer_class", "chat_template", "added_tokens_decoder", "model_max_length"})
_TASK_SUFFIXES = (
    ("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"),
    ("ForSequenceClassification", "text-classification"), ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"), ("ForMaskedLM", "fill-mask"),
    ("ForMultipleChoice", "multiple-choice"), ("ForImageClassification", "image-classification"),
    ("ForObjectDetection", "object-detection"), ("ForZeroShotObjectDetection", "zero-shot-object-detection"),
    ("ForSemanticSegmentation", "image-segmentation"), ("ForUniversalSegmentation", "image-segmentation"),
    ("ForInstanceSegmentation", "image-segmentation"), ("ForImageSegmentation", "image-segmentation"),
    ("ForCTC", "automatic-speech-recognition"), ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForAudioClassification", "audio-classification"), ("ForImageTextToText", "image-text-to-text"),
    ("ForVision2Seq", "image-text-to-text"), ("ForSeq2SeqLM", "text2text-generation"),
    ("ForDepthEstimation", "depth-estimation"), ("ForMaskGeneration", "mask-generation"),
    ("ForTextToSpeech", "text-to-speech"), ("ForTextToWaveform", "text-to-speech"),
    ("ForVideoClassification", "video-classification"), ("ForTableQuestionAnswering", "table-question-answering"),
    ("ForDocumentQuestionAnswering", "document-question-answering"), ("ForKeypointDetection", "keypoint-detection"),
)
_SPEECH_MODELS = frozenset({"whisper", "speech_to_text", "speech-encoder-decoder", "seamless_m4t",
                            "seamless_m4t_v2", "moonshine"})
_VISION_LANGUAGE = re.compile(r"llava|paligemma|idefics|qwen2(_5)?_vl|mllama|gemma3|pixtral|blip|kosmos|florence|"
                              r"fuyu|smolvlm|aya_vision|mistral3|llama4|internvl|chameleon|emu3|got_ocr|molmo")
_CODE_REFERENCE = re.compile(r"(?:(?P<repo>[\w.-]+/[\w.-]+)--)?(?P<target>[A-Za-z_][\w.]*\.[A-Za-z_]\w*)")
MAX_TEMPLATES = 64
"""Most template strings analysed per config."""


def task_of(architecture: str, config: dict[str, object]) -> str | None:
    """The pipeline task an architecture class name implies (``LlamaForCausalLM`` -> text-generation)."""
    for suffix, task in _TASK_SUFFIXES:
        if architecture.endswith(suffix):
            return task
    if architecture.endswith("ForConditionalGeneration"):
        model_type = str(config.get("model_type") or "").lower()
        if model_type in _SPEECH_MODELS:
            return "automatic-speech-recognition"
        if "vision_config" in config or _VISION_LANGUAGE.search(model_type):
            return "image-text-to-text"
        return "text2text-generation"
    if architecture.endswith("Model"):
        return "feature-extraction"
    return None


def analyse(blob: Blob, report: Report) -> None:
    """Record facts, analyse chat templates, and report remote-code references."""
    try:
        data = blob.json()
    except ValueError as exc:
        report.not_examined(blob.member, str(exc))
        return
    if not isinstance(data, dict):
        report.not_examined(blob.member, "the JSON document is not an object")
        return
    _record_facts(data, report)
    _templates(data, blob, report)
    _remote_code(data, blob, report)


def _record_facts(data: dict[str, object], report: Report) -> None:
    architectures = data.get("architectures")
    architecture = next((a for a in architectures if isinstance(a, str)), None) if isinstance(architectures,
                                                                                               list) else None
    tokenizer = any(key in data for key in _TOKENIZER_KEYS) and architecture is None
    report.fact("format", "hf-tokenizer-config" if tokenizer else "hf-config")
    if architecture:
        report.fact("architecture", architecture)
        task = task_of(architecture, data)
        if task:
            report.fact("task", task)
    if isinstance(data.get("transformers_version"), str):
        report.fact("framework", "transformers")
    for key, fact in (("model_type", "hf.model_type"), ("tokenizer_class", "hf.tokenizer_class"),
                      ("transformers_version", "hf.transformers_version"), ("torch_dtype", "dtype"),
                      ("dtype", "dtype"), ("license", "license")):
        value = data.get(key)
        if isinstance(value, str) and value:
            report.fact(fact, value[:200])
    for key in ("num_parameters", "n_parameters", "num_params"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            report.fact("parameters", value)
            break


def _templates(data: dict[str, object], blob: Blob, report: Report) -> None:
    """Every chat template in the config, by key; other top-level strings only when they carry Jinja markup."""
    found: list[tuple[str, str, bool]] = []
    for key, value in data.items():
        if "template" in key.lower():
            found.extend((where, text, True) for where, text in _named_templates(key, value))
        elif isinstance(value, str) and looks_like_template(value):
            found.append((key, value, False))  # not declared a template: a parse failure is not news
    for where, text, declared in found[:MAX_TEMPLATES]:
        report_template(report, text, where, blob.member, None, parse_errors=declared)
    if len(found) > MAX_TEMPLATES:
        report.not_examined(blob.member, f"{len(found)} templates; only the first {MAX_TEMPLATES} were analysed")


def _named_templates(key: str, value: object) -> list[tuple[str, str]]:
    """``chat_template`` as a string, a list of {name, template} entries, or a name -> template mapping."""
    if isinstance(value, str):
        return [(key, value)]
    if isinstance(value, dict):
        return [(f"{key}[{name!r}]", text) for name, text in value.items() if isinstance(text, str)]
    if isinstance(value, list):
        out = []
        for index, entry in enumerate(value):
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                name = entry.get("name")
                out.append((f"{key}[{name!r}]" if isinstance(name, str) else f"{key}[{index}]", entry["template"]))
            elif isinstance(entry, str):
                out.append((f"{key}[{index}]", entry))
        return out
    return []


def _code_references(data: dict[str, object]) -> list[tuple[str, str]]:
    """(where, reference) for auto_map entries (a string or a [slow, fast] pair) and custom pipeline impls."""
    refs: list[tuple[str, str]] = []
    auto_map = data.get("auto_map")
    if isinstance(auto_map, dict):
        for auto_class, value in auto_map.items():
            for ref in value if isinstance(value, list) else [value]:
                if isinstance(ref, str) and ref:
                    refs.append((f"auto_map.{auto_class}", ref))
    pipelines = data.get("custom_pipelines")
    if isinstance(pipelines, dict):
        for task, spec in pipelines.items():
            impl = spec.get("impl") if isinstance(spec, dict) else None
            if isinstance(impl, str) and impl:
                refs.append((f"custom_pipelines.{task}.impl", impl))
    return refs


def _remote_code(data: dict[str, object], blob: Blob, report: Report) -> None:
    local: list[str] = []
    external: dict[str, list[str]] = {}
    for where, ref in _code_references(data):
        match = _CODE_REFERENCE.fullmatch(ref)
        repo = match.group("repo") if match else None
        if repo:
            external.setdefault(repo, []).append(f"{where} = {ref}")
        else:
            local.append(f"{where} = {ref}")
    if local:
        names = ", ".join(dict.fromkeys(entry.split(" = ", 1)[1] for entry in local))
        report.add("BST-HF-001", f"Hugging Face config requires trust_remote_code: {_clip(names)}",
                   "Loading this model runs Python shipped in its repository: " + "; ".join(local[:8])
                   + (f" and {len(local) - 8} more" if len(local) > 8 else "") + ".",
                   blob.member, None, evidence=_clip("; ".join(local)))
    for repo, entries in external.items():
        report.add("BST-HF-002", f"Hugging Face config loads code from another repository: {repo}",
                   f"With trust_remote_code=True, Transformers downloads and runs Python from the repository "
                   f"{repo}, not the one being reviewed: " + "; ".join(entries[:8]) + ".",
                   blob.member, None, evidence=_clip("; ".join(entries)))


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
