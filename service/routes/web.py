"""The editors' web page: ``GET /`` and its assets, served by the scoring service itself.

The page (``service/templates/index.html``) is rendered with the service's limits, so it can
tell an editor that a headline is too long or a batch too big before sending it. Its script
and style sheet are plain files in ``service/static/`` served by Flask's own static route
(``/static/<file>``): no external CDN, font or library, so the page works offline. It talks
to the service only through the public API (``/v1/model``, ``/v1/score/batch``,
``/v1/feedback``) and puts every piece of text into the page as text, never as markup.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from headline_scorer.features import PHRASING_FEATURES, STYLE_FEATURES
from headline_scorer.scorer import MARKER_CUES
from service.config import Settings
from service.openapi import Reply, operation

# Cues about the whole headline rather than words in it: the model's named features and the
# start/end markers. The page shows them as chips and never looks for them in the text.
NAMED_CUES = (*STYLE_FEATURES, *PHRASING_FEATURES, *MARKER_CUES.values())

# Scripts and styles from this origin only, requests to this origin only, no inline code;
# the data: image is the page's empty favicon (so the browser asks for no /favicon.ico).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

blueprint = Blueprint("web", __name__)


@blueprint.get("/")
@operation(operation_id="getEditorsPage", tag="web", summary="The editors' web page",
           description="Paste or type headlines, one per line, and see each one's score, band, label "
                       "and cue words as you type; compare versions of one headline; send feedback; "
                       "copy or download the results as CSV. Self-contained: its script and style "
                       "sheet are served from /static by this service.",
           replies={200: Reply("An HTML page.", media=("text/html",))}, errors=(500,))
def index() -> Response:
    settings: Settings = current_app.config["SETTINGS"]
    page = render_template("index.html", max_headline_chars=settings.max_headline_chars,
                           max_batch=settings.max_batch, named_cues=NAMED_CUES)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response
