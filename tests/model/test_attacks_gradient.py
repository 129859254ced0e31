"""Gradient attacks on small torch models trained here: digits images and a constrained tabular problem."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bastion.model.adapters.torch import TorchClassifier  # noqa: E402
from bastion.model.attacks.base import perturbation_norm  # noqa: E402
from bastion.model.attacks.gradient import (  # noqa: E402
    APGD,
    FGSM,
    GRADIENT_ATTACKS,
    PGD,
    CarliniWagnerL2,
    DeepFool,
    apgd_checkpoints,
)
from bastion.model.base import ModelAdapter, ModelError  # noqa: E402
from bastion.model.constraints import Constraints  # noqa: E402

BOX = Constraints.box(0.0, 1.0)


def _train(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int) -> TorchClassifier:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                                 torch.nn.Linear(hidden, int(y.max()) + 1))
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    features, labels = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(module(features), labels).backward()
        optimiser.step()
    return TorchClassifier(module, (x.shape[1],))


@pytest.fixture(scope="module")
def digits() -> tuple[TorchClassifier, np.ndarray, np.ndarray]:
    """A 64-32-10 MLP on scikit-learn digits in [0, 1], and 150 held-out images it classifies correctly."""
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    data = load_digits()
    x, y = (data.data / 16).astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1000], order[1000:]
    model = _train(x[train], y[train], hidden=32, epochs=150)
    correct = model.predict(x[test]) == y[test]
    assert correct.mean() > 0.9
    return model, x[test][correct][:150], y[test][correct][:150]


@pytest.fixture(scope="module")
def tabular() -> tuple[TorchClassifier, np.ndarray, np.ndarray, Constraints]:
    """Six features: 0 an integer count, 1 immutable, 2-3 a one-hot pair, 4-5 continuous; label from all of them."""
    rng = np.random.default_rng(1)
    n = 600
    count = rng.integers(0, 11, n).astype(np.float32)
    fixed = rng.normal(size=n).astype(np.float32)
    group = rng.integers(0, 2, n)
    onehot = np.eye(2, dtype=np.float32)[group]
    cont = rng.normal(size=(n, 2)).astype(np.float32)
    x = np.column_stack([count, fixed, onehot, cont]).astype(np.float32)
    y = ((count - 5) / 3 + fixed + group + cont[:, 0] - cont[:, 1] > 1).astype(np.int64)
    model = _train(x, y, hidden=16, epochs=200)
    correct = model.predict(x) == y
    constraints = Constraints.from_data(x, immutable=[1], integer=[0], categorical=[(2, 3)])
    return model, x[correct][:200], y[correct][:200], constraints


def _check_run(run, model: ModelAdapter, x: np.ndarray, y: np.ndarray, eps: float | None) -> None:
    """Invariants every run must keep: verified success, sizes, originals back where the attack failed."""
    assert run.success.shape == (len(x),) and run.adversarial.shape == x.shape
    if run.success.any():
        assert np.all(model.predict(run.adversarial[run.success]) != y[run.success])
    size = perturbation_norm(run.adversarial - x, run.norm)
    np.testing.assert_allclose(run.perturbation[run.success], size[run.success], rtol=1e-6)
    assert np.all(np.isinf(run.perturbation[~run.success]))
    np.testing.assert_array_equal(run.adversarial[~run.success], x[~run.success])
    if eps is not None:
        assert np.all(size <= eps + 1e-6)
    assert run.queries > 0 and run.seconds >= 0


def test_pgd_is_at_least_as_strong_as_fgsm_within_budget(digits) -> None:
    model, x, y = digits
    fgsm = FGSM(0.1).run(model, x, y, BOX)
    pgd = PGD(0.1, steps=20).run(model, x, y, BOX)
    _check_run(fgsm, model, x, y, 0.1)
    _check_run(pgd, model, x, y, 0.1)
    assert 0.05 < fgsm.success.mean() <= pgd.success.mean()
    assert pgd.success.mean() >= 0.5
    for run in (fgsm, pgd):
        assert run.adversarial.min() >= 0.0 and run.adversarial.max() <= 1.0
    # FGSM: one forward for the step, one call to re-verify.
    assert fgsm.queries == 2 * len(x)


def test_pgd_restarts_only_help_and_l2_stays_in_its_ball(digits) -> None:
    model, x, y = digits
    one = PGD(0.08, steps=10, seed=1).run(model, x, y, BOX)
    three = PGD(0.08, steps=10, restarts=3, seed=1).run(model, x, y, BOX)
    assert three.success.sum() >= one.success.sum()
    assert np.all(three.success[one.success])
    l2 = PGD(1.0, norm="2", steps=20).run(model, x, y, BOX)
    _check_run(l2, model, x, y, 1.0)
    assert l2.success.mean() > 0.5


def test_pgd_is_reproducible_for_a_seed(digits) -> None:
    model, x, y = digits
    first = PGD(0.1, steps=5, restarts=2, seed=7).run(model, x, y, BOX)
    again = PGD(0.1, steps=5, restarts=2, seed=7).run(model, x, y, BOX)
    other = PGD(0.1, steps=5, restarts=2, seed=8).run(model, x, y, BOX)
    np.testing.assert_array_equal(first.adversarial, again.adversarial)
    np.testing.assert_array_equal(first.success, again.success)
    assert not np.array_equal(first.adversarial, other.adversarial)


def test_apgd_matches_or_beats_pgd_at_the_same_steps(digits) -> None:
    model, x, y = digits
    pgd = PGD(0.07, steps=20).run(model, x, y, BOX)
    apgd = APGD(0.07, steps=20).run(model, x, y, BOX)
    _check_run(apgd, model, x, y, 0.07)
    assert apgd.success.mean() >= pgd.success.mean() - 0.03
    apgd_l2 = APGD(0.8, norm="2", steps=20).run(model, x, y, BOX)
    _check_run(apgd_l2, model, x, y, 0.8)
    assert apgd_l2.success.mean() > 0.3


def test_apgd_checkpoints_follow_the_paper() -> None:
    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06): 22, 41, 57, 70, 80, 87, 93, 99.
    assert list(apgd_checkpoints(100)) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(100)[41] == 19


def test_minimum_norm_attacks_find_smaller_changes_than_pgd(digits) -> None:
    model, x, y = digits
    deepfool = DeepFool().run(model, x, y, BOX)
    cw = CarliniWagnerL2(steps=50, binary_search_steps=6).run(model, x, y, BOX)
    pgd = PGD(2.0, norm="2", steps=20).run(model, x, y, BOX)
    for run in (deepfool, cw):
        _check_run(run, model, x, y, None)
        assert run.eps is None and run.norm == "2"
        assert run.success.mean() >= 0.95
    assert pgd.success.mean() >= 0.9
    pgd_median = np.median(pgd.perturbation[pgd.success])
    assert np.median(deepfool.perturbation[deepfool.success]) < 0.75 * pgd_median
    # CW optimises the L2 size directly: close to DeepFool's (near-optimal on a piecewise-linear net), far below PGD.
    both = deepfool.success & cw.success
    assert np.median(cw.perturbation[both]) < 0.75 * pgd_median
    assert np.median(cw.perturbation[both]) <= 1.2 * np.median(deepfool.perturbation[both])


def test_cw_without_a_box_and_deepfool_in_linf(digits) -> None:
    model, x, y = digits
    cw = CarliniWagnerL2(steps=30, binary_search_steps=4).run(model, x[:40], y[:40])
    _check_run(cw, model, x[:40], y[:40], None)
    assert cw.success.mean() >= 0.9
    deepfool = DeepFool(norm="inf").run(model, x[:40], y[:40], BOX)
    _check_run(deepfool, model, x[:40], y[:40], None)
    assert deepfool.norm == "inf" and deepfool.success.mean() >= 0.9


@pytest.mark.parametrize("name", sorted(GRADIENT_ATTACKS))
def test_every_attack_respects_tabular_constraints(tabular, name: str) -> None:
    model, x, y, constraints = tabular
    attack = {"fgsm": FGSM(2.0), "pgd": PGD(2.0, steps=20), "apgd": APGD(2.0, steps=20),
              "cw": CarliniWagnerL2(steps=30, binary_search_steps=5, lr=0.1), "deepfool": DeepFool()}[name]
    run = attack.run(model, x, y, constraints)
    _check_run(run, model, x, y, getattr(attack, "eps", None) if not attack.minimal else None)
    adv = run.adversarial
    assert run.success.mean() > 0.2, f"{name} found too little for the check to mean anything"
    np.testing.assert_array_equal(adv[:, 1], x[:, 1])
    np.testing.assert_array_equal(adv[:, 0], np.round(adv[:, 0]))
    np.testing.assert_array_equal(adv[:, 2] + adv[:, 3], np.ones(len(adv)))
    assert np.all(constraints.satisfied(adv, x))
    assert np.all(adv >= constraints.lower - 1e-6) and np.all(adv <= constraints.upper + 1e-6)


def test_integer_features_stay_within_a_small_linf_budget(tabular) -> None:
    model, x, y, constraints = tabular
    run = PGD(0.4, steps=10).run(model, x, y, constraints)
    _check_run(run, model, x, y, 0.4)
    # No whole number lies within 0.4 of another: the integer feature cannot move at all.
    np.testing.assert_array_equal(run.adversarial[:, 0], x[:, 0])


def test_empty_batch_and_bad_labels(digits) -> None:
    model, x, y = digits
    run = PGD(0.1).run(model, x[:0], y[:0])
    assert run.success.shape == (0,) and run.queries == 0
    with pytest.raises(ModelError, match="y must hold"):
        PGD(0.1).run(model, x[:3], np.array([0, 1, 10]))
    with pytest.raises(ModelError, match="y must hold"):
        FGSM(0.1).run(model, x[:3], y[:2])


class _NoGradients(ModelAdapter):
    def _proba(self, x: np.ndarray) -> np.ndarray:
        return np.full((len(x), 2), 0.5)


def test_model_without_gradients_is_refused() -> None:
    model = _NoGradients("flat", 2, (3,))
    with pytest.raises(ModelError, match="decision-based"):
        FGSM(0.1).run(model, np.zeros((2, 3), np.float32), np.array([0, 1]))


@pytest.mark.parametrize(("make", "word"), [
    (lambda: FGSM(0.0), "eps"),
    (lambda: FGSM(0.1, norm="1"), "norm"),
    (lambda: PGD(float("nan")), "eps"),
    (lambda: PGD(0.1, steps=0), "steps"),
    (lambda: PGD(0.1, restarts=0), "restarts"),
    (lambda: PGD(0.1, step=-1.0), "step"),
    (lambda: APGD(0.1, rho=1.5), "rho"),
    (lambda: APGD(0.1, steps=2.5), "steps"),
    (lambda: CarliniWagnerL2(lr=-1.0), "lr"),
    (lambda: CarliniWagnerL2(confidence=-1.0), "confidence"),
    (lambda: CarliniWagnerL2(binary_search_steps=0), "binary_search_steps"),
    (lambda: DeepFool(overshoot=-0.1), "overshoot"),
    (lambda: DeepFool(candidates=1), "candidates"),
])
def test_bad_parameters_name_themselves(make, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        make()


def test_registry_names_match_the_attacks() -> None:
    assert {name: cls.name for name, cls in GRADIENT_ATTACKS.items()} == {n: n for n in GRADIENT_ATTACKS}
    assert all(cls.needs_gradients for cls in GRADIENT_ATTACKS.values())
    assert CarliniWagnerL2.minimal and DeepFool.minimal and not PGD.minimal
