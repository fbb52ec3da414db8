"""``POST /v1/audit`` through Flask's test client: a posted feed, page or text dump answered
with its headlines, scored and ranked; every answer checked against ``/openapi.json``.

The service is sent documents, never URLs: nothing here (or in the route) fetches anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from headline_scorer.extract import Document, extract
from headline_scorer.scorer import HeadlineScorer, band_of
from service import create_app
from tests.test_api import call, error_of, settings_for

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
MAX_BODY = 64 * 1024
MAX_BATCH = 20
DOG = "You Won't Believe What This Dog Did At The Airport"


@pytest.fixture(scope="module")
def client(models_root: Path) -> FlaskClient:
    return create_app(settings_for(models_root, max_body_bytes=MAX_BODY, max_batch=MAX_BATCH)).test_client()


def post(client: FlaskClient, body: object) -> object:
    return call(client, "POST", "/v1/audit", json=body)


@pytest.mark.parametrize(("name", "kind"), [("front.html", "html"), ("article.html", "html"),
                                             ("feed.rss", "feed"), ("feed.atom", "feed"),
                                             ("dump.txt", "text")])
def test_audit_finds_scores_and_ranks_as_the_cli_does(client: FlaskClient, scorer: HeadlineScorer,
                                                       name: str, kind: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    response = post(client, {"document": text})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["model_version", "threshold", "format", "found", "headlines"]
    assert body["format"] == kind
    assert body["threshold"] == scorer.threshold and body["model_version"] == scorer.version
    _, found = extract(Document(name, text.encode(), name))
    assert body["found"] == len(found)
    assert sorted(h["headline"] for h in body["headlines"]) == sorted({f.text for f in found})
    scores = [h["score"] for h in body["headlines"]]
    assert scores == sorted(scores, reverse=True)
    for headline in body["headlines"]:
        expected = scorer.score(headline["headline"], explain=True)
        assert headline["score"] == expected.score and headline["label"] == expected.label
        assert headline["band"] == band_of(expected.score, scorer.threshold)
        assert headline["cues"] == [{"text": c.text, "weight": c.weight} for c in expected.cues]
        assert headline["found_at"] == [f.where for f in found if f.text == headline["headline"]]
        assert headline["count"] == len(headline["found_at"])


def test_duplicates_are_merged_with_where_each_stood(client: FlaskClient) -> None:
    body = post(client, {"document": (FIXTURES / "front.html").read_text()}).get_json()
    dog = next(h for h in body["headlines"] if h["headline"] == DOG)
    assert dog["count"] == 2
    assert dog["found_at"][1] == "aside.most-popular > ol > li > a"


def test_format_can_be_forced(client: FlaskClient) -> None:
    document = "<p>Detected as HTML, by this paragraph</p>\nStorm closes schools across the north\n"
    # Read as the HTML it looks like, the bare line is no element's text: nothing found.
    error_of(post(client, {"document": document}), 422, "no_headlines", "document")
    body = post(client, {"document": document, "format": "text"}).get_json()
    assert body["format"] == "text"
    assert [(h["headline"], h["found_at"]) for h in body["headlines"]] == [
        ("Storm closes schools across the north", ["line 2"])]


def test_a_document_without_headlines_is_422_naming_it(client: FlaskClient) -> None:
    response = post(client, {"document": "<html><body><p>Nothing to see here.</p></body></html>"})
    error = error_of(response, 422, "no_headlines", "document")
    assert error["message"].startswith("document: no headlines found in this HTML page")


def test_xml_that_is_no_feed_is_422(client: FlaskClient) -> None:
    response = post(client, {"document": '<?xml version="1.0"?><catalog><book/></catalog>'})
    error = error_of(response, 422, "unreadable_document", "document")
    assert "not an RSS or Atom feed" in error["message"]


@pytest.mark.parametrize(("body", "code", "field"), [
    ({}, "missing_field", "document"),
    ({"document": 7}, "wrong_type", "document"),
    ({"document": "x", "format": "pdf"}, "invalid_format", "format"),
    ({"document": "x", "url": "http://127.0.0.1/"}, "unknown_field", "url"),
])
def test_bad_requests_are_422_naming_the_field(client: FlaskClient, body: dict, code: str,
                                               field: str) -> None:
    error_of(post(client, body), 422, code, field)


def test_lone_surrogates_and_nul_characters_are_no_failure(client: FlaskClient) -> None:
    body = '{"document": "<h1>Storm\\ud800 closes schools across the\\u0000 north</h1>"}'
    response = call(client, "POST", "/v1/audit", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [h["headline"] for h in response.get_json()["headlines"]] == [
        "Storm\ufffd closes schools across the\ufffd north"]


def test_more_distinct_headlines_than_a_batch_is_422(client: FlaskClient) -> None:
    lines = [f"Council number {i} approves a new budget for the city" for i in range(MAX_BATCH + 1)]
    error = error_of(post(client, {"document": "\n".join(lines)}), 422, "batch_too_large", "document")
    assert f"holds {MAX_BATCH + 1} distinct headlines" in error["message"]


def test_a_document_over_the_body_limit_is_413(client: FlaskClient) -> None:
    big = json.dumps({"document": "<p>" + "x" * MAX_BODY + "</p>"})
    response = call(client, "POST", "/v1/audit", data=big, content_type="application/json")
    error_of(response, 413, "body_too_large")


def test_the_audit_is_documented(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").get_json()["paths"]["/v1/audit"]["post"]
    assert operation["operationId"] == "auditDocument"
    assert {"200", "413", "422"} <= set(operation["responses"])
