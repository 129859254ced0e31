"""Black-box attacks that only read the model's outputs: HopSkipJump, Sign-OPT and Square, in NumPy.

IBM ART runs these one sample at a time, so a random forest pays its per-call overhead once per sample per query
round. Here every phase (initial search, binary search, gradient-direction probes, step-size search) stacks the
queries of all samples still in play into one ``model.predict_proba`` call: the number of calls follows the number
of steps, not samples x steps. Every candidate is ``Constraints.project``-ed before it is queried, so immutable
features never move and integers stay whole; the result is re-verified with one final call.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from bastion.model.attacks.base import Attack, AttackRun, perturbation_norm
from bastion.model.base import ModelAdapter, ModelError
from bastion.model.constraints import Constraints

MAX_ROWS = 1_000_000
"""Most rows sent to the model in one call; bigger query sets are split."""
MAX_ELEMENTS = 1 << 25
"""Most float32 values (rows x features) sent in one call or held in one probe array (128 MiB)."""
_TINY = 1e-12


# -- shared by the NumPy attacks (decision-based and tree attacks) ----------------------------------------------
class QueryBatch:
    """One batch under attack: flattened originals, true labels, feasibility, and batched model queries.

    ``spent`` counts rows queried per sample, for attacks with a per-sample query budget.
    """

    def __init__(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray, constraints: Constraints | None) -> None:
        if model.text:
            raise ModelError(f"{model.name}: this attack works on numeric inputs; use a text attack")
        arr = np.asarray(x, dtype=np.float32)
        if arr.shape[1:] != model.input_shape:
            raise ModelError(f"{model.name}: x shaped {arr.shape[1:]} per sample, the model takes {model.input_shape}")
        labels = np.asarray(y).reshape(-1)
        if len(labels) != len(arr):
            raise ValueError(f"y has {len(labels)} labels for {len(arr)} samples")
        if len(labels) and (labels.min() < 0 or labels.max() >= model.n_classes):
            raise ValueError(f"y must hold class indices 0..{model.n_classes - 1}")
        self.model = model
        self.shape = tuple(arr.shape[1:])
        self.x = arr.reshape(len(arr), int(np.prod(self.shape, dtype=np.int64)))
        self.y = labels.astype(np.int64)
        self.n, self.d = self.x.shape
        self.constraints = constraints
        if constraints is not None:
            constraints.check(self.d)
        self.mask = np.ones(self.d, np.float32) if constraints is None else constraints.gradient_mask(self.d)
        self.lower, self.upper = _sampling_box(self.x, constraints)
        self.spent = np.zeros(self.n, dtype=np.int64)

    @property
    def cap(self) -> int:
        """Rows per model call."""
        return max(1, min(MAX_ROWS, MAX_ELEMENTS // max(self.d, 1)))

    def project(self, rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Feasible version of each candidate row (``owner``: the sample each row perturbs)."""
        rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), self.d)
        if self.constraints is None or not len(rows):
            return rows
        return self.constraints.project(rows, self.x[owner])

    def proba(self, rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Class probabilities for flattened rows, in as few model calls as the row cap allows."""
        self.spent += np.bincount(owner, minlength=self.n)
        parts = [self.model.predict_proba(rows[s:s + self.cap].reshape(-1, *self.shape))
                 for s in range(0, len(rows), self.cap)]
        if not parts:
            return np.zeros((0, self.model.n_classes))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def fooled(self, rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Per row: the model's prediction differs from the owner's true label."""
        return np.asarray(self.proba(rows, owner).argmax(axis=1) != self.y[owner])

    def margin(self, rows: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-probability margin of the true class over the best other class, and whether the row is fooled."""
        proba = self.proba(rows, owner)
        logp = np.log(np.clip(proba, _TINY, None))
        rows_at = np.arange(len(rows))
        true = logp[rows_at, self.y[owner]]
        logp[rows_at, self.y[owner]] = -np.inf
        return true - logp.max(axis=1), np.asarray(proba.argmax(axis=1) != self.y[owner])


def _sampling_box(x: np.ndarray, constraints: Constraints | None) -> tuple[np.ndarray, np.ndarray]:
    """Finite per-feature box to draw random starts in: the constraint bounds, else the batch's range."""
    d = x.shape[1]
    lower = x.min(axis=0).astype(np.float64) if len(x) else np.zeros(d)
    upper = x.max(axis=0).astype(np.float64) if len(x) else np.ones(d)
    if constraints is not None:
        for given, out in ((constraints.lower, lower), (constraints.upper, upper)):
            if given is not None:
                full = np.broadcast_to(np.asarray(given, dtype=np.float64).reshape(-1), (d,))
                np.copyto(out, full, where=np.isfinite(full))
    flat = upper - lower <= 0
    lower[flat] -= 1.0
    upper[flat] += 1.0
    return lower, upper


def finish_run(batch: QueryBatch, name: str, norm: str, eps: float | None, adversarial: np.ndarray,
               found: np.ndarray, queries_before: int, started: float) -> AttackRun:
    """Re-verify the candidates with one model call and package the run (originals kept where the attack failed)."""
    success = np.asarray(found, dtype=bool).copy()
    rows = np.flatnonzero(success)
    if len(rows):
        success[rows] = batch.fooled(adversarial[rows], rows)
        if batch.constraints is not None:
            success[rows] &= batch.constraints.satisfied(adversarial[rows], batch.x[rows])
    size = perturbation_norm(adversarial - batch.x, norm)
    if eps is not None:
        success &= size <= eps * (1 + 1e-6) + 1e-7
    adv = np.where(success[:, None], adversarial, batch.x).astype(np.float32)
    return AttackRun(name=name, norm=norm, eps=eps, adversarial=adv.reshape(batch.n, *batch.shape),
                     success=success, perturbation=np.where(success, size, np.inf),
                     queries=batch.model.queries - queries_before, seconds=time.perf_counter() - started)


def _row_norm(delta: np.ndarray, norm: str) -> np.ndarray:
    """Norm over the last axis (``2`` or ``inf``)."""
    if norm == "2":
        return np.asarray(np.sqrt(np.einsum("...i,...i->...", delta, delta, dtype=np.float64)))
    return np.asarray(np.abs(delta).max(axis=-1, initial=0.0))


def _check_int(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _check_norm(value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"norm must be one of {allowed}, got {value!r}")


def _groups(n: int, per_sample: int, cap: int) -> list[slice]:
    """Slices of samples such that each slice's probes (``per_sample`` rows each) fit one call."""
    size = max(1, cap // max(per_sample, 1))
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def _unit(v: np.ndarray) -> np.ndarray:
    """Rows of ``v`` scaled to unit L2 norm (zero rows stay zero)."""
    return np.asarray(v / (np.linalg.norm(v, axis=-1, keepdims=True) + _TINY))


# -- HopSkipJump ---------------------------------------------------------------------------------------------------
class HopSkipJump(Attack):
    """HopSkipJump (Chen, Jordan & Wainwright 2020), untargeted and minimum-norm, batched across samples.

    Starts from random feasible points the model gets wrong, then alternates a binary search onto the decision
    boundary, a Monte-Carlo estimate of the boundary's normal from ``init_eval * sqrt(t)`` probes (at most
    ``max_eval``), and a geometric step-size search along it. Defaults follow ART's so results compare.
    """

    name = "hopskipjump"
    minimal = True

    def __init__(self, norm: str = "2", max_iter: int = 50, max_eval: int = 10000, init_eval: int = 100,
                 init_size: int = 100, gamma: float = 1.0, seed: int = 0) -> None:
        _check_norm(norm, ("2", "inf"))
        _check_int("max_iter", max_iter, 0)
        _check_int("init_eval", init_eval, 1)
        _check_int("max_eval", max_eval, 1)
        if max_eval < init_eval:
            raise ValueError(f"max_eval ({max_eval}) must be at least init_eval ({init_eval})")
        _check_int("init_size", init_size, 1)
        _check_positive("gamma", gamma)
        _check_int("seed", seed, 0)
        self.norm = norm
        self.max_iter, self.max_eval, self.init_eval, self.init_size = max_iter, max_eval, init_eval, init_size
        self.gamma = float(gamma)
        self.seed = seed

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        started, before = time.perf_counter(), model.queries
        batch = QueryBatch(model, x, y, constraints)
        rng = np.random.default_rng(self.seed)
        adv = batch.x.copy()
        found = np.zeros(batch.n, dtype=bool)
        if batch.n:
            idx, start = _random_start(batch, self.init_size, self.norm, rng)
            if len(idx):
                adv[idx] = self._search(batch, idx, start, rng)
                found[idx] = True
        return finish_run(batch, self.name, self.norm, None, adv, found, before, started)

    def _search(self, batch: QueryBatch, idx: np.ndarray, start: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        d = batch.d
        theta = self.gamma / (d * math.sqrt(d)) if self.norm == "2" else self.gamma / d ** 2
        x0 = batch.x[idx]
        cur = self._bisect(batch, idx, x0, start, theta)
        first_delta = 0.1 * float(np.sqrt(np.mean((batch.upper - batch.lower) ** 2)))
        for t in range(1, self.max_iter + 1):
            dist = _row_norm(cur - x0, self.norm)
            scale = math.sqrt(d) if self.norm == "2" else d
            delta = np.full(len(idx), first_delta) if t == 1 else np.maximum(scale * theta * dist, _TINY)
            probes = min(int(self.init_eval * math.sqrt(t)), self.max_eval)
            direction = self._direction(batch, idx, cur, delta, probes, rng)
            cur = self._step(batch, idx, cur, direction, dist / math.sqrt(t))
            cur = self._bisect(batch, idx, x0, cur, theta)
        return cur

    def _interpolate(self, x0: np.ndarray, adv: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Point between original (alpha 0) and adversarial: a blend for L2, a shrinking box for Linf."""
        if self.norm == "2":
            return np.asarray((1 - alpha[:, None]) * x0 + alpha[:, None] * adv)
        return np.asarray(np.clip(adv, x0 - alpha[:, None], x0 + alpha[:, None]))

    def _bisect(self, batch: QueryBatch, idx: np.ndarray, x0: np.ndarray, adv: np.ndarray,
                theta: float) -> np.ndarray:
        """Binary search from each adversarial point toward its original; every sample in one call per halving."""
        if self.norm == "2":
            high = np.ones(len(idx))
            tol = np.full(len(idx), theta)
        else:
            high = _row_norm(adv - x0, "inf").astype(np.float64)
            tol = np.maximum(np.minimum(high * theta, theta), _TINY)
        low = np.zeros(len(idx))
        best = adv.copy()
        for _ in range(64):
            live = np.flatnonzero(high - low > tol)
            if not len(live):
                break
            mid = (low[live] + high[live]) / 2
            rows = batch.project(self._interpolate(x0[live], adv[live], mid), idx[live])
            hit = batch.fooled(rows, idx[live])
            high[live] = np.where(hit, mid, high[live])
            low[live] = np.where(hit, low[live], mid)
            best[live[hit]] = rows[hit]
        return best

    def _direction(self, batch: QueryBatch, idx: np.ndarray, cur: np.ndarray, delta: np.ndarray, probes: int,
                   rng: np.random.Generator) -> np.ndarray:
        """Estimate of the boundary normal at each point from ``probes`` random probes (one call per group)."""
        out = np.empty_like(cur, dtype=np.float64)
        for part in _groups(len(idx), probes, batch.cap):
            k = len(idx[part])
            shape = (k, probes, batch.d)
            noise = rng.standard_normal(shape) if self.norm == "2" else rng.uniform(-1.0, 1.0, shape)
            noise = _unit(noise * batch.mask)
            step = delta[part, None, None]
            owner = np.repeat(idx[part], probes)
            rows = batch.project((cur[part, None, :] + step * noise).reshape(-1, batch.d), owner)
            sign = np.where(batch.fooled(rows, owner), 1.0, -1.0).reshape(k, probes)
            noise = (rows.reshape(shape) - cur[part, None, :]) / step  # what was really probed, after projection
            mean = sign.mean(axis=1, keepdims=True)
            weight = np.where(np.abs(mean) == 1.0, sign, sign - mean)  # baseline only when outcomes differ
            out[part] = np.einsum("kp,kpd->kd", weight, noise) / probes
        out *= batch.mask
        return _unit(out) if self.norm == "2" else np.sign(out)

    def _step(self, batch: QueryBatch, idx: np.ndarray, cur: np.ndarray, direction: np.ndarray,
              size: np.ndarray) -> np.ndarray:
        """Geometric step-size search: halve each sample's step until the moved point stays adversarial."""
        size = size.astype(np.float64).copy()
        out = cur.copy()
        live = np.arange(len(idx))
        for _ in range(30):
            if not len(live):
                break
            rows = batch.project(cur[live] + size[live, None] * direction[live], idx[live])
            hit = batch.fooled(rows, idx[live])
            out[live[hit]] = rows[hit]
            live = live[~hit]
            size[live] /= 2
        return out


def _random_start(batch: QueryBatch, tries: int, norm: str,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the closest of up to ``tries`` uniform random feasible points that the model gets wrong.

    Samples that random points never fool (a class that covers most of the box) fall back on the batch's samples
    of other classes, projected to be feasible for them.
    """
    pending = np.arange(batch.n)
    found, starts = [np.zeros(0, dtype=np.int64)], [np.zeros((0, batch.d), np.float32)]
    left = tries
    while left > 0 and len(pending):
        k = min(left, max(1, batch.cap // len(pending)))
        left -= k
        noise = rng.uniform(batch.lower, batch.upper, (len(pending), k, batch.d)).astype(np.float32)
        ok, start = _closest_fooled(batch, pending, noise, norm)
        found.append(pending[ok])
        starts.append(start)
        pending = pending[~ok]
    others = [np.flatnonzero(batch.y != batch.y[i])[:tries] for i in pending]
    width = max((len(o) for o in others), default=0)
    if width:
        has = np.array([len(o) > 0 for o in others])
        pool = np.stack([batch.x[np.resize(o, width)] for o in others if len(o)])
        ok, start = _closest_fooled(batch, pending[has], pool, norm)
        found.append(pending[has][ok])
        starts.append(start)
    return np.concatenate(found), np.concatenate(starts)


def _closest_fooled(batch: QueryBatch, owners: np.ndarray, cand: np.ndarray,
                    norm: str) -> tuple[np.ndarray, np.ndarray]:
    """Project ``cand`` (owners x k x d), query it in one call; per owner, whether any fooled and the closest."""
    m, k, d = cand.shape
    rows = batch.project(cand.reshape(-1, d), np.repeat(owners, k)).reshape(m, k, d)
    hit = batch.fooled(rows.reshape(-1, d), np.repeat(owners, k)).reshape(m, k)
    dist = np.where(hit, _row_norm(rows - batch.x[owners, None], norm), np.inf)
    best = dist.argmin(axis=1)
    ok = np.asarray(hit.any(axis=1))
    return ok, rows[np.flatnonzero(ok), best[ok]]


# -- Sign-OPT ------------------------------------------------------------------------------------------------------
@dataclass
class _Rays:
    """Sign-OPT state for the samples still being optimised (one row each)."""

    theta: np.ndarray
    """Unit search direction per sample."""
    dist: np.ndarray
    """Distance along ``theta`` at which the model is first fooled (g(theta) in the paper)."""
    point: np.ndarray
    """The feasible adversarial point found at ``dist`` (what the attack returns)."""
    alpha: np.ndarray
    """Step size of the direction update."""
    beta: np.ndarray
    """Smoothing radius of the sign-gradient probes."""


_MIN_GAIN = 1e-5
"""Relative resolution of boundary distances: finer than this, float32 inputs and batch-dependent float
arithmetic in the model make "fooled" flip between calls."""


def _search_tol(beta: np.ndarray) -> np.ndarray:
    """Relative tolerance of the fine binary search: Sign-OPT's beta / 500, floored at the float resolution."""
    return np.maximum(beta / 500, _MIN_GAIN)


_STEP_FACTORS = np.array([1.0, 2.0, 4.0, 0.25, 0.0625])
"""Multiples of ``alpha`` tried at once in the line search (Sign-OPT tries them one after another)."""


class SignOPT(Attack):
    """Sign-OPT (Cheng et al. 2020): minimum-L2 decision-based attack that optimises a search direction.

    g(theta) is the distance along direction theta to the decision boundary; its gradient's sign is estimated from
    ``k`` probes that each cost one query, the direction takes a line-searched step, and g is re-measured by a
    fine binary search. All samples, probes and line-search candidates share one model call per round; a sample
    stops after ``max_queries`` queries or when its smoothing radius underflows.
    """

    name = "signopt"
    norm = "2"
    minimal = True

    def __init__(self, max_iter: int = 1000, max_queries: int = 20000, k: int = 200, alpha: float = 0.2,
                 beta: float = 0.001, init_trials: int = 100, seed: int = 0) -> None:
        _check_int("max_iter", max_iter, 0)
        _check_int("max_queries", max_queries, 1)
        _check_int("k", k, 1)
        _check_positive("alpha", alpha)
        _check_positive("beta", beta)
        _check_int("init_trials", init_trials, 1)
        _check_int("seed", seed, 0)
        self.max_iter, self.max_queries, self.k, self.init_trials = max_iter, max_queries, k, init_trials
        self.alpha, self.beta = float(alpha), float(beta)
        self.seed = seed

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        started, before = time.perf_counter(), model.queries
        batch = QueryBatch(model, x, y, constraints)
        rng = np.random.default_rng(self.seed)
        adv = batch.x.copy()
        found = np.zeros(batch.n, dtype=bool)
        idx, rays = self._initial(batch, rng)
        if len(idx):
            self._optimise(batch, idx, rays, rng)
            adv[idx] = rays.point
            found[idx] = True
        return finish_run(batch, self.name, self.norm, None, adv, found, before, started)

    def _initial(self, batch: QueryBatch, rng: np.random.Generator) -> tuple[np.ndarray, _Rays]:
        """Random directions (scaled to the data box) until the model is fooled; keep the best per sample."""
        n, d, trials = batch.n, batch.d, self.init_trials
        theta = np.zeros((n, d))
        dist = np.full(n, np.inf)
        for part in _groups(n, trials, batch.cap):
            k = len(range(n)[part])
            owner = np.repeat(np.arange(n)[part], trials)
            raw = rng.standard_normal((k, trials, d)) * (batch.upper - batch.lower) * batch.mask
            length = np.linalg.norm(raw, axis=-1).reshape(-1)
            dirs = raw.reshape(-1, d) / (length[:, None] + _TINY)
            length = np.where(length > 0, length, np.inf)
            hit = batch.fooled(batch.project(batch.x[owner] + raw.reshape(-1, d), owner), owner)
            lam, _ = _ray_search(batch, owner[hit], dirs[hit], np.zeros(int(hit.sum())), length[hit], 1e-3)
            lam_all = np.full(len(owner), np.inf)
            lam_all[hit] = lam
            grid = lam_all.reshape(k, trials)
            best = grid.argmin(axis=1)
            theta[part] = dirs.reshape(k, trials, d)[np.arange(k), best]
            dist[part] = grid[np.arange(k), best]
        idx = np.flatnonzero(np.isfinite(dist))
        tol = dist[idx] * _search_tol(np.full(len(idx), self.beta))
        lam, point = _fine_search(batch, idx, theta[idx], dist[idx], tol)
        keep = np.isfinite(lam)
        m = int(keep.sum())
        return idx[keep], _Rays(theta=theta[idx][keep], dist=lam[keep], point=point[keep],
                                alpha=np.full(m, self.alpha), beta=np.full(m, self.beta))

    def _optimise(self, batch: QueryBatch, idx: np.ndarray, rays: _Rays, rng: np.random.Generator) -> None:
        live = np.ones(len(idx), dtype=bool)
        for _ in range(self.max_iter):
            live &= (batch.spent[idx] < self.max_queries) & (rays.beta >= 1e-8)
            act = np.flatnonzero(live)
            if not len(act):
                break
            grad = self._sign_gradient(batch, idx[act], rays.theta[act], rays.dist[act], rays.beta[act], rng)
            self._line_search(batch, idx, act, rays, grad)
            stuck = rays.alpha < 1e-4
            rays.alpha[stuck] = 1.0
            rays.beta[stuck] *= 0.1

    def _sign_gradient(self, batch: QueryBatch, idx: np.ndarray, theta: np.ndarray, dist: np.ndarray,
                       beta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Mean of ``k`` random unit vectors, each signed by whether the slightly turned ray is already fooled."""
        out = np.empty_like(theta)
        for part in _groups(len(idx), self.k, batch.cap):
            m = len(idx[part])
            u = _unit(rng.standard_normal((m, self.k, batch.d)) * batch.mask)
            turned = _unit(theta[part, None, :] + beta[part, None, None] * u)
            owner = np.repeat(idx[part], self.k)
            rows = batch.x[owner] + (dist[part, None, None] * turned).reshape(-1, batch.d)
            fooled = batch.fooled(batch.project(rows, owner), owner).reshape(m, self.k)
            out[part] = np.einsum("mk,mkd->md", np.where(fooled, -1.0, 1.0), u) / self.k
        return out

    def _line_search(self, batch: QueryBatch, idx: np.ndarray, act: np.ndarray, rays: _Rays,
                     grad: np.ndarray) -> None:
        """Try several step sizes at once; keep the direction with the shortest distance to the boundary."""
        c = len(_STEP_FACTORS)
        steps = rays.alpha[act, None] * _STEP_FACTORS[None, :]
        cand = _unit((rays.theta[act, None, :] - steps[..., None] * grad[:, None, :]) * batch.mask)
        owner = np.repeat(idx[act], c)
        start = np.repeat(rays.dist[act], c)
        lam, point = _fine_search(batch, owner, cand.reshape(-1, batch.d), start,
                                  start * _search_tol(np.repeat(rays.beta[act], c)))
        lam = lam.reshape(len(act), c)
        best = lam.argmin(axis=1)
        shortest = lam[np.arange(len(act)), best]
        better = shortest < rays.dist[act] * (1 - _MIN_GAIN)
        won = act[better]
        rays.theta[won] = cand[better, best[better]]
        rays.dist[won] = shortest[better]
        rays.point[won] = point.reshape(len(act), c, batch.d)[better, best[better]]
        grow = np.where(best[better] == int(_STEP_FACTORS.argmax()), 2.0, 1.0)
        rays.alpha[won] = steps[better, best[better]] * grow
        rays.alpha[act[~better]] *= _STEP_FACTORS.min() / 4


def _ray_search(batch: QueryBatch, owner: np.ndarray, dirs: np.ndarray, low: np.ndarray, high: np.ndarray,
                rel_tol: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bisect each ray's distance between ``low`` (not fooled) and ``high`` (fooled); return high and its point."""
    low, high = low.astype(np.float64).copy(), high.astype(np.float64).copy()
    tol = np.broadcast_to(np.asarray(rel_tol, dtype=np.float64), high.shape) * np.maximum(high, _TINY)
    point = batch.project(batch.x[owner] + high[:, None] * dirs, owner)
    for _ in range(80):
        live = np.flatnonzero(high - low > tol)
        if not len(live):
            break
        mid = (low[live] + high[live]) / 2
        rows = batch.project(batch.x[owner[live]] + mid[:, None] * dirs[live], owner[live])
        hit = batch.fooled(rows, owner[live])
        high[live] = np.where(hit, mid, high[live])
        low[live] = np.where(hit, low[live], mid)
        point[live[hit]] = rows[hit]
    return high, point


def _fine_search(batch: QueryBatch, owner: np.ndarray, dirs: np.ndarray, start: np.ndarray,
                 tol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundary distance along each ray if it is below ``start`` (else inf): bracket downwards, then bisect."""
    lam = np.full(len(owner), np.inf)
    point = np.zeros((len(owner), batch.d), np.float32)
    if not len(owner):
        return lam, point
    first = batch.project(batch.x[owner] + start[:, None] * dirs, owner)
    hit = np.flatnonzero(batch.fooled(first, owner))
    high, low = start[hit].astype(np.float64), np.zeros(len(hit))
    live = np.arange(len(hit))
    for j in range(8):  # lower the bracket by 1%, 2%, 4%... while still fooled (Sign-OPT steps by 1%)
        if not len(live):
            break
        trial = start[hit[live]] * (1 - 0.01 * 2 ** j) if j < 7 else np.zeros(len(live))
        rows = batch.project(batch.x[owner[hit[live]]] + trial[:, None] * dirs[hit[live]], owner[hit[live]])
        fooled = batch.fooled(rows, owner[hit[live]])
        low[live[~fooled]] = trial[~fooled]
        high[live[fooled]] = trial[fooled]
        live = live[fooled]
    lam[hit], point[hit] = _ray_search(batch, owner[hit], dirs[hit], low, high, tol[hit] / np.maximum(high, _TINY))
    return lam, point


# -- Square --------------------------------------------------------------------------------------------------------
_P_SCHEDULE = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128), (8000, 256))
"""Square's window-size schedule: (iteration out of 10,000, divisor of p_init); 512 after the last."""


def _p_at(p_init: float, step: int, steps: int) -> float:
    at = int(step / max(steps, 1) * 10000)
    for limit, divisor in _P_SCHEDULE:
        if at <= limit:
            return p_init / divisor
    return p_init / 512


def _grid(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Samples as (channels, height, width): flat vectors are a 1-D image of one row, images keep their squares."""
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return 1, 1, int(np.prod(shape, dtype=np.int64))


def _bump(h: int, w: int) -> np.ndarray:
    """Centred pseudo-Gaussian bump (sums of 1/(k+1)^2 over nested rectangles), unit L2 norm."""
    ri = np.abs(np.arange(h) - (h - 1) / 2)
    ci = np.abs(np.arange(w) - (w - 1) / 2)
    ring = np.ceil(np.maximum(ri[:, None], ci[None, :]) - 1e-9).astype(int)
    weights = 1.0 / (np.arange(int(ring.max()) + 1) + 1.0) ** 2
    bump = np.cumsum(weights[::-1])[::-1][ring]
    return np.asarray(bump / np.linalg.norm(bump))


def _split_bump(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Two opposite-signed bumps side by side (along the longer side, or a random side of a square)."""
    along_width = w > h or (w == h and rng.random() < 0.5)
    if (w if along_width else h) < 2:
        return _bump(h, w)
    out = np.zeros((h, w))
    if along_width:
        half = w // 2
        out[:, :half], out[:, half:] = _bump(h, half), -_bump(h, w - half)
    else:
        half = h // 2
        out[:half], out[half:] = _bump(half, w), -_bump(h - half, w)
    return np.asarray(out / np.linalg.norm(out))


class Square(Attack):
    """Square attack (Andriushchenko et al. 2020): random-search on the margin loss within ``eps`` (bounded).

    Each round proposes, for every sample not yet fooled, a change in one random window (a square for images, a run
    of contiguous features for flat tabular inputs) and keeps it when the true-class log-probability margin drops.
    Window sizes shrink on the paper's schedule. ``max_queries`` bounds queries per sample.
    """

    name = "square"
    minimal = False

    def __init__(self, eps: float, norm: str = "inf", max_queries: int = 1000, p_init: float | None = None,
                 seed: int = 0) -> None:
        _check_positive("eps", eps)
        _check_norm(norm, ("inf", "2"))
        _check_int("max_queries", max_queries, 1)
        p = (0.05 if norm == "inf" else 0.1) if p_init is None else p_init
        _check_positive("p_init", p)
        if p > 1:
            raise ValueError(f"p_init must be in (0, 1], got {p!r}")
        _check_int("seed", seed, 0)
        self.eps, self.norm, self.max_queries, self.p_init, self.seed = float(eps), norm, max_queries, float(p), seed

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        started, before = time.perf_counter(), model.queries
        batch = QueryBatch(model, x, y, constraints)
        rng = np.random.default_rng(self.seed)
        if not batch.n:
            return finish_run(batch, self.name, self.norm, self.eps, batch.x, np.zeros(0, bool), before, started)
        c, h, w = _grid(batch.shape)
        everyone = np.arange(batch.n)
        init = self._init_linf(batch, rng, c, h, w) if self.norm == "inf" else self._init_l2(batch, rng, c, h, w)
        best, ok = self._fit(batch, init, everyone)
        margin, fooled = batch.margin(best, everyone)
        margin[~ok] = np.inf
        fooled &= ok
        steps = self.max_queries - 1
        for i in range(steps):
            act = np.flatnonzero(~fooled)
            if not len(act):
                break
            p = _p_at(self.p_init, i, steps)
            delta = (best[act] - batch.x[act]).reshape(len(act), c, h, w)
            if self.norm == "inf":
                delta = self._propose_linf(delta, rng, p)
            else:
                delta = self._propose_l2(delta, rng, p, batch.mask.reshape(c, h, w))
            cand, feasible = self._fit(batch, batch.x[act] + delta.reshape(len(act), -1), act)
            new_margin, new_fooled = batch.margin(cand, act)
            better = feasible & (new_margin < margin[act])
            best[act[better]] = cand[better]
            margin[act[better]] = new_margin[better]
            fooled[act[better]] = new_fooled[better]
        return finish_run(batch, self.name, self.norm, self.eps, best, fooled, before, started)

    def _fit(self, batch: QueryBatch, cand: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project candidates, pull Linf coordinates that projection pushed past eps back, flag L2 overshoots."""
        x0 = batch.x[owner]
        cand = batch.project(x0 + (cand - x0) * batch.mask, owner)
        if self.norm == "inf":
            over = np.abs(cand - x0) > self.eps * (1 + 1e-6)
            if over.any():
                cand = np.where(over, x0, cand)
            return cand, np.ones(len(cand), dtype=bool)
        return cand, _row_norm(cand - x0, "2") <= self.eps * (1 + 1e-6) + 1e-7

    def _init_linf(self, batch: QueryBatch, rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
        """Vertical stripes of +-eps (one sign per channel and column): per-feature signs on flat inputs."""
        signs = rng.choice(np.array([-1.0, 1.0]), size=(batch.n, c, 1, w))
        delta = np.broadcast_to(signs * self.eps, (batch.n, c, h, w)).reshape(batch.n, -1)
        return np.asarray(batch.x + delta)

    def _init_l2(self, batch: QueryBatch, rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
        """A grid of pseudo-Gaussian bumps with random signs, scaled to eps in total."""
        th, tw = max(h // 5, 1), max(w // 5, 1)
        delta = np.zeros((batch.n, c, h, w))
        for r0 in range(0, h - th + 1, th):
            for c0 in range(0, w - tw + 1, tw):
                sign = rng.choice(np.array([-1.0, 1.0]), size=(batch.n, c, 1, 1))
                delta[:, :, r0:r0 + th, c0:c0 + tw] += sign * _bump(th, tw)
        flat = delta.reshape(batch.n, -1) * batch.mask
        return np.asarray(batch.x + _unit(flat) * self.eps)

    @staticmethod
    def _window(h: int, w: int, p: float, minimum: int) -> tuple[int, int]:
        """Window covering a fraction ``p`` of the features: s x s on images, 1 x s on flat inputs."""
        if h == 1:
            return 1, int(np.clip(round(p * w), min(minimum, w), w))
        s = int(np.clip(round(math.sqrt(p * h * w)), min(minimum, h, w), min(h, w)))
        return s, s

    @staticmethod
    def _index(m: int, h: int, w: int, sh: int, sw: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Fancy indices (sample, channel-broadcast, row, column) of one random window per sample."""
        r0 = rng.integers(0, h - sh + 1, m)
        c0 = rng.integers(0, w - sw + 1, m)
        rows = (r0[:, None] + np.arange(sh))[:, None, :, None]
        cols = (c0[:, None] + np.arange(sw))[:, None, None, :]
        return np.arange(m)[:, None, None, None], rows, cols

    def _propose_linf(self, delta: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
        m, c, h, w = delta.shape
        sh, sw = self._window(h, w, p, 1)
        s_idx, rows, cols = self._index(m, h, w, sh, sw, rng)
        ch = np.arange(c)[None, :, None, None]
        sign = rng.choice(np.array([-1.0, 1.0]), size=(m, c, 1, 1))
        same = np.all(np.isclose(delta[s_idx, ch, rows, cols], sign * self.eps), axis=(2, 3), keepdims=True)
        sign = np.where(same, -sign, sign)  # a proposal that changes nothing would waste a query
        out = delta.copy()
        out[s_idx, ch, rows, cols] = sign * self.eps
        return out

    def _propose_l2(self, delta: np.ndarray, rng: np.random.Generator, p: float, mask: np.ndarray) -> np.ndarray:
        """Move mass: window 2 is emptied, window 1 gets its old direction plus a fresh bump, total stays eps."""
        m, c, h, w = delta.shape
        sh, sw = self._window(h, w, p, 3)
        ch = np.arange(c)[None, :, None, None]
        s1, r1, c1 = self._index(m, h, w, sh, sw, rng)
        s2, r2, c2 = self._index(m, h, w, sh, sw, rng)
        union = np.zeros(delta.shape, dtype=bool)
        union[s1, ch, r1, c1] = True
        union[s2, ch, r2, c2] = True
        mass = np.sqrt(np.sum(np.where(union, delta, 0.0) ** 2, axis=(2, 3), keepdims=True))
        total = np.sqrt(np.sum(delta ** 2, axis=(1, 2, 3), keepdims=True))
        old = delta[s1, ch, r1, c1]
        old_norm = np.sqrt(np.sum(old ** 2, axis=(2, 3), keepdims=True))
        sign = rng.choice(np.array([-1.0, 1.0]), size=(m, c, 1, 1))
        new = _split_bump(sh, sw, rng)[None, None] * sign + old / (old_norm + 1e-10)
        new_norm = np.sqrt(np.sum(new ** 2, axis=(2, 3), keepdims=True))
        budget = np.sqrt(np.maximum(self.eps ** 2 - total ** 2, 0.0) / c + mass ** 2)
        out = delta.copy()
        out[s2, ch, r2, c2] = 0.0
        out[s1, ch, r1, c1] = new / (new_norm + _TINY) * budget
        flat = (out * mask).reshape(m, -1)
        return np.asarray(_unit(flat) * self.eps).reshape(delta.shape)


DECISION_ATTACKS: dict[str, type[Attack]] = {"hopskipjump": HopSkipJump, "signopt": SignOPT, "square": Square}
"""Decision- and score-based attacks by CLI name."""
