"""A headline's length is bounded before and after normalisation, on every route that takes
one, with the service's default limits (1,000 characters, 1 MiB bodies).

300,000 x U+FDFA is 900 KB of UTF-8, under the body limit, and 5.4 million characters once
NFKC has expanded it: it is refused on its raw length, before it is normalised, with a 422
that says so. A headline NFKC expands past the limit is refused on its normalised length.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from headline_scorer.text import RAW_CHARS_PER_CHAR
from service import create_app
from service.config import Settings

LIMIT = Settings.max_headline_chars
HUGE = "\ufdfa" * 300_000


@pytest.fixture
def client(models_root: Path, tmp_path: Path) -> FlaskClient:
    return create_app(Settings(models_root=models_root, model_dir=models_root / "current",
                               feedback_db=tmp_path / "feedback.sqlite3")).test_client()


def post(client: FlaskClient, path: str, body: dict) -> tuple[int, dict]:
    data = json.dumps(body, ensure_ascii=False).encode()
    assert len(data) < Settings.max_body_bytes
    response = client.post(path, data=data, content_type="application/json")
    return response.status_code, response.get_json()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/score", {"headline": HUGE}, "headline"),
    ("/v1/score/batch", {"headlines": ["A cat", HUGE]}, "headlines[1]"),
    ("/v1/feedback", {"headline": HUGE, "label": "neutral"}, "headline"),
])
def test_a_headline_over_the_raw_bound_is_refused_before_normalising(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch, path: str, body: dict, field: str) -> None:
    normalised: list[str] = []
    monkeypatch.setattr("headline_scorer.text.normalise_text", lambda text: normalised.append(text) or text)
    status, answer = post(client, path, body)
    assert status == 422, answer
    error = answer["error"]
    assert (error["code"], error["field"]) == ("headline_too_long", field)
    assert error["message"] == (f"{field} has 300000 characters before normalisation; the limit is "
                                f"{RAW_CHARS_PER_CHAR * LIMIT} ({RAW_CHARS_PER_CHAR} x MAX_HEADLINE_CHARS)")
    assert HUGE not in normalised


def test_a_headline_nfkc_expands_past_the_limit_is_refused_after_normalising(client: FlaskClient) -> None:
    status, answer = post(client, "/v1/score", {"headline": "\ufdfa" * 100})  # 1,800 once normalised
    assert status == 422
    assert answer["error"]["message"] == ("headline has 1800 characters after normalisation; the limit "
                                          f"is {LIMIT} (MAX_HEADLINE_CHARS)")


def test_the_documented_headline_schema_has_the_raw_bound(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    assert json.dumps(document).count(f'"maxLength": {RAW_CHARS_PER_CHAR * LIMIT}') >= 1
