"""``/openapi.json`` and ``/docs``: the service's OpenAPI document and its HTML page.

Both are rendered once per app by :func:`service.openapi.install_openapi`; these routes only
send the bytes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from service.openapi import OPENAPI_KEY, Reply, operation

DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'"

blueprint = Blueprint("docs", __name__)


@blueprint.get("/openapi.json")
@operation(operation_id="getOpenApi", tag="operations", summary="This document",
           replies={200: Reply("The OpenAPI 3.1 document.", dict[str, Any])}, errors=(500,))
def openapi_json() -> Response:
    return Response(current_app.extensions[OPENAPI_KEY].json_bytes, mimetype="application/json")


@blueprint.get("/docs")
@operation(operation_id="getDocs", tag="operations", summary="This document as a readable HTML page",
           description="Self-contained: no scripts and no external resources.",
           replies={200: Reply("An HTML page.", media=("text/html",))}, errors=(500,))
def docs() -> Response:
    response = Response(current_app.extensions[OPENAPI_KEY].html_bytes, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response
