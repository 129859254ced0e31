"""NER with a token-classification model exported to ONNX (a BERT-like NER model run by onnxruntime on the CPU).

The folder holds ``model.onnx`` (inputs ``input_ids``, ``attention_mask``, optionally ``token_type_ids``; first
output: logits ``[batch, tokens, labels]``), ``tokenizer.json`` (Hugging Face ``tokenizers``) and ``config.json``
(``id2label`` with BIO/IOB2 labels such as ``B-PER``, ``I-PER``, ``O``). Word pieces are aggregated the way the
Hugging Face pipeline's "first" strategy does: a word takes the label of its first piece, consecutive words of the
same type form one span (``B-`` starts a new one), and the span's score is the mean probability of those labels.
Texts longer than ``max_length`` tokens are read in overlapping windows; overlapping spans keep the longest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.data.pii.entities import Entity
from bastion.data.pii.ner import NerError, map_label, require

KNOWN_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids"})
"""Graph inputs this adapter knows how to feed."""


@dataclass(frozen=True)
class Window:
    """One tokenised stretch of one text (the whole text unless it is longer than ``max_length`` tokens)."""

    text: int
    """Index of the text in the batch given to ``find``."""
    ids: list[int]
    """Token ids."""
    offsets: list[tuple[int, int]]
    """Character offsets of each token in the text."""
    words: list[int | None]
    """Word index of each token; ``None`` for special tokens."""


@dataclass(frozen=True)
class WordTag:
    """The label of one word: its first piece's arg-max label."""

    prefix: str
    """``B`` (begins a span), ``I`` (continues one) or ``O`` (outside)."""
    kind: str | None
    """Presidio entity type, ``None`` for ``O`` and for labels Bastion has no use for."""
    start: int
    """Offset of the word's first character."""
    end: int
    """Offset just after the word's last character."""
    prob: float
    """Probability of the label."""


class OnnxTokenNer:
    """An ONNX token classifier with its tokenizer, run on onnxruntime's CPU provider.

    This class does not scan the model's files: open models through ``load_ner``, which does.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 16, max_length: int = 512, stride: int = 64) -> None:
        folder = Path(path).parent if Path(path).is_file() else Path(path)
        model_file = Path(path) if Path(path).is_file() else folder / "model.onnx"
        self.name = "onnx"
        """Backend name; entities carry ``ner:onnx``."""
        self.batch_size = batch_size
        """Windows per inference call."""
        self.labels: dict[int, tuple[str, str | None]] = _read_labels(folder / "config.json")
        """Class index -> (BIO prefix, Presidio type or ``None``)."""
        self.entity_types: frozenset[str] = frozenset(kind for _, kind in self.labels.values() if kind)
        """Presidio types of the model's labels."""
        self.tokenizer: Any = _read_tokenizer(folder / "tokenizer.json", max_length, stride)
        """The ``tokenizers.Tokenizer``, truncating into overlapping windows (padding is done here)."""
        self.pad_id = _pad_id(self.tokenizer)
        """Token id that fills the batch after a shorter window (masked out by ``attention_mask``)."""
        self.session: Any = _open_session(model_file)
        """The ``onnxruntime.InferenceSession``."""
        self._inputs = {i.name: (np.int32 if "int32" in i.type else np.int64) for i in self.session.get_inputs()}
        unknown = set(self._inputs) - KNOWN_INPUTS
        if unknown or "input_ids" not in self._inputs:
            raise NerError(f"{model_file} has inputs {sorted(self._inputs)}; a token classifier takes "
                           f"{sorted(KNOWN_INPUTS)} (input_ids required)")

    def find(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text, with character offsets into that text."""
        windows = self._windows(texts)
        found: list[list[Entity]] = [[] for _ in texts]
        for first in range(0, len(windows), self.batch_size):
            chunk = windows[first:first + self.batch_size]
            for window, probs in zip(chunk, self._run(chunk), strict=True):
                found[window.text].extend(self._spans(window, probs, texts[window.text]))
        return [_resolve_overlaps(entities) for entities in found]

    def _windows(self, texts: Sequence[str]) -> list[Window]:
        windows = []
        for index, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            for part in [encoding, *encoding.overflowing]:
                if part.ids:  # an empty text without special tokens has nothing to run
                    windows.append(Window(index, list(part.ids), list(part.offsets), list(part.word_ids)))
        return windows

    def _run(self, windows: list[Window]) -> NDArray[np.float64]:
        """Softmax probabilities ``[windows, tokens, labels]`` for a padded batch."""
        width = max(len(w.ids) for w in windows)
        ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            ids[row, :len(window.ids)] = window.ids
            mask[row, :len(window.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        logits = np.asarray(self.session.run(None, {k: feeds[k].astype(t) for k, t in self._inputs.items()})[0])
        if logits.ndim != 3 or logits.shape[-1] != len(self.labels):
            raise NerError(f"the model returned logits of shape {logits.shape}; expected [batch, tokens, "
                           f"{len(self.labels)}] to match config.json id2label")
        return _softmax(logits.astype(np.float64))

    def _spans(self, window: Window, probs: NDArray[np.float64], text: str) -> list[Entity]:
        return [_trimmed(entity, text) for entity in _aggregate(self._word_tags(window, probs))]

    def _word_tags(self, window: Window, probs: NDArray[np.float64]) -> list[WordTag]:
        """One tag per word, from its first piece; later pieces only widen the word's end offset."""
        tags: list[WordTag] = []
        last_word: int | None = None
        for token, word in enumerate(window.words):
            if word is None:
                continue
            start, end = window.offsets[token]
            if word == last_word:
                tags[-1] = WordTag(tags[-1].prefix, tags[-1].kind, tags[-1].start, end, tags[-1].prob)
                continue
            best = int(np.argmax(probs[token]))
            prefix, kind = self.labels.get(best, ("O", None))
            tags.append(WordTag(prefix, kind, start, end, float(probs[token, best])))
            last_word = word
        return tags


def _aggregate(tags: list[WordTag]) -> list[Entity]:
    """Consecutive words of one type form a span; ``B`` (or a change of type) starts a new one."""
    spans: list[list[WordTag]] = []
    for tag in tags:
        if tag.kind is None:
            spans.append([])
        elif spans and spans[-1] and tag.prefix == "I" and spans[-1][-1].kind == tag.kind:
            spans[-1].append(tag)
        else:
            spans.append([tag])
    return [Entity(str(s[0].kind), s[0].start, s[-1].end, sum(t.prob for t in s) / len(s), "ner:onnx")
            for s in spans if s]


def _trimmed(entity: Entity, text: str) -> Entity:
    """The span without surrounding white space (some tokenizers count a word's leading space in its offsets)."""
    start, end = entity.start, entity.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Entity(entity.type, start, end, entity.score, entity.recognizer)


def _resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Spans seen in two overlapping windows: keep the longest of each overlapping group."""
    kept: list[Entity] = []
    for entity in sorted(set(entities), key=lambda e: (e.start, -(e.end - e.start), -e.score)):
        if kept and entity.start < kept[-1].end:
            if entity.end - entity.start > kept[-1].end - kept[-1].start:
                kept[-1] = entity
            continue
        kept.append(entity)
    return kept


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    result: NDArray[np.float64] = shifted / shifted.sum(axis=-1, keepdims=True)
    return result


def _split_label(label: str) -> tuple[str, str | None]:
    """``B-PER`` -> (``B``, ``PERSON``); ``O`` -> (``O``, None). ``S-``/``E-`` (BIOES) read as ``B``/``I``."""
    head, sep, tail = label.partition("-")
    if not sep or len(head) != 1:
        return ("O", None) if label.upper() == "O" else ("I", map_label(label))
    prefix = {"B": "B", "S": "B", "I": "I", "E": "I", "L": "I", "U": "B"}.get(head.upper(), "I")
    return prefix, map_label(tail)


def _read_labels(config: Path) -> dict[int, tuple[str, str | None]]:
    try:
        id2label = json.loads(config.read_text(encoding="utf-8"))["id2label"]
        return {int(index): _split_label(str(label)) for index, label in id2label.items()}
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise NerError(f"{config}: cannot read the id2label table of a token classifier: {exc}") from exc


def _read_tokenizer(path: Path, max_length: int, stride: int) -> Any:
    tokenizers = require("tokenizers", "pip install tokenizers")
    if not path.is_file():
        raise NerError(f"{path} is missing: an ONNX NER folder needs the tokenizer.json saved with the model")
    tokenizer = tokenizers.Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length, stride=stride)
    return tokenizer


def _pad_id(tokenizer: Any) -> int:
    """The pad id the tokenizer was saved with, else the id of a usual pad token, else 0; then padding is off."""
    padding = tokenizer.padding
    candidates = [tokenizer.token_to_id(token) for token in ("[PAD]", "<pad>")]
    tokenizer.no_padding()
    if padding:
        return int(padding["pad_id"])
    return next((int(c) for c in candidates if c is not None), 0)


def _open_session(model_file: Path) -> Any:
    onnxruntime = require("onnxruntime", "pip install onnxruntime")
    if not model_file.is_file():
        raise NerError(f"{model_file} is missing: an ONNX NER folder needs model.onnx")
    return onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
