"""One call from a table (and a model, or logged predictions) to a fairness report and its mitigations.

This is what ``bastion test fairness`` runs, and what a notebook calls: it reads the predictions (from the model
through ``TabularModel``, or from a column of logged decisions), turns option strings such as ``--positive 1`` and
``--privileged sex=Male`` into the values the data holds, runs ``FairnessTest`` and, when asked, each mitigation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.data.files import DataError
from bastion.model.fairness.mitigation import METHODS
from bastion.model.fairness.values import check_roles, value_key
from bastion.model.tabular import TabularModel, require_columns

if TYPE_CHECKING:
    import pandas as pd

    from bastion.model.fairness.mitigation import MitigationResult
    from bastion.model.fairness.report import FairnessReport

MITIGATIONS = METHODS
"""Mitigation methods ``run_fairness`` accepts, in the order it runs them."""


@dataclass(frozen=True)
class FairnessRun:
    """A fairness report with the model it judged and any mitigations tried."""

    report: FairnessReport
    """Group metrics, disparities, intervals and warnings."""
    model: str | None
    """The model's name, or ``None`` when predictions came from a column."""
    predictions: str
    """Where predictions came from: ``model`` or ``column NAME``."""
    mitigations: tuple[MitigationResult, ...] = field(default=())
    """Before/after results of each mitigation asked for."""

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON, plus ``model``, ``predictions`` and ``mitigations``."""
        data: dict[str, Any] = {"model": self.model, "predictions": self.predictions}
        data.update(self.report.to_dict())
        data["mitigations"] = [m.to_dict() for m in self.mitigations]
        return data


def run_fairness(frame: pd.DataFrame, target: str, sensitive: Sequence[str], *, model: TabularModel | None = None,
                 prediction: str | None = None, score: str | None = None, positive: object | None = None,
                 privileged: Mapping[str, object] | None = None, mitigate: Sequence[str] = (),
                 constraint: str = "demographic_parity", bins: Mapping[str, Sequence[float]] | None = None,
                 settings: Mapping[str, Any] | None = None) -> FairnessRun:
    """Judge a model (or logged predictions in column ``prediction``) on ``frame`` for the ``sensitive`` columns.

    ``positive`` and the values of ``privileged`` may be given as text (``"1"``, ``"Male"``): they are matched to
    the values the target and sensitive columns hold. ``bins`` cuts a numeric sensitive column into groups at the
    edges given (``{"age": [25, 45]}`` -> ``<25``, ``25-45``, ``>=45``); the model still sees the raw column.
    ``settings`` go to ``FairnessTest`` (``min_group_size``, ``resamples``, ``level``, ``seed``, ``task``...).
    """
    from bastion.model.fairness.report import FairnessTest

    if (model is None) == (prediction is None):
        raise ValueError("give a model or a prediction column, not both and not neither")
    _check_columns(frame, target, sensitive, prediction, score)
    y_true = frame[target].to_numpy()
    _no_missing(frame, target, "target")
    positive = None if positive is None else match_value(positive, y_true, f"--positive (column {target!r})")
    groups = group_frame(frame, sensitive, bins or {})
    chosen = {col: match_value(value, groups[col].to_numpy(), f"--privileged {col}")
              for col, value in (privileged or {}).items() if col in groups.columns}
    unknown = [col for col in privileged or {} if col not in sensitive]
    if unknown:
        raise ValueError(f"--privileged names {unknown[0]!r}, which is not a sensitive column ({list(sensitive)})")
    if model is not None:
        y_pred, scores = _model_predictions(model, frame, target, sensitive, positive, y_true)
    else:
        assert prediction is not None
        _no_missing(frame, prediction, "prediction")
        y_pred = frame[prediction].to_numpy()
        scores = None if score is None else _scores(frame, score)
    test = FairnessTest(positive=positive, privileged=chosen or None, **dict(settings or {}))
    report = test.run(y_true, y_pred, groups, scores=scores)
    results = tuple(_mitigate(model, frame, target, groups, positive, mitigate, constraint, settings))
    return FairnessRun(report=report, model=None if model is None else model.name,
                       predictions="model" if model is not None else f"column {prediction}", mitigations=results)


def group_frame(frame: pd.DataFrame, sensitive: Sequence[str], bins: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """The sensitive columns, with each column named in ``bins`` cut at its edges into labelled ranges."""
    import pandas as pd

    require_columns(frame, sensitive, "sensitive column")
    unknown = [col for col in bins if col not in sensitive]
    if unknown:
        raise ValueError(f"bins are given for {unknown[0]!r}, which is not a sensitive column ({list(sensitive)})")
    groups = frame[list(sensitive)].copy()
    for column, edges in bins.items():
        cuts = sorted(float(e) for e in edges)
        if not cuts or len(set(cuts)) != len(cuts):
            raise ValueError(f"bins for {column!r}: give distinct edges, e.g. 25,45")
        try:
            values = pd.to_numeric(groups[column]).to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"sensitive column {column!r} is not numeric, so it cannot be binned") from None
        labels = np.array([f"<{cuts[0]:g}", *(f"{a:g}-{b:g}" for a, b in zip(cuts, cuts[1:], strict=False)),
                           f">={cuts[-1]:g}"], dtype=object)
        binned = labels[np.searchsorted(cuts, values, side="right")]
        binned[np.isnan(values)] = None
        groups[column] = pd.Categorical(binned, categories=labels, ordered=True)  # groups keep the ranges' order
    return groups


def match_value(given: object, values: np.ndarray, where: str) -> object:
    """The value in ``values`` that ``given`` spells (``"1"`` matches ``1`` and ``1.0``); ``ValueError`` if none."""
    present = {value_key(v): v for v in np.unique(np.asarray(values[~_missing(values)], dtype=object)).tolist()}
    key = value_key(given)
    if key not in present:
        shown = sorted(present)[:10]
        raise ValueError(f"{where}: {given!r} is not a value of the column (values: {shown})")
    return present[key]



def _missing(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _no_missing(frame: pd.DataFrame, column: str, what: str) -> None:
    empty = np.flatnonzero(_missing(frame[column].to_numpy()))
    if len(empty):
        raise DataError(f"{what} column {column!r} is empty at row {int(empty[0])} ({len(empty)} rows); drop or "
                        f"fill those rows first")


def _check_columns(frame: pd.DataFrame, target: str, sensitive: Sequence[str], prediction: str | None,
                   score: str | None) -> None:
    check_roles(frame, target, sensitive)
    for option, column in (("prediction", prediction), ("score", score)):
        if column is not None:
            require_columns(frame, [column], f"{option} column")


def _scores(frame: pd.DataFrame, column: str) -> np.ndarray:
    import pandas as pd

    try:
        values: np.ndarray = pd.to_numeric(frame[column]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"score column {column!r} is not numeric") from None
    return values


def _model_predictions(model: TabularModel, frame: pd.DataFrame, target: str, sensitive: Sequence[str],
                       positive: object | None, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions, and the positive class's probability when the model is a classifier that gives one."""
    model.bind([str(c) for c in frame.columns], exclude=[target, *sensitive])
    y_pred = model.predict(frame)
    if model.task != "classification" or model.classes is None:
        return y_pred, None
    classes = model.classes
    if positive is None:
        if len(classes) != 2:
            return y_pred, None
        labels = np.unique(np.concatenate([np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)]))
        positive = labels[-1] if len(labels) == 2 else classes[-1]
    keys = [value_key(c) for c in classes.tolist()]
    if value_key(positive) not in keys:
        raise ValueError(f"{model.name}: the positive label {positive!r} is not one of its classes {keys[:10]}")
    return y_pred, model.predict_proba(frame)[:, keys.index(value_key(positive))]


def _mitigate(model: TabularModel | None, frame: pd.DataFrame, target: str, groups: pd.DataFrame,
              positive: object | None, methods: Sequence[str], constraint: str,
              settings: Mapping[str, Any] | None) -> list[MitigationResult]:
    """Each mitigation asked for, on the model's own columns; binned sensitive columns join the frame as
    ``COL (groups)`` so the model still reads the raw ones."""
    if not methods:
        return []
    unknown = [m for m in methods if m not in MITIGATIONS]
    if unknown:
        raise ValueError(f"unknown mitigation {unknown[0]!r}; choose from {', '.join(MITIGATIONS)}")
    if model is None or model.estimator is None:
        raise ValueError("mitigations refit the model: give a scikit-learn model file (--model), not predictions "
                         "or a torch/ONNX model")
    from bastion.model.fairness.mitigation import Mitigation

    renamed = {col: col if groups[col].equals(frame[col]) else f"{col} (groups)" for col in groups.columns}
    data = frame.assign(**{new: groups[col] for col, new in renamed.items() if new != col})
    seed = int((settings or {}).get("seed", 0))
    return [Mitigation(method, constraint=constraint, seed=seed, positive=positive).run(
        model.estimator, data, target, list(renamed.values()), features=list(model.features) or None)
        for method in MITIGATIONS if method in methods]
