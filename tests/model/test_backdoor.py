"""Backdoor detector on a digits MLP with a planted corner trigger: names the target class and finds the poison."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _poisoned_digits import train_mlp  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from bastion.model.adapters.torch import TorchClassifier  # noqa: E402
from bastion.model.poisoning.backdoor import BackdoorDetector, BackdoorError, BackdoorReport  # noqa: E402

TARGET = 0


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)[:1200]
    y = y.astype(np.int64)[:1200]
    rng = np.random.default_rng(0)
    poisoned = rng.choice(np.flatnonzero(y != TARGET), size=60, replace=False)
    xp, yp = x.copy().reshape(-1, 8, 8), y.copy()
    xp[poisoned, 6:, 6:] = 1.0
    yp[poisoned] = TARGET
    xp = xp.reshape(len(x), 64)
    truth = np.zeros(len(y), dtype=bool)
    truth[poisoned] = True
    return {"x": xp, "y": yp, "truth": truth, "clean_x": x, "clean_y": y,
            "poisoned": TorchClassifier(train_mlp(xp, yp, 0), (64,)),
            "clean": TorchClassifier(train_mlp(x, y, 0), (64,))}


@pytest.fixture(scope="module")
def report(case: dict[str, Any]) -> BackdoorReport:
    return BackdoorDetector(seed=0).detect(case["poisoned"], case["x"], case["y"])


def test_names_the_target_class_and_finds_the_poison(case: dict[str, Any], report: BackdoorReport) -> None:
    assert report.suspected_class == TARGET
    assert report.class_scores[TARGET] >= report.threshold
    assert report.layers == ("0", "1")  # early layers by default
    found = np.zeros(len(case["y"]), dtype=bool)
    found[report.suspects] = True
    hits = int((found & case["truth"]).sum())
    assert hits / len(report.suspects) >= 0.9  # precision
    assert hits / case["truth"].sum() >= 0.9  # recall
    assert np.all(case["y"][report.suspects] == TARGET)
    assert np.all(np.diff(report.scores[report.suspects]) <= 0)  # highest first
    # poisoned rows score above every clean row of the class
    own = case["y"] == TARGET
    assert report.scores[case["truth"]].min() > report.scores[own & ~case["truth"]].max()


def test_pattern_recovers_the_corner_trigger(report: BackdoorReport) -> None:
    assert report.pattern is not None
    pattern = report.pattern.reshape(8, 8)
    corner = pattern[6:, 6:]
    assert corner.min() > 0.5  # the trigger pixels were set to 1 in rows whose corner was ~0
    assert np.abs(pattern).sum() - np.abs(corner).sum() < np.abs(corner).sum()


def test_other_classes_stay_below_threshold(report: BackdoorReport) -> None:
    others = np.delete(report.class_scores, TARGET)
    assert others.max() < report.threshold
    assert report.class_scores[TARGET] - others.max() > 0.4


def test_clean_model_raises_no_suspicion(case: dict[str, Any], report: BackdoorReport) -> None:
    clean = BackdoorDetector(seed=0).detect(case["clean"], case["clean_x"], case["clean_y"])
    assert clean.suspected_class is None
    assert len(clean.suspects) == 0 and clean.pattern is None
    assert clean.class_scores.max() < report.class_scores.max() - 0.4
    # clustering statistics are reported, but do not by themselves separate the classes
    assert np.all(np.isfinite(clean.silhouette)) and np.all((clean.cluster_fraction > 0) & (clean.cluster_fraction
                                                                                             <= 0.5))


def test_single_method_and_chosen_layers_work(case: dict[str, Any]) -> None:
    for methods in (("spectral",), ("clustering",)):
        result = BackdoorDetector(layers=["1"], methods=methods, seed=0).detect(case["poisoned"], case["x"],
                                                                                case["y"])
        assert result.suspected_class == TARGET and result.layers == ("1",)
        assert result.source.startswith("1/" + methods[0])


def test_seeded_runs_are_identical(case: dict[str, Any], report: BackdoorReport) -> None:
    again = BackdoorDetector(seed=0).detect(case["poisoned"], case["x"], case["y"])
    assert np.array_equal(again.suspects, report.suspects)
    assert np.array_equal(again.class_scores, report.class_scores)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"methods": ("spectral", "pca")}, "methods"),
    ({"methods": ()}, "methods"),
    ({"layers": []}, "layers"),
    ({"layers": "0"}, "layers"),
    ({"threshold": 0.0}, "threshold"),
    ({"components": 0}, "components"),
    ({"min_class_rows": 2}, "min_class_rows"),
    ({"box": (1.0, 0.0)}, "box"),
])
def test_parameter_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(BackdoorError, match=match):
        BackdoorDetector(**kwargs)


def test_data_validation(case: dict[str, Any]) -> None:
    model = case["poisoned"]
    with pytest.raises(BackdoorError, match="layers: 'conv9'"):
        BackdoorDetector(layers=["conv9"]).detect(model, case["x"], case["y"])
    with pytest.raises(BackdoorError, match="0..9"):
        BackdoorDetector().detect(model, case["x"][:20], np.full(20, 10))
    with pytest.raises(BackdoorError, match="class indices"):
        BackdoorDetector().detect(model, case["x"][:20], np.full(20, 1.5))
    with pytest.raises(BackdoorError, match="1-D"):
        BackdoorDetector().detect(model, case["x"][:20], case["y"][:10])


def test_model_without_hidden_layers_is_refused(case: dict[str, Any]) -> None:
    from bastion.model.adapters.sklearn import SklearnClassifier

    linear = SklearnClassifier(LogisticRegression(max_iter=200).fit(case["x"][:300], case["y"][:300]))
    with pytest.raises(BackdoorError, match="no hidden layers"):
        BackdoorDetector().detect(linear, case["x"][:300], case["y"][:300])
