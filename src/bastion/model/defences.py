"""Defences, each with the measurement that says whether it helped.

- ``adversarial_training``: PGD adversarial training (Madry et al. 2018) for a torch module with logits output;
  ``evaluate_robustness`` gives clean accuracy and accuracy under an attack, before and after.
- ``SqueezingDetector``: feature squeezing (Xu et al. 2018) flags inputs whose prediction moves when the input is
  coarsened (fewer grey levels, a median filter); ``evaluate_detector`` gives its detection and false-positive rates.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from bastion.model.attacks.base import Attack
from bastion.model.attacks.gradient import Feasible, pgd_tensors, random_start
from bastion.model.base import ModelAdapter, require_torch
from bastion.model.constraints import Constraints

SQUEEZERS = ("bit_depth", "median")
"""Squeezers ``SqueezingDetector`` knows: fewer levels per feature, and a median filter over image pixels."""


def _torch() -> Any:
    return require_torch("adversarial training and squeezing")


def _positive(name: str, value: float, *, integer: bool = False) -> None:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value)) and value > 0
    if not ok or (integer and not isinstance(value, int)):
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def _fraction(name: str, value: float, *, closed: bool) -> None:
    ok = isinstance(value, Real) and not isinstance(value, bool) and (0 <= value <= 1 if closed else 0 < value < 1)
    if not ok:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


# -- adversarial training ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AdversarialTrainingResult:
    """A module trained on PGD examples, and how training went."""

    module: Any
    """The trained ``torch.nn.Module`` (a copy; the one passed in is left as it was), in eval mode."""
    epochs: int
    """Passes made over the training data."""
    seconds: float
    """Wall time of the training."""
    history: tuple[float, ...]
    """Mean training loss per epoch (on the adversarial / clean mix the module was trained on)."""
    adversarial_accuracy: tuple[float, ...]
    """Per epoch: share of training batches' PGD examples the module still classified correctly while training."""


def adversarial_training(module: Any, x: np.ndarray, y: np.ndarray, *, eps: float, norm: str = "inf",
                         epochs: int = 10, steps: int = 7, lr: float = 1e-3, batch_size: int = 128,
                         clean_fraction: float = 0.0, seed: int = 0,
                         constraints: Constraints | None = None) -> AdversarialTrainingResult:
    """PGD adversarial training: each batch is attacked with ``steps`` of PGD (step ``2.5 eps / steps``, random
    start) against the current weights, and the module learns from those examples with Adam.

    ``x`` is shaped ``(n, *input_shape)``, ``y`` holds class indices; ``clean_fraction`` weights the clean loss in
    the mix (0 is Madry's pure min-max objective, 0.5 the half-and-half of Goodfellow et al.).
    """
    torch = _torch()
    _check_training(eps, norm, epochs, steps, lr, batch_size, clean_fraction)
    features = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    labels = torch.from_numpy(np.asarray(y).astype(np.int64))
    if len(features) == 0 or labels.shape != (len(features),):
        raise ValueError(f"x and y must be non-empty and of one length, got {len(features)} and {tuple(labels.shape)}")
    started = time.perf_counter()
    trained = copy.deepcopy(module)
    for parameter in trained.parameters():
        parameter.requires_grad_(True)
    feasible = Feasible(constraints, tuple(features.shape[1:]))
    generator = torch.Generator().manual_seed(int(seed))
    optimiser = torch.optim.Adam(trained.parameters(), lr=lr)
    history, robust = [], []
    for _ in range(epochs):
        loss, accuracy = _train_epoch(trained, optimiser, features, labels, generator, feasible, eps=eps, norm=norm,
                                      steps=steps, batch_size=batch_size, clean_fraction=clean_fraction)
        history.append(loss)
        robust.append(accuracy)
    trained.eval()
    return AdversarialTrainingResult(module=trained, epochs=epochs, seconds=time.perf_counter() - started,
                                     history=tuple(history), adversarial_accuracy=tuple(robust))


def _check_training(eps: float, norm: str, epochs: int, steps: int, lr: float, batch_size: int,
                    clean_fraction: float) -> None:
    _positive("eps", eps)
    if norm not in ("inf", "2"):
        raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")
    for name, value in (("epochs", epochs), ("steps", steps), ("batch_size", batch_size)):
        _positive(name, value, integer=True)
    _positive("lr", lr)
    _fraction("clean_fraction", clean_fraction, closed=True)
    if clean_fraction == 1:
        raise ValueError("clean_fraction must be below 1 (1 is standard training, with no adversarial examples)")


def _train_epoch(module: Any, optimiser: Any, x: Any, y: Any, generator: Any, feasible: Feasible, *, eps: float,
                 norm: str, steps: int, batch_size: int, clean_fraction: float) -> tuple[float, float]:
    """One pass over shuffled batches; returns the mean loss and the share of PGD examples classified correctly."""
    torch = _torch()
    functional = torch.nn.functional
    order = torch.randperm(len(x), generator=generator)
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        rows = order[start:start + batch_size]
        xb, yb = x[rows], y[rows]
        noise = random_start(generator, xb, eps, norm, feasible)
        module.eval()  # attack the model as it predicts (dropout off, batch-norm statistics fixed)
        adv, _ = pgd_tensors(module, xb, yb, eps=eps, norm=norm, step=2.5 * eps / steps, steps=steps, noise=noise,
                             feasible=feasible, stop_on_success=False)
        module.train()
        logits = module(adv)
        loss = (1 - clean_fraction) * functional.cross_entropy(logits, yb)
        if clean_fraction > 0:
            loss = loss + clean_fraction * functional.cross_entropy(module(xb), yb)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        total_loss += float(loss.detach()) * len(rows)
        correct += int((logits.detach().argmax(dim=1) == yb).sum())
    return total_loss / len(x), correct / len(x)


@dataclass(frozen=True)
class RobustnessScore:
    """How a model fares on clean data and under one attack."""

    attack: str
    """Attack name (``pgd``...)."""
    eps: float | None
    """Budget the attack searched within (``None`` for minimum-norm attacks)."""
    samples: int
    """Samples evaluated."""
    clean_accuracy: float
    """Share of samples classified correctly."""
    accuracy_under_attack: float
    """Share of samples still classified correctly after the attack (misclassified ones count as errors)."""


def evaluate_robustness(model: ModelAdapter, x: np.ndarray, y: np.ndarray, attack: Attack,
                        constraints: Constraints | None = None) -> RobustnessScore:
    """Clean accuracy and accuracy under ``attack`` on ``(x, y)`` (class indices): the measure for a defence."""
    labels = np.asarray(y).astype(np.int64)
    predicted = model.predict(x)
    if predicted.shape != labels.shape:
        raise ValueError(f"y has {len(labels)} labels for {len(predicted)} samples")
    correct = predicted == labels
    run = attack.run(model, np.asarray(x)[correct], labels[correct], constraints)
    robust = int(correct.sum()) - int(run.success.sum())
    n = max(len(labels), 1)
    return RobustnessScore(attack=attack.name, eps=getattr(attack, "eps", None), samples=len(labels),
                           clean_accuracy=float(correct.sum()) / n, accuracy_under_attack=robust / n)


# -- feature squeezing ------------------------------------------------------------------------------------------
class SqueezingDetector:
    """Feature squeezing (Xu, Evans & Qi 2018): an input whose prediction moves a lot when squeezed is suspect.

    The score is the largest L1 distance between the probability vectors of the input and of each squeezed
    version; the threshold is the ``1 - false_positive_rate`` quantile of clean scores. ``bit_depth`` keeps
    ``2**bits`` levels per feature over ``value_range`` (or each feature's range in the clean data); ``median``
    is a ``median_size`` median filter over image pixels, used when the inputs are images (``image_shape``, or a
    model whose ``input_shape`` has height and width) and skipped for flat tabular rows.
    """

    def __init__(self, squeezers: Sequence[str] = SQUEEZERS, *, bits: int = 4, median_size: int = 2,
                 false_positive_rate: float = 0.05, value_range: tuple[float, float] | None = None,
                 image_shape: tuple[int, ...] | None = None) -> None:
        unknown = [name for name in squeezers if name not in SQUEEZERS]
        if unknown or not squeezers:
            raise ValueError(f"squeezers must be a non-empty choice of {SQUEEZERS}, got {tuple(squeezers)!r}")
        _positive("bits", bits, integer=True)
        _positive("median_size", median_size, integer=True)
        _fraction("false_positive_rate", false_positive_rate, closed=False)
        if value_range is not None and not (len(value_range) == 2 and value_range[0] < value_range[1]):
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
        if image_shape is not None and len(image_shape) not in (2, 3):
            raise ValueError(f"image_shape must be (height, width) or (channels, height, width), got {image_shape!r}")
        self.squeezers = tuple(squeezers)
        self.bits = bits
        self.median_size = median_size
        self.false_positive_rate = float(false_positive_rate)
        self.value_range = value_range
        self.image_shape = image_shape

    def fit(self, model: ModelAdapter, x_clean: np.ndarray) -> SqueezingDetector:
        """Learn feature ranges and the threshold from clean inputs the model sees in normal use."""
        data = np.asarray(model.check_input(x_clean), dtype=np.float32)
        if len(data) < 2:
            raise ValueError("x_clean needs at least 2 samples to set a threshold")
        self.model_ = model
        shape = self.image_shape or (model.input_shape if len(model.input_shape) >= 2 else None)
        if shape is not None and int(np.prod(shape)) != int(np.prod(model.input_shape)):
            raise ValueError(f"image_shape {shape} does not hold the model's {model.input_shape} inputs")
        self.image_shape_ = shape
        self.squeezers_ = tuple(s for s in self.squeezers if s != "median" or shape is not None)
        if not self.squeezers_:
            raise ValueError("the median squeezer needs images: give image_shape, or add 'bit_depth'")
        flat = data.reshape(len(data), -1)
        if self.value_range is not None:
            self.low_ = np.full(flat.shape[1], self.value_range[0], dtype=np.float32)
            self.high_ = np.full(flat.shape[1], self.value_range[1], dtype=np.float32)
        else:
            self.low_, self.high_ = flat.min(axis=0), flat.max(axis=0)
        clean = self.score(data)
        self.threshold_ = float(np.quantile(clean, 1 - self.false_positive_rate))
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        """Per input: the largest L1 change of the probability vector under any squeezer (one model call)."""
        model = self._fitted()
        data = np.asarray(model.check_input(x), dtype=np.float32)
        versions = [data, *(self._squeeze(name, data) for name in self.squeezers_)]
        proba = model.predict_proba(np.concatenate(versions)).reshape(len(versions), len(data), -1)
        return np.asarray(np.abs(proba[1:] - proba[0][None]).sum(axis=2).max(axis=0))

    def detect(self, x: np.ndarray) -> np.ndarray:
        """Per input: flagged as adversarial (score above the threshold)."""
        return np.asarray(self.score(x) > self.threshold_)

    def squeeze(self, name: str, x: np.ndarray) -> np.ndarray:
        """``x`` through one squeezer (for inspection and plots)."""
        self._fitted()
        if name not in self.squeezers_:
            raise ValueError(f"squeezer {name!r} is not in use; in use: {self.squeezers_}")
        return self._squeeze(name, np.asarray(x, dtype=np.float32))

    def _fitted(self) -> ModelAdapter:
        model: ModelAdapter | None = getattr(self, "model_", None)
        if model is None:
            raise ValueError("SqueezingDetector is not fitted: call fit(model, x_clean) first")
        return model

    def _squeeze(self, name: str, data: np.ndarray) -> np.ndarray:
        if name == "bit_depth":
            flat = data.reshape(len(data), -1)
            span = np.where(self.high_ > self.low_, self.high_ - self.low_, 1.0)
            levels = 2 ** self.bits - 1
            unit = np.clip((flat - self.low_) / span, 0.0, 1.0)
            return np.asarray(np.round(unit * levels) / levels * span + self.low_, dtype=np.float32).reshape(data.shape)
        from scipy.ndimage import median_filter

        shape = self.image_shape_ or data.shape[1:]
        images = data.reshape(len(data), *shape)
        size = (1, *([1] * (len(shape) - 2)), self.median_size, self.median_size)
        return np.asarray(median_filter(images, size=size, mode="reflect"), dtype=np.float32).reshape(data.shape)


@dataclass(frozen=True)
class DetectorScore:
    """How well a detector separates clean from adversarial inputs."""

    detection_rate: float
    """Share of adversarial inputs flagged."""
    false_positive_rate: float
    """Share of clean inputs flagged."""
    threshold: float
    """Score above which an input is flagged."""
    clean: int
    """Clean inputs evaluated."""
    adversarial: int
    """Adversarial inputs evaluated."""


def evaluate_detector(detector: SqueezingDetector, x_clean: np.ndarray, x_adv: np.ndarray) -> DetectorScore:
    """Detection rate on ``x_adv`` and false-positive rate on ``x_clean`` (use clean data not seen by ``fit``)."""
    clean = detector.detect(x_clean)
    flagged = detector.detect(x_adv) if len(x_adv) else np.zeros(0, dtype=bool)
    return DetectorScore(detection_rate=float(flagged.mean()) if len(flagged) else 0.0,
                         false_positive_rate=float(clean.mean()) if len(clean) else 0.0,
                         threshold=detector.threshold_, clean=len(clean), adversarial=len(flagged))
