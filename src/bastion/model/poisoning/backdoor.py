"""Backdoor detection from hidden activations: candidate subsets per class, verified by what their pattern does.

For every class the detector looks at the activations of early hidden layers (where a trigger is still a visible
feature, not yet folded into the class; deeper layers blur it, which is why detectors reading the last hidden layer
do poorly) and splits the class in two with each method:

- ``spectral``: centred spectral signatures (Tran, Li and Madry 2018). The class's activations are centred and
  projected on their top right singular vector (the squared projection is Tran et al.'s outlier score); a 1-D
  2-means split of the projection gives the two groups.
- ``clustering``: activation clustering (Chen et al. 2018). The centred activations are reduced by PCA to
  ``components`` dimensions and split by seeded 2-means (silhouette and relative size of the smaller cluster are
  reported).

Both groups of every split are candidates, since poison can be the larger part of its class. Natural sub-styles of
a class (a crossed 7, a looped 9) form tight clusters too, so cluster statistics alone do not name the poisoned
class (on digits, clean classes reach silhouettes as high as a poisoned one). Each candidate is therefore checked
the way exclusionary reclassification (Chen et al.) checks a cluster, without retraining: every candidate row is
paired with its nearest input of another class (its clean look-alike), the mean difference is the pattern the
candidate shares, and that pattern is added to inputs of other classes (clipped to ``box``). A trigger sends most
of them to the class; a sub-style does not. A class's score is the largest such transfer rate over its candidates,
net of how often those inputs are already predicted as the class. Suspects are the suspected class's rows on the
high side of a 1-D 2-means split of the per-row scores, which average the transfer rates of the candidates that
contain the row.

Costs: one ``activations`` call, one ``predict`` call on ``x`` and one on all shifted probes together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bastion.model.base import ModelAdapter, ModelError

METHODS = ("spectral", "clustering")
"""Candidate generators ``BackdoorDetector`` accepts."""


class BackdoorError(ModelError):
    """Bad parameters or data for backdoor detection; the message names the parameter."""


@dataclass(frozen=True)
class BackdoorReport:
    """Which class looks backdoored, how strongly, and which training rows carry the trigger."""

    suspected_class: int | None
    """Class index whose candidate pattern transfers best, if its score reaches ``threshold``; else ``None``."""
    class_scores: np.ndarray
    """Per class, in [0, 1]: the largest share of other-class rows that a candidate subset's shared pattern sends
    to the class, minus the share already predicted as the class. Clean classes stay low (digits: below 0.35);
    a working trigger scores near its attack success rate."""
    threshold: float
    """Score at or above which a class is suspected."""
    suspects: np.ndarray
    """Rows of the suspected class on the high side of a 1-D 2-means split of ``scores``, highest first."""
    scores: np.ndarray
    """Per row ``(n,)`` in [0, 1]: the mean, over the layer x method candidates of the row's class, of the
    candidate's transfer rate where the row is in the candidate and 0 where it is not. A trigger-carrying row
    that every candidate contains scores near the attack success rate; rows of clean classes stay low."""
    layers: tuple[str, ...]
    """Hidden layers whose activations were analysed."""
    silhouette: np.ndarray = field(repr=False)
    """Per class: best silhouette of the 2-means split over layers (nan where the class was too small)."""
    cluster_fraction: np.ndarray = field(repr=False)
    """Per class: relative size of the smaller 2-means cluster at the layer with the best silhouette."""
    pattern: np.ndarray | None = field(repr=False, default=None)
    """Flattened input pattern of the best-transferring candidate (an estimate of the trigger), or ``None``."""
    source: str = ""
    """Layer and method of the best-transferring candidate of the suspected class, e.g. ``"0/clustering"``."""


@dataclass(frozen=True)
class _Candidate:
    cls: int
    layer: str
    method: str
    rows: np.ndarray


class BackdoorDetector:
    """Backdoor suspects in a labelled training set, from a model trained on it (see the module docstring).

    ``layers`` defaults to the first two of ``model.layer_names()``; ``threshold`` is the class score at which a
    class is suspected; classes with fewer than ``min_class_rows`` rows are skipped; each candidate's pattern is
    tried on ``transfer_rows`` seeded inputs of other classes; ``box`` bounds shifted inputs (default: the range
    of ``x``).
    """

    def __init__(self, layers: Sequence[str] | None = None, methods: Sequence[str] = METHODS, *, seed: int = 0,
                 components: int = 10, threshold: float = 0.5, min_class_rows: int = 10,
                 transfer_rows: int = 500, box: tuple[float, float] | None = None) -> None:
        if layers is not None and (isinstance(layers, str) or not layers):
            raise BackdoorError("layers must be a non-empty list of layer names or None (early layers)")
        methods = tuple(methods)
        bad = [m for m in methods if m not in METHODS]
        if not methods or bad:
            raise BackdoorError(f"methods must be a non-empty subset of {METHODS}, got {methods}")
        if components < 1:
            raise BackdoorError(f"components must be >= 1, got {components}")
        if not 0.0 < threshold <= 1.0:
            raise BackdoorError(f"threshold must be in (0, 1], got {threshold}")
        if min_class_rows < 4:
            raise BackdoorError(f"min_class_rows must be >= 4, got {min_class_rows}")
        if transfer_rows < 1:
            raise BackdoorError(f"transfer_rows must be >= 1, got {transfer_rows}")
        if box is not None and not box[0] < box[1]:
            raise BackdoorError(f"box must be (low, high) with low < high, got {box}")
        self.layers = None if layers is None else list(layers)
        self.methods = methods
        self.seed = seed
        self.components = components
        self.threshold = threshold
        self.min_class_rows = min_class_rows
        self.transfer_rows = transfer_rows
        self.box = box

    def detect(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray) -> BackdoorReport:
        """Analyse ``model`` on its training rows ``x`` with labels ``y`` (class indices)."""
        x, y = self._check(model, x, y)
        layers = self._layers(model)
        acts = model.activations(x, layers)
        flat = x.reshape(len(x), -1).astype(np.float64)
        sil = np.full(model.n_classes, np.nan)
        frac = np.full(model.n_classes, np.nan)
        candidates: list[_Candidate] = []
        for c in range(model.n_classes):
            members = np.flatnonzero(y == c)
            if len(members) < self.min_class_rows:
                continue
            for layer in layers:
                found, silhouette, fraction = self._analyse(acts[layer][members], members, c, layer)
                candidates += found
                if np.isnan(sil[c]) or silhouette > sil[c]:
                    sil[c], frac[c] = silhouette, fraction
        rates, patterns = self._transfer(model, flat, y, candidates)
        scores = _row_scores(len(x), candidates, rates, len(layers) * len(self.methods))
        return self._report(y, candidates, rates, patterns, scores, tuple(layers), sil, frac)

    # -- steps -----------------------------------------------------------------------------------------------
    def _check(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if model.text:
            raise BackdoorError(f"{model.name}: backdoor detection needs numeric inputs, not text")
        x = model.check_input(x)
        labels = np.asarray(y)
        if labels.shape != (len(x),):
            raise BackdoorError(f"y must be 1-D with {len(x)} labels, got shape {labels.shape}")
        if labels.dtype.kind not in "iu":
            raise BackdoorError("y must hold class indices (integers); use model.encode_labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= model.n_classes):
            raise BackdoorError(f"y must lie in 0..{model.n_classes - 1}")
        return x, labels.astype(np.int64)

    def _layers(self, model: ModelAdapter) -> list[str]:
        names = model.layer_names()
        if not names:
            raise BackdoorError(f"{model.name}: the model exposes no hidden layers; backdoor detection needs "
                                f"a neural network (torch module or scikit-learn MLP)")
        if self.layers is None:
            return names[:2]
        missing = [name for name in self.layers if name not in names]
        if missing:
            raise BackdoorError(f"layers: {missing[0]!r} is not a layer of {model.name}; layers are {names}")
        return list(self.layers)

    def _analyse(self, acts: np.ndarray, members: np.ndarray, c: int,
                 layer: str) -> tuple[list[_Candidate], float, float]:
        """Candidates, silhouette and small-cluster fraction for one class and layer."""
        centred = acts.astype(np.float64) - acts.mean(axis=0)
        u, s = self._svd(centred)
        found: list[_Candidate] = []
        if "spectral" in self.methods and len(s):
            # the square of this projection is Tran et al.'s score; its sign tells the two groups apart
            side = u[:, 0] * s[0] >= _otsu(u[:, 0] * s[0])
            found += _both_sides(c, layer, "spectral", members, side)
        reduced = u[:, :self.components] * s[:self.components]
        labels, silhouette = self._two_means(reduced)
        sizes = np.bincount(labels, minlength=2)
        if "clustering" in self.methods:
            found += _both_sides(c, layer, "clustering", members, labels == 1)
        return found, silhouette, float(sizes.min() / len(labels))

    def _svd(self, centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Left singular vectors and values, top ``components`` only; randomised (seeded) for wide layers."""
        if min(centred.shape) <= 256:
            u, s, _ = np.linalg.svd(centred, full_matrices=False)
            return u[:, :self.components], s[:self.components]
        from sklearn.utils.extmath import randomized_svd

        u, s, _ = randomized_svd(centred, n_components=self.components, random_state=self.seed)
        return np.asarray(u), np.asarray(s)

    def _two_means(self, reduced: np.ndarray) -> tuple[np.ndarray, float]:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        if np.allclose(reduced, 0.0):
            return np.zeros(len(reduced), dtype=np.int64), 0.0
        labels = KMeans(n_clusters=2, n_init=10, random_state=self.seed).fit_predict(reduced)
        if len(np.unique(labels)) < 2:
            return labels, 0.0
        sample = min(len(reduced), 2000)  # silhouette is quadratic; a seeded sample bounds it
        return labels, float(silhouette_score(reduced, labels, sample_size=sample, random_state=self.seed))

    def _transfer(self, model: ModelAdapter, flat: np.ndarray, y: np.ndarray,
                  candidates: list[_Candidate]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Net share of other-class rows that each candidate's shared pattern sends to its class (one model call)."""
        from sklearn.neighbors import NearestNeighbors

        if not candidates:
            return np.zeros(0), []
        low, high = self.box if self.box is not None else (float(flat.min()), float(flat.max()))
        predicted = model.predict(flat.reshape(len(flat), *model.input_shape).astype(np.float32))
        rng = np.random.default_rng(self.seed)
        batches, targets, patterns, base = [], [], [], []
        index: dict[int, tuple[np.ndarray, Any]] = {}
        for cand in candidates:
            if cand.cls not in index:  # one look-alike index per class, shared by its candidates
                outside = np.flatnonzero(y != cand.cls)
                index[cand.cls] = (outside, NearestNeighbors(n_neighbors=1).fit(flat[outside]))
            others, finder = index[cand.cls]
            nearest = finder.kneighbors(flat[cand.rows])[1][:, 0]
            pattern = (flat[cand.rows] - flat[others[nearest]]).mean(axis=0)
            probe = rng.choice(others, size=min(self.transfer_rows, len(others)), replace=False)
            batches.append(np.clip(flat[probe] + pattern, low, high))
            targets.append(np.full(len(probe), cand.cls))
            patterns.append(pattern)
            base.append(float(np.mean(predicted[probe] == cand.cls)))
        shifted = np.concatenate(batches).reshape(-1, *model.input_shape).astype(np.float32)
        hits = model.predict(shifted) == np.concatenate(targets)
        bounds = np.cumsum([0] + [len(b) for b in batches])
        rates = np.array([hits[a:b].mean() - base_rate for a, b, base_rate in zip(bounds[:-1], bounds[1:], base,
                                                                                    strict=True)])
        return np.clip(rates, 0.0, 1.0), patterns

    def _report(self, y: np.ndarray, candidates: list[_Candidate], rates: np.ndarray, patterns: list[np.ndarray],
                scores: np.ndarray, layers: tuple[str, ...], sil: np.ndarray, frac: np.ndarray) -> BackdoorReport:
        class_scores = np.zeros(len(sil))
        for cand, rate in zip(candidates, rates, strict=True):
            class_scores[cand.cls] = max(class_scores[cand.cls], rate)
        common: dict[str, Any] = dict(class_scores=class_scores, threshold=self.threshold, scores=scores,
                                      layers=layers, silhouette=sil, cluster_fraction=frac)
        best = int(np.argmax(class_scores))
        if class_scores[best] < self.threshold:
            return BackdoorReport(suspected_class=None, suspects=np.zeros(0, dtype=np.int64), **common)
        pick = max((i for i, cand in enumerate(candidates) if cand.cls == best), key=lambda i: rates[i])
        return BackdoorReport(suspected_class=best, suspects=_upper_group(np.flatnonzero(y == best), scores),
                              pattern=patterns[pick], source=f"{candidates[pick].layer}/{candidates[pick].method}",
                              **common)


def _both_sides(c: int, layer: str, method: str, members: np.ndarray, side: np.ndarray) -> list[_Candidate]:
    """Both groups of a split are candidates: poison may be the larger part of its class."""
    if side.all() or not side.any():
        return []
    return [_Candidate(c, layer, method, members[side]), _Candidate(c, layer, method, members[~side])]


def _row_scores(n: int, candidates: list[_Candidate], rates: np.ndarray, per_class: int) -> np.ndarray:
    """Transfer rate of each candidate spread over its rows, averaged over the class's layer x method slots."""
    scores = np.zeros(n)
    for cand, rate in zip(candidates, rates, strict=True):
        scores[cand.rows] += rate / per_class
    return scores


def _upper_group(members: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Members on the high side of a 1-D 2-means split of their scores (never rows scoring 0), highest first."""
    values = scores[members]
    chosen = members[(values >= _otsu(values)) & (values > 0)]
    if len(chosen) == 0:  # all implicated rows score alike: take them all
        chosen = members[values > 0]
    return np.asarray(chosen[np.argsort(-scores[chosen], kind="stable")])


def _otsu(values: np.ndarray) -> float:
    """Threshold minimising the within-group variance of a 1-D split (exact 1-D 2-means)."""
    ordered = np.sort(values)
    n = len(ordered)
    if n < 2 or ordered[0] == ordered[-1]:
        return float(np.inf)
    prefix = np.cumsum(ordered)
    prefix_sq = np.cumsum(ordered ** 2)
    left = np.arange(1, n)
    sse_left = prefix_sq[:-1] - prefix[:-1] ** 2 / left
    right_sum, right_sq = prefix[-1] - prefix[:-1], prefix_sq[-1] - prefix_sq[:-1]
    sse_right = right_sq - right_sum ** 2 / (n - left)
    cut = int(np.argmin(sse_left + sse_right))
    return float(ordered[cut + 1])
