"""``/v1/feedback``: editors tell the model when it is wrong; admins list and export that.

``POST /v1/feedback`` stores ``{"headline", "label", "note"?}`` with the time (UTC), the served
model's version and the score and label that model gives the headline, computed here with
the shared scorer (so the record says what the editor disagreed with, whatever the page
showed). ``GET /v1/feedback`` lists the records (JSON, by pages) or exports them
(``?format=csv`` or ``jsonl``); it needs the bearer token of HEADLINE_ADMIN_TOKEN and does not
exist (404) when that is unset. Storage is :mod:`headline_scorer.feedback_store`; a database that cannot be
written or read answers 503 with the reason.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState

from headline_scorer.feedback_store import COLUMNS, LABELS, FeedbackStore, FeedbackUnavailable
from headline_scorer.text import normalise_text
from service.config import Settings
from service.errors import ValidationError, error_response
from service.model_holder import current_model
from service.openapi import error_example, error_responses, json_body, json_response, ref
from service.routes.admin import admin_refusal, unauthorized_response
from service.validation import headline_text, read_json_object, reject_unknown_fields, required

STORE_KEY = "headline_feedback_store"
MAX_NOTE_CHARS = 2000
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FORMATS = ("json", "csv", "jsonl")
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}

blueprint = Blueprint("feedback", __name__)


@blueprint.record_once
def _install_store(state: BlueprintSetupState) -> None:
    # One store per app; it opens a connection per operation, so it is safe to create in a
    # preloading gunicorn master and use from every worker and thread.
    app: Flask = state.app
    settings: Settings = app.config["SETTINGS"]
    app.extensions[STORE_KEY] = FeedbackStore(settings.feedback_db, settings.feedback_busy_ms)


def feedback_store() -> FeedbackStore:
    """The feedback store of the app handling this request."""
    return current_app.extensions[STORE_KEY]


@blueprint.errorhandler(FeedbackUnavailable)
def _unavailable(exc: FeedbackUnavailable) -> Response:
    response = error_response(503, "feedback_unavailable", exc.message)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@blueprint.post("/v1/feedback")
def add_feedback() -> Response:
    settings: Settings = current_app.config["SETTINGS"]
    body = read_json_object()
    reject_unknown_fields(body, ("headline", "label", "note"))
    text = headline_text(required(body, "headline", str, "a string"), "headline",
                         settings.max_headline_chars)
    label = required(body, "label", str, "a string")
    if label not in LABELS:
        raise ValidationError("invalid_label",
                              f"label must be 'sensational' or 'neutral', got {label!r}", "label")
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise ValidationError("wrong_type", "note must be a string or null", "note")
        note = normalise_text(note) or None
        if note is not None and len(note) > MAX_NOTE_CHARS:
            raise ValidationError("note_too_long", f"note has {len(note)} characters; the limit "
                                  f"is {MAX_NOTE_CHARS}", "note")
    model = current_model()
    scored = model.scorer.score_text(text, explain=False)
    g.headlines = 1
    record = feedback_store().add(text, label, note, model.version, scored.score, scored.label)
    response = jsonify(record.as_dict())
    response.status_code = 201
    return response


def _whole_number(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise ValidationError("invalid_parameter", f"{name} must be a whole number from "
                              f"{minimum} to {maximum}, got {raw!r}", name)
    return int(raw)


def _csv(records: list[dict[str, Any]]) -> str:
    # The exact stored text: this is a data export for re-import, not a report for a
    # spreadsheet, so nothing is prefixed to neutralise formulas.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
    return out.getvalue()


@blueprint.get("/v1/feedback")
def list_feedback() -> Response:
    refused = admin_refusal()
    if refused is not None:
        return refused
    unknown = sorted(set(request.args) - {"format", "limit", "after_id"})
    if unknown:
        raise ValidationError("unknown_field", f"unknown query parameter {unknown[0]!r}; expected "
                              "only after_id, format, limit", unknown[0])
    kind = request.args.get("format", "json")
    if kind not in FORMATS:
        raise ValidationError("invalid_parameter", f"format must be one of {', '.join(FORMATS)}, "
                              f"got {kind!r}", "format")
    after_id = _whole_number("after_id", 0, 0, 2**63 - 1)
    store = feedback_store()
    if kind == "json":
        limit = _whole_number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        # One record more than asked says whether there is a next page.
        records = store.records(after_id, limit + 1)
        page = records[:limit]
        return jsonify(total=store.count(), items=[r.as_dict() for r in page],
                       next_after_id=page[-1].id if len(records) > limit else None)
    if "limit" in request.args:
        raise ValidationError("unknown_field", "limit applies to the JSON list only; an export "
                              "holds every record after after_id", "limit")
    rows = [r.as_dict() for r in store.records(after_id)]
    text = _csv(rows) if kind == "csv" else "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                     for r in rows)
    response = Response(text, content_type=_MEDIA_TYPES[kind])
    response.headers["Content-Disposition"] = f'attachment; filename="feedback.{kind}"'
    return response


def openapi_fragment(settings: Settings) -> dict[str, Any]:
    """This blueprint's part of the OpenAPI document."""
    record_example = {
        "id": 42, "created_at": "2026-11-27T09:14:03.512Z",
        "headline": "You Will Not Believe What This Cat Did", "label": "neutral",
        "note": "a straight animal story", "model_version": "20261127-084526-aff22a8e",
        "model_score": 0.9444, "model_label": "sensational",
    }
    unavailable = error_example(
        "The feedback database cannot be used now: locked by another connection for longer "
        "than HEADLINE_FEEDBACK_BUSY_MS (with a Retry-After header), read-only, not creatable, "
        "not an SQLite database, or on a full disk. Nothing was stored or changed. Code: "
        "feedback_unavailable.", "feedback_unavailable",
        "the feedback database is locked by another connection (waited 5000 ms, "
        "HEADLINE_FEEDBACK_BUSY_MS); cannot store the feedback; nothing was stored")
    unavailable["headers"] = {"Retry-After": {
        "description": "Seconds to wait before trying again, when the database was locked.",
        "schema": {"type": "integer"}}}
    schemas = {
        "FeedbackRequest": {
            "type": "object",
            "required": ["headline", "label"],
            "additionalProperties": False,
            "properties": {
                "headline": {"type": "string", "minLength": 1, "description": (
                    "The headline, normalised and limited as in ScoreRequest "
                    f"(at most {settings.max_headline_chars} characters after normalisation).")},
                "label": {"type": "string", "enum": list(LABELS),
                          "description": "What the editor says the headline is (code "
                                         "invalid_label otherwise)."},
                "note": {"type": ["string", "null"], "description": (
                    f"Optional remark, whitespace collapsed, at most {MAX_NOTE_CHARS} characters "
                    "(code note_too_long).")},
            },
        },
        "FeedbackRecord": {
            "type": "object",
            "required": list(COLUMNS),
            "properties": {
                "id": {"type": "integer", "description": "Increasing record number."},
                "created_at": {"type": "string", "format": "date-time",
                               "description": "When it was stored, UTC."},
                "headline": {"type": "string", "description": "The normalised headline."},
                "label": {"type": "string", "enum": list(LABELS),
                          "description": "The editor's judgment."},
                "note": {"type": ["string", "null"]},
                "model_version": {"type": "string", "description": "The model served then."},
                "model_score": {"type": "number", "minimum": 0, "maximum": 1,
                                "description": "That model's score for the headline."},
                "model_label": {"type": "string", "enum": list(LABELS),
                                "description": "That model's label for the headline."},
            },
        },
        "FeedbackList": {
            "type": "object",
            "required": ["total", "items", "next_after_id"],
            "properties": {
                "total": {"type": "integer", "description": "Records stored in all."},
                "items": {"type": "array", "items": ref("FeedbackRecord"),
                          "description": "Oldest first, ids above after_id, at most limit."},
                "next_after_id": {"type": ["integer", "null"], "description": (
                    "Pass as after_id for the next page; null on the last page.")},
            },
        },
    }
    parameters = [
        {"name": "format", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
         "description": "json: a page of records; csv or jsonl: every record after after_id "
                        "as a download (columns " + ", ".join(COLUMNS) + ")."},
        {"name": "after_id", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "default": 0},
         "description": "Only records with a larger id (the previous page's next_after_id)."},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
         "description": "Records per page, for format=json only."},
    ]
    text = {"schema": {"type": "string"}}
    paths = {"/v1/feedback": {
        "post": {
            "tags": ["feedback"],
            "operationId": "addFeedback",
            "summary": "Tell the model it is wrong (or right) about a headline",
            "description": "Stores the judgment with the UTC time, the served model's version, "
                           "and that model's score and label for the headline.",
            "requestBody": json_body("FeedbackRequest", {
                "headline": "You Will Not Believe What This Cat Did", "label": "neutral",
                "note": "a straight animal story"}),
            "responses": {
                "201": json_response("Stored; the record, with its id.", "FeedbackRecord",
                                     record_example),
                **error_responses(400, 413, 415, 422, 500),
                "503": unavailable,
            },
        },
        "get": {
            "tags": ["feedback"],
            "operationId": "listFeedback",
            "summary": "List or export the stored feedback (admin)",
            "description": "Needs 'Authorization: Bearer <HEADLINE_ADMIN_TOKEN>'. When "
                           "HEADLINE_ADMIN_TOKEN is unset the route is hidden and answers 404.",
            "security": [{"adminToken": []}],
            "parameters": parameters,
            "responses": {
                "200": {"description": "A page of records (json) or every record (csv, jsonl).",
                        "content": {
                            "application/json": {
                                "schema": ref("FeedbackList"),
                                "example": {"total": 1, "items": [record_example],
                                            "next_after_id": None}},
                            "text/csv": text,
                            "application/x-ndjson": text}},
                "401": unauthorized_response(),
                **error_responses(404, 422, 500),
                "503": unavailable,
            },
        },
    }}
    return {
        "tags": [{"name": "feedback", "description": "Editors' judgments, stored to retrain on."}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
