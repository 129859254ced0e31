#!/usr/bin/env python3
"""Seeded reference and current tables for ``drift_bench.py``, written once to Parquet so every tool reads the same.

25 columns: 20 numeric of varied shapes and 5 categorical with Zipf-like shares. The current table is an independent
draw from the same distributions, except three columns with injected drift (``DRIFTED``): a mean shift of +0.05 sd
in a normal column, sigma x 1.05 in a lognormal column, and one category +2 percentage points taken proportionally
from the others. The 22 other columns are identically distributed in both tables, so an alarm on them is false,
unless the draw itself is a fluke: ``meta.json`` records the verdict of exact tests on the full tables
(``exact_tests``) so a benchmark can tell the two apart.

Storage: numeric columns are float64 (NaN written as Parquet nulls) or int64; categorical columns ``*_cat`` are
dictionary-encoded strings, which pandas reads as ``category`` dtype; ``*_str`` are plain strings, which pandas 2
reads as ``object`` and pandas 3 as ``str``. Each column draws from its own child of one ``SeedSequence``, so a
column's values depend only on the seed, the table and the row count.

Files go to ``benchmarks/.peers/drift-data/rows-<N>-seed-<S>-v<VERSION>/`` and are reused while that folder is
complete (``meta.json`` is written last).

Usage: ``.venv/bin/python benchmarks/drift_data.py [--rows 1000000] [--seed 1]`` prints the folder's ``meta.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".peers" / "drift-data"
STREAM = 1
"""Mixed into the seed; bumped (with ``VERSION``) whenever the draws change."""
VERSION = 2
"""Bumped whenever the files or ``meta.json`` change, so older folders are not reused."""
TABLES = ("reference", "current")
MEAN_SHIFT_SD = 0.05
SIGMA_FACTOR = 1.05
SHARE_SHIFT = 0.02
ZIPF_EXPONENT = 1.1

Draw = Callable[[np.random.Generator, int, bool], np.ndarray]


@dataclass(frozen=True)
class ColumnSpec:
    """One generated column."""

    name: str
    """Column name."""
    kind: str
    """``numeric`` or ``categorical``."""
    shape: str
    """The distribution, in words."""
    storage: str
    """How the column is stored and read back by pandas."""
    drift: str = ""
    """The drift injected into the current table, or empty for a clean column."""
    categories: int = 0
    """Number of categories (labels ``c00``, ``c01``...) of a categorical column; 0 for numeric ones."""


def _normal(mean: float, sd: float, shift_sd: float = 0.0) -> Draw:
    return lambda rng, n, drifted: rng.normal(mean + (shift_sd * sd if drifted else 0.0), sd, n)


def _lognormal(mu: float, sigma: float, factor: float = 1.0) -> Draw:
    return lambda rng, n, drifted: rng.lognormal(mu, sigma * (factor if drifted else 1.0), n)


def _mixture(weight: float, first: tuple[float, float], second: tuple[float, float]) -> Draw:
    def draw(rng: np.random.Generator, n: int, drifted: bool) -> np.ndarray:
        pick = rng.random(n) < weight
        return np.where(pick, rng.normal(first[0], first[1], n), rng.normal(second[0], second[1], n))
    return draw


def _with_missing(draw: Draw, share: float) -> Draw:
    def masked(rng: np.random.Generator, n: int, drifted: bool) -> np.ndarray:
        values = draw(rng, n, drifted)
        values[rng.random(n) < share] = np.nan
        return values
    return masked


def _shares(count: int) -> np.ndarray:
    """Zipf-like shares: the k-th category's share is proportional to 1 / k ** ZIPF_EXPONENT."""
    weights = 1.0 / np.arange(1, count + 1) ** ZIPF_EXPONENT
    return weights / weights.sum()


def shifted_shares(count: int, index: int, shift: float) -> np.ndarray:
    """The Zipf shares with category ``index`` raised by ``shift``, taken from the others in proportion."""
    shares = _shares(count)
    out = shares * (1.0 - shares[index] - shift) / (1.0 - shares[index])
    out[index] = shares[index] + shift
    return out


def _categories(count: int, shift_index: int | None = None) -> Draw:
    def draw(rng: np.random.Generator, n: int, drifted: bool) -> np.ndarray:
        shares = shifted_shares(count, shift_index, SHARE_SHIFT) if drifted and shift_index is not None \
            else _shares(count)
        return rng.choice(count, size=n, p=shares).astype(np.int32)
    return draw


FLOAT, INT = "float64", "int64"
CAT, STR = "dictionary strings -> pandas category", "plain strings -> pandas object (2.x) / str (3.x)"
_COLUMNS: tuple[tuple[ColumnSpec, Draw], ...] = (
    (ColumnSpec("normal_shift", "numeric", "normal(50, 10)", FLOAT, f"mean +{MEAN_SHIFT_SD} sd"),
     _normal(50.0, 10.0, MEAN_SHIFT_SD)),
    (ColumnSpec("normal_std", "numeric", "normal(0, 1)", FLOAT), _normal(0.0, 1.0)),
    (ColumnSpec("normal_narrow", "numeric", "normal(-3, 0.25)", FLOAT), _normal(-3.0, 0.25)),
    (ColumnSpec("lognormal_scale", "numeric", "lognormal(3, 0.8)", FLOAT, f"sigma x {SIGMA_FACTOR}"),
     _lognormal(3.0, 0.8, SIGMA_FACTOR)),
    (ColumnSpec("lognormal_wide", "numeric", "lognormal(0, 1.5)", FLOAT), _lognormal(0.0, 1.5)),
    (ColumnSpec("uniform_unit", "numeric", "uniform(0, 1)", FLOAT), lambda rng, n, d: rng.random(n)),
    (ColumnSpec("uniform_wide", "numeric", "uniform(-100, 100)", FLOAT), lambda rng, n, d: rng.uniform(-100, 100, n)),
    (ColumnSpec("exponential_small", "numeric", "exponential(scale 2)", FLOAT),
     lambda rng, n, d: rng.exponential(2.0, n)),
    (ColumnSpec("exponential_large", "numeric", "exponential(scale 300)", FLOAT),
     lambda rng, n, d: rng.exponential(300.0, n)),
    (ColumnSpec("poisson_low", "numeric", "poisson(0.7) counts, half zeros", INT),
     lambda rng, n, d: rng.poisson(0.7, n)),
    (ColumnSpec("poisson_high", "numeric", "poisson(40) counts", INT), lambda rng, n, d: rng.poisson(40.0, n)),
    (ColumnSpec("bimodal_skewed", "numeric", "0.3 normal(-2, 0.5) + 0.7 normal(3, 1)", FLOAT),
     _mixture(0.3, (-2.0, 0.5), (3.0, 1.0))),
    (ColumnSpec("bimodal_even", "numeric", "0.5 normal(0, 1) + 0.5 normal(6, 1)", FLOAT),
     _mixture(0.5, (0.0, 1.0), (6.0, 1.0))),
    (ColumnSpec("student_t3", "numeric", "student-t, 3 df", FLOAT), lambda rng, n, d: rng.standard_t(3.0, n)),
    (ColumnSpec("student_t1_5", "numeric", "student-t, 1.5 df (infinite variance)", FLOAT),
     lambda rng, n, d: rng.standard_t(1.5, n)),
    (ColumnSpec("normal_missing_1pct", "numeric", "normal(100, 15), 1% missing", FLOAT),
     _with_missing(_normal(100.0, 15.0), 0.01)),
    (ColumnSpec("lognormal_missing_5pct", "numeric", "lognormal(1, 0.5), 5% missing", FLOAT),
     _with_missing(_lognormal(1.0, 0.5), 0.05)),
    (ColumnSpec("age_int", "numeric", "integers 18..90, uniform (73 values, many ties)", INT),
     lambda rng, n, d: rng.integers(18, 91, n)),
    (ColumnSpec("rating_int", "numeric", "integers 1..5, shares 5/10/20/35/30%", INT),
     lambda rng, n, d: rng.choice(np.arange(1, 6), size=n, p=[0.05, 0.10, 0.20, 0.35, 0.30])),
    (ColumnSpec("gamma", "numeric", "gamma(shape 2, scale 3)", FLOAT), lambda rng, n, d: rng.gamma(2.0, 3.0, n)),
    (ColumnSpec("tier3_cat", "categorical", "3 categories, Zipf shares", CAT, categories=3), _categories(3)),
    (ColumnSpec("region7_cat", "categorical", "7 categories, Zipf shares", CAT,
                f"share of c02 +{SHARE_SHIFT * 100:.0f} pp", 7), _categories(7, shift_index=2)),
    (ColumnSpec("device12_str", "categorical", "12 categories, Zipf shares", STR, categories=12), _categories(12)),
    (ColumnSpec("product25_cat", "categorical", "25 categories, Zipf shares", CAT, categories=25), _categories(25)),
    (ColumnSpec("city50_str", "categorical", "50 categories, Zipf shares", STR, categories=50), _categories(50)),
)
COLUMNS: tuple[ColumnSpec, ...] = tuple(spec for spec, _ in _COLUMNS)
"""Every column, in table order."""
DRIFTED: tuple[str, ...] = tuple(spec.name for spec in COLUMNS if spec.drift)
"""Columns whose distribution differs in the current table."""
CLEAN: tuple[str, ...] = tuple(spec.name for spec in COLUMNS if not spec.drift)
"""Columns identically distributed in both tables."""


def _arrow(spec: ColumnSpec, values: np.ndarray) -> pa.Array:
    if spec.kind == "numeric":
        return pa.array(values, from_pandas=True)  # NaN -> null
    labels = pa.array([f"c{k:02d}" for k in range(spec.categories)])  # every label, seen or not
    if spec.storage == CAT:
        return pa.DictionaryArray.from_arrays(pa.array(values, type=pa.int32()), labels)
    return labels.take(pa.array(values))


def generate(rows: int, seed: int, table: str) -> pa.Table:
    """The ``reference`` or ``current`` table of ``rows`` rows."""
    if table not in TABLES:
        raise ValueError(f"drift_data.generate: table must be one of {TABLES}, not {table!r}")
    streams = np.random.SeedSequence([seed, STREAM]).spawn(len(TABLES))[TABLES.index(table)].spawn(len(_COLUMNS))
    drifted = table == "current"
    arrays = [_arrow(spec, draw(np.random.default_rng(stream), rows, drifted))
              for (spec, draw), stream in zip(_COLUMNS, streams, strict=True)]
    return pa.table(arrays, names=[spec.name for spec in COLUMNS])


def folder(rows: int, seed: int, root: Path = DATA_DIR) -> Path:
    """Where the files of one size and seed live."""
    return root / f"rows-{rows}-seed-{seed}-v{VERSION}"


def _values(column: pa.ChunkedArray) -> np.ndarray:
    """The non-missing values of a numeric column."""
    return np.asarray(column.combine_chunks().drop_null().to_numpy(zero_copy_only=False))


def exact_tests(reference: pa.Table, current: pa.Table) -> dict[str, dict[str, Any]]:
    """The reference verdict per column: scipy's two-sample KS on every value (numeric) or the chi-square test of the
    2 x k contingency table (categorical), p-values Holm-adjusted over all columns, drift when adjusted p < 0.05.

    No sketch, no binning: what a correct test at family-wise 5% says about this draw. A clean column it flags is a
    fluke of the draw (about 5% of seeds have one), not an error of the tool that flags it too."""
    from scipy import stats

    out: dict[str, dict[str, Any]] = {}
    for spec in COLUMNS:
        if spec.kind == "numeric":
            result = stats.ks_2samp(_values(reference[spec.name]), _values(current[spec.name]))
            out[spec.name] = {"test": "ks", "statistic": float(result.statistic), "p_value": float(result.pvalue)}
            continue
        labels = [f"c{k:02d}" for k in range(spec.categories)]
        tables = [_category_counts(table[spec.name], labels) for table in (reference, current)]
        chi2, p_value, _, _ = stats.chi2_contingency(np.vstack(tables), correction=False)
        out[spec.name] = {"test": "chi2", "statistic": float(chi2), "p_value": float(p_value)}
    order = sorted(out, key=lambda name: out[name]["p_value"])
    running = 0.0
    for rank, name in enumerate(order):  # Holm: step-down, monotone
        running = max(running, min(1.0, (len(order) - rank) * out[name]["p_value"]))
        out[name]["p_adjusted"] = running
        out[name]["drift"] = running < 0.05
    return out


def _category_counts(column: pa.ChunkedArray, labels: list[str]) -> np.ndarray:
    """Counts per label, in label order, whether the column is dictionary-encoded or plain strings."""
    counts = pc.value_counts(column.combine_chunks())
    found = dict(zip(counts.field("values").cast(pa.string()).to_pylist(), counts.field("counts").to_pylist(),
                     strict=True))
    return np.array([found.get(label, 0) for label in labels])


def ensure_files(rows: int, seed: int, root: Path = DATA_DIR) -> dict[str, Any]:
    """Write both tables unless a complete copy exists; returns the folder's metadata (paths, columns, sizes, and
    the exact tests' verdicts)."""
    if rows < 2:
        raise ValueError(f"drift_data.ensure_files: rows must be at least 2, not {rows}")
    where = folder(rows, seed, root)
    meta_path = where / "meta.json"
    if meta_path.is_file():
        return dict(json.loads(meta_path.read_text()))
    where.mkdir(parents=True, exist_ok=True)
    paths, tables = {}, {}
    for table in TABLES:
        path = where / f"{table}.parquet"
        partial = path.with_suffix(".partial")
        tables[table] = generate(rows, seed, table)
        pq.write_table(tables[table], partial)
        partial.replace(path)
        paths[table] = str(path)
    meta = {"version": VERSION, "rows": rows, "seed": seed, "paths": paths,
            "bytes": {t: Path(p).stat().st_size for t, p in paths.items()},
            "columns": [asdict(spec) for spec in COLUMNS], "drifted": list(DRIFTED),
            "exact": exact_tests(tables["reference"], tables["current"])}
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> int:
    """Write (or find) the files and print their metadata as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--root", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    print(json.dumps(ensure_files(args.rows, args.seed, args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
