"""Routes for operating the service: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` says only that the process answers (a liveness probe: restart me if not);
``/readyz`` says the model is loaded and scores a probe headline (a readiness probe: send me
traffic). ``/metrics`` is the Prometheus scrape of all worker processes.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from service.contract import Health, Readiness
from service.errors import error_response
from service.model_holder import METRICS_KEY, current_model
from service.openapi import Reply, operation

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
@operation(operation_id="healthz", tag="operations", summary="Liveness: the process answers",
           replies={200: Reply("Alive.", Health, example={"status": "ok"})})
def healthz() -> Response:
    return jsonify(Health(status="ok"))


@blueprint.get("/readyz")
@operation(operation_id="readyz", tag="operations",
           summary="Readiness: the model is loaded and scores a probe headline",
           replies={200: Reply("Ready to score.", Readiness)}, errors=(503,))
def readyz() -> Response:
    model = current_model()  # once: the version reported is the one probed
    problem = model.probe()
    if problem:
        return error_response(503, "not_ready", problem)
    return jsonify(Readiness(status="ready", model_version=model.version))


@blueprint.get("/metrics")
@operation(operation_id="metrics", tag="operations",
           summary="Prometheus metrics of all worker processes",
           description="headline_scorer_http_requests_total{method,route,status}, "
                       "headline_scorer_http_request_duration_seconds{method,route} (histogram), "
                       "headline_scorer_headlines_scored_total{route}, "
                       "headline_scorer_model_info{version}.",
           replies={200: Reply("Prometheus text exposition format 0.0.4.", media=("text/plain",))})
def metrics() -> Response:
    registry = current_app.extensions[METRICS_KEY]
    return Response(registry.render(), content_type=registry.content_type)
