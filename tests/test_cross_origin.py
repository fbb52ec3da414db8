"""CORS and framing as configured: HEADLINE_CORS_ORIGINS and HEADLINE_FRAME_ANCESTORS.

The headers a browser decides on, checked request by request; tests/test_widget.py checks
what Chromium then does with them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service import create_app
from service.config import Settings
from tests.test_api import settings_for

CMS = "https://cms.example.org"
OTHER = "https://elsewhere.example.net"
TOKEN = "cors-admin-token"


def client_for(models_root: Path, tmp_path: Path, **settings: object) -> FlaskClient:
    return create_app(settings_for(models_root, feedback_db=tmp_path / "feedback.sqlite3",
                                   admin_token=TOKEN, **settings)).test_client()


@pytest.fixture
def client(models_root: Path, tmp_path: Path) -> FlaskClient:
    return client_for(models_root, tmp_path, cors_origins=(CMS, "http://localhost:3000"),
                      frame_ancestors=(CMS,))


def preflight(client: FlaskClient, path: str, origin: str = CMS, method: str = "POST",
              headers: str = "content-type") -> dict[str, str]:
    response = client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers})
    return {k: v for k, v in response.headers.items() if k.startswith("Access-Control-")}


def cors_headers(response: TestResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("Access-Control-")}


@pytest.mark.parametrize(("path", "method"), [("/v1/score", "POST"), ("/v1/score/batch", "POST"),
                                              ("/v1/suggest", "POST"), ("/v1/feedback", "POST"),
                                              ("/v1/model", "GET")])
def test_an_allowed_origin_gets_a_preflight_that_lets_it_send_json(
        client: FlaskClient, path: str, method: str) -> None:
    headers = preflight(client, path, method=method)
    assert headers["Access-Control-Allow-Origin"] == CMS
    assert method in headers["Access-Control-Allow-Methods"].split(", ")
    assert headers["Access-Control-Allow-Headers"] == "content-type"
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in headers


def test_scores_and_refusals_carry_the_allowed_origin(client: FlaskClient) -> None:
    for body, status in (({"headline": "Council approves budget"}, 200), ({"headline": ""}, 422)):
        response = client.post("/v1/score", json=body, headers={"Origin": CMS})
        assert response.status_code == status
        assert response.headers["Access-Control-Allow-Origin"] == CMS
        assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
        assert "Origin" in response.headers.get_all("Vary")


def test_an_origin_not_named_gets_no_cors_headers(client: FlaskClient) -> None:
    assert preflight(client, "/v1/score", origin=OTHER) == {}
    response = client.post("/v1/score", json={"headline": "Council approves budget"},
                           headers={"Origin": OTHER})
    assert response.status_code == 200 and cors_headers(response) == {}


@pytest.mark.parametrize("path", ["/admin/reload", "/metrics", "/openapi.json", "/",
                                  "/v2/models/headline-scorer/infer"])
def test_routes_outside_the_public_scoring_calls_never_get_cors(client: FlaskClient,
                                                                path: str) -> None:
    assert preflight(client, path) == {}
    assert cors_headers(client.get(path, headers={"Origin": CMS,
                                                  "Authorization": f"Bearer {TOKEN}"})) == {}


def test_the_admin_listing_cannot_be_asked_for_with_the_token_from_a_page(
        client: FlaskClient) -> None:
    # The browser asks before sending Authorization; the answer allows neither GET nor it.
    headers = preflight(client, "/v1/feedback", method="GET", headers="authorization")
    assert "Access-Control-Allow-Methods" not in headers
    assert "Access-Control-Allow-Headers" not in headers


def test_without_origins_configured_the_service_answers_as_before(models_root: Path,
                                                                  tmp_path: Path) -> None:
    client = client_for(models_root, tmp_path)
    response = client.options("/v1/score", headers={
        "Origin": CMS, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 200 and cors_headers(response) == {}
    assert cors_headers(client.post("/v1/score", json={"headline": "Council approves budget"},
                                    headers={"Origin": CMS})) == {}
    assert "frame-ancestors 'none'" in client.get("/").headers["Content-Security-Policy"]


def test_the_page_may_be_framed_by_the_named_origins_only(client: FlaskClient) -> None:
    csp = client.get("/").headers["Content-Security-Policy"]
    assert f"frame-ancestors {CMS}" in csp
    assert "script-src 'self'" in csp  # the rest of the policy is unchanged


def test_the_widget_script_is_served_for_other_origins_to_include(client: FlaskClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=" in response.headers["Cache-Control"]
    assert b"v1/score" in response.data


def test_origins_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADLINE_CORS_ORIGINS", f" {CMS}/, HTTP://LocalHost:3000 ,")
    monkeypatch.setenv("HEADLINE_FRAME_ANCESTORS", CMS)
    settings = Settings.from_env()
    assert settings.cors_origins == (CMS, "http://localhost:3000")
    assert settings.frame_ancestors == (CMS,)
    monkeypatch.delenv("HEADLINE_CORS_ORIGINS")
    monkeypatch.delenv("HEADLINE_FRAME_ANCESTORS")
    assert Settings.from_env().cors_origins == () == Settings.from_env().frame_ancestors


@pytest.mark.parametrize("value", ["*", "cms.example.org", "https://cms.example.org/path",
                                   "ftp://cms.example.org", "https://cms.example.org 'none'"])
def test_a_value_that_is_not_an_origin_stops_start_up_naming_the_setting(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HEADLINE_CORS_ORIGINS", value)
    with pytest.raises(SystemExit, match="HEADLINE_CORS_ORIGINS"):
        Settings.from_env()
