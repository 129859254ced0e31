"""Group metrics from count tables: every rate and disparity is arithmetic on a (..., G, 4) confusion table.

One ``np.bincount`` of ``group * 4 + cell`` gives the [tn, fp, fn, tp] counts (or weight sums) of every group; every
rate below is a ratio of those counts and every disparity a reduction over the group axis. All functions take any
leading axes, so the bootstrap passes a (B, G, 4) stack of resampled tables and gets (B,) disparities in one call.

Conventions follow the reference tools, so numbers can be compared one for one:

- Fairlearn (``MetricFrame`` with its base metrics and scikit-learn's): a rate whose denominator is empty in a group
  that has rows (a group's TPR when it has no positive labels, its precision when nothing is predicted positive) is
  0.0, as ``confusion_matrix(normalize="true")`` and ``precision_score(zero_division="warn")`` return; a group with
  no rows (only in a bootstrap resample) has NaN rates. ``difference`` is max - min over groups and ``ratio`` min /
  max (Fairlearn's ``method="between_groups"``), both skipping NaN groups as pandas does. Names are Fairlearn's:
  its canned functions (``demographic_parity_difference``...) and its derived-metric convention
  ``<scikit-learn metric>_<difference|ratio|group_min|group_max>`` (``precision_score_group_min``...). Equalized
  odds combines its TPR and FPR parts with Python's ``max``/``min`` over [TPR part, FPR part], as Fairlearn does, so
  an undefined (NaN) TPR ratio makes the ratio NaN while an undefined FPR ratio is passed over.
- AIF360 (``ClassificationMetric`` with privileged and unprivileged groups): ``privileged_comparison`` follows its
  rules: TPR, FPR, FNR and TNR are plain ratios (0/0 is NaN), PPV, FDR, FOR and accuracy are 0.0 when empty,
  every metric is unprivileged minus (or over) privileged, signed, and its equalized odds difference is Python's
  ``max`` of [|FPR difference|, |TPR difference|].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CELLS = ("tn", "fp", "fn", "tp")
"""The four cells of a binary confusion table, in the order of the last axis of a count table."""
TN, FP, FN, TP = range(4)

Values = np.ndarray
"""A float array of per-group values (..., G) or of metrics (...)."""


def confusion_counts(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, n_groups: int,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """(G, 4) float64 table of [tn, fp, fn, tp] per group: row counts, or weight sums when ``weights`` are given.

    ``y_true`` and ``y_pred`` are booleans (True = the positive label); ``codes`` are group numbers in
    ``0..n_groups - 1``.
    """
    keys = codes * 4 + (np.asarray(y_true, dtype=bool).astype(np.int64) * 2 + np.asarray(y_pred, dtype=bool))
    counts = np.bincount(keys, weights=weights, minlength=4 * n_groups)
    return counts.reshape(n_groups, 4).astype(np.float64)


def _share(numerator: np.ndarray, denominator: np.ndarray, total: np.ndarray) -> Values:
    """numerator / denominator; 0.0 where the denominator is empty but the group has rows, NaN for an empty group."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = numerator / denominator
    return np.where(denominator > 0, rate, np.where(total > 0, 0.0, np.nan))


def _total(counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts.sum(axis=-1))


def selection_rate(counts: np.ndarray) -> Values:
    """Share predicted positive: (fp + tp) / n."""
    total = _total(counts)
    return _share(counts[..., FP] + counts[..., TP], total, total)


def true_positive_rate(counts: np.ndarray) -> Values:
    """Recall: tp / (tp + fn)."""
    return _share(counts[..., TP], counts[..., TP] + counts[..., FN], _total(counts))


def false_positive_rate(counts: np.ndarray) -> Values:
    """fp / (fp + tn)."""
    return _share(counts[..., FP], counts[..., FP] + counts[..., TN], _total(counts))


def false_negative_rate(counts: np.ndarray) -> Values:
    """fn / (fn + tp)."""
    return _share(counts[..., FN], counts[..., FN] + counts[..., TP], _total(counts))


def true_negative_rate(counts: np.ndarray) -> Values:
    """Specificity: tn / (tn + fp)."""
    return _share(counts[..., TN], counts[..., TN] + counts[..., FP], _total(counts))


def precision(counts: np.ndarray) -> Values:
    """Positive predictive value (predictive parity compares it): tp / (tp + fp)."""
    return _share(counts[..., TP], counts[..., TP] + counts[..., FP], _total(counts))


def accuracy(counts: np.ndarray) -> Values:
    """(tp + tn) / n."""
    total = _total(counts)
    return _share(counts[..., TP] + counts[..., TN], total, total)


def base_rate(counts: np.ndarray) -> Values:
    """Share of positive labels: (fn + tp) / n."""
    total = _total(counts)
    return _share(counts[..., FN] + counts[..., TP], total, total)


def f1(counts: np.ndarray) -> Values:
    """2 tp / (2 tp + fp + fn), 0.0 when there is no positive label nor prediction (scikit-learn's default)."""
    return _share(2 * counts[..., TP], 2 * counts[..., TP] + counts[..., FP] + counts[..., FN], _total(counts))


def balanced_accuracy(counts: np.ndarray) -> Values:
    """Mean recall over the classes present in the labels (scikit-learn's ``balanced_accuracy_score``)."""
    positives = counts[..., TP] + counts[..., FN]
    negatives = counts[..., TN] + counts[..., FP]
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = counts[..., TP] / positives
        tnr = counts[..., TN] / negatives
        both = (tpr + tnr) / 2
    return np.asarray(np.where((positives > 0) & (negatives > 0), both, np.where(positives > 0, tpr, tnr)))


GROUP_RATES: dict[str, Callable[[np.ndarray], Values]] = {
    "selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
    "fnr": false_negative_rate, "tnr": true_negative_rate, "precision": precision, "accuracy": accuracy,
    "base_rate": base_rate}
"""The per-group rates a report lists, by their short report names."""


def group_rates(counts: np.ndarray) -> dict[str, Values]:
    """Every rate of ``GROUP_RATES`` from a (..., G, 4) table: name -> (..., G)."""
    return {name: rate(counts) for name, rate in GROUP_RATES.items()}


def group_max(values: Values) -> Values:
    """Largest value over groups (last axis), skipping NaN groups; NaN only when every group is NaN."""
    return np.asarray(np.fmax.reduce(values, axis=-1))


def group_min(values: Values) -> Values:
    """Smallest value over groups (last axis), skipping NaN groups."""
    return np.asarray(np.fmin.reduce(values, axis=-1))


def difference(values: Values) -> Values:
    """max - min over groups (Fairlearn's ``difference(method="between_groups")``)."""
    return np.asarray(group_max(values) - group_min(values))


def ratio(values: Values) -> Values:
    """min / max over groups (Fairlearn's ``ratio(method="between_groups")``); NaN when both are 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(group_min(values) / group_max(values))


def _builtin_max(first: Values, second: Values) -> Values:
    """Python's ``max([first, second])``, as Fairlearn's equalized odds applies it: NaN first wins, NaN second loses."""
    return np.asarray(np.where(second > first, second, first))


def _builtin_min(first: Values, second: Values) -> Values:
    """Python's ``min([first, second])``: a NaN TPR ratio makes the equalized odds ratio NaN, a NaN FPR ratio not."""
    return np.asarray(np.where(second < first, second, first))


def classification_metrics(counts: np.ndarray) -> dict[str, Values]:
    """Every disparity, by its Fairlearn name, from a (..., G, 4) table: name -> (...)."""
    selection = selection_rate(counts)
    tpr, fpr = true_positive_rate(counts), false_positive_rate(counts)
    fnr, tnr = false_negative_rate(counts), true_negative_rate(counts)
    acc, ppv = accuracy(counts), precision(counts)
    out: dict[str, Values] = {
        "demographic_parity_difference": difference(selection),
        "demographic_parity_ratio": ratio(selection),
        "equalized_odds_difference": _builtin_max(difference(tpr), difference(fpr)),
        "equalized_odds_ratio": _builtin_min(ratio(tpr), ratio(fpr)),
        "equal_opportunity_difference": difference(tpr),
        "equal_opportunity_ratio": ratio(tpr),
    }
    for name, values in (("selection_rate", selection), ("true_positive_rate", tpr),
                         ("false_positive_rate", fpr), ("false_negative_rate", fnr),
                         ("true_negative_rate", tnr), ("accuracy_score", acc), ("precision_score", ppv)):
        out[f"{name}_difference"] = difference(values)
        out[f"{name}_ratio"] = ratio(values)
    loss = 1.0 - acc
    out.update({
        "accuracy_score_group_min": group_min(acc),
        "zero_one_loss_difference": difference(loss),
        "zero_one_loss_ratio": ratio(loss),
        "zero_one_loss_group_max": group_max(loss),
        "precision_score_group_min": group_min(ppv),
        "recall_score_group_min": group_min(tpr),
        "f1_score_group_min": group_min(f1(counts)),
        "balanced_accuracy_score_group_min": group_min(balanced_accuracy(counts)),
    })
    return out


CLASSIFICATION_METRICS = tuple(classification_metrics(np.ones((1, 4))))
"""Names of the classification disparities, in report order."""


# -- AIF360: unprivileged versus privileged -------------------------------------------------------------------------

def _divide(numerator: np.ndarray, denominator: np.ndarray) -> Values:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(numerator / denominator)


def _or_zero(numerator: np.ndarray, denominator: np.ndarray) -> Values:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, 0.0)


def aif360_rates(counts: np.ndarray) -> dict[str, Values]:
    """AIF360's ``performance_measures`` and selection rate of a (..., 4) table, with its empty-denominator rules."""
    tn, fp, fn, tp = (counts[..., i] for i in range(4))
    total = tn + fp + fn + tp
    return {"selection_rate": _divide(fp + tp, total), "TPR": _divide(tp, tp + fn), "FPR": _divide(fp, fp + tn),
            "FNR": _divide(fn, fn + tp), "TNR": _divide(tn, tn + fp), "PPV": _or_zero(tp, tp + fp),
            "FDR": _or_zero(fp, fp + tp), "FOR": _or_zero(fn, fn + tn), "ERR": 1.0 - _or_zero(tp + tn, total)}


def privileged_comparison(unprivileged: np.ndarray, privileged: np.ndarray) -> dict[str, Values]:
    """AIF360 ``ClassificationMetric`` disparities, by its names, of two (..., 4) tables: name -> (...)."""
    u, p = aif360_rates(unprivileged), aif360_rates(privileged)

    def diff(key: str) -> Values:
        return np.asarray(u[key] - p[key])

    return {
        "statistical_parity_difference": diff("selection_rate"),
        "disparate_impact": _divide(u["selection_rate"], p["selection_rate"]),
        "equal_opportunity_difference": diff("TPR"),
        "average_odds_difference": 0.5 * (diff("FPR") + diff("TPR")),
        "average_abs_odds_difference": 0.5 * (np.abs(diff("FPR")) + np.abs(diff("TPR"))),
        "equalized_odds_difference": _builtin_max(np.abs(diff("FPR")), np.abs(diff("TPR"))),
        "true_positive_rate_difference": diff("TPR"),
        "false_positive_rate_difference": diff("FPR"),
        "false_negative_rate_difference": diff("FNR"),
        "false_positive_rate_ratio": _divide(u["FPR"], p["FPR"]),
        "false_negative_rate_ratio": _divide(u["FNR"], p["FNR"]),
        "false_discovery_rate_difference": diff("FDR"),
        "false_discovery_rate_ratio": _divide(u["FDR"], p["FDR"]),
        "false_omission_rate_difference": diff("FOR"),
        "false_omission_rate_ratio": _divide(u["FOR"], p["FOR"]),
        "error_rate_difference": diff("ERR"),
        "error_rate_ratio": _divide(u["ERR"], p["ERR"]),
        "average_predictive_value_difference": 0.5 * (diff("PPV") + diff("FOR")),
    }


AIF360_METRICS = tuple(privileged_comparison(np.ones(4), np.ones(4)))
"""Names of the AIF360 disparities, in report order."""


# -- regression -----------------------------------------------------------------------------------------------------

SUMS = ("weight", "rows", "pred", "error", "abs_error", "sq_error", "dev", "sq_dev")
"""Columns of a regression sum table: per group the weight, the row count, and weighted sums of the prediction,
the error (prediction - truth), its absolute value and square, and the truth's deviation from a fixed centre and its
square (for the spread that R^2 divides by)."""


def group_means(codes: np.ndarray, values: np.ndarray, n_groups: int, weights: np.ndarray | None = None) -> Values:
    """Weighted mean of ``values`` per group (G,); 0.0 for a group without weight."""
    w = np.ones(len(codes)) if weights is None else weights
    total = np.bincount(codes, weights=w, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.bincount(codes, weights=w * values, minlength=n_groups) / total
    return np.where(total > 0, means, 0.0)


def regression_columns(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None,
                       centers: np.ndarray) -> np.ndarray:
    """Per-row quantities (n, 8) whose sums per group are the ``SUMS`` table; ``centers`` is each row's centre."""
    w = np.ones(len(y_true)) if weights is None else weights
    error = y_pred - y_true
    deviation = y_true - centers
    return np.stack([w, np.ones(len(y_true)), w * y_pred, w * error, w * np.abs(error), w * error * error,
                     w * deviation, w * deviation * deviation], axis=-1)


def regression_sums(codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, n_groups: int,
                    weights: np.ndarray | None = None, centers: np.ndarray | None = None) -> np.ndarray:
    """(G, 8) float64 table of ``SUMS`` per group.

    ``centers`` (G,) are subtracted from the truth before its square is summed; by default they are the exact
    group means (a first pass), so the spread is a two-pass sum, as accurate as scikit-learn's.
    """
    if centers is None:
        centers = group_means(codes, y_true, n_groups, weights)
    columns = regression_columns(y_true, y_pred, weights, centers[codes])
    return np.stack([np.bincount(codes, weights=columns[:, j], minlength=n_groups) for j in range(len(SUMS))],
                    axis=-1)


def regression_values(sums: np.ndarray) -> dict[str, Values]:
    """Per-group regression values from a (..., G, 8) sum table: name -> (..., G)."""
    weight, rows = sums[..., 0], sums[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = {name: sums[..., SUMS.index(name)] / weight for name in ("pred", "error", "abs_error", "sq_error")}
        spread = sums[..., 7] - sums[..., 6] ** 2 / weight
        r2 = 1.0 - sums[..., 5] / spread
    empty = ~(weight > 0)
    # scikit-learn: R^2 is NaN below two rows; with no spread it is 1.0 for a perfect fit, else 0.0
    r2 = np.where(spread > 0, r2, np.where(sums[..., 5] == 0, 1.0, 0.0))
    r2 = np.where((rows < 2) | empty, np.nan, r2)
    values = {"count": rows, "mean_prediction": mean["pred"], "mean_error": mean["error"],
              "mean_absolute_error": mean["abs_error"], "mean_squared_error": mean["sq_error"],
              "root_mean_squared_error": np.sqrt(mean["sq_error"]), "r2": r2}
    return {name: np.where(empty, np.nan, v) if name != "count" else v for name, v in values.items()}


REGRESSION_VALUES = ("count", "mean_prediction", "mean_error", "mean_absolute_error", "mean_squared_error",
                     "root_mean_squared_error", "r2")
"""The per-group regression values a report lists."""


def regression_metrics(sums: np.ndarray) -> dict[str, Values]:
    """Regression disparities, by Fairlearn-style names, from a (..., G, 8) sum table: name -> (...)."""
    v = regression_values(sums)
    return {
        "mean_absolute_error_group_max": group_max(v["mean_absolute_error"]),
        "mean_absolute_error_difference": difference(v["mean_absolute_error"]),
        "mean_absolute_error_ratio": ratio(v["mean_absolute_error"]),
        "mean_squared_error_group_max": group_max(v["mean_squared_error"]),
        "mean_squared_error_difference": difference(v["mean_squared_error"]),
        "root_mean_squared_error_group_max": group_max(v["root_mean_squared_error"]),
        "mean_prediction_difference": difference(v["mean_prediction"]),
        "mean_prediction_ratio": ratio(v["mean_prediction"]),
        "mean_error_difference": difference(v["mean_error"]),
        "r2_score_group_min": group_min(v["r2"]),
    }


REGRESSION_METRICS = tuple(regression_metrics(np.ones((1, 8))))
"""Names of the regression disparities, in report order."""
