"""Minimum-norm evasion of scikit-learn tree models, read from the fitted trees' split thresholds.

A single decision tree is attacked exactly: every leaf of another class is a box, and the closest feasible point of
the closest box is the smallest change (Linf and L2 alike: the closest point of a box is a per-feature clip).
Ensembles (random forests, extra trees, gradient boosting) get a greedy search: each step scores, for every sample
at once, the moves "put feature f just past one of its nearest thresholds" with one ``model.predict_proba`` call,
and takes the move that lowers the true-class margin most per unit of added perturbation. A final pass pulls each
moved feature back toward the original as far as the model stays fooled.

Only the fitted estimator's attributes are read (``tree_``, ``estimators_``); the model is only queried.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bastion.model.attacks.base import Attack, AttackRun
from bastion.model.attacks.decision import QueryBatch, _check_int, _check_norm, _groups, _row_norm, finish_run
from bastion.model.base import ModelAdapter, ModelError
from bastion.model.constraints import Constraints

_SUPPORTED = ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier",
              "GradientBoostingClassifier", "HistGradientBoostingClassifier")
_VERIFY = 4
"""Closest leaves per sample checked against the model in the exact single-tree search."""
_SHRINK_POINTS = 64
"""Most values tried per feature when pulling a moved feature back toward the original."""
_BOX_ELEMENTS = 1 << 22
"""Samples x leaves x features held at once by the exact search."""


# -- reading the trees ---------------------------------------------------------------------------------------------
def tree_model(estimator: Any, name: str) -> Any:
    """The tree model itself; a Pipeline is accepted only when the steps before the trees do nothing.

    Raises ``ModelError`` saying why when the trees attack cannot read ``estimator``.
    """
    if estimator is None:
        raise ModelError(f"{name}: the trees attack needs a scikit-learn tree model; this adapter wraps none")
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        busy = [str(label) for label, step in steps[:-1] if step is not None and step != "passthrough"]
        if busy:
            raise ModelError(f"{name}: the trees attack reads thresholds in input space, but pipeline steps {busy} "
                             "transform the features first; attack the bare tree model on transformed data")
        estimator = steps[-1][1]
    kind = type(estimator).__name__
    if kind not in _SUPPORTED:
        raise ModelError(f"{name}: the trees attack supports {', '.join(_SUPPORTED)}; not {kind}")
    return estimator


def _sk_tree_splits(tree: Any) -> tuple[np.ndarray, np.ndarray]:
    internal = np.asarray(tree.children_left) != -1
    return np.asarray(tree.feature)[internal], np.asarray(tree.threshold, dtype=np.float64)[internal]


def _hist_splits(estimator: Any, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for stage in getattr(estimator, "_predictors", []):
        for predictor in stage:
            nodes = predictor.nodes
            internal = ~nodes["is_leaf"].astype(bool)
            if np.any(nodes["is_categorical"][internal]):
                raise ModelError(f"{name}: the trees attack does not handle HistGradientBoosting categorical splits")
            out.append((np.asarray(nodes["feature_idx"][internal]),
                        np.asarray(nodes["num_threshold"][internal], dtype=np.float64)))
    return out


def _splits(estimator: Any, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(feature, threshold) of every internal node, per tree; a sample goes left when ``x[feature] <= threshold``."""
    kind = type(estimator).__name__
    if kind == "DecisionTreeClassifier":
        return [_sk_tree_splits(estimator.tree_)]
    if kind in ("RandomForestClassifier", "ExtraTreesClassifier"):
        return [_sk_tree_splits(member.tree_) for member in estimator.estimators_]
    if kind == "GradientBoostingClassifier":
        return [_sk_tree_splits(member.tree_) for member in np.asarray(estimator.estimators_).ravel()]
    return _hist_splits(estimator, name)


def _thresholds(splits: list[tuple[np.ndarray, np.ndarray]], d: int) -> list[np.ndarray]:
    """Sorted distinct thresholds per feature."""
    features = np.concatenate([f for f, _ in splits]) if splits else np.zeros(0, dtype=np.int64)
    values = np.concatenate([t for _, t in splits]) if splits else np.zeros(0)
    return [np.unique(values[features == f]) for f in range(d)]


def _above(t: np.ndarray) -> np.ndarray:
    """Smallest float32 strictly above each threshold (models compare float32 inputs with float64 thresholds)."""
    t = np.asarray(t, dtype=np.float64)
    v = t.astype(np.float32)
    v = np.where(v.astype(np.float64) <= t, np.nextafter(v, np.float32(np.inf)), v)
    return np.where(np.isinf(t), t, v.astype(np.float64))


def _at_or_below(t: np.ndarray) -> np.ndarray:
    """Largest float32 at or below each threshold."""
    t = np.asarray(t, dtype=np.float64)
    v = t.astype(np.float32)
    v = np.where(v.astype(np.float64) > t, np.nextafter(v, np.float32(-np.inf)), v)
    return np.where(np.isinf(t), t, v.astype(np.float64))


class _Space:
    """Per-feature feasibility for threshold moves: bounds, integers, allowed values, frozen features."""

    def __init__(self, batch: QueryBatch) -> None:
        d, c = batch.d, batch.constraints
        self.lower, self.upper = np.full(d, -np.inf), np.full(d, np.inf)
        self.integer = np.zeros(d, dtype=bool)
        self.frozen = np.zeros(d, dtype=bool)
        self.allowed: dict[int, np.ndarray] = {}
        if c is None:
            return
        for given, out in ((c.lower, self.lower), (c.upper, self.upper)):
            if given is not None:
                np.copyto(out, np.broadcast_to(np.asarray(given, dtype=np.float64).reshape(-1), (d,)))
        self.integer[list(c.integer)] = True
        self.frozen[[*c.immutable, *(i for g in c.categorical for i in g)]] = True
        self.allowed = {f: np.unique(np.asarray(v, dtype=np.float32).astype(np.float64)) for f, v in c.allowed_values}

    def cross(self, f: int, t: np.ndarray, up: bool) -> tuple[np.ndarray, np.ndarray]:
        """Nearest feasible value of feature ``f`` on the far side of each threshold, and whether one exists."""
        if f in self.allowed:
            values = self.allowed[f]
            if up:
                pos = np.searchsorted(values, t, side="right")
                ok = pos < len(values)
            else:
                pos = np.searchsorted(values, t, side="right") - 1
                ok = pos >= 0
            v = values[np.clip(pos, 0, len(values) - 1)]
        elif self.integer[f]:
            v, ok = np.floor(t) + (1.0 if up else 0.0), np.ones(t.shape, dtype=bool)
        else:
            v, ok = (_above(t) if up else _at_or_below(t)), np.ones(t.shape, dtype=bool)
        ok &= (v >= self.lower[f]) & (v <= self.upper[f])
        return v, ok


# -- the attack ----------------------------------------------------------------------------------------------------
class TreeEnsembleAttack(Attack):
    """Minimum-norm attack on scikit-learn trees: exact for one decision tree, greedy threshold search for ensembles.

    ``candidates`` thresholds per feature and direction are scored each step (doubling for a sample that finds no
    move that helps); ``exact=False`` makes a single tree use the greedy search too. The seed breaks ties.
    Immutable features and one-hot groups never move; integer, bounded and label-encoded features move to values
    they may take.
    """

    name = "trees"
    minimal = True

    def __init__(self, norm: str = "inf", max_steps: int = 100, candidates: int = 4, exact: bool = True,
                 seed: int = 0) -> None:
        _check_norm(norm, ("inf", "2"))
        _check_int("max_steps", max_steps, 1)
        _check_int("candidates", candidates, 1)
        if not isinstance(exact, bool):
            raise ValueError(f"exact must be True or False, got {exact!r}")
        _check_int("seed", seed, 0)
        self.norm, self.max_steps, self.candidates, self.exact, self.seed = norm, max_steps, candidates, exact, seed

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        started, before = time.perf_counter(), model.queries
        estimator = tree_model(model.estimator, model.name)
        batch = QueryBatch(model, x, y, constraints)
        self._check_fit(estimator, model, batch)
        space = _Space(batch)
        rng = np.random.default_rng(self.seed)
        if not batch.n:
            return finish_run(batch, self.name, self.norm, None, batch.x.copy(), np.zeros(0, bool), before, started)
        if self.exact and type(estimator).__name__ == "DecisionTreeClassifier":
            adv, found = _exact_tree(batch, estimator.tree_, space, self.norm)
        else:
            thresholds = _thresholds(_splits(estimator, model.name), batch.d)
            adv, found = self._greedy(batch, thresholds, space, rng)
            self._shrink(batch, adv, found, thresholds, space)
        return finish_run(batch, self.name, self.norm, None, adv, found, before, started)

    @staticmethod
    def _check_fit(estimator: Any, model: ModelAdapter, batch: QueryBatch) -> None:
        features = getattr(estimator, "n_features_in_", batch.d)
        if features != batch.d:
            raise ModelError(f"{model.name}: the tree model takes {features} features, samples have {batch.d}")
        classes = getattr(estimator, "classes_", None)
        if classes is None or len(classes) != model.n_classes:
            raise ModelError(f"{model.name}: the tree model's classes do not match the adapter's {model.n_classes}")
        if type(estimator).__name__ == "DecisionTreeClassifier" and estimator.tree_.n_outputs != 1:
            raise ModelError(f"{model.name}: multi-output decision trees are not supported by the trees attack")

    # -- greedy search -------------------------------------------------------------------------------------------
    def _greedy(self, batch: QueryBatch, thresholds: list[np.ndarray], space: _Space,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        everyone = np.arange(batch.n)
        adv = batch.x.copy()
        margin, found = _margin(batch, adv, everyone)
        width = np.full(batch.n, self.candidates)
        longest = max((len(t) for t in thresholds), default=0)
        live = ~found
        movable = [f for f in range(batch.d) if len(thresholds[f]) and not space.frozen[f]]
        for _ in range(self.max_steps):
            act = np.flatnonzero(live)
            if not len(act) or not movable:
                break
            per_sample = 2 * (int(width[act].max()) + 10) * len(movable)
            for part in _groups(len(act), per_sample, batch.cap):
                moved = self._step(batch, act[part], adv, margin, found, width, thresholds, movable, space, rng)
                width[act[part][moved]] = self.candidates
                stuck = act[part][~moved]
                width[stuck] *= 2
                live[stuck[width[stuck] > 2 * max(longest, 1)]] = False
            live &= ~found
        return adv, found

    def _step(self, batch: QueryBatch, idx: np.ndarray, adv: np.ndarray, margin: np.ndarray, found: np.ndarray,
              width: np.ndarray, thresholds: list[np.ndarray], movable: list[int], space: _Space,
              rng: np.random.Generator) -> np.ndarray:
        """Score every candidate move of these samples in one call; apply the best; return who moved."""
        local, feat, val = _moves(adv[idx], width[idx], self.candidates, thresholds, movable, space)
        owner = idx[local]
        rows = adv[owner].copy()
        rows[np.arange(len(rows)), feat] = val
        rows = batch.project(rows, owner)
        new_margin, fooled = _margin(batch, rows, owner)
        new_size = _row_norm(rows - batch.x[owner], self.norm)
        old_size = _row_norm(adv[owner] - batch.x[owner], self.norm)
        drop = margin[owner] - new_margin
        cost = np.maximum(new_size - old_size, 1e-9 * (1.0 + old_size))
        tie = rng.random(len(rows))
        pick = _best_per_owner(local, np.where(fooled, -new_size, -np.inf), tie, len(idx))
        fallback = _best_per_owner(local, np.where(drop > 0, drop / cost, -np.inf), tie, len(idx))
        pick = np.where(pick >= 0, pick, fallback)
        moved = pick >= 0
        chosen = pick[moved]
        adv[idx[moved]] = rows[chosen]
        margin[idx[moved]] = new_margin[chosen]
        found[idx[moved]] = fooled[chosen]
        return moved

    # -- pulling features back -----------------------------------------------------------------------------------
    def _shrink(self, batch: QueryBatch, adv: np.ndarray, found: np.ndarray, thresholds: list[np.ndarray],
                space: _Space) -> None:
        """Move each changed feature (largest change first) back toward the original while the model stays fooled."""
        idx = np.flatnonzero(found)
        if not len(idx):
            return
        for _ in range(2):
            change = np.abs(adv[idx] - batch.x[idx])
            order = np.argsort(-change, axis=1, kind="stable")
            count = (change > 0).sum(axis=1)
            for j in range(int(count.max(initial=0))):
                sel = idx[count > j]
                _pull_back(batch, adv, sel, order[count > j, j], thresholds, space)
        if self.norm == "inf":
            _shrink_radius(batch, adv, idx)


def _margin(batch: QueryBatch, rows: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True-class probability minus the best other class's, and whether the row is misclassified."""
    proba = batch.proba(rows, owner)
    at = np.arange(len(rows))
    true = proba[at, batch.y[owner]].copy()
    fooled = proba.argmax(axis=1) != batch.y[owner]
    proba[at, batch.y[owner]] = -np.inf
    return true - proba.max(axis=1), np.asarray(fooled)


def _best_per_owner(owner: np.ndarray, key: np.ndarray, tie: np.ndarray, m: int) -> np.ndarray:
    """Per owner 0..m-1, the row with the largest finite ``key`` (random ties), or -1."""
    out = np.full(m, -1, dtype=np.int64)
    usable = np.flatnonzero(np.isfinite(key))
    if not len(usable):
        return out
    order = usable[np.lexsort((tie[usable], -key[usable], owner[usable]))]
    first = np.r_[True, owner[order][1:] != owner[order][:-1]]
    out[owner[order[first]]] = order[first]
    return out


def _offsets(width: np.ndarray, base: int, longest: int) -> tuple[np.ndarray, np.ndarray]:
    """Threshold offsets to try (nearest first) and, per sample, which are in use.

    The ``width`` nearest thresholds each way, plus far jumps at ``base * 2^i - 1`` that cross many thresholds at
    once (many trees of a large ensemble change leaf together).
    """
    far = [base * 2 ** i - 1 for i in range(1, 64) if base * 2 ** i - 1 < longest]
    offsets = np.unique(np.concatenate([np.arange(int(width.max())), np.asarray(far, dtype=np.int64)]))
    use = (offsets[None, :] < width[:, None]) | np.isin(offsets, far)[None, :]
    return offsets, use


def _moves(adv: np.ndarray, width: np.ndarray, base: int, thresholds: list[np.ndarray], movable: list[int],
           space: _Space) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate (sample, feature, value): each feature just past some of its nearest thresholds either way."""
    offsets, use = _offsets(width, base, max(len(thresholds[f]) for f in movable))
    owners, feats, values = [], [], []
    for f in movable:
        t = thresholds[f]
        pos = np.searchsorted(t, adv[:, f], side="left")[:, None]
        for up, at in ((True, pos + offsets), (False, pos - 1 - offsets)):
            inside = (at >= 0) & (at < len(t)) & use
            v, ok = space.cross(f, t[np.clip(at, 0, len(t) - 1)], up)
            keep = inside & ok & (v != adv[:, f, None])
            rows, cols = np.nonzero(keep)
            owners.append(rows)
            feats.append(np.full(len(rows), f))
            values.append(v[rows, cols])
    if not owners:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(owners), np.concatenate(feats), np.concatenate(values)


def _pull_back(batch: QueryBatch, adv: np.ndarray, idx: np.ndarray, feats: np.ndarray,
               thresholds: list[np.ndarray], space: _Space) -> None:
    """For each sample's feature, the value closest to the original among the region edges in between that still
    fools the model (one call for all samples)."""
    owners, values = [], []
    for f in np.unique(feats):
        sel = np.flatnonzero(feats == f)
        for s in sel:
            cand = _edges(float(batch.x[idx[s], f]), float(adv[idx[s], f]), thresholds[f], int(f), space)
            owners.append(np.full(len(cand), s))
            values.append(cand)
    local = np.concatenate(owners)
    if not len(local):
        return
    value = np.concatenate(values)
    owner = idx[local]
    rows = adv[owner].copy()
    rows[np.arange(len(rows)), feats[local]] = value
    rows = batch.project(rows, owner)
    fooled = batch.fooled(rows, owner)
    gap = np.abs(value - batch.x[owner, feats[local]])
    pick = _best_per_owner(local, np.where(fooled, -gap, -np.inf), np.zeros(len(rows)), len(idx))
    better = pick >= 0
    adv[idx[better]] = rows[pick[better]]


def _edges(x: float, a: float, t: np.ndarray, f: int, space: _Space) -> np.ndarray:
    """The original value and the values just past each threshold between it and the adversarial value."""
    if a > x:
        lo, hi = np.searchsorted(t, x, side="left"), np.searchsorted(t, a, side="left")
    else:
        lo, hi = np.searchsorted(t, a, side="left"), np.searchsorted(t, x, side="left")
    count = min(int(hi - lo), _SHRINK_POINTS)
    picks = np.unique(np.linspace(float(lo), float(hi - 1), count).round().astype(np.int64))
    v, ok = space.cross(f, t[picks], a > x)
    between = (v - x) * (a - x) >= 0
    return np.concatenate([[x], v[ok & between & (np.abs(v - x) < abs(a - x))]])


def _shrink_radius(batch: QueryBatch, adv: np.ndarray, idx: np.ndarray) -> None:
    """Linf: bisect a common radius to clip every change to, keeping the smallest that still fools the model."""
    x0 = batch.x[idx].astype(np.float64)
    high = _row_norm(adv[idx] - x0, "inf").astype(np.float64)
    low = np.zeros(len(idx))
    for _ in range(20):
        live = np.flatnonzero(high - low > 1e-4 * np.maximum(high, 1e-12))
        if not len(live):
            break
        mid = (low[live] + high[live]) / 2
        cand = np.clip(adv[idx[live]], x0[live] - mid[:, None], x0[live] + mid[:, None])
        rows = batch.project(cand, idx[live])
        hit = batch.fooled(rows, idx[live])
        high[live] = np.where(hit, mid, high[live])
        low[live] = np.where(hit, low[live], mid)
        adv[idx[live[hit]]] = rows[hit]


# -- exact search on one tree --------------------------------------------------------------------------------------
def _leaf_boxes(tree: Any, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per leaf: the box ``lo < x <= hi`` of inputs that reach it, and its predicted class index."""
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    feature, threshold = np.asarray(tree.feature), np.asarray(tree.threshold, dtype=np.float64)
    lo = np.full((len(left), d), -np.inf)
    hi = np.full((len(left), d), np.inf)
    for node in range(len(left)):  # scikit-learn numbers a node before its children
        if left[node] == -1:
            continue
        f, t = feature[node], threshold[node]
        lo[left[node]], hi[left[node]] = lo[node], hi[node]
        lo[right[node]], hi[right[node]] = lo[node], hi[node]
        hi[left[node], f] = min(hi[node, f], t)
        lo[right[node], f] = max(lo[node, f], t)
    leaves = np.flatnonzero(left == -1)
    return lo[leaves], hi[leaves], np.asarray(tree.value)[leaves, 0].argmax(axis=1)


def _feasible_boxes(lo: np.ndarray, hi: np.ndarray, space: _Space) -> tuple[np.ndarray, np.ndarray]:
    """Closed per-feature ranges ``[a, b]`` of float32 (or integer) values inside each leaf box and the bounds."""
    a = np.maximum(_above(lo), space.lower)
    b = np.minimum(_at_or_below(hi), space.upper)
    a[:, space.integer] = np.ceil(a[:, space.integer])
    b[:, space.integer] = np.floor(b[:, space.integer])
    return a, b


def _closest_in_boxes(x: np.ndarray, a: np.ndarray, b: np.ndarray, space: _Space) -> tuple[np.ndarray, np.ndarray]:
    """Closest feasible point of every box for every sample ((m, L, d)) and whether the box holds one."""
    start = np.where(space.integer, np.round(x), x).astype(np.float64)
    z = np.clip(start[:, None, :], a[None], b[None])
    ok = np.broadcast_to(np.all(a <= b, axis=1)[None, :], z.shape[:2]).copy()
    for f, values in space.allowed.items():
        inside = (values[None, None, :] >= a[None, :, f, None]) & (values[None, None, :] <= b[None, :, f, None])
        gap = np.where(inside, np.abs(values[None, None, :] - x[:, None, f, None]), np.inf)
        best = gap.argmin(axis=2)
        z[:, :, f] = values[best]
        ok &= np.isfinite(gap.min(axis=2))
    ok &= np.all(z[:, :, space.frozen] == x[:, None, space.frozen], axis=2)
    return z, ok


def _exact_tree(batch: QueryBatch, tree: Any, space: _Space, norm: str) -> tuple[np.ndarray, np.ndarray]:
    """Closest leaf of another class per sample; the few closest are verified with one call per sample group."""
    lo, hi, leaf_class = _leaf_boxes(tree, batch.d)
    a, b = _feasible_boxes(lo, hi, space)
    adv, found = batch.x.copy(), np.zeros(batch.n, dtype=bool)
    per_group = max(1, _BOX_ELEMENTS // max(len(lo) * batch.d, 1))
    for s in range(0, batch.n, per_group):
        idx = np.arange(s, min(s + per_group, batch.n))
        x = batch.x[idx].astype(np.float64)
        z, ok = _closest_in_boxes(x, a, b, space)
        ok &= leaf_class[None, :] != batch.y[idx, None]
        dist = np.where(ok, _row_norm(z - x[:, None, :], norm), np.inf)
        k = min(_VERIFY, dist.shape[1])
        near = np.argsort(dist, axis=1, kind="stable")[:, :k]
        rank = np.broadcast_to(np.arange(k), near.shape)
        usable = np.isfinite(np.take_along_axis(dist, near, axis=1))
        local = np.broadcast_to(np.arange(len(idx))[:, None], near.shape)[usable]
        rows = batch.project(z[local, near[usable]], idx[local])
        hit = batch.fooled(rows, idx[local])
        pick = _best_per_owner(local, np.where(hit, -rank[usable].astype(np.float64), -np.inf),
                               np.zeros(len(rows)), len(idx))
        good = pick >= 0
        adv[idx[good]] = rows[pick[good]]
        found[idx[good]] = True
    return adv, found


TREE_ATTACKS: dict[str, type[Attack]] = {"trees": TreeEnsembleAttack}
"""Tree-model attacks by CLI name."""
