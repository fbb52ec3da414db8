"""``/openapi.json`` and ``/docs``: the service's OpenAPI document and its HTML page.

Both are rendered once per app by :func:`service.openapi.install_openapi`; these routes only
send the bytes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from service.config import Settings
from service.openapi import OPENAPI_KEY, error_responses, json_response

DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'"

blueprint = Blueprint("docs", __name__)


@blueprint.get("/openapi.json")
def openapi_json() -> Response:
    return Response(current_app.extensions[OPENAPI_KEY].json_bytes, mimetype="application/json")


@blueprint.get("/docs")
def docs() -> Response:
    response = Response(current_app.extensions[OPENAPI_KEY].html_bytes, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


def openapi_fragment(settings: Settings) -> dict[str, Any]:
    return {
        "tags": [{"name": "operations", "description": "Health, metrics and documentation."}],
        "paths": {
            "/openapi.json": {"get": {
                "tags": ["operations"], "operationId": "getOpenApi",
                "summary": "This document",
                "responses": {"200": json_response("The OpenAPI 3.1 document.", {"type": "object"}),
                              **error_responses(500)},
            }},
            "/docs": {"get": {
                "tags": ["operations"], "operationId": "getDocs",
                "summary": "This document as a readable HTML page",
                "description": "Self-contained: no scripts and no external resources.",
                "responses": {"200": {"description": "An HTML page.",
                                      "content": {"text/html": {"schema": {"type": "string"}}}},
                              **error_responses(500)},
            }},
        },
    }
