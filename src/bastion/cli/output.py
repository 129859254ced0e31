"""Writing reports: to stdout, or atomically to a file so a crash never leaves half a report."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def write_report(text: str, output: Path | None) -> None:
    """Print ``text`` or write it to ``output`` via a temporary file and rename."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    if str(output) in ("/dev/null", os.devnull) or output.is_char_device():
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    from bastion.data.files import atomic_writer

    with atomic_writer(output) as handle:
        handle.write(text)
