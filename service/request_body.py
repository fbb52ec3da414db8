"""Reading a request's JSON body or query into its contract model.

The order of checks is the contract the OpenAPI document describes: a body that is not JSON
(415), then bytes that are not UTF-8 or not JSON (400), then JSON whose content breaks the
contract (422, naming the field; see :func:`service.contract.validate`). The body-size limit
(413, Flask's ``MAX_CONTENT_LENGTH``) is enforced from the Content-Length before the body is
read, and on a chunked body (no Content-Length) by reading no more than one byte past the limit.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from service.contract import Contract, validate
from service.errors import ApiError

M = TypeVar("M", bound=Contract)


def _read_body() -> bytes:
    """The body, refusing one over ``MAX_CONTENT_LENGTH`` with a 413 whether or not it has a
    Content-Length."""
    limit = request.max_content_length
    if limit is None or request.content_length is not None:
        return request.get_data(cache=False)  # Werkzeug refuses too large a Content-Length
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # no length and a server that does not end the stream: nothing safe to read
    # A chunked body: Werkzeug would silently cut it at the limit, so read one byte past it
    # from the server's (terminated) stream to tell a body of the limit from a longer one.
    stream = request.environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(1 << 16, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)


def read_json() -> Any:
    """The request body as decoded JSON, or the error that says why it is not JSON."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "the body must be JSON, sent with Content-Type: application/json")
    raw = _read_body()
    try:
        # RFC 8259: JSON text is UTF-8; a leading byte order mark is tolerated.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_utf8",
                       f"the body is not valid UTF-8 (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise ApiError(400, "malformed_json", "the body is empty; expected a JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json",
                       f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                       ) from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (4300 digits)
        raise ApiError(400, "malformed_json", f"the body's JSON cannot be read: {exc}") from None


def parse_body(model: type[M]) -> M:
    """The request's JSON body as ``model``, validated with the app's limits."""
    return validate(model, read_json(), current_app.config["SETTINGS"])


def parse_query(model: type[M]) -> M:
    """The request's query parameters (the first value of each) as ``model``."""
    return validate(model, request.args.to_dict(), current_app.config["SETTINGS"], where="query")
