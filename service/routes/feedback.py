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

from flask import Blueprint, Flask, Response, current_app, g, jsonify
from flask.blueprints import BlueprintSetupState

from headline_scorer.feedback_store import COLUMNS, FeedbackStore, FeedbackUnavailable
from service.config import Settings
from service.contract import FeedbackList, FeedbackQuery, FeedbackRecord, FeedbackRequest
from service.errors import error_response
from service.model_holder import current_model
from service.openapi import Reply, error_reply, operation
from service.request_body import parse_body, parse_query
from service.routes.admin import UNAUTHORIZED_REPLY, admin_refusal

STORE_KEY = "headline_feedback_store"
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
UNAVAILABLE_REPLY = error_reply(
    "The feedback database cannot be used now: locked by another connection for longer than "
    "HEADLINE_FEEDBACK_BUSY_MS (with a Retry-After header), read-only, not creatable, not an "
    "SQLite database, or on a full disk. Nothing was stored or changed. Code: feedback_unavailable.",
    "feedback_unavailable",
    "the feedback database is locked by another connection (waited 5000 ms, "
    "HEADLINE_FEEDBACK_BUSY_MS); cannot store the feedback; nothing was stored",
    headers={"Retry-After": "Seconds to wait before trying again, when the database was locked."})

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
@operation(operation_id="addFeedback", tag="feedback",
           summary="Tell the model it is wrong (or right) about a headline",
           description="Stores the judgment with the UTC time, the served model's version, and that "
                       "model's score and label for the headline.",
           body=FeedbackRequest, replies={201: Reply("Stored; the record, with its id.", FeedbackRecord),
                                          503: UNAVAILABLE_REPLY},
           errors=(400, 413, 415, 422, 500))
def add_feedback() -> Response:
    body = parse_body(FeedbackRequest)
    model = current_model()
    scored = model.scorer.score_text(body.headline, explain=False)
    g.headlines = 1
    record = feedback_store().add(body.headline, body.label, body.note, model.version, scored.score,
                                  scored.label)
    response = jsonify(record.as_dict())
    response.status_code = 201
    return response


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
@operation(operation_id="listFeedback", tag="feedback", admin=True,
           summary="List or export the stored feedback (admin)",
           description="Needs 'Authorization: Bearer <HEADLINE_ADMIN_TOKEN>'. When HEADLINE_ADMIN_TOKEN "
                       "is unset the route is hidden and answers 404. format=csv or jsonl exports every "
                       "record after after_id, with the columns " + ", ".join(COLUMNS) + ".",
           query=FeedbackQuery,
           replies={200: Reply("A page of records (json) or every record (csv, jsonl).", FeedbackList,
                               media=("application/json", "text/csv", "application/x-ndjson")),
                    401: UNAUTHORIZED_REPLY, 503: UNAVAILABLE_REPLY},
           errors=(404, 422, 500))
def list_feedback() -> Response:
    refused = admin_refusal()
    if refused is not None:
        return refused
    query = parse_query(FeedbackQuery)
    store = feedback_store()
    if query.format == "json":
        # One record more than asked says whether there is a next page.
        records = store.records(query.after_id, query.limit + 1)
        page = records[:query.limit]
        return jsonify(FeedbackList(total=store.count(), items=[r.as_dict() for r in page],
                                    next_after_id=page[-1].id if len(records) > query.limit else None))
    rows = [r.as_dict() for r in store.records(query.after_id)]
    text = _csv(rows) if query.format == "csv" else "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                           for r in rows)
    response = Response(text, content_type=_MEDIA_TYPES[query.format])
    response.headers["Content-Disposition"] = f'attachment; filename="feedback.{query.format}"'
    return response
