"""Vectorised bootstrap: every resample's group table at once, then percentile intervals.

Count metrics (unweighted classification). A bootstrap resample draws n rows with replacement, each row with
probability 1/n; the number of drawn rows that land in one (group, cell) of the confusion table is the number of
draws that hit any of that cell's rows, so the resampled table is exactly Multinomial(n, counts / n) over the
G x 4 cells. Drawing that table directly (``rng.multinomial(n, counts / n, size=B)``) gives the same distribution
as resampling rows and counting them, at a cost that does not depend on n: every rate and disparity then follows
from the (B, G, 4) stack in one vectorised call.

Everything else (weighted counts, regression sums, calibration tables) depends on which rows were drawn, not only
how many per cell, so rows are resampled: (chunk, n) int32 row indices, the rows' keys offset per resample, and one
``np.bincount`` per summed quantity per chunk; chunks bound the memory to ``CHUNK_ROWS`` drawn rows at a time.

Intervals are percentile intervals over the usable resamples (those whose value is finite: a group absent from a
resample has no rate there, and a disparity over groups is not defined in a resample that lacks one of them).
"""

from __future__ import annotations

import warnings

import numpy as np

CHUNK_ROWS = 1 << 22
"""Drawn rows held at once when resampling rows (about 4 million: 16 MiB of int32 indices plus the gathered keys)."""


def multinomial_tables(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(B, *counts.shape) resampled count tables: one multinomial draw of n = counts.sum() rows per resample.

    ``counts`` must hold whole row counts (no weights).
    """
    flat = np.asarray(counts, dtype=np.float64).ravel()
    rows = int(round(flat.sum()))
    if rows <= 0:
        raise ValueError("bootstrap: the count table is empty")
    draws = rng.multinomial(rows, flat / rows, size=resamples)
    return draws.reshape((resamples, *np.shape(counts))).astype(np.float64)


def resampled_sums(keys: np.ndarray, n_keys: int, columns: np.ndarray, resamples: int,
                   rng: np.random.Generator, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """(B, n_keys, k) sums of the k ``columns`` (n, k) per key over rows resampled with replacement.

    ``keys`` (n,) are cell numbers in ``0..n_keys - 1`` (a group, or a group's confusion cell or calibration bin).
    """
    rows = len(keys)
    if rows == 0:
        raise ValueError("bootstrap: no rows to resample")
    per_chunk = max(1, chunk_rows // rows)
    out = np.empty((resamples, n_keys, columns.shape[1]))
    for start in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - start)
        drawn = rng.integers(0, rows, size=(size, rows), dtype=np.int32)
        shifted = (keys[drawn] + (np.arange(size, dtype=np.int64) * n_keys)[:, None]).ravel()
        for j in range(columns.shape[1]):
            sums = np.bincount(shifted, weights=columns[:, j][drawn].ravel(), minlength=size * n_keys)
            out[start:start + size, :, j] = sums.reshape(size, n_keys)
    return out


def percentile_intervals(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds over the first axis of ``samples`` (B, ...), and the usable count (...).

    Non-finite values (a resample where the value is undefined) are left out; bounds are NaN where fewer than two
    resamples are usable.
    """
    values = np.where(np.isfinite(samples), samples, np.nan)
    usable = np.isfinite(values).sum(axis=0)
    tail = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: handled below
        lower, upper = np.nanquantile(values, [tail, 1.0 - tail], axis=0)
    enough = usable >= 2
    return np.where(enough, lower, np.nan), np.where(enough, upper, np.nan), usable
