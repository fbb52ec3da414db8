"""The audit's HTML report in a real browser: Debian's chromium, headless, driven by Playwright.

The report of the fixture pages and feeds (fixture model) is opened from a file; every request
the browser makes is recorded, so a report that reaches for a font, a script or an image fails.
The screenshot is kept in tests/artifacts/ (not in git). Never run ``playwright install``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batch.audit import command
from headline_scorer.paths import PROJECT_ROOT
from tests.chromium import launched_chromium, skip_without_chromium

skip_without_chromium()

from playwright.sync_api import Browser, expect  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
SCREENSHOT = PROJECT_ROOT / "tests" / "artifacts" / "audit-report.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


def test_report_opens_offline_with_marks_and_histogram(browser: Browser, models_root: Path,
                                                        tmp_path: Path) -> None:
    report = tmp_path / "audit.html"
    sources = [str(FIXTURES / name) for name in ("front.html", "feed.rss", "feed.atom", "dump.txt")]
    assert command.main([*sources, "--model", str(models_root), "--report", str(report)]) == 0
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(report.as_uri())
    assert requests == [report.as_uri()]  # nothing but the file itself
    assert errors == []  # the report's own Content-Security-Policy refuses nothing it uses
    cards = page.locator("li.headline-card")
    expect(cards.first).to_be_visible()
    scores = [float(s) for s in cards.evaluate_all("cards => cards.map(c => c.dataset.score)")]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 10
    # The most sensational card is painted in its band's colour, its cue words marked.
    first = cards.first
    band = first.get_attribute("data-band")
    colour = first.evaluate("c => getComputedStyle(c).borderLeftColor")
    assert colour == {"sensational": "rgb(208, 69, 58)", "borderline": "rgb(176, 120, 0)",
                      "neutral": "rgb(63, 143, 85)"}[band]
    assert page.locator("mark.cue").count() > 0
    expect(page.locator("svg.histogram rect").first).to_be_visible()
    box = page.locator("svg.histogram").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.context.close()
