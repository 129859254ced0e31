"""The in-process executor: runs each task in the caller, one after the other. The default; nothing is pickled."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from bastion.compute.interface import Executor, TaskError

T = TypeVar("T")
R = TypeVar("R")


class InProcessExecutor(Executor):
    """Runs tasks in the calling thread; items are pulled one at a time, so at most one task is in flight."""

    def __init__(self) -> None:
        self._closed = False

    @property
    def workers(self) -> int:
        return 1

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self._closed:
            raise RuntimeError("the executor is closed")
        return _run(fn, items)

    def close(self) -> None:
        self._closed = True


def _run(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``fn`` over items, lazily; a failure names the item's index like the other executors do."""
    for index, item in enumerate(items):
        try:
            result = fn(item)
        except Exception as exc:
            raise TaskError(index, exc) from exc
        yield result
