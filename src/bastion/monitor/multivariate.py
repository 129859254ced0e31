"""Drift that no single column shows: PCA reconstruction error and a domain classifier.

PCA learns the reference's correlation structure on the row sample; a current row that breaks it (two features
that used to move together no longer do) reconstructs badly even when each feature's own distribution is intact.
The reference's reconstruction errors are profiled like a numeric column, so the test is the same binned KS.

The domain classifier tries to tell reference rows from current rows: trained on half of both samples, scored on
the other half; its held-out AUC is tested with a permutation test on the held-out labels (valid because the model
never saw them), so the p-value is exact up to the permutation count rather than resting on asymptotics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

VARIANCE_KEPT = 0.9
"""Share of the reference variance the kept components explain."""
PERMUTATIONS = 1000
"""Label permutations for the domain classifier's p-value (smallest attainable p is 1/1001)."""
MAX_NATIVE_CATEGORIES = 250
"""Categories a column may have to be split natively by HistGradientBoosting (its limit is max_bins, 255)."""
CLASSIFIER_ROWS = 10_000
"""Rows per side the domain classifier uses at most."""


@dataclass(frozen=True)
class PcaModel:
    """Standardisation and principal components of the reference's numeric features; holds no rows."""

    columns: tuple[str, ...]
    """The numeric feature columns, in matrix order."""
    mean: NDArray[np.float64]
    """Reference mean per column."""
    scale: NDArray[np.float64]
    """Reference standard deviation per column (1 where it is 0)."""
    components: NDArray[np.float64]
    """Kept principal axes, one per row (k x columns)."""

    def errors(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        """Mean squared reconstruction error per row; missing and infinite values count as the mean."""
        standard = (matrix - self.mean) / self.scale
        standard[~np.isfinite(standard)] = 0.0
        residual = standard - (standard @ self.components.T) @ self.components
        return np.asarray(np.einsum("ij,ij->i", residual, residual) / len(self.columns), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"columns": list(self.columns), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "components": self.components.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PcaModel:
        """Read the JSON form (shapes are checked)."""
        columns = tuple(str(name) for name in data["columns"])
        mean = np.asarray(data["mean"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        components = np.asarray(data["components"], dtype=np.float64).reshape(-1, len(columns))
        if mean.shape != (len(columns),) or scale.shape != (len(columns),) or not np.all(scale > 0):
            raise ValueError("pca: mean and scale need one positive value per column")
        return cls(columns, mean, scale, components)


def fit_pca(columns: tuple[str, ...], matrix: NDArray[np.float64], mean: NDArray[np.float64],
            std: NDArray[np.float64]) -> PcaModel | None:
    """Components explaining ``VARIANCE_KEPT`` of the variance (at most one fewer than the columns), or None
    when there are too few columns or rows to learn a structure."""
    if len(columns) < 2 or matrix.shape[0] < 3 * len(columns):
        return None
    scale = np.where(std > 0, std, 1.0)
    standard = (matrix - mean) / scale
    standard[~np.isfinite(standard)] = 0.0
    standard -= standard.mean(axis=0)
    _, singular, axes = np.linalg.svd(standard, full_matrices=False)
    variance = singular**2
    if variance.sum() <= 0:
        return None
    kept = int(np.searchsorted(np.cumsum(variance) / variance.sum(), VARIANCE_KEPT) + 1)
    kept = min(kept, len(columns) - 1)
    return PcaModel(columns, mean, scale, axes[:kept])


def auc_from_scores(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> float:
    """ROC AUC of ``scores`` for ``labels`` (ties count half), by the rank-sum formula."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = labels.size - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def permutation_auc_p_value(scores: NDArray[np.float64], labels: NDArray[np.bool_], observed: float,
                            permutations: int, seed: int) -> float:
    """One-sided p-value of ``observed`` AUC: the share of label permutations scoring at least as high."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = labels.size - positives
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, permutations, 100):  # blocks of 100 bound memory at 100 x rows
        block = min(100, permutations - start)
        chosen = rng.permuted(np.tile(labels, (block, 1)), axis=1)
        sums = (chosen * ranks).sum(axis=1)
        aucs = (sums - positives * (positives + 1) / 2) / (positives * negatives)
        exceed += int(np.sum(aucs >= observed - 1e-12))
    return (1 + exceed) / (1 + permutations)


@dataclass(frozen=True)
class DomainResult:
    """What the domain classifier found."""

    auc: float
    """Held-out AUC of telling current rows from reference rows (0.5: indistinguishable)."""
    p_value: float
    """Permutation p-value of the AUC."""
    rows: int
    """Held-out rows the AUC was measured on."""
    top_features: tuple[tuple[str, float], ...]
    """Features whose permutation lowers the AUC most, with the drop (only computed when the AUC is significant)."""


def domain_classifier(reference: Any, current: Any, columns: list[str], categorical: set[str], seed: int,
                      alpha: float) -> DomainResult:
    """Train a classifier to tell ``current`` rows from ``reference`` rows (pandas frames) and test its AUC."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    reference = reference.sample(n=min(len(reference), CLASSIFIER_ROWS), random_state=seed)
    current = current.sample(n=min(len(current), CLASSIFIER_ROWS), random_state=seed + 1)
    features, native = _encode(reference, current, columns, categorical)
    labels = np.concatenate([np.zeros(len(reference), bool), np.ones(len(current), bool)])
    order = rng.permutation(labels.size)
    train, held = order[: labels.size // 2], order[labels.size // 2:]
    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=seed,
                                           categorical_features=native)
    model.fit(features[train], labels[train])
    scores = model.predict_proba(features[held])[:, 1]
    auc = auc_from_scores(scores, labels[held])
    p_value = permutation_auc_p_value(scores, labels[held], auc, PERMUTATIONS, seed)
    top: tuple[tuple[str, float], ...] = ()
    if p_value < alpha:
        top = _top_features(model, features[held], labels[held], columns, auc, rng)
    return DomainResult(auc, p_value, int(held.size), top)


def _encode(reference: Any, current: Any, columns: list[str],
            categorical: set[str]) -> tuple[NDArray[np.float64], list[bool]]:
    """Both frames as one float matrix: categories as codes (missing stays missing), and
    which columns the booster may treat as categorical (it takes at most ``MAX_NATIVE_CATEGORIES`` of them; beyond
    that the codes are used as ordered numbers, which still separates the two samples)."""
    import pandas as pd

    blocks, native = [], []
    for name in columns:
        ref, cur = reference[name], current[name]
        if name in categorical:
            # Codes over both samples: coding "absent from the reference sample" as missing would leak the label
            # (only current rows could have it), so a clean pair of samples of a many-valued column would alarm.
            # Codes in label order, not order of appearance: the reference's labels first would mark every label
            # new in the current sample with a high code, leaking which sample a row came from.
            categories = pd.Index(sorted(pd.concat([ref, cur]).dropna().astype(str).unique()))
            codes = [categories.get_indexer(part.astype(str).where(part.notna(), None)) for part in (ref, cur)]
            block = np.concatenate(codes).astype(np.float64)
            block[block < 0] = np.nan
            native.append(len(categories) <= MAX_NATIVE_CATEGORIES)
        else:
            block = np.concatenate([pd.to_numeric(ref, errors="coerce").to_numpy(np.float64, na_value=np.nan),
                                    pd.to_numeric(cur, errors="coerce").to_numpy(np.float64, na_value=np.nan)])
            block[~np.isfinite(block)] = np.nan
            native.append(False)
        blocks.append(block)
    return np.column_stack(blocks), native


def _top_features(model: Any, features: NDArray[np.float64], labels: NDArray[np.bool_], columns: list[str],
                  auc: float, rng: np.random.Generator, top: int = 5) -> tuple[tuple[str, float], ...]:
    """Columns whose shuffling costs the classifier the most AUC."""
    drops = []
    for index, name in enumerate(columns):
        shuffled = features.copy()
        shuffled[:, index] = rng.permutation(shuffled[:, index])
        drops.append((name, auc - auc_from_scores(model.predict_proba(shuffled)[:, 1], labels)))
    drops.sort(key=lambda item: item[1], reverse=True)
    return tuple((name, round(float(drop), 6)) for name, drop in drops[:top] if drop > 0)
