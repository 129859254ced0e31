"""What every model adapter offers: batched class probabilities, gradients and activations where the model has them.

Attacks, poisoning detectors and (later) fairness and explanations talk to models only through ``ModelAdapter``.
Inputs are NumPy arrays shaped ``(n, *input_shape)`` (float32 for numeric models; an object array of ``str`` for
text models, whose ``input_shape`` is ``()``). Labels are always class *indices* ``0..n_classes-1``; ``classes``
maps an index back to the label the data uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

DEFAULT_BATCH = 65_536
"""Samples per model call unless the adapter is told otherwise: big enough that attacks are one call per step."""


class ModelError(ValueError):
    """A model could not be loaded, or could not be called on the data given; the message names the place."""


class ModelAdapter(ABC):
    """One interface over scikit-learn, PyTorch, TorchScript, ONNX and plain callables.

    Subclasses implement ``_proba``; this class validates inputs, batches them and counts queries (samples sent to
    the model), which attack reports quote.
    """

    kind: str = "model"
    """Short name of the adapter family, for reports: ``sklearn``, ``torch``, ``onnx``, ``callable``."""

    def __init__(self, name: str, n_classes: int, input_shape: tuple[int, ...], *,
                 classes: np.ndarray | None = None, batch_size: int = DEFAULT_BATCH, text: bool = False) -> None:
        if n_classes < 2:
            raise ModelError(f"{name}: a classifier needs at least 2 classes, got {n_classes}")
        self.name = name
        self.n_classes = n_classes
        self.input_shape = tuple(input_shape)
        self.classes = np.arange(n_classes) if classes is None else np.asarray(classes)
        self.batch_size = batch_size
        self.text = text
        self.queries = 0

    # -- what callers use ------------------------------------------------------------------------------------
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, ``(n, n_classes)`` float64, for a batch shaped ``(n, *input_shape)``."""
        x = self.check_input(x)
        self.queries += len(x)
        if len(x) == 0:
            return np.zeros((0, self.n_classes))
        try:
            parts = [self._proba(x[start:start + self.batch_size]) for start in range(0, len(x), self.batch_size)]
        except ModelError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # the framework's own message says why
            raise ModelError(f"{self.name}: the model failed on a batch shaped {x.shape}: "
                             f"{str(exc).strip().splitlines()[-1][:300]}") from exc
        proba = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if proba.shape != (len(x), self.n_classes):
            raise ModelError(f"{self.name}: returned probabilities shaped {proba.shape}, "
                             f"expected {(len(x), self.n_classes)}")
        return np.asarray(proba, dtype=np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class indices, ``(n,)`` int64."""
        return np.asarray(self.predict_proba(x).argmax(axis=1), dtype=np.int64)

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` as the model takes it, or a ``ModelError`` that says what shape was expected."""
        if self.text:
            arr = np.asarray(x, dtype=object)
            if arr.ndim != 1:
                raise ModelError(f"{self.name}: text input must be a 1-D array of strings, got shape {arr.shape}")
            return arr
        arr = np.asarray(x, dtype=np.float32)
        if arr.shape[1:] != self.input_shape:
            raise ModelError(f"{self.name}: input shaped {arr.shape[1:]} per sample, the model takes "
                             f"{self.input_shape}")
        return arr

    def encode_labels(self, labels: np.ndarray) -> np.ndarray:
        """Labels as the data spells them -> class indices; unknown labels are an error that lists them."""
        labels = np.asarray(labels)
        lookup = {_key(value): index for index, value in enumerate(self.classes.tolist())}
        unknown = sorted({str(v) for v in labels.tolist() if _key(v) not in lookup})
        if unknown:
            raise ModelError(f"{self.name}: labels {unknown[:5]} are not classes of the model "
                             f"({[str(c) for c in self.classes.tolist()][:10]})")
        return np.fromiter((lookup[_key(v)] for v in labels.tolist()), dtype=np.int64, count=len(labels))

    # -- optional capabilities -------------------------------------------------------------------------------
    @property
    def has_gradients(self) -> bool:
        """Whether ``logits_module`` gives a differentiable model (gradient attacks, PGD-AT, Neural Cleanse)."""
        return False

    def logits_module(self) -> torch.nn.Module:
        """A torch module in eval mode mapping float32 tensors ``(n, *input_shape)`` to logits ``(n, n_classes)``.

        Its parameters do not require gradients (attacks differentiate with respect to the input only). Calls made
        through the module directly are not counted in ``queries``; callers add them with ``count``.
        """
        raise ModelError(f"{self.name}: a {self.kind} model gives no gradients; use a decision-based attack")

    def layer_names(self) -> list[str]:
        """Hidden layers whose activations ``activations`` can return, input side first (empty: none)."""
        return []

    def activations(self, x: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
        """Outputs of the named hidden layers for ``x``, each flattened to ``(n, features)`` float32."""
        raise ModelError(f"{self.name}: a {self.kind} model exposes no hidden layers")

    @property
    def estimator(self) -> Any:
        """The wrapped object (a scikit-learn estimator for tree attacks), or ``None``."""
        return None

    def count(self, samples: int) -> None:
        """Record ``samples`` model evaluations made outside ``predict_proba`` (through ``logits_module``)."""
        self.queries += samples

    # -- implementation --------------------------------------------------------------------------------------
    @abstractmethod
    def _proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one batch that ``check_input`` has already validated."""


def require_torch(what: str, error: type[ModelError] = ModelError) -> Any:
    """The ``torch`` module, or ``error`` saying that ``what`` (``"gradient attacks"``...) needs it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the dev set-up
        raise error(f"{what} need torch: pip install 'bastion-ai[torch]'") from exc
    return torch


def scores_to_probabilities(scores: np.ndarray) -> np.ndarray:
    """Softmax over per-class scores (logits, decision values); one score per row is class 1 against class 0."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1 or scores.shape[1] == 1:
        half = scores.reshape(len(scores), 1) / 2
        scores = np.concatenate([-half, half], axis=1)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def _key(value: object) -> str:
    """Label identity across int/float/str spellings (``1``, ``1.0`` and ``"1"`` are one class)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
