"""``POST /v1/audit``: the headlines of a document sent in the body, found, scored and ranked.

The caller sends the document itself (an RSS or Atom feed, an HTML page or a page's text) as
the ``document`` string of a JSON body, under the body limit; the service never fetches a URL,
so it cannot be made to request anything. Headlines are found, merged and scored by the core
(``headline_scorer.extract``, ``headline_scorer.audit``), as ``headline-score audit`` does.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, g, jsonify

from headline_scorer.audit import find_headlines, score_headlines
from headline_scorer.extract import Document
from service.config import Settings
from service.contract import AuditRequest, AuditResponse
from service.errors import ValidationError
from service.model_holder import current_model
from service.openapi import Reply, operation
from service.request_body import parse_body

blueprint = Blueprint("audit", __name__)
FIELD = "document"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@blueprint.post("/v1/audit")
@operation(operation_id="auditDocument", tag="scoring",
           summary="Find and score the headlines of a page or feed",
           description=(
               "Finds the headlines of the document sent (feed item titles; a page's og:title, "
               "headings, teaser headings and headline-like link texts, navigation and boilerplate "
               "skipped; a text's headline-like lines), scores each distinct one once and ranks "
               "them. 422 with code no_headlines when none is found, unreadable_document when it "
               "cannot be read as its kind (XML that is no feed, HTML nested deeper than 512 "
               "elements), batch_too_large past MAX_BATCH distinct headlines."),
           body=AuditRequest,
           replies={200: Reply("The headlines found, most sensational first.", AuditResponse)},
           errors=(400, 413, 415, 422, 500))
def audit() -> Response:
    settings: Settings = current_app.config["SETTINGS"]
    body = parse_body(AuditRequest)
    # JSON may carry lone surrogates, which UTF-8 cannot hold: each becomes U+FFFD, as a
    # broken byte sequence in a fetched page does.
    data = _LONE_SURROGATE.sub("\ufffd", body.document).encode("utf-8")
    places, outcomes = find_headlines([Document(FIELD, data, FIELD, charset="utf-8")], body.format)
    outcome = outcomes[0]
    if outcome.error is not None:
        # Read but empty, or not readable as the kind it is: either way the document is the problem.
        code = "no_headlines" if outcome.format is not None else "unreadable_document"
        raise ValidationError(code, outcome.error, FIELD)
    if len(places) > settings.max_batch:
        raise ValidationError("batch_too_large", f"{FIELD}: holds {len(places)} distinct headlines; "
                              f"at most {settings.max_batch} are scored at once (MAX_BATCH)", FIELD)
    model = current_model()
    result = score_headlines(places, outcomes, model.scorer)
    g.headlines = len(result.headlines)
    return jsonify(AuditResponse(
        model_version=model.version, threshold=result.threshold, format=outcome.format,
        found=outcome.found,
        headlines=[{**h.scored.as_dict(), "band": h.band, "count": h.count,
                    "found_at": [o.where for o in h.occurrences]} for h in result.headlines]))
