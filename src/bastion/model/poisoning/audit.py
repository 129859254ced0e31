"""``bastion test poisoning``: label issues (confident learning) for any model's training data, and backdoor
suspects (activations of the model's hidden layers) when the model is a neural network.

Label issues do not use the model under test: a model trained on poisoned labels has learnt them. They come from
out-of-fold probabilities of a fresh model (``cv_model``), so their quality follows that model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bastion.model.base import ModelAdapter
from bastion.model.poisoning.labels import WARNING, LabelIssueFinder, out_of_fold_probabilities


@dataclass(frozen=True)
class LabelIssue:
    """One row whose label confident learning doubts."""

    row: int
    """0-based row of the data."""
    given: object
    """The label in the data."""
    suggested: object
    """The label the out-of-fold model prefers."""
    score: float
    """Suspicion in [0, 1], higher is more suspect."""


@dataclass(frozen=True)
class BackdoorFindings:
    """What the activation analysis found (neural networks only)."""

    suspected_class: object | None
    """The label of the class that looks poisoned, or ``None``."""
    class_scores: dict[str, float]
    """Suspicion score per class label (see docs/poisoning.md for the scale)."""
    suspects: tuple[tuple[int, float], ...]
    """``(row, score)`` of the suspect rows, most suspect first."""
    layers: tuple[str, ...]
    """The hidden layers analysed."""


@dataclass(frozen=True)
class PoisoningReport:
    """What ``bastion test poisoning`` reports."""

    model: str
    """Model name."""
    samples: int
    """Rows examined."""
    label_issues: tuple[LabelIssue, ...]
    """Suspect labels, most suspect first."""
    backdoor: BackdoorFindings | None
    """Backdoor analysis, or ``None`` when the model has no hidden layers to read."""
    warnings: tuple[str, ...] = field(default=())
    """Caveats (the probability model's quality, a skipped backdoor analysis...)."""

    def to_dict(self) -> dict[str, object]:
        """The issue's JSON: ``label_issues`` and ``backdoor`` (``null`` for models without hidden layers)."""
        backdoor = None if self.backdoor is None else {
            "suspected_class": self.backdoor.suspected_class, "class_scores": self.backdoor.class_scores,
            "suspects": [{"row": row, "score": score} for row, score in self.backdoor.suspects],
            "layers": list(self.backdoor.layers)}
        return {"model": self.model, "samples": self.samples,
                "label_issues": [vars(issue) for issue in self.label_issues], "backdoor": backdoor,
                "warnings": list(self.warnings)}


class PoisoningTest:
    """Configure the label-issue search and the backdoor detector; ``run`` examines one labelled dataset."""

    def __init__(self, *, cv_model: str = "random_forest", folds: int = 5, seed: int = 0, backdoor: bool = True,
                 layers: list[str] | None = None, n_jobs: int = 1) -> None:
        self.cv_model = cv_model
        self.folds = folds
        self.seed = seed
        self.backdoor = backdoor
        self.layers = layers
        self.n_jobs = n_jobs

    def run(self, model: ModelAdapter, x: np.ndarray, labels: np.ndarray) -> PoisoningReport:
        """Label issues over ``x`` / ``labels`` (as the data spells them), then backdoors if the model allows."""
        classes, codes = np.unique(np.asarray(labels), return_inverse=True)
        features = x.reshape(len(x), -1) if not model.text else x
        warnings = [WARNING]
        if model.text:
            issues: tuple[LabelIssue, ...] = ()
            warnings.append("label issues need numeric features; a text model's data was not examined for them")
        else:
            proba = out_of_fold_probabilities(features, codes, estimator=self.cv_model, folds=self.folds,
                                              seed=self.seed, n_jobs=self.n_jobs)
            found = LabelIssueFinder().find(proba, codes)
            issues = tuple(LabelIssue(int(r), _plain(classes[g]), _plain(classes[s]), round(float(score), 6))
                           for r, g, s, score in zip(found.rows, found.given, found.suggested, found.score,
                                                     strict=True))
        backdoor = self._backdoor(model, x, labels, warnings) if self.backdoor else None
        return PoisoningReport(model=model.name, samples=len(x), label_issues=issues, backdoor=backdoor,
                               warnings=tuple(warnings))

    def _backdoor(self, model: ModelAdapter, x: np.ndarray, labels: np.ndarray,
                  warnings: list[str]) -> BackdoorFindings | None:
        if not model.layer_names():
            warnings.append(f"backdoor analysis skipped: the {model.kind} model exposes no hidden layers "
                            f"(it needs a neural network: PyTorch, TorchScript Sequential, or scikit-learn MLP)")
            return None
        from bastion.model.poisoning.backdoor import BackdoorDetector

        y = model.encode_labels(labels)
        found = BackdoorDetector(layers=self.layers, seed=self.seed).detect(model, x, y)
        names = [str(_plain(c)) for c in model.classes.tolist()]
        suspected = None if found.suspected_class is None else _plain(model.classes[found.suspected_class])
        order = np.argsort(-np.asarray(found.scores)[found.suspects], kind="stable")
        suspects = tuple((int(found.suspects[i]), round(float(found.scores[found.suspects[i]]), 6)) for i in order)
        return BackdoorFindings(suspected_class=suspected,
                                class_scores={names[i]: round(float(s), 6) for i, s in enumerate(found.class_scores)},
                                suspects=suspects, layers=tuple(found.layers))


def _plain(value: Any) -> object:
    """NumPy scalars as Python values, for JSON."""
    return value.item() if hasattr(value, "item") else value
