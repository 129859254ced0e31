"""Any Python callable that returns class probabilities, as a ``ModelAdapter`` (an API client, a custom model)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bastion.model.base import DEFAULT_BATCH, ModelAdapter, ModelError


class CallableClassifier(ModelAdapter):
    """``function(batch) -> (n, n_classes)`` probabilities; ``text=True`` when the batch is an array of strings."""

    kind = "callable"

    def __init__(self, function: Callable[[np.ndarray], np.ndarray], n_classes: int, input_shape: tuple[int, ...] = (),
                 *, text: bool = False, classes: np.ndarray | None = None, name: str = "callable model",
                 batch_size: int = DEFAULT_BATCH) -> None:
        if not callable(function):
            raise ModelError(f"{name}: {function!r} is not callable")
        self._function = function
        super().__init__(name, n_classes, input_shape, classes=classes, batch_size=batch_size, text=text)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(self._function(x), dtype=np.float64)
        if out.ndim != 2 or not np.all(np.isfinite(out)):
            raise ModelError(f"{self.name}: the callable must return finite (n, {self.n_classes}) probabilities, "
                             f"got shape {out.shape}")
        return out
