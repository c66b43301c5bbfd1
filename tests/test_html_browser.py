"""report.html in a real headless Chromium: no script errors, working filters, visible transcripts.

The other HTML tests parse the document; only a browser runs its script and
lays it out.  Chromium is driven over the Chrome DevTools Protocol through
``--remote-debugging-pipe`` (NUL-separated JSON on file descriptors 3 and
4), so no WebSocket client or WebDriver package is needed: the stack stays
pytest and the standard library.

Needs Debian's ``chromium`` (``apt-get install chromium``); the test is
skipped with that reason when it is missing.  Every wait has a deadline and
the browser is killed by its own process id at teardown.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.report.escape import visible

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEADLINE_S = 20.0  # any single wait: start, a command's answer, a page load
VIEWPORT = (1200, 900)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Debian's chromium: apt-get install -y --no-install-recommends chromium",
)

# Flags from the machine notes: without the networking ones Chromium keeps
# trying to reach hosts that the closed network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-pipe",
    f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
]


class CdpError(Exception):
    pass


class Browser:
    """A headless Chromium and a minimal synchronous CDP client on its pipe."""

    def __init__(self, executable: str, profile_dir: Path, log_path: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # bash below maps the child's ends to fds 3 and 4; moving them above 9
        # first means neither redirection can clobber the other (dash cannot
        # name fds above 9, hence bash).
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)
        redirect = f'exec "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-'
        self._log = log_path.open("wb")
        command = ["/bin/bash", "-c", redirect, "bash", executable, *FLAGS]
        command += [f"--user-data-dir={profile_dir}", "about:blank"]
        self.proc = subprocess.Popen(
            command,
            pass_fds=(child_in, child_out),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its helpers share a group we can end by id
        )
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    # -- the wire ---------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("no message from Chromium before the deadline")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise CdpError(f"Chromium closed the pipe (exit {self.proc.poll()})")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Send a command (to the attached page unless ``browser=True``) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not kw.get("browser"):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + DEADLINE_S
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        """The next event named ``method`` (already received or still to come)."""
        for event in self.events:
            if event["method"] == method and not event.get("_seen"):
                event["_seen"] = True
                return event
        deadline = time.monotonic() + DEADLINE_S
        while True:
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    message["_seen"] = True
                    return message

    # -- the page ---------------------------------------------------------------

    def open_page(self) -> None:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        attached = self.call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        # --window-size counts the (invisible) window frame; pin the viewport.
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
        )

    def navigate(self, url: str) -> None:
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"cannot load {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the element."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def errors(self) -> list[str]:
        """Script exceptions, console.error/assert calls and error log entries seen so far."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry']}")
        return found

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.call("Browser.close", browser=True)
                self.proc.wait(timeout=5)
        except (CdpError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            # Renderer and zygote helpers live in the session Popen started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            os.close(self._to_browser)
            os.close(self._from_browser)
            self._log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    b = Browser(CHROMIUM, profile, tmp_path / "chromium.log")
    try:
        b.open_page()
        yield b
    finally:
        b.close()


# -- a PNG reader, just enough to tell a picture from a blank ------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG (chunk CRCs checked)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth=} {colour=}"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    assert len(raw) == height * (stride + 1), "IDAT size does not match IHDR"
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) for r in rows]


# -- the test ------------------------------------------------------------------

_VISIBLE_IDS = """
[...document.querySelectorAll('details.scenario')]
  .filter(e => e.checkVisibility() && e.offsetParent !== null)
  .map(e => e.dataset.id)
"""


def _is_visible(selector: str) -> str:
    # A closed <details> keeps its content laid out but not rendered, so the
    # box alone is not enough: checkVisibility knows about content-visibility.
    return f"""(() => {{
      const e = document.querySelector({json.dumps(selector)});
      if (!e) return null;
      const r = e.getBoundingClientRect();
      return e.offsetParent !== null && r.width > 0 && r.height > 0
        && e.checkVisibility({{contentVisibilityAuto: true, visibilityProperty: true}});
    }})()"""


def _scenario(sid: str) -> str:
    return f'details.scenario[data-id="{sid}"]'


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of the whole suite against the embedded server with RSET broken."""
    report_dir = tmp_path_factory.mktemp("browser-report")
    code = main(["run", "--defect", "rset-ignored", "--report-dir", str(report_dir)])
    assert code == 1  # the defect must be caught, or the page has nothing to show
    return report_dir


def test_report_in_a_real_browser(real_report: Path, browser: Browser, tmp_path: Path) -> None:
    results = json.loads((real_report / "results.json").read_text(encoding="utf-8"))
    by_id = {s["id"]: s for s in results["scenarios"]}
    failing = sorted(sid for sid, s in by_id.items() if s["outcome"] == "fail")
    assert failing, "the defect rset-ignored made nothing fail"
    passing = sorted(sid for sid, s in by_id.items() if s["outcome"] == "pass")
    not_pass = sorted(sid for sid, s in by_id.items() if s["outcome"] != "pass")

    browser.navigate((real_report / "report.html").resolve().as_uri())
    assert browser.js("document.readyState") == "complete"
    assert browser.js("document.getElementById('verdict').textContent") == "FAIL"

    # Before any filter: every scenario is there and shown.
    assert sorted(browser.js(_VISIBLE_IDS)) == sorted(by_id)
    assert browser.js("document.getElementById('shown').textContent") == f"{len(by_id)} shown"

    # Untick "pass": the rows left are exactly the results that did not pass.
    browser.click('#filters input[value="pass"]')
    _wait_until(lambda: sorted(browser.js(_VISIBLE_IDS)) == not_pass, "pass rows hidden")
    assert browser.js("document.getElementById('shown').textContent") == f"{len(not_pass)} shown"
    assert browser.js(_is_visible(_scenario(passing[0]))) is False

    # Untick every other outcome but "fail": only the failures are left.
    for outcome in sorted({by_id[s]["outcome"] for s in not_pass} - {"fail"}):
        browser.click(f'#filters input[value="{outcome}"]')
    _wait_until(lambda: sorted(browser.js(_VISIBLE_IDS)) == failing, "only fail rows shown")
    # A section with nothing left to show disappears with its heading.
    hidden_sections = browser.js(
        "[...document.querySelectorAll('section.rfc-section')]"
        ".filter(s => !s.checkVisibility()).length"
    )
    assert hidden_sections > 0

    # Each failing scenario is open, and its transcript is on screen.
    for sid in failing:
        transcript = f"{_scenario(sid)} pre.transcript"
        assert browser.js(_is_visible(transcript)), f"transcript of {sid} not visible"
        shown = browser.js(f"document.querySelector({json.dumps(transcript)}).innerText")
        for entry in by_id[sid]["transcript"][:5]:
            assert visible(entry["text"]) in shown
    # A folded (passing) scenario's transcript is not visible even when its row is.
    browser.click('#filters input[value="pass"]')
    _wait_until(lambda: browser.js(_is_visible(_scenario(passing[0]))), "pass rows back")
    assert browser.js(_is_visible(f"{_scenario(passing[0])} pre.transcript")) is False

    # The tag filter narrows what the outcome boxes let through.
    tag = by_id[failing[0]]["tags"][-1]
    browser.js(
        "(() => { const s = document.querySelector('#filters select[name=tag]');"
        f" s.value = {json.dumps(tag)};"
        " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    with_tag = sorted(
        sid for sid, s in by_id.items() if tag in s["tags"] and s["outcome"] in ("pass", "fail")
    )
    _wait_until(lambda: sorted(browser.js(_VISIBLE_IDS)) == with_tag, f"tag {tag} filter")

    # Untick "fail" as well with no tag: nothing is shown, and the page says so.
    browser.js(
        "(() => { const s = document.querySelector('#filters select[name=tag]');"
        " s.value = ''; s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    browser.click('#filters input[value="pass"]')
    browser.click('#filters input[value="fail"]')
    _wait_until(lambda: browser.js(_VISIBLE_IDS) == [], "everything filtered out")
    assert browser.js("document.getElementById('shown').textContent") == "0 shown"
    browser.click('#filters input[value="fail"]')
    _wait_until(lambda: sorted(browser.js(_VISIBLE_IDS)) == failing, "fails back")

    # A screenshot a person can look at, and a check that it is a real picture.
    browser.js("window.scrollTo(0, 0)")
    shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"})["data"])
    path = tmp_path / "report.png"
    path.write_bytes(shot)
    width, height, rows = png_pixels(shot)
    assert (width, height) == VIEWPORT
    assert len(shot) > 10_000
    step = 4 if len(rows[0]) == width * 4 else 3
    colours = {row[i : i + 3] for row in rows[::8] for i in range(0, len(row), step * 2)}
    assert len(colours) > 20, f"a nearly flat picture: {len(colours)} colours"

    assert browser.errors() == []


def test_browser_reports_script_errors(browser: Browser, tmp_path: Path) -> None:
    """The error collection itself works: a page that throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><title>x</title><script>console.error('boom');"
        "undefinedFunction();</script>",
        encoding="utf-8",
    )
    browser.navigate(page.as_uri())
    errors = browser.errors()
    assert any("console.error" in e and "boom" in e for e in errors), errors
    assert any(e.startswith("exception:") and "undefinedFunction" in e for e in errors), errors
