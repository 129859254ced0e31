"""STRIP (Gao et al., ACSAC 2019): inputs that carry a trigger keep their prediction when blended with other inputs.

A clean input superimposed on random clean inputs gets uncertain, varied predictions (high entropy); an input that
carries a trigger is still sent to the target class whatever it is blended with (low entropy). The threshold is set
on clean data for a chosen false-rejection rate. Only probabilities are needed, so any ``ModelAdapter`` works.

Blending follows the paper by default: the two inputs are added and clipped to the data's range (``blend="add"``),
which keeps a trigger at full strength. A convex mix (``blend="mix"``, ``alpha * x + (1 - alpha) * other``) halves
the trigger and separates far less: on a backdoored digits MLP it caught 12-41% of triggered inputs at 1% false
rejections where addition caught 94-99%.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.model.base import ModelAdapter, ModelError


class StripError(ModelError):
    """Bad STRIP parameters or data, or use before ``fit``; the message names the parameter."""


BLENDS = ("add", "mix")
"""How ``StripDetector`` superimposes inputs: clipped sum (the paper's) or convex mix with weight ``alpha``."""


class StripDetector:
    """Flag inputs whose predictions stay confident under blending with clean inputs."""

    def __init__(self, overlays: int = 16, alpha: float = 0.5, false_rejection_rate: float = 0.01, *,
                 blend: str = "add", box: tuple[float, float] | None = None, seed: int = 0) -> None:
        if blend not in BLENDS:
            raise StripError(f"blend must be one of {BLENDS}, not {blend!r}")
        if box is not None and not box[0] < box[1]:
            raise StripError(f"box must be (low, high) with low < high, got {box}")
        if overlays < 1:
            raise StripError(f"overlays must be >= 1, got {overlays}")
        if not 0.0 < alpha < 1.0:
            raise StripError(f"alpha must be in (0, 1), got {alpha}")
        if not 0.0 < false_rejection_rate < 0.5:
            raise StripError(f"false_rejection_rate must be in (0, 0.5), got {false_rejection_rate}")
        self.overlays = overlays
        self.alpha = alpha
        self.false_rejection_rate = false_rejection_rate
        self.blend = blend
        self.box = box
        self.seed = seed
        self.model_: ModelAdapter | None = None
        self.pool_: np.ndarray | None = None
        self.clean_entropy_: np.ndarray | None = None
        self.threshold_: float | None = None

    def fit(self, model: ModelAdapter, x_clean: Any) -> StripDetector:
        """Keep ``x_clean`` as the blending pool; set the threshold at the clean entropies' FRR quantile.

        Without ``box``, added inputs are clipped to the range of ``x_clean``.
        """
        if model.text:
            raise StripError(f"{model.name}: STRIP blends numeric inputs; text models are not supported")
        pool = model.check_input(x_clean)
        if len(pool) < 2:
            raise StripError(f"x_clean must hold at least 2 clean inputs, got {len(pool)}")
        self.model_, self.pool_ = model, pool
        rng = np.random.default_rng(self.seed)
        # blend each clean input with others, never with itself
        shift = rng.integers(1, len(pool), size=(len(pool), self.overlays))
        partners = (np.arange(len(pool))[:, None] + shift) % len(pool)
        self.clean_entropy_ = self._entropy(pool, partners)
        self.threshold_ = float(np.quantile(self.clean_entropy_, self.false_rejection_rate))
        return self

    def score(self, x: Any) -> np.ndarray:
        """Mean prediction entropy (nats) of each input over its blends; low means a likely trigger."""
        model, pool = self._fitted()
        x = model.check_input(x)
        rng = np.random.default_rng(self.seed + 1)
        return self._entropy(x, rng.integers(0, len(pool), size=(len(x), self.overlays)))

    def detect(self, x: Any) -> np.ndarray:
        """True for inputs whose entropy falls below the fitted threshold (suspected trojaned inputs)."""
        self._fitted()
        assert self.threshold_ is not None
        return np.asarray(self.score(x) < self.threshold_)

    def _fitted(self) -> tuple[ModelAdapter, np.ndarray]:
        if self.model_ is None or self.pool_ is None:
            raise StripError("StripDetector is not fitted: call fit(model, x_clean) first")
        return self.model_, self.pool_

    def _entropy(self, x: np.ndarray, partners: np.ndarray) -> np.ndarray:
        model, pool = self._fitted()
        if len(x) == 0:
            return np.zeros(0)
        if self.blend == "mix":
            blended = self.alpha * x[:, None] + (1.0 - self.alpha) * pool[partners]
        else:
            low, high = self.box if self.box is not None else (float(pool.min()), float(pool.max()))
            blended = np.clip(x[:, None] + pool[partners], low, high)
        proba = model.predict_proba(blended.reshape(-1, *model.input_shape))  # all blends in one call
        entropy = -(proba * np.log(np.clip(proba, 1e-12, None))).sum(axis=1)
        return np.asarray(entropy.reshape(len(x), self.overlays).mean(axis=1))
