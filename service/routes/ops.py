"""Routes for operating the service: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` says only that the process answers (a liveness probe: restart me if not);
``/readyz`` says the model is loaded and scores a probe headline (a readiness probe: send me
traffic). ``/metrics`` is the Prometheus scrape of all worker processes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from service.config import Settings
from service.errors import error_response
from service.model_holder import METRICS_KEY, current_model
from service.openapi import error_responses, json_response

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> Response:
    model = current_model()  # once: the version reported is the one probed
    problem = model.probe()
    if problem:
        return error_response(503, "not_ready", problem)
    return jsonify(status="ready", model_version=model.version)


@blueprint.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions[METRICS_KEY]
    return Response(registry.render(), content_type=registry.content_type)


def openapi_fragment(settings: Settings) -> dict[str, Any]:
    status_schema: dict[str, Any] = {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    }
    ready_schema: dict[str, Any] = {
        "type": "object", "required": ["status", "model_version"],
        "properties": {"status": {"type": "string", "enum": ["ready"]},
                       "model_version": {"type": "string"}},
    }
    return {
        "paths": {
            "/healthz": {"get": {
                "tags": ["operations"], "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "responses": {"200": json_response("Alive.", status_schema, {"status": "ok"})},
            }},
            "/readyz": {"get": {
                "tags": ["operations"], "operationId": "readyz",
                "summary": "Readiness: the model is loaded and scores a probe headline",
                "responses": {
                    "200": json_response("Ready to score.", ready_schema, {
                        "status": "ready", "model_version": "20261127-084526-aff22a8e"}),
                    **error_responses(503),
                },
            }},
            "/metrics": {"get": {
                "tags": ["operations"], "operationId": "metrics",
                "summary": "Prometheus metrics of all worker processes",
                "description": (
                    "headline_scorer_http_requests_total{method,route,status}, "
                    "headline_scorer_http_request_duration_seconds{method,route} (histogram), "
                    "headline_scorer_headlines_scored_total{route}, "
                    "headline_scorer_model_info{version}."
                ),
                "responses": {"200": {
                    "description": "Prometheus text exposition format 0.0.4.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }},
            }},
        },
    }
