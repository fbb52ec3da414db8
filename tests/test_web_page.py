"""The editors' page in a real browser: Debian's chromium, headless, driven by Playwright.

The app runs in a real HTTP server (Werkzeug, in a thread) with the fixture model, a private
feedback database and small limits (80 characters, 5 headlines), so the page is tested
against the same routes an editor's browser uses. Failures of the service are made by
Playwright's request interception (a 503, a refused connection) or by changing the page's
limits so that the service itself refuses. Screenshots go to the ignored tests/artifacts/;
``make screenshot`` has the quality-gate one written to ``docs/screenshot.png`` for the README.

Never run ``playwright install``: the browser is the system's /usr/bin/chromium (``.ci/run``
installs the Debian package).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from headline_scorer.paths import PROJECT_ROOT
from headline_scorer.rewrite import suggest_rewrites
from headline_scorer.scorer import NAMED_CUES, HeadlineScorer
from service import create_app
from tests.chromium import launched_chromium, skip_without_chromium
from tests.fixture_headlines import make_headlines
from tests.test_api import settings_for

skip_without_chromium()

from playwright.sync_api import Browser, Page, Route, expect  # noqa: E402

MAX_CHARS = 80
MAX_BATCH = 5
# The page with the full model's results (quality gate, which trains it) and with the fixture
# model's, kept by every run in tests/artifacts/ (not in git): a test run never changes a
# tracked file. `make screenshot` points HEADLINE_README_SCREENSHOT at docs/screenshot.png.
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
README_SCREENSHOT = Path(os.environ.get("HEADLINE_README_SCREENSHOT", "").strip()
                         or ARTIFACTS / "page-full-model.png")
FIXTURE_SCREENSHOT = ARTIFACTS / "page-fixture-model.png"
CAT = "You Won't Believe What This Dog Did Next"
PLAIN = "Parliament in Norway passes budget bill"
SHOUT = "SHOCKING: The Mayor DESTROYS The Budget Debate!"


@dataclass
class Live:
    url: str
    feedback_db: Path


@contextmanager
def serving(models_root: Path, db: Path, **limits: Any) -> Iterator[Live]:
    """The service on a free loopback port in a thread, for as long as the block lasts."""
    app = create_app(settings_for(models_root, feedback_db=db, **limits))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}/", db)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("web-feedback") / "feedback.sqlite3"
    with serving(models_root, db, max_headline_chars=MAX_CHARS, max_batch=MAX_BATCH) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


def open_page(browser: Browser, live: Live, width: int = 1280, height: int = 900,
              **context: Any) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}, **context).new_page()
    page.uncaught = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.uncaught.append(str(exc)))  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    page = open_page(browser, live)
    page.goto(live.url)
    expect(page.locator("#model-line")).to_contain_text("Model ")
    yield page
    assert page.uncaught == []  # type: ignore[attr-defined]  # no script error, ever
    page.context.close()


def enter(page: Page, lines: list[str], typed: bool = False) -> None:
    """Put headlines in the text area (typed key by key, or pasted) and wait for the scores."""
    box = page.locator("#headlines")
    box.fill("")
    if typed:
        box.press_sequentially("\n".join(lines))
    else:
        box.fill("\n".join(lines))


def wait_scored(page: Page, n: int, problems: int = 0) -> None:
    expected = f"Scored {n} headline{'s' if n != 1 else ''}"
    if problems:
        expected += f"; {problems} line{' has' if problems == 1 else 's have'} a problem."
    else:
        expected += "."
    expect(page.locator("#status")).to_have_text(expected)


def percent(score: float) -> int:
    return math.floor(score * 100 + 0.5)  # Math.round


def band_of(score: float, threshold: float) -> str:
    z = math.log(threshold / (1 - threshold))
    lo, hi = (1 / (1 + math.exp(-(z + d))) for d in (-math.log(2), math.log(2)))
    return "neutral" if score < lo else "borderline" if score < hi else "sensational"


def borderline_sensational(scorer: HeadlineScorer) -> str:
    """A fixture headline in the borderline band but labelled sensational (at or above the
    threshold) that has calmer rewrites."""
    for text, _ in make_headlines(200, seed=7):
        result = scorer.score(text, explain=True)
        if (result.label == "sensational" and band_of(result.score, scorer.threshold) == "borderline"
                and suggest_rewrites(scorer, text)):
            return text
    raise AssertionError("no fixture headline is borderline, labelled sensational and rewritable")


def signed(weight: float) -> str:
    return f"{'+' if weight >= 0 else '−'}{abs(weight):.2f}"


def cards(page: Page) -> list[dict[str, Any]]:
    return page.eval_on_selector_all("#results > li", """items => items.map(li => ({
        line: Number(li.dataset.line), score: li.dataset.score && Number(li.dataset.score),
        band: li.dataset.band, number: li.querySelector('.score-number')?.textContent,
        headline: li.querySelector('.headline').innerText,
        verdict: li.querySelector('.verdict').innerText,
        rank: li.querySelector('.rank').textContent,
        marks: [...li.querySelectorAll('mark.cue')].map(m => ({
            text: m.firstChild.textContent, tip: m.querySelector('.tip').textContent})),
        chips: [...li.querySelectorAll('.chip')].map(c => c.textContent)}))""")


# --------------------------------------------------------------------------- scoring

# Named features about the whole headline ("!" and "?" are marked where they stand).
WHOLE_HEADLINE_CUES = set(NAMED_CUES) - {"exclamation mark", "question mark"}


def test_the_page_knows_every_named_feature_of_the_model(page: Page) -> None:
    named = set(page.evaluate("JSON.parse(document.body.dataset.namedCues)"))
    for name in WHOLE_HEADLINE_CUES:
        assert name in named, f"the page does not list the named feature {name!r}"


def test_typed_headlines_get_scores_bands_labels_and_cues_in_place(
        page: Page, scorer: HeadlineScorer) -> None:
    enter(page, [CAT, "", PLAIN, SHOUT], typed=True)
    wait_scored(page, 3)
    shown = cards(page)
    assert [c["line"] for c in shown] == [1, 3, 4]  # blank lines skipped, line numbers kept
    for card, text in zip(shown, [CAT, PLAIN, SHOUT]):
        expected = scorer.score(text, explain=True)
        assert card["score"] == expected.score
        assert card["number"] == str(percent(expected.score))
        assert card["band"] == band_of(expected.score, scorer.threshold)
        assert card["verdict"] == f"{card['band'].capitalize()} band · labelled {expected.label}"
        assert card["headline"] == text  # marks change no character of the headline
        tips = " ".join(m["tip"] for m in card["marks"])
        assert card["chips"] == [f"{c.text} {signed(c.weight)}" for c in expected.cues]
        for cue in expected.cues:
            placed = f"“{cue.text}” {signed(cue.weight)}" in tips
            if cue.text in WHOLE_HEADLINE_CUES:
                assert not placed  # no single place; shown as a chip
            else:
                assert placed, (cue, card["marks"])
        for mark in card["marks"]:
            assert mark["text"].casefold() in text.casefold()
    assert any(m["text"] == "!" for m in shown[2]["marks"])  # the exclamation mark, in place


def test_cue_contributions_show_on_hover_and_on_keyboard_focus(page: Page) -> None:
    enter(page, [CAT, PLAIN])
    wait_scored(page, 2)
    first, second = page.locator("#results mark.cue").nth(0), page.locator("#results mark.cue").nth(1)
    expect(first.locator(".tip")).to_be_hidden()
    # Focus order: text area, the checked mode, the two CSV buttons, then the first cue.
    page.locator("#headlines").focus()
    for expected in ('input[value="score"]', "#copy-csv", "#download-csv"):
        page.keyboard.press("Tab")
        expect(page.locator(expected)).to_be_focused()
    page.keyboard.press("Tab")
    expect(first).to_be_focused()
    tip = first.locator(".tip")
    expect(tip).to_be_visible()
    assert first.get_attribute("aria-describedby") == tip.get_attribute("id")
    assert re.fullmatch(r"“[^”]+” [+−]\d+\.\d\d toward (sensational|neutral)(; .*)?", tip.inner_text())
    outline = first.evaluate("m => getComputedStyle(m).outlineStyle + ' ' + getComputedStyle(m).outlineWidth")
    assert outline.startswith("solid") and float(outline.split()[1].rstrip("px")) >= 2
    page.locator("#headlines").focus()
    second.hover()
    expect(second.locator(".tip")).to_be_visible()


def test_compare_mode_ranks_versions_from_least_to_most_sensational(
        page: Page, scorer: HeadlineScorer) -> None:
    versions = [SHOUT, PLAIN, CAT, "Mayor criticises budget debate"]
    enter(page, versions)
    wait_scored(page, 4)
    page.get_by_label("Compare versions of one headline").check()
    shown = cards(page)
    ranked = sorted(range(4), key=lambda i: (scorer.score(versions[i], explain=True).score, i))
    assert [c["line"] for c in shown] == [i + 1 for i in ranked]
    assert [c["score"] for c in shown] == sorted(c["score"] for c in shown)
    assert shown[0]["rank"].startswith("1 of 4 · least sensational")
    assert shown[-1]["rank"].startswith("4 of 4 · most sensational")
    expect(page.locator("#status")).to_have_text("Ranked from least to most sensational.")
    page.get_by_label("In the order typed").check()
    assert [c["line"] for c in cards(page)] == [1, 2, 3, 4]


# --------------------------------------------------------------------------- feedback

def test_a_sensational_result_offers_calmer_rewrites(page: Page, scorer: HeadlineScorer) -> None:
    enter(page, [SHOUT, PLAIN])
    wait_scored(page, 2)
    expected = suggest_rewrites(scorer, SHOUT)
    assert expected and band_of(scorer.score(SHOUT, explain=True).score, scorer.threshold) == "sensational"
    shout_card = page.locator("#results > li").nth(0)
    expect(shout_card.locator(".suggestions")).to_be_visible()
    expect(shout_card.locator(".try-label")).to_have_text("Try:")
    items = shout_card.locator(".try-list li")
    expect(items).to_have_count(len(expected))
    for i, suggestion in enumerate(expected):
        expect(items.nth(i)).to_have_text(
            f"{suggestion.headline} · {percent(suggestion.score)}/100, {suggestion.band}")
    # A calm headline gets no "Try:" line.
    expect(page.locator("#results > li").nth(1).locator(".suggestions")).to_be_hidden()


def test_a_borderline_headline_labelled_sensational_offers_calmer_rewrites(
        page: Page, scorer: HeadlineScorer) -> None:
    headline = borderline_sensational(scorer)
    enter(page, [headline])
    wait_scored(page, 1)
    card = page.locator("#results > li").nth(0)
    expect(card.locator(".verdict")).to_have_text("Borderline band · labelled sensational")
    expect(card.locator(".suggestions")).to_be_visible()
    expect(card.locator(".try-list li")).to_have_count(len(suggest_rewrites(scorer, headline)))


def test_this_is_wrong_sends_feedback_that_is_stored(page: Page, live: Live,
                                                     scorer: HeadlineScorer) -> None:
    enter(page, [PLAIN, CAT])
    wait_scored(page, 2)
    card = page.locator("#results > li").nth(1)
    card.get_by_role("button", name="This is wrong").click()
    note = card.get_by_label("Note (optional)")
    expect(note).to_be_focused()
    expected = scorer.score(CAT, explain=True)
    opposite = "neutral" if expected.label == "sensational" else "sensational"
    expect(card.locator(".feedback-question")).to_have_text(
        f"The model labels this headline {expected.label}. Send that it reads as {opposite}?")
    note.fill("a dog story told plainly <b>really</b>")
    note.press("Enter")
    status = card.locator(".feedback-status")
    expect(status).to_contain_text("saved as feedback #")
    record_id = int(re.search(r"#(\d+)", status.inner_text()).group(1))
    with sqlite3.connect(live.feedback_db) as connection:
        row = connection.execute("SELECT headline, label, note, model_score, model_label FROM "
                                 "feedback WHERE id = ?", (record_id,)).fetchone()
    assert row == (CAT, opposite, "a dog story told plainly <b>really</b>", expected.score,
                   expected.label)
    expect(card.get_by_role("button", name="Feedback sent")).to_be_disabled()


def test_feedback_that_cannot_be_stored_says_so(page: Page) -> None:
    enter(page, [CAT])
    wait_scored(page, 1)
    page.route("**/v1/feedback", lambda route: route.fulfill(
        status=503, content_type="application/json", body=json.dumps({"error": {
            "code": "feedback_unavailable", "field": None, "request_id": "r1",
            "message": "the feedback database is locked by another connection"}})))
    page.get_by_role("button", name="This is wrong").click()
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator(".feedback-status")).to_have_text(
        "Not saved: the feedback database is locked by another connection. Try again later.")
    expect(page.get_by_role("button", name="Send feedback")).to_be_enabled()


def test_a_service_with_a_feedback_token_asks_the_editor_for_it_once(
        browser: Browser, models_root: Path, tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    with serving(models_root, db, feedback_token="s3cret-token") as guarded:
        page = open_page(browser, guarded)
        try:
            page.goto(guarded.url)
            enter(page, [PLAIN, CAT])
            wait_scored(page, 2)
            first = page.locator("#results > li").nth(0)
            first.get_by_role("button", name="This is wrong").click()
            token = first.get_by_label("Feedback token")
            expect(token).to_be_hidden()  # nothing to ask until the service asks
            first.get_by_role("button", name="Send feedback").click()
            status = first.locator(".feedback-status")
            expect(status).to_have_text("Not saved: this service asks for a feedback token. "
                                        "Enter the one your administrator gave you and send again.")
            expect(token).to_be_visible()
            expect(token).to_be_focused()

            token.fill("wrong-token")
            first.get_by_role("button", name="Send feedback").click()
            expect(status).to_have_text(
                "Not saved: the service refused that feedback token. Check it and send again.")
            expect(token).to_have_value("")

            token.fill("s3cret-token")
            first.get_by_role("button", name="Send feedback").click()
            expect(status).to_contain_text("saved as feedback #")

            # The tab remembers it: the next card sends without asking.
            second = page.locator("#results > li").nth(1)
            second.get_by_role("button", name="This is wrong").click()
            second.get_by_role("button", name="Send feedback").click()
            expect(second.locator(".feedback-status")).to_contain_text("saved as feedback #")
            expect(second.get_by_label("Feedback token")).to_be_hidden()
            with sqlite3.connect(db) as connection:
                stored = [h for (h,) in connection.execute(
                    "SELECT headline FROM feedback ORDER BY id")]
            assert stored == [PLAIN, CAT]  # the refused sends stored nothing
            assert page.uncaught == []  # type: ignore[attr-defined]
        finally:
            page.context.close()


# --------------------------------------------------------------------------- failures

def test_an_unready_or_unreachable_service_is_explained_and_recovers(page: Page) -> None:
    enter(page, [CAT])
    wait_scored(page, 1)
    problem = page.locator("#problem")
    expect(problem).to_be_hidden()

    def not_ready(route: Route) -> None:
        route.fulfill(status=503, content_type="application/json", body=json.dumps({"error": {
            "code": "not_ready", "message": "no model is loaded", "field": None,
            "request_id": "r2"}}))

    page.route("**/v1/score/batch", not_ready)
    enter(page, [CAT, PLAIN])
    expect(problem).to_be_visible()
    expect(page.locator("#problem-text")).to_have_text(
        "The scoring service is not ready (HTTP 503): no model is loaded. Try again in a moment.")
    expect(page.locator("#results")).to_have_class(re.compile(r"\bstale\b"))
    assert len(cards(page)) == 1  # the last good results stay, marked out of date

    page.unroute("**/v1/score/batch")
    page.route("**/v1/score/batch", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#problem-text")).to_contain_text("Cannot reach the scoring service.")

    page.unroute("**/v1/score/batch")
    page.get_by_role("button", name="Try again").click()
    wait_scored(page, 2)
    expect(problem).to_be_hidden()
    expect(page.locator("#results")).not_to_have_class(re.compile(r"\bstale\b"))


def test_a_page_opened_while_the_service_is_down_says_so(browser: Browser, live: Live) -> None:
    page = open_page(browser, live)
    page.route("**/v1/model", lambda route: route.abort("connectionrefused"))
    page.goto(live.url)
    expect(page.locator("#model-line")).to_have_text("The scoring service cannot be reached.")
    expect(page.locator("#problem-text")).to_contain_text("Cannot reach the scoring service.")
    page.unroute("**/v1/model")
    page.locator("#headlines").fill(PLAIN)
    wait_scored(page, 1)
    expect(page.locator("#model-line")).to_contain_text("Model ")
    assert page.uncaught == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_headline_too_long_is_named_by_line_and_the_others_are_scored(page: Page) -> None:
    long_line = "Council " + "budget " * 14  # 106 characters, the limit is 80
    enter(page, [PLAIN, long_line, CAT])
    wait_scored(page, 2, problems=1)
    shown = cards(page)
    assert [c["line"] for c in shown] == [1, 2, 3]
    assert shown[1]["score"] in ("", None) and shown[0]["score"] and shown[2]["score"]
    length = len(long_line.strip())
    assert shown[1]["verdict"] == (f"This headline has {length} characters; the limit is "
                                   f"{MAX_CHARS}. Shorten it to score it.")


def without_limits(page: Page, live: Live) -> None:
    """Serve the page without its limits, so that only the service can refuse."""
    def strip(route: Route) -> None:
        response = route.fetch()
        body = re.sub(r'data-max-(headline-chars|batch)="\d+"', 'data-max-\\1=""', response.text())
        route.fulfill(response=response, body=body)

    page.route(live.url, strip)
    page.goto(live.url)
    expect(page.locator("#model-line")).to_contain_text("Model ")
    assert page.evaluate("document.body.dataset.maxHeadlineChars") == ""


def test_the_services_own_too_long_refusal_is_shown_at_its_line(page: Page, live: Live) -> None:
    without_limits(page, live)
    long_line = "Council " + "budget " * 14
    enter(page, [PLAIN, long_line, CAT])
    wait_scored(page, 2, problems=1)
    shown = cards(page)
    assert shown[1]["verdict"] == (f"This headline has {len(long_line.strip())} characters after "
                                   f"normalisation; the limit is {MAX_CHARS} (MAX_HEADLINE_CHARS).")
    assert shown[0]["score"] and shown[2]["score"]


def test_a_batch_too_big_is_explained(page: Page, live: Live) -> None:
    lines = [f"Council meets on day {i}" for i in range(MAX_BATCH + 2)]
    enter(page, lines)
    wait_scored(page, MAX_BATCH)
    expect(page.locator("#problem-text")).to_have_text(
        f"You entered {MAX_BATCH + 2} headlines; the service scores at most {MAX_BATCH} at a "
        f"time. The first {MAX_BATCH} are scored below; score the other 2 separately.")
    assert len(cards(page)) == MAX_BATCH

    without_limits(page, live)
    enter(page, lines)
    expect(page.locator("#problem-text")).to_have_text(
        f"Too many headlines at once: headlines holds {MAX_BATCH + 2} headlines; the limit is "
        f"{MAX_BATCH} (MAX_BATCH). Split them into smaller batches.")


# --------------------------------------------------------------------------- export, safety

def test_results_download_and_copy_as_the_same_csv(browser: Browser, live: Live,
                                                   scorer: HeadlineScorer) -> None:
    page = open_page(browser, live)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(live.url)
    formula = '=HYPERLINK("http://x") dog, "quoted"'
    enter(page, [CAT, formula])
    wait_scored(page, 2)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename == "headline-scores.csv"
    text = Path(download.value.path()).read_bytes().decode("utf-8")
    table = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["headline"] for r in table] == [CAT, "'" + formula]  # a formula stays text
    for row, headline in zip(table, [CAT, formula]):
        expected = scorer.score(headline, explain=True)
        assert float(row["score"]) == expected.score
        assert row["score_0_100"] == str(percent(expected.score))
        assert row["label"] == expected.label and row["model_version"] == scorer.version
        assert row["band"] == band_of(expected.score, scorer.threshold)
    page.get_by_role("button", name="Copy results as CSV").click()
    expect(page.locator("#status")).to_have_text("Copied 2 results as CSV.")
    assert page.evaluate("navigator.clipboard.readText()") == text
    assert page.uncaught == []  # type: ignore[attr-defined]
    page.context.close()


def test_headline_text_is_shown_as_text_never_as_markup(page: Page) -> None:
    hostile = '<img src=x onerror="window.pwned=1"> Dog <b>bites</b> man'
    enter(page, [hostile])
    wait_scored(page, 1)
    assert cards(page)[0]["headline"] == hostile
    assert page.locator("#results img, #results b").count() == 0
    assert page.evaluate("window.pwned") is None


# --------------------------------------------------------------------------- layout, contrast

def test_usable_at_phone_width(browser: Browser, live: Live) -> None:
    page = open_page(browser, live, width=375, height=740)
    page.goto(live.url)
    enter(page, [CAT, SHOUT, "A" * 70])
    wait_scored(page, 3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    for selector in ("#headlines", "#copy-csv", "#download-csv", "#results > li .score-number",
                     "#results > li .wrong"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, selector
    assert page.uncaught == []  # type: ignore[attr-defined]
    page.context.close()


CONTRAST_SCRIPT = """selectors => selectors.map(selector => {
    const el = document.querySelector(selector);
    if (!el) return [selector, null, null];
    let bg = el, color = getComputedStyle(el).backgroundColor;
    while (bg && /rgba\\(.*, 0\\)|transparent/.test(color)) {
        bg = bg.parentElement;
        color = bg ? getComputedStyle(bg).backgroundColor : 'rgb(255, 255, 255)';
    }
    return [selector, getComputedStyle(el).color, color];
})"""


def _luminance(css: str) -> float:
    channels = [int(v) / 255 for v in re.findall(r"\d+", css)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_text_meets_wcag_aa_contrast(page: Page) -> None:
    enter(page, [CAT, PLAIN, "Council approves budget after long debate about bridges"])
    wait_scored(page, 3)
    page.get_by_role("button", name="This is wrong").first.click()
    selectors = ["h1", ".lead", "#model-line", ".hint", "label[for=headlines]", ".modes label",
                 "#copy-csv", ".rank", ".band-sensational .score-number",
                 ".band-neutral .score-number", ".score-of", ".band-sensational .verdict strong",
                 ".band-neutral .verdict strong", ".verdict", ".chip.up", ".chip.down",
                 "mark.cue.up", "mark.cue.down", ".feedback-question", "button.cancel",
                 "button.send", ".help dd"]
    page.locator("#results mark.cue").first.focus()
    selectors.append("#results mark.cue .tip")
    found = page.evaluate(CONTRAST_SCRIPT, selectors)
    for selector, color, background in found:
        assert color is not None, f"{selector} is not on the page"
        high, low = sorted((_luminance(color), _luminance(background)), reverse=True)
        ratio = (high + 0.05) / (low + 0.05)
        assert ratio >= 4.5, f"{selector}: {color} on {background} is {ratio:.2f}:1"


# --------------------------------------------------------------------------- README screenshot

SCREENSHOT_CANDIDATES = [
    "Council approves budget for new bridge after public consultation",
    "Parliament passes rail strike bill after long debate",
    "Council's bridge plan: what it means for you",
    "The Bridge Plan That Has Everyone Talking",
    "Why the bridge plan matters for Lyon",
    "What the new housing plan means for renters",
    "Everything about the bridge plan",
    "Here is the bridge plan",
    "The bridge plan explained",
    "Council bridge plan delayed again",
    "Bridge plan: what we know so far",
    "10 things you need to know about the budget",
    "10 things you need to know about the bridge plan",
    "You need to know this about the bridge plan",
    "This Mayor Tried Something New And The Results Are Amazing",
    "SHOCKING: Mayor DESTROYS Critics In Furious Rant!",
]


def one_per_band(scorer: HeadlineScorer, candidates: list[str]) -> list[str]:
    """Five candidates, least to most sensational, that show every band with this model: the
    least and the most sensational and up to three borderline ones (or the next in line)."""
    ranked = sorted(candidates, key=lambda t: scorer.score(t, explain=False).score)
    bands = [band_of(scorer.score(t, explain=False).score, scorer.threshold) for t in ranked]
    assert {"neutral", "borderline", "sensational"} <= set(bands), list(zip(ranked, bands))
    borderline = [t for t, b in zip(ranked, bands) if b == "borderline"]
    middle = [t for t in ranked[1:-1] if t not in borderline[:3]][: max(0, 3 - len(borderline))]
    chosen = {ranked[0], ranked[-1], *borderline[:3], *middle}
    return [t for t in ranked if t in chosen]


def save_screenshot(page: Page, path: Path, headlines: list[str]) -> None:
    enter(page, headlines)
    wait_scored(page, len(headlines))
    assert {c["band"] for c in cards(page)} == {"neutral", "borderline", "sensational"}
    page.locator("#headlines").blur()
    page.locator("#results mark.cue").nth(1).hover()  # one cue's contribution, as on hover
    bottom = page.evaluate("document.querySelector('#results').getBoundingClientRect().bottom "
                           "+ window.scrollY")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The model line names the version, which holds the training time: painted over (white),
    # so the picture, and git, change only when the page or the scores do.
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": math.ceil(bottom) + 16},
                    mask=[page.locator("#model-line")], mask_color="#ffffff")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert page.uncaught == []  # type: ignore[attr-defined]


def test_screenshot_with_results(browser: Browser, live: Live, scorer: HeadlineScorer) -> None:
    page = open_page(browser, live, width=1280, height=900)
    page.goto(live.url)
    save_screenshot(page, FIXTURE_SCREENSHOT, one_per_band(scorer, SCREENSHOT_CANDIDATES))
    page.context.close()


README_HEADLINES = [
    "Council approves budget for new bridge after public consultation",
    "Why the new bridge plan matters for your commute",
    "Bridge plan: what we know so far",
    "You Won't Believe What The Council Just Did With Your Money",
    "SHOCKING: Mayor DESTROYS Critics In Furious Rant!",
]


@pytest.mark.quality_gate
def test_readme_screenshot_with_the_full_model(browser: Browser, full_models_root: Path,
                                               tmp_path: Path) -> None:
    """The page as an editor sees it, scored by the model trained on the full datasets, with
    the service's default limits (the README's picture, through `make screenshot`)."""
    with serving(full_models_root, tmp_path / "feedback.sqlite3",
                 max_headline_chars=1000, max_batch=1000) as server:
        page = open_page(browser, server, width=1280, height=900)
        page.goto(server.url)
        save_screenshot(page, README_SCREENSHOT, README_HEADLINES)
        page.context.close()
