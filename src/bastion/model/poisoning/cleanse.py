"""Neural Cleanse (Wang et al., IEEE S&P 2019): reverse-engineer the smallest trigger for every class.

For each class t a mask ``m`` and pattern ``p`` are optimised so that ``(1 - m) * x + m * p`` is classified as t for
clean ``x`` while ``|m|_1`` stays small. A backdoored class needs a much smaller mask than the others; the anomaly
index (distance below the median in units of the median absolute deviation, scaled by 1.4826) flags it. All
classes are optimised together: one forward and backward pass per step covers every class's masked batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bastion.model.base import ModelAdapter, ModelError, require_torch

MAD_CONSISTENCY = 1.4826
"""Scales the median absolute deviation to the standard deviation of a normal distribution."""


def _torch() -> Any:
    return require_torch("Neural Cleanse", CleanseError)


class CleanseError(ModelError):
    """Bad Neural Cleanse parameters, data or model; the message names the parameter."""


@dataclass(frozen=True)
class CleanseReport:
    """Per-class reversed triggers, their sizes and which classes stand out as backdoor targets."""

    mask_norms: np.ndarray
    """Per class: L1 norm of the smallest mask found that reaches ``target_success`` (else the final mask)."""
    success: np.ndarray
    """Per class: share of the clean inputs sent to the class by its reversed trigger."""
    anomaly_index: np.ndarray
    """Per class: (median - norm) / (1.4826 * MAD) over the classes' norms; large positive = suspiciously small."""
    flagged: tuple[int, ...]
    """Classes whose anomaly index exceeds the threshold (2 by default), most anomalous first."""
    mask: np.ndarray | None = field(repr=False)
    """Reversed mask of the most anomalous flagged class, in [0, 1] (``None`` when nothing is flagged)."""
    pattern: np.ndarray | None = field(repr=False)
    """Reversed pattern of the most anomalous flagged class, within ``box`` (``None`` when nothing is flagged)."""
    masks: np.ndarray = field(repr=False)
    """All classes' masks ``(k, *mask_shape)``; images ``(C, H, W)`` share one mask over channels."""
    patterns: np.ndarray = field(repr=False)
    """All classes' patterns ``(k, *input_shape)``."""
    queries: int = 0
    """Samples evaluated through the model's gradients (counted on the adapter too)."""
    seconds: float = 0.0
    """Wall time of the optimisation."""


class NeuralCleanse:
    """Trigger reverse-engineering for models with gradients (``model.has_gradients``)."""

    def __init__(self, steps: int = 300, lr: float = 0.1, lambda_: float = 1e-2, *, batch_size: int = 64,
                 target_success: float = 0.99, threshold: float = 2.0, adapt_every: int = 10,
                 box: tuple[float, float] = (0.0, 1.0), seed: int = 0) -> None:
        if steps < 1:
            raise CleanseError(f"steps must be >= 1, got {steps}")
        if lr <= 0:
            raise CleanseError(f"lr must be > 0, got {lr}")
        if lambda_ <= 0:
            raise CleanseError(f"lambda_ must be > 0, got {lambda_}")
        if batch_size < 1:
            raise CleanseError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 < target_success <= 1.0:
            raise CleanseError(f"target_success must be in (0, 1], got {target_success}")
        if threshold <= 0:
            raise CleanseError(f"threshold must be > 0, got {threshold}")
        if adapt_every < 1:
            raise CleanseError(f"adapt_every must be >= 1, got {adapt_every}")
        if not box[0] < box[1]:
            raise CleanseError(f"box must be (low, high) with low < high, got {box}")
        self.steps = steps
        self.lr = lr
        self.lambda_ = lambda_
        self.batch_size = batch_size
        self.target_success = target_success
        self.threshold = threshold
        self.adapt_every = adapt_every
        self.box = box
        self.seed = seed

    def run(self, model: ModelAdapter, x_clean: Any) -> CleanseReport:
        """Reverse a trigger for every class of ``model`` from clean inputs ``x_clean``."""
        import time

        torch = _torch()
        if not model.has_gradients:
            raise CleanseError(f"{model.name}: Neural Cleanse needs gradients; use STRIP for this model")
        x = model.check_input(x_clean)
        if len(x) == 0:
            raise CleanseError("x_clean is empty")
        start, before = time.perf_counter(), model.queries
        state = _State(torch, model, self, x)
        for step in range(self.steps):
            state.step()
            if (step + 1) % self.adapt_every == 0:
                state.adapt()
        norms, success = state.result()
        return _report(self.threshold, norms, success, state.masks(), state.patterns(),
                       model.queries - before, time.perf_counter() - start)


class _State:
    """Masks, patterns, per-class penalties and the best masks seen, for all classes at once."""

    def __init__(self, torch: Any, model: ModelAdapter, config: NeuralCleanse, x: np.ndarray) -> None:
        self.torch, self.model, self.config = torch, model, config
        self.net = model.logits_module()
        self.k = model.n_classes
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        shape = model.input_shape
        self.mask_shape = (1, *shape[1:]) if len(shape) == 3 else shape
        self.gen = torch.Generator().manual_seed(config.seed)
        self.mask_raw = torch.full((self.k, *self.mask_shape), -2.0).requires_grad_(True)
        self.pattern_raw = (torch.rand((self.k, *shape), generator=self.gen) * 2 - 1).requires_grad_(True)
        self.opt = torch.optim.Adam([self.mask_raw, self.pattern_raw], lr=config.lr, betas=(0.5, 0.9))
        self.cost = torch.full((self.k,), config.lambda_)
        self.targets = torch.arange(self.k)
        self.best_norm = torch.full((self.k,), float("inf"))
        self.best_mask = torch.zeros((self.k, *self.mask_shape))
        self.best_pattern = torch.zeros((self.k, *shape))
        self.sums = torch.zeros(self.k)
        self.seen = 0

    def _triggered(self, x: Any) -> Any:
        low, high = self.config.box
        mask = self.torch.sigmoid(self.mask_raw).unsqueeze(1)
        pattern = (low + (high - low) * self.torch.sigmoid(self.pattern_raw)).unsqueeze(1)
        return ((1 - mask) * x.unsqueeze(0) + mask * pattern).reshape(-1, *self.model.input_shape)

    def step(self) -> None:
        torch = self.torch
        pick = torch.randint(0, len(self.x), (min(self.config.batch_size, len(self.x)),), generator=self.gen)
        batch = self.x[pick]
        logits = self.net(self._triggered(batch)).reshape(self.k, len(batch), -1)
        self.model.count(self.k * len(batch))
        labels = self.targets[:, None].expand(self.k, len(batch))
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, self.k), labels.reshape(-1), reduction="none")
        norm = torch.sigmoid(self.mask_raw).reshape(self.k, -1).sum(dim=1)
        loss = (ce.reshape(self.k, -1).mean(dim=1) + self.cost * norm).sum()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            success = (logits.argmax(dim=2) == labels).float().mean(dim=1)
            self._keep_best(success, norm.detach())
            self.sums += success
            self.seen += 1

    def _keep_best(self, success: Any, norm: Any) -> None:
        better = (success >= self.config.target_success) & (norm < self.best_norm)
        if bool(better.any()):
            self.best_norm[better] = norm[better]
            self.best_mask[better] = self.torch.sigmoid(self.mask_raw.detach())[better]
            low, high = self.config.box
            self.best_pattern[better] = (low + (high - low) * self.torch.sigmoid(self.pattern_raw.detach()))[better]

    def adapt(self) -> None:
        """Raise the L1 penalty of classes whose trigger works on average, lower it for the others."""
        mean = self.sums / max(self.seen, 1)
        self.cost = self.torch.where(mean >= self.config.target_success, self.cost * 1.5, self.cost / 1.5)
        self.sums.zero_()
        self.seen = 0

    def masks(self) -> np.ndarray:
        final = self.torch.sigmoid(self.mask_raw.detach())
        found = self.torch.isfinite(self.best_norm).reshape(-1, *([1] * len(self.mask_shape)))
        return np.asarray(self.torch.where(found, self.best_mask, final).numpy())

    def patterns(self) -> np.ndarray:
        low, high = self.config.box
        final = low + (high - low) * self.torch.sigmoid(self.pattern_raw.detach())
        found = self.torch.isfinite(self.best_norm).reshape(-1, *([1] * len(self.model.input_shape)))
        return np.asarray(self.torch.where(found, self.best_pattern, final).numpy())

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Mask norms and the success of the kept triggers on all clean inputs (one pass per class batch)."""
        masks, patterns = self.masks(), self.patterns()
        norms = masks.reshape(self.k, -1).sum(axis=1)
        with self.torch.no_grad():
            mask = self.torch.from_numpy(masks).unsqueeze(1)
            pattern = self.torch.from_numpy(patterns).unsqueeze(1)
            triggered = ((1 - mask) * self.x.unsqueeze(0) + mask * pattern).reshape(-1, *self.model.input_shape)
            predicted = self.net(triggered).argmax(dim=1).reshape(self.k, -1)
        self.model.count(self.k * len(self.x))
        success = (predicted == self.targets[:, None]).float().mean(dim=1).numpy()
        return norms.astype(np.float64), success.astype(np.float64)


def anomaly_index(norms: np.ndarray) -> np.ndarray:
    """(median - norm) / (1.4826 * MAD): how far each class's mask is below the others' median, robustly."""
    values = np.asarray(norms, dtype=np.float64)
    median = float(np.median(values))
    mad = MAD_CONSISTENCY * float(np.median(np.abs(values - median)))
    if mad == 0.0:
        return np.where(values < median, np.inf, 0.0)
    return np.asarray((median - values) / mad)


def _report(threshold: float, norms: np.ndarray, success: np.ndarray, masks: np.ndarray, patterns: np.ndarray,
            queries: int, seconds: float) -> CleanseReport:
    index = anomaly_index(norms)
    flagged = tuple(int(c) for c in np.argsort(-index, kind="stable") if index[c] > threshold)
    top = flagged[0] if flagged else None
    return CleanseReport(mask_norms=norms, success=success, anomaly_index=index, flagged=flagged,
                         mask=None if top is None else masks[top], pattern=None if top is None else patterns[top],
                         masks=masks, patterns=patterns, queries=queries, seconds=seconds)
