"""``/v1/feedback``: editors tell the model when it is wrong; admins list and export that.

``POST /v1/feedback`` stores ``{"headline", "label", "note"?}`` with the time (UTC), the served
model's version and the score and label that model gives the headline, computed here with
the shared scorer (so the record says what the editor disagreed with, whatever the page
showed). ``GET /v1/feedback`` lists the records (JSON, by pages) or exports them
(``?format=csv``, ``csv-raw`` or ``jsonl``, streamed
a page of records at a time; ``csv`` neutralises spreadsheet formulas, ``csv-raw`` is the
stored text exactly); it needs the bearer token of HEADLINE_ADMIN_TOKEN and does not
exist (404) when that is unset. Storage is :mod:`headline_scorer.feedback_store`; a database that cannot be
written or read answers 503 with the reason.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import astuple

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState

from headline_scorer.feedback_store import (
    COLUMNS,
    FeedbackStore,
    FeedbackUnavailable,
    open_feedback_store,
)
from headline_scorer.feedback_store import FeedbackRecord as StoredRecord
from service.config import Settings
from service.contract import FeedbackList, FeedbackQuery, FeedbackRecord, FeedbackRequest
from service.errors import error_response
from service.model_holder import current_model
from service.openapi import Reply, error_reply, operation
from service.request_body import parse_body, parse_query
from service.routes.admin import UNAUTHORIZED_REPLY, admin_refusal, bearer_mismatch

log = logging.getLogger(__name__)

STORE_KEY = "headline_feedback_store"
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "csv-raw": "text/csv; charset=utf-8",
                "jsonl": "application/x-ndjson; charset=utf-8"}
UNAVAILABLE_REPLY = error_reply(
    "The feedback database cannot be used now: locked by another connection for longer than "
    "HEADLINE_FEEDBACK_BUSY_MS (with a Retry-After header), read-only, not creatable, not an "
    "SQLite database, or on a full disk; or the PostgreSQL database of HEADLINE_FEEDBACK_URL is "
    "down or restarting (Retry-After: 1). Nothing was stored or changed. Code: "
    "feedback_unavailable.",
    "feedback_unavailable",
    "the feedback database is locked by another connection (waited 5000 ms, "
    "HEADLINE_FEEDBACK_BUSY_MS); cannot store the feedback; nothing was stored",
    headers={"Retry-After": "Seconds to wait before trying again, when waiting may help."})

RATE_LIMITED_REPLY = error_reply(
    "This client (its address) has posted more feedback than HEADLINE_FEEDBACK_RATE_LIMIT allows "
    "(30 a minute and 500 a day by default). Nothing was stored. Code: rate_limited.",
    "rate_limited",
    "too many requests from this client: the limit is 30 per 1 minute; try again after the "
    "seconds of Retry-After",
    headers={"Retry-After": "Seconds until the limit lets this client post again."})

FEEDBACK_UNAUTHORIZED_MESSAGE = ("posting feedback needs the header 'Authorization: Bearer <token>' "
                                 "with the token configured as HEADLINE_FEEDBACK_TOKEN")
FEEDBACK_UNAUTHORIZED_REPLY = error_reply(
    "HEADLINE_FEEDBACK_TOKEN is set and the request has no 'Authorization: Bearer <token>' "
    "header with it. Nothing was stored. Code: unauthorized.", "unauthorized",
    FEEDBACK_UNAUTHORIZED_MESSAGE,
    headers={"WWW-Authenticate": "Bearer realm=\"headline-scorer feedback\""})

blueprint = Blueprint("feedback", __name__)


@blueprint.record_once
def _install_store(state: BlueprintSetupState) -> None:
    # One store per app; it opens a connection per operation, so it is safe to create in a
    # preloading gunicorn master and use from every worker and thread.
    app: Flask = state.app
    settings: Settings = app.config["SETTINGS"]
    app.extensions[STORE_KEY] = open_feedback_store(settings.feedback_db, settings.feedback_url,
                                                    settings.feedback_busy_ms,
                                                    settings.client_id_key)


def _feedback_refusal() -> Response | None:
    """None when the request may post feedback, else the 401 refusing it.

    Checked before the body is read, so an unknown tool costs no parsing or scoring.
    """
    token = current_app.config["SETTINGS"].feedback_token
    if token is None:
        return None
    reason = bearer_mismatch(token)
    if reason is None:
        return None
    log.warning("feedback refused", extra={"fields": {"reason": reason,
                                                      "remote_addr": request.remote_addr}})
    response = error_response(401, "unauthorized", FEEDBACK_UNAUTHORIZED_MESSAGE)
    response.headers["WWW-Authenticate"] = 'Bearer realm="headline-scorer feedback"'
    return response


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
                       "model's score and label for the headline, a pseudonym of the client's address "
                       "(client_id: the same client, the same id; never the address) "
                       "and the request's X-Request-ID (request_id).",
           body=FeedbackRequest, replies={201: Reply("Stored; the record, with its id.", FeedbackRecord),
                                          401: FEEDBACK_UNAUTHORIZED_REPLY, 429: RATE_LIMITED_REPLY,
                                          503: UNAVAILABLE_REPLY},
           feedback_token=True,
           errors=(400, 413, 415, 422, 500))
def add_feedback() -> Response:
    refused = _feedback_refusal()
    if refused is not None:
        return refused
    body = parse_body(FeedbackRequest)
    model = current_model()
    scored = model.scorer.score_text(body.headline, explain=False)
    g.headlines = 1
    # The client is the one its rate limit counts (service.rate_limit): its address, stored
    # only as a keyed pseudonym.
    record = feedback_store().add(body.headline, body.label, body.note, model.version, scored.score,
                                  scored.label, client_address=request.remote_addr,
                                  request_id=g.request_id)
    response = jsonify(record.as_dict())
    response.status_code = 201
    return response


# A cell starting with one of these is a formula (or a DDE command) to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` with a leading single quote when a spreadsheet would run it as a formula.

    OWASP's advice for CSV injection: the quote makes ``=HYPERLINK(...)`` or
    ``=cmd|' /C calc'!A0`` plain text when the export is opened, at the cost of one
    character that ``format=csv-raw`` leaves out.
    """
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _csv_lines(records: Iterable[StoredRecord], safe: bool) -> Iterator[str]:
    """The header line, then one CSV line per record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        # One reused buffer, emptied after each line: memory is one line, not the export.
        writer.writerow([spreadsheet_safe(c) for c in cells] if safe else list(cells))
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    yield line(COLUMNS)
    for record in records:
        yield line("" if v is None else str(v) for v in astuple(record))


def _jsonl_lines(records: Iterable[StoredRecord]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record.as_dict(), ensure_ascii=False) + "\n"


def _export(store: FeedbackStore, after_id: int, export_format: str) -> Iterator[str]:
    """The export's text, a piece at a time, read from the store a page at a time.

    The first page is read before the response starts, so a database that cannot be read
    is still a 503; a failure later, once the status is sent, ends the download early
    (logged by the store), which a client sees as a truncated file.
    """
    records = store.iter_records(after_id)
    first = list(itertools.islice(records, 1))
    rows = itertools.chain(first, records)
    if export_format == "jsonl":
        return _jsonl_lines(rows)
    return _csv_lines(rows, safe=export_format == "csv")


@blueprint.get("/v1/feedback")
@operation(operation_id="listFeedback", tag="feedback", admin=True,
           summary="List or export the stored feedback (admin)",
           description="Needs 'Authorization: Bearer <HEADLINE_ADMIN_TOKEN>'. When HEADLINE_ADMIN_TOKEN "
                       "is unset the route is hidden and answers 404. format=csv, csv-raw or jsonl exports "
                       "every record after after_id, streamed, with the columns "
                       + ", ".join(COLUMNS) + ". csv prefixes a single quote to cells starting "
                       "with = + - @, tab or carriage return, so a spreadsheet shows them as text; "
                       "csv-raw is the stored text exactly, for machines.",
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
    # A generator body: werkzeug sends each piece as it comes, so a worker holds one page of
    # records, not the whole export.
    response = Response(_export(store, query.after_id, query.format),
                        content_type=_MEDIA_TYPES[query.format])
    extension = "jsonl" if query.format == "jsonl" else "csv"
    response.headers["Content-Disposition"] = f'attachment; filename="feedback.{extension}"'
    return response
