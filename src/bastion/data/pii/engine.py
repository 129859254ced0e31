"""``PiiDetector``: one combined pass over a text finds candidates, recognisers judge them, context scores them.

The pass: a single regex, the alternation of every recogniser's candidate pattern, finds the next position where
any entity could start. Only there are the recognisers' own patterns tried (each is anchored, so this costs a few
C-level match attempts), the candidates validated and scored with their context, and the best one kept. The search
resumes after an accepted entity, so nothing inside it is reported again: a URL inside an e-mail address or a phone
number inside an IP address or IBAN never appears. Rejected candidates resume one character later, so a failed card
number does not hide an SSN that starts inside it.

Credentials (``API_KEY``) come from the secrets check's detectors, so the two features agree; names and places come
from an optional NER plug-in (``bastion.data.pii.ner``). All entity spans overlap-resolved by score, then length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bastion.data.pii.entities import ENTITY_TYPES, Entity
from bastion.data.pii.recognizers import CONTEXT, NEGATIVE_CONTEXT, RECOGNIZERS, WEAK_TYPES, Recognizer

if TYPE_CHECKING:
    from bastion.data.pii.ner import NerModel

NER_TYPES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP"})
"""Types only an NER plug-in can find."""
CONTEXT_BOOST = 0.35
"""Added to a score when a context word is near (Presidio's default enhancement)."""
NEGATIVE_PENALTY = 0.4
"""Taken from a weak format's score when a word before it says it numbers a thing (``Apt.``, ``order``)."""
_WORD = re.compile(r"[^\W\d_]+")
_NO_LABEL = 99
"""The label distance of a value with no context word before it."""
_SECRET_HINT = re.compile(r"[A-Za-z0-9_\-]{20,}|-----BEGIN")


class PiiDetector:
    """Find personal data in texts, pattern mode by default, with an optional NER model for names and places.

    ``entities``: the types to report (default: every type the configuration can find). ``threshold``: the
    minimum score reported (0.5: weak formats such as a bare 9-digit number need a context word to pass).
    ``context``: use context words. ``secrets``: report credentials as ``API_KEY``. ``ner``: an NER plug-in.
    ``allow_list``: exact strings never reported (the organisation's own switchboard number...).
    """

    def __init__(self, entities: Iterable[str] | None = None, threshold: float = 0.5, context: bool = True,
                 secrets: bool = True, ner: NerModel | None = None, allow_list: Iterable[str] = ()) -> None:
        self.threshold = threshold
        self.context = context
        self.secrets = secrets
        self.ner = ner
        self.allow_list = frozenset(allow_list)
        self.entities = self._chosen(entities)
        self._recognizers = tuple(
            (recognizer, re.compile(recognizer.pattern)) for recognizer in RECOGNIZERS
            if self.entities.intersection(recognizer.entity_types))
        # Every candidate starts a word (each pattern's own look-behind says so): testing that once, before the
        # alternation, halves the locator's time, since most positions are inside words.
        alternatives = "|".join(f"(?:{recognizer.pattern})" for recognizer, _ in self._recognizers)
        self._locator = re.compile(r"(?<!\w)(?=[\w+(:])(?:" + _unnamed(alternatives) + ")" if alternatives else r"(?!)")
        self._by_first = tuple(
            tuple(pair for pair in self._recognizers if re.fullmatch(pair[0].first, chr(code))) for code in range(128))

    def _chosen(self, entities: Iterable[str] | None) -> frozenset[str]:
        available = set(ENTITY_TYPES) - NER_TYPES
        if self.ner is not None:  # NER adds names and places; patterns stay the authority on formats and dates
            available |= set(self.ner.entity_types) & NER_TYPES
        if not self.secrets:
            available.discard("API_KEY")
        if entities is None:
            return frozenset(available)
        chosen = frozenset(entities)
        unknown = sorted(chosen - set(ENTITY_TYPES) - NER_TYPES)
        if unknown:
            raise ValueError(f"unknown entity type(s) {', '.join(unknown)}; known: {', '.join(ENTITY_TYPES)}")
        missing = sorted(chosen - available)
        if missing:
            raise ValueError(f"{', '.join(missing)} need(s) an NER plug-in (ner=load_ner('spacy:PATH'), or "
                             "--ner spacy:PATH on the command line); pattern mode cannot find them")
        return chosen

    def detect(self, text: str) -> list[Entity]:
        """Every entity in ``text``, ordered by start offset; offsets index the ``str``."""
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[list[Entity]]:
        """``detect`` for each text; an NER plug-in sees them in one batch."""
        found = [self._patterns(text) + self._credentials(text) for text in texts]
        if self.ner is not None:
            for entities, extra in zip(found, self.ner.find(texts), strict=True):
                entities.extend(entity for entity in extra if entity.type in self.entities and entity.type in NER_TYPES)
        return [_resolve(entities, text, self.allow_list, self.threshold)
                for entities, text in zip(found, texts, strict=True)]

    def _patterns(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        search, position = self._locator.search, 0
        while (candidate := search(text, position)) is not None:
            best = self._best_at(text, candidate.start())
            if best is not None and best.score >= self.threshold:
                found.append(best)
                position = best.end
            else:
                position = candidate.start() + 1
        return found

    def _best_at(self, text: str, start: int) -> Entity | None:
        best: Entity | None = None
        best_rank: tuple[int, float, int] = (-_NO_LABEL, 0.0, 0)
        code = ord(text[start])
        surroundings: _Surroundings | None = None
        for recognizer, pattern in self._by_first[code] if code < 128 else ():  # no pattern starts with non-ASCII
            match = pattern.match(text, start)
            if match is None:
                continue
            judged = recognizer.judge(text, match)
            if judged is None or judged[0] not in self.entities:
                continue
            kind, base, end = judged
            if surroundings is None:
                surroundings = _Surroundings(text, start)
            score, label = self._scored(surroundings, end, kind, base)
            # A label before the value ("NHS number 943 476 5919, phone ...") outranks any score, and the nearest
            # label wins: it is how forms, tickets and logs say what a number is, and it settles a number valid in
            # two formats.
            rank = (-label, score, end)
            if best is None or rank > best_rank:
                best, best_rank = Entity(kind, start, end, score, recognizer.name), rank
        return best

    def _scored(self, around: _Surroundings, end: int, kind: str, base: float) -> tuple[float, int]:
        """The score after context, and how many words before the value its nearest label of ``kind`` stands."""
        if not self.context:
            return base, _NO_LABEL
        if kind in WEAK_TYPES and NEGATIVE_CONTEXT.intersection(around.just_before):
            return max(0.0, base - NEGATIVE_PENALTY), _NO_LABEL
        words = CONTEXT.get(kind)
        if not words:
            return base, _NO_LABEL
        for distance, word in enumerate(reversed(around.before)):
            if word in words:
                return min(1.0, round(base + CONTEXT_BOOST, 4)), distance
        if words.intersection(around.after(end)):
            return min(1.0, round(base + CONTEXT_BOOST, 4)), _NO_LABEL
        return base, _NO_LABEL

    def _credentials(self, text: str) -> list[Entity]:
        if not self.secrets or "API_KEY" not in self.entities or _SECRET_HINT.search(text) is None:
            return []
        from bastion.supplychain.secrets import find_secrets

        data = text.encode("utf-8", "surrogatepass")
        ascii_only = len(data) == len(text)
        found = []
        for match in find_secrets(data):
            start, end = (match.start, match.end) if ascii_only else (_char_offset(data, match.start),
                                                                      _char_offset(data, match.end))
            found.append(Entity("API_KEY", start, end, 0.95, f"secrets:{match.detector_id}"))
        return found


class _Surroundings:
    """The words around a candidate start, computed once for all the recognisers that match there."""

    __slots__ = ("_text", "before", "just_before")

    def __init__(self, text: str, start: int) -> None:
        self._text = text
        window = text[max(0, start - 48):start].lower()
        self.before = _WORD.findall(window)[-6:]
        # Negative words count only right before the value, on its line: "Apt. 12 34 56", not an address above it.
        self.just_before = _WORD.findall(window.rsplit("\n", 1)[-1])[-2:] if "\n" in window else self.before[-2:]

    def after(self, end: int) -> list[str]:
        """The first two words after ``end``."""
        return _WORD.findall(self._text[end:end + 24].lower())[:2]


def _char_offset(data: bytes, byte_offset: int) -> int:
    return len(data[:byte_offset].decode("utf-8", "surrogatepass"))


def _unnamed(pattern: str) -> str:
    """The locator needs no groups: drop names (``(?P<x>`` -> ``(?:``) and turn back-references into a free match.

    A back-reference only narrows which separators a candidate may mix; the recogniser's own pattern checks it.
    """
    pattern = re.sub(r"\(\?P<\w+>", "(?:", pattern)
    return re.sub(r"\(\?P=\w+\)", r"[ \\-./:]?", pattern)


def _resolve(entities: list[Entity], text: str, allowed: frozenset[str], threshold: float) -> list[Entity]:
    """Keep the best of overlapping entities (score, then length), drop allowed values, order by position."""
    if not entities or (len(entities) == 1 and not allowed and entities[0].score >= threshold):
        return entities
    kept: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for entity in sorted(entities, key=lambda e: (-e.score, -(e.end - e.start), e.start)):
        if entity.score < threshold or (allowed and text[entity.start:entity.end] in allowed):
            continue
        if any(entity.start < end and start < entity.end for start, end in taken):
            continue
        kept.append(entity)
        taken.append((entity.start, entity.end))
    return sorted(kept, key=lambda e: e.start)


__all__ = ["NER_TYPES", "PiiDetector", "Recognizer"]
