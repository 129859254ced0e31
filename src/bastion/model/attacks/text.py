"""Character-level attacks on text classifiers: typos, swaps, deletions, insertions, homoglyphs, invisible characters.

Nothing is downloaded: the perturbations come from a QWERTY neighbour map, a small table of Latin -> Cyrillic/Greek
look-alikes and four zero-width characters. ``CharacterAttack`` is a greedy black-box search in the spirit of
DeepWordBug and TextBugger's character bugs: rank words by how much deleting each lowers the true-class probability,
then perturb the most important words in turn, keeping the candidate that lowers that probability most per edit,
until the prediction changes or the edit budget is spent. Every step scores all candidates of all samples still
standing in one model call. Edits are the Levenshtein distance between the original and the adversarial text.

``normalise_text`` undoes what the homoglyph and invisible operations do: a cheap input defence whose effect can be
measured against this attack.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bastion.model.attacks.base import Attack, AttackRun
from bastion.model.base import ModelAdapter
from bastion.model.constraints import Constraints

OPERATIONS: dict[str, str] = {
    "typo": "replace a letter with a neighbouring key on a QWERTY keyboard",
    "swap": "swap two adjacent characters",
    "delete": "delete a character",
    "insert": "insert a neighbouring-key letter next to a letter",
    "homoglyph": "replace a Latin letter with a Cyrillic or Greek look-alike",
    "invisible": "insert a zero-width character inside the word",
}
"""Character operations by name, with what each does (the CLI lists these)."""

INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060")
"""Zero-width space, non-joiner, joiner and word joiner: invisible, yet they split tokens."""

# Latin letter -> look-alikes (Cyrillic first, then Greek); escapes keep the table readable.
HOMOGLYPHS: dict[str, str] = {
    "a": "\u0430", "c": "\u0441", "d": "\u0501", "e": "\u0435", "h": "\u04bb", "i": "\u0456", "j": "\u0458",
    "k": "\u03ba", "l": "\u04cf", "o": "\u043e\u03bf", "p": "\u0440", "s": "\u0455", "u": "\u03c5", "v": "\u03bd",
    "x": "\u0445", "y": "\u0443",
    "A": "\u0410\u0391", "B": "\u0412\u0392", "C": "\u0421", "E": "\u0415\u0395", "H": "\u041d\u0397",
    "I": "\u0406\u0399", "J": "\u0408", "K": "\u041a\u039a", "M": "\u041c\u039c", "N": "\u039d",
    "O": "\u041e\u039f", "P": "\u0420\u03a1", "S": "\u0405", "T": "\u0422\u03a4", "X": "\u0425\u03a7",
    "Y": "\u04ae\u03a5", "Z": "\u0396",
}
"""Latin letter -> the look-alike characters the homoglyph operation may put in its place."""

_UNHOMOGLYPH = {glyph: latin for latin, glyphs in HOMOGLYPHS.items() for glyph in glyphs}

_KEY_ROWS = (("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75))


def _qwerty_neighbours() -> dict[str, str]:
    """Keys touching each letter key: same row one step away, or the row above/below less than a key apart."""
    position = {key: (row, col + offset)
                for row, (keys, offset) in enumerate(_KEY_ROWS) for col, key in enumerate(keys)}
    neighbours: dict[str, str] = {}
    for key, (row, x) in position.items():
        near = [other for other, (r, ox) in position.items() if other != key and (
            (r == row and abs(ox - x) == 1) or (abs(r - row) == 1 and abs(ox - x) < 1))]
        neighbours[key] = "".join(sorted(near))
    return neighbours


QWERTY_NEIGHBOURS = _qwerty_neighbours()
"""Lower-case letter -> the letters on keys next to it."""

_WORD = re.compile(r"(\w+)")


def normalise_text(text: str) -> str:
    """``text`` with homoglyphs mapped back to Latin letters and invisible (format, category Cf) characters removed.

    NFKC normalisation runs first (full-width letters, ligatures). A cheap defence: it undoes the ``homoglyph`` and
    ``invisible`` operations exactly, and none of the others. It also drops legitimate joiners (emoji sequences,
    some Indic and Arabic spellings) and changes genuine Cyrillic or Greek letters that appear in the table.
    """
    text = unicodedata.normalize("NFKC", text)
    return "".join(_UNHOMOGLYPH.get(ch, ch) for ch in text if unicodedata.category(ch) != "Cf")


def levenshtein(a: str, b: str) -> int:
    """Exact character edit distance (insertions, deletions, substitutions each cost 1) between ``a`` and ``b``."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start:len(a) - end], b[start:len(b) - end]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    codes = np.fromiter((ord(ch) for ch in b), dtype=np.int64, count=len(b))
    offsets = np.arange(len(b) + 1)
    row = offsets.copy()
    for step, ch in enumerate(a, start=1):
        best = np.empty_like(row)
        best[0] = step
        best[1:] = np.minimum(row[:-1] + (codes != ord(ch)), row[1:] + 1)
        # Insertions chain along the row: new[j] = min over k <= j of best[k] + (j - k).
        row = np.minimum.accumulate(best - offsets) + offsets
    return int(row[-1])


def check_operations(operations: Sequence[str]) -> tuple[str, ...]:
    """``operations`` as a tuple, or a ``ValueError`` naming the unknown ones and listing the valid ones."""
    if isinstance(operations, str):
        operations = (operations,)
    ops = tuple(operations)
    if not ops:
        raise ValueError(f"operations: give at least one of {', '.join(OPERATIONS)}")
    unknown = [op for op in ops if op not in OPERATIONS]
    if unknown:
        raise ValueError(f"operations: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(OPERATIONS)}")
    return tuple(dict.fromkeys(ops))


def perturb_word(word: str, operation: str, rng: np.random.Generator) -> str:
    """``word`` with one random ``operation`` applied; ``word`` itself where the operation cannot apply to it."""
    check_operations((operation,))
    if operation == "swap":
        spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if not spots:
            return word
        i = spots[int(rng.integers(len(spots)))]
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if operation == "delete":
        if len(word) < 2:  # deleting a whole word is not a character edit
            return word
        i = int(rng.integers(len(word)))
        return word[:i] + word[i + 1:]
    if operation == "invisible":
        if len(word) < 2:
            return word
        i = int(rng.integers(1, len(word)))
        return word[:i] + INVISIBLE[int(rng.integers(len(INVISIBLE)))] + word[i:]
    table = {"typo": _typo_choices, "insert": _typo_choices, "homoglyph": _homoglyph_choices}[operation]
    spots = [i for i, ch in enumerate(word) if table(ch)]
    if not spots:
        return word
    i = spots[int(rng.integers(len(spots)))]
    choices = table(word[i])
    new = choices[int(rng.integers(len(choices)))]
    if operation == "insert":
        return word[:i + 1] + new + word[i + 1:] if rng.random() < 0.5 else word[:i] + new + word[i:]
    return word[:i] + new + word[i + 1:]


def _typo_choices(ch: str) -> str:
    """Neighbouring keys of a letter, in its case ('' for anything not on the letter rows)."""
    near = QWERTY_NEIGHBOURS.get(ch.lower(), "")
    return near.upper() if ch.isupper() else near


def _homoglyph_choices(ch: str) -> str:
    return HOMOGLYPHS.get(ch, "")


def word_candidates(word: str, operations: Sequence[str], rng: np.random.Generator, count: int) -> list[str]:
    """Up to ``count`` distinct single-operation variants of ``word``, cycling through ``operations``."""
    ops = check_operations(operations)
    found: dict[str, None] = {}
    for attempt in range(3 * count):
        if len(found) >= count:
            break
        variant = perturb_word(word, ops[attempt % len(ops)], rng)
        if variant != word:
            found[variant] = None
    return list(found)


@dataclass
class _Sample:
    """Search state of one sample."""

    tokens: list[str]
    """The text split into alternating separators and words; word tokens are edited in place."""
    original: list[str]
    """The tokens as they came."""
    order: list[int]
    """Indices of word tokens, most important first."""
    budget: int
    """Edits this sample may spend."""
    proba: float
    """True-class probability of the current text."""
    cost: dict[int, int] = field(default_factory=dict)
    """Edits spent per word token (Levenshtein from its original)."""
    cursor: int = 0
    """Position in ``order`` of the word being worked on: it stays there while changes to that word help."""
    stale: int = 0
    """Words tried in a row without an accepted change; a full round of them ends the search."""
    done: bool = False
    """The prediction changed, the budget is spent, or no word helps any more."""

    @property
    def spent(self) -> int:
        return sum(self.cost.values())

    def move_on(self) -> None:
        """Leave the current word (it gave nothing): the next one by importance, cycling."""
        self.cursor = (self.cursor + 1) % len(self.order)
        self.stale += 1

    def text_with(self, position: int, word: str) -> str:
        return "".join(self.tokens[:position]) + word + "".join(self.tokens[position + 1:])


class CharacterAttack(Attack):
    """Greedy black-box character attack on text classifiers (``model.text`` is true); minimum-edit.

    Words are ranked by the drop in true-class probability when each is deleted. The search then works on the most
    important word: each step draws ``candidates_per_word`` one-operation variants of it, and keeps a variant that
    changes the prediction (fewest edits), else the one with the biggest probability drop per edit. It stays on a
    word while that helps, moves to the next word by importance when not, and stops at a changed prediction, a spent
    budget, or a full round of words that gives nothing. The budget per sample is ``max_edits``, or
    ``max_edit_fraction`` of the text's length (at least one edit), or the smaller of the two when both are set.
    Parameters are checked here; ``run`` does the work.
    """

    name = "text"
    norm = "edits"
    minimal = True

    def __init__(self, operations: Sequence[str] = tuple(OPERATIONS), max_edits: int | None = 5,
                 max_edit_fraction: float | None = None, candidates_per_word: int = 8, seed: int = 0) -> None:
        self.operations = check_operations(operations)
        if max_edits is None and max_edit_fraction is None:
            raise ValueError("max_edits, max_edit_fraction: set at least one edit budget")
        if max_edit_fraction is not None and not (isinstance(max_edit_fraction, float | int)
                                                  and 0 < max_edit_fraction <= 1):
            raise ValueError(f"max_edit_fraction must be in (0, 1] or None, got {max_edit_fraction!r}")
        self.max_edits = None if max_edits is None else _positive_int("max_edits", max_edits)
        self.max_edit_fraction = None if max_edit_fraction is None else float(max_edit_fraction)
        self.candidates_per_word = _positive_int("candidates_per_word", candidates_per_word)
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = int(seed)

    def budget(self, text: str) -> int:
        """Edits allowed on ``text``."""
        limits = [] if self.max_edits is None else [self.max_edits]
        if self.max_edit_fraction is not None:
            limits.append(max(1, int(self.max_edit_fraction * len(text))))
        return min(limits)

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        """Attack the texts ``x`` (1-D array of ``str``) that ``model`` classifies as ``y`` (class indices)."""
        started, queries_before = time.perf_counter(), model.queries
        texts, labels = self._check(model, x, y, constraints)
        rng = np.random.default_rng(self.seed)
        samples = self._rank_words(model, texts, labels)
        active = [i for i, s in enumerate(samples) if not s.done]
        while active:
            self._step(model, samples, labels, active, rng)
            active = [i for i in active if not samples[i].done]
        adversarial = _strings(["".join(s.tokens) for s in samples])
        success = (model.predict(adversarial) != labels) & (adversarial != texts)
        adversarial[~success] = texts[~success]
        perturbation = np.array([float(levenshtein(a, b)) if ok else np.inf
                                 for a, b, ok in zip(texts.tolist(), adversarial.tolist(), success.tolist(),
                                                     strict=True)])
        return AttackRun(name=self.name, norm=self.norm, eps=None, adversarial=adversarial, success=success,
                         perturbation=perturbation, queries=model.queries - queries_before,
                         seconds=time.perf_counter() - started)

    def _check(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
               constraints: Constraints | None) -> tuple[np.ndarray, np.ndarray]:
        if not model.text:
            raise ValueError(f"model: {model.name} does not take text; the text attack needs a text classifier")
        if constraints is not None:
            raise ValueError("constraints: feature constraints do not apply to text; pass None")
        texts = model.check_input(x)
        if not all(isinstance(t, str) for t in texts.tolist()):
            raise ValueError("x: every sample of a text model must be a str")
        labels = np.asarray(y, dtype=np.int64)
        if labels.shape != (len(texts),):
            raise ValueError(f"y: expected {len(texts)} class indices, got shape {labels.shape}")
        return texts, labels

    def _rank_words(self, model: ModelAdapter, texts: np.ndarray, labels: np.ndarray) -> list[_Sample]:
        """Word importance for every sample from one call: the originals and each text with one word deleted."""
        split = [_WORD.split(text) for text in texts.tolist()]
        words = [list(range(1, len(tokens), 2)) for tokens in split]
        batch = list(texts.tolist())
        for tokens, positions in zip(split, words, strict=True):
            batch.extend("".join(tokens[:p]) + "".join(tokens[p + 1:]) for p in positions)
        proba = model.predict_proba(_strings(batch))
        samples, offset = [], len(texts)
        for i, (tokens, positions) in enumerate(zip(split, words, strict=True)):
            true = proba[i, labels[i]]
            drops = true - proba[offset:offset + len(positions), labels[i]]
            offset += len(positions)
            order = [positions[j] for j in np.argsort(-drops, kind="stable")]
            samples.append(_Sample(tokens=list(tokens), original=list(tokens), order=order,
                                   budget=self.budget(texts[i]), proba=float(true), done=not order))
        return samples

    def _step(self, model: ModelAdapter, samples: list[_Sample], labels: np.ndarray, active: list[int],
              rng: np.random.Generator) -> None:
        """Try the next word of every active sample: all candidates in one call, keep the best per sample."""
        batch: list[str] = []
        groups: list[tuple[int, int, list[str], list[int]]] = []
        for i in active:
            found = self._next_candidates(samples[i], rng)
            if found is None:
                samples[i].done = True
                continue
            position, words, costs = found
            groups.append((i, position, words, costs))
            batch.extend(samples[i].text_with(position, w) for w in words)
        if not batch:
            return
        proba = model.predict_proba(_strings(batch))
        offset = 0
        for i, position, words, costs in groups:
            self._accept(samples[i], position, words, costs, proba[offset:offset + len(words)], int(labels[i]))
            offset += len(words)

    def _next_candidates(self, sample: _Sample, rng: np.random.Generator) -> tuple[int, list[str], list[int]] | None:
        """The next word (cycling by importance) that has affordable variants, or None when none is left."""
        while sample.stale < len(sample.order):
            position = sample.order[sample.cursor]
            left = sample.budget - sample.spent + sample.cost.get(position, 0)
            original = sample.original[position]
            words, costs = [], []
            for word in word_candidates(sample.tokens[position], self.operations, rng, self.candidates_per_word):
                cost = levenshtein(original, word)
                if cost <= left:
                    words.append(word)
                    costs.append(cost)
            if words:
                return position, words, costs
            sample.move_on()
        return None

    @staticmethod
    def _accept(sample: _Sample, position: int, words: list[str], costs: list[int], proba: np.ndarray,
                label: int) -> None:
        """Keep a candidate that changes the prediction (fewest edits), else the biggest drop per edit, if any."""
        true = proba[:, label]
        flipped = np.flatnonzero(proba.argmax(axis=1) != label)
        extra = np.array(costs) - sample.cost.get(position, 0)
        if len(flipped):
            best = int(flipped[np.lexsort((true[flipped], extra[flipped]))[0]])
        else:
            # Each kept change must spend an edit, so a sample takes at most (budget + 1) rounds of its words.
            gain = np.where(extra >= 1, (sample.proba - true) / np.maximum(extra, 1), -np.inf)
            best = int(np.argmax(gain))
            if gain[best] <= 0:
                sample.move_on()
                sample.done = sample.stale >= len(sample.order)
                return
        sample.tokens[position] = words[best]
        sample.cost[position] = costs[best]
        sample.proba = float(true[best])
        sample.stale = 0
        sample.done = bool(len(flipped)) or sample.spent >= sample.budget


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _strings(texts: list[str]) -> np.ndarray:
    """A 1-D object array of ``texts`` (``np.array`` would make a fixed-width unicode array)."""
    arr = np.empty(len(texts), dtype=object)
    arr[:] = texts
    return arr


TEXT_ATTACKS: dict[str, type[Attack]] = {"text": CharacterAttack}
"""Text attacks by the name the CLI uses."""
