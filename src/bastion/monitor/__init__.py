"""Drift and model monitoring: fit a reference profile, test current data against it, watch streams online.

``DriftMonitor`` is the entry point (configure, ``fit(reference)``, ``test(current)``); profiles are mergeable
summaries that hold no rows, so the same code runs in one process, on the shared executor over partitions, and on
a Dask cluster.
"""

from __future__ import annotations

from bastion.monitor.dataset import DatasetProfile
from bastion.monitor.drift import DriftMonitor
from bastion.monitor.report import ColumnDrift, DatasetTest, DriftReport, Histogram

__all__ = ["ColumnDrift", "DatasetProfile", "DatasetTest", "DriftMonitor", "DriftReport", "Histogram"]
