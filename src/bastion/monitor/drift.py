"""``DriftMonitor``: configure, ``fit(reference)``, ``test(current)``, in scikit-learn's manner.

Every test of a run (each column's distribution, each column's missing share, the multivariate and model tests)
joins one family whose p-values are corrected together, by Holm (family-wise error at ``alpha``, the default) or
Benjamini-Hochberg (false discovery rate). A column drifts when its corrected p-value is below ``alpha`` and, when
``min_effect`` is set, its effect size reaches it: at a million rows a test finds shifts too small to matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, Self

import numpy as np

from bastion.compute import Executor, InProcessExecutor
from bastion.data.files import DataError
from bastion.monitor import stats
from bastion.monitor.column_tests import Outcome, categorical_test, numeric_test
from bastion.monitor.columns import partitions
from bastion.monitor.dataset import DatasetProfile
from bastion.monitor.fitting import FitPlan, fit_profile, run_pass
from bastion.monitor.model import Roles, model_tests
from bastion.monitor.multivariate import domain_classifier
from bastion.monitor.profile import (
    DEFAULT_BINS,
    DEFAULT_EXACT_LIMIT,
    DEFAULT_SAMPLE_ROWS,
    CategoricalProfile,
    ColumnTally,
    NumericProfile,
    UnusableColumn,
    profile_kind,
)
from bastion.monitor.report import ColumnDrift, DatasetTest, DriftReport
from bastion.monitor.summary import CurrentSummary, SummaryPlan, summarize

CORRECTIONS = ("holm", "bh", "none")
ROLES = ("target", "prediction", "probability", "latency")
SMALL_SAMPLE = 30
"""Below this many current rows the report warns that only large shifts can be detected."""


@dataclass
class _Pending:
    """A test waiting for its corrected p-value: where the result goes once the family is corrected."""

    column: str | None
    kind: str
    p_value: float


class DriftMonitor:
    """Tests whether current data drifted from a reference: per column, across columns, and for the model.

    Configure in ``__init__``; ``fit`` profiles the reference (a DataFrame, a pyarrow Table, a table file or a
    folder of partitions); ``test`` compares current data with that profile and returns a ``DriftReport``.
    ``profile_`` is the fitted ``DatasetProfile``; ``save``/``load`` move it between machines.
    """

    def __init__(self, alpha: float = 0.05, correction: str = "holm", min_effect: float = 0.0,
                 columns: Sequence[str] | None = None, ignore: Sequence[str] = (), categorical: Sequence[str] = (),
                 target: str | None = None, prediction: str | None = None, probability: Sequence[str] = (),
                 latency: str | None = None, multivariate: bool = True, domain_classifier: bool = False,
                 bins: int = DEFAULT_BINS, exact_limit: int = DEFAULT_EXACT_LIMIT,
                 sample_rows: int = DEFAULT_SAMPLE_ROWS, seed: int = 0, executor: Executor | None = None) -> None:
        self.alpha = alpha
        self.correction = correction
        self.min_effect = min_effect
        self.columns = columns
        self.ignore = ignore
        self.categorical = categorical
        self.target = target
        self.prediction = prediction
        self.probability = probability
        self.latency = latency
        self.multivariate = multivariate
        self.domain_classifier = domain_classifier
        self.bins = bins
        self.exact_limit = exact_limit
        self.sample_rows = sample_rows
        self.seed = seed
        self.executor = executor
        self.profile_: DatasetProfile | None = None

    def _validate(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, not {self.correction!r}")
        if self.min_effect < 0:
            raise ValueError(f"min_effect must be at least 0, got {self.min_effect}")
        if self.bins < 2:
            raise ValueError(f"bins must be at least 2, got {self.bins}")
        if self.exact_limit < 0 or self.sample_rows < 1:
            raise ValueError("exact_limit must be at least 0 and sample_rows at least 1")

    def _roles(self) -> dict[str, str]:
        roles = {name: "probability" for name in self.probability}
        for role in ("target", "prediction", "latency"):
            name = getattr(self, role)
            if name is not None:
                roles[name] = role
        return roles

    def fit(self, reference: Any) -> Self:
        """Profile the reference; returns self."""
        self._validate()
        plan = FitPlan(tuple(self.columns) if self.columns is not None else None, tuple(self.ignore),
                       tuple(self.categorical), self.bins, self.exact_limit, self.sample_rows, self.seed,
                       tuple(self._roles().items()))
        parts = partitions(reference, "reference")
        with _one_blas_thread():
            self.profile_ = fit_profile(parts, plan, self.executor, with_pca=self.multivariate)
        return self

    @classmethod
    def from_profile(cls, profile: DatasetProfile | Path | str, **params: Any) -> DriftMonitor:
        """A fitted monitor from a profile object or file; roles come from the profile unless given."""
        if not isinstance(profile, DatasetProfile):
            profile = DatasetProfile.load(Path(profile))
        monitor = cls(**params)
        for column, role in profile.roles.items():
            if role == "probability":
                monitor.probability = tuple(monitor.probability) + (column,)
            elif getattr(monitor, role, None) is None:
                setattr(monitor, role, column)
        monitor.profile_ = profile
        return monitor

    def save(self, path: Path | str, include_sample: bool = False) -> None:
        """Write the fitted profile (no rows unless ``include_sample``)."""
        self._fitted().save(Path(path), include_sample)

    def _fitted(self) -> DatasetProfile:
        if self.profile_ is None:
            raise ValueError("this DriftMonitor is not fitted: call fit(reference) or from_profile(...) first")
        return self.profile_

    def test(self, current: Any) -> DriftReport:
        """Compare ``current`` with the fitted reference."""
        self._validate()
        profile = self._fitted()
        with _one_blas_thread():
            summary = self._summarize(profile, current)
        if summary.rows == 0:
            raise DataError(f"{summary.label}: the current data has no rows")
        columns, pending, outcomes = self._column_results(profile, summary)
        dataset = self._dataset_results(profile, summary, pending)
        return self._verdict(profile, summary, columns, outcomes, dataset, pending)

    def _summarize(self, profile: DatasetProfile, current: Any) -> CurrentSummary:
        parts = partitions(current, "current")
        want_sample = self.domain_classifier and profile.sample is not None
        plan = SummaryPlan(profile, min(self.sample_rows, 20_000) if want_sample else 0,
                           Roles.of(profile.roles).columns(), self.seed)
        result: CurrentSummary = run_pass(self.executor or InProcessExecutor(), partial(summarize, plan),
                                          list(enumerate(parts)), lambda a, b: a.merge(b),
                                          CurrentSummary(parts[0].label), parts)
        return result

    def _column_results(self, profile: DatasetProfile, summary: CurrentSummary) -> tuple[
            dict[str, dict[str, Any]], list[_Pending], dict[str, Outcome]]:
        """Raw results per reference column (corrected later), the tests awaiting correction, and outcomes."""
        results: dict[str, dict[str, Any]] = {}
        pending: list[_Pending] = []
        outcomes: dict[str, Outcome] = {}
        for name, reference in profile.columns.items():
            base = {"kind": profile_kind(reference), "role": profile.roles.get(name, "feature")}
            if name not in summary.names:
                results[name] = {**base, "test": "schema", "drift": True, "message": "missing from the current data"}
                continue
            if name in summary.mismatched:
                results[name] = {**base, "test": "schema", "drift": True, "message": summary.mismatch_message(name)}
                continue
            if isinstance(reference, UnusableColumn):
                results[name] = {**base, "test": "none", "drift": False, "message": reference.message}
                continue
            tally = (summary.numeric[name].tally if isinstance(reference, NumericProfile)
                     else summary.categorical[name])
            outcome = (numeric_test(reference, summary.numeric[name]) if isinstance(reference, NumericProfile)
                       else categorical_test(reference, tally))
            outcomes[name] = outcome
            results[name] = {**base, **_missing_shares(reference, tally)}
            if outcome.p_value is not None:
                pending.append(_Pending(name, "distribution", outcome.p_value))
            invalid = _invalid(reference, tally)
            if invalid is not None:
                results[name]["missing_p_value"] = invalid
                pending.append(_Pending(name, "missing", invalid))
        return results, pending, outcomes

    def _dataset_results(self, profile: DatasetProfile, summary: CurrentSummary,
                         pending: list[_Pending]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        if profile.pca is not None and profile.pca_errors is not None and summary.errors is not None:
            outcome = numeric_test(profile.pca_errors, summary.errors)
            details = {"components": len(profile.pca.components), "columns": len(profile.pca.columns),
                       "reference_mean_error": outcome.metrics.get("reference_mean"),
                       "current_mean_error": outcome.metrics.get("current_mean")}
            results.append({"name": "pca_reconstruction", "statistic": outcome.statistic,
                            "p_value": outcome.p_value, "effect_size": outcome.effect_size, "details": details,
                            "message": outcome.message})
        if self.domain_classifier:
            results.append(self._domain_result(profile, summary))
        if profile.model:
            try:
                tests = model_tests(profile.model, Roles.of(profile.roles), summary.model_table(), self.alpha)
            except (KeyError, ValueError) as exc:
                raise DataError(f"{summary.label}: model columns: {exc}") from None
            for test in tests:
                # Tests with a p-value alarm through the corrected family; the estimate keeps its own rule.
                results.append({"name": test.name, "statistic": test.statistic, "p_value": test.p_value,
                                "effect_size": test.effect_size, "details": test.details, "message": test.message,
                                "drift": test.drift if test.p_value is None else False})
        for index, result in enumerate(results):
            if result.get("p_value") is not None:
                pending.append(_Pending(None, f"dataset:{index}", result["p_value"]))
        return results

    def _domain_result(self, profile: DatasetProfile, summary: CurrentSummary) -> dict[str, Any]:
        name = "domain_classifier"
        if profile.sample is None:
            return {"name": name, "message": "the profile holds no row sample (fit with keep_sample to use it)"}
        if summary.sample.table is None or summary.sample.table.num_rows < 20 or len(profile.sample) < 20:
            return {"name": name, "message": "fewer than 20 rows on a side"}
        usable = [name for name, ref in profile.columns.items()
                  if not isinstance(ref, UnusableColumn) and name in summary.names and name not in summary.mismatched
                  and profile.roles.get(name, "feature") == "feature"]
        categorical = {name for name in usable if isinstance(profile.columns[name], CategoricalProfile)}
        # One OpenMP thread: on a busy machine the booster's thread team stalls (0.35 s became 14-93 s in tests).
        with thread_controller(openmp=True).limit(limits=1, user_api="openmp"):
            result = domain_classifier(profile.sample[usable], summary.sample.table.select(usable).to_pandas(),
                                       usable, categorical, self.seed, self.alpha)
        return {"name": name, "statistic": result.auc, "p_value": result.p_value, "effect_size": result.auc - 0.5,
                "details": {"auc": result.auc, "held_out_rows": result.rows,
                            "top_features": dict(result.top_features)}}

    def _verdict(self, profile: DatasetProfile, summary: CurrentSummary, columns: dict[str, dict[str, Any]],
                 outcomes: dict[str, Outcome], dataset: list[dict[str, Any]],
                 pending: list[_Pending]) -> DriftReport:
        adjusted = stats.adjust_p_values(np.array([item.p_value for item in pending]), self.correction)
        corrected = {(item.column, item.kind): float(p) for item, p in zip(pending, adjusted, strict=True)}
        entries = [self._column_entry(name, result, outcomes.get(name), corrected)
                   for name, result in columns.items()]
        warnings = []
        for name in summary.names:
            if name not in profile.columns and name not in self.ignore and (
                    self.columns is None or name in self.columns):
                entries.append(ColumnDrift(name, "unusable", "schema", None, None, None, None, False,
                                           message="not in the reference: not tested"))
                warnings.append(f"column {name!r} is not in the reference")
        if not set(profile.columns) & set(summary.names):
            warnings.append("the current data shares no column with the reference: is it the right file?")
        if summary.rows < SMALL_SAMPLE:
            warnings.append(f"only {summary.rows} current rows: only large shifts can be detected")
        tests = [self._dataset_entry(index, result, corrected) for index, result in enumerate(dataset)]
        drift = any(entry.drift for entry in entries) or any(test.drift for test in tests)
        return DriftReport(drift, self.alpha, self.correction, profile.rows, summary.rows, tuple(entries),
                           tuple(tests), tuple(warnings))

    def _column_entry(self, name: str, result: dict[str, Any], outcome: Outcome | None,
                      corrected: dict[tuple[str | None, str], float]) -> ColumnDrift:
        if outcome is None:
            return ColumnDrift(name, result["kind"], result["test"], None, None, None, None, result["drift"],
                               role=result["role"], message=result.get("message"))
        p_adjusted = corrected.get((name, "distribution"))
        drift = p_adjusted is not None and p_adjusted < self.alpha and (outcome.effect_size or 0.0) >= self.min_effect
        metrics = dict(outcome.metrics)
        missing_adjusted = corrected.get((name, "missing"))
        message = outcome.message
        if missing_adjusted is not None:
            metrics["missing_p_value"] = result["missing_p_value"]
            metrics["missing_p_adjusted"] = missing_adjusted
            if missing_adjusted < self.alpha:
                drift = True
                change = (f"missing or infinite values went from {result['reference_missing']:.2%} to "
                          f"{result['current_missing']:.2%} (corrected p {missing_adjusted:.3g})")
                message = f"{message}; {change}" if message else change
        return ColumnDrift(name, result["kind"], outcome.test, outcome.statistic, outcome.p_value, p_adjusted,
                           outcome.effect_size, drift, result["role"], metrics, result["reference_missing"],
                           result["current_missing"], message, outcome.histogram)

    def _dataset_entry(self, index: int, result: dict[str, Any],
                       corrected: dict[tuple[str | None, str], float]) -> DatasetTest:
        p_adjusted = corrected.get((None, f"dataset:{index}"))
        drift = bool(result.get("drift")) or (p_adjusted is not None and p_adjusted < self.alpha)
        return DatasetTest(result["name"], result.get("statistic"), result.get("p_value"), p_adjusted,
                           result.get("effect_size"), drift, result.get("details", {}), result.get("message"))


def _one_blas_thread() -> Any:
    """Keep BLAS on one thread while summarising: the PCA products are thin (rows x a few dozen columns), and
    OpenBLAS's extra threads spin-wait, doubling CPU time for no gain in wall time. Parallelism comes from
    partitions on the executor instead."""
    return thread_controller(openmp=False).limit(limits=1, user_api="blas")


@cache
def thread_controller(openmp: bool) -> Any:
    """A threadpoolctl controller, built once: building scans the loaded libraries (about 2 ms), limiting is cheap.
    Only loaded libraries can be limited, so ``openmp=True`` loads scikit-learn's OpenMP runtime first."""
    from threadpoolctl import ThreadpoolController

    if openmp:
        import sklearn.ensemble  # noqa: F401
    return ThreadpoolController()


def _missing_shares(reference: NumericProfile | CategoricalProfile, tally: ColumnTally) -> dict[str, float]:
    ref_invalid, ref_rows, cur_invalid, cur_rows = _invalid_counts(reference, tally)
    return {"reference_missing": ref_invalid / ref_rows if ref_rows else 0.0,
            "current_missing": cur_invalid / cur_rows if cur_rows else 0.0}


def _invalid_counts(reference: NumericProfile | CategoricalProfile, tally: ColumnTally) -> tuple[int, int, int, int]:
    """Missing or infinite values and all values, in the reference and in the current data."""
    if isinstance(reference, NumericProfile):
        ref_invalid = reference.missing + reference.posinf + reference.neginf
    else:
        ref_invalid = reference.missing
    cur_invalid = tally.missing + tally.posinf + tally.neginf
    cur_rows = cur_invalid + tally.moments.count + sum(tally.categories.values())
    return ref_invalid, reference.rows, cur_invalid, cur_rows


def _invalid(reference: NumericProfile | CategoricalProfile, tally: ColumnTally) -> float | None:
    """p-value that the share of missing or infinite values changed, or None when neither side has any."""
    ref_invalid, ref_rows, cur_invalid, cur_rows = _invalid_counts(reference, tally)
    if ref_invalid == 0 and cur_invalid == 0:
        return None
    return stats.two_proportions(ref_invalid, ref_rows, cur_invalid, cur_rows)

