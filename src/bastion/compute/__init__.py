"""One executor for data-heavy checks: in-process, a local process pool, or a Dask cluster.

Checks express their work as a map over partitions plus a merge of small states (``map_reduce``), and take an
``Executor`` from the caller; ``executor_for`` turns the ``--workers`` and ``--dask`` options into one.
Importing this package is cheap: multiprocessing and Dask are imported when an executor first needs them.
"""

from __future__ import annotations

from bastion.compute.dask import INSTALL_HINT, DaskExecutor
from bastion.compute.interface import Executor, TaskError, map_reduce
from bastion.compute.local import InProcessExecutor
from bastion.compute.pool import ProcessPoolExecutor, available_cpus

LOCAL_DASK = "local"
"""``dask=`` value that starts a LocalCluster here instead of connecting to a scheduler."""


def executor_for(workers: int | None = None, dask: str | None = None) -> Executor:
    """The executor the options ask for.

    ``dask``: a scheduler address (``tcp://10.0.0.5:8786``), or ``"local"`` for a LocalCluster of ``workers``.
    Otherwise ``workers``: None, 0 or 1 run in-process; n > 1 a pool of n processes; -1 one per available CPU.
    """
    if dask is not None:
        if dask == LOCAL_DASK:
            return DaskExecutor(None, None if workers is None or workers < 1 else workers)
        return DaskExecutor(dask)
    if workers == -1:
        workers = available_cpus()
    if workers is None or workers in (0, 1):
        return InProcessExecutor()
    if workers < 0:
        raise ValueError(f"workers must be -1 (all CPUs), 0, 1 or more, got {workers}")
    return ProcessPoolExecutor(workers)


__all__ = [
    "INSTALL_HINT",
    "LOCAL_DASK",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "TaskError",
    "available_cpus",
    "executor_for",
    "map_reduce",
]
