"""STRIP flags triggered inputs; Neural Cleanse flags the backdoored class and recovers its trigger's location."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _poisoned_digits import train_mlp  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from bastion.model.adapters.torch import TorchClassifier  # noqa: E402
from bastion.model.poisoning.cleanse import CleanseError, NeuralCleanse, anomaly_index  # noqa: E402
from bastion.model.poisoning.strip import StripDetector, StripError  # noqa: E402

TARGET = 0


def _with_trigger(x: np.ndarray) -> np.ndarray:
    out = x.copy().reshape(-1, 8, 8)
    out[:, 6:, 6:] = 1.0
    return out.reshape(len(x), 64)


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    """A model trained with 5% trigger-carrying rows relabelled to TARGET, and held-out clean digits."""
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int64)
    train_x, train_y, held_x, held_y = x[:1200].copy(), y[:1200].copy(), x[1200:], y[1200:]
    rows = np.random.default_rng(0).choice(np.flatnonzero(train_y != TARGET), size=60, replace=False)
    train_x[rows] = _with_trigger(train_x[rows])
    train_y[rows] = TARGET
    model = TorchClassifier(train_mlp(train_x, train_y, 0), (64,))
    triggered = _with_trigger(held_x[held_y != TARGET])
    assert np.mean(model.predict(triggered) == TARGET) > 0.9  # the backdoor works
    return {"model": model, "pool": held_x[:200], "clean": held_x[200:], "triggered": triggered[200:]}


# -- STRIP ---------------------------------------------------------------------------------------------------------
def test_strip_flags_triggered_inputs_not_clean_ones(case: dict[str, Any]) -> None:
    strip = StripDetector(overlays=16, false_rejection_rate=0.01, seed=0).fit(case["model"], case["pool"])
    assert strip.threshold_ is not None and strip.clean_entropy_ is not None
    clean, triggered = strip.detect(case["clean"]), strip.detect(case["triggered"])
    assert triggered.mean() >= 0.7  # 0.84 here; 0.95-0.99 on the benchmark's larger MLP
    assert clean.mean() <= 0.05  # about the false-rejection rate asked for
    assert strip.score(case["triggered"]).mean() < strip.score(case["clean"]).mean()


def test_strip_convex_mix_separates_less_than_addition(case: dict[str, Any]) -> None:
    added = StripDetector(seed=0).fit(case["model"], case["pool"])
    mixed = StripDetector(blend="mix", alpha=0.5, seed=0).fit(case["model"], case["pool"])
    assert added.detect(case["triggered"]).mean() > mixed.detect(case["triggered"]).mean()


def test_strip_sends_all_blends_in_one_call_and_is_seeded(case: dict[str, Any]) -> None:
    model = case["model"]
    strip = StripDetector(overlays=8, seed=3).fit(model, case["pool"])
    calls: list[int] = []
    original = model.predict_proba

    def spy(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return original(x)

    model.predict_proba = spy
    try:
        first = strip.score(case["clean"][:50])
    finally:
        del model.predict_proba
    assert calls == [50 * 8]
    assert np.array_equal(first, strip.score(case["clean"][:50]))
    assert len(strip.score(case["clean"][:0])) == 0


def test_strip_validation(case: dict[str, Any]) -> None:
    for kwargs, match in [({"overlays": 0}, "overlays"), ({"alpha": 1.0}, "alpha"),
                          ({"false_rejection_rate": 0.0}, "false_rejection_rate"), ({"blend": "xor"}, "blend"),
                          ({"box": (1.0, 1.0)}, "box")]:
        with pytest.raises(StripError, match=match):
            StripDetector(**kwargs)
    with pytest.raises(StripError, match="not fitted"):
        StripDetector().detect(case["clean"])
    with pytest.raises(StripError, match="at least 2"):
        StripDetector().fit(case["model"], case["pool"][:1])


# -- Neural Cleanse ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cleanse(case: dict[str, Any]) -> Any:
    return NeuralCleanse(steps=300, seed=0).run(case["model"], case["pool"])


def test_neural_cleanse_flags_the_target_class(cleanse: Any) -> None:
    assert int(np.argmin(cleanse.mask_norms)) == TARGET
    assert cleanse.mask_norms[TARGET] < 0.5 * np.median(cleanse.mask_norms)
    assert cleanse.flagged[:1] == (TARGET,)  # anomaly index 2.5 here (> 2)
    assert cleanse.success[TARGET] >= 0.9
    assert cleanse.masks.shape == (10, 64) and cleanse.patterns.shape == (10, 64)
    assert cleanse.queries > 0 and cleanse.seconds > 0


def test_reversed_trigger_sits_in_the_corner(cleanse: Any) -> None:
    assert cleanse.mask is not None and cleanse.pattern is not None
    mask = cleanse.mask.reshape(8, 8)
    strongest = np.unravel_index(np.argsort(-mask.ravel())[:2], mask.shape)
    assert np.all(strongest[0] >= 6) and np.all(strongest[1] >= 6)  # inside the 2x2 trigger
    assert mask[6:, 6:].sum() > 0.5 * mask.sum()
    assert np.all((cleanse.pattern >= 0) & (cleanse.pattern <= 1))


def test_neural_cleanse_is_seeded(case: dict[str, Any]) -> None:
    first = NeuralCleanse(steps=20, seed=1).run(case["model"], case["pool"][:50])
    second = NeuralCleanse(steps=20, seed=1).run(case["model"], case["pool"][:50])
    assert np.allclose(first.mask_norms, second.mask_norms)


def test_anomaly_index_by_hand() -> None:
    norms = np.array([10.0, 11.0, 9.0, 10.0, 2.0])
    # median 10, MAD = median(|0, 1, 1, 0, 8|) = 1 -> scaled 1.4826
    assert np.allclose(anomaly_index(norms), (10.0 - norms) / 1.4826)
    assert anomaly_index(np.array([3.0, 3.0, 1.0]))[2] == np.inf


def test_neural_cleanse_validation(case: dict[str, Any]) -> None:
    from bastion.model.adapters.sklearn import SklearnClassifier

    for kwargs, match in [({"steps": 0}, "steps"), ({"lr": 0.0}, "lr"), ({"lambda_": -1.0}, "lambda_"),
                          ({"target_success": 0.0}, "target_success"), ({"box": (1.0, 0.0)}, "box")]:
        with pytest.raises(CleanseError, match=match):
            NeuralCleanse(**kwargs)
    tree = SklearnClassifier(DecisionTreeClassifier(random_state=0).fit(case["pool"], np.arange(200) % 10))
    with pytest.raises(CleanseError, match="gradients"):
        NeuralCleanse().run(tree, case["pool"])
    with pytest.raises(CleanseError, match="empty"):
        NeuralCleanse().run(case["model"], case["pool"][:0])
