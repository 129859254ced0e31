"""The drift report as a self-contained HTML page: well formed, offline, escaped, ordered, and small."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import pytest

from bastion.monitor.html import render_html
from bastion.monitor.report import ColumnDrift, DatasetTest, DriftReport, Histogram

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Every attribute double-quoted (or bare), nothing else inside a tag.
START_TAG = re.compile(r'<[a-zA-Z][a-zA-Z0-9]*(\s+[a-zA-Z][a-zA-Z0-9:-]*(="[^"<]*")?)*\s*/?>')
HOSTILE = '<script>alert("x")</script>" onmouseover="steal()'


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def iter(self, tag: str | None = None) -> list[Node]:
        found = [self] if tag is None or self.tag == tag else []
        for child in self.children:
            found.extend(child.iter(tag))
        return found

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class Tree(HTMLParser):
    """A minimal DOM that records every mismatched or unclosed tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.errors: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        if not START_TAG.fullmatch(raw):
            self.errors.append(f"malformed start tag {raw!r}")
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not START_TAG.fullmatch(self.get_starttag_text() or ""):
            self.errors.append(f"malformed start tag {self.get_starttag_text()!r}")
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if len(self.stack) == 1 or self.stack[-1].tag != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1].tag}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def parse(page: str) -> Node:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.doctype, "page must start with <!DOCTYPE html>"
    assert tree.errors == []
    assert [node.tag for node in tree.stack] == ["#root"], "unclosed tags"
    return tree.root


def numeric_histogram(bins: int, shift: float, rng: np.random.Generator) -> Histogram:
    edges = np.linspace(-3.0, 3.0, bins + 1) * (1 + rng.random())
    centres = (edges[:-1] + edges[1:]) / 2
    reference = np.exp(-(centres**2) / 2)
    current = np.exp(-((centres - shift) ** 2) / 2)
    labels = tuple(f"[{lo:.3f}, {hi:.3f})" for lo, hi in zip(edges[:-1], edges[1:], strict=True))
    return Histogram(labels, tuple(reference / reference.sum()), tuple(current / current.sum()), tuple(edges))


def column(name: str, *, drift: bool = False, p_adjusted: float | None = 0.5, histogram: Histogram | None = None,
           kind: str = "numeric", message: str | None = None) -> ColumnDrift:
    return ColumnDrift(name=name, kind=kind, test="ks" if kind == "numeric" else "chi2", statistic=0.21,
                       p_value=None if p_adjusted is None else p_adjusted / 3, p_adjusted=p_adjusted,
                       effect_size=0.4, drift=drift, metrics={"psi": 0.12}, reference_missing=0.0,
                       current_missing=0.125, message=message, histogram=histogram)


def report(columns: tuple[ColumnDrift, ...], tests: tuple[DatasetTest, ...] = (), warnings: tuple[str, ...] = (),
           drift: bool | None = None) -> DriftReport:
    verdict = any(c.drift for c in columns) or any(t.drift for t in tests) if drift is None else drift
    return DriftReport(drift=verdict, alpha=0.05, correction="holm", reference_rows=12_000, current_rows=3_456,
                       columns=columns, dataset_tests=tests, warnings=warnings)


def dataset_tests() -> tuple[DatasetTest, ...]:
    return (
        DatasetTest("domain_classifier", 0.71, 1.5e-6, 4e-5, 0.21, True,
                    {"auc": 0.71, "top_features": [{"feature": "age", "importance": 0.4},
                                                   {"feature": "income", "importance": 0.2}]}),
        DatasetTest("performance", 0.04, 0.2, None, 0.04, False,
                    {"metric": "accuracy", "reference": {"accuracy": 0.91, "f1": 0.88},
                     "current": {"accuracy": 0.87, "f1": 0.83}, "bootstrap_p_value": 0.2}),
        DatasetTest("latency", None, None, None, None, False, {}, message="no latency column"),
    )


def charts(root: Node) -> list[Node]:
    return [svg for svg in root.iter("svg") if "chart" in svg.classes()]


def bins(chart: Node) -> list[Node]:
    """The per-bin groups of a chart: a tooltip, then the reference bar, then the current bar (class ``c``)."""
    inner = [svg for svg in chart.iter("svg") if "bars" in svg.classes()]
    assert len(inner) == 1
    groups = [g for g in inner[0].iter("g") if g.children and g.children[0].tag == "title"]
    assert len(inner[0].iter("rect")) == 2 * len(groups), "every rect belongs to a bin"
    return groups


def bars(chart: Node, series: str) -> list[Node]:
    """The reference (``r``) or current (``c``) bars, one per bin."""
    found = []
    for group in bins(chart):
        rects = [child for child in group.children if child.tag == "rect"]
        assert [rect.classes() for rect in rects] == [set(), {"c"}]
        found.append(rects[0] if series == "r" else rects[1])
    return found


def tooltips(chart: Node) -> list[str]:
    return [group.children[0].all_text() for group in bins(chart)]


def summary_names(root: Node) -> list[str]:
    (table,) = [t for t in root.iter("table") if t.attrs.get("id") == "summary"]
    return [th.all_text() for th in table.iter("th") if th.attrs.get("scope") == "row"]


def test_page_is_well_formed_and_accessible() -> None:
    rng = np.random.default_rng(0)
    cols = (column("age", drift=True, p_adjusted=1e-9, histogram=numeric_histogram(20, 1.0, rng)),
            column("city", kind="categorical", histogram=Histogram(("a", "b"), (0.5, 0.5), (0.3, 0.7))))
    root = parse(render_html(report(cols, dataset_tests(), warnings=("small sample",))))
    (html,) = root.iter("html")
    assert html.attrs.get("lang") == "en"
    assert all(th.attrs.get("scope") in {"col", "row"} for th in root.iter("th"))
    for chart in charts(root):
        assert chart.attrs.get("role") == "img"
        assert chart.attrs.get("aria-label")


def test_page_references_nothing_on_the_network() -> None:
    rng = np.random.default_rng(1)
    cols = tuple(column(f"c{i}", histogram=numeric_histogram(10, 0.0, rng)) for i in range(3))
    page = render_html(report(cols, dataset_tests()))
    root = parse(page)
    assert "http://" not in page and "https://" not in page
    links = [value for node in root.iter() for name, value in node.attrs.items() if name in {"src", "href"}]
    assert links and all(value is not None and value.startswith("#") for value in links)
    assert not root.iter("script") and not root.iter("link")
    assert "url(" not in page and "@import" not in page


def test_hostile_strings_are_escaped() -> None:
    hostile_hist = Histogram((HOSTILE, "b"), (0.6, 0.4), (0.4, 0.6))
    cols = (column(HOSTILE, drift=True, p_adjusted=0.01, kind="categorical", message=HOSTILE,
                   histogram=hostile_hist),)
    tests = (DatasetTest(HOSTILE, 1.0, 0.5, 0.5, 0.1, False, {HOSTILE: {HOSTILE: HOSTILE}}, message=HOSTILE),)
    page = render_html(report(cols, tests, warnings=(HOSTILE,)), title=HOSTILE)
    root = parse(page)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert not root.iter("script")
    assert not any("onmouseover" in node.attrs for node in root.iter())
    # The name survives as text: escaped, not dropped.
    assert HOSTILE in summary_names(root)
    assert HOSTILE in charts(root)[0].attrs["aria-label"]  # type: ignore[operator]


def test_control_characters_are_dropped() -> None:
    page = render_html(report((column("bad\x00name\x1b", message="bell\x07"),)))
    parse(page)
    assert "\x00" not in page and "\x1b" not in page and "\x07" not in page
    assert "badname" in page


@pytest.mark.parametrize("drift", [True, False])
def test_header_shows_verdict_and_counts(drift: bool) -> None:
    cols = (column("a", drift=drift, p_adjusted=0.001), column("b"), column("c"))
    tests = dataset_tests() if drift else dataset_tests()[1:]  # the first one alarms
    root = parse(render_html(report(cols, tests, warnings=("only 40 current rows",))))
    (header,) = [h for h in root.iter("header") if h.iter("h1")]
    verdict = [span for span in header.iter("span") if "verdict" in span.classes()]
    assert len(verdict) == 1
    assert ("drift" in verdict[0].classes()) is drift
    assert ("ok" in verdict[0].classes()) is not drift
    assert verdict[0].all_text() == ("Drift detected" if drift else "No drift detected")
    text = header.all_text()
    assert f"{int(drift)} of 3 columns drifted" in text
    assert f"{int(drift)} of {len(tests)} dataset tests alarm" in text
    assert "12,000" in text and "3,456" in text and "Holm" in text and "0.05" in text
    assert "only 40 current rows" in text


def test_summary_lists_drifted_columns_first_then_by_corrected_p() -> None:
    cols = (column("calm", p_adjusted=0.5), column("mild", drift=True, p_adjusted=0.01),
            column("untested", p_adjusted=None), column("severe", drift=True, p_adjusted=1e-9),
            column("borderline", p_adjusted=0.2))
    root = parse(render_html(report(cols)))
    assert summary_names(root) == ["severe", "mild", "borderline", "calm", "untested"]
    cards = [figure for figure in root.iter("figure") if "card" in figure.classes()]
    assert [card.iter("h3")[0].all_text() for card in cards] == summary_names(root)
    # Each name links to its own card.
    links = {a.all_text(): a.attrs["href"] for a in root.iter("a")}
    assert {f"#{card.attrs['id']}" for card in cards} == set(links.values())


def test_one_chart_per_histogram_with_one_rect_per_bar_per_series() -> None:
    rng = np.random.default_rng(2)
    sizes = [3, 10, 50]
    cols = tuple(column(f"n{size}", histogram=numeric_histogram(size, 0.5, rng)) for size in sizes)
    cols += (column("no_hist", message="all values are null"),)
    root = parse(render_html(report(cols)))
    found = charts(root)
    assert len(found) == len(sizes)
    by_name = {chart.attrs["aria-label"]: chart for chart in found}
    for col in cols[:3]:
        assert col.histogram is not None
        (chart,) = [c for label, c in by_name.items() if f"of {col.name}:" in str(label)]
        n = len(col.histogram.labels)
        ref, cur = bars(chart, "r"), bars(chart, "c")
        assert len(ref) == len(cur) == n
        # Tallest bar where the share is largest; heights are proportional to shares.
        heights = np.array([float(rect.attrs.get("height") or 0) for rect in ref])
        shares = np.array(col.histogram.reference)
        assert int(np.argmax(heights)) == int(np.argmax(shares))
        assert np.allclose(heights / heights.max(), shares / shares.max(), atol=0.002)
        # One tooltip per bin, in bin order for numeric columns.
        titles = tooltips(chart)
        assert [title.split(": reference")[0] for title in titles] == list(col.histogram.labels)
    assert "all values are null" in root.all_text()


def test_categories_are_drawn_most_common_first_with_percent_tooltips() -> None:
    hist = Histogram(("rare", "common", "mid"), (0.05, 0.7, 0.25), (0.1, 0.6, 0.3))
    root = parse(render_html(report((column("city", kind="categorical", histogram=hist),))))
    (chart,) = charts(root)
    assert [float(rect.attrs.get("height") or 0) for rect in bars(chart, "r")] == sorted(
        (float(rect.attrs.get("height") or 0) for rect in bars(chart, "r")), reverse=True)
    assert tooltips(chart) == ["common: reference 70%, current 60%", "mid: reference 25%, current 30%",
                      "rare: reference 5%, current 10%"]


def test_many_bin_labels_are_thinned_and_few_are_all_shown() -> None:
    rng = np.random.default_rng(3)
    many = numeric_histogram(50, 0.0, rng)
    few = Histogram(("a", "b", "c", "d", "e"), (0.2,) * 5, (0.2,) * 5)
    root = parse(render_html(report((column("many", histogram=many),
                                     column("few", kind="categorical", histogram=few)))))
    ticks = {chart.attrs["aria-label"]: [t for t in chart.iter("text") if "tick" in t.classes()]
             for chart in charts(root)}
    many_ticks = next(v for k, v in ticks.items() if "of many:" in str(k))
    few_ticks = next(v for k, v in ticks.items() if "of few:" in str(k))
    assert 2 <= len(many_ticks) <= 12
    assert many_ticks[0].all_text().startswith(many.labels[0][:10])
    assert sorted(t.all_text() for t in few_ticks) == ["a", "b", "c", "d", "e"]


def test_numbers_are_compact() -> None:
    col = ColumnDrift("x", "numeric", "ks", 0.123456, 1.234e-8, 3.21e-7, 1.5, True,
                      reference_missing=0.1234, current_missing=0.0)
    other = ColumnDrift("y", "numeric", "ks", 4321.9, 0.5, 1.0, 2e-5, False, reference_missing=0.00001)
    text = parse(render_html(report((col, other)))).all_text()
    for expected in ["1.2e-08", "3.2e-07", "0.123", "12.3%", "0%", "1.5", "4322", "2e-05", "<0.1%"]:
        assert expected in text
    assert "1.234e-08" not in text and "0.123456" not in text


def test_none_and_non_finite_values_render() -> None:
    col = ColumnDrift("empty", "unusable", "none", None, None, None, None, False, message="column is all null")
    odd = ColumnDrift("odd", "numeric", "ks", float("inf"), float("nan"), None, float("-inf"), False,
                      histogram=Histogram(("[0, 1)", "[1, 2]"), (float("nan"), 1.0), (0.5, 0.5), (0.0, 1.0, 2.0)))
    root = parse(render_html(report((col, odd), dataset_tests())))
    rows = {th.all_text(): th for th in root.iter("th") if th.attrs.get("scope") == "row"}
    assert "empty" in rows and "odd" in rows
    (table,) = [t for t in root.iter("table") if t.attrs.get("id") == "summary"]
    empty_row = next(tr for tr in table.iter("tr") if tr.iter("th")[0].all_text() == "empty")
    cells = [td.all_text() for td in empty_row.iter("td")]
    assert cells.count("\u2013") == 4  # statistic, p, corrected p, effect size
    text = root.all_text()
    assert "column is all null" in text and "\u221e" in text and "NaN" in text
    (chart,) = charts(root)
    assert len(bars(chart, "r")) == 2


def test_empty_report() -> None:
    page = render_html(DriftReport(False, 0.05, "bh", 0, 0, ()))
    root = parse(page)
    assert "No drift detected" in root.all_text()
    assert "0 of 0 columns drifted" in root.all_text()
    assert not charts(root) and not [t for t in root.iter("table") if t.attrs.get("id") == "summary"]


def test_dataset_details_render_as_nested_tables() -> None:
    root = parse(render_html(report((), dataset_tests())))
    (card,) = [a for a in root.iter("article") if a.iter("h3")[0].all_text() == "performance"]
    outer = card.iter("table")[0]
    nested = [t for t in outer.iter("table") if t is not outer]
    assert len(nested) == 2  # reference and current metric mappings
    assert "0.91" in nested[0].all_text() and "0.87" in nested[1].all_text()
    (features,) = [a for a in root.iter("article") if a.iter("h3")[0].all_text() == "domain_classifier"]
    headers = [th.all_text() for th in features.iter("th") if th.attrs.get("scope") == "col"]
    assert headers == ["feature", "importance"]
    (latency,) = [a for a in root.iter("article") if a.iter("h3")[0].all_text() == "latency"]
    assert "no latency column" in latency.all_text()
    summary = [t for t in root.iter("table") if t.attrs.get("id") == "dataset-summary"][0].all_text()
    assert "multivariate" in summary and "model performance" in summary and "1.5e-06" in summary


def test_numpy_values_in_details_read_like_plain_numbers() -> None:
    details = {"auc": np.float32(0.71234), "rows": np.int64(1200), "alarm": np.bool_(True),
               "min_p_value": np.float64(3.3e-9), "segments": [np.float64(0.5), None]}
    root = parse(render_html(report((), (DatasetTest("latency", 1.0, 0.5, 0.5, 0.1, False, details),))))
    assert set(details) <= {th.all_text() for th in root.iter("th") if th.attrs.get("scope") == "row"}
    text = root.all_text()
    assert "0.712" in text and "1200" in text and "true" in text and "3.3e-09" in text and "[0.5, \u2013]" in text


def test_mismatched_histogram_is_a_clear_error() -> None:
    bad = Histogram(("a", "b", "c"), (0.5, 0.5), (0.2, 0.3, 0.5))
    with pytest.raises(ValueError, match="'broken'.*3 labels but 2 reference"):
        render_html(report((column("broken", kind="categorical", histogram=bad),)))


def busy_histogram(bins: int, rng: np.random.Generator) -> Histogram:
    """Worst case for size: every bin non-empty in both samples, long range labels."""
    edges = np.sort(rng.normal(scale=1000.0, size=bins + 1))
    labels = tuple(f"[{lo:.4g}, {hi:.4g})" for lo, hi in zip(edges[:-1], edges[1:], strict=True))
    return Histogram(labels, tuple(rng.dirichlet(np.ones(bins))), tuple(rng.dirichlet(np.ones(bins))), tuple(edges))


@pytest.mark.parametrize(("bin_counts", "bound"), [([50] * 25, 300_000), ([10, 20, 30, 40, 50] * 5, 200_000)])
def test_twenty_five_columns_stay_small(bin_counts: list[int], bound: int) -> None:
    rng = np.random.default_rng(4)
    cols = tuple(column(f"feature_{i:02d}", drift=i % 4 == 0, p_adjusted=float(rng.random()),
                        histogram=busy_histogram(bins, rng), message=f"note {i}")
                 for i, bins in enumerate(bin_counts))
    page = render_html(report(cols, dataset_tests(), warnings=("a warning",)))
    size = len(page.encode("utf-8"))
    assert size < bound, size
    found = charts(parse(page))
    assert len(found) == 25
    assert sum(len(bars(chart, "c")) for chart in found) == sum(bin_counts)
