"""A blank admin token is no token: ``HEADLINE_ADMIN_TOKEN`` set to "" or to spaces keeps every
admin route absent (404, as an unknown URL), so an empty bearer can never match it; with a
real token, an empty bearer is refused (401)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import create_app
from service.config import Settings

ADMIN_ROUTES = [("POST", "/admin/reload"), ("GET", "/v1/feedback")]
EMPTY_BEARERS = [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
                 {"Authorization": "Bearer    "}, {"Authorization": ""}]


@pytest.mark.parametrize("token", ["", " ", "   \t "])
def test_a_blank_token_in_the_environment_keeps_the_admin_routes_absent(
        models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("HEADLINE_ADMIN_TOKEN", token)
    app = create_app({"models_root": models_root, "model_dir": models_root / "current",
                      "feedback_db": tmp_path / "feedback.sqlite3"})
    assert app.config["SETTINGS"].admin_token is None
    client = app.test_client()
    for method, path in ADMIN_ROUTES:
        for headers in EMPTY_BEARERS:
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 404, (path, headers, response.get_json())
            assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("token", ["", "  "])
def test_a_blank_token_given_in_code_is_no_token_either(token: str) -> None:
    assert Settings(admin_token=token).admin_token is None


def test_an_empty_bearer_is_refused_when_a_token_is_set(models_root: Path, tmp_path: Path) -> None:
    settings = Settings(models_root=models_root, model_dir=models_root / "current",
                        feedback_db=tmp_path / "feedback.sqlite3", admin_token="s3cret")
    client = create_app(settings).test_client()
    for method, path in ADMIN_ROUTES:
        for headers in EMPTY_BEARERS:
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 401, (path, headers, response.get_json())
