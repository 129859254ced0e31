"""The shared executor: ordering, bounded in-flight work, errors with the item index, merging, clean shutdown."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import bastion.compute
from bastion.compute import (
    INSTALL_HINT,
    DaskExecutor,
    Executor,
    InProcessExecutor,
    ProcessPoolExecutor,
    TaskError,
    executor_for,
    map_reduce,
)

# Module-level task functions: worker processes import this module to unpickle them.


def square(x: int) -> int:
    return x * x


def late_for_early_items(x: int) -> int:
    """Early items finish last, so completion order is the reverse of input order."""
    time.sleep(max(0, 8 - x) * 0.004)
    return x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("boom at three")
    return x


def pid_after_nap(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def as_list(x: int) -> list[int]:
    return [x]


class Recorder:
    """An input that records how many items the executor has pulled from it."""

    def __init__(self, items: Iterator[int]) -> None:
        self.items = items
        self.consumed = 0

    def __iter__(self) -> Iterator[int]:
        for item in self.items:
            self.consumed += 1
            yield item


try:
    import distributed  # noqa: F401  only to learn whether the optional extra is here
except ImportError:
    HAVE_DASK = False
else:
    HAVE_DASK = True
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason=f"Dask is an optional extra: {INSTALL_HINT}")

KINDS = ["in-process", "pool", pytest.param("dask-threads", marks=needs_dask)]
IN_FLIGHT = 3


def build(kind: str) -> tuple[Executor, int]:
    """An executor of the kind and the most items it may hold at once."""
    if kind == "in-process":
        return InProcessExecutor(), 1
    if kind == "pool":
        return ProcessPoolExecutor(2, max_in_flight=IN_FLIGHT), IN_FLIGHT
    return DaskExecutor(workers=2, processes=False, max_in_flight=IN_FLIGHT), IN_FLIGHT


@pytest.fixture(params=KINDS)
def executor_and_bound(request: pytest.FixtureRequest) -> Iterator[tuple[Executor, int]]:
    executor, bound = build(request.param)
    with executor:
        yield executor, bound


@pytest.fixture
def executor(executor_and_bound: tuple[Executor, int]) -> Executor:
    return executor_and_bound[0]


def test_results_come_back_in_input_order(executor: Executor) -> None:
    assert list(executor.map(late_for_early_items, range(10))) == list(range(10))
    assert list(executor.map(square, [])) == []


def test_items_are_pulled_only_as_far_as_the_in_flight_bound(executor_and_bound: tuple[Executor, int]) -> None:
    executor, bound = executor_and_bound
    source = Recorder(iter(range(20)))
    for index, result in enumerate(executor.map(square, source)):
        assert result == index * index
        # The window holds `bound` tasks before the first result, then takes one item per result.
        assert source.consumed <= index + bound
    assert source.consumed == 20


def test_an_endless_input_is_fine(executor_and_bound: tuple[Executor, int]) -> None:
    executor, bound = executor_and_bound
    source = Recorder(itertools.count())
    results = executor.map(square, source)
    assert list(itertools.islice(results, 5)) == [0, 1, 4, 9, 16]
    results.close()  # type: ignore[attr-defined]  # a generator: closing cancels what is pending
    assert source.consumed <= 5 + bound


def test_a_failing_task_is_reraised_with_its_index(executor: Executor) -> None:
    source = Recorder(iter(range(100)))
    with pytest.raises(TaskError, match=r"item 3 failed: ValueError: boom at three") as caught:
        list(executor.map(fail_on_three, source))
    assert caught.value.index == 3
    assert isinstance(caught.value.error, ValueError)
    assert isinstance(caught.value.__cause__, ValueError)
    assert source.consumed <= 3 + IN_FLIGHT  # nothing past the window was submitted
    # The executor is still usable for another map after a task failed.
    assert list(executor.map(square, range(3))) == [0, 1, 4]


def test_map_reduce_merges_in_input_order(executor: Executor) -> None:
    assert map_reduce(executor, square, range(10), lambda total, x: total + x, 0) == 285
    empty: list[int] = []
    assert map_reduce(executor, as_list, range(6), lambda acc, part: acc + part, empty) == list(range(6))
    assert map_reduce(executor, square, [], lambda total, x: total + x, 7) == 7


def test_errors_from_the_input_itself_pass_through_unwrapped(executor: Executor) -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("partition listing failed")

    with pytest.raises(OSError, match="partition listing failed"):
        list(executor.map(square, broken()))


def test_a_closed_executor_refuses_work(executor: Executor) -> None:
    executor.close()
    executor.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        list(executor.map(square, range(3)))


# --- the process pool


def pids_gone(pids: set[int]) -> bool:
    """Whether none of the processes exists any more (joined and reaped, not zombies)."""
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


def test_the_pool_runs_tasks_in_several_processes() -> None:
    with ProcessPoolExecutor(2) as pool:
        assert pool.workers == 2
        pids = set(pool.map(pid_after_nap, range(8)))
    assert len(pids) > 1
    assert os.getpid() not in pids


def child_pids() -> set[int]:
    return {child.pid for child in multiprocessing.active_children() if child.pid is not None}


def test_closing_the_pool_leaves_no_child_processes() -> None:
    before = child_pids()
    pool = ProcessPoolExecutor(2)
    pids = set(pool.map(pid_after_nap, range(4)))
    assert not pids_gone(pids)
    pool.close()
    assert pids_gone(pids)
    assert child_pids() <= before


def test_an_error_or_an_early_stop_leaves_no_child_processes() -> None:
    before = child_pids()
    with ProcessPoolExecutor(2, max_in_flight=4) as pool:
        pids = set(itertools.islice(pool.map(pid_after_nap, range(1000)), 4))
        with pytest.raises(TaskError):
            list(pool.map(fail_on_three, range(1000)))
    assert pids_gone(pids)
    assert child_pids() <= before


def test_the_pool_says_when_a_function_cannot_reach_the_workers() -> None:
    with ProcessPoolExecutor(2) as pool, pytest.raises(TypeError, match="module-level function"):
        pool.map(lambda x: x, range(3))


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        ProcessPoolExecutor(0)
    with pytest.raises(ValueError, match="max_in_flight"):
        ProcessPoolExecutor(2, max_in_flight=0)
    assert ProcessPoolExecutor().workers == bastion.compute.available_cpus()


# --- Dask


@needs_dask
def test_dask_local_cluster_of_processes() -> None:
    with executor_for(2, dask="local") as dask:
        assert isinstance(dask, DaskExecutor)
        assert dask.workers == 2
        pids = set(dask.map(pid_after_nap, range(8)))
    assert len(pids) > 1
    assert os.getpid() not in pids


@needs_dask
def test_dask_connects_to_a_scheduler_address_and_leaves_its_cluster_running() -> None:
    import distributed

    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with local as cluster:
        with DaskExecutor(cluster.scheduler_address) as dask:
            assert list(dask.map(late_for_early_items, range(6))) == list(range(6))
        assert cluster.status.name == "running"
        with executor_for(dask=cluster.scheduler_address) as again:
            assert isinstance(again, DaskExecutor)
            assert again.workers == 2


@needs_dask
def test_a_failed_connection_is_a_clear_error() -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}), pytest.raises(OSError, match="connect"):
        DaskExecutor("tcp://127.0.0.1:9")


def test_missing_dask_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an absent package looks like to import
    with pytest.raises(ImportError, match=re.escape(INSTALL_HINT)):
        DaskExecutor()


# --- choosing an executor


@pytest.mark.parametrize("workers", [None, 0, 1])
def test_few_workers_run_in_process(workers: int | None) -> None:
    assert isinstance(executor_for(workers), InProcessExecutor)


def test_more_workers_make_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = executor_for(3)
    assert isinstance(pool, ProcessPoolExecutor)
    assert pool.workers == 3
    monkeypatch.setattr(bastion.compute, "available_cpus", lambda: 6)
    all_cpus = executor_for(-1)
    assert isinstance(all_cpus, ProcessPoolExecutor)
    assert all_cpus.workers == 6
    monkeypatch.setattr(bastion.compute, "available_cpus", lambda: 1)
    assert isinstance(executor_for(-1), InProcessExecutor)
    with pytest.raises(ValueError, match="workers"):
        executor_for(-2)


def test_importing_the_package_stays_cheap() -> None:
    heavy = ("concurrent.futures", "multiprocessing", "pickle", "dask", "distributed")
    code = f"import bastion.compute, sys; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
