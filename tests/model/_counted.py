"""A test adapter shared by the decision and tree attack tests: a fitted scikit-learn classifier that counts calls."""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.model.base import ModelAdapter


class Counted(ModelAdapter):
    """A fitted scikit-learn classifier behind the adapter interface, counting ``predict_proba`` calls."""

    kind = "sklearn"

    def __init__(self, estimator: Any, input_shape: tuple[int, ...] | int) -> None:
        shape = (input_shape,) if isinstance(input_shape, int) else input_shape
        super().__init__("test model", len(estimator.classes_), shape)
        self._estimator = estimator
        self.calls = 0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return super().predict_proba(x)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._estimator.predict_proba(x.reshape(len(x), -1)))

    @property
    def estimator(self) -> Any:
        return self._estimator
