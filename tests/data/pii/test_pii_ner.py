"""The NER plug-in: spec parsing, the model-file gate, label mapping, and the spaCy, ONNX and GLiNER adapters.

spaCy and ONNX run real (tiny) models built here; GLiNER needs a downloaded model, so only its error paths and its
output mapping are tested, through a fake ``gliner`` module.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bastion.data.pii.entities import Entity
from bastion.data.pii.ner import NerError, UnsafeModelError, gate, load_ner, map_label, parse_spec

EVIL_PICKLE = b"cos\nsystem\n(S'echo hi'\ntR."
"""Protocol-0 pickle that would call os.system('echo hi'); written to disk, never unpickled."""


def spans(text: str, entities: list[Entity]) -> list[tuple[str, str]]:
    return [(e.type, text[e.start:e.end]) for e in entities]


@pytest.fixture
def evil_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "weights.pkl").write_bytes(EVIL_PICKLE)
    return folder


# --- labels and specs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "expected"), [
    ("PER", "PERSON"), ("PERSON", "PERSON"), ("person", "PERSON"), ("LOC", "LOCATION"), ("GPE", "LOCATION"),
    ("location", "LOCATION"), ("ORG", "ORGANIZATION"), ("organization", "ORGANIZATION"), ("NORP", "NRP"),
    ("DATE", "DATE_TIME"), ("phone number", "PHONE_NUMBER"), ("MISC", None), ("PRODUCT", None),
])
def test_labels_map_to_presidio_names(label: str, expected: str | None) -> None:
    assert map_label(label) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("bert:/tmp", "unknown NER model"),
    ("no-scheme-here", "unknown NER model"),
    ("spacy:", "names no path"),
    ("spacy:en_core_web_sm", "does not load NER models by package or hub name"),
    ("gliner:urchade_gliner_small", "does not load NER models by package or hub name"),
])
def test_bad_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(NerError, match=message):
        load_ner(spec)


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NerError, match="no such file or directory"):
        load_ner(f"onnx:{tmp_path / 'absent'}")


def test_spacy_and_gliner_need_a_directory(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"x")
    assert parse_spec(f"SPACY:{model}") == ("spacy", model)
    with pytest.raises(NerError, match="is not a directory"):
        load_ner(f"spacy:{model}")


# --- the model-file gate ----------------------------------------------------------------------------------------


def test_gate_refuses_a_malicious_pickle_before_any_library_loads(evil_folder: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)  # loading would fail loudly; the gate must stop first
    with pytest.raises(UnsafeModelError, match="BST-PKL-001") as caught:
        load_ner(f"spacy:{evil_folder}")
    assert "os.system" in str(caught.value)
    assert caught.value.result.worst() is not None


def test_gate_lets_an_unsafe_model_through_with_a_warning(evil_folder: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bastion.pii"):
        result = gate(evil_folder, allow_unsafe=True)
    assert [f.rule_id for f in result.findings] == ["BST-PKL-001"]
    assert "UNSAFE" in caplog.text and "BST-PKL-001" in caplog.text


def test_gate_warns_about_files_it_could_not_examine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x80")  # like spaCy's msgpack lookups.bin: a .bin Bastion cannot read
    with caplog.at_level(logging.WARNING, logger="bastion.pii"):
        result = gate(tmp_path)
    assert result.findings == () and "could not fully examine 1 file(s)" in caplog.text


def test_missing_backend_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(NerError, match="pip install spacy"):
        load_ner(f"spacy:{tmp_path}")


# --- spaCy ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spacy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spacy = pytest.importorskip("spacy", reason="spaCy is not installed (pip install spacy): spaCy NER untested")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "PERSON", "pattern": "Ada Lovelace"}, {"label": "GPE", "pattern": "Paris"},
        {"label": "ORG", "pattern": "Acme Corp"}, {"label": "PRODUCT", "pattern": "Widget"},
    ])
    path = tmp_path_factory.mktemp("spacy") / "model"
    nlp.to_disk(path)
    return Path(path)


def test_spacy_pipeline_finds_names_places_and_organisations(spacy_model: Path) -> None:
    ner = load_ner(f"spacy:{spacy_model}")
    texts = ["Ada Lovelace  moved to Paris.", "", "Acme Corp sells the Widget in Paris"]
    found = ner.find(texts)
    assert ner.name == "spacy"
    assert ner.entity_types == {"PERSON", "LOCATION", "ORGANIZATION"}
    assert spans(texts[0], found[0]) == [("PERSON", "Ada Lovelace"), ("LOCATION", "Paris")]
    assert found[0][1] == Entity("LOCATION", 23, 28, 0.85, "ner:spacy")
    assert found[1] == []
    assert spans(texts[2], found[2]) == [("ORGANIZATION", "Acme Corp"), ("LOCATION", "Paris")]  # PRODUCT dropped


def test_unsafe_spacy_folder_loads_only_when_allowed(spacy_model: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    folder = Path(shutil.copytree(spacy_model, tmp_path / "model"))
    (folder / "extra.pkl").write_bytes(EVIL_PICKLE)
    with pytest.raises(UnsafeModelError, match="BST-PKL-001"):
        load_ner(f"spacy:{folder}")
    with caplog.at_level(logging.WARNING, logger="bastion.pii"):
        ner = load_ner(f"spacy:{folder}", allow_unsafe=True)
    assert "UNSAFE" in caplog.text
    assert spans("Hello Ada Lovelace", ner.find(["Hello Ada Lovelace"])[0]) == [("PERSON", "Ada Lovelace")]


# --- ONNX token classifier --------------------------------------------------------------------------------------

ID2LABEL = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
WORDS: dict[str, tuple[int, float]] = {
    "[PAD]": (0, 4.0), "[UNK]": (0, 4.0), "Ada": (1, 4.0), "Lovelace": (2, 2.0), "Grace": (1, 4.0),
    "Hopper": (2, 4.0), "New": (3, 4.0), "York": (4, 4.0), "Paris": (3, 4.0), "lives": (0, 4.0), "in": (0, 4.0),
    "and": (0, 4.0), "met": (0, 4.0), "Love": (2, 4.0), "##lace": (0, 4.0),
}
"""Vocabulary: word -> (label id whose logit is raised, by how much); every other logit is 0."""


def p(strength: float) -> float:
    """Softmax probability of the raised logit among 5."""
    return math.exp(strength) / (math.exp(strength) + 4)


def build_onnx_ner(folder: Path, tokenizer: Any) -> Path:
    """A real token classifier: logits = embedding table[input_ids] * attention_mask."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save

    table = np.zeros((len(WORDS), len(ID2LABEL)), dtype=np.float32)
    for row, (label, strength) in enumerate(WORDS.values()):
        table[row, label] = strength
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["embedded"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["logits"]),
    ]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
              for name in ("input_ids", "attention_mask")]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", len(ID2LABEL)])
    constants = [numpy_helper.from_array(table, "table"),
                 numpy_helper.from_array(np.array([-1], dtype=np.int64), "last_axis")]
    graph = helper.make_graph(nodes, "tiny-ner", inputs, [output], constants)
    folder.mkdir(parents=True)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    save(model, str(folder / "model.onnx"))
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"id2label": {str(k): v for k, v in ID2LABEL.items()}}))
    return folder


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="onnx is not installed: ONNX NER untested")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed (pip install tokenizers)")
    vocab = {word: index for index, word in enumerate(WORDS)}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return build_onnx_ner(tmp_path_factory.mktemp("onnx") / "word-level", tokenizer)


def test_onnx_spans_merge_tokens_and_keep_character_offsets(onnx_model: Path) -> None:
    ner = load_ner(f"onnx:{onnx_model}")
    text = "  Ada   Lovelace  lives in  New   York , and met Grace Hopper in Paris."
    [found] = ner.find([text])
    assert ner.name == "onnx" and ner.entity_types == {"PERSON", "LOCATION"}
    assert spans(text, found) == [("PERSON", "Ada   Lovelace"), ("LOCATION", "New   York"),
                                  ("PERSON", "Grace Hopper"), ("LOCATION", "Paris")]
    assert (found[0].start, found[0].end) == (2, 16)
    assert found[0].score == pytest.approx((p(4.0) + p(2.0)) / 2)
    assert found[0].recognizer == "ner:onnx"


def test_onnx_b_tags_and_type_changes_split_spans(onnx_model: Path) -> None:
    ner = load_ner(f"onnx:{onnx_model / 'model.onnx'}")  # the model file itself is accepted too
    texts = ["Ada Grace Paris", "York", "Hopper Paris York"]
    found = ner.find(texts)
    assert spans(texts[0], found[0]) == [("PERSON", "Ada"), ("PERSON", "Grace"), ("LOCATION", "Paris")]
    assert spans(texts[1], found[1]) == [("LOCATION", "York")]  # a stray I- begins a span
    assert spans(texts[2], found[2]) == [("PERSON", "Hopper"), ("LOCATION", "Paris York")]


def test_onnx_batches_and_windows_give_the_same_answer(onnx_model: Path) -> None:
    from bastion.data.pii.ner_onnx import OnnxTokenNer

    texts = ["", "Paris", "Ada Lovelace lives in New York and met Grace Hopper in Paris and New York"] * 3
    whole = OnnxTokenNer(onnx_model).find(texts)
    batched_and_windowed = OnnxTokenNer(onnx_model, batch_size=2, max_length=4, stride=2).find(texts)
    assert batched_and_windowed == whole
    assert len(whole[2]) == 5 and whole[0] == []


def test_onnx_word_pieces_take_the_first_piece_label(tmp_path: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed (pip install tokenizers)")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    pytest.importorskip("onnx", reason="onnx is not installed: ONNX NER untested")
    vocab = {word: index for index, word in enumerate(WORDS) if word != "Lovelace"}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    folder = build_onnx_ner(tmp_path / "word-piece", tokenizer)
    text = "Ada  Lovelace in Paris"  # Lovelace = Love (I-PER) + ##lace (O): the word is I-PER as a whole
    [found] = load_ner(f"onnx:{folder}").find([text])
    assert spans(text, found) == [("PERSON", "Ada  Lovelace"), ("LOCATION", "Paris")]
    assert found[0].score == pytest.approx(p(4.0))


def test_onnx_folder_without_tokenizer_is_explained(onnx_model: Path, tmp_path: Path) -> None:
    import shutil

    folder = Path(shutil.copytree(onnx_model, tmp_path / "model"))
    (folder / "tokenizer.json").unlink()
    with pytest.raises(NerError, match="tokenizer.json"):
        load_ner(f"onnx:{folder}")
    (folder / "config.json").write_text("{}")
    with pytest.raises(NerError, match="id2label"):
        load_ner(f"onnx:{folder}")


# --- GLiNER (no model available: fakes) --------------------------------------------------------------------------


class FakeGliner:
    """Stands in for gliner.GLiNER: records how it was loaded and returns canned predictions."""

    loaded: dict[str, Any] = {}

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs: Any) -> FakeGliner:
        cls.loaded = {"model_id": model_id, **kwargs}
        return cls()

    def predict_entities(self, text: str, labels: list[str], threshold: float = 0.5) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{"start": 0, "end": 3, "text": text[:3], "label": "person", "score": 0.9},
                {"start": 4, "end": 9, "text": text[4:9], "label": "location", "score": 0.7},
                {"start": 10, "end": 12, "text": text[10:12], "label": "award", "score": 0.8}]  # a label never asked
        return [row for row in rows if row["end"] <= len(text) and row["score"] >= threshold
                and row["label"] in [*labels, "award"]]


class FakeBatchedGliner(FakeGliner):
    """gliner >= 0.2.2x: the batched call is ``inference``."""

    calls: list[dict[str, Any]] = []

    def inference(self, texts: list[str], labels: list[str], threshold: float = 0.5,
                  batch_size: int = 8) -> list[list[dict[str, Any]]]:
        FakeBatchedGliner.calls.append({"labels": labels, "threshold": threshold, "batch_size": batch_size})
        return [self.predict_entities(text, labels, threshold) for text in texts]


def fake_gliner_module(monkeypatch: pytest.MonkeyPatch, cls: type[FakeGliner]) -> None:
    module = types.ModuleType("gliner")
    module.GLiNER = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gliner", module)


def test_gliner_missing_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gliner", None)
    with pytest.raises(NerError, match="pip install gliner"):
        load_ner(f"gliner:{tmp_path}")


def test_gliner_labels_must_have_a_presidio_type(tmp_path: Path) -> None:
    from bastion.data.pii.ner_gliner import GlinerNer

    with pytest.raises(NerError, match="award"):
        GlinerNer(tmp_path, labels=("person", "award"))


def test_gliner_loads_local_files_only_and_maps_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gliner_module(monkeypatch, FakeBatchedGliner)
    ner = load_ner(f"gliner:{tmp_path}")
    assert FakeBatchedGliner.loaded == {"model_id": str(tmp_path), "local_files_only": True}
    texts = ["Ada Paris is", "Ada"]
    found = ner.find(texts)
    assert ner.name == "gliner" and ner.entity_types == {"PERSON", "LOCATION", "ORGANIZATION"}
    assert found == [[Entity("PERSON", 0, 3, 0.9, "ner:gliner"), Entity("LOCATION", 4, 9, 0.7, "ner:gliner")],
                     [Entity("PERSON", 0, 3, 0.9, "ner:gliner")]]  # "award" has no Presidio type: dropped
    assert FakeBatchedGliner.calls[-1] == {"labels": ["person", "location", "organization"], "threshold": 0.5,
                                           "batch_size": 8}


def test_gliner_without_batched_api_predicts_text_by_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bastion.data.pii.ner_gliner import GlinerNer

    fake_gliner_module(monkeypatch, FakeGliner)
    ner = GlinerNer(tmp_path, labels=("location", "person"), threshold=0.8)
    assert ner.entity_types == {"LOCATION", "PERSON"}
    assert ner.find(["Ada Paris", "Bob"]) == [[Entity("PERSON", 0, 3, 0.9, "ner:gliner")],
                                              [Entity("PERSON", 0, 3, 0.9, "ner:gliner")]]
