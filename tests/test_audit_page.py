"""The editors' page's "Audit a page" mode in a real browser (Debian's chromium, Playwright).

An editor pastes a page's HTML or text; the page sends it to ``POST /v1/audit`` and shows the
headlines found, most sensational first, each with its score, band and cues as in the other
modes. The service runs in a thread with the fixture model, as in tests/test_web_page.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from headline_scorer.paths import PROJECT_ROOT
from headline_scorer.scorer import HeadlineScorer, band_of
from tests.chromium import launched_chromium, skip_without_chromium
from tests.test_web_page import Live, cards, percent, serving

skip_without_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
SCREENSHOT = PROJECT_ROOT / "tests" / "artifacts" / "page-audit-mode.png"


@pytest.fixture(scope="module")
def live(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("audit-page") / "feedback.sqlite3"
    with serving(models_root, db, max_body_bytes=64 * 1024, max_batch=20) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.url)
    expect(page.locator("#model-line")).to_contain_text("Model ")
    page.get_by_label("Audit a page").check()
    yield page
    assert errors == []
    page.context.close()


def test_pasted_front_page_is_audited_and_ranked(page: Page, scorer: HeadlineScorer) -> None:
    expect(page.locator("#headlines-label")).to_have_text("A page's HTML, a feed's XML or a page's text")
    page.locator("#headlines").fill((FIXTURES / "front.html").read_text())
    expect(page.locator("#status")).to_have_text(
        "Found 8 headlines in this HTML page, ranked from most to least sensational.")
    shown = cards(page)
    assert len(shown) == 8
    assert [c["score"] for c in shown] == sorted((c["score"] for c in shown), reverse=True)
    for rank, card in enumerate(shown, start=1):
        expected = scorer.score(card["headline"], explain=True)
        assert card["score"] == expected.score
        assert card["number"] == str(percent(expected.score))
        assert card["band"] == band_of(expected.score, scorer.threshold)
        assert card["rank"].startswith(f"{rank} of 8")
    dog = next(c for c in shown if c["headline"].startswith("You Won't Believe"))
    assert "found 2 times" in dog["rank"]
    assert page.locator("#results mark.cue").count() > 0
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_a_page_without_headlines_says_so(page: Page) -> None:
    page.locator("#headlines").fill("<html><body><p>Nothing to see here.</p></body></html>")
    expect(page.locator("#problem-text")).to_contain_text("No headlines found in this HTML page")
    expect(page.locator("#status")).to_have_text("No headlines to show.")
    assert cards(page) == []


def test_leaving_audit_mode_scores_lines_again(page: Page) -> None:
    page.locator("#headlines").fill((FIXTURES / "dump.txt").read_text())
    expect(page.locator("#status")).to_contain_text("in this text, ranked")
    page.get_by_label("In the order typed").check()
    expect(page.locator("#headlines-label")).to_have_text("Headlines, one per line")
    expect(page.locator("#status")).to_contain_text("Scored ")
