"""The reference profile of a whole dataset, and its file form.

The file is JSON (``"format": "bastion-drift-profile"``), so a reviewer can read exactly what leaves a secure zone:
per-column counts, moments, bin edges and category counts; the PCA model's means and axes; model-level counts. No
rows, unless ``keep_sample`` asked for a row sample (then ``"sample"`` holds it and the CLI says so). Exact mode keeps
a small column's sorted values, detached from their rows. Reading is bounded (size, nesting) and every malformed
field is reported with its path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bastion.data.files import DataError, atomic_writer
from bastion.monitor.multivariate import PcaModel
from bastion.monitor.profile import CategoricalProfile, ColumnProfile, NumericProfile, UnusableColumn

PROFILE_FORMAT = "bastion-drift-profile"
PROFILE_VERSION = 1
MAX_PROFILE_BYTES = 512 * 1024 * 1024
"""Profiles larger than this are refused before parsing (a 1,000-column profile is a few tens of MB)."""


@dataclass
class DatasetProfile:
    """Everything ``DriftMonitor.test`` needs from the reference."""

    rows: int
    """Reference rows."""
    columns: dict[str, ColumnProfile]
    """Per-column profiles, in reference order."""
    roles: dict[str, str] = field(default_factory=dict)
    """Column -> role for non-feature columns (``target``, ``prediction``, ``probability``, ``latency``)."""
    pca: PcaModel | None = None
    """The multivariate model, when there were at least two numeric features."""
    pca_errors: NumericProfile | None = None
    """Reference distribution of the PCA reconstruction errors."""
    model: dict[str, Any] = field(default_factory=dict)
    """Model-level reference states in their JSON form (``performance``, ``latency``)."""
    sample: Any = None
    """A pandas frame of sampled reference rows, for the domain classifier; saved only when asked."""
    settings: dict[str, Any] = field(default_factory=dict)
    """How the profile was built (bins, exact limit, seed), for the record."""

    def to_dict(self, include_sample: bool = False) -> dict[str, Any]:
        """JSON form; the row sample only with ``include_sample``."""
        data: dict[str, Any] = {
            "format": PROFILE_FORMAT, "version": PROFILE_VERSION, "rows": self.rows, "settings": self.settings,
            "roles": self.roles, "columns": {name: _column_to_dict(col) for name, col in self.columns.items()},
            "pca": self.pca.to_dict() if self.pca is not None else None,
            "pca_errors": _column_to_dict(self.pca_errors) if self.pca_errors is not None else None,
            "model": self.model,
        }
        if include_sample and self.sample is not None:
            data["sample"] = _frame_to_dict(self.sample)
        return data

    def save(self, path: Path, include_sample: bool = False) -> None:
        """Write the profile atomically (a failed write leaves no file)."""
        with atomic_writer(path) as handle:
            json.dump(self.to_dict(include_sample), handle, separators=(",", ":"), allow_nan=False)

    @classmethod
    def load(cls, path: Path) -> DatasetProfile:
        """Read a profile file; errors name the file and the bad field."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        if size > MAX_PROFILE_BYTES:
            raise DataError(f"{path}: {size} bytes, larger than the {MAX_PROFILE_BYTES} a profile may have")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise DataError(f"{path}: not a drift profile (invalid JSON: {exc})") from None
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: {_describe(exc)}") from None

    @classmethod
    def from_dict(cls, data: Any) -> DatasetProfile:
        """Read the JSON form; raises ValueError/KeyError naming the field."""
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ValueError(f"not a drift profile (no \"format\": \"{PROFILE_FORMAT}\")")
        if data.get("version") != PROFILE_VERSION:
            raise ValueError(f"profile version {data.get('version')!r} is not {PROFILE_VERSION}")
        columns: dict[str, ColumnProfile] = {}
        for name, column in _mapping(data, "columns").items():
            columns[str(name)] = _column_from_dict(column, f"columns.{name}")
        pca = PcaModel.from_dict(data["pca"]) if data.get("pca") else None
        errors = data.get("pca_errors")
        pca_errors = _column_from_dict(errors, "pca_errors") if errors else None
        if pca_errors is not None and not isinstance(pca_errors, NumericProfile):
            raise ValueError("pca_errors: expected a numeric profile")
        sample = _frame_from_dict(data["sample"]) if data.get("sample") else None
        rows = _count(data, "rows")
        return cls(rows, columns, {str(k): str(v) for k, v in _mapping(data, "roles").items()},
                   pca, pca_errors, dict(_mapping(data, "model")), sample, dict(_mapping(data, "settings")))


def _frame_to_dict(frame: Any) -> dict[str, Any]:
    """A row sample as JSON: values (times in ISO 8601, floats to full precision) and each column's dtype."""
    encoded = json.loads(frame.to_json(orient="split", index=False, date_format="iso", double_precision=15))
    encoded["dtypes"] = {str(name): str(dtype) for name, dtype in frame.dtypes.items()}
    return dict(encoded)


def _frame_from_dict(data: Any) -> Any:
    """The row sample back with its dtypes (times would otherwise come back as text, categories as objects)."""
    import pandas as pd

    if not isinstance(data, dict):
        raise ValueError("sample: expected an object")
    frame = pd.DataFrame(data["data"], columns=data["columns"])
    for name, dtype in dict(data.get("dtypes") or {}).items():
        if name not in frame.columns:
            raise ValueError(f"sample.dtypes: no column {name!r}")
        dtype = str(dtype)
        if dtype.startswith("datetime64"):
            frame[name] = pd.to_datetime(frame[name], utc="UTC" in dtype or "+" in dtype)
        elif dtype == "category" or dtype.startswith("float"):
            frame[name] = frame[name].astype(dtype)
        elif (dtype == "bool" or dtype.startswith(("int", "uint"))) and frame[name].notna().all():
            frame[name] = frame[name].astype(dtype)  # with a gap, JSON's null keeps floats or objects
    return frame


def _count(data: dict[str, Any], key: str) -> int:
    """A non-negative whole number field."""
    value = int(data[key])
    if value < 0:
        raise ValueError(f"{key}: negative ({value})")
    return value


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected an object")
    return value


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


def _column_to_dict(column: ColumnProfile) -> dict[str, Any]:
    if isinstance(column, NumericProfile):
        data: dict[str, Any] = {
            "kind": "numeric", "count": column.count, "missing": column.missing, "posinf": column.posinf,
            "neginf": column.neginf, "mean": column.mean, "std": column.std,
            "min": column.minimum if column.count else None, "max": column.maximum if column.count else None,
            "edges": column.edges.tolist(), "counts_le": column.counts_le.tolist()}
        if column.values is not None:
            data["values"] = column.values.tolist()
            del data["edges"], data["counts_le"]  # both follow from the values
        return data
    if isinstance(column, CategoricalProfile):
        return {"kind": "categorical", "counts": column.counts, "missing": column.missing}
    return {"kind": "unusable", "message": column.message, "missing": column.missing, "rows": column.rows}


def _column_from_dict(data: Any, where: str) -> ColumnProfile:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object")
    kind = data.get("kind")
    try:
        if kind == "numeric":
            return _numeric_from_dict(data, where)
        if kind == "categorical":
            counts = {str(k): int(v) for k, v in _mapping(data, "counts").items()}
            if any(v < 0 for v in counts.values()):
                raise ValueError("negative count")
            return CategoricalProfile(counts, _count(data, "missing"))
        if kind == "unusable":
            return UnusableColumn(str(data["message"]), _count({"missing": 0, **data}, "missing"),
                                  _count({"rows": 0, **data}, "rows"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {_describe(exc)}") from None
    raise ValueError(f"{where}.kind: expected numeric, categorical or unusable, not {kind!r}")


def _numeric_from_dict(data: dict[str, Any], where: str) -> NumericProfile:
    count = _count(data, "count")
    values = None
    if "values" in data:
        values = np.asarray(data["values"], dtype=np.float64)
        if values.ndim != 1 or values.size != count or np.any(np.diff(values) < 0):
            raise ValueError("values: expected the column's count of sorted numbers")
        edges = np.unique(values)
        counts_le = np.searchsorted(values, edges, side="right").astype(np.int64)
    else:
        edges = np.asarray(data["edges"], dtype=np.float64)
        counts_le = np.asarray(data["counts_le"], dtype=np.int64)
        if edges.ndim != 1 or edges.shape != counts_le.shape or np.any(np.diff(edges) <= 0):
            raise ValueError("edges: expected ascending distinct numbers, one count each")
        if np.any(np.diff(counts_le) < 0) or (counts_le.size and (counts_le[0] < 0 or counts_le[-1] > count)):
            raise ValueError("counts_le: expected non-decreasing counts within the column's count")
    if not np.all(np.isfinite(edges)):
        raise ValueError("edges: expected finite numbers")
    std = float(data["std"])
    if not std >= 0:
        raise ValueError(f"std: expected a non-negative number, got {std}")
    minimum = float(data["min"]) if data.get("min") is not None else float("inf")
    maximum = float(data["max"]) if data.get("max") is not None else float("-inf")
    return NumericProfile(count, _count(data, "missing"), _count(data, "posinf"), _count(data, "neginf"),
                          float(data["mean"]), std, minimum, maximum, edges, counts_le, values)
