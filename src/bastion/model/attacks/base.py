"""The attack interface: configure in ``__init__``, then ``run(model, x, y)`` on samples the model gets right.

Every attack uses the true labels, works on the whole batch at once (one model call per step for all samples),
is seeded, and keeps its candidates feasible under the ``Constraints`` given. Bounded attacks (FGSM, PGD, APGD,
Square) search within ``eps``; minimum-norm attacks (CW, DeepFool, HopSkipJump, Boundary, trees, text) look for the
smallest change, and one run gives accuracy under attack for every budget.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from bastion.model.base import ModelAdapter
from bastion.model.constraints import Constraints

NORMS = ("inf", "2", "0", "edits")
"""How perturbations are measured: L-infinity, L2, L0 (features changed), character edits (text)."""


@dataclass(frozen=True)
class AttackRun:
    """What one attack did to a batch of correctly classified samples."""

    name: str
    """Attack name as the CLI spells it (``pgd``, ``hopskipjump``...)."""
    norm: str
    """One of ``NORMS``."""
    eps: float | None
    """The budget searched within, or ``None`` for a minimum-norm attack."""
    adversarial: np.ndarray
    """Best candidate per sample, shaped like the input; the original where nothing was found."""
    success: np.ndarray
    """Per sample: the model misclassifies ``adversarial`` (which is feasible and within ``eps`` if set)."""
    perturbation: np.ndarray
    """Per sample: the ``norm`` of ``adversarial - x`` (``inf`` where the attack failed)."""
    queries: int
    """Samples sent to the model (gradient evaluations count one each)."""
    seconds: float
    """Wall time of the run."""


class Attack(ABC):
    """An evasion attack. Subclasses set ``name``, ``norm`` and ``minimal`` and implement ``run``."""

    name: str = "attack"
    norm: str = "inf"
    minimal: bool = False
    """True for minimum-norm attacks: their result is read at every budget."""
    needs_gradients: bool = False
    """True when the model must have ``logits_module`` (gradient attacks)."""

    @abstractmethod
    def run(self, model: ModelAdapter, x: np.ndarray, y: np.ndarray,
            constraints: Constraints | None = None) -> AttackRun:
        """Attack ``x`` (samples ``model`` classifies as ``y``, class indices); return what was found."""


def perturbation_norm(delta: np.ndarray, norm: str) -> np.ndarray:
    """Per-row size of ``delta`` in ``norm`` (``inf``, ``2`` or ``0``)."""
    delta = np.asarray(delta, dtype=np.float64)
    flat = delta.reshape(len(delta), int(np.prod(delta.shape[1:])))
    if norm == "inf":
        return np.asarray(np.abs(flat).max(axis=1, initial=0.0))
    if norm == "2":
        return np.asarray(np.sqrt((flat * flat).sum(axis=1)))
    if norm == "0":
        return np.asarray((np.abs(flat) > 1e-7).sum(axis=1).astype(np.float64))
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS[:3]}")
