"""Models that take a table, for fairness tests and explanations.

Robustness attacks need float arrays (``ModelAdapter``); bias audits and explanations meet real tabular models: a
scikit-learn ``Pipeline`` whose ``ColumnTransformer`` one-hot encodes text columns, regressors as well as
classifiers, columns with missing values. ``TabularModel`` calls such a model on a pandas DataFrame holding its raw
columns, and calls a ``ModelAdapter`` (torch, ONNX) on the numeric columns it takes. Files are opened through the
same load gate as every other model (``bastion.model.loading``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.data.files import DataError, iter_batches
from bastion.model.base import ModelAdapter, ModelError, scores_to_probabilities

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 5_000_000
"""Rows read at most: fairness tests and explanations hold the data in memory; sample it first if it is bigger."""


def read_frame(path: str | Path, *, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """The whole table at ``path`` (CSV, TSV, Parquet, JSON Lines) as a DataFrame; ``DataError`` naming the file."""
    import pyarrow as pa

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    batches, rows = [], 0
    for batch in iter_batches(path):
        rows += batch.num_rows
        if rows > max_rows:
            raise DataError(f"{path}: more than {max_rows:,} rows; sample the data first (it is held in memory)")
        batches.append(batch)
    if rows == 0:
        raise DataError(f"{path}: no rows")
    frame = _empty_text_as_missing(pa.Table.from_batches(batches)).to_pandas()
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataError(f"{path}: column {duplicated[0]!r} appears more than once")
    return frame


def _empty_text_as_missing(table: Any) -> Any:
    """CSV readers give ``""`` for an empty text cell; a group or category that is empty is a missing value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = table.column(index)
            table = table.set_column(index, field, pc.if_else(pc.equal(column, ""), pa.scalar(None, field.type),
                                                              column))
    return table


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str, source: str = "data") -> None:
    """``DataError`` naming the first of ``columns`` that ``frame`` lacks (``what``: "sensitive column"...)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: no {what} {missing[0]!r}; columns are {[str(c) for c in frame.columns][:20]}")


class TabularModel:
    """A fitted classifier or regressor called on a DataFrame of raw columns.

    ``features`` are the columns it reads, in order: the estimator's ``feature_names_in_`` when it was fitted on a
    DataFrame, else the ``features`` given, else chosen by ``bind`` from the data's columns.
    """

    def __init__(self, model: Any, *, features: Sequence[str] | None = None, name: str = "model") -> None:
        self.name = name
        self._adapter = model if isinstance(model, ModelAdapter) else None
        self._estimator = None if self._adapter is not None else model
        if self._adapter is not None and self._adapter.text:
            raise ModelError(f"{name}: a text model; fairness tests and explanations take tabular models")
        if self._estimator is not None and not hasattr(self._estimator, "predict"):
            raise ModelError(f"{name}: a {type(model).__name__} has no predict method")
        known = getattr(self._estimator, "feature_names_in_", None)
        self._named = known is not None
        self.features: tuple[str, ...] = tuple(str(c) for c in known) if known is not None else tuple(features or ())
        self.task = "classification" if self._adapter is not None or hasattr(model, "classes_") else "regression"
        self.classes: np.ndarray | None = (np.asarray(self._adapter.classes) if self._adapter is not None
                                           else getattr(model, "classes_", None))

    @property
    def estimator(self) -> Any:
        """The scikit-learn object (refitting, TreeSHAP), or ``None`` for torch and ONNX models."""
        return self._estimator

    @property
    def n_features(self) -> int | None:
        """How many columns the model takes, when it says."""
        if self._adapter is not None:
            return int(np.prod(self._adapter.input_shape))
        count = getattr(self._estimator, "n_features_in_", None)
        return None if count is None else int(count)

    @property
    def output_names(self) -> list[str]:
        """What ``output`` returns per column: ``P(label)`` per class, or ``prediction``."""
        if self.classes is None:
            return ["prediction"]
        return [f"P({label})" for label in self.classes.tolist()]

    def bind(self, columns: Sequence[str], exclude: Sequence[str] = ()) -> TabularModel:
        """Choose the feature columns from a table's ``columns`` when the model does not name them.

        Every column but ``exclude`` (target, sensitive, prediction columns) if that matches the model's feature
        count, else every column but the first of ``exclude`` (the target): a model may use the sensitive column.
        """
        if self.features:
            return self
        count = self.n_features
        without_all = [c for c in columns if c not in exclude]
        without_target = [c for c in columns if c not in exclude[:1]]
        for candidate in (without_all, without_target):
            if count is None or len(candidate) == count:
                self.features = tuple(candidate)
                return self
        raise ModelError(f"{self.name}: takes {count} features; the data has {len(without_all)} columns besides "
                         f"{list(exclude)} (name them with --features)")

    def select(self, frame: pd.DataFrame) -> Any:
        """The model's input for ``frame``: its feature columns, as a DataFrame or a float32 array."""
        require_columns(frame, self.features, "feature column the model takes")
        chosen = frame[list(self.features)] if self.features else frame
        if self._adapter is None:
            return chosen if self._named or not self.features else chosen.to_numpy()
        try:
            values = chosen.to_numpy(dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{self.name}: takes numbers; a feature column is not numeric ({exc})") from None
        return values.reshape(len(values), *self._adapter.input_shape)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted labels as the model spells them (classifiers) or predicted values (regressors)."""
        if self._adapter is not None:
            labels: np.ndarray = np.asarray(self._adapter.classes)[self._adapter.predict(self.select(frame))]
            return labels
        return np.asarray(self._call("predict", frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` float64; ``ModelError`` for a regressor."""
        if self._adapter is not None:
            return np.asarray(self._adapter.predict_proba(self.select(frame)), dtype=np.float64)
        if self.classes is None:
            raise ModelError(f"{self.name}: a regressor gives no class probabilities")
        est = self._estimator
        if hasattr(est, "predict_proba"):
            return np.asarray(self._call("predict_proba", frame), dtype=np.float64)
        if hasattr(est, "decision_function"):
            return scores_to_probabilities(self._call("decision_function", frame))
        predicted = np.asarray(self._call("predict", frame))
        return np.asarray(predicted[:, None] == self.classes[None, :], dtype=np.float64)

    def output(self, frame: pd.DataFrame) -> np.ndarray:
        """What explanations explain, ``(n, k)`` float64: class probabilities, or the regression prediction."""
        if self.classes is not None:
            return self.predict_proba(frame)
        return np.asarray(self.predict(frame), dtype=np.float64).reshape(len(frame), 1)

    def _call(self, method: str, frame: pd.DataFrame) -> Any:
        data = self.select(frame)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*feature names.*")
                return getattr(self._estimator, method)(data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ModelError(f"{self.name}: {method} failed on the data: "
                             f"{str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__}"
                             ) from exc


def as_tabular(model: Any, *, features: Sequence[str] | None = None, name: str = "model") -> TabularModel:
    """A ``TabularModel`` over an in-memory model: a scikit-learn estimator or pipeline, a torch module or adapter."""
    if isinstance(model, TabularModel):
        return model
    if isinstance(model, ModelAdapter) or hasattr(model, "predict"):
        return TabularModel(model, features=features, name=name)
    from bastion.model.loading import wrap

    width = None if not features else (len(features),)
    return TabularModel(wrap(model, input_shape=width, name=name), features=features, name=name)


def load_tabular(path: str | Path, *, features: Sequence[str] | None = None,
                 allow_unsafe: bool = False) -> TabularModel:
    """Open a model file through the load gate (``UnsafeLoadError`` when refused) as a ``TabularModel``."""
    from bastion.model.loading import load_object

    path = Path(path)
    width = (len(features),) if features else None
    return as_tabular(load_object(path, input_shape=width, allow_unsafe=allow_unsafe), features=features,
                      name=path.name)
