"""NER with a GLiNER model saved in a local directory (``model.save_pretrained(PATH)``; needs ``gliner`` and torch).

GLiNER is prompted with plain-English labels ("person", "location", "organization"); each maps to a Presidio type
through ``LABEL_MAP``. Since gliner 0.2.2x the batched call is ``GLiNER.inference`` (``batch_predict_entities`` is
deprecated and warns); older releases have only ``batch_predict_entities`` or ``predict_entities``. All three are
used, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bastion.data.pii.entities import Entity
from bastion.data.pii.ner import NerError, map_label, require

DEFAULT_LABELS = ("person", "location", "organization")
"""What GLiNER is asked for unless the caller says otherwise."""


class GlinerNer:
    """A GLiNER model opened with ``local_files_only=True``, so a missing file is an error, never a download.

    The model's backbone tokenizer must be in the folder (or the local Hugging Face cache). This class does not
    scan the model's files: open models through ``load_ner``, which does.
    """

    def __init__(self, path: str | Path, labels: Sequence[str] = DEFAULT_LABELS, threshold: float = 0.5, *,
                 batch_size: int = 8) -> None:
        unmapped = [label for label in labels if map_label(label) is None]
        if unmapped or not labels:
            raise NerError(f"GLiNER labels {unmapped or list(labels)} have no Presidio entity type; "
                           f"use labels such as {', '.join(DEFAULT_LABELS)}")
        gliner = require("gliner", "pip install gliner (it brings PyTorch and transformers)")
        self.name = "gliner"
        """Backend name; entities carry ``ner:gliner``."""
        self.labels = tuple(labels)
        """The labels GLiNER is prompted with."""
        self.threshold = threshold
        """Minimum GLiNER score for an entity to be reported."""
        self.batch_size = batch_size
        """Texts per forward pass."""
        self.entity_types: frozenset[str] = frozenset(filter(None, map(map_label, labels)))
        """Presidio types of ``labels``."""
        self.model: Any = gliner.GLiNER.from_pretrained(str(path), local_files_only=True)
        """The loaded ``gliner.GLiNER``."""

    def find(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text with GLiNER's own score."""
        return [_entities(rows, self.threshold) for rows in self._predict(list(texts))]

    def _predict(self, texts: list[str]) -> list[list[Mapping[str, Any]]]:
        labels = list(self.labels)
        if hasattr(self.model, "inference"):
            result: list[list[Mapping[str, Any]]] = self.model.inference(
                texts, labels, threshold=self.threshold, batch_size=self.batch_size)
            return result
        if hasattr(self.model, "batch_predict_entities"):
            result = self.model.batch_predict_entities(texts, labels, threshold=self.threshold)
            return result
        return [self.model.predict_entities(text, labels, threshold=self.threshold) for text in texts]


def _entities(rows: Sequence[Mapping[str, Any]], threshold: float) -> list[Entity]:
    """GLiNER's dicts (start, end, label, score) as Entities; labels without a Presidio type are dropped."""
    found = []
    for row in rows:
        kind = map_label(str(row["label"]))
        if kind is not None:
            score = float(row.get("score", threshold))  # gliner 0.1 gave no score: it is at least the threshold
            found.append(Entity(kind, int(row["start"]), int(row["end"]), score, "ner:gliner"))
    return found
