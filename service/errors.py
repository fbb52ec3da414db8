"""Every error the service returns, in one shape and one place.

Any failure, from a route, from request parsing, from routing (404, 405) or from a bug, becomes
``{"error": {"code", "message", "field", "request_id"}}`` with the right status, never an HTML
page or a traceback. ``field`` names the offending request field (``"headline"``,
``"headlines[3]"``, ``"inputs[0].data[2]"``) or is null. Bugs are logged with their traceback
and answered with a 500 that carries the request id, so the log line can be found.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Codes for the HTTP errors that Werkzeug raises itself (routing, body size limit).
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A request the service refuses: HTTP status, machine-readable code, message, field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class ValidationError(ApiError):
    """A well-formed JSON request whose content breaks the contract (422)."""

    def __init__(self, code: str, message: str, field: str | None):
        super().__init__(422, code, message, field)


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    response = jsonify(error={
        "code": code,
        "message": message,
        "field": field,
        "request_id": g.get("request_id"),
    })
    response.status_code = status
    return response


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.field)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        message = f"no route for {request.path}; see /docs for the routes"
    elif status == 405:
        # Werkzeug collects the methods in a set: sorted, so the message and the Allow header
        # read the same in every worker and run whatever the hash seed.
        exc.valid_methods = sorted(getattr(exc, "valid_methods", None) or [])
        allowed = ", ".join(m for m in exc.valid_methods if m != "OPTIONS")
        message = f"{request.path} does not take {request.method}; it takes {allowed}"
    elif status == 413:
        message = ("the request body is larger than the service accepts "
                   f"({current_app.config['MAX_CONTENT_LENGTH']} bytes, MAX_BODY_BYTES)")
    else:
        message = exc.description or exc.name
    response = error_response(status, _HTTP_CODES.get(status, exc.name.lower().replace(" ", "_")),
                              message)
    # Keep the headers the error carries (Allow on a 405), but not its HTML content type.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected_error(exc: Exception) -> Response:
    log.exception("unhandled %s on %s %s", type(exc).__name__, request.method, request.path)
    return error_response(500, "internal_error",
                          "the service failed on this request; quote the request_id when reporting it")


def register_error_handlers(app: Flask) -> None:
    """Answer every error of ``app`` as JSON."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
