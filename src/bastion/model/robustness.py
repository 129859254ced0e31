"""Robustness testing: run evasion attacks on the samples a model gets right and report accuracy under attack.

``RobustnessTest(attacks, eps).run(model, x, y)`` attacks only correctly classified samples (the others already
count as errors), once per budget for bounded attacks and once in all for minimum-norm attacks, whose result is
read at every budget. Budgets are in input units and in each attack's own norm; by default they are 1, 3, 10 and
30% of the median feature range (L-infinity), the same times sqrt(features) for L2, and 1, 2, 3 and 5 edits for text.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module

import numpy as np

from bastion.model.attacks.base import Attack, AttackRun
from bastion.model.base import ModelAdapter, ModelError
from bastion.model.constraints import Constraints

_REGISTRIES = (("bastion.model.attacks.gradient", "GRADIENT_ATTACKS"),
               ("bastion.model.attacks.decision", "DECISION_ATTACKS"),
               ("bastion.model.attacks.trees", "TREE_ATTACKS"),
               ("bastion.model.attacks.text", "TEXT_ATTACKS"))
DEFAULT_FRACTIONS = (0.01, 0.03, 0.1, 0.3)
"""Default L-infinity budgets as fractions of the median feature range."""
TEXT_EDITS = (1.0, 2.0, 3.0, 5.0)
"""Default budgets, in character edits, for text attacks."""


def available_attacks() -> dict[str, type[Attack]]:
    """Attack name -> class, for every attack whose module imports here (gradient attacks need torch)."""
    found: dict[str, type[Attack]] = {}
    for module, table in _REGISTRIES:
        try:
            found.update(getattr(import_module(module), table))
        except ImportError:
            continue
    return found


@dataclass(frozen=True)
class AttackResult:
    """One point of an attack's robustness curve (one budget), as the JSON report lists it."""

    name: str
    """Attack name (``pgd``, ``hopskipjump``...)."""
    norm: str
    """``inf``, ``2``, ``0`` or ``edits``."""
    eps: float | None
    """Budget, in input units and the attack's norm; ``None`` for a minimum-norm attack without a budget."""
    accuracy_under_attack: float
    """Share of all tested samples still classified correctly after the attack."""
    success_rate: float
    """Share of the correctly classified samples that the attack turned into errors within the budget."""
    median_perturbation: float | None
    """Median size of the successful perturbations (``None`` when none succeeded)."""
    queries: int
    """Samples sent to the model by the run that produced this point."""
    seconds: float
    """Wall time of that run."""


@dataclass(frozen=True)
class RobustnessReport:
    """What ``bastion test robustness`` reports."""

    model: str
    """Model name (the file name for the CLI)."""
    samples: int
    """Samples tested."""
    clean_accuracy: float
    """Accuracy without attack."""
    attacks: tuple[AttackResult, ...]
    """One entry per attack and budget."""
    warnings: tuple[str, ...] = field(default=())
    """Things the reader should know (an attack skipped, budgets inferred...)."""

    def to_dict(self) -> dict[str, object]:
        """The JSON form the issue fixes: model, samples, clean_accuracy, attacks (and warnings)."""
        return {"model": self.model, "samples": self.samples, "clean_accuracy": self.clean_accuracy,
                "attacks": [asdict(a) for a in self.attacks], "warnings": list(self.warnings)}


def default_attacks(model: ModelAdapter) -> list[str]:
    """What a user who names no attack gets: strong white-box attacks when there are gradients, else black-box."""
    if model.text:
        return ["text"]
    if model.has_gradients:
        return ["fgsm", "pgd", "deepfool"]
    from bastion.model.attacks.trees import tree_model

    try:  # the attack's own test: a scaler in front of a forest rules it out, and a name alone would not
        tree_model(model.estimator, model.name)
    except ModelError:
        return ["hopskipjump", "square"]
    return ["trees", "hopskipjump"]


def default_budgets(x: np.ndarray, norm: str, text: bool = False) -> list[float]:
    """Budgets for ``norm`` scaled to the data (see the module docstring)."""
    if text or norm == "edits":
        return list(TEXT_EDITS)
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    spread = float(np.median(flat.max(axis=0) - flat.min(axis=0))) or 1.0
    scale = spread * (np.sqrt(flat.shape[1]) if norm == "2" else 1.0)
    if norm == "0":
        return [float(max(1, round(f * flat.shape[1]))) for f in DEFAULT_FRACTIONS]
    return [float(f"{f * scale:.4g}") for f in DEFAULT_FRACTIONS]


class RobustnessTest:
    """Configure attacks and budgets; ``run`` measures a model on labelled samples."""

    def __init__(self, attacks: Sequence[str] | None = None, eps: Sequence[float] | None = None, *,
                 seed: int = 0, constraints: Constraints | None = None,
                 options: dict[str, dict[str, object]] | None = None) -> None:
        self.attacks = list(attacks) if attacks else None
        self.eps = sorted(float(e) for e in eps) if eps else None
        if self.eps is not None and any(e <= 0 or not np.isfinite(e) for e in self.eps):
            raise ValueError(f"eps: budgets must be positive and finite, got {eps}")
        self.seed = seed
        self.constraints = constraints
        self.options = options or {}

    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray) -> RobustnessReport:
        """Attack the correctly classified samples of ``x`` (labels ``y`` as class indices) with every attack."""
        registry = available_attacks()
        names = self.attacks or default_attacks(model)
        unknown = [n for n in names if n not in registry]
        if unknown:
            raise ValueError(f"attack {unknown[0]!r} is not available; choose from {sorted(registry)}")
        y = np.asarray(y, dtype=np.int64)
        if len(x) != len(y) or len(y) == 0:
            raise ValueError(f"x has {len(x)} samples and y {len(y)}; both must be the same, non-zero length")
        if self.constraints is not None and not model.text:
            self.constraints.check(int(np.prod(model.input_shape)))
        correct = model.predict(x) == y
        rows: list[AttackResult] = []
        warnings: list[str] = []
        for name in names:
            cls = registry[name]
            if cls.needs_gradients and not model.has_gradients:
                warnings.append(f"{name}: skipped, the {model.kind} model gives no gradients")
                continue
            rows.extend(self._run_attack(name, cls, model, x[correct], y[correct], len(y), warnings))
        return RobustnessReport(model=model.name, samples=len(y), clean_accuracy=float(correct.mean()),
                                attacks=tuple(rows), warnings=tuple(warnings))

    def _run_attack(self, name: str, cls: type[Attack], model: ModelAdapter, x: np.ndarray, y: np.ndarray,
                    total: int, warnings: list[str]) -> list[AttackResult]:
        if len(x) == 0:
            warnings.append(f"{name}: nothing to attack, the model gets no sample right")
            return []
        # One instance of a minimum-norm attack serves every budget; bounded ones get one per budget, and a probe
        # tells their norm (some attacks set it per instance).
        attack = self._build(cls, name, None if cls.minimal else 1.0)
        budgets = self.eps or default_budgets(x, attack.norm, model.text)
        if cls.minimal:
            run = attack.run(model, x, y, self.constraints)
            return [_point(run, total, eps) for eps in [*budgets, None]]
        return [_point(self._build(cls, name, eps).run(model, x, y, self.constraints), total, eps)
                for eps in budgets]

    def _build(self, cls: type[Attack], name: str, eps: float | None) -> Attack:
        accepted = inspect.signature(cls).parameters
        kwargs = {k: v for k, v in self.options.get(name, {}).items() if k in accepted}
        unknown = set(self.options.get(name, {})) - set(accepted)
        if unknown:
            raise ValueError(f"{name}: unknown option(s) {sorted(unknown)}; it takes {sorted(accepted)}")
        if "seed" in accepted:
            kwargs.setdefault("seed", self.seed)
        if eps is not None:
            kwargs["eps"] = eps
        return cls(**kwargs)


def _point(run: AttackRun, total: int, eps: float | None) -> AttackResult:
    """Read a run at budget ``eps``: successes whose perturbation fits within it (with float slack)."""
    success = np.asarray(run.success, dtype=bool)
    if eps is not None:
        success = success & (run.perturbation <= eps * (1 + 1e-6) + 1e-9)
    attacked = len(success)
    sizes = run.perturbation[success]
    still_right = attacked - int(success.sum())
    return AttackResult(name=run.name, norm=run.norm, eps=eps, accuracy_under_attack=still_right / total,
                        success_rate=float(success.mean()) if attacked else 0.0,
                        median_perturbation=float(np.median(sizes)) if len(sizes) else None,
                        queries=run.queries, seconds=round(run.seconds, 4))

