"""Dataset audit, before any model: who is in the data, how the labels fall by group, and which columns stand in
for a sensitive attribute.

- Representation: each group's count and share, per sensitive column and per intersection of them; against a
  reference population (``load_reference``) the ratio share / reference, a chi-square goodness-of-fit p-value, and
  flags for under-represented, absent and unexpected groups.
- Label balance: the positive rate of the target per group and the label-level demographic parity difference and
  ratio (Fairlearn's names): a model trained to fit these labels learns these gaps.
- Proxies: for every other column, its association with each sensitive column (bias-corrected Cramér's V and
  normalised mutual information, numeric columns cut into quantile bins) and how well it predicts the attribute
  alone (out-of-fold score of a smoothed frequency table, with the chance level beside it); then how well all the
  other columns together recover the attribute (a gradient-boosted model): dropping the attribute does not make a
  model blind to it. Identifier-like columns (unique per row) are skipped, not reported as perfect proxies.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.data.files import DataError
from bastion.model.fairness.groups import GroupIndex
from bastion.model.fairness.values import finite, json_value, sorted_values, value_key
from bastion.model.tabular import require_columns

if TYPE_CHECKING:
    import pandas as pd

SHARE_TOLERANCE = 1e-6
"""How far a reference column's shares may sum from 1."""
MAX_REFERENCE_BYTES = 10 * 1024 * 1024
"""Largest reference file read."""
HGB_MAX_CATEGORIES = 254
"""Categories a column keeps for the gradient-boosted model (its limit is 255 bins); rarer ones are pooled."""
SINGLE_THREAD_ROWS = 10_000
"""The recoverability model runs on one thread up to this many rows (threads only add overhead there)."""


# ---- the report ----


@dataclass(frozen=True)
class GroupShare:
    """One value of a sensitive column: how often it occurs, against the reference when one is given."""

    value: object
    """The value as the data spells it (as the reference spells it for an absent group)."""
    count: int
    """Rows with this value."""
    share: float
    """count / rows with a value in this column (missing values are counted apart)."""
    reference: float | None
    """Its share in the reference population, or ``None``."""
    ratio: float | None
    """share / reference, or ``None`` without a (non-zero) reference share."""
    flag: str | None
    """``under_represented``, ``absent`` (in the reference, not in the data), ``unexpected`` (in the data, not in
    the reference), or ``None``."""

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "count", "share", "reference", "ratio", "flag"}``."""
        return {"value": json_value(self.value), "count": self.count, "share": finite(self.share),
                "reference": finite(self.reference), "ratio": finite(self.ratio), "flag": self.flag}


@dataclass(frozen=True)
class Representation:
    """The groups of one sensitive column."""

    column: str
    """The sensitive column."""
    groups: tuple[GroupShare, ...]
    """Values present, in sorted order, then reference values absent from the data."""
    missing: int
    """Rows with no value in this column."""
    chi_square_p: float | None
    """Goodness-of-fit p-value of the counts against the reference (rows whose value the reference names), or
    ``None`` without a reference or with fewer than two reference groups."""

    def to_dict(self) -> dict[str, Any]:
        """``{"column", "groups", "missing", "chi_square_p"}``."""
        return {"column": self.column, "groups": [g.to_dict() for g in self.groups], "missing": self.missing,
                "chi_square_p": finite(self.chi_square_p)}


@dataclass(frozen=True)
class IntersectionShare:
    """One combination of values of all the sensitive columns."""

    group: dict[str, object]
    """Column -> value (missing as ``None``)."""
    count: int
    """Rows in the group."""
    share: float
    """count / all rows."""

    def to_dict(self) -> dict[str, Any]:
        """``{"group", "count", "share"}``."""
        return {"group": {c: json_value(v) for c, v in self.group.items()}, "count": self.count,
                "share": finite(self.share)}


@dataclass(frozen=True)
class GroupLabels:
    """The labels of one group."""

    group: dict[str, object]
    """Column -> value (missing as ``None``)."""
    count: int
    """Rows of the group with a label."""
    positives: int
    """Rows whose label is the positive one."""
    positive_rate: float
    """positives / count."""
    counts: dict[str, int]
    """Rows per label (labels as text)."""

    def to_dict(self) -> dict[str, Any]:
        """``{"group", "count", "positives", "positive_rate", "counts"}``."""
        return {"group": {c: json_value(v) for c, v in self.group.items()}, "count": self.count,
                "positives": self.positives, "positive_rate": finite(self.positive_rate), "counts": dict(self.counts)}


@dataclass(frozen=True)
class LabelGroups:
    """Positive rates over the groups of one sensitive column, or of the intersection of several."""

    columns: tuple[str, ...]
    """The column, or the columns whose intersection makes the groups."""
    groups: tuple[GroupLabels, ...]
    """Per group, in the group order of ``GroupIndex``."""
    demographic_parity_difference: float
    """Largest minus smallest positive rate."""
    demographic_parity_ratio: float | None
    """Smallest over largest positive rate (``None`` when no group has a positive label)."""

    def to_dict(self) -> dict[str, Any]:
        """``{"columns", "groups", "demographic_parity_difference", "demographic_parity_ratio"}``."""
        return {"columns": list(self.columns), "groups": [g.to_dict() for g in self.groups],
                "demographic_parity_difference": finite(self.demographic_parity_difference),
                "demographic_parity_ratio": finite(self.demographic_parity_ratio)}


@dataclass(frozen=True)
class LabelBalance:
    """How the target's labels fall by group."""

    target: str
    """The target column."""
    positive: object
    """The label counted as positive."""
    labels: tuple[object, ...]
    """Every label, sorted."""
    rows: int
    """Rows with a label (rows without one are left out, with a warning)."""
    positive_rate: float
    """Share of positive labels over all those rows."""
    by: tuple[LabelGroups, ...]
    """Per sensitive column, then the intersection of all of them when there are several."""

    @property
    def overall(self) -> LabelGroups:
        """The groups that Fairlearn's metrics use: the intersection when several columns are sensitive."""
        return self.by[-1]

    def to_dict(self) -> dict[str, Any]:
        """``{"target", "positive", "labels", "rows", "positive_rate", "demographic_parity_difference",
        "demographic_parity_ratio", "by"}``; the top-level disparities are those of ``overall``."""
        return {"target": self.target, "positive": json_value(self.positive),
                "labels": [json_value(v) for v in self.labels], "rows": self.rows,
                "positive_rate": finite(self.positive_rate),
                "demographic_parity_difference": finite(self.overall.demographic_parity_difference),
                "demographic_parity_ratio": finite(self.overall.demographic_parity_ratio),
                "by": [b.to_dict() for b in self.by]}


@dataclass(frozen=True)
class Proxy:
    """How strongly one column stands in for one sensitive column."""

    column: str
    """The candidate column."""
    sensitive: str
    """The sensitive column it is compared with."""
    kind: str
    """``numeric`` (cut into quantile bins for the association measures) or ``categorical``."""
    categories: int
    """Bins or categories used (a missing value counts as one)."""
    cramers_v: float
    """Bias-corrected Cramér's V (Bergsma), 0 (independent) to 1."""
    mutual_information: float
    """Mutual information normalised by the mean of the two entropies, 0 to 1."""
    score: float | None
    """Out-of-fold ROC AUC (binary attribute) or balanced accuracy of a model on this column alone, or ``None``
    when models were not run."""
    metric: str | None
    """``roc_auc`` or ``balanced_accuracy``."""
    chance: float | None
    """What ``score`` is for a column that carries no information (0.5, or 1 / groups)."""
    lift: float | None
    """(score - chance) / (1 - chance), floored at 0: the share of the way from chance to perfect."""
    flag: str | None
    """``proxy`` when Cramér's V or the lift reaches the threshold, else ``None``."""

    @property
    def strength(self) -> float:
        """The larger of Cramér's V and the lift: what proxies are sorted by."""
        return max(self.cramers_v, self.lift or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """``{"column", "sensitive", "kind", "categories", "cramers_v", "mutual_information", "score", "metric",
        "chance", "lift", "flag"}``."""
        return {"column": self.column, "sensitive": self.sensitive, "kind": self.kind, "categories": self.categories,
                "cramers_v": finite(self.cramers_v), "mutual_information": finite(self.mutual_information),
                "score": finite(self.score), "metric": self.metric, "chance": finite(self.chance),
                "lift": finite(self.lift), "flag": self.flag}


@dataclass(frozen=True)
class Recoverability:
    """How well all the other columns together predict one sensitive column."""

    sensitive: str
    """The sensitive column."""
    columns: tuple[str, ...]
    """The columns the model used (neither sensitive, nor the target, nor skipped)."""
    rows: int
    """Rows the model was cross-validated on."""
    folds: int
    """Cross-validation folds."""
    metric: str
    """``roc_auc`` or ``balanced_accuracy``."""
    score: float | None
    """Out-of-fold score, or ``None`` when it could not be measured."""
    chance: float
    """The score of a model that has learnt nothing."""
    lift: float | None
    """(score - chance) / (1 - chance), floored at 0."""
    flag: str | None
    """``recoverable`` when the lift reaches the proxy threshold, else ``None``."""

    def to_dict(self) -> dict[str, Any]:
        """``{"sensitive", "columns", "rows", "folds", "metric", "score", "chance", "lift", "flag"}``."""
        return {"sensitive": self.sensitive, "columns": list(self.columns), "rows": self.rows, "folds": self.folds,
                "metric": self.metric, "score": finite(self.score), "chance": finite(self.chance),
                "lift": finite(self.lift), "flag": self.flag}


@dataclass(frozen=True)
class SkippedColumn:
    """A column left out of the proxy analysis."""

    column: str
    """The column."""
    reason: str
    """Why (an identifier, unique per row; a single value...)."""

    def to_dict(self) -> dict[str, str]:
        """``{"column", "reason"}``."""
        return {"column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class AuditReport:
    """What ``DatasetAudit.run`` found."""

    rows: int
    """Rows audited."""
    sensitive: tuple[str, ...]
    """The sensitive columns."""
    target: str | None
    """The target column, or ``None``."""
    representation: tuple[Representation, ...]
    """Per sensitive column."""
    intersections: tuple[IntersectionShare, ...]
    """Groups of all the sensitive columns together (empty with a single sensitive column)."""
    label_balance: LabelBalance | None
    """Labels by group, or ``None`` without a target."""
    proxies: tuple[Proxy, ...]
    """Per (column, sensitive column), strongest first."""
    recoverability: dict[str, Recoverability]
    """Sensitive column -> how well everything else predicts it (empty when models were not run)."""
    skipped: tuple[SkippedColumn, ...]
    """Columns left out of the proxy analysis, with the reason."""
    model_rows: int
    """Rows the predictive models used (a seeded sample when fewer than ``rows``)."""
    warnings: tuple[str, ...] = field(default=())
    """Small groups, sampling, missing labels, reference columns not audited..."""

    @property
    def flagged_proxies(self) -> tuple[Proxy, ...]:
        """The proxies flagged, strongest first."""
        return tuple(p for p in self.proxies if p.flag)

    @property
    def flagged(self) -> bool:
        """Whether anything is flagged: an under-represented or absent group, a proxy, a recoverable attribute."""
        groups = any(g.flag in ("under_represented", "absent") for r in self.representation for g in r.groups)
        return groups or bool(self.flagged_proxies) or any(r.flag for r in self.recoverability.values())

    def to_dict(self) -> dict[str, Any]:
        """The audit as JSON-ready data (no NaN: missing numbers are ``null``)."""
        return {"rows": self.rows, "sensitive": list(self.sensitive), "target": self.target,
                "representation": [r.to_dict() for r in self.representation],
                "intersections": [i.to_dict() for i in self.intersections],
                "label_balance": None if self.label_balance is None else self.label_balance.to_dict(),
                "proxies": [p.to_dict() for p in self.proxies],
                "recoverability": {k: v.to_dict() for k, v in self.recoverability.items()},
                "skipped": [s.to_dict() for s in self.skipped], "model_rows": self.model_rows,
                "sampled": self.model_rows < self.rows, "warnings": list(self.warnings)}


# ---- reference populations ----


def load_reference(path: str | Path) -> dict[str, dict[object, float]]:
    """Population shares per sensitive column from a JSON file (``{"sex": {"Male": 0.49, "Female": 0.51}}``) or a
    CSV file with columns ``column,value,share``. ``DataError`` naming the file and the entry when a share is not a
    number in [0, 1] or a column's shares do not sum to 1 (within 1e-6)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such reference file")
    if path.stat().st_size > MAX_REFERENCE_BYTES:
        raise DataError(f"{path}: larger than {MAX_REFERENCE_BYTES // (1024 * 1024)} MiB; not a reference table")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        return validate_reference(_json_reference(text, path), str(path))
    if suffix == ".csv":
        return validate_reference(_csv_reference(text, path), str(path))
    raise DataError(f"{path}: a reference is a .json or a .csv file (column,value,share)")


def _json_reference(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _csv_reference(text: str, path: Path) -> dict[str, dict[object, object]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:3] != ["column", "value", "share"] or len(header) != 3:
        raise DataError(f"{path}: line 1: the header must be column,value,share, got {','.join(header)!r}")
    out: dict[str, dict[object, object]] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            raise DataError(f"{path}: line {line}: expected 3 fields (column,value,share), got {len(row)}")
        column, value, share = (cell.strip() for cell in row)
        if value in out.setdefault(column, {}):
            raise DataError(f"{path}: line {line}: {column}={value!r} appears twice")
        try:
            out[column][value] = float(share)
        except ValueError:
            raise DataError(f"{path}: line {line}: share {share!r} of {column}={value!r} is not a number") from None
    return out


def validate_reference(reference: Any, source: str = "reference") -> dict[str, dict[object, float]]:
    """Check a reference mapping (column -> value -> share); ``DataError`` naming ``source`` and the entry."""
    if not isinstance(reference, Mapping) or not reference:
        raise DataError(f"{source}: give a mapping of column -> {{value: share}}, e.g. "
                        f'{{"sex": {{"Male": 0.49, "Female": 0.51}}}}')
    out: dict[str, dict[object, float]] = {}
    for column, shares in reference.items():
        if not isinstance(shares, Mapping) or not shares:
            raise DataError(f"{source}: column {column!r}: give a mapping of value -> share, not {shares!r}")
        seen: dict[str, object] = {}
        checked: dict[object, float] = {}
        for value, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= float(share) <= 1:
                raise DataError(f"{source}: {column}={value!r}: share {share!r} is not a number in [0, 1]")
            if value_key(value) in seen:
                raise DataError(f"{source}: {column}={value!r}: the value appears twice ({seen[value_key(value)]!r})")
            seen[value_key(value)] = value
            checked[value] = float(share)
        total = math.fsum(checked.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise DataError(f"{source}: the shares of column {column!r} sum to {total:.8g}, not 1")
        out[str(column)] = checked
    return out


# ---- the audit ----


class DatasetAudit:
    """Configure the audit; ``run`` examines one table.

    ``reference``: population shares per sensitive column (a mapping, or a JSON/CSV file for ``load_reference``).
    ``positive``: the target's positive label (default: the greater of two labels; needed for more than two).
    ``under_ratio``: a group whose share is below this fraction of its reference share is under-represented.
    ``proxy_threshold``: Cramér's V or lift (0-1) from which a column is flagged as a proxy.
    ``max_rows_for_models``: the predictive models use a seeded sample of at most this many rows.
    ``id_ratio`` and ``max_categories``: a text column with more distinct values than ``id_ratio`` of its rows, or
    than ``max_categories``, is an identifier and is skipped. ``models=False`` keeps only the association measures.
    """

    def __init__(self, *, reference: Mapping[str, Mapping[Any, float]] | str | Path | None = None,
                 positive: object | None = None, min_group_size: int = 30, under_ratio: float = 0.8,
                 proxy_threshold: float = 0.3, seed: int = 0, max_rows_for_models: int = 20_000, folds: int = 5,
                 bins: int = 10, id_ratio: float = 0.5, max_categories: int = 1000, models: bool = True) -> None:
        if isinstance(reference, (str, Path)):
            self.reference: dict[str, dict[object, float]] | None = load_reference(reference)
        else:
            self.reference = None if reference is None else validate_reference(reference, "reference")
        self.positive = positive
        self.min_group_size = _int_param("min_group_size", min_group_size, 1)
        self.under_ratio = _fraction_param("under_ratio", under_ratio, closed=True)
        self.proxy_threshold = _fraction_param("proxy_threshold", proxy_threshold, closed=False)
        self.seed = _int_param("seed", seed, 0)
        self.max_rows_for_models = _int_param("max_rows_for_models", max_rows_for_models, 50)
        self.folds = _int_param("folds", folds, 2)
        self.bins = _int_param("bins", bins, 2)
        self.id_ratio = _fraction_param("id_ratio", id_ratio, closed=True)
        self.max_categories = _int_param("max_categories", max_categories, 2)
        if not isinstance(models, bool):
            raise ValueError(f"models must be True or False, got {models!r}")
        self.models = models

    def run(self, frame: pd.DataFrame, sensitive: Sequence[str], target: str | None = None) -> AuditReport:
        """Audit ``frame`` for the ``sensitive`` columns (and the labels in ``target`` when given)."""
        sensitive = _check_input(frame, sensitive, target)
        warnings: list[str] = []
        if self.reference is not None:
            warnings += [f"reference: column {c!r} is not a sensitive column; its shares were not used"
                         for c in self.reference if c not in sensitive]
        indexes = {c: GroupIndex.from_columns(frame[[c]]) for c in sensitive}
        joint = GroupIndex.from_columns(frame[list(sensitive)]) if len(sensitive) > 1 else None
        representation = tuple(self._representation(c, indexes[c]) for c in sensitive)
        warnings += self._small_groups(indexes, joint)
        intersections = () if joint is None else tuple(
            IntersectionShare(group=dict(g), count=int(s), share=float(s) / len(frame))
            for g, s in zip(joint.groups, joint.sizes, strict=True))
        balance = None if target is None else self._label_balance(frame, target, indexes, joint, warnings)
        proxies, recover, skipped, model_rows = _ProxySearch(self, frame, sensitive, target, indexes).run(warnings)
        return AuditReport(rows=len(frame), sensitive=tuple(sensitive), target=target,
                           representation=representation, intersections=intersections, label_balance=balance,
                           proxies=proxies, recoverability=recover, skipped=skipped, model_rows=model_rows,
                           warnings=tuple(warnings))

    # ---- representation ----

    def _representation(self, column: str, index: GroupIndex) -> Representation:
        reference = (self.reference or {}).get(column)
        present = [(g[column], int(s)) for g, s in zip(index.groups, index.sizes, strict=True)]
        missing = sum(s for v, s in present if v is None)
        counts = [(v, s) for v, s in present if v is not None]
        known = sum(s for _, s in counts)
        if reference is None:
            groups = tuple(GroupShare(v, s, s / known, None, None, None) for v, s in counts)
            return Representation(column, groups, missing, None)
        shares = {value_key(v): (v, share) for v, share in reference.items()}
        out: list[GroupShare] = []
        for value, count in counts:
            ref = shares.pop(value_key(value), (None, None))[1]
            ratio = None if not ref else (count / known) / ref
            flag = "unexpected" if ref is None or ref == 0 else (
                "under_represented" if ratio is not None and ratio < self.under_ratio else None)
            out.append(GroupShare(value, count, count / known, ref, ratio, flag))
        for value, ref in shares.values():  # in the reference, not in the data
            out.append(GroupShare(value, 0, 0.0, ref, 0.0 if ref else None, "absent" if ref else None))
        return Representation(column, tuple(out), missing, _chi_square(out))

    def _small_groups(self, indexes: Mapping[str, GroupIndex], joint: GroupIndex | None) -> list[str]:
        out = []
        for index in [*indexes.values(), *([joint] if joint is not None else [])]:
            small = np.flatnonzero(index.sizes < self.min_group_size)
            if len(small):
                shown = "; ".join(f"{index.label(int(g))} ({int(index.sizes[g])})" for g in small[:5])
                more = f" and {len(small) - 5} more" if len(small) > 5 else ""
                what = "groups of " + " x ".join(index.columns)
                out.append(f"{what} under min_group_size {self.min_group_size} rows, whose rates are unreliable: "
                           f"{shown}{more}")
        return out

    # ---- label balance ----

    def _label_balance(self, frame: pd.DataFrame, target: str, indexes: Mapping[str, GroupIndex],
                       joint: GroupIndex | None, warnings: list[str]) -> LabelBalance:
        import pandas as pd

        values = frame[target].to_numpy(dtype=object)
        labelled = ~np.asarray(pd.isna(frame[target]), dtype=bool)
        if not labelled.any():
            raise DataError(f"target column {target!r} has no value")
        if not labelled.all():
            warnings.append(f"target column {target!r}: {int((~labelled).sum())} rows without a label were left "
                            f"out of the label balance")
        codes, uniques = pd.factorize(values[labelled], sort=False)
        labels = sorted_values(uniques)
        positive = self._positive(labels, target)
        keys = {value_key(v): i for i, v in enumerate(labels)}
        label_codes = np.full(len(values), -1, dtype=np.int64)
        label_codes[labelled] = np.array([keys[value_key(u)] for u in uniques], dtype=np.int64)[codes]
        is_positive = label_codes == keys[value_key(positive)]
        by = [_label_groups(index, label_codes, is_positive, labels) for index in indexes.values()]
        if joint is not None:
            by.append(_label_groups(joint, label_codes, is_positive, labels))
        rows = int(labelled.sum())
        return LabelBalance(target=target, positive=positive, labels=tuple(labels), rows=rows,
                            positive_rate=float(is_positive.sum()) / rows, by=tuple(by))

    def _positive(self, labels: list[object], target: str) -> object:
        if self.positive is not None:
            match = [v for v in labels if value_key(v) == value_key(self.positive)]
            if not match:
                raise ValueError(f"positive: {self.positive!r} is not a label of column {target!r} "
                                 f"(labels: {[json_value(v) for v in labels[:10]]})")
            return match[0]
        if len(labels) == 2:
            return labels[1]
        if len(labels) < 2:
            raise ValueError(f"target column {target!r} has a single label {labels[0]!r}: nothing to balance")
        raise ValueError(f"target column {target!r} has {len(labels)} labels: name the positive one (positive=...)")


def _label_groups(index: GroupIndex, label_codes: np.ndarray, is_positive: np.ndarray,
                  labels: list[object]) -> LabelGroups:
    """Per group label counts and positive rates (rows without a label left out)."""
    has = label_codes >= 0
    g, k = index.n_groups, len(labels)
    table = np.bincount(index.codes[has] * k + label_codes[has], minlength=g * k).reshape(g, k)
    positives = np.bincount(index.codes[is_positive], minlength=g)
    counts = table.sum(axis=1)
    groups, rates = [], []
    for i in range(g):
        if counts[i] == 0:  # a group whose rows all lack a label has no rate
            continue
        rate = float(positives[i]) / float(counts[i])
        rates.append(rate)
        groups.append(GroupLabels(group=dict(index.groups[i]), count=int(counts[i]), positives=int(positives[i]),
                                  positive_rate=rate, counts={str(labels[j]): int(table[i, j]) for j in range(k)}))
    top, low = max(rates), min(rates)
    return LabelGroups(columns=index.columns, groups=tuple(groups), demographic_parity_difference=top - low,
                       demographic_parity_ratio=low / top if top > 0 else None)


def _chi_square(groups: Sequence[GroupShare]) -> float | None:
    """Goodness of fit of the counts of the reference's values (with a non-zero share) to the reference shares."""
    from scipy.stats import chisquare

    cells = [(g.count, g.reference) for g in groups if g.reference]
    observed = np.array([c for c, _ in cells], dtype=np.float64)
    if len(cells) < 2 or observed.sum() == 0:
        return None
    expected = np.array([r for _, r in cells], dtype=np.float64)
    expected *= observed.sum() / expected.sum()
    return float(chisquare(observed, expected).pvalue)


# ---- proxies ----


@dataclass(frozen=True)
class _Encoded:
    """A candidate column as codes (for association measures) and as a model feature."""

    codes: np.ndarray
    """(n,) int64 category or bin of each row; missing values have their own code."""
    n_codes: int
    """Number of codes."""
    feature: np.ndarray
    """(n,) float64 for the gradient-boosted model: the value, or the category (NaN when missing)."""
    kind: str
    """``numeric`` or ``categorical``."""


class _ProxySearch:
    """The proxy part of one audit run."""

    def __init__(self, audit: DatasetAudit, frame: pd.DataFrame, sensitive: Sequence[str], target: str | None,
                 indexes: Mapping[str, GroupIndex]) -> None:
        self.audit = audit
        self.frame = frame
        self.sensitive = list(sensitive)
        self.candidates = [str(c) for c in frame.columns if c not in sensitive and c != target]
        self.indexes = indexes

    def run(self, warnings: list[str]) -> tuple[tuple[Proxy, ...], dict[str, Recoverability],
                                                tuple[SkippedColumn, ...], int]:
        encoded: dict[str, _Encoded] = {}
        skipped = []
        for column in self.candidates:
            result = _encode(self.frame[column], self.audit)
            if isinstance(result, str):
                skipped.append(SkippedColumn(column, result))
            else:
                encoded[column] = result
        rows = len(self.frame)
        sample = np.arange(rows)
        if self.audit.models and rows > self.audit.max_rows_for_models:
            rng = np.random.default_rng(self.audit.seed)
            sample = np.sort(rng.choice(rows, self.audit.max_rows_for_models, replace=False))
            warnings.append(f"the predictive models used a seeded sample of {len(sample):,} of {rows:,} rows "
                            f"(max_rows_for_models); the association measures used every row")
        proxies: list[Proxy] = []
        recover: dict[str, Recoverability] = {}
        for column in self.sensitive:
            target_codes = _known_codes(self.indexes[column])
            if len(np.unique(target_codes[target_codes >= 0])) < 2:
                warnings.append(f"sensitive column {column!r} has fewer than two groups: no proxy analysis")
                continue
            proxies += [self._proxy(name, enc, column, target_codes, sample) for name, enc in encoded.items()]
            if self.audit.models and encoded:
                recover[column] = self._recoverability(column, encoded, target_codes, sample, warnings)
        proxies.sort(key=lambda p: (-p.strength, p.column, p.sensitive))
        return tuple(proxies), recover, tuple(skipped), len(sample) if self.audit.models else 0

    def _proxy(self, name: str, enc: _Encoded, sensitive: str, y: np.ndarray, sample: np.ndarray) -> Proxy:
        known, n_y = y >= 0, int(y.max()) + 1
        table = np.bincount(enc.codes[known] * n_y + y[known], minlength=enc.n_codes * n_y).reshape(enc.n_codes, n_y)
        v, nmi = association(table)
        score = metric = chance = lift = None
        if self.audit.models:
            rows = sample[known[sample]]
            x_codes, y_codes, k = _recode(enc.codes[rows]), _recode(y[rows]), self.audit.folds
            if len(rows) >= 2 * k and y_codes.max() >= 1:
                folds = _stratified_folds(y_codes, k, self.audit.seed)
                proba = _lookup_proba(x_codes, y_codes, folds, k)
                metric, score, chance = _score(y_codes, proba)
                lift = _lift(score, chance)
        threshold = self.audit.proxy_threshold
        flagged = v >= threshold or (lift is not None and lift >= threshold)
        return Proxy(column=name, sensitive=sensitive, kind=enc.kind, categories=enc.n_codes, cramers_v=v,
                     mutual_information=nmi, score=score, metric=metric, chance=chance, lift=lift,
                     flag="proxy" if flagged else None)

    def _recoverability(self, sensitive: str, encoded: Mapping[str, _Encoded], y: np.ndarray, sample: np.ndarray,
                        warnings: list[str]) -> Recoverability:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        rows = sample[y[sample] >= 0]
        y_codes, k = _recode(y[rows]), self.audit.folds
        names = tuple(encoded)
        matrix = np.column_stack([encoded[n].feature[rows] for n in names])
        categorical = np.array([encoded[n].kind == "categorical" for n in names])
        chance = 0.5 if y_codes.max() == 1 else 1.0 / (int(y_codes.max()) + 1)
        metric = "roc_auc" if y_codes.max() == 1 else "balanced_accuracy"
        if len(rows) < 2 * k:
            warnings.append(f"too few rows with {sensitive!r} known to cross-validate the recoverability model")
            return Recoverability(sensitive, names, len(rows), k, metric, None, chance, None, None)
        folds = _stratified_folds(y_codes, k, self.audit.seed)
        proba = np.zeros((len(rows), int(y_codes.max()) + 1))
        # Small fits gain nothing from OpenMP threads, and their busy-waiting stalls on a shared, busy machine.
        with threadpool_limits(1 if len(rows) <= SINGLE_THREAD_ROWS else None, user_api="openmp"):
            for fold in range(k):
                test = folds == fold
                model = HistGradientBoostingClassifier(
                    max_iter=100, max_leaf_nodes=15, early_stopping=False, random_state=self.audit.seed,
                    categorical_features=categorical if categorical.any() else None)
                model.fit(matrix[~test], y_codes[~test])
                proba[np.ix_(test, model.classes_)] = model.predict_proba(matrix[test])
        metric, score, chance = _score(y_codes, proba)
        lift = _lift(score, chance)
        flag = "recoverable" if lift >= self.audit.proxy_threshold else None
        return Recoverability(sensitive, names, len(rows), k, metric, score, chance, lift, flag)


def _encode(column: pd.Series, audit: DatasetAudit) -> _Encoded | str:
    """The column as codes and as a model feature, or the reason it is skipped."""
    import pandas as pd

    missing = np.asarray(pd.isna(column), dtype=bool)
    present = int((~missing).sum())
    if present == 0:
        return "every value is missing"
    if pd.api.types.is_datetime64_any_dtype(column):  # a time of event: binned like a number, never an identifier
        stamps = np.asarray(column.to_numpy(dtype="datetime64[ns]").astype(np.int64), dtype=np.float64)
        stamps[missing] = np.nan
        distinct = len(np.unique(stamps[~missing]))
        return "a single value" if distinct == 1 else _bin_numeric(stamps, missing, audit.bins, distinct)
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
        distinct = len(np.unique(values[~missing]))
        if distinct == 1:
            return "a single value"
        if distinct == present > audit.bins and np.all(values[~missing] == np.round(values[~missing])):
            return "an identifier: a distinct whole number on every row"
        return _bin_numeric(values, missing, audit.bins, distinct)
    codes, uniques = pd.factorize(column.astype(object), sort=False, use_na_sentinel=True)
    distinct = len(uniques)
    if distinct == 1:
        return "a single value"
    if distinct > audit.max_categories or distinct > max(audit.bins, audit.id_ratio * present):
        return (f"an identifier or free text: {distinct:,} distinct values in {present:,} rows (more than "
                f"{'max_categories' if distinct > audit.max_categories else 'id_ratio of the rows'})")
    codes = np.asarray(codes, dtype=np.int64)
    feature = _pooled_categories(codes, distinct)
    codes = np.where(codes < 0, distinct, codes)
    return _Encoded(codes=codes, n_codes=distinct + int(missing.any()), feature=feature, kind="categorical")


def _bin_numeric(values: np.ndarray, missing: np.ndarray, bins: int, distinct: int) -> _Encoded:
    """Quantile bins (or the values themselves when there are few), missing values in a bin of their own."""
    known = values[~missing]
    filled = np.where(missing, known[0], values)
    if distinct <= bins:  # each value its own bin
        edges = np.unique(known)
        codes, n_bins = np.searchsorted(edges, filled).astype(np.int64), len(edges)
    else:  # bins (e[i-1], e[i]]: a value shared by many rows (a spike at 0) fills a bin of its own
        edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))
        codes, n_bins = np.searchsorted(edges, filled, side="left").astype(np.int64), len(edges) + 1
    codes = np.where(missing, n_bins, codes)
    return _Encoded(codes=codes, n_codes=n_bins + int(missing.any()), feature=values, kind="numeric")


def _pooled_categories(codes: np.ndarray, distinct: int) -> np.ndarray:
    """Category codes as floats for the gradient-boosted model: the most frequent keep their own code, the rest
    share one (the model takes at most 255 categories); NaN when missing."""
    counts = np.bincount(codes[codes >= 0], minlength=distinct)
    rank = np.empty(distinct, dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(distinct)
    pooled = np.minimum(rank, HGB_MAX_CATEGORIES).astype(np.float64)
    return np.where(codes < 0, np.nan, pooled[np.maximum(codes, 0)])


def association(table: np.ndarray) -> tuple[float, float]:
    """Bias-corrected Cramér's V (Bergsma 2013) and normalised mutual information (arithmetic mean of the two
    entropies, as scikit-learn's default) of a contingency table of counts."""
    table = np.asarray(table, dtype=np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, k = table.shape
    if r < 2 or k < 2:
        return 0.0, 0.0
    n = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    expected = np.outer(rows, cols) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_c, k_c = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(r_c - 1, k_c - 1)
    v = math.sqrt(phi2 / denominator) if denominator > 0 else 0.0
    p = table / n
    p_r, p_c = rows / n, cols / n
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(p_r, p_c)[nz])).sum())
    entropy = -float((p_r * np.log(p_r)).sum()) - float((p_c * np.log(p_c)).sum())
    nmi = mi / (entropy / 2) if entropy > 0 else 0.0
    return min(v, 1.0), min(max(nmi, 0.0), 1.0)


def _known_codes(index: GroupIndex) -> np.ndarray:
    """Group codes with the missing-value group (if any) as -1."""
    column = index.columns[0]
    missing = [i for i, g in enumerate(index.groups) if g[column] is None]
    codes = index.codes.copy()
    if missing:
        codes[codes == missing[0]] = -1
    return codes


def _recode(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0..m-1 over the values present."""
    return np.unique(codes, return_inverse=True)[1].astype(np.int64).ravel()


def _stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each row: shuffled (seeded), then dealt out class by class so each fold keeps the class mix."""
    order = np.random.default_rng(seed).permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]
    folds = np.empty(len(y), dtype=np.int64)
    folds[order] = np.arange(len(y)) % k
    return folds


def _lookup_proba(x: np.ndarray, y: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    """Out-of-fold P(y | x) of a frequency table smoothed towards the class prior (one pseudo-row per value)."""
    n_x, n_y = int(x.max()) + 1, int(y.max()) + 1
    cells = np.bincount((folds * n_x + x) * n_y + y, minlength=k * n_x * n_y).reshape(k, n_x, n_y)
    total = cells.sum(axis=0)
    proba = np.empty((len(x), n_y))
    for fold in range(k):
        train = (total - cells[fold]).astype(np.float64)
        prior = train.sum(axis=0) / train.sum()
        table = (train + prior) / (train.sum(axis=1, keepdims=True) + 1.0)
        test = folds == fold
        proba[test] = table[x[test]]
    return proba


def _score(y: np.ndarray, proba: np.ndarray) -> tuple[str, float, float]:
    """(metric, score, chance): ROC AUC for two classes, else balanced accuracy of the balanced decision rule."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    n_y = proba.shape[1]
    if n_y == 2:
        return "roc_auc", float(roc_auc_score(y, proba[:, 1])), 0.5
    prior = np.bincount(y, minlength=n_y) / len(y)
    predicted = np.argmax(proba / np.maximum(prior, 1e-12), axis=1)  # the rule that maximises balanced accuracy
    return "balanced_accuracy", float(balanced_accuracy_score(y, predicted)), 1.0 / n_y


def _lift(score: float, chance: float) -> float:
    return max(0.0, (score - chance) / (1.0 - chance))


# ---- helpers ----


def _check_input(frame: Any, sensitive: Sequence[str], target: str | None) -> list[str]:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame: give a pandas DataFrame, not {type(frame).__name__}")
    if len(frame) == 0:
        raise DataError("data: no rows")
    if isinstance(sensitive, str):
        sensitive = [sensitive]
    names = [str(c) for c in sensitive]
    if not names:
        raise ValueError("sensitive: name at least one column")
    if len(set(names)) != len(names):
        raise ValueError(f"sensitive: a column is named twice ({names})")
    require_columns(frame, names, "sensitive column")
    if target is not None:
        require_columns(frame, [target], "target column")
        if target in names:
            raise ValueError(f"the target column {target!r} cannot also be sensitive")
    return names






def _int_param(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _fraction_param(name: str, value: object, *, closed: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        0 < float(value) <= 1 if closed else 0 < float(value) < 1)
    if not ok:
        raise ValueError(f"{name} must be a number in (0, 1{']' if closed else ')'}, got {value!r}")
    return float(value)  # type: ignore[arg-type]
