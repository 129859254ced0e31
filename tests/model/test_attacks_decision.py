"""Decision- and score-based attacks (HopSkipJump, Sign-OPT, Square) on scikit-learn models trained here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _counted import Counted  # noqa: E402  (shared test adapter)
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from bastion.model.attacks.base import perturbation_norm
from bastion.model.attacks.decision import DECISION_ATTACKS, HopSkipJump, SignOPT, Square
from bastion.model.constraints import Constraints


@pytest.fixture(scope="module")
def cancer() -> dict[str, Any]:
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:400], order[400:]
    forest = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(x[train], y[train])
    linear = LogisticRegression(C=10.0, max_iter=1000).fit(x[train], y[train])
    out: dict[str, Any] = {"x": x, "forest": forest, "linear": linear}
    for name, model in (("forest", forest), ("linear", linear)):
        right = model.predict(x[test]) == y[test]
        out[name + "_xy"] = (x[test][right][:24], y[test][right][:24])
    return out


@pytest.fixture(scope="module")
def mixed() -> dict[str, Any]:
    """Tabular data with an immutable feature and two integer counts."""
    x, y = make_classification(n_samples=400, n_features=8, n_informative=5, random_state=1)
    x[:, 2] = np.round(x[:, 2] * 3)
    x[:, 5] = np.round(x[:, 5] * 2)
    x = x.astype(np.float32)
    forest = RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0).fit(x[:300], y[:300])
    right = forest.predict(x[300:]) == y[300:]
    constraints = Constraints.from_data(x, immutable=(0,), integer=(2, 5))
    return {"model": forest, "x": x[300:][right][:20], "y": y[300:][right][:20], "constraints": constraints}


def _check_run(run: Any, model: Any, x: np.ndarray, y: np.ndarray, norm: str) -> None:
    """Reported success, perturbation and adversarial agree with each other and with the model itself."""
    ok = run.success
    assert np.all(model.predict(run.adversarial[ok].reshape(ok.sum(), -1)) != y[ok])
    assert np.array_equal(run.adversarial[~ok], x[~ok])
    np.testing.assert_allclose(run.perturbation[ok], perturbation_norm(run.adversarial[ok] - x[ok], norm), rtol=1e-6)
    assert np.all(np.isinf(run.perturbation[~ok]))


def test_hopskipjump_breaks_a_forest_within_the_box(cancer: dict[str, Any]) -> None:
    x, y = cancer["forest_xy"]
    model = Counted(cancer["forest"], (30,))
    run = HopSkipJump(max_iter=10, max_eval=500, seed=0).run(model, x, y, Constraints.from_data(cancer["x"]))
    assert run.success.mean() >= 0.95
    _check_run(run, cancer["forest"], x, y, "2")
    assert run.adversarial.min() >= 0.0 and run.adversarial.max() <= 1.0
    assert run.name == "hopskipjump" and run.eps is None and run.queries > 0


@pytest.mark.parametrize("norm", ["2", "inf"])
def test_hopskipjump_finds_the_distance_to_a_linear_boundary(cancer: dict[str, Any], norm: str) -> None:
    x, y = cancer["linear_xy"]
    linear = cancer["linear"]
    w = linear.coef_.ravel()
    exact = np.abs(linear.decision_function(x)) / (np.linalg.norm(w) if norm == "2" else np.abs(w).sum())
    run = HopSkipJump(norm=norm, max_iter=15, max_eval=1000).run(Counted(linear, (30,)), x, y)
    assert run.success.all()
    ratio = run.perturbation / exact
    assert ratio.min() >= 1 - 1e-4  # nothing can beat the exact minimum
    assert np.median(ratio) < 1.05


def test_signopt_finds_the_distance_to_a_linear_boundary(cancer: dict[str, Any]) -> None:
    x, y = cancer["linear_xy"]
    linear = cancer["linear"]
    exact = np.abs(linear.decision_function(x)) / np.linalg.norm(linear.coef_)
    run = SignOPT(max_queries=2000).run(Counted(linear, (30,)), x, y)
    assert run.success.all()
    _check_run(run, linear, x, y, "2")
    assert run.perturbation.min() / exact.min() >= 1 - 1e-4
    assert np.median(run.perturbation / exact) < 1.02
    assert run.queries <= len(x) * (2000 + 2 * 200 * 10)  # budget checked once per round


def test_signopt_breaks_a_forest(cancer: dict[str, Any]) -> None:
    x, y = cancer["forest_xy"]
    run = SignOPT(max_queries=1500, k=100).run(Counted(cancer["forest"], (30,)), x, y,
                                               Constraints.from_data(cancer["x"]))
    assert run.success.mean() >= 0.95
    _check_run(run, cancer["forest"], x, y, "2")


@pytest.mark.parametrize("norm,eps", [("inf", 0.15), ("2", 0.6)])
def test_square_stays_within_eps(cancer: dict[str, Any], norm: str, eps: float) -> None:
    x, y = cancer["forest_xy"]
    run = Square(eps, norm=norm, max_queries=150).run(Counted(cancer["forest"], (30,)), x, y,
                                                      Constraints.from_data(cancer["x"]))
    assert run.eps == eps and run.name == "square"
    assert run.success.mean() >= 0.3
    _check_run(run, cancer["forest"], x, y, norm)
    assert np.all(perturbation_norm(run.adversarial - x, norm) <= eps * (1 + 1e-5))


def test_square_matches_the_linear_optimum_in_linf(cancer: dict[str, Any]) -> None:
    """For a linear model the best Linf move is a vertex of the eps-box: Square fools exactly those within reach."""
    x, y = cancer["linear_xy"]
    linear = cancer["linear"]
    exact = np.abs(linear.decision_function(x)) / np.abs(linear.coef_).sum()
    run = Square(0.1, max_queries=1000).run(Counted(linear, (30,)), x, y)
    reachable = exact < 0.1 * 0.98
    assert np.all(run.success[reachable])
    assert not np.any(run.success[exact > 0.1])


def test_square_uses_square_windows_on_images() -> None:
    rng = np.random.default_rng(3)
    images = rng.random((300, 1, 6, 6)).astype(np.float32)
    labels = (images[:, 0, :3, :3].mean(axis=(1, 2)) > images[:, 0, 3:, 3:].mean(axis=(1, 2))).astype(int)
    linear = LogisticRegression(max_iter=2000).fit(images.reshape(300, -1), labels)
    model = Counted(linear, (1, 6, 6))
    right = linear.predict(images.reshape(300, -1)) == labels
    x, y = images[right][:20], labels[right][:20]
    for norm, eps in (("inf", 0.2), ("2", 1.0)):
        run = Square(eps, norm=norm, max_queries=200).run(model, x, y, Constraints.box(0.0, 1.0))
        assert run.adversarial.shape == x.shape
        assert run.success.mean() >= 0.5
        assert np.all(perturbation_norm(run.adversarial - x, norm) <= eps * (1 + 1e-5))
        assert run.adversarial.min() >= 0.0 and run.adversarial.max() <= 1.0


@pytest.mark.parametrize("make", [
    lambda: HopSkipJump(max_iter=5, max_eval=200, init_eval=50),
    lambda: SignOPT(max_queries=600, k=50),
    lambda: Square(2.0, max_queries=60),
    lambda: Square(3.0, norm="2", max_queries=60),
])
def test_constraints_are_respected(mixed: dict[str, Any], make: Any) -> None:
    x, constraints = mixed["x"], mixed["constraints"]
    run = make().run(Counted(mixed["model"], (8,)), x, mixed["y"], constraints)
    assert run.success.any()
    adv = run.adversarial
    assert np.array_equal(adv[:, 0], x[:, 0])
    assert np.array_equal(adv[:, [2, 5]], np.round(adv[:, [2, 5]]))
    assert np.all(adv >= constraints.lower) and np.all(adv <= constraints.upper)
    assert constraints.satisfied(adv, x).all()


@pytest.mark.parametrize("make", [
    lambda: HopSkipJump(max_iter=6, max_eval=300),
    lambda: SignOPT(max_queries=800, k=60),
    lambda: Square(0.1, max_queries=40),
])
def test_model_calls_follow_steps_not_samples(cancer: dict[str, Any], make: Any) -> None:
    x, y = cancer["forest_xy"]
    constraints = Constraints.from_data(cancer["x"])
    few, many = Counted(cancer["forest"], (30,)), Counted(cancer["forest"], (30,))
    run_few = make().run(few, x[:3], y[:3], constraints)
    run_many = make().run(many, x, y, constraints)
    assert len(x) == 24
    assert many.calls < 2 * few.calls  # 8x the samples, not 8x the calls
    assert run_many.queries > 4 * run_few.queries  # but the work (samples queried) does grow


@pytest.mark.parametrize("name", sorted(DECISION_ATTACKS))
def test_seeded_runs_repeat(cancer: dict[str, Any], name: str) -> None:
    x, y = cancer["forest_xy"]
    small = {"hopskipjump": {"max_iter": 4, "max_eval": 200}, "signopt": {"max_queries": 500, "k": 40},
             "square": {"eps": 0.3, "max_queries": 40}}[name]
    runs = [DECISION_ATTACKS[name](**small, seed=seed).run(Counted(cancer["forest"], (30,)), x[:8], y[:8],
                                                           Constraints.from_data(cancer["x"]))
            for seed in (5, 5, 6)]
    assert np.array_equal(runs[0].adversarial, runs[1].adversarial)
    assert not np.array_equal(runs[0].adversarial, runs[2].adversarial)


def test_empty_batch(cancer: dict[str, Any]) -> None:
    empty = np.zeros((0, 30), np.float32)
    for attack in (HopSkipJump(), SignOPT(), Square(0.1)):
        run = attack.run(Counted(cancer["forest"], (30,)), empty, np.zeros(0, int))
        assert run.adversarial.shape == (0, 30) and run.queries == 0


@pytest.mark.parametrize("make,word", [
    (lambda: HopSkipJump(norm="1"), "norm"),
    (lambda: HopSkipJump(max_iter=-1), "max_iter"),
    (lambda: HopSkipJump(init_eval=100, max_eval=10), "max_eval"),
    (lambda: HopSkipJump(gamma=0.0), "gamma"),
    (lambda: HopSkipJump(init_size=0), "init_size"),
    (lambda: SignOPT(k=0), "k"),
    (lambda: SignOPT(alpha=-1.0), "alpha"),
    (lambda: SignOPT(max_queries=0), "max_queries"),
    (lambda: Square(0.0), "eps"),
    (lambda: Square(0.1, norm="0"), "norm"),
    (lambda: Square(0.1, p_init=1.5), "p_init"),
    (lambda: Square(0.1, seed=-1), "seed"),
])
def test_bad_parameters_name_themselves(make: Any, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        make()


def test_bad_labels_and_shapes(cancer: dict[str, Any]) -> None:
    x, y = cancer["forest_xy"]
    model = Counted(cancer["forest"], (30,))
    with pytest.raises(ValueError, match="y"):
        Square(0.1).run(model, x, y[:-1])
    with pytest.raises(ValueError, match="shaped"):
        Square(0.1).run(model, x[:, :10], y)
