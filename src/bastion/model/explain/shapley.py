"""SHAP values over a model's raw columns: TreeSHAP through ``shap``, batched permutation SHAP, and KernelSHAP.

All three explain the same kind of game, so their numbers can be compared: the *interventional* one, where a
feature left out of a coalition takes the values of a background sample (``background`` rows of the data) and the
coalition's worth is the mean model output over that sample. ``base_value`` is then the mean output over the
background, and ``base_value + sum(values) == f(x)`` (additivity).

- ``tree``: ``shap.TreeExplainer`` with ``feature_perturbation="interventional"`` on the same background, for
  scikit-learn forests, decision trees and gradient boosting, alone or as the last step of a ``Pipeline``. Chosen
  over ``tree_path_dependent`` because it answers the same question as the model-agnostic methods (so one can check
  the other) and does not depend on training-time node counts that the file may not reflect. The exception is
  ``HistGradientBoosting*``: shap 0.51's interventional path gives values that miss the prediction by up to 1.7
  log-odds on these models, while its path-dependent one is exact, so those use ``tree_path_dependent`` (the
  result says so in ``perturbation``). A pipeline's earlier steps transform the data; the tree is explained on the
  encoded columns and each encoded column's contribution is added back to the raw column it came from
  (ColumnTransformer, OneHotEncoder, OrdinalEncoder, scalers, SimpleImputer, KBinsDiscretizer, feature selectors,
  passthrough), which keeps additivity. Forests and single trees are explained in probability space; gradient
  boosting in log-odds (binary), raw scores (multi-class) or its prediction (regression), and additivity is checked
  against ``decision_function`` for boosted classifiers. Summed one-hot contributions are the encoded game's, not
  exactly the raw-column game's (there a column's indicator columns always change together): on Adult they differ
  from the raw game's exact values by at most 0.004 in probability.
- ``permutation``: our own. For each row, ``permutations`` antithetic pairs: a random order of the features is
  walked forward (adding features one at a time to the coalition) and backward; each step's change in worth is the
  added feature's marginal contribution. Sums of marginal contributions along a walk telescope to
  ``f(x) - base``, so additivity holds by construction. Every coalition of a chunk of rows and a permutation pair,
  each crossed with the whole background, goes to the model in one frame (``max_batch_rows`` bounds a call). When
  the model is a pipeline whose preprocessing works column by column with a known mapping (as for tree SHAP), the
  background and explained rows are encoded once and hybrid rows are mixed in the encoded space, so only the last
  step runs per call: the same numbers (checked on the background), without re-encoding every hybrid row.
- ``kernel``: ``shap.KernelExplainer`` on the raw columns; every column is encoded as integer codes (KernelSHAP only
  swaps values, never computes with them) and decoded inside the prediction function.

``permutation`` and ``kernel`` honour ``time_budget`` (no new chunk of rows starts once it is spent; the result
says how many rows were done) and ``workers`` (a process pool over chunks of rows, started with ``fork`` on Linux so
the model is inherited, not pickled). Each row's random draws depend only on ``seed`` and its row number, so
results do not depend on ``workers`` or chunking.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.model.base import ModelError
from bastion.model.explain.importance import class_indices, stacked_frame, tm_frame
from bastion.model.tabular import TabularModel, as_tabular

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("auto", "tree", "permutation", "kernel")
"""SHAP methods; ``auto`` is ``tree`` when the model allows it, else ``permutation``."""

ADDITIVITY_TOLERANCE = 1e-6
"""Largest ``|base + sum(values) - f(x)|`` accepted."""

DEFAULT_MAX_BATCH_ROWS = 200_000
"""Rows (hybrid rows x background) per model call in the sampled methods."""

MAX_CELLS = 16_000_000
"""Rows x columns of one batch of hybrid rows (128 MB as float64 when a pipeline's encoded columns are used)."""


@dataclass(frozen=True, eq=False)
class ShapValues:
    """SHAP values of one output per row, over the model's raw columns."""

    values: np.ndarray
    """Contributions ``(n, M)``: row ``i``'s values add up to ``predictions[i] - base_values[i]``."""
    base_values: np.ndarray
    """Expected output over the background, ``(n,)`` (per row: rows may explain different classes)."""
    predictions: np.ndarray
    """The explained output ``f(x)`` per row, ``(n,)``."""
    features: tuple[str, ...]
    """The raw columns, in the model's order."""
    method: str
    """``tree``, ``permutation`` or ``kernel``."""
    output: str
    """What is explained, e.g. ``P(>50K)``, ``P(predicted class)``, ``log-odds(1)``, ``prediction``."""
    outputs: tuple[str, ...]
    """What is explained for each row (the same as ``output`` unless it names the predicted class)."""
    space: str
    """``probability``, ``log-odds``, ``raw`` (multi-class boosting scores) or ``prediction`` (regression)."""
    perturbation: str
    """``interventional`` (background sample), or ``tree_path_dependent`` (HistGradientBoosting)."""
    rows: np.ndarray
    """Positions (0-based) in the frame of the rows explained."""
    rows_asked: int
    """How many rows were asked for; fewer were explained when the time budget ran out."""
    background: int
    """Background rows used (0 for ``tree_path_dependent``, which weighs paths by training counts instead)."""
    seconds: float
    """Wall time."""
    additivity_error: float
    """``max |base + sum(values) - f(x)|`` over the rows explained."""
    notes: tuple[str, ...] = field(default=())
    """What the caller should know: a fallback taken, a time budget that ran out."""

    @property
    def additivity_tolerance(self) -> float:
        """``ADDITIVITY_TOLERANCE`` on the outputs' scale: itself for probabilities, relative for a regression in
        thousands (tree SHAP sums there carry rounding errors near 1e-8 of the output, measured)."""
        scale = float(np.abs(self.predictions).max()) if np.size(self.predictions) else 1.0
        return ADDITIVITY_TOLERANCE * max(1.0, scale)

    @property
    def additivity_ok(self) -> bool:
        """Values add up to the prediction within ``additivity_tolerance``."""
        return bool(self.additivity_error <= self.additivity_tolerance)

    @property
    def complete(self) -> bool:
        """Every row asked for was explained."""
        return len(self.rows) == self.rows_asked

    @property
    def base_value(self) -> float:
        """The base value when every row shares it (one explained output), else their mean."""
        return float(self.base_values.mean()) if len(self.base_values) else float("nan")

    def mean_abs(self) -> np.ndarray:
        """Mean ``|SHAP|`` per feature, ``(M,)``: the global importance summary."""
        return np.asarray(np.abs(self.values).mean(axis=0)) if len(self.values) else np.zeros(len(self.features))

    def ranked(self) -> list[tuple[str, float]]:
        """``(feature, mean |SHAP|)`` from largest to smallest."""
        scores = self.mean_abs()
        return [(self.features[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")]


@dataclass(frozen=True, eq=False)
class _AllOutputs:
    """SHAP values of every output before one is chosen per row."""

    values: np.ndarray  # (n, M, K)
    base: np.ndarray  # (n, K)
    f: np.ndarray  # (n, K)
    names: list[str]
    space: str
    perturbation: str
    done: np.ndarray  # indices (into the rows asked) that were explained
    notes: tuple[str, ...] = ()


class ShapExplainer:
    """SHAP values for the rows of a table (see the module docstring for the methods).

    ``output``: ``"predicted"`` (each row's predicted class), ``"positive"`` (the last class), or a class label;
    regressors always explain their prediction. ``background``: rows sampled (seeded) from the data as the
    background. ``permutations``: antithetic pairs per row (permutation). ``samples``: model evaluations per row
    (kernel; ``None``: shap's default ``2M + 2048``). ``time_budget``: seconds (sampled methods). ``workers``:
    processes (sampled methods). ``max_batch_rows``: rows per model call.
    """

    def __init__(self, *, method: str = "auto", output: str = "predicted", background: int = 100,
                 permutations: int = 10, samples: int | None = None, time_budget: float | None = None,
                 workers: int = 1, seed: int = 0, max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS) -> None:
        if method not in METHODS:
            raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
        if not isinstance(output, str) or not output:
            raise ValueError(f"output: must be 'predicted', 'positive' or a class label, got {output!r}")
        for name, value in (("background", background), ("permutations", permutations), ("workers", workers),
                            ("max_batch_rows", max_batch_rows)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if samples is not None and (not isinstance(samples, int) or samples < 1):
            raise ValueError(f"samples: must be a positive integer or None, got {samples!r}")
        if time_budget is not None and not time_budget > 0:
            raise ValueError(f"time_budget: must be a positive number of seconds or None, got {time_budget!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        self.method, self.output, self.background, self.permutations = method, output, background, permutations
        self.samples, self.time_budget, self.workers, self.seed = samples, time_budget, workers, seed
        self.max_batch_rows = max_batch_rows

    def resolve(self, model: Any) -> tuple[str, str | None]:
        """The method that will run on ``model``, and why tree SHAP is not used (``None`` when it is)."""
        method, _, reason = self._resolve(as_tabular(model))
        return method, reason

    def _resolve(self, tm: TabularModel) -> tuple[str, _TreePlan | None, str | None]:
        if self.method not in ("auto", "tree"):
            return self.method, None, None
        plan = _tree_plan(tm)
        if isinstance(plan, str):
            if self.method == "tree":
                raise ModelError(f"{tm.name}: method 'tree' is not available: {plan}")
            return "permutation", None, plan
        return "tree", plan, None

    def explain(self, model: Any, frame: pd.DataFrame, rows: Sequence[int] | np.ndarray | None = None, *,
                background: pd.DataFrame | None = None) -> ShapValues:
        """SHAP values for ``rows`` (0-based positions in ``frame``; default all) of ``frame``."""
        start = time.perf_counter()
        tm = as_tabular(model)
        if not tm.features:
            tm.bind([str(c) for c in frame.columns])
        data = tm_frame(tm, frame)
        positions = _positions(rows, len(data))
        bg = self._background(tm, data, background)
        method, plan, reason = self._resolve(tm)
        explained = data.iloc[positions].reset_index(drop=True)
        outs = None
        if plan is not None:
            try:
                outs = _tree_outputs(tm, plan, explained, bg)
            except ModelError as exc:
                if self.method == "tree":
                    raise
                method, reason = "permutation", str(exc)  # auto: shap could not read this tree after all
        if outs is None:
            outs = self._sampled(tm, method, explained, positions, bg)
        notes = outs.notes + (() if reason is None else (f"tree SHAP not used: {reason}",))
        return _choose(tm, outs, self.output, explained, positions, method, len(bg), notes,
                       time.perf_counter() - start)

    def _background(self, tm: TabularModel, data: pd.DataFrame, given: pd.DataFrame | None) -> pd.DataFrame:
        if given is not None:
            bg = tm_frame(tm, given)
            if len(bg) == 0:
                raise ValueError("background: no rows")
            return bg
        if len(data) == 0:
            raise ValueError("frame: no rows")
        rng = np.random.default_rng(self.seed)
        chosen = np.sort(rng.choice(len(data), size=min(self.background, len(data)), replace=False))
        return data.iloc[chosen].reset_index(drop=True)

    def _sampled(self, tm: TabularModel, method: str, explained: pd.DataFrame, positions: np.ndarray,
                 bg: pd.DataFrame) -> _AllOutputs:
        import pandas as pd

        pool = pd.concat([bg, explained], ignore_index=True)
        fx, f_bg = tm.output(explained), tm.output(bg)
        game = _Game(tm=tm, pool=pool, n_background=len(bg), row_ids=positions, fx=fx, v_empty=f_bg.mean(axis=0),
                     permutations=self.permutations, samples=self.samples, seed=self.seed,
                     max_batch_rows=self.max_batch_rows, kind=method, encoded=_encode_pool(tm, pool, f_bg))
        m, n = pool.shape[1], len(explained)
        # a permutation chunk fills one model call; kernel rows are slow, so small chunks keep the budget tight
        chunk = max(1, self.max_batch_rows // (2 * max(m - 1, 1) * len(bg))) if method == "permutation" else 8
        chunk = max(1, min(chunk, math.ceil(n / self.workers)))
        if self.time_budget is not None:  # a budget needs small steps: stop within a tenth of the rows
            chunk = max(1, min(chunk, math.ceil(n / 10)))
        chunks = [np.arange(s, min(s + chunk, n)) for s in range(0, n, chunk)]
        results, notes = _run_chunks(game, chunks, self.workers, self.time_budget)
        done = np.concatenate([chunks[i] for i in sorted(results)])
        values = np.concatenate([results[i] for i in sorted(results)])
        if len(done) < n:
            notes.append(f"time budget of {self.time_budget:g} s spent: {len(done)} of {n} rows explained")
        names = tm.output_names
        base = np.broadcast_to(game.v_empty, (len(done), len(names)))
        return _AllOutputs(values=values, base=np.array(base), f=fx[done], names=names, space=_plain_space(tm),
                           perturbation="interventional", done=done, notes=tuple(notes))


def _plain_space(tm: TabularModel) -> str:
    return "probability" if tm.classes is not None else "prediction"


def _positions(rows: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n)
    positions = np.asarray(rows)
    if positions.ndim != 1 or len(positions) == 0:
        raise ValueError("rows: give a non-empty list of row positions")
    if not np.issubdtype(positions.dtype, np.integer):
        raise ValueError(f"rows: row positions must be integers, got {positions.dtype}")
    bad = positions[(positions < 0) | (positions >= n)]
    if len(bad):
        raise ValueError(f"rows: row {int(bad[0])} is outside the data (0..{n - 1})")
    if len(np.unique(positions)) != len(positions):
        raise ValueError("rows: a row is listed twice")
    return positions.astype(np.int64)


def _choose(tm: TabularModel, outs: _AllOutputs, output: str, explained: pd.DataFrame, positions: np.ndarray,
            method: str, background: int, notes: tuple[str, ...], seconds: float) -> ShapValues:
    """One output per row: the predicted class, the last class, a named class, or the regression prediction."""
    n = len(outs.done)
    prefix = {"probability": "P", "log-odds": "log-odds", "raw": "raw"}.get(outs.space)
    if tm.classes is None or prefix is None:
        picks, summary = np.zeros(n, dtype=np.int64), outs.names[0]
    elif output == "predicted":
        picks = class_indices(tm, tm.predict(explained.iloc[outs.done]), "prediction")
        summary = f"{prefix}(predicted class)"
    else:
        labels = tm.classes.tolist()
        if output == "positive":
            index = len(labels) - 1
        else:
            matches = [i for i, label in enumerate(labels) if label == output or str(label) == output]
            if not matches:
                raise ValueError(f"output: {output!r} is not 'predicted', 'positive' or one of the model's classes "
                                 f"{labels[:10]}")
            index = matches[0]
        picks, summary = np.full(n, index, dtype=np.int64), outs.names[index]
    take = np.arange(n)
    values = outs.values[take, :, picks]
    base, f = outs.base[take, picks], outs.f[take, picks]
    error = float(np.abs(base + values.sum(axis=1) - f).max()) if n else 0.0
    used = 0 if outs.perturbation == "tree_path_dependent" else background  # that game reads no background
    return ShapValues(values=values, base_values=base, predictions=f, features=tuple(explained.columns), method=method,
                      output=summary, outputs=tuple(outs.names[k] for k in picks), space=outs.space,
                      perturbation=outs.perturbation, rows=positions[outs.done], rows_asked=len(positions),
                      background=used, seconds=seconds, additivity_error=error, notes=notes)


# -- tree SHAP -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _TreePlan:
    """How to run TreeSHAP on a model: transform with ``pre``, explain ``tree``, add encoded columns via ``owner``."""

    pre: Any
    tree: Any
    owner: np.ndarray
    space: str
    perturbation: str


def _tree_plan(tm: TabularModel) -> _TreePlan | str:
    """The plan, or why the model cannot take tree SHAP."""
    from sklearn.pipeline import Pipeline

    est = tm.estimator
    if est is None:
        return "the model is not a scikit-learn estimator"
    pre, tree = None, est
    if isinstance(est, Pipeline):
        pre, tree = (est[:-1] if len(est.steps) > 1 else None), est.steps[-1][1]
    space, reason = _tree_space(tree)
    if space is None:
        return reason
    n_raw = len(tm.features)
    owner = np.arange(n_raw) if pre is None else _owners(pre, n_raw)
    if owner is None:
        return "the pipeline's steps before the tree do not say which raw column each encoded column comes from"
    width = getattr(tree, "n_features_in_", None)
    if width is not None and len(owner) != int(width):
        return f"the pipeline's encoded columns ({len(owner)}) do not match the tree's {width} inputs"
    hist = type(tree).__name__.startswith("HistGradientBoosting")
    return _TreePlan(pre=pre, tree=tree, owner=owner, space=space,
                     perturbation="tree_path_dependent" if hist else "interventional")


def _tree_space(tree: Any) -> tuple[str | None, str]:
    """The output space shap's TreeExplainer gives for ``tree``, or ``None`` and the reason it cannot."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    name = type(tree).__name__
    if isinstance(tree, RandomForestClassifier | ExtraTreesClassifier | DecisionTreeClassifier):
        return (None, f"{name} has several outputs") if getattr(tree, "n_outputs_", 1) != 1 else ("probability", "")
    regressors = RandomForestRegressor | ExtraTreesRegressor | DecisionTreeRegressor | GradientBoostingRegressor
    if isinstance(tree, regressors):
        return (None, f"{name} has several outputs") if getattr(tree, "n_outputs_", 1) != 1 else ("prediction", "")
    if isinstance(tree, GradientBoostingClassifier):
        return ("log-odds", "") if len(tree.classes_) == 2 else (None, f"shap reads a binary {name} only")
    if isinstance(tree, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        categorical = getattr(tree, "is_categorical_", None)
        if categorical is not None and np.any(categorical):
            return None, f"{name} has native categorical splits (shap reads numeric splits only)"
        if isinstance(tree, HistGradientBoostingRegressor):
            link = tree.loss in ("squared_error", "absolute_error", "quantile")
            return ("prediction", "") if link else (None, f"{name} with loss {tree.loss!r} predicts exp(raw score)")
        return ("log-odds", "") if len(tree.classes_) == 2 else ("raw", "")
    return None, f"{name} is not a tree model shap reads"


def _elementwise() -> tuple[type, ...]:
    """Transformers whose every output column is a function of one input column, value by value.

    Only these map back to raw columns: a ``Normalizer`` is one-to-one by name but mixes a row's columns.
    """
    from sklearn.preprocessing import (
        Binarizer,
        MaxAbsScaler,
        MinMaxScaler,
        OrdinalEncoder,
        PowerTransformer,
        QuantileTransformer,
        RobustScaler,
        StandardScaler,
    )

    return (Binarizer, MaxAbsScaler, MinMaxScaler, OrdinalEncoder, PowerTransformer, QuantileTransformer,
            RobustScaler, StandardScaler)


def _owners(step: Any, n_in: int) -> np.ndarray | None:
    """For each output column of a fitted transformer, the input column it comes from; ``None`` when unknown."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectorMixin
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OneHotEncoder

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return np.arange(n_in)
    if isinstance(step, str):  # "drop"
        return np.arange(0) if step == "drop" else None
    if isinstance(step, Pipeline):
        owner: np.ndarray | None = np.arange(n_in)
        for _, inner in step.steps:
            inner_owner = None if owner is None else _owners(inner, len(owner))
            owner = None if owner is None or inner_owner is None else owner[inner_owner]
        return owner
    if isinstance(step, ColumnTransformer):
        return _column_owners(step, n_in)
    if isinstance(step, OneHotEncoder):
        return _onehot_owners(step)
    if isinstance(step, SimpleImputer):
        return _imputer_owners(step, n_in)
    if isinstance(step, KBinsDiscretizer):
        return np.arange(n_in) if step.encode == "ordinal" else np.repeat(np.arange(n_in), step.n_bins_)
    if isinstance(step, SelectorMixin):
        return np.flatnonzero(step.get_support())
    identity = isinstance(step, FunctionTransformer) and step.func is None  # the ColumnTransformer's passthrough
    return np.arange(n_in) if identity or isinstance(step, _elementwise()) else None


def _column_owners(ct: Any, n_in: int) -> np.ndarray | None:
    names = [str(c) for c in getattr(ct, "feature_names_in_", [])]
    slices = ct.output_indices_
    out = np.full(max((s.stop for s in slices.values()), default=0), -1)
    for name, transformer, columns in ct.transformers_:
        where = slices.get(name)
        if where is None or where.stop == where.start:
            continue
        cols = _column_positions(columns, names, n_in)
        inner = None if cols is None else _owners(transformer, len(cols))
        if cols is None or inner is None or len(inner) != where.stop - where.start:
            return None
        out[where] = cols[inner]
    return None if (out < 0).any() else out


def _column_positions(columns: Any, names: list[str], n_in: int) -> np.ndarray | None:
    """A ColumnTransformer's column selection as positions among its inputs."""
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, slice):
        if not all(isinstance(v, int | None) for v in (columns.start, columns.stop, columns.step)):
            return None
        return np.arange(n_in)[columns]
    if callable(columns):
        return None
    picked = np.asarray(columns)
    if picked.dtype == bool:
        return np.flatnonzero(picked)
    if np.issubdtype(picked.dtype, np.integer):
        return picked.astype(np.int64)
    if any(str(c) not in names for c in picked.tolist()):
        return None
    return np.array([names.index(str(c)) for c in picked.tolist()], dtype=np.int64)


def _onehot_owners(encoder: Any) -> np.ndarray:
    infrequent = getattr(encoder, "infrequent_categories_", None)
    drop = encoder.drop_idx_
    counts = []
    for i, categories in enumerate(encoder.categories_):
        count = len(categories)
        if infrequent is not None and infrequent[i] is not None:
            count -= len(infrequent[i]) - 1  # the infrequent ones share one column
        if drop is not None and drop[i] is not None:
            count -= 1
        counts.append(count)
    return np.repeat(np.arange(len(counts)), counts)


def _imputer_owners(imputer: Any, n_in: int) -> np.ndarray:
    import pandas as pd

    kept = np.arange(n_in) if imputer.keep_empty_features else np.flatnonzero(~pd.isna(imputer.statistics_))
    if imputer.add_indicator:
        kept = np.concatenate([kept, np.asarray(imputer.indicator_.features_, dtype=np.int64)])
    return np.asarray(kept, dtype=np.int64)


def _encoded(plan: _TreePlan, tm: TabularModel, data: pd.DataFrame) -> np.ndarray:
    """The tree's input for ``data``: transformed by the pipeline, dense float64 at the precision the tree reads."""
    import scipy.sparse

    x = tm.select(data)
    if plan.pre is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*feature names.*")
            x = plan.pre.transform(x)
    if scipy.sparse.issparse(x):
        x = x.toarray()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{tm.name}: the tree's input is not numeric ({exc})") from None
    if plan.perturbation == "interventional":  # scikit-learn trees split float32 values
        arr = arr.astype(np.float32).astype(np.float64)
    return arr


def _shap() -> Any:
    """The ``shap`` package, imported without the deprecation warnings its plotting colours raise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    return shap


def _tree_outputs(tm: TabularModel, plan: _TreePlan, explained: pd.DataFrame, bg: pd.DataFrame) -> _AllOutputs:
    shap = _shap()
    x = _encoded(plan, tm, explained)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if plan.perturbation == "interventional":
                explainer = shap.TreeExplainer(plan.tree, data=_encoded(plan, tm, bg),
                                               feature_perturbation="interventional")
            else:
                explainer = shap.TreeExplainer(plan.tree, feature_perturbation="tree_path_dependent")
            result = explainer(x, check_additivity=False)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise ModelError(f"{tm.name}: shap's TreeExplainer failed: {str(exc).strip()[:300]}") from exc
    values = np.asarray(result.values, dtype=np.float64)
    base = np.asarray(result.base_values, dtype=np.float64).reshape(len(x), -1)
    if values.ndim == 2:
        values = values[:, :, None]
    f = _tree_reference(tm, plan, explained)
    if values.shape[2] == 1 and f.shape[1] == 2:  # binary boosting: one margin, for the second class
        values, base = np.concatenate([-values, values], axis=2), np.concatenate([-base, base], axis=1)
    gather = np.zeros((len(plan.owner), len(tm.features)))
    gather[np.arange(len(plan.owner)), plan.owner] = 1.0
    raw = np.einsum("nek,em->nmk", values, gather)
    names = _space_names(tm, plan.space)
    return _AllOutputs(values=raw, base=base, f=f, names=names, space=plan.space, perturbation=plan.perturbation,
                       done=np.arange(len(explained)))


def _tree_reference(tm: TabularModel, plan: _TreePlan, explained: pd.DataFrame) -> np.ndarray:
    """The model output that tree SHAP values should add up to, ``(n, K)``."""
    if plan.space in ("probability", "prediction"):
        return tm.output(explained)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*feature names.*")
        margin = np.asarray(tm.estimator.decision_function(tm.select(explained)), dtype=np.float64)
    return np.stack([-margin, margin], axis=1) if margin.ndim == 1 else margin


def _space_names(tm: TabularModel, space: str) -> list[str]:
    if tm.classes is None:
        return ["prediction"]
    prefix = {"probability": "P", "log-odds": "log-odds", "raw": "raw"}[space]
    return [f"{prefix}({label})" for label in tm.classes.tolist()]


# -- sampled methods: the game, its chunks, and the process pool ---------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Encoded:
    """A pipeline's row-wise preprocessing applied once to the pool, so hybrid rows skip it.

    Each encoded column depends on one raw column only (``owner``), so encoding a hybrid row equals mixing encoded
    rows; the final estimator then sees exactly what the whole pipeline would give it.
    """

    pool: np.ndarray  # (B + n, E) encoded pool, dense float64
    owner: np.ndarray  # (E,) raw column of each encoded column
    final: Any  # the pipeline's last step

    def output(self, tm: TabularModel, x: np.ndarray) -> np.ndarray:
        """What ``tm.output`` gives, from encoded rows: probabilities, or the prediction as one column."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*feature names.*")
            if tm.classes is not None:
                return np.asarray(self.final.predict_proba(x), dtype=np.float64)
            return np.asarray(self.final.predict(x), dtype=np.float64).reshape(len(x), 1)


def _encode_pool(tm: TabularModel, pool: pd.DataFrame, f_bg: np.ndarray) -> _Encoded | None:
    """The encoded pool when the model is a pipeline with row-wise, mapped preprocessing, else ``None``.

    Checked on the background: the final step on encoded rows must give the pipeline's own outputs.
    """
    import scipy.sparse
    from sklearn.pipeline import Pipeline

    est = tm.estimator
    if not isinstance(est, Pipeline) or len(est.steps) < 2:
        return None
    pre, final = est[:-1], est.steps[-1][1]
    if hasattr(final, "feature_names_in_") or (tm.classes is not None and not hasattr(final, "predict_proba")):
        return None
    owner = _owners(pre, len(tm.features))
    if owner is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*feature names.*")
            x = pre.transform(tm.select(pool))
        encoded = _Encoded(pool=np.asarray(x.toarray() if scipy.sparse.issparse(x) else x, dtype=np.float64),
                           owner=owner, final=final)
        check = encoded.output(tm, encoded.pool[:len(f_bg)])
    except (ValueError, TypeError, AttributeError):
        return None
    if encoded.pool.shape[1] != len(owner) or check.shape != f_bg.shape or not np.allclose(check, f_bg, atol=1e-9):
        return None
    return encoded


@dataclass(eq=False)
class _Game:
    """What a chunk of rows needs: the model, background + explained rows, and the ends of every walk."""

    tm: TabularModel
    pool: pd.DataFrame  # background rows, then the rows explained
    n_background: int
    row_ids: np.ndarray  # each explained row's position in the caller's frame (seeds its draws)
    fx: np.ndarray  # (n, K) output on the rows explained
    v_empty: np.ndarray  # (K,) mean output over the background
    permutations: int
    samples: int | None
    seed: int
    max_batch_rows: int
    kind: str
    encoded: _Encoded | None = None

    def outputs_at(self, takes: np.ndarray) -> np.ndarray:
        """Model output ``(N, K)`` on hybrid rows whose raw column ``j`` holds pool row ``takes[:, j]``'s value."""
        if self.encoded is not None:
            enc = self.encoded
            return enc.output(self.tm, enc.pool[takes[:, enc.owner], np.arange(len(enc.owner))])
        return self.tm.output(stacked_frame(self.pool, {c: takes[:, j] for j, c in enumerate(self.pool.columns)}))

    def coalition_values(self, masks: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Mean output over the background with row ``rows[q]``'s features ``masks[q]`` set, ``(Q, K)``."""
        b, m = self.n_background, masks.shape[1]
        width = m if self.encoded is None else len(self.encoded.owner)
        per_call = max(1, min(self.max_batch_rows, MAX_CELLS // width) // b)
        out = np.empty((len(masks), len(self.v_empty)))
        background = np.arange(b)[None, :, None]
        for start in range(0, len(masks), per_call):
            mask, row = masks[start:start + per_call], rows[start:start + per_call]
            if self.encoded is not None:  # select encoded values directly: no index arrays, no gather
                enc = self.encoded
                hybrid = np.where(mask[:, None, enc.owner], enc.pool[b + row][:, None, :], enc.pool[None, :b, :])
                output = enc.output(self.tm, hybrid.reshape(-1, width))
            else:
                output = self.outputs_at(np.where(mask[:, None, :], b + row[:, None, None], background).reshape(-1, m))
            out[start:start + len(mask)] = output.reshape(len(mask), b, -1).mean(axis=1)
        return out

    def chunk(self, local: np.ndarray) -> np.ndarray:
        """SHAP values ``(R, M, K)`` of the explained rows ``local``."""
        return _permutation_chunk(self, local) if self.kind == "permutation" else _kernel_chunk(self, local)


def _permutation_chunk(game: _Game, local: np.ndarray) -> np.ndarray:
    r, m, k = len(local), game.pool.shape[1], len(game.v_empty)
    fx = game.fx[local]
    if m == 1:
        return np.asarray(fx - game.v_empty)[:, None, :]
    gens = [np.random.default_rng([game.seed, int(game.row_ids[i])]) for i in local]
    steps = np.arange(1, m)
    start = np.broadcast_to(game.v_empty, (1, r, k))
    phi = np.zeros((r, m, k))
    for _ in range(game.permutations):
        order = np.stack([g.permutation(m) for g in gens])
        pos = np.argsort(order, axis=1)  # where each feature sits in the order
        forward = pos[None] < steps[:, None, None]  # the first j features of the order, j = 1..m-1
        backward = pos[None] >= (m - steps)[:, None, None]  # the last j features
        masks = np.concatenate([forward, backward]).reshape(-1, m)
        worth = game.coalition_values(masks, np.tile(local, 2 * (m - 1))).reshape(2 * (m - 1), r, k)
        ahead = np.diff(np.concatenate([start, worth[:m - 1], fx[None]]), axis=0)  # [j]: adds order[:, j]
        behind = np.diff(np.concatenate([start, worth[m - 1:], fx[None]]), axis=0)  # [j]: adds order[:, m-1-j]
        phi += np.take_along_axis(ahead.transpose(1, 0, 2), pos[:, :, None], axis=1)
        phi += np.take_along_axis(behind.transpose(1, 0, 2), (m - 1 - pos)[:, :, None], axis=1)
    return phi / (2 * game.permutations)


def _kernel_chunk(game: _Game, local: np.ndarray) -> np.ndarray:
    import pandas as pd

    shap = _shap()
    codes = np.empty(game.pool.shape)
    first_rows = []  # per column: for each code, a pool row holding that value
    for j, c in enumerate(game.pool.columns):
        column_codes, _ = pd.factorize(game.pool[c], use_na_sentinel=False)
        codes[:, j] = column_codes
        _, first = np.unique(column_codes, return_index=True)
        first_rows.append(first)

    def predict(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.int64).reshape(-1, codes.shape[1])
        return game.outputs_at(np.stack([first_rows[j][z[:, j]] for j in range(z.shape[1])], axis=1))

    b, m, k = game.n_background, codes.shape[1], len(game.v_empty)
    out = np.empty((len(local), m, k))
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.KernelExplainer(predict, codes[:b])
            for i, row in enumerate(local):
                np.random.seed([game.seed, int(game.row_ids[row])])  # shap draws coalitions from numpy's global RNG
                values = explainer.shap_values(codes[b + row:b + row + 1], nsamples=game.samples or "auto",
                                               l1_reg=False, silent=True)
                out[i] = np.asarray(values, dtype=np.float64).reshape(m, k)
    finally:
        np.random.set_state(state)
    return out


_GAME: _Game | None = None
"""The game a forked worker inherits from its parent (set only while a pool runs)."""


def _worker_chunk(local: np.ndarray) -> np.ndarray:
    assert _GAME is not None, "worker started without a game"
    return _GAME.chunk(local)


def _fork_available() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _run_chunks(game: _Game, chunks: list[np.ndarray], workers: int,
                budget: float | None) -> tuple[dict[int, np.ndarray], list[str]]:
    """Each chunk's values, by chunk number; no chunk starts after ``budget`` seconds (the first always runs)."""
    deadline = math.inf if budget is None else time.perf_counter() + budget
    notes: list[str] = []
    if workers > 1 and len(chunks) > 1 and not _fork_available():
        notes.append(f"workers: {workers} asked, but processes are forked only on Linux; ran in-process")
        workers = 1
    if workers == 1 or len(chunks) == 1:
        results: dict[int, np.ndarray] = {}
        for i, local in enumerate(chunks):
            if results and time.perf_counter() >= deadline:
                break
            results[i] = game.chunk(local)
        return results, notes
    return _pooled(game, chunks, workers, deadline), notes


def _pooled(game: _Game, chunks: list[np.ndarray], workers: int, deadline: float) -> dict[int, np.ndarray]:
    global _GAME
    _GAME = game
    results: dict[int, np.ndarray] = {}
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks)),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            running: dict[Future[np.ndarray], int] = {}
            queue = list(range(len(chunks)))
            while queue or running:
                while queue and len(running) < workers and (not (results or running)
                                                              or time.perf_counter() < deadline):
                    i = queue.pop(0)
                    running[pool.submit(_worker_chunk, chunks[i])] = i
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[running.pop(future)] = future.result()
    finally:
        _GAME = None
    return results


def explain_shap(model: Any, frame: pd.DataFrame, rows: Sequence[int] | np.ndarray | None = None,
                 **options: Any) -> ShapValues:
    """``ShapExplainer(**options).explain(model, frame, rows)`` in one call."""
    return ShapExplainer(**options).explain(model, frame, rows)

