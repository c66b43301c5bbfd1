"""The HTML report, parsed back with html.parser (no browser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from conformance.cli import main
from conformance.outcomes import Outcome
from conformance.report.escape import visible
from conformance.report.html import render_html, write_html
from conformance.results import CheckResult, RunResult, ScenarioResult, TranscriptEntry
from tests.test_reports import UPPER_QUOTE, make_run

_VOID = {"meta", "br", "input", "link", "img", "hr", "area", "base", "col", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                classes = (child.attrs.get("class") or "").split()
                if child.tag == tag and (cls is None or cls in classes):
                    found.append(child)
                found.extend(child.all(tag, cls))
        return found


class _TreeBuilder(HTMLParser):
    """A strict little DOM: every non-void element must be closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def _scenarios(root: Node) -> dict[str, Node]:
    return {str(d.attrs["data-id"]): d for d in root.all("details", "scenario")}


def test_document_is_well_formed_and_self_contained() -> None:
    html = render_html(make_run())
    assert html.startswith("<!DOCTYPE html>")
    root = parse(html)
    everything = [
        n for tag in ("script", "link", "img", "iframe", "a", "style") for n in root.all(tag)
    ]
    for node in everything:
        # Only in-page anchors: nothing the browser could fetch.
        href = str(node.attrs.get("href", "#"))
        assert "src" not in node.attrs and href.startswith("#"), node
    assert not root.all("link") and not root.all("iframe")
    assert len(root.all("script")) == 1 and len(root.all("style")) == 1
    assert "://" not in html  # no URL of any kind: nothing can be fetched
    assert "@import" not in html and "url(" not in html


def test_header_has_verdict_and_counts() -> None:
    root = parse(render_html(make_run()))
    (verdict,) = [n for n in root.all("span") if n.attrs.get("id") == "verdict"]
    assert verdict.text() == "FAIL"
    (counts,) = [t for t in root.all("table") if t.attrs.get("id") == "counts"]
    rows = [[td.text() for td in tr.all("td")] for tr in counts.all("tr")][1:]
    assert rows == [
        ["fail", "1"],
        ["error", "1"],
        ["nondeterministic", "1"],
        ["non-strict", "1"],
        ["waived", "1"],
        ["unsupported", "1"],
        ["info", "1"],
        ["pass", "2"],
        ["passive findings", "2"],
    ]


def test_scenarios_grouped_by_section_in_natural_order() -> None:
    root = parse(render_html(make_run()))
    sections = root.all("section", "rfc-section")
    headings = [s.all("h2")[0].text() for s in sections]
    assert headings == [
        "RFC1939 §3",
        "RFC1939 §4",
        "RFC1939 §5",
        "RFC1939 §11",
        "RFC2449 §5",
        "RFC2449 §6.1",
    ]
    ids = [[d.attrs["data-id"] for d in s.all("details", "scenario")] for s in sections]
    assert ids[2] == ["core.stat", "core.stat-extra"]  # run order inside a section
    assert ids[3] == ["core.idle", "core.replay"]


def test_failing_scenarios_are_open_with_requirement_expected_actual() -> None:
    run = make_run()
    scenarios = _scenarios(parse(render_html(run)))
    assert len(scenarios) == len(run.scenarios)
    opened = {sid for sid, d in scenarios.items() if "open" in d.attrs}
    assert opened == {"core.status-upper", "core.idle", "core.replay"}  # not strict
    failed = scenarios["core.status-upper"]
    assert failed.attrs["data-outcome"] == "fail"
    assert failed.attrs["data-levels"] == "MUST info"
    assert failed.attrs["data-tags"] == "core"
    (check,) = [c for c in failed.all("tr", "check") if "RFC1939-3-7" in c.text()]
    assert check.all("div", "quote")[0].text() == UPPER_QUOTE
    assert check.all("code", "expected")[0].text() == "+OK"
    assert check.all("code", "actual")[0].text() == visible(
        "+ok POP3 ready \x00\x1b[31m gr\u00fc\u00df\r\n"
    )
    assert "Reads the greeting." in failed.all("p", "description")[0].text()
    assert "connection refused\\r\\n" in scenarios["core.idle"].all("p", "reason")[0].text()


def test_strict_opens_non_strict() -> None:
    scenarios = _scenarios(parse(render_html(make_run(strict=True))))
    assert "open" in scenarios["core.stat-extra"].attrs


def test_transcript_has_relative_times_and_a_colour_per_session() -> None:
    entries = [
        TranscriptEntry(0.0, "A", "*", "connect"),
        TranscriptEntry(1.25, "A", "S", "+OK ready\r\n"),
        TranscriptEntry(2.5, "B", "*", "connect"),
        TranscriptEntry(3.0, "B", "S", "-ERR [IN-USE] locked\r\n"),
        TranscriptEntry(4.0, "A", "C", "QUIT"),
    ]
    run = _one(
        ScenarioResult("lock", "t", "f", "RFC1939 §4", [], [], Outcome.PASS, transcript=entries)
    )
    (pre,) = parse(render_html(run)).all("pre", "transcript")
    lines = pre.all("span", "line")
    assert [line.text().split()[0] for line in lines] == ["+0.0", "+1.2", "+2.5", "+3.0", "+4.0"]
    sessions = [
        c for line in lines for c in str(line.attrs["class"]).split() if c.startswith("session-")
    ]
    assert sessions == ["session-0", "session-0", "session-1", "session-1", "session-0"]
    assert lines[3].text().endswith("B S: -ERR [IN-USE] locked\\r\\n")
    assert "dir-C" in str(lines[4].attrs["class"])


def _one(scenario: ScenarioResult) -> RunResult:
    return RunResult("0.1.0", "2024-05-01T10:00:00Z", 1.0, {"host": "h", "port": 1}, [scenario])


def test_markup_from_the_server_is_escaped() -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    scenario = ScenarioResult(
        id='x"><b>',
        title=evil,
        file="f",
        section="RFC1939 §5",
        requirements=[],
        tags=['t" onclick="alert(3)'],
        outcome=Outcome.FAIL,
        checks=[CheckResult("R-1", "MUST", evil, Outcome.FAIL, "+OK", evil)],
        transcript=[TranscriptEntry(0.0, "A", "S", evil)],
    )
    html = render_html(_one(scenario))
    root = parse(html)
    assert len(root.all("script")) == 1 and not root.all("img") and not root.all("b")
    assert not any("onclick" in n.attrs or "onerror" in n.attrs for n in root.all("details"))
    details = _scenarios(root)['x"><b>']
    assert details.attrs["data-tags"] == 't" onclick="alert(3)'
    assert evil in details.all("summary")[0].text()
    assert details.all("code", "actual")[0].text() == evil


def test_filters_offer_the_outcomes_levels_and_tags_present() -> None:
    root = parse(render_html(make_run()))
    (form,) = [f for f in root.all("form") if f.attrs.get("id") == "filters"]
    boxes = [i.attrs["value"] for i in form.all("input") if i.attrs.get("name") == "outcome"]
    assert set(boxes) == {o.value for o in Outcome}
    selects = {
        str(s.attrs["name"]): [o.attrs["value"] for o in s.all("option")]
        for s in form.all("select")
    }
    assert selects == {"level": ["", "MUST", "SHOULD", "info"], "tag": ["", "core"]}
    script = root.all("script")[0].text()
    assert "dataset.levels" in script and "dataset.tags" in script and "dataset.outcome" in script


def test_write_html_and_every_run_writes_it(tmp_path: Path) -> None:
    run = make_run()
    write_html(run, tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == render_html(run)

    report = tmp_path / "report"
    code = main(["run", "--select", "core.basic.greeting", "--report-dir", str(report)])
    assert code == 0
    root = parse((report / "report.html").read_text(encoding="utf-8"))
    assert list(_scenarios(root)) == ["core.basic.greeting"]
    assert root.all("pre", "transcript")[0].all("span", "line")
