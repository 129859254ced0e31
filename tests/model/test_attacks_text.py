"""Character-level text attack: real success against small sentiment classifiers trained here, budgets, batching."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bastion.model.adapters.sklearn import SklearnClassifier
from bastion.model.attacks.base import AttackRun
from bastion.model.attacks.text import (
    HOMOGLYPHS,
    INVISIBLE,
    OPERATIONS,
    QWERTY_NEIGHBOURS,
    TEXT_ATTACKS,
    CharacterAttack,
    levenshtein,
    normalise_text,
    perturb_word,
    word_candidates,
)
from bastion.model.base import ModelAdapter
from bastion.model.constraints import Constraints

POSITIVE = ("good", "great", "excellent", "wonderful", "amazing", "lovely", "fantastic", "superb", "enjoyable",
            "brilliant")
NEGATIVE = ("bad", "terrible", "awful", "horrible", "boring", "poor", "dreadful", "disappointing", "mediocre", "dull")
SUBJECTS = ("the movie", "the film", "this book", "the plot", "the acting", "the food", "the service", "the show",
            "the music", "the ending", "our stay", "the game")
TEMPLATES = ("{s} was {a}", "i thought {s} was really {a}", "honestly {s} is {a}", "{s} felt {a} to me",
             "overall {s} was quite {a}", "we found {s} {a}")


def _corpus(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Short reviews, one or two clauses, each with a sentiment adjective of the review's class."""
    rng = np.random.default_rng(seed)

    def clause(adjectives: tuple[str, ...]) -> str:
        return str(TEMPLATES[rng.integers(len(TEMPLATES))].format(
            s=SUBJECTS[rng.integers(len(SUBJECTS))], a=adjectives[rng.integers(len(adjectives))]))

    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        adjectives = POSITIVE if label else NEGATIVE
        texts.append(clause(adjectives) + (" and " + clause(adjectives) if rng.random() < 0.4 else ""))
        labels.append(label)
    arr = np.empty(n, dtype=object)
    arr[:] = texts
    return arr, np.array(labels)


def _model(analyzer: str) -> SklearnClassifier:
    x, y = _corpus(400, seed=0)
    ngrams = (2, 4) if analyzer == "char_wb" else (1, 1)
    pipe = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams), LogisticRegression(C=10.0))
    return SklearnClassifier(pipe.fit(list(x), y), name=f"sentiment-{analyzer}")


@pytest.fixture(scope="module")
def word_model() -> SklearnClassifier:
    return _model("word")


@pytest.fixture(scope="module")
def char_model() -> SklearnClassifier:
    return _model("char_wb")


def _correct(model: ModelAdapter, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Held-out reviews the model gets right (attacks only receive those)."""
    x, y = _corpus(n, seed=1)
    keep = model.predict(x) == y
    assert keep.mean() > 0.9  # the classifiers are good on clean text, so breaking them means something
    return x[keep], y[keep]


class _CallCounter(ModelAdapter):
    """Counts ``predict_proba`` calls (batches) made to the wrapped text model."""

    def __init__(self, inner: ModelAdapter) -> None:
        super().__init__("counted", inner.n_classes, (), text=True)
        self.inner = inner
        self.calls = 0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return super().predict_proba(x)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        return self.inner.predict_proba(x)


def _check_run(model: ModelAdapter, x: np.ndarray, y: np.ndarray, run: AttackRun, budget: int) -> None:
    """Success re-verified, failures returned unchanged, perturbation = exact edit distance within the budget."""
    predicted = model.predict(run.adversarial)
    assert np.all(predicted[run.success] != y[run.success])
    assert np.all(run.adversarial[~run.success] == x[~run.success])
    assert np.all(np.isinf(run.perturbation[~run.success]))
    distances = np.array([levenshtein(a, b) for a, b in zip(x, run.adversarial, strict=True)])
    assert np.array_equal(distances[run.success], run.perturbation[run.success])
    assert np.all((distances >= 1) == run.success)
    assert np.all(distances <= budget)


def test_default_attack_breaks_word_model_with_few_edits(word_model: SklearnClassifier) -> None:
    x, y = _correct(word_model)
    before = word_model.queries
    run = CharacterAttack(seed=0).run(word_model, x, y)
    _check_run(word_model, x, y, run, budget=5)
    assert run.success.mean() >= 0.7
    assert np.median(run.perturbation[run.success]) <= 3
    assert (run.name, run.norm, run.eps) == ("text", "edits", None)
    assert run.queries == word_model.queries - before - len(x)  # the verification above is not part of the run
    assert run.seconds > 0


def test_char_ngram_model_breaks_with_more_edits(char_model: SklearnClassifier) -> None:
    x, y = _correct(char_model)
    small = CharacterAttack(max_edits=2).run(char_model, x, y)
    large = CharacterAttack(max_edits=10).run(char_model, x, y)
    _check_run(char_model, x, y, large, budget=10)
    _check_run(char_model, x, y, small, budget=2)
    assert large.success.mean() >= 0.8
    assert large.success.mean() > small.success.mean()  # character n-grams resist a couple of edits better


def test_invisible_characters_alone_split_word_tokens(word_model: SklearnClassifier) -> None:
    x, y = _correct(word_model)
    run = CharacterAttack(operations=("invisible",)).run(word_model, x, y)
    _check_run(word_model, x, y, run, budget=5)
    assert run.success.mean() >= 0.7
    hidden = re.compile("[" + "".join(INVISIBLE) + "]")
    # The text looks the same: removing the zero-width characters gives back the original exactly.
    assert [hidden.sub("", text) for text in run.adversarial] == list(x)


def test_normalise_text_undoes_homoglyph_and_invisible_attacks(word_model: SklearnClassifier,
                                                             char_model: SklearnClassifier) -> None:
    for model in (word_model, char_model):
        x, y = _correct(model)
        run = CharacterAttack(operations=("homoglyph", "invisible"), max_edits=8).run(model, x, y)
        assert run.success.mean() >= 0.3
        cleaned = np.array([normalise_text(text) for text in run.adversarial], dtype=object)
        assert list(cleaned) == list(x)
        accuracy_under_attack = 1 - run.success.mean()
        accuracy_after_defence = (model.predict(cleaned) == y).mean()
        assert accuracy_after_defence == 1.0 > accuracy_under_attack
    # Typos are not undone: against the full attack the defence restores only what homoglyphs/invisibles broke.
    x, y = _correct(word_model)
    typos = CharacterAttack(operations=("typo", "delete")).run(word_model, x, y)
    cleaned = np.array([normalise_text(text) for text in typos.adversarial], dtype=object)
    assert (word_model.predict(cleaned) == y).mean() == pytest.approx(1 - typos.success.mean())


def test_seeded_runs_repeat(word_model: SklearnClassifier) -> None:
    x, y = _correct(word_model)
    first = CharacterAttack(seed=3).run(word_model, x, y)
    again = CharacterAttack(seed=3).run(word_model, x, y)
    other = CharacterAttack(seed=4).run(word_model, x, y)
    assert list(first.adversarial) == list(again.adversarial)
    assert np.array_equal(first.perturbation, again.perturbation)
    assert list(first.adversarial) != list(other.adversarial)


@pytest.mark.parametrize("max_edits", [1, 2])
def test_max_edits_respected(char_model: SklearnClassifier, max_edits: int) -> None:
    x, y = _correct(char_model)
    run = CharacterAttack(max_edits=max_edits).run(char_model, x, y)
    _check_run(char_model, x, y, run, budget=max_edits)


def test_max_edit_fraction_scales_with_length(char_model: SklearnClassifier) -> None:
    x, y = _correct(char_model)
    attack = CharacterAttack(max_edits=None, max_edit_fraction=0.05)
    run = attack.run(char_model, x, y)
    for text, adv in zip(x, run.adversarial, strict=True):
        assert levenshtein(text, adv) <= max(1, int(0.05 * len(text)))
    assert CharacterAttack(max_edits=3, max_edit_fraction=0.5).budget("x" * 100) == 3  # the smaller limit wins


def test_one_model_call_per_step_whatever_the_batch(word_model: SklearnClassifier) -> None:
    x, y = _correct(word_model)
    words = max(len(re.findall(r"\w+", text)) for text in x)
    calls = []
    for n in (10, len(x)):
        counted = _CallCounter(word_model)
        run = CharacterAttack(max_edits=3).run(counted, x[:n], y[:n])
        assert run.queries == counted.queries
        calls.append(counted.calls)
    # Ranking + at most (budget + 1) rounds over the longest text's words + verification: not a count of samples.
    assert max(calls) <= 2 + 4 * words
    assert calls[1] < len(x)


def test_texts_without_words_are_left_alone(word_model: SklearnClassifier) -> None:
    x = np.array(["...", "", "!!"], dtype=object)
    run = CharacterAttack().run(word_model, x, word_model.predict(x))
    assert not run.success.any() and list(run.adversarial) == list(x)
    assert np.all(np.isinf(run.perturbation))


def test_perturb_word_operations() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        word = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=int(rng.integers(3, 10))))
        swapped, typo = perturb_word(word, "swap", rng), perturb_word(word, "typo", rng)
        assert sorted(swapped) == sorted(word) and levenshtein(word, swapped) == 2
        changed = [i for i, (a, b) in enumerate(zip(word, typo, strict=True)) if a != b]
        assert len(changed) == 1 and typo[changed[0]] in QWERTY_NEIGHBOURS[word[changed[0]]]
        for op in ("delete", "insert", "invisible"):
            assert levenshtein(word, perturb_word(word, op, rng)) == 1
        hidden = perturb_word(word, "invisible", rng)
        assert hidden[0] == word[0] and hidden[-1] == word[-1]  # inside the word, so it splits tokens
        assert any(ch in INVISIBLE for ch in hidden)
    glyph = perturb_word("hello", "homoglyph", rng)
    assert glyph != "hello" and normalise_text(glyph) == "hello"
    # Operations that cannot apply leave the word as it is.
    assert perturb_word("123", "typo", rng) == "123" and perturb_word("zz", "swap", rng) == "zz"
    assert perturb_word("a", "delete", rng) == "a" and perturb_word("a", "invisible", rng) == "a"
    variants = word_candidates("excellent", OPERATIONS, rng, 8)
    assert len(variants) == len(set(variants)) == 8 and "excellent" not in variants


def test_normalise_text_maps_every_homoglyph_back() -> None:
    for latin, glyphs in HOMOGLYPHS.items():
        for glyph in glyphs:
            assert glyph != latin and normalise_text(glyph) == latin
    assert normalise_text("ex\u200bcel\u2060lent \u200dfilm") == "excellent film"
    assert normalise_text("plain text stays") == "plain text stays"


def test_levenshtein_matches_a_reference() -> None:
    def reference(a: str, b: str) -> int:
        row = list(range(len(b) + 1))
        for i, ca in enumerate(a, start=1):
            previous, row[0] = row[:], i
            for j, cb in enumerate(b, start=1):
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
        return row[-1]

    assert levenshtein("kitten", "sitting") == 3 and levenshtein("", "abc") == 3 and levenshtein("ab", "ba") == 2
    for a, b in itertools.product(["", "a", "ab", "abc", "bca", "aabb", "abcabc"], repeat=2):
        assert levenshtein(a, b) == reference(a, b)
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = ("".join(rng.choice(list("abc"), size=int(rng.integers(0, 12)))) for _ in range(2))
        assert levenshtein(a, b) == reference(a, b)


def test_bad_parameters_are_named(word_model: SklearnClassifier) -> None:
    with pytest.raises(ValueError, match="unknown 'typos'.*valid: typo, swap, delete, insert, homoglyph, invisible"):
        CharacterAttack(operations=("typos",))
    with pytest.raises(ValueError, match="operations"):
        CharacterAttack(operations=())
    with pytest.raises(ValueError, match="valid"):
        perturb_word("word", "shuffle", np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_edits"):
        CharacterAttack(max_edits=0)
    with pytest.raises(ValueError, match="max_edits, max_edit_fraction"):
        CharacterAttack(max_edits=None)
    with pytest.raises(ValueError, match="max_edit_fraction"):
        CharacterAttack(max_edit_fraction=1.5)
    with pytest.raises(ValueError, match="candidates_per_word"):
        CharacterAttack(candidates_per_word=0)
    x = np.array(["the film was great"], dtype=object)
    with pytest.raises(ValueError, match="constraints"):
        CharacterAttack().run(word_model, x, np.array([1]), constraints=Constraints.box(0, 1))
    with pytest.raises(ValueError, match="y: expected 1"):
        CharacterAttack().run(word_model, x, np.array([1, 0]))


def test_numeric_model_is_refused() -> None:
    x = np.random.default_rng(0).normal(size=(40, 3))
    numeric = SklearnClassifier(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)))
    with pytest.raises(ValueError, match="text classifier"):
        CharacterAttack().run(numeric, x.astype(np.float32), np.zeros(40, dtype=np.int64))


def test_registry() -> None:
    assert {"text": CharacterAttack} == TEXT_ATTACKS
    attack = TEXT_ATTACKS["text"]()
    assert attack.minimal and attack.norm == "edits" and not attack.needs_gradients
