"""ONNX classifiers through onnxruntime (optional): probabilities only, so decision-based attacks apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bastion.model.base import DEFAULT_BATCH, ModelAdapter, ModelError, scores_to_probabilities


class OnnxClassifier(ModelAdapter):
    """An ONNX model with one float input ``(batch, *input_shape)`` and a logits or probability output.

    The probability output is chosen by name (``probabilities``, ``output_probability``, ``probs``) or else the
    first float output of width ``n_classes``; scikit-learn exports that return a list of dicts (ZipMap) are read
    too. Outputs that are not probabilities (rows not summing to 1) are treated as logits.
    """

    kind = "onnx"

    def __init__(self, path: str | Path, *, input_shape: tuple[int, ...] | None = None, name: str | None = None,
                 classes: np.ndarray | None = None, batch_size: int = DEFAULT_BATCH) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError("ONNX models need onnxruntime: pip install onnxruntime") from exc
        label = name or str(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
            raise ModelError(f"{label}: onnxruntime could not open the model: {exc}") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{label}: the model takes {len(inputs)} inputs; Bastion tests single-input models")
        self._input = inputs[0].name
        declared = [d if isinstance(d, int) else None for d in inputs[0].shape[1:]]
        if input_shape is None:
            if any(d is None for d in declared):
                raise ModelError(f"{label}: the input shape {inputs[0].shape} has symbolic dimensions; "
                                 f"give --input-shape")
            input_shape = tuple(int(d) for d in declared if d is not None)
        self._wants_double = "double" in inputs[0].type
        self._output = _pick_output(self._session)
        probe = self._run(np.zeros((1, *input_shape), dtype=np.float32))
        super().__init__(label, probe.shape[1], input_shape, classes=classes, batch_size=batch_size)

    def _run(self, x: np.ndarray) -> np.ndarray:
        feed = x.astype(np.float64 if self._wants_double else np.float32)
        out = self._session.run([self._output], {self._input: feed})[0]
        if isinstance(out, list):  # ZipMap: a list of {class: probability}
            keys = sorted(out[0])
            out = np.array([[row[k] for k in keys] for row in out])
        values = np.asarray(out, dtype=np.float64).reshape(len(x), -1)
        if values.shape[1] > 1 and np.all(values >= 0) and np.allclose(values.sum(axis=1), 1.0, atol=1e-3):
            return values
        return scores_to_probabilities(values)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        return self._run(x)


def _pick_output(session: Any) -> str:
    outputs = session.get_outputs()
    for output in outputs:
        if output.name.lower() in ("probabilities", "output_probability", "probs", "probability"):
            return str(output.name)
    floats = [o for o in outputs if "float" in o.type or "double" in o.type or o.type.startswith("seq(map")]
    return str((floats or outputs)[-1 if len(floats) > 1 and "label" in outputs[0].name.lower() else 0].name)

