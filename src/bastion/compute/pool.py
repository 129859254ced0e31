"""The local process-pool executor: tasks run in worker processes of this machine.

Start method: "forkserver" where the platform has it (Linux, macOS), else "spawn" (Windows). Plain "fork" is
unsafe once the caller has threads (Rich progress refresh, a Dask client's event loop, the gateway, the pool's
own manager thread): the child can inherit a lock held by a thread that does not exist in it and deadlock;
CPython 3.12 warns about it and 3.14 no longer defaults to it. Measured on Python 3.11, 2 workers, time to the
first results of a fresh pool: fork 3-6 ms, forkserver 38 ms for the first pool of a process (it starts the
server) then 14-16 ms, spawn 33 ms every time. When the task's module imports numpy and scikit-learn, forkserver
and spawn both cost about 0.9 s, as each worker imports them itself (3.11's forkserver does not preload
``__main__``). So forkserver is never slower than spawn, and safe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from bastion.compute.interface import Executor, ordered_window

if TYPE_CHECKING:
    import concurrent.futures

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """CPUs this process may run on: the affinity mask where the OS has one (containers, taskset), else all."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class ProcessPoolExecutor(Executor):
    """Runs tasks in a pool of local worker processes; ``fn`` and the items must be picklable.

    The pool (and the import of multiprocessing) is created at the first ``map``, so building one is free.
    """

    def __init__(self, workers: int | None = None, max_in_flight: int | None = None) -> None:
        self._workers = available_cpus() if workers is None else workers
        if self._workers < 1:
            raise ValueError(f"workers must be at least 1, got {self._workers}")
        # Twice the workers keeps every worker busy while the caller consumes results, yet bounds memory.
        self._max_in_flight = 2 * self._workers if max_in_flight is None else max_in_flight
        if self._max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self._max_in_flight}")
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def max_in_flight(self) -> int:
        """The most tasks submitted and not yet handed back at any time."""
        return self._max_in_flight

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        _require_picklable(fn)
        pool = self._started()
        return ordered_window(lambda item: pool.submit(fn, item), items, self._max_in_flight)

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            # wait=True joins the workers, so none outlives close; cancel_futures drops what has not started.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _started(self) -> concurrent.futures.ProcessPoolExecutor:
        """The pool, created on first use."""
        if self._closed:
            raise RuntimeError("the executor is closed")
        if self._pool is None:
            import concurrent.futures
            import multiprocessing

            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        return self._pool


def _require_picklable(fn: Callable[..., object]) -> None:
    """Fail now with a clear message, rather than as a pickling error inside the first task."""
    import pickle

    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise TypeError(
            f"{fn!r} cannot be sent to worker processes ({exc}); use a module-level function or a "
            "functools.partial of one"
        ) from exc
