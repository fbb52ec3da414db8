"""``GET /widget.js``: the script a CMS page includes to score its headline fields as they are typed.

The script is a plain file (``service/static/widget.js``, no build step) that makes no request
but ``POST /v1/score`` to the service that served it; a page of another origin needs that
origin in HEADLINE_CORS_ORIGINS (``service.cross_origin``). Served with a short cache life, so
a new release reaches editors' browsers within minutes, and with
``Cross-Origin-Resource-Policy: cross-origin``, so pages that isolate themselves (COEP) can
still load it.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

from service.openapi import Reply, operation

WIDGET_FILE = "widget.js"
CACHE_SECONDS = 300

blueprint = Blueprint("widget", __name__)


@blueprint.get("/widget.js")
@operation(operation_id="getWidget", tag="web",
           summary="The embeddable widget for a CMS page's headline fields",
           description="Include it with <script src=\".../widget.js\" defer></script> and mark each "
                       "headline <input> or <textarea> with data-headline-scorer (or name them with "
                       "the script's data-selector attribute): each gets the live score, band and cue "
                       "marks as the editor types. The page's origin must be in "
                       "HEADLINE_CORS_ORIGINS.",
           replies={200: Reply("A JavaScript file.", media=("text/javascript",))}, errors=(500,))
def widget_script() -> Response:
    response = send_from_directory(current_app.static_folder, WIDGET_FILE, max_age=CACHE_SECONDS,
                                   mimetype="text/javascript")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
