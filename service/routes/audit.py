"""``POST /v1/audit``: the headlines of a document sent in the body, found, scored and ranked.

The caller sends the document itself (an RSS or Atom feed, an HTML page or a page's text) as
the ``document`` string of a JSON body, under the body limit; the service never fetches a URL,
so it cannot be made to request anything. Headlines are found, merged and scored by the core
(``headline_scorer.extract``, ``headline_scorer.audit``), as ``headline-score audit`` does.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify

from headline_scorer.audit import find_headlines, score_headlines
from headline_scorer.extract import FORMATS, Document
from service.config import Settings
from service.errors import ValidationError
from service.model_holder import current_model
from service.openapi import error_responses, json_body, json_response, ref
from service.validation import optional, read_json_object, reject_unknown_fields, required

blueprint = Blueprint("audit", __name__)
FIELD = "document"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@blueprint.post("/v1/audit")
def audit() -> Response:
    settings: Settings = current_app.config["SETTINGS"]
    body = read_json_object()
    reject_unknown_fields(body, (FIELD, "format"))
    text = required(body, FIELD, str, "a string")
    fmt = optional(body, "format", str, "a string", None)
    if fmt is not None and fmt not in FORMATS:
        raise ValidationError("invalid_format", f"format must be one of {', '.join(FORMATS)}", "format")
    # JSON may carry lone surrogates, which UTF-8 cannot hold: each becomes U+FFFD, as a
    # broken byte sequence in a fetched page does.
    data = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
    places, outcomes = find_headlines([Document(FIELD, data, FIELD, charset="utf-8")], fmt)
    outcome = outcomes[0]
    if outcome.error is not None:
        # Read but empty, or not readable as the kind it is (XML that is no feed, HTML nested
        # past what a browser builds): either way the document is the problem.
        code = "no_headlines" if outcome.format is not None else "unreadable_document"
        raise ValidationError(code, outcome.error, FIELD)
    if len(places) > settings.max_batch:
        raise ValidationError("batch_too_large", f"{FIELD}: holds {len(places)} distinct headlines; "
                              f"at most {settings.max_batch} are scored at once (MAX_BATCH)", FIELD)
    model = current_model()
    result = score_headlines(places, outcomes, model.scorer)
    g.headlines = len(result.headlines)
    return jsonify(
        model_version=model.version, threshold=result.threshold, format=outcome.format,
        found=outcome.found,
        headlines=[{**h.scored.as_dict(), "band": h.band, "count": h.count,
                    "found_at": [o.where for o in h.occurrences]} for h in result.headlines])


def openapi_fragment(settings: Settings) -> dict[str, Any]:
    """This blueprint's part of the OpenAPI document."""
    example_headline = {
        "headline": "You Won't Believe What This Dog Did At The Airport", "score": 0.8213,
        "label": "sensational", "band": "sensational", "count": 2,
        "found_at": ["main > section.top-stories > article.teaser > h3.teaser__title",
                     "aside.most-popular > ol > li > a"],
        "cues": [{"text": "addresses the reader", "weight": 3.8468},
                 {"text": "headline length (characters)", "weight": -1.3428}]}
    schemas = {
        "AuditRequest": {
            "type": "object",
            "required": [FIELD],
            "additionalProperties": False,
            "properties": {
                FIELD: {"type": "string", "description": (
                    "The document itself: an RSS or Atom feed, an HTML page or a page's text, as "
                    f"sent in the body (at most {settings.max_body_bytes} bytes of JSON, "
                    "MAX_BODY_BYTES). The service never fetches a URL.")},
                "format": {"type": "string", "enum": list(FORMATS), "description": (
                    "Read the document as this kind; by default it is detected from the content "
                    "(an XML feed or an HTML document says so in its first bytes), else text.")},
            },
        },
        "AuditedHeadline": {
            "type": "object",
            "required": ["headline", "score", "label", "band", "count", "found_at", "cues"],
            "properties": {
                "headline": {"type": "string", "description": "The normalised text that was scored."},
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "label": {"type": "string", "enum": ["sensational", "neutral"]},
                "band": {"type": "string", "enum": ["neutral", "borderline", "sensational"],
                         "description": "Borderline: odds of sensational within a factor of two "
                                        "of the threshold's, as on the editors' page."},
                "count": {"type": "integer", "minimum": 1,
                          "description": "How many times the document shows this headline."},
                "found_at": {"type": "array", "items": {"type": "string"}, "description": (
                    "Where each of those stood: a CSS selector (HTML), the item's link or id "
                    "(feeds), 'line N' (text).")},
                "cues": {"type": "array", "maxItems": 5, "items": ref("Cue")},
            },
        },
        "AuditResponse": {
            "type": "object",
            "required": ["model_version", "threshold", "format", "found", "headlines"],
            "properties": {
                "model_version": {"type": "string"},
                "threshold": {"type": "number"},
                "format": {"type": "string", "enum": list(FORMATS),
                           "description": "The kind the document was read as."},
                "found": {"type": "integer", "description": "Headlines found, duplicates included."},
                "headlines": {"type": "array", "items": ref("AuditedHeadline"),
                              "description": "Each distinct headline once, most sensational first."},
            },
        },
    }
    paths = {
        "/v1/audit": {"post": {
            "tags": ["scoring"],
            "operationId": "auditDocument",
            "summary": "Find and score the headlines of a page or feed",
            "description": (
                "Finds the headlines of the document sent (feed item titles; a page's og:title, "
                "headings, teaser headings and headline-like link texts, navigation and "
                "boilerplate skipped; a text's headline-like lines), scores each distinct one "
                "once and ranks them. 422 'no_headlines' when none is found, "
                "'unreadable_document' when it cannot be read as its kind, 'batch_too_large' "
                f"past {settings.max_batch} distinct headlines (MAX_BATCH)."),
            "requestBody": json_body("AuditRequest", {
                FIELD: "<html><body><main><h2>You Won't Believe What This Dog Did At The Airport"
                       "</h2></main></body></html>"}),
            "responses": {
                "200": json_response("The headlines found, most sensational first.", "AuditResponse", {
                    "model_version": "20261206-000831-3bde7a42", "threshold": 0.329,
                    "format": "html", "found": 2, "headlines": [example_headline]}),
                **error_responses(400, 413, 415, 422, 500),
            },
        }},
    }
    return {"paths": paths, "components": {"schemas": schemas}}
