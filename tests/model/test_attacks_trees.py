"""The tree attack: exact on a single decision tree, greedy threshold search on forests and boosting."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from _counted import Counted  # noqa: E402  (shared test adapter)
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from bastion.model.attacks.base import perturbation_norm
from bastion.model.attacks.trees import TREE_ATTACKS, TreeEnsembleAttack
from bastion.model.base import ModelError
from bastion.model.constraints import Constraints


def _right(model: Any, x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    keep = model.predict(x) == y
    return x[keep][:limit], y[keep][:limit]


@pytest.fixture(scope="module")
def cancer() -> dict[str, Any]:
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    return {"train": (x[order[:400]], y[order[:400]]), "test": (x[order[400:]], y[order[400:]]),
            "constraints": Constraints.from_data(x)}


@pytest.fixture(scope="module")
def models(cancer: dict[str, Any]) -> dict[str, Any]:
    x, y = cancer["train"]
    return {
        "tree": DecisionTreeClassifier(max_depth=6, random_state=0).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0).fit(x, y),
        "extra": ExtraTreesClassifier(n_estimators=25, max_depth=6, random_state=0).fit(x, y),
        "boosting": GradientBoostingClassifier(n_estimators=25, max_depth=3, random_state=0).fit(x, y),
        "hist": HistGradientBoostingClassifier(max_iter=25, max_depth=3, random_state=0).fit(x, y),
    }


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    """A depth-4 tree on two features, small enough to search every candidate point by brute force."""
    x, y = make_classification(n_samples=200, n_features=2, n_informative=2, n_redundant=0, n_clusters_per_class=2,
                               random_state=3)
    x = x.astype(np.float32)
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(x, y)
    sx, sy = _right(tree, x, y, 30)
    return {"tree": tree, "x": sx, "y": sy}


def _float32_edges(t: np.ndarray) -> np.ndarray:
    """Float32 values just at/below and just above each threshold (where a sample switches side)."""
    v = t.astype(np.float32)
    below = np.where(v.astype(np.float64) > t, np.nextafter(v, np.float32(-np.inf)), v)
    above = np.where(v.astype(np.float64) <= t, np.nextafter(v, np.float32(np.inf)), v)
    return np.concatenate([below, above])


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_single_tree_attack_is_exact(tiny: dict[str, Any], norm: str) -> None:
    """The closest point of any leaf box has coordinates that are x's own or a threshold edge: try them all."""
    tree, x, y = tiny["tree"], tiny["x"], tiny["y"]
    run = TreeEnsembleAttack(norm=norm).run(Counted(tree, 2), x, y)
    assert run.success.all()
    internal = tree.tree_.children_left != -1
    edges = [_float32_edges(tree.tree_.threshold[internal & (tree.tree_.feature == f)]) for f in range(2)]
    for i in range(len(x)):
        grid = np.array(list(itertools.product(*[np.append(e, x[i, f]) for f, e in enumerate(edges)])),
                        dtype=np.float32)
        fooled = grid[tree.predict(grid) != y[i]]
        best = perturbation_norm(fooled - x[i], norm).min()
        assert run.perturbation[i] == pytest.approx(best, rel=1e-6, abs=1e-7)
    assert run.queries <= 5 * len(x)  # four closest leaves verified, then the final check


def test_exact_beats_greedy_on_one_tree(cancer: dict[str, Any], models: dict[str, Any]) -> None:
    x, y = _right(models["tree"], *cancer["test"], 60)
    model = Counted(models["tree"], 30)
    exact = TreeEnsembleAttack().run(model, x, y, cancer["constraints"])
    greedy = TreeEnsembleAttack(exact=False).run(model, x, y, cancer["constraints"])
    assert exact.success.all()
    both = greedy.success
    assert both.mean() >= 0.5
    assert np.all(exact.perturbation[both] <= greedy.perturbation[both] + 1e-7)


@pytest.mark.parametrize("name", ["forest", "extra", "boosting", "hist"])
@pytest.mark.parametrize("norm", ["inf", "2"])
def test_ensembles_are_broken(cancer: dict[str, Any], models: dict[str, Any], name: str, norm: str) -> None:
    estimator = models[name]
    x, y = _right(estimator, *cancer["test"], 40)
    run = TreeEnsembleAttack(norm=norm).run(Counted(estimator, 30), x, y, cancer["constraints"])
    assert run.success.mean() >= 0.95
    ok = run.success
    assert np.all(estimator.predict(run.adversarial[ok]) != y[ok])
    np.testing.assert_allclose(run.perturbation[ok], perturbation_norm(run.adversarial[ok] - x[ok], norm), rtol=1e-6)
    assert np.array_equal(run.adversarial[~ok], x[~ok])
    assert run.name == "trees" and run.norm == norm and run.eps is None
    assert np.median(run.perturbation[ok]) < 0.5  # features span [0, 1]


def test_pulling_back_makes_changes_minimal_per_feature(cancer: dict[str, Any], models: dict[str, Any]) -> None:
    """After the final pass no single changed feature can go back to its original value."""
    estimator = models["forest"]
    x, y = _right(estimator, *cancer["test"], 20)
    run = TreeEnsembleAttack(norm="2").run(Counted(estimator, 30), x, y, cancer["constraints"])
    for i in np.flatnonzero(run.success):
        for f in np.flatnonzero(run.adversarial[i] != x[i]):
            back = run.adversarial[i].copy()
            back[f] = x[i, f]
            assert estimator.predict(back[None])[0] == y[i]


@pytest.fixture(scope="module")
def mixed() -> dict[str, Any]:
    """Tabular data with an immutable feature, integer counts and a label-encoded category."""
    x, y = make_classification(n_samples=500, n_features=6, n_informative=4, random_state=2)
    x[:, 1] = np.round(x[:, 1] * 3)
    x[:, 3] = np.clip(np.round(x[:, 3] + 1), 0, 2) * 5  # values 0, 5, 10
    x = x.astype(np.float32)
    constraints = Constraints.from_data(x, immutable=(0,), integer=(1,), allowed_values=((3, (0.0, 5.0, 10.0)),))
    return {"x": x, "y": y, "constraints": constraints}


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_constraints_are_respected(mixed: dict[str, Any], kind: str) -> None:
    x, y, constraints = mixed["x"], mixed["y"], mixed["constraints"]
    estimator = (DecisionTreeClassifier(max_depth=6, random_state=0) if kind == "tree"
                 else RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)).fit(x[:400], y[:400])
    sx, sy = _right(estimator, x[400:], y[400:], 40)
    run = TreeEnsembleAttack(norm="inf").run(Counted(estimator, 6), sx, sy, constraints)
    assert run.success.mean() >= 0.8
    adv = run.adversarial
    assert np.array_equal(adv[:, 0], sx[:, 0])
    assert np.array_equal(adv[:, 1], np.round(adv[:, 1]))
    assert set(np.unique(adv[:, 3])) <= {0.0, 5.0, 10.0}
    assert np.all(adv >= constraints.lower) and np.all(adv <= constraints.upper)
    assert constraints.satisfied(adv, sx).all()


def test_immutable_feature_blocks_the_only_way(tiny: dict[str, Any]) -> None:
    """With both features frozen nothing can change; the attack reports failure, not a fake success."""
    tree, x, y = tiny["tree"], tiny["x"], tiny["y"]
    run = TreeEnsembleAttack().run(Counted(tree, 2), x, y, Constraints(immutable=(0, 1)))
    assert not run.success.any() and np.array_equal(run.adversarial, x)


def test_model_calls_follow_steps_not_samples(cancer: dict[str, Any], models: dict[str, Any]) -> None:
    estimator = models["forest"]
    x, y = _right(estimator, *cancer["test"], 48)
    few, many = Counted(estimator, 30), Counted(estimator, 30)
    TreeEnsembleAttack().run(few, x[:6], y[:6], cancer["constraints"])
    TreeEnsembleAttack().run(many, x, y, cancer["constraints"])
    assert len(x) == 48
    assert many.calls < 3 * few.calls  # 8x the samples


def test_seeded_runs_repeat(cancer: dict[str, Any], models: dict[str, Any]) -> None:
    estimator = models["extra"]
    x, y = _right(estimator, *cancer["test"], 15)
    runs = [TreeEnsembleAttack(seed=3).run(Counted(estimator, 30), x, y, cancer["constraints"]) for _ in range(2)]
    assert np.array_equal(runs[0].adversarial, runs[1].adversarial)


def test_unsupported_models_are_refused(cancer: dict[str, Any], models: dict[str, Any]) -> None:
    x, y = cancer["train"]
    sx, sy = x[:5], y[:5]
    scaled = Pipeline([("scale", StandardScaler()), ("tree", DecisionTreeClassifier(random_state=0))]).fit(x, y)
    with pytest.raises(ModelError, match="scale"):
        TreeEnsembleAttack().run(Counted(scaled, 30), sx, sy)
    with pytest.raises(ModelError, match="LogisticRegression"):
        TreeEnsembleAttack().run(Counted(LogisticRegression(max_iter=500).fit(x, y), 30), sx, sy)
    bare = Pipeline([("nothing", "passthrough"), ("tree", models["tree"])])
    sx, sy = _right(models["tree"], sx, sy, 5)
    assert TreeEnsembleAttack().run(Counted(bare, 30), sx, sy).success.all()


@pytest.mark.parametrize("kwargs,word", [
    ({"norm": "0"}, "norm"), ({"max_steps": 0}, "max_steps"), ({"candidates": 0}, "candidates"),
    ({"exact": "yes"}, "exact"), ({"seed": -2}, "seed"),
])
def test_bad_parameters_name_themselves(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        TREE_ATTACKS["trees"](**kwargs)
