"""OSV records for the dependency-audit tests (imported by their conftest and tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def record(advisory_id: str, name: str, events: list[dict[str, str]] | None = None, versions: list[str] | None = None,
           **extra: Any) -> dict[str, Any]:
    """A minimal OSV record for one PyPI package."""
    affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": advisory_id, "modified": extra.pop("modified", "2099-01-01T00:00:00Z"), "affected": [affected],
            **extra}


MINI_RECORDS = [
    record("TEST-2020-1", "Demo_Pkg", [{"introduced": "0"}, {"fixed": "1.2.0"}], aliases=["CVE-2020-0001"],
           summary="Remote code execution in demo-pkg.",
           severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
    record("GHSA-aaaa-bbbb-cccc", "demo-pkg", [{"introduced": "0"}, {"fixed": "1.2.1"}], aliases=["CVE-2020-0001"],
           database_specific={"severity": "HIGH"}),
    record("TEST-2021-2", "demo-pkg", [{"introduced": "1.0"}, {"last_affected": "1.5"}, {"introduced": "2.0"},
                                       {"fixed": "2.0.3"}], database_specific={"severity": "MODERATE"},
           details="Denial of service. More text follows here."),
    record("TEST-2022-3", "other-pkg", versions=["0.9", "1.0"]),
    record("TEST-2022-4", "other-pkg", [{"introduced": "0"}], withdrawn="2023-01-01T00:00:00Z"),
    {"id": "NPM-1", "modified": "2099-01-01T00:00:00Z",
     "affected": [{"package": {"ecosystem": "npm", "name": "demo-pkg"}}]},
]
"""demo-pkg: <1.2.0 critical (TEST-2020-1, aliased by GHSA-... with fix 1.2.1), [1.0, 1.5] and [2.0, 2.0.3) medium;
other-pkg: 0.9 and 1.0 listed (high by default); a withdrawn record and an npm record that are not imported."""


def write_records(folder: Path, records: list[dict[str, Any]]) -> Path:
    """Each record as ``folder/ID.json``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in records:
        (folder / f"{item['id']}.json").write_text(json.dumps(item), "utf-8")
    return folder
