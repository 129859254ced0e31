"""Defences measured on scikit-learn digits: PGD adversarial training and the feature-squeezing detector."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bastion.model.adapters.torch import TorchClassifier  # noqa: E402
from bastion.model.attacks.gradient import FGSM, PGD, CarliniWagnerL2  # noqa: E402
from bastion.model.constraints import Constraints  # noqa: E402
from bastion.model.defences import (  # noqa: E402
    SqueezingDetector,
    adversarial_training,
    evaluate_detector,
    evaluate_robustness,
)

BOX = Constraints.box(0.0, 1.0)


def _module() -> object:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    data = load_digits()
    x, y = (data.data / 16).astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1000], order[1000:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


@pytest.fixture(scope="module")
def standard(digits) -> TorchClassifier:
    module = _module()
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    features, labels = torch.from_numpy(digits["x_train"]), torch.from_numpy(digits["y_train"])
    for _ in range(150):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(module(features), labels).backward()
        optimiser.step()
    return TorchClassifier(module, (64,))


def test_pgd_training_raises_accuracy_under_attack_on_held_out_data(digits, standard) -> None:
    start = _module()
    before = [p.detach().clone() for p in start.parameters()]
    result = adversarial_training(start, digits["x_train"], digits["y_train"], eps=0.1, epochs=12, steps=5, lr=1e-2,
                                  constraints=BOX)
    assert result.epochs == 12 and len(result.history) == 12 and len(result.adversarial_accuracy) == 12
    assert result.history[-1] < result.history[0]
    assert all(torch.equal(a, b) for a, b in zip(before, start.parameters(), strict=True))  # the input is a copy
    attack = PGD(0.1, steps=10)
    hardened = TorchClassifier(result.module, (64,))
    plain = evaluate_robustness(standard, digits["x_test"], digits["y_test"], attack, BOX)
    robust = evaluate_robustness(hardened, digits["x_test"], digits["y_test"], attack, BOX)
    assert plain.attack == "pgd" and plain.eps == 0.1 and plain.samples == len(digits["y_test"])
    assert robust.clean_accuracy > 0.85
    assert robust.accuracy_under_attack > plain.accuracy_under_attack + 0.2
    assert plain.accuracy_under_attack < plain.clean_accuracy


def test_training_is_seeded_and_mixes_clean_examples(digits) -> None:
    x, y = digits["x_train"][:256], digits["y_train"][:256]
    kwargs = {"eps": 0.5, "norm": "2", "epochs": 2, "steps": 3, "clean_fraction": 0.5, "seed": 4}
    first = adversarial_training(_module(), x, y, **kwargs)
    again = adversarial_training(_module(), x, y, **kwargs)
    other = adversarial_training(_module(), x, y, **{**kwargs, "seed": 5})
    assert first.history == again.history
    assert all(torch.equal(a, b) for a, b in zip(first.module.parameters(), again.module.parameters(), strict=True))
    assert first.history != other.history


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"eps": 0.0}, "eps"), ({"eps": 0.1, "norm": "1"}, "norm"), ({"eps": 0.1, "epochs": 0}, "epochs"),
    ({"eps": 0.1, "steps": 1.5}, "steps"), ({"eps": 0.1, "lr": -1}, "lr"),
    ({"eps": 0.1, "batch_size": 0}, "batch_size"),
    ({"eps": 0.1, "clean_fraction": 1.0}, "clean_fraction"), ({"eps": 0.1, "clean_fraction": -0.1}, "clean_fraction"),
])
def test_training_rejects_bad_parameters(digits, kwargs, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        adversarial_training(_module(), digits["x_train"][:10], digits["y_train"][:10], **kwargs)


def test_squeezing_keeps_its_false_positive_rate_and_catches_attacks(digits, standard) -> None:
    detector = SqueezingDetector(bits=2, value_range=(0.0, 1.0), false_positive_rate=0.05)
    detector.fit(standard, digits["x_train"][:500])
    # Flat 8x8 digits without an image shape: no median filter, bit depth only.
    assert detector.squeezers_ == ("bit_depth",)
    fit_rate = detector.detect(digits["x_train"][:500]).mean()
    assert 0.02 <= fit_rate <= 0.05
    x, y = digits["x_test"], digits["y_test"]
    correct = standard.predict(x) == y
    targets, held_out = x[correct][:150], x[correct][150:]
    for attack in (CarliniWagnerL2(steps=50, binary_search_steps=6), FGSM(0.1)):
        run = attack.run(standard, targets, y[correct][:150], BOX)
        assert run.success.sum() >= 50
        score = evaluate_detector(detector, held_out, run.adversarial[run.success])
        assert score.false_positive_rate <= 0.12, attack.name
        assert score.detection_rate >= 0.6, attack.name
        assert score.threshold == detector.threshold_ and score.adversarial == run.success.sum()


def test_median_squeezer_on_images(digits, standard) -> None:
    detector = SqueezingDetector(("median",), median_size=2, image_shape=(8, 8)).fit(standard, digits["x_train"][:200])
    assert detector.squeezers_ == ("median",)
    image = digits["x_train"][:1].reshape(8, 8)
    squeezed = detector.squeeze("median", digits["x_train"][:1]).reshape(8, 8)
    from scipy.ndimage import median_filter

    np.testing.assert_allclose(squeezed, median_filter(image, size=2, mode="reflect"))
    bits = SqueezingDetector(("bit_depth",), bits=1, value_range=(0.0, 1.0)).fit(standard, digits["x_train"][:200])
    assert set(np.unique(bits.squeeze("bit_depth", digits["x_train"][:50]))) <= {0.0, 1.0}
    scores = detector.score(digits["x_test"][:20])
    assert scores.shape == (20,) and np.all((scores >= 0) & (scores <= 2 + 1e-9))


def test_squeezing_detector_rejects_bad_use(digits, standard) -> None:
    with pytest.raises(ValueError, match="squeezers"):
        SqueezingDetector(("blur",))
    with pytest.raises(ValueError, match="bits"):
        SqueezingDetector(bits=0)
    with pytest.raises(ValueError, match="false_positive_rate"):
        SqueezingDetector(false_positive_rate=1.5)
    with pytest.raises(ValueError, match="value_range"):
        SqueezingDetector(value_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="not fitted"):
        SqueezingDetector().detect(digits["x_test"][:2])
    with pytest.raises(ValueError, match="median squeezer needs images"):
        SqueezingDetector(("median",)).fit(standard, digits["x_train"][:20])
    with pytest.raises(ValueError, match="image_shape"):
        SqueezingDetector(image_shape=(7, 7)).fit(standard, digits["x_train"][:20])
