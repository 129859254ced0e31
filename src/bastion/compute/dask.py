"""The Dask executor: tasks run on a Dask distributed cluster, remote or started here.

Dask is an optional extra and is imported only when a DaskExecutor is built. The functions sent must be
importable on the workers (install bastion there too); items travel as task arguments, so pass partition
descriptors (paths, row ranges), not the data itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from bastion.compute.interface import Executor, ordered_window

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = "pip install 'bastion-ai[dask]'"
"""What to run when the Dask extra is missing."""


class DaskExecutor(Executor):
    """Runs tasks on the Dask scheduler at ``address``, or on a LocalCluster of ``workers`` processes.

    ``workers`` is used only when no address is given (default: one per CPU); ``processes=False`` makes the
    local cluster's workers threads of this process (quick to start; for tests and GIL-releasing work).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        processes: bool = True,
        max_in_flight: int | None = None,
    ) -> None:
        distributed = _import_distributed()
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._max_in_flight = max_in_flight
        self._cluster: Any = None
        if address is None:
            # One thread per worker: checks are mostly pure Python, so processes (not threads) give parallelism.
            # No dashboard: it would claim a port and warn when bokeh is absent.
            self._cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None
            )
        try:
            # set_as_default=False: do not hijack dask.compute() elsewhere in the caller's program.
            target = address if self._cluster is None else self._cluster
            self._client: Any = distributed.Client(target, set_as_default=False)
        except BaseException:
            self.close()  # the cluster we started must not outlive a failed connection
            raise

    @property
    def workers(self) -> int:
        """Worker threads across the cluster now (a remote cluster may grow or shrink)."""
        return sum(self._connected().nthreads().values())

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        client = self._connected()
        # Read the cluster size at each map: a remote cluster may have no workers yet when we connect.
        window = self._max_in_flight or 2 * max(1, self.workers)

        def submit(item: T) -> Any:
            # pure=False: no hashing of the arguments into a key, and equal items still run once each.
            return client.submit(fn, item, pure=False)

        return ordered_window(submit, items, window)

    def close(self) -> None:
        if getattr(self, "_client", None) is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def _connected(self) -> Any:
        """The client; an error once closed."""
        if self._client is None:
            raise RuntimeError("the executor is closed")
        return self._client


def _import_distributed() -> Any:
    """The ``distributed`` module, or an ImportError that names the extra to install.

    Imported by name and typed Any on purpose: type checking must give the same answer whether or not the
    optional extra is installed, and distributed's API is only partly annotated.
    """
    import importlib

    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(f"the Dask executor needs Dask distributed: {INSTALL_HINT}", name="distributed") from exc
