"""The executor interface: run a function over many items (partitions, files) and merge small results.

Checks that read a lot of data express their work as ``map`` over partitions plus a ``merge`` of small
states, so the same check runs in-process, on a local process pool or on a Dask cluster unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
R_co = TypeVar("R_co", covariant=True)


class TaskError(RuntimeError):
    """A task raised: which item failed (its position in the input) and what it raised (also ``__cause__``)."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"task for item {index} failed: {type(error).__name__}: {error}")
        self.index = index
        """Zero-based position of the failing item in the input iterable."""
        self.error = error
        """The exception the task raised (for a process or a cluster, as re-created in the caller)."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduce would call __init__ with the message only; keep it picklable for nested use.
        return (type(self), (self.index, self.error))


class Executor(ABC):
    """Runs ``fn`` over items, in the caller, in local processes or on a cluster; results come back in input order.

    An executor holds resources (processes, a cluster connection): use it as a context manager or call ``close``.
    """

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many tasks can run at the same time."""

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn(item)`` for each item, yielded in input order.

        Items are pulled lazily and only a bounded number of tasks is in flight, so an input of a million
        partitions (or an endless generator) keeps memory bounded. A failing task raises ``TaskError``
        naming the item's index; the tasks still pending are cancelled.
        """

    @abstractmethod
    def close(self) -> None:
        """Cancel what is pending and release processes or connections. Safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def map_reduce(
    executor: Executor, fn: Callable[[T], R], items: Iterable[T], merge: Callable[[S, R], S], initial: S
) -> S:
    """Fold ``merge`` over ``fn(item)`` for each item, starting from ``initial``.

    Merging happens in the caller in input order, so the result is deterministic even when ``merge`` is not
    commutative, and only one partial result per in-flight task is ever held.
    """
    state = initial
    for result in executor.map(fn, items):
        state = merge(state, result)
    return state


class Pending(Protocol[R_co]):
    """A submitted task as futures libraries model it (concurrent.futures, Dask)."""

    def result(self) -> R_co:
        """Wait for the task; return its value or raise its exception."""
        ...

    def cancel(self) -> Any:
        """Cancel the task if it has not started (a started one may run to completion)."""
        ...


def ordered_window(submit: Callable[[T], Pending[R]], items: Iterable[T], max_in_flight: int) -> Iterator[R]:
    """Submit items through ``submit`` keeping at most ``max_in_flight`` pending; yield results in input order.

    For executors built on futures. The window waits on its oldest task, so a slow item holds back at most
    ``max_in_flight`` finished results rather than letting the input run ahead unbounded.
    """
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
    window: deque[tuple[int, Pending[R]]] = deque()
    try:
        for index, item in enumerate(items):
            window.append((index, submit(item)))
            if len(window) >= max_in_flight:
                yield _result(*window.popleft())
        while window:
            yield _result(*window.popleft())
    finally:
        # Reached on error, on early exit of the consumer (GeneratorExit) and on garbage collection.
        for _, pending in window:
            pending.cancel()


def _result(index: int, pending: Pending[R]) -> R:
    """The task's value, or a TaskError naming the item's index."""
    try:
        return pending.result()
    except Exception as exc:
        raise TaskError(index, exc) from exc
