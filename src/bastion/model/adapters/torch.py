"""PyTorch modules (in memory or TorchScript files) as ``ModelAdapter``: gradients and hidden activations included."""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.model.base import DEFAULT_BATCH, ModelAdapter, ModelError, require_torch


def _torch() -> Any:
    return require_torch("PyTorch models")


class TorchClassifier(ModelAdapter):
    """A torch module whose forward maps ``(n, *input_shape)`` float32 to logits (or probabilities)."""

    kind = "torch"

    def __init__(self, module: Any, input_shape: tuple[int, ...], n_classes: int | None = None, *,
                 outputs: str = "logits", classes: np.ndarray | None = None, name: str = "torch model",
                 batch_size: int = DEFAULT_BATCH) -> None:
        torch = _torch()
        if outputs not in ("logits", "probabilities"):
            raise ModelError(f"{name}: outputs must be 'logits' or 'probabilities', not {outputs!r}")
        self._module = module.eval()
        self._outputs = outputs
        for parameter in self._module.parameters():
            parameter.requires_grad_(False)
        if n_classes is None:
            try:
                with torch.no_grad():
                    probe = self._module(torch.zeros((1, *input_shape), dtype=torch.float32))
            except RuntimeError as exc:
                raise ModelError(f"{name}: the model does not take samples shaped {tuple(input_shape)} (set "
                                 f"--input-shape): {str(exc).strip().splitlines()[-1][:300]}") from exc
            n_classes = int(probe.shape[-1])
        super().__init__(name, n_classes, input_shape, classes=classes, batch_size=batch_size)

    def _proba(self, x: np.ndarray) -> np.ndarray:
        torch = _torch()
        with torch.no_grad():
            out = self._module(torch.from_numpy(np.ascontiguousarray(x)))
            if self._outputs == "logits":
                out = torch.softmax(out.double(), dim=1)
        return np.asarray(out.double().numpy())

    @property
    def has_gradients(self) -> bool:
        return True

    def logits_module(self) -> Any:
        if self._outputs == "logits":
            return self._module
        return _LogOf(self._module)

    @property
    def estimator(self) -> Any:
        return self._module

    def layer_names(self) -> list[str]:
        """Hidden layers, input side first; the output layer is left out.

        In-memory modules list their leaf submodules (read with forward hooks). TorchScript modules cannot be
        hooked, so only a scripted or traced ``Sequential`` offers layers: its top-level children, run in turn.
        """
        if _is_script(self._module):
            return [name for name, _ in self._module.named_children()][:-1] if _is_sequential(self._module) else []
        leaves = [name for name, child in self._module.named_modules() if name and not list(child.children())]
        return leaves[:-1]

    def activations(self, x: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
        names = self.layer_names()
        missing = [name for name in layers if name not in names]
        if missing:
            extra = " (a TorchScript model exposes layers only when it is a Sequential)" if _is_script(
                self._module) else ""
            raise ModelError(f"{self.name}: no layer named {missing[0]!r}; layers are {names}{extra}")
        x = self.check_input(x)
        found: dict[str, list[np.ndarray]] = {name: [] for name in layers}
        run = self._run_children if _is_script(self._module) else self._run_hooked
        for start in range(0, len(x), self.batch_size):
            run(np.ascontiguousarray(x[start:start + self.batch_size]), found)
        self.count(len(x))
        return {name: np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
                for name, parts in found.items()}

    def _run_hooked(self, batch: np.ndarray, found: dict[str, list[np.ndarray]]) -> None:
        torch = _torch()
        modules = dict(self._module.named_modules())
        hooks = [modules[name].register_forward_hook(_recorder(found[name])) for name in found]
        try:
            with torch.no_grad():
                self._module(torch.from_numpy(batch))
        finally:
            for hook in hooks:
                hook.remove()

    def _run_children(self, batch: np.ndarray, found: dict[str, list[np.ndarray]]) -> None:
        torch = _torch()
        with torch.no_grad():
            value = torch.from_numpy(batch)
            for name, child in self._module.named_children():
                value = child(value)
                if name in found:
                    found[name].append(value.reshape(len(value), -1).float().numpy().copy())


def _is_script(module: Any) -> bool:
    torch = _torch()
    return isinstance(module, torch.jit.ScriptModule)


def _is_sequential(module: Any) -> bool:
    return getattr(module, "original_name", "") == "Sequential"


def _recorder(sink: list[np.ndarray]) -> Any:
    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        sink.append(output.detach().reshape(len(output), -1).float().numpy().copy())
    return hook


class _LogOf:
    """Wrap a probability-output module so attacks see log-probabilities (logits up to a constant)."""

    def __new__(cls, module: Any) -> Any:
        import torch

        class LogOf(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = module

            def forward(self, x: Any) -> Any:
                return torch.log(self.inner(x).clamp_min(1e-12))

        return LogOf().eval()
