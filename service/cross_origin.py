"""Pages of other origins calling the public API: CORS, configured by HEADLINE_CORS_ORIGINS.

A CMS page on another origin calls the scoring and feedback routes from the browser (directly
or through ``/widget.js``) only when its origin is named in ``HEADLINE_CORS_ORIGINS``;
Flask-Cors answers the preflight and adds the ``Access-Control-*`` headers. With no origin
named, the extension is not installed and the service answers exactly as before.

What a page of another origin can never do: reach the admin routes (``/admin/*`` is outside
every CORS resource), or send the admin token to ``GET /v1/feedback`` (the preflight allows
only POST there and no ``Authorization`` header), and no request carries cookies
(credentials are not allowed), so CORS opens nothing but the public scoring calls.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from service.config import Settings

#: Paths a page of an allowed origin may call, with the methods it may use on each (plain
#: strings, which Flask-Cors compares with the whole request path).
CORS_ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/score": ("POST",),
    "/v1/score/batch": ("POST",),
    "/v1/suggest": ("POST",),
    "/v1/model": ("GET",),
    "/v1/feedback": ("POST",),
}
# What a browser may send besides the CORS-safelisted headers, and what its script may read.
ALLOWED_HEADERS = ("Content-Type", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After")
# Seconds a browser may reuse a preflight's answer.
PREFLIGHT_MAX_AGE = 600


def install_cors(app: Flask, settings: Settings) -> None:
    """Answer CORS requests from ``settings.cors_origins``; nothing at all when there are none."""
    if not settings.cors_origins:
        return
    resources = {path: {"methods": [*methods, "OPTIONS"]} for path, methods in CORS_ROUTES.items()}
    CORS(app, resources=resources, origins=list(settings.cors_origins),
         allow_headers=list(ALLOWED_HEADERS), expose_headers=list(EXPOSED_HEADERS),
         supports_credentials=False, max_age=PREFLIGHT_MAX_AGE, vary_header=True)

