"""Reading and checking JSON request bodies, shared by every route that takes one.

The order of checks is the contract the OpenAPI document describes: a body that is not JSON
(415), then bytes that are not UTF-8 or not JSON (400), then JSON whose content breaks the
contract (422, naming the field). The body-size limit (413, Flask's ``MAX_CONTENT_LENGTH``)
is enforced from the Content-Length before the body is read, and on a chunked body (no
Content-Length) by reading no more than one byte past the limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from headline_scorer.text import (
    EMPTY_AFTER_NORMALISING,
    RAW_CHARS_PER_CHAR,
    TextTooLong,
    normalise_bounded,
)
from service.errors import ApiError, ValidationError


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


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


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object, or the error that says why it is not one."""
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
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json",
                       f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                       ) from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (4300 digits)
        raise ApiError(400, "malformed_json", f"the body's JSON cannot be read: {exc}") from None
    if not isinstance(body, dict):
        raise ValidationError("wrong_type", f"the body must be a JSON object, got {json_type(body)}",
                              None)
    return body


def reject_unknown_fields(body: dict[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """422 for a field the contract does not have (usually a misspelt one)."""
    allowed = set(allowed)
    for name in body:
        if name not in allowed:
            raise ValidationError("unknown_field",
                                  f"unknown field {name!r}; expected only {', '.join(sorted(allowed))}",
                                  prefix + name)


def required(body: dict[str, Any], name: str, kind: type, kind_name: str, prefix: str = "") -> Any:
    """The value of a required field of the given JSON type."""
    if name not in body:
        raise ValidationError("missing_field", f"the field {name!r} is required", prefix + name)
    return expect_type(body[name], kind, kind_name, prefix + name)


def optional(body: dict[str, Any], name: str, kind: type, kind_name: str, default: Any,
             prefix: str = "") -> Any:
    """The value of an optional field of the given JSON type, or ``default`` when absent."""
    if name not in body:
        return default
    return expect_type(body[name], kind, kind_name, prefix + name)


def expect_type(value: Any, kind: type, kind_name: str, field: str) -> Any:
    # bool is an int in Python but not a number in JSON, and vice versa.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValidationError("wrong_type", f"{field} must be {kind_name}, got {json_type(value)}", field)
    return value


def headline_text(value: Any, field: str, max_chars: int) -> str:
    """A headline normalised as the scorer normalises it, checked for emptiness and length.

    The length limit counts the characters (code points) of the normalised text: that is what
    is scored, and it does not depend on how much whitespace or how many control characters a
    client happened to send. Before normalising, the raw text is held to RAW_CHARS_PER_CHAR
    times the limit, so a headline that NFKC would expand costs nothing before its refusal.
    """
    if not isinstance(value, str):
        raise ValidationError("wrong_type", f"{field} must be a string, got {json_type(value)}", field)
    try:
        text = normalise_bounded(value, max_chars)
    except TextTooLong as exc:
        limit = "MAX_HEADLINE_CHARS" if exc.normalised else f"{RAW_CHARS_PER_CHAR} x MAX_HEADLINE_CHARS"
        raise ValidationError("headline_too_long", f"{field} {exc} ({limit})", field) from None
    if not text:
        raise ValidationError("empty_headline",
                              f"{field} {EMPTY_AFTER_NORMALISING}", field)
    return text


def batch_texts(values: list[Any], what: str, field: str, max_batch: int, max_chars: int
                ) -> list[str]:
    """The headlines of a batch (``what`` names it in messages, ``field`` in errors), each
    checked by :func:`headline_text` as ``field[i]``: 422 when there are none or too many."""
    if not values:
        raise ValidationError("empty_batch", f"{what} must hold at least one headline", field)
    if len(values) > max_batch:
        raise ValidationError("batch_too_large", f"{what} holds {len(values)} headlines; the limit "
                              f"is {max_batch} (MAX_BATCH)", field)
    return [headline_text(value, f"{field}[{i}]", max_chars) for i, value in enumerate(values)]
