"""Gradient attacks on a model's torch logits: FGSM, PGD, APGD-CE, Carlini-Wagner L2 and DeepFool.

All five differentiate cross-entropy (or the CW margin) with respect to the input only, on the whole batch in one
forward and one backward per step. Candidates stay in torch tensors between steps; plain bounds are applied with
``clamp``, and only constraints that need it (immutable, integer, categorical features) go through
``Constraints.project`` in NumPy. Bounded attacks retire a sample as soon as a step's forward pass shows it
misclassified (its candidate is kept as it is) and carry on with the rest, so later steps cost less; a run is
still a pure function of its ``seed``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from bastion.model.attacks.base import Attack, AttackRun, perturbation_norm
from bastion.model.base import ModelAdapter, ModelError, require_torch
from bastion.model.constraints import Constraints

Tensor = Any
"""A ``torch.Tensor`` (torch is optional, so it is typed loosely)."""
Counter = Callable[[int], None]
"""Records model evaluations made through ``logits_module`` (``ModelAdapter.count``)."""

_TINY = 1e-12
_TANH_EDGE = 1e-3
"""CW starts ``tanh w`` this far inside the box edge: from 1e-6 (atanh = 7.3), Adam needs hundreds of steps to move a
pixel at 0 or 1; from 1e-3 (atanh = 3.8) it takes tens, and the offset (at most 5e-4 of the range) is snapped back."""


def _torch() -> Any:
    return require_torch("gradient attacks")


def _no_count(_samples: int) -> None:
    """Counter for callers that do not report queries (adversarial training)."""


def _column(values: Tensor, like: Tensor) -> Tensor:
    """Per-sample values shaped to broadcast over samples shaped like ``like``."""
    return values.view(-1, *([1] * (like.dim() - 1)))


def _row_norm(t: Tensor, norm: str) -> Tensor:
    """Per-sample ``norm`` (``inf``, ``2`` or ``1``) of a batch."""
    flat = t.reshape(len(t), -1)
    order = math.inf if norm == "inf" else float(norm)
    return _torch().linalg.vector_norm(flat, ord=order, dim=1)


# -- constraints as tensors -------------------------------------------------------------------------------------
class Feasible:
    """``Constraints`` for torch loops: a per-feature box and gradient mask; NumPy projection only where needed."""

    def __init__(self, constraints: Constraints | None, input_shape: tuple[int, ...]) -> None:
        torch = _torch()
        self.lower: Tensor | None = None
        self.upper: Tensor | None = None
        self.mask: Tensor | None = None
        self.exact: Constraints | None = None
        self.integer: list[int] = []
        if constraints is None:
            return
        n_features = int(np.prod(input_shape, dtype=np.int64))
        constraints.check(n_features)
        shape = (1, *input_shape)
        for attr, value in (("lower", constraints.lower), ("upper", constraints.upper)):
            if value is not None:
                full = np.array(np.broadcast_to(np.asarray(value, dtype=np.float32).reshape(-1), (n_features,)))
                setattr(self, attr, torch.from_numpy(full.reshape(shape)))
        mask = constraints.gradient_mask(n_features)
        if not mask.all():
            self.mask = torch.from_numpy(mask.reshape(shape))
        if constraints.immutable or constraints.integer or constraints.categorical or constraints.allowed_values:
            self.exact = constraints
            self.integer = list(constraints.integer)

    @property
    def finite_box(self) -> bool:
        """Whether every feature has finite lower and upper bounds (CW then optimises in tanh space)."""
        return (self.lower is not None and self.upper is not None and bool(self.lower.isfinite().all())
                and bool(self.upper.isfinite().all()))

    def linf_box(self, x: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        """Per-sample ``[lo, hi]``: the eps cube around ``x`` inside the bounds, integer features to whole numbers."""
        torch = _torch()
        lo, hi = x - eps, x + eps
        if self.lower is not None:
            torch.maximum(lo, self.lower, out=lo)
        if self.upper is not None:
            torch.minimum(hi, self.upper, out=hi)
        if self.integer:
            # Rounding inside [ceil(lo), floor(hi)] cannot leave the eps cube.
            index = torch.tensor(self.integer)
            flat_lo, flat_hi = lo.view(len(lo), -1), hi.view(len(hi), -1)
            flat_lo[:, index] = flat_lo[:, index].ceil()
            flat_hi[:, index] = flat_hi[:, index].floor()
        return lo, hi

    def project(self, adv: Tensor, x: Tensor, *, eps: float | None = None, norm: str = "2",
                box: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """``adv`` back in the eps ball (``box`` for L-inf, ``eps`` for L2) and the feasible set; may work in place."""
        if box is not None:
            adv.clamp_(box[0], box[1])
        else:
            if eps is not None and norm == "2":
                adv = _l2_ball(adv, x, eps)
            if self.lower is not None or self.upper is not None:
                adv.clamp_(self.lower, self.upper)
        if self.exact is not None:
            adv = _torch().from_numpy(self.exact.project(adv.detach().numpy(), x.numpy()))
        return adv

    def masked(self, grad: Tensor) -> Tensor:
        """``grad`` with the directions an attack may not move in zeroed (in place)."""
        return grad if self.mask is None else grad.mul_(self.mask)


def _l2_ball(adv: Tensor, x: Tensor, eps: float) -> Tensor:
    delta = adv - x
    factor = (eps / _row_norm(delta, "2").clamp_min_(_TINY)).clamp_(max=1.0)
    return delta.mul_(_column(factor, delta)).add_(x)


def _direction(grad: Tensor, norm: str) -> Tensor:
    """Steepest-ascent direction of unit ``norm`` size (in place): the sign for L-inf, ``g / ||g||`` for L2."""
    if norm == "inf":
        return grad.sign_()
    return grad.div_(_column(_row_norm(grad, "2").clamp_min_(_TINY), grad))


def random_start(generator: Any, x: Tensor, eps: float, norm: str, feasible: Feasible) -> Tensor:
    """Uniform noise in the eps cube (L-inf) or ball (L2), zero where the attack may not move."""
    torch = _torch()
    if norm == "inf":
        noise = torch.rand(x.shape, generator=generator).mul_(2 * eps).sub_(eps)
    else:
        noise = torch.randn(x.shape, generator=generator)
        radius = torch.rand(len(x), generator=generator).pow_(1.0 / max(x[0].numel(), 1)).mul_(eps)
        noise.mul_(_column(radius / _row_norm(noise, "2").clamp_min_(_TINY), noise))
    return feasible.masked(noise)


# -- the batch of samples still being attacked ------------------------------------------------------------------
class _Active:
    """Per-sample tensors of the samples still under attack; retired samples are written to ``out``."""

    def __init__(self, out: Tensor, **state: Tensor) -> None:
        torch = _torch()
        self.out = out
        self.found = torch.zeros(len(out), dtype=torch.bool)
        self.index = torch.arange(len(out))
        self.state = {key: value for key, value in state.items() if value is not None}

    def __getitem__(self, key: str) -> Tensor:
        return self.state[key]

    def __setitem__(self, key: str, value: Tensor) -> None:
        self.state[key] = value

    def __len__(self) -> int:
        return len(self.index)

    def retire(self, done: Tensor, key: str = "adv") -> None:
        """Record ``state[key]`` for the ``done`` samples as found and drop them from the batch."""
        if not bool(done.any()):
            return
        rows = self.index[done]
        self.out[rows] = self.state[key][done]
        self.found[rows] = True
        keep = ~done
        self.index = self.index[keep]
        self.state = {name: value[keep] for name, value in self.state.items()}

    def finish(self, key: str = "adv") -> tuple[Tensor, Tensor]:
        """Write the survivors' ``state[key]`` back; return ``(out, found)``."""
        if len(self.index):
            self.out[self.index] = self.state[key]
        return self.out, self.found


def _ce_grad_outputs(logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Gradient of summed cross-entropy w.r.t. the logits (softmax - one-hot), and the per-sample loss."""
    torch = _torch()
    log_p = torch.log_softmax(logits, dim=1)
    loss = -log_p.gather(1, y[:, None]).squeeze(1)
    grad = log_p.exp_()
    grad.scatter_add_(1, y[:, None], torch.full_like(loss[:, None], -1.0))
    return grad, loss


def _loss_grad(module: Any, adv: Tensor, y: Tensor, count: Counter) -> tuple[Tensor, Tensor, Tensor]:
    """One forward and one backward: per-sample CE loss, its input gradient, and which samples are misclassified."""
    torch = _torch()
    inp = adv.detach().requires_grad_(True)
    logits = module(inp)
    count(len(inp))
    with torch.no_grad():
        grad_out, loss = _ce_grad_outputs(logits, y)
        wrong = logits.argmax(dim=1) != y
    (grad,) = torch.autograd.grad(logits, inp, grad_outputs=grad_out)
    return loss, grad, wrong


# -- PGD / FGSM -------------------------------------------------------------------------------------------------
def pgd_tensors(module: Any, x: Tensor, y: Tensor, *, eps: float, norm: str, step: float, steps: int,
                noise: Tensor | None, feasible: Feasible, count: Counter = _no_count,
                stop_on_success: bool = True) -> tuple[Tensor, Tensor]:
    """Projected gradient ascent on cross-entropy from ``x + noise``; returns ``(adv, found)``.

    With ``stop_on_success`` a sample leaves the batch at the first step whose forward pass shows it misclassified
    (``found``) and keeps that candidate; without it every sample takes all steps (adversarial training).
    """
    torch = _torch()
    box = feasible.linf_box(x, eps) if norm == "inf" else None
    start = x.clone() if noise is None else x + noise
    start = feasible.project(start, x, eps=eps, norm=norm, box=box)
    batch = _Active(start.clone(), x=x, y=y, adv=start, lo=box[0] if box else None, hi=box[1] if box else None)
    with torch.enable_grad():
        for _ in range(steps):
            _, grad, wrong = _loss_grad(module, batch["adv"], batch["y"], count)
            with torch.no_grad():
                if stop_on_success:
                    keep = ~wrong
                    batch.retire(wrong)
                    grad = grad[keep] if not bool(keep.all()) else grad
                    if not len(batch):
                        break
                adv = batch["adv"].add_(_direction(feasible.masked(grad), norm), alpha=step)
                sub_box = (batch["lo"], batch["hi"]) if box else None
                batch["adv"] = feasible.project(adv, batch["x"], eps=eps, norm=norm, box=sub_box)
    return batch.finish()


def _check_common(attack: str, eps: float | None, norm: str) -> None:
    if eps is not None and not (isinstance(eps, Real) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"{attack}: eps must be a positive number, got {eps!r}")
    if norm not in ("inf", "2"):
        raise ValueError(f"{attack}: norm must be 'inf' or '2', got {norm!r}")


def _check_positive_int(attack: str, name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attack}: {name} must be a positive integer, got {value!r}")


def _check_positive(attack: str, name: str, value: float, *, zero: bool = False) -> None:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{attack}: {name} must be a {'non-negative' if zero else 'positive'} number, got {value!r}")


class _Problem:
    """One run's inputs as tensors, the module, the constraints, and the bookkeeping for the report."""

    def __init__(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray, constraints: Constraints | None) -> None:
        torch = _torch()
        self.started = time.perf_counter()
        self.queries = model.queries
        if not model.has_gradients:
            raise ModelError(f"{model.name}: a {model.kind} model gives no gradients; use a decision-based attack")
        self.model = model
        self.x_np = np.ascontiguousarray(model.check_input(x))
        labels = np.asarray(y)
        if labels.dtype.kind not in "iuf" or labels.shape != (len(self.x_np),) or (len(labels) and (
                not np.all(np.mod(labels, 1) == 0) or labels.min() < 0 or labels.max() >= model.n_classes)):
            raise ModelError(f"{model.name}: y must hold {len(self.x_np)} class indices in 0..{model.n_classes - 1}")
        self.y_np = labels.astype(np.int64)
        self.constraints = constraints
        self.feasible = Feasible(constraints, model.input_shape)
        self.module: Any = model.logits_module() if len(self.x_np) else None
        self.x = torch.from_numpy(self.x_np)
        self.y = torch.from_numpy(self.y_np)

    def report(self, name: str, norm: str, eps: float | None, adv: Tensor) -> AttackRun:
        """Re-verify candidates with one model call; failures get the original back and an infinite size."""
        candidate = np.ascontiguousarray(adv.detach().numpy(), dtype=np.float32).reshape(self.x_np.shape)
        success = self.model.predict(candidate) != self.y_np
        size = perturbation_norm(candidate - self.x_np, norm) if len(candidate) else np.zeros(0)
        if eps is not None:
            success &= size <= eps * (1 + 1e-6) + 1e-6
        if self.constraints is not None and len(candidate):
            success &= self.constraints.satisfied(candidate, self.x_np)
        keep = success.reshape((-1,) + (1,) * (self.x_np.ndim - 1))
        return AttackRun(name=name, norm=norm, eps=eps, adversarial=np.where(keep, candidate, self.x_np),
                         success=success, perturbation=np.where(success, size, np.inf),
                         queries=self.model.queries - self.queries, seconds=time.perf_counter() - self.started)


class FGSM(Attack):
    """Fast gradient sign method (Goodfellow et al. 2015): one step of size ``eps`` up the loss gradient."""

    name = "fgsm"
    needs_gradients = True

    def __init__(self, eps: float, norm: str = "inf") -> None:
        _check_common("FGSM", eps, norm)
        self.eps = float(eps)
        self.norm = norm

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        problem = _Problem(model, x, y, constraints)
        adv = problem.x
        if len(adv):
            adv, _ = pgd_tensors(problem.module, problem.x, problem.y, eps=self.eps, norm=self.norm, step=self.eps,
                                 steps=1, noise=None, feasible=problem.feasible, count=model.count)
        return problem.report(self.name, self.norm, self.eps, adv)


class PGD(Attack):
    """Projected gradient descent (Madry et al. 2018) in L-inf or L2, with random starts and restarts."""

    name = "pgd"
    needs_gradients = True

    def __init__(self, eps: float, norm: str = "inf", step: float | None = None, steps: int = 40, restarts: int = 1,
                 random_start: bool = True, seed: int = 0) -> None:
        _check_common("PGD", eps, norm)
        _check_positive_int("PGD", "steps", steps)
        _check_positive_int("PGD", "restarts", restarts)
        if step is not None:
            _check_positive("PGD", "step", step)
        self.eps = float(eps)
        self.norm = norm
        self.steps = steps
        self.step = 2.5 * self.eps / steps if step is None else float(step)
        self.restarts = restarts
        self.random_start = bool(random_start)
        self.seed = int(seed)

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        torch = _torch()
        problem = _Problem(model, x, y, constraints)
        generator = torch.Generator().manual_seed(self.seed)
        adv = problem.x.clone()
        todo = torch.arange(len(adv))
        # Without random starts every restart would repeat the first one.
        rounds = self.restarts if self.random_start else 1
        for attempt in range(rounds if len(adv) else 0):
            noise = random_start(generator, problem.x, self.eps, self.norm, problem.feasible)[todo] \
                if self.random_start else None
            found_adv, found = pgd_tensors(problem.module, problem.x[todo], problem.y[todo], eps=self.eps,
                                           norm=self.norm, step=self.step, steps=self.steps, noise=noise,
                                           feasible=problem.feasible, count=model.count)
            if attempt < rounds - 1:
                # The last step's result is only seen by the next forward pass: look before restarting.
                with torch.no_grad():
                    found |= problem.module(found_adv).argmax(dim=1) != problem.y[todo]
                model.count(len(found_adv))
            adv[todo] = found_adv
            todo = todo[~found]
            if not len(todo):
                break
        return problem.report(self.name, self.norm, self.eps, adv)


# -- APGD-CE ----------------------------------------------------------------------------------------------------
def apgd_checkpoints(steps: int) -> dict[int, int]:
    """Iterations after which APGD may halve its step size, mapped to the length of the period they close.

    Periods start at 22% of the run and shrink by 3% of it each time, down to 6% (``p_{j+1} = p_j +
    max(p_j - p_{j-1} - 0.03, 0.06)``), counted in whole iterations so that rounding cannot shift a checkpoint.
    """
    period, shrink, shortest = max(int(0.22 * steps), 1), max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    marks: dict[int, int] = {}
    mark = period
    while mark <= steps:
        marks[mark] = period
        period = max(period - shrink, shortest)
        mark += period
    return marks


def _apgd_checkpoint(batch: _Active, period: int, rho: float) -> None:
    """Halve the step where progress stalled (too few increases, or no new best since an unreduced checkpoint)."""
    torch = _torch()
    reduce = (batch["increases"] < rho * period) | (~batch["reduced"] & (batch["best_at_check"] >= batch["loss_best"]))
    rows = _column(reduce, batch["adv"])
    batch["eta"] = torch.where(reduce, batch["eta"] / 2, batch["eta"])
    batch["adv"] = torch.where(rows, batch["x_best"], batch["adv"])
    batch["prev"] = torch.where(rows, batch["x_best"], batch["prev"])
    batch["grad"] = torch.where(rows, batch["grad_best"], batch["grad"])
    batch["reduced"] = reduce
    batch["best_at_check"] = batch["loss_best"].clone()
    batch["increases"].zero_()


def _apgd_move(batch: _Active, eps: float, norm: str, feasible: Feasible, momentum: bool) -> Tensor:
    """One APGD step: gradient step, projection, then heavy-ball momentum 0.75 and projection again."""
    adv, box = batch["adv"], (batch["lo"], batch["hi"]) if norm == "inf" else None
    step = _direction(feasible.masked(batch["grad"].clone()), norm).mul_(_column(batch["eta"], adv))
    z = feasible.project(adv + step, batch["x"], eps=eps, norm=norm, box=box)
    if momentum:
        z = adv + 0.75 * (z - adv) + 0.25 * (adv - batch["prev"])
        z = feasible.project(z, batch["x"], eps=eps, norm=norm, box=box)
    return z


def apgd_tensors(module: Any, x: Tensor, y: Tensor, *, eps: float, norm: str, steps: int, rho: float,
                 noise: Tensor, feasible: Feasible, count: Counter = _no_count) -> tuple[Tensor, Tensor]:
    """APGD-CE (Croce & Hein 2020) from ``x + noise``; a sample leaves the batch once misclassified."""
    torch = _torch()
    box = feasible.linf_box(x, eps) if norm == "inf" else None
    start = feasible.project(x + noise, x, eps=eps, norm=norm, box=box)
    checkpoints = apgd_checkpoints(steps)
    with torch.enable_grad():
        loss, grad, wrong = _loss_grad(module, start, y, count)
        batch = _Active(start.clone(), x=x, y=y, adv=start, prev=start, lo=box[0] if box else None,
                        hi=box[1] if box else None, grad=grad, loss=loss, x_best=start, grad_best=grad,
                        loss_best=loss.clone(), best_at_check=loss.clone(), eta=torch.full_like(loss, 2 * eps),
                        increases=torch.zeros_like(loss), reduced=torch.zeros_like(wrong))
        batch.retire(wrong)
        for k in range(steps):
            if not len(batch):
                break
            with torch.no_grad():
                batch["prev"], batch["adv"] = batch["adv"], _apgd_move(batch, eps, norm, feasible, k > 0)
            loss, batch["grad"], wrong = _loss_grad(module, batch["adv"], batch["y"], count)
            with torch.no_grad():
                batch["increases"] += loss > batch["loss"]
                batch["loss"] = loss
                better = loss > batch["loss_best"]
                rows = _column(better, batch["adv"])
                batch["x_best"] = torch.where(rows, batch["adv"], batch["x_best"])
                batch["grad_best"] = torch.where(rows, batch["grad"], batch["grad_best"])
                batch["loss_best"] = torch.where(better, loss, batch["loss_best"])
                batch.retire(wrong)
                if k + 1 in checkpoints and len(batch):
                    _apgd_checkpoint(batch, checkpoints[k + 1], rho)
    return batch.finish()


class APGD(Attack):
    """Auto-PGD with cross-entropy (Croce & Hein 2020): step size halved at checkpoints when progress stalls."""

    name = "apgd"
    needs_gradients = True

    def __init__(self, eps: float, norm: str = "inf", steps: int = 100, restarts: int = 1, seed: int = 0,
                 rho: float = 0.75) -> None:
        _check_common("APGD", eps, norm)
        _check_positive_int("APGD", "steps", steps)
        _check_positive_int("APGD", "restarts", restarts)
        _check_positive("APGD", "rho", rho)
        if rho >= 1:
            raise ValueError(f"APGD: rho must be between 0 and 1, got {rho!r}")
        self.eps = float(eps)
        self.norm = norm
        self.steps = steps
        self.restarts = restarts
        self.seed = int(seed)
        self.rho = float(rho)

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        torch = _torch()
        problem = _Problem(model, x, y, constraints)
        generator = torch.Generator().manual_seed(self.seed)
        adv = problem.x.clone()
        todo = torch.arange(len(adv))
        for _ in range(self.restarts if len(adv) else 0):
            noise = random_start(generator, problem.x, self.eps, self.norm, problem.feasible)[todo]
            found_adv, found = apgd_tensors(problem.module, problem.x[todo], problem.y[todo], eps=self.eps,
                                            norm=self.norm, steps=self.steps, rho=self.rho, noise=noise,
                                            feasible=problem.feasible, count=model.count)
            adv[todo[found]] = found_adv[found]
            todo = todo[~found]
            if not len(todo):
                break
        return problem.report(self.name, self.norm, self.eps, adv)


# -- Carlini-Wagner L2 ------------------------------------------------------------------------------------------
class _Variable:
    """CW's change of variable: ``x = lo + (hi - lo)(tanh w + 1) / 2`` inside a finite box, else ``x = x0 + w``."""

    def __init__(self, x: Tensor, feasible: Feasible) -> None:
        self.x = x
        self.feasible = feasible
        self.tanh = feasible.finite_box
        if self.tanh:
            lower: Tensor = feasible.lower
            upper: Tensor = feasible.upper
            self.lo = lower
            self.span = (upper - lower).clamp_min(_TINY)

    def to_x(self, w: Tensor) -> Tensor:
        if self.tanh:
            return self.lo + self.span * (w.tanh() + 1) / 2
        return self.x + w

    def from_x(self, point: Tensor) -> Tensor:
        if self.tanh:
            return ((point - self.lo) / self.span * 2 - 1).clamp_(-1 + _TANH_EDGE, 1 - _TANH_EDGE).atanh_()
        return point - self.x

    def snap(self, adv: Tensor) -> Tensor:
        """Features the attack did not move back to their exact value (undo the tanh edge's small offset)."""
        if not self.tanh:
            return adv
        torch = _torch()
        return torch.where((adv - self.x).abs_() <= self.span * _TANH_EDGE, self.x, adv)

    def project_(self, w: Tensor) -> None:
        """After an optimiser step: put ``w`` back on the feasible set when bounds or exact constraints need it."""
        if self.feasible.exact is None and (self.tanh or (self.feasible.lower is None and self.feasible.upper is None)):
            return
        w.copy_(self.from_x(self.feasible.project(self.to_x(w), self.x)))


def _cw_margin(logits: Tensor, y: Tensor) -> Tensor:
    """Best other logit minus the true one: positive when misclassified."""
    torch = _torch()
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], -torch.inf).amax(dim=1)
    return other - true


def cw_tensors(module: Any, x: Tensor, y: Tensor, *, confidence: float, c_init: float, search_steps: int,
               steps: int, lr: float, feasible: Feasible, count: Counter = _no_count) -> tuple[Tensor, Tensor]:
    """Carlini-Wagner L2 with a per-sample binary search on ``c``; returns the smallest adversarial found."""
    torch = _torch()
    variable = _Variable(x, feasible)
    w_start = variable.from_x(x.clone())
    best_adv, best_l2 = x.clone(), torch.full((len(x),), torch.inf)
    c, c_lo, c_hi = torch.full_like(best_l2, c_init), torch.zeros_like(best_l2), torch.full_like(best_l2, 1e10)
    for _ in range(search_steps):
        succeeded = _cw_search_step(module, variable, w_start, y, c, best_adv, best_l2, confidence, steps, lr,
                                    count)
        c_hi = torch.where(succeeded, torch.minimum(c_hi, c), c_hi)
        c_lo = torch.where(succeeded, c_lo, torch.maximum(c_lo, c))
        c = torch.where(c_hi < 1e9, (c_lo + c_hi) / 2, c * 10)
    return variable.snap(best_adv), best_l2.isfinite()


def _cw_search_step(module: Any, variable: _Variable, w_start: Tensor, y: Tensor, c: Tensor, best_adv: Tensor,
                    best_l2: Tensor, confidence: float, steps: int, lr: float, count: Counter) -> Tensor:
    """One Adam run at fixed ``c``; updates ``best_adv`` / ``best_l2`` in place; returns which samples succeeded."""
    torch = _torch()
    w = w_start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([w], lr=lr)
    succeeded = torch.zeros(len(w), dtype=torch.bool)
    previous, check_every = math.inf, max(steps // 10, 10)
    with torch.enable_grad():
        for step in range(steps):
            adv = variable.to_x(w)
            logits = module(adv)
            count(len(adv))
            margin = _cw_margin(logits, y)
            l2sq = (adv - variable.x).reshape(len(adv), -1).square().sum(dim=1)
            loss = (l2sq + c * (confidence - margin).clamp_min(0)).sum()
            optimiser.zero_grad(set_to_none=False)
            loss.backward()
            with torch.no_grad():
                hit = margin > confidence if confidence > 0 else logits.argmax(dim=1) != y
                better = hit & (l2sq < best_l2)
                best_l2.copy_(torch.where(better, l2sq, best_l2))
                best_adv.copy_(torch.where(_column(better, adv), adv, best_adv))
                succeeded |= hit
                variable.feasible.masked(w.grad)
                optimiser.step()
                variable.project_(w)
            if step % check_every == 0:
                # Stop this c when the objective no longer falls (Carlini & Wagner's early abort).
                if float(loss.detach()) > previous * 0.9999:
                    break
                previous = float(loss.detach())
    return succeeded


class CarliniWagnerL2(Attack):
    """Carlini & Wagner's L2 attack (2017): the smallest L2 change that flips the label, found by optimisation."""

    name = "cw"
    norm = "2"
    minimal = True
    needs_gradients = True

    def __init__(self, confidence: float = 0.0, c_init: float = 1e-2, binary_search_steps: int = 9,
                 steps: int = 100, lr: float = 0.05, seed: int = 0) -> None:
        _check_positive("CarliniWagnerL2", "confidence", confidence, zero=True)
        _check_positive("CarliniWagnerL2", "c_init", c_init)
        _check_positive_int("CarliniWagnerL2", "binary_search_steps", binary_search_steps)
        _check_positive_int("CarliniWagnerL2", "steps", steps)
        _check_positive("CarliniWagnerL2", "lr", lr)
        self.confidence = float(confidence)
        self.c_init = float(c_init)
        self.binary_search_steps = binary_search_steps
        self.steps = steps
        self.lr = float(lr)
        self.seed = int(seed)  # the attack is deterministic; kept for a uniform interface

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        problem = _Problem(model, x, y, constraints)
        adv = problem.x
        if len(adv):
            adv, _ = cw_tensors(problem.module, problem.x, problem.y, confidence=self.confidence, c_init=self.c_init,
                                search_steps=self.binary_search_steps, steps=self.steps, lr=self.lr,
                                feasible=problem.feasible, count=model.count)
            adv = problem.feasible.project(adv, problem.x)
        return problem.report(self.name, self.norm, None, adv)


# -- DeepFool ---------------------------------------------------------------------------------------------------
def _deepfool_step(logits: Tensor, inp: Tensor, y: Tensor, order: Tensor, norm: str,
                   feasible: Feasible) -> Tensor:
    """The smallest step to the nearest linearised boundary among the candidate classes (one backward each)."""
    torch = _torch()
    true = logits.gather(1, y[:, None])
    best_dist = torch.full((len(inp),), torch.inf)
    best_w = torch.zeros_like(inp)
    dual = "2" if norm == "2" else "1"
    for j in range(1, order.shape[1]):
        gap = logits.gather(1, order[:, j:j + 1]) - true
        (w,) = torch.autograd.grad(gap.sum(), inp, retain_graph=j < order.shape[1] - 1)
        w = feasible.masked(w)
        dist = gap.detach().abs().squeeze(1) / (_row_norm(w, dual) + 1e-8)
        closer = dist < best_dist
        best_dist = torch.where(closer, dist, best_dist)
        best_w = torch.where(_column(closer, w), w, best_w)
    size = _column(best_dist + 1e-4, best_w)
    if norm == "inf":
        return best_w.sign().mul_(size)
    return best_w.div_(_column(_row_norm(best_w, "2").clamp_min_(_TINY), best_w)).mul_(size)


def deepfool_tensors(module: Any, x: Tensor, y: Tensor, *, steps: int, overshoot: float, norm: str,
                     candidates: int, feasible: Feasible, count: Counter = _no_count) -> tuple[Tensor, Tensor]:
    """DeepFool (Moosavi-Dezfooli et al. 2016), batched; a sample leaves the batch once misclassified."""
    torch = _torch()
    batch = _Active(x.clone(), x=x, y=y, adv=x.clone(), total=torch.zeros_like(x))
    with torch.enable_grad():
        for step in range(steps + 1):
            inp = batch["adv"].detach().requires_grad_(True)
            logits = module(inp)
            count(len(inp))
            if step == 0:
                # Candidate classes: the true one first, then the most likely others (top-k, as in the paper).
                ranked = logits.detach().scatter(1, batch["y"][:, None], torch.inf).argsort(dim=1, descending=True)
                batch["order"] = ranked[:, :min(candidates, logits.shape[1])]
            wrong = (logits.argmax(dim=1) != batch["y"]).detach()
            if step == steps or bool(wrong.all()):
                batch.retire(wrong)
                break
            r = _deepfool_step(logits, inp, batch["y"], batch["order"], norm, feasible)
            with torch.no_grad():
                keep = ~wrong
                batch.retire(wrong)
                total = batch["total"].add_(r[keep])
                adv = feasible.project(batch["x"] + (1 + overshoot) * total, batch["x"])
                batch["adv"] = adv
                batch["total"] = (adv - batch["x"]) / (1 + overshoot)
    out, found = batch.finish()
    return out, found


class DeepFool(Attack):
    """DeepFool: step to the nearest linearised decision boundary until the label flips (minimum-norm)."""

    name = "deepfool"
    minimal = True
    needs_gradients = True

    def __init__(self, steps: int = 50, overshoot: float = 0.02, norm: str = "2", candidates: int = 10) -> None:
        _check_common("DeepFool", None, norm)
        _check_positive_int("DeepFool", "steps", steps)
        _check_positive("DeepFool", "overshoot", overshoot, zero=True)
        _check_positive_int("DeepFool", "candidates", candidates)
        if candidates < 2:
            raise ValueError(f"DeepFool: candidates must be at least 2, got {candidates!r}")
        self.steps = steps
        self.overshoot = float(overshoot)
        self.norm = norm
        self.candidates = candidates

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        problem = _Problem(model, x, y, constraints)
        adv = problem.x
        if len(adv):
            adv, _ = deepfool_tensors(problem.module, problem.x, problem.y, steps=self.steps, overshoot=self.overshoot,
                                      norm=self.norm, candidates=self.candidates, feasible=problem.feasible,
                                      count=model.count)
        return problem.report(self.name, self.norm, None, adv)


GRADIENT_ATTACKS: dict[str, type[Attack]] = {
    "fgsm": FGSM, "pgd": PGD, "apgd": APGD, "cw": CarliniWagnerL2, "deepfool": DeepFool,
}
"""Gradient attacks by the name the CLI uses."""
