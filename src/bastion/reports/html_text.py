"""Text escaping shared by Bastion's self-contained HTML reports (drift, robustness, poisoning)."""

from __future__ import annotations

from html import escape

_CONTROLS = {code: None for code in [*range(0, 9), 11, 12, *range(14, 32), 127]}
"""C0 controls and DEL, which HTML forbids in text (tab, line feed and carriage return stay)."""


def escape_text(value: object) -> str:
    """Escape ``value`` for HTML text and quoted attributes, dropping control characters HTML forbids."""
    return escape(str(value).translate(_CONTROLS), quote=True)
