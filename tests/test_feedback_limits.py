"""Who may post feedback, and how much: per-client rate limits (HEADLINE_FEEDBACK_RATE_LIMIT,
Flask-Limiter) answered with a JSON 429 and Retry-After, and the optional feedback token
(HEADLINE_FEEDBACK_TOKEN) answered with a JSON 401."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from headline_scorer.feedback_store import SqliteFeedbackStore
from service import create_app
from service.config import Settings

ADMIN = "limits-admin-token"
CAT = "You Will Not Believe What This Cat Did"


def make_client(models_root: Path, tmp_path: Path, **overrides: Any) -> FlaskClient:
    settings = Settings(models_root=models_root, model_dir=models_root / "current",
                        feedback_db=tmp_path / "feedback.sqlite3", admin_token=ADMIN, **overrides)
    return create_app(settings).test_client()


def post(client: FlaskClient, address: str = "192.0.2.1", **headers: str) -> Any:
    return client.post("/v1/feedback", json={"headline": CAT, "label": "neutral"},
                       headers=headers, environ_base={"REMOTE_ADDR": address})


def stored(tmp_path: Path) -> int:
    return SqliteFeedbackStore(tmp_path / "feedback.sqlite3").count()


def test_a_client_over_its_limit_gets_a_json_429_with_retry_after_and_nothing_stored(
        models_root: Path, tmp_path: Path) -> None:
    client = make_client(models_root, tmp_path, feedback_rate_limit="3/minute;100/day")
    accepted = [post(client) for _ in range(3)]
    assert [a.status_code for a in accepted] == [201, 201, 201]
    assert all("Retry-After" not in a.headers for a in accepted)
    refused = post(client)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body == {"error": {
        "code": "rate_limited", "field": None, "request_id": refused.headers["X-Request-ID"],
        "message": "too many requests from this client: the limit is 3 per 1 minute; try again "
                   "after the seconds of Retry-After"}}
    assert 0 < int(refused.headers["Retry-After"]) <= 61  # the window, rounded up to whole seconds
    assert refused.mimetype == "application/json"
    assert stored(tmp_path) == 3
    # Another client is counted apart; the admin listing (GET) is not counted at all.
    assert post(client, "198.51.100.7").status_code == 201
    for _ in range(5):
        listing = client.get("/v1/feedback", headers={"Authorization": f"Bearer {ADMIN}"},
                             environ_base={"REMOTE_ADDR": "192.0.2.1"})
        assert listing.status_code == 200


def test_the_default_limit_is_per_minute_and_per_day(models_root: Path, tmp_path: Path) -> None:
    assert Settings().feedback_rate_limit == "30/minute;500/day"
    client = make_client(models_root, tmp_path)
    assert [post(client).status_code for _ in range(31)] == [201] * 30 + [429]


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(models_root: Path,
                                                               tmp_path: Path) -> None:
    # Without TRUSTED_PROXIES a client cannot escape its limit by naming other addresses.
    direct = make_client(models_root, tmp_path / "direct", feedback_rate_limit="1/minute")
    assert post(direct, **{"X-Forwarded-For": "203.0.113.1"}).status_code == 201
    assert post(direct, **{"X-Forwarded-For": "203.0.113.2"}).status_code == 429
    # Behind one proxy, the proxy's X-Forwarded-For entry is the client.
    proxied = make_client(models_root, tmp_path / "proxied", feedback_rate_limit="1/minute",
                          trusted_proxies=1)
    assert post(proxied, **{"X-Forwarded-For": "203.0.113.1"}).status_code == 201
    assert post(proxied, **{"X-Forwarded-For": "203.0.113.2"}).status_code == 201
    assert post(proxied, **{"X-Forwarded-For": "203.0.113.1"}).status_code == 429


def test_an_empty_limit_means_no_limit(models_root: Path, tmp_path: Path) -> None:
    client = make_client(models_root, tmp_path, feedback_rate_limit="")
    assert {post(client).status_code for _ in range(40)} == {201}


def test_limits_and_storage_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADLINE_FEEDBACK_RATE_LIMIT", " 5/second ")
    monkeypatch.setenv("HEADLINE_RATE_LIMIT_STORAGE", "redis://cache.internal:6379/2")
    settings = Settings.from_env()
    assert settings.feedback_rate_limit == "5/second"
    assert settings.rate_limit_storage == "redis://cache.internal:6379/2"
    monkeypatch.delenv("HEADLINE_RATE_LIMIT_STORAGE")
    assert Settings.from_env().rate_limit_storage == "memory://"


@pytest.mark.parametrize("limit", ["lots", "30 per fortnight", "-1/minute"])
def test_a_limit_that_cannot_be_read_stops_start_up_naming_the_setting(
        monkeypatch: pytest.MonkeyPatch, limit: str) -> None:
    monkeypatch.setenv("HEADLINE_FEEDBACK_RATE_LIMIT", limit)
    with pytest.raises(SystemExit, match="HEADLINE_FEEDBACK_RATE_LIMIT="):
        Settings.from_env()


def test_the_429_is_in_the_openapi_document(models_root: Path, tmp_path: Path) -> None:
    doc = make_client(models_root, tmp_path).get("/openapi.json").get_json()
    reply = doc["paths"]["/v1/feedback"]["post"]["responses"]["429"]
    assert "Retry-After" in reply["headers"]
    assert "HEADLINE_FEEDBACK_RATE_LIMIT" in reply["description"]


FEEDBACK_TOKEN = "editors-tool-token"


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer ", "Bearer wrong-token",
                                           f"Basic {FEEDBACK_TOKEN}", f"Bearer {ADMIN}",
                                           f"Bearer {FEEDBACK_TOKEN}x"])
def test_with_a_feedback_token_a_post_without_it_is_a_401_and_stores_nothing(
        models_root: Path, tmp_path: Path, authorization: str | None) -> None:
    client = make_client(models_root, tmp_path, feedback_token=FEEDBACK_TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}
    refused = post(client, **headers)
    assert refused.status_code == 401
    assert refused.get_json() == {"error": {
        "code": "unauthorized", "field": None, "request_id": refused.headers["X-Request-ID"],
        "message": "posting feedback needs the header 'Authorization: Bearer <token>' with the "
                   "token configured as HEADLINE_FEEDBACK_TOKEN"}}
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="headline-scorer feedback"'
    assert stored(tmp_path) == 0


def test_with_a_feedback_token_a_post_with_it_is_stored(models_root: Path, tmp_path: Path) -> None:
    client = make_client(models_root, tmp_path, feedback_token=FEEDBACK_TOKEN)
    assert post(client, Authorization=f"Bearer {FEEDBACK_TOKEN}").status_code == 201
    assert post(client, Authorization=f"bearer  {FEEDBACK_TOKEN} ").status_code == 201
    assert stored(tmp_path) == 2


def test_without_a_feedback_token_posting_stays_open(models_root: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for blank in ("", "   "):
        monkeypatch.setenv("HEADLINE_FEEDBACK_TOKEN", blank)
        assert Settings.from_env().feedback_token is None
    assert Settings(feedback_token=" ").feedback_token is None
    monkeypatch.setenv("HEADLINE_FEEDBACK_TOKEN", f" {FEEDBACK_TOKEN} ")
    assert Settings.from_env().feedback_token == FEEDBACK_TOKEN
    client = make_client(models_root, tmp_path)
    assert post(client).status_code == 201
    assert post(client, Authorization="Bearer anything").status_code == 201


def test_the_openapi_document_declares_the_feedback_token(models_root: Path, tmp_path: Path) -> None:
    with_token = make_client(models_root, tmp_path, feedback_token=FEEDBACK_TOKEN)
    doc = with_token.get("/openapi.json").get_json()
    operation = doc["paths"]["/v1/feedback"]["post"]
    assert operation["security"] == [{"feedbackToken": []}]
    assert "401" in operation["responses"]
    scheme = doc["components"]["securitySchemes"]["feedbackToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "HEADLINE_FEEDBACK_TOKEN" in scheme["description"]
    # The listing keeps the admin scheme; without a token, the post's scheme is optional.
    assert doc["paths"]["/v1/feedback"]["get"]["security"] == [{"adminToken": []}]
    open_doc = make_client(models_root, tmp_path).get("/openapi.json").get_json()
    assert open_doc["paths"]["/v1/feedback"]["post"]["security"] == [{"feedbackToken": []}, {}]
