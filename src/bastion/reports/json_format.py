"""JSON output: the documented, versioned schema in ``docs/schema/scan-report.schema.json``."""

from __future__ import annotations

import json
from typing import Any

from bastion import __version__
from bastion.findings import ScanResult

SCHEMA_ID = "https://bastion.dev/schema/scan-report/1.0"


def report_dict(result: ScanResult) -> dict[str, Any]:
    """The report as plain data."""
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "bastion", "version": __version__},
        "targets": [t.to_dict() for t in result.targets],
        "findings": [f.to_dict() for f in result.findings],
        "summary": result.summary(),
    }


class JsonFormat:
    """``--format json``."""

    name = "json"

    def render(self, result: ScanResult) -> str:
        """Indented JSON with a trailing newline."""
        return json.dumps(report_dict(result), indent=2) + "\n"
