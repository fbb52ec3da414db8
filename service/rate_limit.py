"""Per-client rate limits (Flask-Limiter): today on ``POST /v1/feedback`` only.

A client is its address, ``request.remote_addr``, which is the proxy's X-Forwarded-For entry
only when TRUSTED_PROXIES says a proxy is in front (``werkzeug.middleware.proxy_fix``), so a
client cannot pick its own key. The limits are HEADLINE_FEEDBACK_RATE_LIMIT; their counts live
in HEADLINE_RATE_LIMIT_STORAGE (``memory://``: per worker process; ``redis://...``: shared).
A refusal is the service's JSON error, code ``rate_limited``, with Retry-After
(:mod:`service.errors`).
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded

from service.config import Settings
from service.errors import error_response
from service.routes import feedback

LIMITER_KEY = "headline_rate_limiter"


def client_address() -> str:
    """The key a client is counted under: its address, as ProxyFix left it."""
    return request.remote_addr or "unknown"


def install_rate_limits(app: Flask, settings: Settings) -> Limiter | None:
    """Limit each client's feedback posts; None when HEADLINE_FEEDBACK_RATE_LIMIT is empty.

    One Limiter per app (not one for the module), so each app keeps its own counts and storage.
    Call it after the hook that sets the request id: a refusal carries that id.
    """
    if not settings.feedback_rate_limit:
        return None
    limiter = Limiter(
        client_address, app=app, storage_uri=settings.rate_limit_storage,
        # Flask-Limiter's own headers would put a Retry-After on every answer of the route,
        # the 201s and the store's 503 (whose Retry-After is the store's) included; the 429
        # sets its own below.
        headers_enabled=False,
        # A shared storage that is down must not stop editors: count in this worker meanwhile.
        in_memory_fallback_enabled=True, key_prefix="headline-scorer")

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> Response:
        # exc.description is the limit that was hit ("30 per 1 minute").
        response = error_response(429, "rate_limited", (
            f"too many requests from this client: the limit is {exc.description}; try again "
            "after the seconds of Retry-After"))
        breached = limiter.current_limit
        wait = breached.reset_at - time.time() if breached is not None else exc.limit.limit.get_expiry()
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response

    # The feedback blueprint also holds the admin listing (GET), which its token guards: only
    # the posts are counted.
    limiter.limit(settings.feedback_rate_limit, methods=["POST"])(feedback.blueprint)
    app.extensions[LIMITER_KEY] = limiter
    return limiter
