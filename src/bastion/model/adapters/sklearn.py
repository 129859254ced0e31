"""Fitted scikit-learn classifiers as ``ModelAdapter``.

Any classifier gives probabilities (``predict_proba``, else a softmax of ``decision_function``, else one-hot
``predict``). Multi-layer perceptrons and logistic regressions, alone or behind a ``StandardScaler`` /
``MinMaxScaler`` in a ``Pipeline``, are also rebuilt as torch modules from their weights, so gradient attacks,
adversarial training checks and backdoor detectors work on them; MLPs expose their hidden layers.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bastion.model.base import DEFAULT_BATCH, ModelAdapter, ModelError, scores_to_probabilities

_TEXT_STEPS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")


class SklearnClassifier(ModelAdapter):
    """A fitted scikit-learn classifier or ``Pipeline`` ending in one."""

    kind = "sklearn"

    def __init__(self, estimator: Any, *, name: str = "scikit-learn model", input_shape: tuple[int, ...] | None = None,
                 batch_size: int = DEFAULT_BATCH) -> None:
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise ModelError(f"{name}: {type(estimator).__name__} is not a fitted classifier (it has no classes_)")
        self._estimator = estimator
        text = _is_text(estimator)
        if input_shape is None:
            n_features = getattr(estimator, "n_features_in_", None)
            if n_features is None and not text:
                raise ModelError(f"{name}: cannot tell how many features {type(estimator).__name__} takes; "
                                 f"give input_shape")
            input_shape = () if text or n_features is None else (int(n_features),)
        self._columns = getattr(estimator, "feature_names_in_", None)
        self._scale, self._core = _split_linear(estimator)
        super().__init__(name, len(classes), input_shape, classes=np.asarray(classes), batch_size=batch_size,
                         text=text)

    @property
    def estimator(self) -> Any:
        return self._estimator

    def _frame(self, x: np.ndarray) -> Any:
        if self._columns is None or self.text:
            return x
        import pandas as pd

        return pd.DataFrame(x.reshape(len(x), -1), columns=self._columns)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        data = x if self.text else self._frame(x.reshape(len(x), -1))
        est = self._estimator
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*feature names.*")
            if hasattr(est, "predict_proba"):
                return np.asarray(est.predict_proba(data), dtype=np.float64)
            if hasattr(est, "decision_function"):
                return scores_to_probabilities(est.decision_function(data))
            predicted = np.asarray(est.predict(data))
        index = np.searchsorted(self.classes, predicted)
        return np.eye(self.n_classes)[index]

    # -- gradients and activations for MLPs and linear models ------------------------------------------------
    @property
    def has_gradients(self) -> bool:
        return self._core is not None

    def logits_module(self) -> Any:
        if self._core is None:
            raise ModelError(f"{self.name}: {type(self._estimator).__name__} gives no gradients; gradient attacks "
                             f"work on MLPClassifier and LogisticRegression (optionally behind a scaler)")
        return _build_module(self._core, self._scale, self.n_classes, self.input_shape)

    def layer_names(self) -> list[str]:
        if self._core is None or not hasattr(self._core, "hidden_layer_sizes"):
            return []
        return [f"hidden_{i + 1}" for i in range(len(self._core.coefs_) - 1)]

    def activations(self, x: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
        names = self.layer_names()
        missing = [layer for layer in layers if layer not in names]
        if missing:
            raise ModelError(f"{self.name}: no layer named {missing[0]!r}; layers are {names}")
        hidden = _mlp_hidden(self._core, self._scale, self.check_input(x).reshape(len(x), -1))
        self.count(len(x))
        return {layer: hidden[names.index(layer)] for layer in layers}


def _is_text(estimator: Any) -> bool:
    steps = getattr(estimator, "steps", None)
    first = steps[0][1] if steps else estimator
    return type(first).__name__ in _TEXT_STEPS


def _split_linear(estimator: Any) -> tuple[tuple[np.ndarray, np.ndarray] | None, Any]:
    """``(affine scaling, final model)`` when the model is an MLP / logistic regression behind optional scalers."""
    pairs = getattr(estimator, "steps", [("model", estimator)])
    steps = [step for _, step in pairs if step not in (None, "passthrough")]
    *scalers, core = steps
    if type(core).__name__ not in ("MLPClassifier", "LogisticRegression"):
        return None, None
    n_features = int(core.n_features_in_)
    scale, shift = np.ones(n_features), np.zeros(n_features)
    for scaler in scalers:  # x -> x * a + b, composed
        name = type(scaler).__name__
        if name == "StandardScaler":
            a = 1 / scaler.scale_ if scaler.scale_ is not None else np.ones(n_features)
            b = -(scaler.mean_ if scaler.mean_ is not None else 0) * a
        elif name == "MinMaxScaler":
            a, b = scaler.scale_, scaler.min_
        else:
            return None, None
        scale, shift = scale * a, shift * a + b
    return (scale, shift), core


def _activation(name: str, values: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.asarray(np.maximum(values, 0))
    if name == "tanh":
        return np.asarray(np.tanh(values))
    if name == "logistic":
        return np.asarray(1 / (1 + np.exp(-values)))
    return values


def _mlp_hidden(core: Any, scale: tuple[np.ndarray, np.ndarray] | None, x: np.ndarray) -> list[np.ndarray]:
    values = x * scale[0] + scale[1] if scale is not None else x
    hidden = []
    for weights, bias in zip(core.coefs_[:-1], core.intercepts_[:-1], strict=True):
        values = _activation(core.activation, values @ weights + bias)
        hidden.append(values.astype(np.float32))
    return hidden


def _build_module(core: Any, scale: tuple[np.ndarray, np.ndarray] | None, n_classes: int,
                  input_shape: tuple[int, ...]) -> Any:
    """A torch module with the estimator's weights, producing logits (binary models: ``[0, z]``)."""
    import torch

    layers: list[Any] = [torch.nn.Flatten()]
    if scale is not None:
        layers.append(_Affine(torch, scale[0], scale[1]))
    if hasattr(core, "coefs_"):
        pairs = list(zip(core.coefs_, core.intercepts_, strict=True))
        act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "logistic": torch.nn.Sigmoid,
               "identity": torch.nn.Identity}[core.activation]
        for i, (weights, bias) in enumerate(pairs):
            layers.append(_linear(torch, weights.T, bias))
            if i < len(pairs) - 1:
                layers.append(act())
    else:
        layers.append(_linear(torch, core.coef_, core.intercept_))
    if n_classes == 2:
        layers.append(_BinaryLogits(torch))
    module = torch.nn.Sequential(*layers).eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def _linear(torch: Any, weight: np.ndarray, bias: np.ndarray) -> Any:
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return layer


def _Affine(torch: Any, scale: np.ndarray, shift: np.ndarray) -> Any:  # noqa: N802 - builds a module class
    class Affine(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
            self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))

        def forward(self, x: Any) -> Any:
            return x * self.scale + self.shift

    return Affine()


def _BinaryLogits(torch: Any) -> Any:  # noqa: N802 - builds a module class
    class BinaryLogits(torch.nn.Module):  # type: ignore[misc]
        """One logit z (class 1 against 0) -> two logits [0, z], so softmax gives sigmoid(z)."""

        def forward(self, z: Any) -> Any:
            return torch.cat([torch.zeros_like(z), z], dim=1)

    return BinaryLogits()
