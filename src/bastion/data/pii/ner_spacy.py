"""NER with a spaCy pipeline saved on disk (``nlp.to_disk`` or an unpacked model package's data folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bastion.data.pii.entities import Entity
from bastion.data.pii.ner import LABEL_MAP, map_label, require

SPACY_SCORE = 0.85
"""spaCy gives no per-entity confidence, so every entity gets this score (Presidio's default for spaCy too)."""

ENT_FACTORIES = frozenset({"ner", "beam_ner", "entity_ruler"})
"""Pipeline components that write ``doc.ents``; their labels say which entity types the pipeline can report."""


class SpacyNer:
    """A spaCy pipeline loaded from a local directory; it never downloads anything.

    This class does not scan the model's files: open models through ``load_ner``, which does.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 64) -> None:
        spacy = require("spacy", "pip install spacy")
        self.name = "spacy"
        """Backend name; entities carry ``ner:spacy``."""
        self.batch_size = batch_size
        """Texts per ``nlp.pipe`` batch."""
        self.nlp: Any = spacy.load(Path(path))
        """The loaded ``spacy.Language``."""
        self.entity_types: frozenset[str] = _entity_types(self.nlp)
        """Presidio types the pipeline's entity components can produce."""

    def find(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text whose label maps to a Presidio type; score is always ``SPACY_SCORE``."""
        return [_entities(doc) for doc in self.nlp.pipe(texts, batch_size=self.batch_size)]


def _entities(doc: Any) -> list[Entity]:
    found = []
    for ent in doc.ents:
        kind = map_label(ent.label_)
        if kind is not None:
            found.append(Entity(kind, ent.start_char, ent.end_char, SPACY_SCORE, "ner:spacy"))
    return found


def _entity_types(nlp: Any) -> frozenset[str]:
    """Mapped labels of the components that set ``doc.ents``; every mapped type when none can be told."""
    labels: set[str] = set()
    for name, pipe_labels in nlp.pipe_labels.items():
        if nlp.get_pipe_meta(name).factory in ENT_FACTORIES:
            labels.update(pipe_labels)
    types = {kind for kind in map(map_label, labels) if kind is not None}
    return frozenset(types) if labels else frozenset(LABEL_MAP.values())
