"""What the HTML report tests share: a strict parser of a page, and finding an SVG by its label."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser


class Page(HTMLParser):
    """Parses a page strictly: every element closed in order; collects tags, SVG labels and text."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: Counter[str] = Counter()
        self.svgs: list[str] = []
        self.errors: list[str] = []
        self.data: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        if tag == "svg":
            self.svgs.append(dict(attrs).get("aria-label") or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.data.append(data)

    @property
    def text(self) -> str:
        return "".join(self.data)


def parse(text: str) -> Page:
    page = Page(text)
    assert not page.errors and not page.stack, (page.errors[:3], page.stack)
    assert page.tags["script"] == 0 and "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text  # nothing fetched
    return page


def svg(text: str, label: str) -> str:
    """The SVG element whose aria-label is ``label``."""
    found = re.search(rf'<svg [^>]*aria-label="{re.escape(label)}".*?</svg>', text, re.S)
    assert found, f"no svg {label!r}"
    return found.group(0)
