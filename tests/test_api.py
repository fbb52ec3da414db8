"""The HTTP contract, through Flask's test client: every route, every error, the request log,
the metrics and the OpenAPI document.

Every response a test receives through :func:`call` is also checked against the schema that
``/openapi.json`` documents for that route and status, so the document cannot drift from
what the service does.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from prometheus_client.parser import text_string_to_metric_families
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from headline_scorer.artifact import ModelError
from headline_scorer.paths import PROJECT_ROOT
from headline_scorer.scorer import HeadlineScorer
from service import create_app
from service.config import Settings
from service.model_holder import MODEL_KEY, LoadedModel, install_model

MAX_BATCH = 5
MAX_CHARS = 80
MAX_BODY = 4096
CAT = "You Will Not Believe What This Cat Did"


def settings_for(models_root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"models_root": models_root, "model_dir": models_root / "current",
                              "max_batch": MAX_BATCH, "max_headline_chars": MAX_CHARS,
                              "max_body_bytes": MAX_BODY}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def app(models_root: Path) -> Flask:
    return create_app(settings_for(models_root))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def openapi_doc(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def check_documented(doc: dict[str, Any], rule: str, method: str, response: Any) -> None:
    """Fail unless ``response`` has a status and JSON body that ``doc`` documents for the route."""
    operation = doc["paths"][rule][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {rule} answers {status}, undocumented"
    documented = operation["responses"][status]
    pointer = _pointer("paths", rule, method.lower(), "responses", status)
    if "$ref" in documented:
        pointer = documented["$ref"][1:]
        documented = doc["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    if "application/json" not in documented.get("content", {}):
        return
    assert response.mimetype == "application/json"
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(
        doc, default_specification=DRAFT202012))
    schema_ref = f"urn:openapi#{pointer}/content/application~1json/schema"
    Draft202012Validator({"$ref": schema_ref}, registry=registry).validate(response.get_json())


def call(client: FlaskClient, method: str, path: str, rule: str | None = None, **kwargs: Any) -> Any:
    """Make a request and check its answer against the OpenAPI document."""
    response = client.open(path, method=method, **kwargs)
    doc = client.get("/openapi.json").get_json()
    check_documented(doc, rule or path, method, response)
    return response


def error_of(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code, error
    assert error["field"] == field, error
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


def v2_error_of(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """As :func:`error_of`, for the V2 routes: the protocol's message string under "error", the
    service's code, field and request id beside it."""
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()
    assert isinstance(error["error"], str) and error["error"], error
    assert error["code"] == code, error
    assert error["field"] == field, error
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


# --- POST /v1/score -----------------------------------------------------------------------

def test_score_returns_score_label_threshold_version_and_cues(client: FlaskClient,
                                                             scorer: HeadlineScorer) -> None:
    response = call(client, "POST", "/v1/score", json={"headline": CAT})
    assert response.status_code == 200
    body = response.get_json()
    expected = scorer.score(CAT, explain=True)
    assert list(body) == ["headline", "score", "label", "threshold", "model_version", "cues"]
    assert body["headline"] == CAT
    assert body["score"] == expected.score
    assert body["label"] == expected.label
    assert body["threshold"] == scorer.threshold
    assert body["model_version"] == scorer.version
    assert body["cues"] == [{"text": c.text, "weight": c.weight} for c in expected.cues]
    assert 1 <= len(body["cues"]) <= 5
    weights = [abs(c["weight"]) for c in body["cues"]]
    assert weights == sorted(weights, reverse=True)


def test_score_echoes_the_normalised_headline(client: FlaskClient, scorer: HeadlineScorer) -> None:
    raw = "  Ｙｏｕ Will\tNot\u200b  Believe\n What This Cat Did\x07 "
    body = call(client, "POST", "/v1/score", json={"headline": raw}).get_json()
    assert body["headline"] == "You Will Not Believe What This Cat Did"
    assert body["score"] == scorer.score(CAT, explain=True).score


def test_score_accepts_utf8_text_and_answers_in_utf8(client: FlaskClient) -> None:
    headline = "Ünïcödé headline — with “quotes” and emoji 🎉"
    response = call(client, "POST", "/v1/score", data=json.dumps({"headline": headline}).encode(),
                    content_type="application/json; charset=utf-8")
    assert response.status_code == 200
    assert headline.encode("utf-8") in response.get_data()  # raw UTF-8, not \u escapes
    assert response.get_json()["headline"] == headline


@pytest.mark.parametrize(("body", "code", "field"), [
    ({}, "missing_field", "headline"),
    ({"headline": 5}, "wrong_type", "headline"),
    ({"headline": None}, "wrong_type", "headline"),
    ({"headline": ["a"]}, "wrong_type", "headline"),
    ({"headline": ""}, "empty_headline", "headline"),
    ({"headline": " \t\n\u200b "}, "empty_headline", "headline"),
    ({"headline": "x" * (MAX_CHARS + 1)}, "headline_too_long", "headline"),
    ({"headline": CAT, "explain": True}, "unknown_field", "explain"),
    ({"headlnie": CAT}, "unknown_field", "headlnie"),
])
def test_score_rejects_bad_fields_with_422_naming_the_field(client: FlaskClient, body: dict,
                                                            code: str, field: str) -> None:
    error_of(call(client, "POST", "/v1/score", json=body), 422, code, field)


def test_score_length_limit_counts_the_normalised_text(client: FlaskClient) -> None:
    padded = "word " + " " * 500 + "x" * (MAX_CHARS - 5)  # long raw, MAX_CHARS after normalising
    assert call(client, "POST", "/v1/score", json={"headline": padded}).status_code == 200
    error = error_of(call(client, "POST", "/v1/score", json={"headline": padded + "y"}),
                     422, "headline_too_long", "headline")
    assert str(MAX_CHARS) in error["message"]


def test_body_that_is_not_an_object_is_422(client: FlaskClient) -> None:
    error_of(call(client, "POST", "/v1/score", json=[CAT]), 422, "wrong_type", None)


# --- request bodies: 400, 413, 415 ---------------------------------------------------------

@pytest.mark.parametrize("data", [b'{"headline": ', b"{'headline': 'x'}", b"", b"   ", b'{"a": 1} x'])
def test_malformed_json_is_400(client: FlaskClient, data: bytes) -> None:
    response = call(client, "POST", "/v1/score", data=data, content_type="application/json")
    error_of(response, 400, "malformed_json")


def test_deeply_nested_json_is_400_not_a_crash(models_root: Path) -> None:
    client = create_app(settings_for(models_root, max_body_bytes=1 << 20)).test_client()
    data = b'{"headline": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    error = error_of(call(client, "POST", "/v1/score", data=data, content_type="application/json"),
                     400, "malformed_json")
    assert "nested" in error["message"]


def test_invalid_utf8_is_400(client: FlaskClient) -> None:
    response = call(client, "POST", "/v1/score", data=b'{"headline": "caf\xe9"}',
                    content_type="application/json")
    error = error_of(response, 400, "invalid_utf8")
    assert "offset 17" in error["message"]


def test_utf8_byte_order_mark_is_tolerated(client: FlaskClient) -> None:
    data = b"\xef\xbb\xbf" + json.dumps({"headline": CAT}).encode()
    assert call(client, "POST", "/v1/score", data=data, content_type="application/json").status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_not_sent_as_json_is_415(client: FlaskClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = call(client, "POST", "/v1/score", data=json.dumps({"headline": CAT}), headers=headers)
    error_of(response, 415, "unsupported_media_type")


def test_json_subtype_is_accepted(client: FlaskClient) -> None:
    response = client.post("/v1/score", data=json.dumps({"headline": CAT}),
                           content_type="application/vnd.api+json")
    assert response.status_code == 200


class _Unreadable(io.RawIOBase):
    """A request body that fails the test if the service reads any of it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the service read a body it should have refused by its length")


def test_body_over_the_limit_is_413_without_being_read(client: FlaskClient) -> None:
    response = call(client, "POST", "/v1/score", content_type="application/json",
                    environ_overrides={"wsgi.input": _Unreadable(), "CONTENT_LENGTH": str(MAX_BODY + 1)})
    error = error_of(response, 413, "body_too_large")
    assert str(MAX_BODY) in error["message"]


def _chunked(client: FlaskClient, path: str, data: bytes) -> Any:
    # A chunked body has no Content-Length; the WSGI server marks the stream as terminated.
    return call(client, "POST", path, input_stream=io.BytesIO(data),
                headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                environ_overrides={"wsgi.input_terminated": True})


def _padded(size: int) -> bytes:
    """A valid score request of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    data = json.dumps({"headline": CAT}).encode()
    return data + b" " * (size - len(data))


def test_chunked_body_over_the_limit_is_413(client: FlaskClient) -> None:
    error_of(_chunked(client, "/v1/score", _padded(MAX_BODY + 1)), 413, "body_too_large")
    error_of(_chunked(client, "/v1/score", _padded(10 * MAX_BODY)), 413, "body_too_large")


def test_chunked_body_up_to_the_limit_is_scored(client: FlaskClient) -> None:
    for size in (MAX_BODY, 100):
        response = _chunked(client, "/v1/score", _padded(size))
        assert response.status_code == 200
        assert response.get_json()["headline"] == CAT


def test_body_of_exactly_the_limit_is_scored(client: FlaskClient) -> None:
    response = call(client, "POST", "/v1/score", data=_padded(MAX_BODY), content_type="application/json")
    assert response.status_code == 200


# --- POST /v1/score/batch -----------------------------------------------------------------

def test_batch_scores_in_input_order_with_cues_by_default(client: FlaskClient, scorer: HeadlineScorer,
                                                          sample_headlines: list[str]) -> None:
    headlines = sample_headlines[-MAX_BATCH:]
    response = call(client, "POST", "/v1/score/batch", json={"headlines": headlines})
    assert response.status_code == 200
    body = response.get_json()
    assert body["model_version"] == scorer.version
    assert body["threshold"] == scorer.threshold
    assert [r["headline"] for r in body["results"]] == [scorer.score(h).headline for h in headlines]
    assert [r["score"] for r in body["results"]] == [scorer.score(h, explain=True).score for h in headlines]
    assert all(r["cues"] for r in body["results"])


def test_batch_without_explanations_leaves_out_cues(client: FlaskClient, scorer: HeadlineScorer) -> None:
    headlines = [CAT, "Council approves budget after long debate"]
    body = call(client, "POST", "/v1/score/batch",
                json={"headlines": headlines, "explain": False}).get_json()
    assert [set(r) for r in body["results"]] == [{"headline", "score", "label"}] * 2
    assert [r["score"] for r in body["results"]] == [scorer.score(h, explain=True).score for h in headlines]
    assert [r["label"] for r in body["results"]] == [scorer.score(h, explain=True).label for h in headlines]


@pytest.mark.parametrize(("body", "code", "field"), [
    ({}, "missing_field", "headlines"),
    ({"headlines": CAT}, "wrong_type", "headlines"),
    ({"headlines": []}, "empty_batch", "headlines"),
    ({"headlines": [CAT] * (MAX_BATCH + 1)}, "batch_too_large", "headlines"),
    ({"headlines": [CAT, 7]}, "wrong_type", "headlines[1]"),
    ({"headlines": [CAT, CAT, CAT, "  \t "]}, "empty_headline", "headlines[3]"),
    ({"headlines": [CAT, "y" * (MAX_CHARS + 1)]}, "headline_too_long", "headlines[1]"),
    ({"headlines": [CAT], "explain": "no"}, "wrong_type", "explain"),
    ({"headlines": [CAT], "top": 3}, "unknown_field", "top"),
])
def test_batch_rejects_bad_fields_with_422_naming_the_field(client: FlaskClient, body: dict,
                                                            code: str, field: str) -> None:
    error_of(call(client, "POST", "/v1/score/batch", json=body), 422, code, field)


# --- GET /v1/model, /healthz, /readyz ------------------------------------------------------

def test_model_reports_the_manifest(client: FlaskClient, app: Flask) -> None:
    manifest = app.extensions[MODEL_KEY].artifact.manifest
    body = call(client, "GET", "/v1/model").get_json()
    assert body["version"] == manifest["version"]
    assert body["created_at"] == manifest["created_at"]
    assert body["threshold"] == manifest["threshold"]
    assert body["datasets"] == manifest["datasets"]
    assert body["metrics"] == manifest["metrics"]


def test_health_and_readiness(client: FlaskClient, scorer: HeadlineScorer) -> None:
    assert call(client, "GET", "/healthz").get_json() == {"status": "ok"}
    response = call(client, "GET", "/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "model_version": scorer.version}


class _BrokenScorer(HeadlineScorer):
    """A scorer whose model has gone bad: every score raises."""

    def score_text(self, text: str, explain: bool = True, top: int = 5) -> Any:
        raise RuntimeError("the model went bad")


def _install_broken_model(app: Flask) -> None:
    good: LoadedModel = app.extensions[MODEL_KEY]
    broken = _BrokenScorer(good.artifact.pipeline, good.artifact.threshold, good.version)
    install_model(app, LoadedModel(artifact=good.artifact, scorer=broken, info=good.info))


def test_readiness_fails_when_the_model_cannot_score(app: Flask, client: FlaskClient) -> None:
    _install_broken_model(app)
    error = error_of(call(client, "GET", "/readyz"), 503, "not_ready")
    assert "the model went bad" in error["message"]
    assert call(client, "GET", "/v2/health/ready").status_code == 503
    assert call(client, "GET", "/v2/models/headline-scorer/ready",
                rule="/v2/models/{model_name}/ready").get_json() == {"name": "headline-scorer",
                                                                     "ready": False}
    assert call(client, "GET", "/healthz").status_code == 200  # alive, just not ready


def test_internal_error_is_json_with_request_id_and_logged_with_traceback(
        app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]) -> None:
    _install_broken_model(app)
    capsys.readouterr()
    response = call(client, "POST", "/v1/score", json={"headline": CAT},
                    headers={"X-Request-ID": "trace-me-42"})
    error = error_of(response, 500, "internal_error")
    assert error["request_id"] == "trace-me-42"
    assert "went bad" not in json.dumps(error)  # no internals leak to the caller
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    logged = [line for line in lines if line.get("level") == "ERROR"]
    assert len(logged) == 1
    assert logged[0]["request_id"] == "trace-me-42"
    assert "Traceback" in logged[0]["traceback"] and "the model went bad" in logged[0]["traceback"]


def test_service_keeps_serving_after_every_kind_of_error(app: Flask, client: FlaskClient) -> None:
    client.post("/v1/score", data=b"{", content_type="application/json")
    client.post("/v1/score", data=b"\xff", content_type="application/json")
    client.post("/v1/score", data="x", content_type="text/plain")
    client.post("/v1/score", json={"headline": 1})
    client.get("/nowhere")
    client.delete("/v1/score")
    good = app.extensions[MODEL_KEY]
    _install_broken_model(app)
    client.post("/v1/score", json={"headline": CAT})
    install_model(app, good)
    assert client.post("/v1/score", json={"headline": CAT}).status_code == 200


# --- 404 and 405 ----------------------------------------------------------------------------

def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    error = error_of(client.get("/v1/nope"), 404, "not_found")
    assert "/v1/nope" in error["message"]


def test_wrong_method_is_json_405_with_allow(client: FlaskClient) -> None:
    response = client.get("/v1/score")
    error = error_of(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert "POST" in error["message"]


_METHODS_PROBE = """
import json, sys
from pathlib import Path
from service import create_app
from tests.test_api import settings_for
client = create_app(settings_for(Path(sys.argv[1]), feedback_db=Path(sys.argv[2]))).test_client()
options, wrong = client.options("/v1/feedback"), client.delete("/v1/feedback")
print(json.dumps([options.headers["Allow"], wrong.headers["Allow"],
                  wrong.get_json()["error"]["message"]]))
"""


@pytest.mark.parametrize("hash_seed", ["1", "2", "5"])
def test_allowed_methods_are_listed_in_one_order_whatever_the_hash_seed(
        models_root: Path, tmp_path: Path, hash_seed: str) -> None:
    # Werkzeug gathers a route's methods in a set: under these seeds its own order is
    # "HEAD, GET, OPTIONS, POST", "POST, HEAD, GET, OPTIONS" and "HEAD, POST, OPTIONS, GET".
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    shown = subprocess.run([sys.executable, "-c", _METHODS_PROBE, str(models_root),
                            str(tmp_path / "feedback.sqlite3")], env=env, cwd=PROJECT_ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert json.loads(shown.splitlines()[-1]) == [
        "GET, HEAD, OPTIONS, POST", "GET, HEAD, OPTIONS, POST",
        "/v1/feedback does not take DELETE; it takes GET, HEAD, POST"]


# --- request id and the request log --------------------------------------------------------

def test_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    forged = client.get("/healthz", headers={"X-Request-ID": "x\" injected"}).headers["X-Request-ID"]
    assert forged != "x\" injected" and len(forged) == 32
    assert len(client.get("/healthz", headers={"X-Request-ID": "a" * 129}).headers["X-Request-ID"]) == 32


def test_one_json_log_line_per_request(client: FlaskClient, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.post("/v1/score/batch", json={"headlines": [CAT, CAT, CAT]}, headers={"X-Request-ID": "r1"})
    client.post("/v1/score", json={"headline": 3}, headers={"X-Request-ID": "r2"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["request_id"] for line in lines] == ["r1", "r2"]
    first, second = lines
    assert set(first) >= {"time", "request_id", "method", "path", "status", "latency_ms", "headlines"}
    assert (first["method"], first["path"], first["status"], first["headlines"]) == \
        ("POST", "/v1/score/batch", 200, 3)
    assert (second["status"], second["headlines"]) == (422, 0)
    assert first["latency_ms"] >= 0 and first["time"].endswith("Z")


# --- /metrics --------------------------------------------------------------------------------

def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_requests_latency_headlines_and_model_version(
        client: FlaskClient, scorer: HeadlineScorer) -> None:
    for _ in range(3):
        client.post("/v1/score", json={"headline": CAT})
    client.post("/v1/score", json={})
    client.post("/v1/score/batch", json={"headlines": [CAT, CAT], "explain": False})
    client.get("/does/not/exist")
    response = call(client, "GET", "/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = _samples(response.get_data(as_text=True))

    def requests(route: str, status: str, method: str = "POST") -> float:
        key = frozenset({"method": method, "route": route, "status": status}.items())
        return samples.get(("headline_scorer_http_requests_total", key), 0.0)

    assert requests("/v1/score", "200") == 3
    assert requests("/v1/score", "422") == 1
    assert requests("/v1/score/batch", "200") == 1
    assert requests("unmatched", "404", "GET") == 1
    assert samples[("headline_scorer_headlines_scored_total", frozenset({"route": "/v1/score"}.items()))] == 3
    assert samples[("headline_scorer_headlines_scored_total",
                    frozenset({"route": "/v1/score/batch"}.items()))] == 2
    latency = frozenset({"method": "POST", "route": "/v1/score"}.items())
    assert samples[("headline_scorer_http_request_duration_seconds_count", latency)] == 4
    assert samples[("headline_scorer_model_info", frozenset({"version": scorer.version}.items()))] == 1


# --- OpenAPI and /docs ----------------------------------------------------------------------

def test_openapi_is_valid_31_and_documents_every_route(app: Flask, openapi_doc: dict[str, Any]) -> None:
    assert openapi_doc["openapi"] == "3.1.0"
    validate_openapi(openapi_doc)
    documented = {(path, method.upper()) for path, ops in openapi_doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in /openapi.json"
    assert len(documented) == sum(len(r.methods - {"HEAD", "OPTIONS"}) for r in app.url_map.iter_rules()
                                  if r.endpoint != "static")


def test_openapi_documents_every_error(openapi_doc: dict[str, Any]) -> None:
    shared = openapi_doc["components"]["responses"]
    assert {"BadRequest", "NotFound", "MethodNotAllowed", "PayloadTooLarge", "UnsupportedMediaType",
            "ValidationError", "InternalError", "NotReady"} <= set(shared)
    for path, operations in openapi_doc["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                responses = set(operation["responses"])
                # A success (200, or 201 for a route that creates a record) and every error.
                assert {"200", "201"} & responses, f"{method} {path}"
                assert {"400", "413", "415", "422", "500"} <= responses, f"{method} {path}"
    headline = openapi_doc["components"]["schemas"]["ScoreRequest"]["properties"]["headline"]
    assert "after" in headline["description"] and str(MAX_CHARS) in headline["description"]
    batch = openapi_doc["components"]["schemas"]["BatchRequest"]["properties"]["headlines"]
    assert batch["maxItems"] == MAX_BATCH


def test_docs_page_is_self_contained_and_lists_every_route(client: FlaskClient,
                                                           openapi_doc: dict[str, Any]) -> None:
    response = call(client, "GET", "/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = response.get_data(as_text=True)
    for path in openapi_doc["paths"]:
        assert f"<code>{path}</code>" in page
    for name in openapi_doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


# --- Open Inference Protocol (KServe V2) ----------------------------------------------------

INFER = "/v2/models/headline-scorer/infer"
INFER_RULE = "/v2/models/{model_name}/infer"


def _infer_body(data: list, shape: list | None = None, **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "headline", "datatype": "BYTES",
                        "shape": shape if shape is not None else [len(data)], "data": data}], **extra}


def test_v2_health_and_metadata(client: FlaskClient, scorer: HeadlineScorer) -> None:
    assert call(client, "GET", "/v2/health/live").get_json() == {"live": True}
    assert call(client, "GET", "/v2/health/ready").get_json() == {"ready": True}
    assert call(client, "GET", "/v2").get_json()["name"] == "headline-scorer"
    meta = call(client, "GET", "/v2/models/headline-scorer", rule="/v2/models/{model_name}").get_json()
    assert meta["name"] == "headline-scorer" and meta["versions"] == [scorer.version]
    assert meta["inputs"] == [{"name": "headline", "datatype": "BYTES", "shape": [-1]}]
    assert {"name": "score", "datatype": "FP32", "shape": [-1]} in meta["outputs"]
    assert call(client, "GET", "/v2/models/headline-scorer/ready",
                rule="/v2/models/{model_name}/ready").get_json() == {"name": "headline-scorer", "ready": True}


def test_v2_infer_returns_fp32_scores_in_order(client: FlaskClient, scorer: HeadlineScorer,
                                               sample_headlines: list[str]) -> None:
    headlines = sample_headlines[-MAX_BATCH:]
    response = call(client, "POST", INFER, rule=INFER_RULE, json=_infer_body(headlines, id="req-7"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["model_name"] == "headline-scorer" and body["model_version"] == scorer.version
    assert body["id"] == "req-7"
    outputs = {o["name"]: o for o in body["outputs"]}
    expected = [scorer.score(h, explain=True) for h in headlines]
    assert outputs["score"]["datatype"] == "FP32" and outputs["score"]["shape"] == [len(headlines)]
    assert outputs["score"]["data"] == np.asarray([e.score for e in expected], dtype=np.float32).tolist()
    assert outputs["label"]["data"] == [e.label for e in expected]


def test_v2_infer_accepts_n_by_1_nested_data_and_selected_outputs(client: FlaskClient,
                                                                  scorer: HeadlineScorer) -> None:
    body = _infer_body([[CAT], ["Council approves budget"]], shape=[2, 1], outputs=[{"name": "score"}])
    response = call(client, "POST", INFER, rule=INFER_RULE, json=body)
    assert response.status_code == 200
    outputs = response.get_json()["outputs"]
    assert [o["name"] for o in outputs] == ["score"]
    assert math.isclose(outputs[0]["data"][0], scorer.score(CAT, explain=True).score, rel_tol=1e-6)


def test_v2_versioned_routes_serve_only_the_current_version(client: FlaskClient,
                                                            scorer: HeadlineScorer) -> None:
    good = f"/v2/models/headline-scorer/versions/{scorer.version}/infer"
    rule = "/v2/models/{model_name}/versions/{model_version}/infer"
    assert call(client, "POST", good, rule=rule, json=_infer_body([CAT])).status_code == 200
    v2_error_of(call(client, "POST", "/v2/models/headline-scorer/versions/old/infer", rule=rule,
                  json=_infer_body([CAT])), 404, "model_not_found")


def test_v2_unknown_model_is_404(client: FlaskClient) -> None:
    v2_error_of(call(client, "POST", "/v2/models/other/infer", rule=INFER_RULE, json=_infer_body([CAT])),
                404, "model_not_found")
    v2_error_of(call(client, "GET", "/v2/models/other", rule="/v2/models/{model_name}"), 404,
                "model_not_found")


def test_v2_routing_errors_are_in_the_protocol_shape(client: FlaskClient) -> None:
    # Raised by routing, before any V2 route runs: still a string under "error".
    response = client.get("/v2/models/headline-scorer/infer")
    v2_error_of(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    v2_error_of(client.get("/v2/no/such/path"), 404, "not_found")
    assert isinstance(client.get("/v1/no/such/path").get_json()["error"], dict)  # /v1 unchanged


@pytest.mark.parametrize(("body", "code", "field"), [
    ({}, "missing_field", "inputs"),
    ({"inputs": []}, "bad_tensor", "inputs"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [1], "data": [CAT]}] * 2},
     "bad_tensor", "inputs"),
    ({"inputs": ["x"]}, "wrong_type", "inputs[0]"),
    ({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [CAT]}]},
     "bad_tensor", "inputs[0].name"),
    ({"inputs": [{"name": "headline", "datatype": "FP32", "shape": [1], "data": [1.0]}]},
     "bad_tensor", "inputs[0].datatype"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [3], "data": [CAT]}]},
     "bad_tensor", "inputs[0].data"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [1, 2], "data": [CAT, CAT]}]},
     "bad_tensor", "inputs[0].shape"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [1]}]},
     "missing_field", "inputs[0].data"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [0], "data": []}]},
     "empty_batch", "inputs[0].data"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [MAX_BATCH + 1],
                  "data": [CAT] * (MAX_BATCH + 1)}]}, "batch_too_large", "inputs[0].data"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [2], "data": [CAT, 5]}]},
     "wrong_type", "inputs[0].data[1]"),
    ({"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [2], "data": [CAT, " "]}]},
     "empty_headline", "inputs[0].data[1]"),
    ({**_infer_body([CAT]), "outputs": [{"name": "probability"}]}, "bad_tensor", "outputs[0].name"),
    ({**_infer_body([CAT]), "id": 3}, "wrong_type", "id"),
])
def test_v2_infer_rejects_bad_tensors_naming_the_field(client: FlaskClient, body: dict, code: str,
                                                       field: str) -> None:
    v2_error_of(call(client, "POST", INFER, rule=INFER_RULE, json=body), 422, code, field)


def test_v2_infer_errors_for_bodies(client: FlaskClient) -> None:
    v2_error_of(call(client, "POST", INFER, rule=INFER_RULE, data=b"\x00\x01",
                  content_type="application/octet-stream"), 415, "unsupported_media_type")
    v2_error_of(call(client, "POST", INFER, rule=INFER_RULE, data=b"{", content_type="application/json"),
             400, "malformed_json")


def test_v2_infer_reads_a_body_without_content_type_as_json(client: FlaskClient,
                                                            scorer: HeadlineScorer) -> None:
    # tritonclient sends none; a body of another declared type is still refused (above).
    response = client.post(INFER, data=json.dumps(_infer_body([CAT])))
    assert "Content-Type" not in response.request.headers
    assert response.status_code == 200, response.get_data(as_text=True)
    assert math.isclose(response.get_json()["outputs"][0]["data"][0], scorer.score(CAT, explain=True).score,
                        rel_tol=1e-6)


def test_v2_infer_accepts_the_protocols_own_fields(client: FlaskClient, scorer: HeadlineScorer) -> None:
    body = _infer_body([CAT], id="r1", model_name="headline-scorer", model_version=scorer.version,
                       parameters={"priority": 1})
    body["inputs"][0]["parameters"] = {"content_type": "str"}
    body["outputs"] = [{"name": "score", "parameters": {"binary_data": False}}]
    response = call(client, "POST", INFER, rule=INFER_RULE, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["id"] == "r1"
    v2_error_of(call(client, "POST", INFER, rule=INFER_RULE,
                     json=_infer_body([CAT], model_name="other-model")), 422, "invalid_value",
                "model_name")


def test_v2_errors_are_the_protocols_string_while_v1_keeps_its_shape(client: FlaskClient) -> None:
    v2 = call(client, "POST", INFER, rule=INFER_RULE, json=_infer_body([CAT, 5], shape=[2]))
    assert v2_error_of(v2, 422, "wrong_type", "inputs[0].data[1]")["error"].startswith(
        "inputs[0].data[1] must be")
    error_of(call(client, "POST", "/v1/score", json={"headline": 5}), 422, "wrong_type", "headline")


# --- create_app --------------------------------------------------------------------------------

def test_create_app_refuses_a_missing_model_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=str(tmp_path / "current")):
        create_app(Settings(models_root=tmp_path, model_dir=tmp_path / "current"))


def test_create_app_refuses_a_corrupt_model_naming_the_file(model_copy: Path) -> None:
    model_file = model_copy / "current" / "model.joblib"
    model_file.write_bytes(model_file.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match=r"model\.joblib.*sha256"):
        create_app(settings_for(model_copy))


def test_create_app_takes_overrides_of_the_environment(models_root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADLINE_MODELS_DIR", str(models_root))
    monkeypatch.setenv("MAX_BATCH", "7")
    app = create_app({"max_headline_chars": 9})
    settings = app.config["SETTINGS"]
    assert (settings.max_batch, settings.max_headline_chars) == (7, 9)
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_body_bytes
    with pytest.raises(ValueError, match="max_headlines"):
        create_app({"max_headlines": 9})


# --- POST /v1/suggest ----------------------------------------------------------------------------

def test_suggest_returns_calmer_rewrites_with_scores_bands_and_edits(
        client: FlaskClient, scorer: HeadlineScorer) -> None:
    shout = "SHOCKING: The Mayor DESTROYS The Budget Debate!"
    response = call(client, "POST", "/v1/suggest", json={"headline": f" {shout} "})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    original = scorer.score(shout, explain=False)
    assert (body["headline"], body["score"], body["label"]) == (shout, original.score, original.label)
    assert body["model_version"] == scorer.version and body["threshold"] == scorer.threshold
    assert 1 <= len(body["suggestions"]) <= 3
    scores = [s["score"] for s in body["suggestions"]]
    assert scores == sorted(scores) and max(scores) < original.score
    for suggestion in body["suggestions"]:
        assert suggestion["score"] == scorer.score(suggestion["headline"], explain=False).score
        assert suggestion["edits"] and all(e["rule"] for e in suggestion["edits"])


def test_suggest_for_a_plain_headline_offers_nothing(client: FlaskClient) -> None:
    body = call(client, "POST", "/v1/suggest", json={"headline": "Parliament passes the budget bill"}
                ).get_json()
    assert body["suggestions"] == [] and body["band"] in ("neutral", "borderline", "sensational")


@pytest.mark.parametrize(("body", "code", "field"), [
    ({}, "missing_field", "headline"), ({"headline": 3}, "wrong_type", "headline"),
    ({"headline": " "}, "empty_headline", "headline"),
    ({"headline": "x", "explain": True}, "unknown_field", "explain"),
])
def test_suggest_refuses_bad_requests_naming_the_field(client: FlaskClient, body: dict, code: str,
                                                       field: str) -> None:
    error_of(call(client, "POST", "/v1/suggest", json=body), 422, code, field)
