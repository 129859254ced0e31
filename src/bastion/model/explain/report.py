"""One explanation run over a model and a table: global importance, a SHAP summary, local records, and checks.

``ExplainTest(...).run(model, frame, y)`` computes, in this order (the time budget is shared by the SHAP parts):

1. local records for ``rows`` (0-based row positions; default the first 10 rows of the data), each row explaining
   the probability of its predicted class (or the regression prediction);
2. a global SHAP summary, mean ``|SHAP|`` per feature over up to ``sample`` rows drawn at random (seeded), explaining
   the last class (``P(>50K)`` on Adult) unless ``output`` names another;
3. for the sampled SHAP methods, the same summary under a second seed (a new background draw and new permutations),
   and the agreement of the two rankings;
4. permutation importance when a target is given (on up to ``importance_rows`` rows), with its stability across
   ``seeds`` seeds.

Checks: SHAP additivity (``|base + sum(values) - f(x)| <= 1e-6`` for every explained row) and ranking stability.
A failed check is a warning in the report, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.model.explain.importance import (
    SCORINGS,
    ImportanceResult,
    PermutationImportance,
    RankingStability,
    ranking_stability,
    tm_frame,
)
from bastion.model.explain.records import LocalExplanation, local_explanations
from bastion.model.explain.shapley import METHODS, ShapExplainer, ShapValues
from bastion.model.tabular import TabularModel, as_tabular

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_ROWS = 10
"""Rows explained locally when none are named: the first ten of the data."""

STABILITY_TOP_K = 5
"""Leading features whose overlap the stability checks compare."""


@dataclass(frozen=True, eq=False)
class ExplanationReport:
    """Everything one ``ExplainTest`` run found."""

    model: str
    """The model's name."""
    method: str
    """The SHAP method that ran: ``tree``, ``permutation`` or ``kernel``."""
    output: str
    """What the global summary explains, e.g. ``P(>50K)``."""
    space: str
    """``probability``, ``log-odds``, ``raw`` or ``prediction``."""
    perturbation: str
    """``interventional`` or ``tree_path_dependent``."""
    rows: tuple[int, ...]
    """Rows explained locally (0-based positions)."""
    importance: ImportanceResult | None
    """Permutation importance; ``None`` when skipped."""
    importance_skipped: str | None
    """Why importance was skipped (no target), else ``None``."""
    shap: ShapValues
    """SHAP values of the global sample."""
    local_values: ShapValues
    """SHAP values of the local rows."""
    local: tuple[LocalExplanation, ...]
    """One compact record per local row."""
    additivity_max_error: float
    """Largest additivity error over every explained row, local and global."""
    shap_stability: RankingStability | None
    """Agreement of the global SHAP ranking under two seeds (sampled methods; ``None`` for tree SHAP)."""
    warnings: tuple[str, ...]
    """Failed checks and incomplete work, in words."""
    notes: tuple[str, ...]
    """Choices made on the caller's behalf (a fallback from tree SHAP, in-process workers)."""
    seconds: float
    """Wall time of the whole run."""

    @property
    def additivity_ok(self) -> bool:
        """Every explained row's SHAP values add up to its output within ``additivity_tolerance``."""
        return self.local_values.additivity_ok and self.shap.additivity_ok

    @property
    def additivity_tolerance(self) -> float:
        """1e-6 on the scale of the outputs explained (1e-6 itself for probabilities)."""
        return max(self.local_values.additivity_tolerance, self.shap.additivity_tolerance)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        importance = [] if self.importance is None else [
            {"feature": f.feature, "mean": f.mean, "std": f.std} for f in self.importance.ranked()]
        stability = {"importance": None if self.importance is None or self.importance.stability is None
                     else self.importance.stability.to_dict(),
                     "shap": None if self.shap_stability is None else self.shap_stability.to_dict()}
        return {
            "model": self.model, "method": self.method, "output": self.output, "space": self.space,
            "perturbation": self.perturbation, "rows": list(self.rows), "importance": importance,
            "importance_scoring": None if self.importance is None else self.importance.scoring,
            "importance_skipped": self.importance_skipped,
            "shap": [{"feature": name, "mean_abs": value} for name, value in self.shap.ranked()],
            "shap_rows": len(self.shap.rows), "shap_rows_asked": self.shap.rows_asked,
            "local": [record.to_dict() for record in self.local],
            "checks": {"additivity_max_error": self.additivity_max_error, "additivity_ok": self.additivity_ok,
                       "additivity_tolerance": self.additivity_tolerance, "ranking_stability": stability},
            "warnings": list(self.warnings), "notes": list(self.notes), "seconds": self.seconds,
        }


class ExplainTest:
    """Explain a tabular model on a table: see the module docstring for what runs.

    ``method``: ``auto`` (tree SHAP when the model allows, else permutation), ``tree``, ``permutation``, ``kernel``.
    ``rows``: row positions to explain locally (default the first 10). ``background``: background rows for SHAP.
    ``permutations``: antithetic permutation pairs per row (permutation SHAP). ``seeds``: seeds for the importance
    stability check. ``top``: features kept per local record. ``time_budget``: seconds for the SHAP parts (sampled
    methods stop starting new rows once spent). ``workers``: processes for the sampled SHAP methods. ``sample``: rows
    of the global SHAP summary. ``repeats``: shuffles per column and seed (importance). ``scoring``: importance score
    (default accuracy or R^2). ``output``: what SHAP explains (``predicted``, ``positive`` or a class label; default
    the predicted class locally and the last class globally). ``importance_rows``: rows scored by importance.
    """

    def __init__(self, *, method: str = "auto", rows: list[int] | None = None, background: int = 100,
                 permutations: int = 10, seeds: int = 3, top: int = 10, time_budget: float | None = None,
                 workers: int = 1, seed: int = 0, sample: int = 200, repeats: int = 5, scoring: str | None = None,
                 output: str | None = None, importance_rows: int = 10_000) -> None:
        if method not in METHODS:
            raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
        if scoring is not None and scoring not in SCORINGS:
            raise ValueError(f"scoring: must be one of {SCORINGS} or None, got {scoring!r}")
        for name, value in (("background", background), ("permutations", permutations), ("seeds", seeds),
                            ("top", top), ("workers", workers), ("sample", sample), ("repeats", repeats),
                            ("importance_rows", importance_rows)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        if rows is not None and (len(rows) == 0 or not all(isinstance(r, int | np.integer) for r in rows)):
            raise ValueError(f"rows: must be a non-empty list of row positions, got {rows!r}")
        if time_budget is not None and not time_budget > 0:
            raise ValueError(f"time_budget: must be a positive number of seconds or None, got {time_budget!r}")
        if output is not None and (not isinstance(output, str) or not output):
            raise ValueError(f"output: must be 'predicted', 'positive', a class label or None, got {output!r}")
        self.method, self.rows, self.background, self.permutations = method, rows, background, permutations
        self.seeds, self.top, self.time_budget, self.workers, self.seed = seeds, top, time_budget, workers, seed
        self.sample, self.repeats, self.scoring, self.output = sample, repeats, scoring, output
        self.importance_rows = importance_rows

    def run(self, model: Any, frame: pd.DataFrame, y: Any = None) -> ExplanationReport:
        """Explain ``model`` on ``frame``; ``y``: the target (array, or the name of a column of ``frame``) or None."""
        start = time.perf_counter()
        tm = as_tabular(model)
        target_column = y if isinstance(y, str) else None
        if target_column is not None:
            if target_column not in frame.columns:
                raise ValueError(f"y: no column {target_column!r} in the data")
            y = frame[target_column].to_numpy()
        if y is not None and len(y) != len(frame):
            raise ValueError(f"y: {len(y)} values for {len(frame)} rows")
        if not tm.features:
            tm.bind([str(c) for c in frame.columns], exclude=[] if target_column is None else [target_column])
        data = tm_frame(tm, frame)
        if len(data) == 0:
            raise ValueError("frame: no rows")
        rows = list(range(min(DEFAULT_ROWS, len(data)))) if self.rows is None else [int(r) for r in self.rows]
        deadline = None if self.time_budget is None else start + self.time_budget

        local_values = self._explainer(self.output or "predicted", self.seed, deadline).explain(
            tm, data, rows, background=self._background(data, self.seed))
        decisions = tm.predict(data.iloc[local_values.rows])
        records = tuple(local_explanations(local_values, data, top=self.top, predictions=decisions))
        shap_values, shap_stability = self._global(tm, data, deadline)
        importance, skipped = self._importance(tm, data, y)

        warnings = _warnings(local_values, shap_values, shap_stability, importance)
        notes = tuple(dict.fromkeys(n for n in local_values.notes + shap_values.notes if not n.startswith("time")))
        error = max(local_values.additivity_error, shap_values.additivity_error)
        return ExplanationReport(
            model=tm.name, method=shap_values.method, output=shap_values.output, space=shap_values.space,
            perturbation=shap_values.perturbation, rows=tuple(int(r) for r in local_values.rows),
            importance=importance, importance_skipped=skipped, shap=shap_values, local_values=local_values,
            local=records, additivity_max_error=error, shap_stability=shap_stability, warnings=warnings, notes=notes,
            seconds=time.perf_counter() - start)

    def _explainer(self, output: str, seed: int, deadline: float | None) -> ShapExplainer:
        budget = None if deadline is None else max(deadline - time.perf_counter(), 1e-3)
        return ShapExplainer(method=self.method, output=output, background=self.background,
                             permutations=self.permutations, time_budget=budget, workers=self.workers, seed=seed)

    def _background(self, data: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng([seed, 1])
        chosen = np.sort(rng.choice(len(data), size=min(self.background, len(data)), replace=False))
        return data.iloc[chosen]

    def _global(self, tm: TabularModel, data: pd.DataFrame,
                deadline: float | None) -> tuple[ShapValues, RankingStability | None]:
        rng = np.random.default_rng([self.seed, 2])
        sample = np.sort(rng.choice(len(data), size=min(self.sample, len(data)), replace=False))
        output = self.output or "positive"
        first = self._explainer(output, self.seed, deadline).explain(tm, data, sample,
                                                                     background=self._background(data, self.seed))
        if first.method == "tree":  # exact: a second seed would give the same numbers
            return first, None
        second = self._explainer(output, self.seed + 1, deadline).explain(
            tm, data, first.rows, background=self._background(data, self.seed + 1))
        shared = np.isin(first.rows, second.rows)
        pair = np.stack([np.abs(first.values[shared]).mean(axis=0), np.abs(second.values).mean(axis=0)])
        return first, ranking_stability(pair, (self.seed, self.seed + 1), top_k=STABILITY_TOP_K)

    def _importance(self, tm: TabularModel, data: pd.DataFrame,
                    y: Any) -> tuple[ImportanceResult | None, str | None]:
        if y is None:
            return None, "no target given: permutation importance needs the true labels or values"
        target = np.asarray(y)
        if len(data) > self.importance_rows:
            rng = np.random.default_rng([self.seed, 3])
            chosen = np.sort(rng.choice(len(data), size=self.importance_rows, replace=False))
            data, target = data.iloc[chosen].reset_index(drop=True), target[chosen]
        runner = PermutationImportance(scoring=self.scoring, repeats=self.repeats, seeds=self.seeds,
                                       top_k=STABILITY_TOP_K, seed=self.seed)
        return runner.run(tm, data, target), None


def _warnings(local: ShapValues, glob: ShapValues, shap_stability: RankingStability | None,
              importance: ImportanceResult | None) -> tuple[str, ...]:
    found = []
    for name, values in (("local", local), ("global", glob)):
        if not values.additivity_ok:
            found.append(f"additivity: {name} SHAP values miss the explained output by up to "
                         f"{values.additivity_error:.3g} (tolerance {values.additivity_tolerance:.3g})")
        if not values.complete:
            found.append(f"time budget: {name} SHAP explained {len(values.rows)} of {values.rows_asked} rows")
    for name, stability in (("SHAP", shap_stability), ("permutation importance",
                                                       None if importance is None else importance.stability)):
        if stability is not None and not stability.stable:
            found.append(f"ranking stability: the {name} ranking changes across seeds {list(stability.seeds)}: "
                         f"min Spearman {stability.min_spearman:.2f} (needs {stability.spearman_threshold:g}), "
                         f"min top-{stability.top_k} Jaccard {stability.min_top_jaccard:.2f} "
                         f"(needs {stability.jaccard_threshold:g})")
    return tuple(found)
