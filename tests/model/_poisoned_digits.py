"""What the backdoor, STRIP and Neural Cleanse tests share: the small digits MLP they train (on poisoned data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def train_mlp(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """A 64-128-64-10 ReLU MLP, 40 epochs of Adam in mini-batches of 64, seeded; returned in eval mode."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(40):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), 64):
            batch = order[start:start + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch]).backward()
            opt.step()
    return net.eval()
