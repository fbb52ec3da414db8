"""A CMS page on another origin, in Debian's chromium: CORS, framing and the ``/widget.js`` widget.

The service is real gunicorn (``HEADLINE_CORS_ORIGINS`` and ``HEADLINE_FRAME_ANCESTORS`` read
from its environment); the CMS pages are served by a second local HTTP server on other ports,
so each is another origin to the browser: one named in those settings, one not. The widget is
included exactly as README tells an integrator to.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from headline_scorer.rewrite import suggest_rewrites
from headline_scorer.scorer import HeadlineScorer
from tests.chromium import launched_chromium, skip_without_chromium
from tests.gunicorn_server import Server
from tests.test_web_page import band_of, borderline_sensational, percent

skip_without_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

TOKEN = "widget-admin-token"
CAT = "You Won't Believe What This Dog Did Next"
PLAIN = "Parliament in Norway passes budget bill"
SHOUT = "SHOCKING: The Mayor DESTROYS The Budget Debate!"
# What Chromium itself logs for a request that cannot connect; not a script error.
NETWORK_FAILURE = re.compile(r"^Failed to load resource: net::ERR_CONNECTION_REFUSED$")

# Styles a CMS might have that would wreck a widget living in the page's own DOM.
HOSTILE_STYLE = """
  div, p, span, strong, mark { color: rgb(255, 0, 0); font-size: 40px; margin: 30px; }
  mark { background: rgb(255, 255, 0); }
"""


def cms_page(service: str, selector: str | None = None) -> str:
    """A CMS editing page: two headline fields, marked by attribute and by selector."""
    data_selector = f' data-selector="{selector}"' if selector else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CMS</title>
<link rel="icon" href="data:,"><style>{HOSTILE_STYLE}</style></head>
<body>
  <label for="title">Title</label> <input id="title" name="title" data-headline-scorer>
  <label for="teaser">Teaser title</label> <textarea id="teaser" class="cms-teaser"></textarea>
  <p><mark id="host-mark">the CMS's own mark</mark></p>
  <button id="save">Save</button>
  <script src="{service}/widget.js"{data_selector} defer></script>
</body></html>"""


def fetch_page() -> str:
    return ('<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            "<title>CMS</title></head><body></body></html>")


def frame_page(service: str) -> str:
    return ('<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f'<title>CMS</title></head><body><iframe id="scorer" src="{service}/" width="900" '
            'height="600"></iframe></body></html>')


@dataclass
class CmsSite:
    """A static site on its own port: ``pages`` maps paths to HTML, set by the tests."""

    origin: str = ""
    pages: dict[str, str] = field(default_factory=dict)


@contextmanager
def cms_site() -> Iterator[CmsSite]:
    site = CmsSite()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = site.pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.origin = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def allowed_site() -> Iterator[CmsSite]:
    with cms_site() as site:
        yield site


@pytest.fixture(scope="module")
def other_site() -> Iterator[CmsSite]:
    with cms_site() as site:
        yield site


def serve_for(start: Callable[..., Server], models_root: Path, site: CmsSite,
              tmp_path: Path) -> tuple[Server, str]:
    server = start(models_root, HEADLINE_CORS_ORIGINS=f"https://cms.example.org, {site.origin}",
                   HEADLINE_FRAME_ANCESTORS=site.origin, HEADLINE_ADMIN_TOKEN=TOKEN,
                   HEADLINE_FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"))
    return server, server.url("").rstrip("/")


@pytest.fixture(scope="module")
def service(server_factory: Callable[..., Server], models_root: Path, allowed_site: CmsSite,
            tmp_path_factory: pytest.TempPathFactory) -> str:
    """The service's base URL; it allows ``allowed_site`` and not ``other_site``."""
    return serve_for(server_factory, models_root, allowed_site,
                     tmp_path_factory.mktemp("widget-feedback"))[1]


@pytest.fixture(scope="module")
def browser(service: str) -> Iterator[Browser]:
    # Started after the service so that it is closed before it: Chromium's idle connections
    # to the service would otherwise keep its sync workers busy through their graceful stop.
    with launched_chromium() as browser:
        yield browser


@dataclass
class Watched:
    page: Page
    errors: list[str]  # uncaught script errors
    console: list[str]  # console messages of type error


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    seen = Watched(page, [], [])
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    page.on("console", lambda msg: seen.console.append(msg.text) if msg.type == "error" else None)
    yield seen
    context.close()


FETCH_SCORE = """async ([service, headline]) => {
  try {
    const response = await fetch(service + "/v1/score", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({headline})});
    return {status: response.status, body: await response.json(),
            requestId: response.headers.get("X-Request-ID")};
  } catch (exc) { return {failed: exc.name + ": " + exc.message}; }
}"""


# --------------------------------------------------------------------------- CORS

def test_a_page_of_an_allowed_origin_scores_from_chromium(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    allowed_site.pages["/fetch"] = fetch_page()
    watched.page.goto(allowed_site.origin + "/fetch")
    # JSON is not a "simple" content type: the browser sends a preflight first.
    answer = watched.page.evaluate(FETCH_SCORE, [service, CAT])
    assert answer.get("status") == 200, answer
    assert answer["body"]["score"] == scorer.score(CAT, explain=True).score
    assert answer["requestId"]  # an exposed header, readable by the page's script
    assert watched.console == [] and watched.errors == []


def test_a_page_of_another_origin_is_refused_by_chromium(
        watched: Watched, service: str, other_site: CmsSite) -> None:
    other_site.pages["/fetch"] = fetch_page()
    watched.page.goto(other_site.origin + "/fetch")
    answer = watched.page.evaluate(FETCH_SCORE, [service, CAT])
    assert answer == {"failed": "TypeError: Failed to fetch"}
    assert any("blocked by CORS policy" in message for message in watched.console), watched.console


def test_an_allowed_origin_cannot_send_the_admin_token(
        watched: Watched, service: str, allowed_site: CmsSite) -> None:
    allowed_site.pages["/fetch"] = fetch_page()
    watched.page.goto(allowed_site.origin + "/fetch")
    answer = watched.page.evaluate("""async ([service, token]) => {
      try {
        const response = await fetch(service + "/v1/feedback",
                                     {headers: {Authorization: "Bearer " + token}});
        return {status: response.status};
      } catch (exc) { return {failed: exc.name}; }
    }""", [service, TOKEN])
    assert answer == {"failed": "TypeError"}
    # The same request from a program (no browser, no CORS) works: the token is right.
    listed = requests.get(service + "/v1/feedback", timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert listed.status_code == 200


# --------------------------------------------------------------------------- frames

def scorer_frame_text(page: Page, service: str) -> str | None:
    """The model line of the editors' page in the frame, or None when the frame shows no page
    of the service (refused)."""
    frame = page.frame_locator("#scorer")
    try:
        expect(frame.locator("#model-line")).to_contain_text("Model ", timeout=5000)
    except AssertionError:
        return None
    return frame.locator("#model-line").inner_text()


def test_the_editors_page_can_be_framed_by_a_named_origin(
        watched: Watched, service: str, allowed_site: CmsSite) -> None:
    allowed_site.pages["/frame"] = frame_page(service)
    watched.page.goto(allowed_site.origin + "/frame")
    assert (scorer_frame_text(watched.page, service) or "").startswith("Model ")


def test_the_editors_page_refuses_frames_of_other_origins(
        watched: Watched, service: str, other_site: CmsSite) -> None:
    other_site.pages["/frame"] = frame_page(service)
    watched.page.goto(other_site.origin + "/frame")
    assert scorer_frame_text(watched.page, service) is None
    assert any("frame-ancestors" in message for message in watched.console), watched.console


# --------------------------------------------------------------------------- the widget

def panel(page: Page, field_id: str) -> dict[str, Any]:
    """What the widget shows for a field (read through its open shadow root)."""
    return page.evaluate("""id => {
      const field = document.getElementById(id);
      const host = document.getElementById(field.getAttribute("aria-describedby").split(" ").pop());
      const body = host.shadowRoot.querySelector(".panel");
      return {hidden: host.hidden, role: host.getAttribute("role"), live: host.getAttribute("aria-live"),
              score: body.dataset.score ? Number(body.dataset.score) : null, band: body.dataset.band,
              number: body.querySelector(".score")?.textContent, text: body.textContent,
              summary: body.querySelector(".summary")?.innerText,
              marks: [...body.querySelectorAll("mark")].map(m => m.textContent),
              unavailable: body.classList.contains("unavailable"),
              fontSize: getComputedStyle(body.querySelector(".score") || body).fontSize,
              color: getComputedStyle(body.querySelector(".score") || body).color};
    }""", field_id)


def wait_for_score(page: Page, field_id: str, expected: float) -> dict[str, Any]:
    page.wait_for_function("""([id, score]) => {
      const field = document.getElementById(id);
      const host = document.getElementById((field.getAttribute("aria-describedby") || "").split(" ").pop());
      const body = host && host.shadowRoot && host.shadowRoot.querySelector(".panel");
      return body && Number(body.dataset.score) === score;
    }""", arg=[field_id, expected], timeout=10000)
    return panel(page, field_id)


def open_cms(watched: Watched, site: CmsSite, service: str) -> Page:
    site.pages["/edit"] = cms_page(service, selector=".cms-teaser")
    page = watched.page
    page.goto(site.origin + "/edit")
    page.wait_for_function("window.HeadlineScorer !== undefined")
    return page


def test_typing_in_two_title_fields_scores_both_live(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    page = open_cms(watched, allowed_site, service)
    page.locator("#title").press_sequentially(CAT, delay=5)
    page.locator("#teaser").press_sequentially(SHOUT, delay=5)
    for field_id, text in (("#title", CAT), ("#teaser", SHOUT)):
        expected = scorer.score(text, explain=True)
        shown = wait_for_score(page, field_id[1:], expected.score)
        band = band_of(expected.score, scorer.threshold)
        assert shown["number"] == str(percent(expected.score))
        assert shown["band"] == band
        assert shown["summary"].startswith(f"{percent(expected.score)}")
        assert band.capitalize() in shown["summary"]
        assert shown["marks"], "no cue is marked in the headline"
        for mark in shown["marks"]:
            assert mark.casefold() in text.casefold()
    # Editing a field scores it again.
    page.locator("#title").fill(PLAIN)
    assert wait_for_score(page, "title", scorer.score(PLAIN, explain=True).score)["band"] == band_of(
        scorer.score(PLAIN, explain=True).score, scorer.threshold)
    assert watched.console == [] and watched.errors == []


def tried_versions(page: Page) -> list[str]:
    """The "Try: ..." lines of the title field's panel, once there are any."""
    page.wait_for_function("""() => {
      const host = document.getElementById(document.getElementById("title").getAttribute("aria-describedby"));
      return host.shadowRoot.querySelectorAll(".try li").length > 0;
    }""", timeout=10000)
    return page.evaluate("""() => {
      const host = document.getElementById(document.getElementById("title").getAttribute("aria-describedby"));
      return [...host.shadowRoot.querySelectorAll(".try li")].map(li => li.textContent);
    }""")


def test_a_sensational_title_gets_calmer_versions_to_try(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    page = open_cms(watched, allowed_site, service)
    page.locator("#title").fill(SHOUT)
    wait_for_score(page, "title", scorer.score(SHOUT, explain=True).score)
    expected = suggest_rewrites(scorer, SHOUT)
    assert expected
    assert tried_versions(page) == [f"Try: {s.headline} · {percent(s.score)}, {s.band}"
                                    for s in expected]
    page.locator("#title").fill(PLAIN)  # a calm title: its panel offers nothing
    wait_for_score(page, "title", scorer.score(PLAIN, explain=True).score)
    assert "Try:" not in panel(page, "title")["text"]
    assert watched.console == [] and watched.errors == []


def test_a_borderline_title_labelled_sensational_gets_calmer_versions_too(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    page = open_cms(watched, allowed_site, service)
    headline = borderline_sensational(scorer)
    page.locator("#title").fill(headline)
    assert wait_for_score(page, "title", scorer.score(headline, explain=True).score)["band"] == (
        "borderline")
    expected = suggest_rewrites(scorer, headline)
    assert tried_versions(page) == [f"Try: {s.headline} · {percent(s.score)}, {s.band}"
                                    for s in expected]
    assert watched.console == [] and watched.errors == []


def test_the_widget_is_described_to_screen_readers_and_adds_no_focus_stops(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    page = open_cms(watched, allowed_site, service)
    page.locator("#title").fill(CAT)
    shown = wait_for_score(page, "title", scorer.score(CAT, explain=True).score)
    assert shown["role"] == "status" and shown["live"] == "polite"
    assert not shown["hidden"]
    # The field's accessible description, as the browser computes it for assistive technology:
    # the band and the score in words, and the cues.
    expected = scorer.score(CAT, explain=True)
    band = band_of(expected.score, scorer.threshold).capitalize()
    expect(page.locator("#title")).to_have_accessible_description(re.compile(
        rf"{band} band, score {percent(expected.score)} of 100\. Cues: "))
    # Tab goes from field to field as before: the widget takes no focus.
    page.locator("#title").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "teaser"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "save"


def test_the_host_pages_styles_and_the_widgets_stay_apart(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    page = open_cms(watched, allowed_site, service)
    page.locator("#title").fill(CAT)
    shown = wait_for_score(page, "title", scorer.score(CAT, explain=True).score)
    assert shown["fontSize"] == "13px"  # not the CMS's 40px rule for span
    assert shown["color"] != "rgb(255, 0, 0)"
    # The widget's own mark style (no background) does not reach the CMS's marks.
    assert page.evaluate("getComputedStyle(document.getElementById('host-mark')).backgroundColor") \
        == "rgb(255, 255, 0)"


def test_a_service_that_is_down_shows_a_quiet_unavailable_state(
        watched: Watched, start_server: Callable[..., Server], models_root: Path,
        allowed_site: CmsSite, tmp_path: Path, scorer: HeadlineScorer) -> None:
    server, base = serve_for(start_server, models_root, allowed_site, tmp_path)
    page = open_cms(watched, allowed_site, base)
    page.locator("#title").fill(PLAIN)
    wait_for_score(page, "title", scorer.score(PLAIN, explain=True).score)
    assert server.stop() == 0
    page.locator("#title").fill(CAT)
    page.wait_for_function("""() => {
      const field = document.getElementById("title");
      const host = document.getElementById(field.getAttribute("aria-describedby"));
      return host.shadowRoot.querySelector(".panel.unavailable") !== null;
    }""", timeout=10000)
    shown = panel(page, "title")
    assert shown["text"].strip() == "Headline score unavailable"
    assert page.locator("#title").input_value() == CAT  # the editor's text is untouched
    assert watched.errors == []
    assert [m for m in watched.console if not NETWORK_FAILURE.match(m)] == []


def test_the_widget_makes_no_request_but_to_its_service(
        watched: Watched, service: str, allowed_site: CmsSite, scorer: HeadlineScorer) -> None:
    requested: list[str] = []
    watched.page.on("request", lambda request: requested.append(request.url))
    page = open_cms(watched, allowed_site, service)
    page.locator("#title").fill(CAT)
    wait_for_score(page, "title", scorer.score(CAT, explain=True).score)
    others = [url for url in requested
              if not url.startswith((allowed_site.origin + "/", service + "/", "data:"))]
    assert others == []
    assert service + "/widget.js" in requested and service + "/v1/score" in requested
