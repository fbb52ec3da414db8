"""Paging through stored feedback ends exactly: when the number of records is a multiple of
``limit``, the last full page has no next cursor (no empty page to fetch after it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.config import Settings

TOKEN = "paging-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(models_root: Path, tmp_path: Path) -> FlaskClient:
    settings = Settings(models_root=models_root, model_dir=models_root / "current",
                        feedback_db=tmp_path / "feedback.sqlite3", admin_token=TOKEN)
    client = create_app(settings).test_client()
    for i in range(6):
        stored = client.post("/v1/feedback", json={"headline": f"Council meets on day {i}",
                                                   "label": "neutral"})
        assert stored.status_code == 201, stored.get_json()
    return client


@pytest.mark.parametrize("limit", [1, 2, 3, 6])
def test_a_count_that_is_a_multiple_of_the_limit_ends_on_a_full_page(client: FlaskClient, limit: int) -> None:
    pages, after_id = [], 0
    while True:
        page = client.get(f"/v1/feedback?limit={limit}&after_id={after_id}", headers=AUTH).get_json()
        pages.append(page)
        if page["next_after_id"] is None:
            break
        after_id = page["next_after_id"]
        assert len(pages) <= 6, pages
    assert len(pages) == 6 // limit
    assert all(len(page["items"]) == limit for page in pages)  # the last one too: never empty
    assert [item["headline"] for page in pages for item in page["items"]] == [
        f"Council meets on day {i}" for i in range(6)]
