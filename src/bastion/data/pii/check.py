"""The ``pii`` check (``bastion.checks`` plug-in): datasets in a project tree that hold personal data.

Tables (CSV, TSV, Parquet, JSON Lines; recognised by suffix, Parquet also by its magic bytes) are classified from
samples and counted exactly by ``scan_table``. One finding per column and entity type; its severity follows the
kind of data and how many rows hold it. Credentials are left to the ``secrets`` check, which reads the same files.

```toml
[pii]
sample_rows = 1000        # values per column searched to classify it
max_rows = 5000000        # rows counted exactly per file; beyond, the target is incomplete
threshold = 0.5           # detector score threshold
exclude = ["tests/*"]     # paths (globs, as reported) not examined
```
"""

from __future__ import annotations

from bastion.config import Settings
from bastion.scan.check import CheckOutcome, Target

__all__ = ["PiiCheck"]


class PiiCheck:
    """Personal data in datasets (BST-PII-*)."""

    name = "pii"

    def examine(self, target: Target, settings: Settings) -> CheckOutcome:
        """Classify and count one table; never executes anything in it."""
        from bastion.data.pii._check_impl import examine

        return examine(target, settings)
