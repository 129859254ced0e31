"""Permutation importance over a model's raw columns, and how stable its ranking is across seeds.

A column's importance is the score the model loses when that column is shuffled (baseline minus permuted score),
averaged over repeats. Shuffling happens on the raw columns the model reads (text, categories, numbers with missing
values), so a one-hot encoded column counts once. The permuted copies of the data for many (column, repeat) pairs
are stacked into one frame so the model is called a few times, not once per pair; ``max_cells`` (rows x columns)
bounds that frame.

Stability: the whole computation runs under ``seeds`` seeds; for every pair of seeds the importance vectors are
compared by the Spearman correlation of their ranks and by the Jaccard overlap of their top-k features. The ranking
is called stable when the *smallest* pairwise Spearman correlation is at least ``spearman_threshold`` (0.8) and the
smallest top-k Jaccard overlap is at least ``jaccard_threshold`` (0.6: with k=5, one feature of the five may change).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, islice
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import rankdata

from bastion.model.tabular import TabularModel, as_tabular

if TYPE_CHECKING:
    import pandas as pd

SCORINGS = ("accuracy", "balanced_accuracy", "neg_log_loss", "r2")
"""Scores permutation importance can use; accuracy/balanced accuracy/log loss for classifiers, R^2 for regressors."""

DEFAULT_MAX_CELLS = 4_000_000
"""Rows x columns of permuted data sent to the model in one call."""


@dataclass(frozen=True)
class RankingStability:
    """How much feature rankings computed under different seeds agree."""

    seeds: tuple[int, ...]
    """The seeds compared."""
    min_spearman: float
    """Smallest pairwise Spearman correlation between the seeds' score vectors (ranks, ties averaged)."""
    min_top_jaccard: float
    """Smallest pairwise Jaccard overlap of the seeds' top-``top_k`` feature sets."""
    top_k: int
    """How many leading features the overlap compares."""
    spearman_threshold: float
    """``min_spearman`` at least this for the ranking to count as stable."""
    jaccard_threshold: float
    """``min_top_jaccard`` at least this for the ranking to count as stable."""
    stable: bool
    """Both minima reach their thresholds."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"seeds": list(self.seeds), "min_spearman": self.min_spearman, "min_top_jaccard": self.min_top_jaccard,
                "top_k": self.top_k, "spearman_threshold": self.spearman_threshold,
                "jaccard_threshold": self.jaccard_threshold, "stable": self.stable}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:  # a constant vector has no order: agreement only if both are constant
        return 1.0 if np.array_equal(ra, rb) else 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _top(scores: np.ndarray, k: int) -> set[int]:
    return {int(i) for i in np.argsort(-scores, kind="stable")[:k]}


def ranking_stability(scores: np.ndarray, seeds: Sequence[int], *, top_k: int = 5, spearman_threshold: float = 0.8,
                      jaccard_threshold: float = 0.6) -> RankingStability:
    """Agreement of the rows of ``scores`` (one importance vector per seed, higher = more important)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(scores) < 2:
        raise ValueError(f"scores: need one row per seed and at least 2 seeds, got shape {scores.shape}")
    if len(seeds) != len(scores):
        raise ValueError(f"seeds: {len(seeds)} seeds for {len(scores)} score vectors")
    if top_k < 1:
        raise ValueError(f"top_k: must be at least 1, got {top_k}")
    k = min(top_k, scores.shape[1])
    rhos, overlaps = [], []
    for i, j in combinations(range(len(scores)), 2):
        rhos.append(_spearman(scores[i], scores[j]))
        first, second = _top(scores[i], k), _top(scores[j], k)
        overlaps.append(len(first & second) / len(first | second))
    rho, jac = round(min(rhos), 12), round(min(overlaps), 12)  # 0.8 computed as 0.7999999999999999 still passes
    return RankingStability(seeds=tuple(int(s) for s in seeds), min_spearman=rho, min_top_jaccard=jac, top_k=k,
                            spearman_threshold=spearman_threshold, jaccard_threshold=jaccard_threshold,
                            stable=bool(rho >= spearman_threshold and jac >= jaccard_threshold))


@dataclass(frozen=True)
class FeatureImportance:
    """One feature's permutation importance."""

    feature: str
    """The raw column."""
    mean: float
    """Mean drop in score when the column is shuffled (all seeds and repeats)."""
    std: float
    """Standard deviation of that drop over the same shuffles."""


@dataclass(frozen=True, eq=False)
class ImportanceResult:
    """Permutation importance of every raw column, with its stability across seeds."""

    features: tuple[str, ...]
    """The model's raw columns, in the model's order."""
    mean: np.ndarray
    """Mean importance per feature, ``(M,)``."""
    std: np.ndarray
    """Standard deviation per feature, ``(M,)``."""
    per_seed: np.ndarray
    """Mean importance under each seed, ``(seeds, M)``."""
    baseline: float
    """Score of the model on the unshuffled data."""
    scoring: str
    """The score: accuracy, balanced_accuracy, neg_log_loss or r2."""
    repeats: int
    """Shuffles per column and seed."""
    seeds: tuple[int, ...]
    """The seeds used."""
    rows: int
    """Rows scored."""
    stability: RankingStability | None
    """Agreement of the per-seed rankings; ``None`` with a single seed."""
    model_calls: int
    """How many times the model was called (batched shuffles)."""
    seconds: float
    """Wall time."""

    def ranked(self) -> list[FeatureImportance]:
        """Features from most to least important."""
        order = np.argsort(-self.mean, kind="stable")
        return [FeatureImportance(self.features[i], float(self.mean[i]), float(self.std[i])) for i in order]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: features ranked, with the score and stability."""
        return {"scoring": self.scoring, "baseline": self.baseline, "repeats": self.repeats, "seeds": list(self.seeds),
                "rows": self.rows, "features": [{"feature": f.feature, "mean": f.mean, "std": f.std}
                                                for f in self.ranked()],
                "stability": None if self.stability is None else self.stability.to_dict(), "seconds": self.seconds}


class _Scorer:
    """Scores many stacked copies of the data at once: ``(U*n,)`` predictions give ``(U,)`` scores."""

    def __init__(self, tm: TabularModel, scoring: str, y: Any, n: int) -> None:
        self.tm, self.scoring, self.n = tm, scoring, n
        if scoring == "r2":
            self.target = _numeric_target(y)
            self.total = float(((self.target - self.target.mean()) ** 2).sum())
            if self.total == 0:
                raise ValueError("y: the target is constant; R^2 is undefined (choose another scoring)")
        else:
            self.target = class_indices(tm, y, "y")
            self.present = np.unique(self.target)

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        copies = len(frame) // self.n
        if self.scoring == "r2":
            pred = np.asarray(self.tm.predict(frame), dtype=np.float64).reshape(copies, self.n)
            return np.asarray(1.0 - ((pred - self.target) ** 2).sum(axis=1) / self.total)
        if self.scoring == "neg_log_loss":
            proba = self.tm.predict_proba(frame).reshape(copies, self.n, -1)
            proba = proba / proba.sum(axis=2, keepdims=True)
            eps = np.finfo(np.float64).eps
            picked = np.take_along_axis(proba, self.target[None, :, None], axis=2)[:, :, 0]
            return np.asarray(np.log(np.clip(picked, eps, 1 - eps)).mean(axis=1))
        correct = class_indices(self.tm, self.tm.predict(frame), "prediction").reshape(copies, self.n) == self.target
        if self.scoring == "accuracy":
            return np.asarray(correct.mean(axis=1))
        recalls = [correct[:, self.target == k].mean(axis=1) for k in self.present]
        return np.asarray(np.mean(recalls, axis=0))


def _numeric_target(y: Any) -> np.ndarray:
    try:
        target = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y: a regression target must be numeric ({exc})") from None
    bad = np.flatnonzero(~np.isfinite(target))
    if len(bad):
        raise ValueError(f"y: row {int(bad[0])} is missing or not finite")
    return target


def class_indices(tm: TabularModel, labels: Any, what: str) -> np.ndarray:
    """Labels as indices into ``tm.classes``; matched as given, else by their text (a CSV may spell 1 as "1")."""
    import pandas as pd

    classes = tm.classes
    if classes is None:
        raise ValueError(f"{tm.name}: the model gives no classes")
    values = np.asarray(labels, dtype=object)
    out = np.asarray(pd.Index(classes.tolist(), dtype=object).get_indexer(values), dtype=np.int64)
    unmatched = np.flatnonzero(out < 0)
    if len(unmatched):
        as_text = pd.Index([str(c) for c in classes.tolist()], dtype=object)
        out[unmatched] = as_text.get_indexer([str(v) for v in values[unmatched].tolist()])
        unmatched = np.flatnonzero(out < 0)
    if len(unmatched):
        pos = int(unmatched[0])
        raise ValueError(f"{what}: row {pos} has label {values[pos]!r}, not one of the model's classes "
                         f"{classes.tolist()[:10]}")
    return out


def stacked_frame(data: pd.DataFrame, takes: dict[str, np.ndarray]) -> pd.DataFrame:
    """A frame whose column ``c`` is ``data[c]`` taken at ``takes[c]`` (row positions); dtypes are kept."""
    import pandas as pd

    return pd.DataFrame({c: data[c].array.take(takes[c]) for c in data.columns}, copy=False)


class PermutationImportance:
    """Permutation importance of a tabular model's raw columns, under several seeds.

    ``scoring``: ``None`` (accuracy for classifiers, R^2 for regressors), or one of ``SCORINGS``. ``repeats``:
    shuffles per column and seed. ``seeds``: independent runs (seeds ``seed, seed+1, ...``) whose rankings are
    compared; the reported mean and std pool all of them. ``top_k``, ``spearman_threshold``, ``jaccard_threshold``:
    the stability check (module docstring). ``max_cells``: rows x columns per model call.
    """

    def __init__(self, *, scoring: str | None = None, repeats: int = 5, seeds: int = 3, top_k: int = 5, seed: int = 0,
                 spearman_threshold: float = 0.8, jaccard_threshold: float = 0.6,
                 max_cells: int = DEFAULT_MAX_CELLS) -> None:
        if scoring is not None and scoring not in SCORINGS:
            raise ValueError(f"scoring: must be one of {SCORINGS} or None, got {scoring!r}")
        for name, value in (("repeats", repeats), ("seeds", seeds), ("top_k", top_k), ("max_cells", max_cells)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        for name, threshold in (("spearman_threshold", spearman_threshold), ("jaccard_threshold", jaccard_threshold)):
            if not -1.0 <= threshold <= 1.0:
                raise ValueError(f"{name}: must lie in [-1, 1], got {threshold}")
        self.scoring, self.repeats, self.seeds, self.top_k, self.seed = scoring, repeats, seeds, top_k, seed
        self.spearman_threshold, self.jaccard_threshold = spearman_threshold, jaccard_threshold
        self.max_cells = max_cells

    def run(self, model: Any, frame: pd.DataFrame, y: Any) -> ImportanceResult:
        """Importance of each of the model's columns in ``frame`` against the target ``y`` (array or column name)."""
        start = time.perf_counter()
        tm = as_tabular(model)
        if isinstance(y, str):
            if y not in frame.columns:
                raise ValueError(f"y: no column {y!r} in the data")
            y = frame[y].to_numpy()
        if not tm.features:
            tm.bind([str(c) for c in frame.columns])
        data = tm_frame(tm, frame)
        n, m = data.shape
        if n < 2:
            raise ValueError(f"frame: permutation importance needs at least 2 rows, got {n}")
        if len(y) != n:
            raise ValueError(f"y: {len(y)} values for {n} rows")
        scoring = self.scoring or ("accuracy" if tm.task == "classification" else "r2")
        if (scoring == "r2") != (tm.task == "regression"):
            raise ValueError(f"scoring: {scoring!r} does not suit a {tm.task} model")
        scorer = _Scorer(tm, scoring, y, n)
        baseline = float(scorer(data)[0])
        seeds = tuple(self.seed + i for i in range(self.seeds))
        drops, calls = self._score_units(data, self._shuffles(seeds, n, m), scorer, baseline)
        per_unit = drops.reshape(self.seeds, m, self.repeats)
        per_seed = per_unit.mean(axis=2)
        pooled = per_unit.transpose(1, 0, 2).reshape(m, -1)
        stability = None if self.seeds < 2 else ranking_stability(
            per_seed, seeds, top_k=self.top_k, spearman_threshold=self.spearman_threshold,
            jaccard_threshold=self.jaccard_threshold)
        return ImportanceResult(features=tuple(data.columns), mean=pooled.mean(axis=1), std=pooled.std(axis=1),
                                per_seed=per_seed, baseline=baseline, scoring=scoring, repeats=self.repeats,
                                seeds=seeds, rows=n, stability=stability, model_calls=calls + 1,
                                seconds=time.perf_counter() - start)

    def _shuffles(self, seeds: tuple[int, ...], n: int, m: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(column, permutation)`` for every seed, column and repeat, in that order; made as they are needed."""
        for seed in seeds:
            rng = np.random.default_rng(seed)
            for j in range(m):
                for _ in range(self.repeats):
                    yield j, rng.permutation(n)

    def _score_units(self, data: pd.DataFrame, shuffles: Iterator[tuple[int, np.ndarray]], scorer: _Scorer,
                     baseline: float) -> tuple[np.ndarray, int]:
        """Baseline minus the score with column ``j`` permuted, for every shuffle, a batch of shuffles per call."""
        n, m = data.shape
        per_call = max(1, self.max_cells // (n * m))
        columns = list(data.columns)
        drops: list[np.ndarray] = []
        while batch := list(islice(shuffles, per_call)):
            base = np.tile(np.arange(n), len(batch))
            takes = {c: base for c in columns}
            for u, (j, perm) in enumerate(batch):
                if takes[columns[j]] is base:
                    takes[columns[j]] = base.copy()
                takes[columns[j]][u * n:(u + 1) * n] = perm
            drops.append(baseline - scorer(stacked_frame(data, takes)))
        return np.concatenate(drops), len(drops)


def tm_frame(tm: TabularModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's raw feature columns of ``frame``, in order, with a fresh 0..n-1 index."""
    from bastion.model.tabular import require_columns

    require_columns(frame, tm.features, "feature column the model takes")
    return frame[list(tm.features)].reset_index(drop=True)
