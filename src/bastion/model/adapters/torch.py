"""PyTorch modules (in memory or TorchScript files) as ``ModelAdapter``: gradients and hidden activations included."""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.model.base import DEFAULT_BATCH, ModelAdapter, ModelError


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the dev set-up
        raise ModelError("PyTorch models need torch: pip install 'bastion-ai[torch]'") from exc
    return torch


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
            with torch.no_grad():
                probe = self._module(torch.zeros((1, *input_shape), dtype=torch.float32))
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
        """Named submodules that compute something (leaves), input side first; the output layer is left out."""
        leaves = [name for name, child in self._module.named_modules() if name and not list(child.children())]
        return leaves[:-1]

    def activations(self, x: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
        torch = _torch()
        modules = dict(self._module.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing:
            raise ModelError(f"{self.name}: no layer named {missing[0]!r}; layers are {self.layer_names()}")
        x = self.check_input(x)
        found: dict[str, list[np.ndarray]] = {name: [] for name in layers}
        hooks: list[Any] = []
        try:
            hooks.extend(modules[name].register_forward_hook(_recorder(found[name])) for name in layers)
            with torch.no_grad():
                for start in range(0, len(x), self.batch_size):
                    self._module(torch.from_numpy(np.ascontiguousarray(x[start:start + self.batch_size])))
        except RuntimeError as exc:
            raise ModelError(f"{self.name}: forward hooks failed ({exc}); TorchScript modules cannot be hooked: "
                             f"pass the module in memory") from exc
        finally:
            for hook in hooks:
                hook.remove()
        self.count(len(x))
        return {name: np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
                for name, parts in found.items()}


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
