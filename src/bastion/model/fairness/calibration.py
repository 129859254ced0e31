"""Calibration by group in one call: reliability curves, expected calibration error and Brier score per group.

Each row falls in one (group, bin) cell; one ``np.bincount`` per summed quantity gives a (G, bins, 4) table of
[weight, weighted score, weighted positives, weighted squared error] from which every number here is arithmetic:

- a bin's mean score and observed positive rate (the reliability curve; empty bins are NaN),
- a group's expected calibration error, the weight-weighted mean of |observed - mean score| over its bins, which is
  sum over bins of |positives - score sum| / group weight,
- its Brier score (mean squared difference between score and outcome), mean score and base rate,
- and, across groups, the largest gap in ECE and in Brier score.

Bins are those of scikit-learn's ``calibration_curve``: ``uniform`` cuts [0, 1] into equal widths, ``quantile``
cuts each group's own scores at its quantiles (``np.percentile``), and a score equal to an inner edge falls in the
bin below it (``np.searchsorted`` on the inner edges, side left), so the curves match its output bin for bin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.model.fairness.metrics import difference, group_max

STRATEGIES = ("uniform", "quantile")
"""Ways to cut scores into bins."""
WEIGHT, SCORE, POSITIVE, SQUARED = range(4)


@dataclass(frozen=True)
class GroupCalibration:
    """One group's reliability curve and calibration numbers."""

    edges: np.ndarray
    """Bin edges, shape (bins + 1,); the same for every group with ``uniform`` bins."""
    counts: np.ndarray
    """Rows per bin, shape (bins,), int64."""
    mean_scores: np.ndarray
    """Weighted mean score per bin (NaN for an empty bin)."""
    observed: np.ndarray
    """Weighted share of positive labels per bin (NaN for an empty bin)."""
    ece: float
    """Expected calibration error: mean over rows of |observed - mean score| of the row's bin."""
    brier: float
    """Brier score: weighted mean of (score - outcome)^2."""
    mean_score: float
    """Weighted mean score of the group."""
    base_rate: float
    """Weighted share of positive labels in the group."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (``None`` for NaN): the group numbers and the curve of the non-empty bins' edges."""
        return {"ece": _number(self.ece), "brier": _number(self.brier), "mean_score": _number(self.mean_score),
                "base_rate": _number(self.base_rate),
                "curve": {"edges": [_number(e) for e in self.edges.tolist()], "count": self.counts.tolist(),
                          "mean_score": [_number(v) for v in self.mean_scores.tolist()],
                          "observed": [_number(v) for v in self.observed.tolist()]}}


@dataclass(frozen=True)
class CalibrationResult:
    """Calibration of every group, and the gaps between groups."""

    strategy: str
    """``uniform`` or ``quantile`` bins."""
    bins: int
    """Number of bins."""
    groups: tuple[GroupCalibration, ...]
    """Per group, in the order of the ``GroupIndex``."""
    metrics: dict[str, float]
    """``expected_calibration_error_difference`` (the largest ECE gap between groups), ``..._group_max``, and the
    same for ``brier_score_loss``."""

    def to_dict(self) -> dict[str, Any]:
        """Strategy, bins and the cross-group metrics (per-group curves go with each group in a report)."""
        return {"strategy": self.strategy, "bins": self.bins,
                "metrics": {name: _number(v) for name, v in self.metrics.items()}}


def check_scores(scores: Any, rows: int) -> np.ndarray:
    """Scores as float64 (n,); ``ValueError`` naming the first row that is missing or outside [0, 1]."""
    try:
        values = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("scores must be numbers: the probability of the positive label") from None
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(f"scores must be one score per row ({rows} rows), got shape {values.shape}")
    bad = np.flatnonzero(~((values >= 0.0) & (values <= 1.0)))
    if len(bad):
        row = int(bad[0])
        raise ValueError(f"scores at row {row} is {values[row]!r}: scores must be probabilities in [0, 1] "
                         f"({len(bad)} rows are not)")
    return values


def bin_rows(codes: np.ndarray, scores: np.ndarray, n_groups: int, bins: int,
             strategy: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
    """The bin of every row (n,) and the edges of each group's bins (G, bins + 1)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
        return np.searchsorted(edges[1:-1], scores).astype(np.int64), np.tile(edges, (n_groups, 1))
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups))])
    quantiles = np.linspace(0.0, 1.0, bins + 1) * 100
    ids = np.empty(len(scores), dtype=np.int64)
    all_edges = np.empty((n_groups, bins + 1))
    for group in range(n_groups):  # one percentile per group: G is small, rows are not looped over
        rows = order[starts[group]:starts[group + 1]]
        if len(rows) == 0:
            all_edges[group] = np.nan
            continue
        all_edges[group] = np.percentile(scores[rows], quantiles)
        ids[rows] = np.searchsorted(all_edges[group, 1:-1], scores[rows])
    return ids, all_edges


def calibration_columns(y_true: np.ndarray, scores: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Per-row quantities summed into the table, (n, 4): weight, weighted score, weighted outcome and squared error."""
    w = np.ones(len(scores)) if weights is None else weights
    outcome = np.asarray(y_true, dtype=np.float64)
    error = scores - outcome
    return np.stack([w, w * scores, w * outcome, w * error * error], axis=-1)


def calibration_table(keys: np.ndarray, columns: np.ndarray, n_groups: int, bins: int) -> np.ndarray:
    """(G, bins, 4) sums of ``columns`` per (group, bin) cell; ``keys`` are ``group * bins + bin``."""
    cells = n_groups * bins
    sums = [np.bincount(keys, weights=columns[:, j], minlength=cells) for j in range(columns.shape[1])]
    return np.stack(sums, axis=-1).reshape(n_groups, bins, columns.shape[1])


def calibration_values(table: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group ``ece``, ``brier``, ``mean_score`` and ``base_rate`` from a (..., G, bins, 4) table: (..., G)."""
    weight = table[..., WEIGHT].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ece = np.abs(table[..., POSITIVE] - table[..., SCORE]).sum(axis=-1) / weight
        brier = table[..., SQUARED].sum(axis=-1) / weight
        mean_score = table[..., SCORE].sum(axis=-1) / weight
        base = table[..., POSITIVE].sum(axis=-1) / weight
    empty = ~(weight > 0)
    return {name: np.where(empty, np.nan, values) for name, values in
            (("ece", ece), ("brier", brier), ("mean_score", mean_score), ("base_rate", base))}


def calibration_metrics(table: np.ndarray) -> dict[str, np.ndarray]:
    """Cross-group calibration gaps from a (..., G, bins, 4) table: name -> (...)."""
    values = calibration_values(table)
    return {"expected_calibration_error_difference": difference(values["ece"]),
            "expected_calibration_error_group_max": group_max(values["ece"]),
            "brier_score_loss_difference": difference(values["brier"]),
            "brier_score_loss_group_max": group_max(values["brier"])}


CALIBRATION_METRICS = tuple(calibration_metrics(np.ones((1, 1, 4))))
"""Names of the cross-group calibration metrics."""


def calibration_by_group(codes: np.ndarray, n_groups: int, y_true: np.ndarray, scores: np.ndarray, *, bins: int = 10,
                         strategy: str = "uniform", weights: np.ndarray | None = None) -> CalibrationResult:
    """Reliability curve, ECE, Brier score, mean score and base rate of every group, and the gaps between groups.

    ``y_true`` are booleans (True = positive label), ``scores`` the probabilities of the positive label (checked
    with ``check_scores`` first), ``codes`` the group of each row.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    ids, edges = bin_rows(codes, scores, n_groups, bins, strategy)
    keys = codes * bins + ids
    table = calibration_table(keys, calibration_columns(y_true, scores, weights), n_groups, bins)
    counts = np.bincount(keys, minlength=n_groups * bins).reshape(n_groups, bins)
    values = calibration_values(table)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_scores = table[..., SCORE] / table[..., WEIGHT]
        observed = table[..., POSITIVE] / table[..., WEIGHT]
    filled = table[..., WEIGHT] > 0
    groups = tuple(GroupCalibration(
        edges=edges[g], counts=counts[g].astype(np.int64), mean_scores=np.where(filled[g], mean_scores[g], np.nan),
        observed=np.where(filled[g], observed[g], np.nan), ece=float(values["ece"][g]),
        brier=float(values["brier"][g]), mean_score=float(values["mean_score"][g]),
        base_rate=float(values["base_rate"][g])) for g in range(n_groups))
    metrics = {name: float(v) for name, v in calibration_metrics(table).items()}
    return CalibrationResult(strategy=strategy, bins=bins, groups=groups, metrics=metrics)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
