"""The application factory: settings, model, blueprints, errors, request log and metrics.

``create_app`` loads the model once (through ``headline_scorer.artifact``) and refuses to build an app
without a working one: :class:`~headline_scorer.artifact.ModelError` names the file at fault, and under
gunicorn (preloaded) that stops start-up with that one line and a non-zero exit.

Routes live in ``service/routes/``, one module per group, each with a ``blueprint`` whose views
declare their operations (``service.openapi.operation``); :data:`ROUTES` lists them in the
order they are registered, and the OpenAPI document is generated from the registered routes.
Every per-request hook is registered here, in the order it runs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import orjson
from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from service.config import Settings
from service.cross_origin import install_cors
from service.errors import register_error_handlers
from service.log import REQUEST_ID_HEADER, configure_logging, log_request, request_id_from
from service.metrics import UNMATCHED_ROUTE, ServiceMetrics
from service.model_holder import METRICS_KEY, MODEL_KEY, LoadedModel, install_model
from service.openapi import build_document, install_openapi
from service.rate_limit import install_rate_limits
from service.reload import follow_published_model
from service.routes import admin, audit, docs, feedback, kserve, ops, score, web, widget

#: The route modules, in the order their blueprints are registered and documented.
ROUTES: tuple[ModuleType, ...] = (score, audit, feedback, web, widget, kserve, ops, admin, docs)

# Any other method is counted as "other", so odd requests cannot create new metric series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

log = logging.getLogger(__name__)


def _settings_from(config: Settings | Mapping[str, Any] | None) -> Settings:
    if isinstance(config, Settings):
        return config
    settings = Settings.from_env()
    if config:
        unknown = set(config) - {f.name for f in dataclasses.fields(Settings)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = dataclasses.replace(settings, **config)
    return settings


class FastJSONProvider(DefaultJSONProvider):
    """JSON responses by orjson: the same documents (UTF-8 text, fields in the order built,
    shortest round-trip floats), several times faster to encode than the standard library,
    which matters for a batch of a thousand results. Types orjson does not know go through
    Flask's own conversions."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=self.default).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(
            orjson.dumps(obj, default=self.default, option=orjson.OPT_APPEND_NEWLINE),
            mimetype=self.mimetype)


class ServiceFlask(Flask):
    """Flask, with the methods of an automatic OPTIONS answer's ``Allow`` header in
    alphabetical order. Werkzeug collects them in a set, so their order otherwise follows the
    process's hash seed and differs between workers and runs."""

    def make_default_options_response(self) -> Response:
        response = super().make_default_options_response()
        response.headers["Allow"] = ", ".join(sorted(response.allow))
        return response


def _register_routes(app: Flask) -> None:
    for routes in ROUTES:
        app.register_blueprint(routes.blueprint)


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document an app with these settings serves, built without loading a model."""
    app = Flask("service")
    app.config["SETTINGS"] = settings
    _register_routes(app)
    return build_document(settings, app)


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the scoring service.

    ``config`` is a :class:`Settings`, or a mapping of Settings fields that override those read
    from the environment (``{"max_batch": 10}``), or None for the environment alone.
    """
    settings = _settings_from(config)
    configure_logging(settings.log_level)

    app = ServiceFlask("service")
    app.json = FastJSONProvider(app)
    if settings.trusted_proxies:
        # Only then does request.remote_addr (logged) come from X-Forwarded-For and the scheme
        # from X-Forwarded-Proto, each from the proxies' own entries; the Host header is never
        # taken from a forwarded one.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies, x_host=0, x_port=0, x_prefix=0)
    app.config["SETTINGS"] = settings
    # Werkzeug refuses a larger body from its Content-Length before reading it, and stops a
    # chunked body at this many bytes (413 either way).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    register_error_handlers(app)

    # First of all before-request hooks (the model switch, the admin guard), so every answer,
    # a refusal by those included, carries the request id and is timed.
    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.headlines = 0  # routes that score set how many

    @app.before_request
    def redirect_by_path_only() -> Response | None:
        # Werkzeug answers "//v1//model" (and a rule's missing trailing slash) with a 308 whose
        # Location it builds from the Host header, which any client sets: redirect by path
        # instead, always to this host ("/" + path, never "//", which would name another host).
        moved = request.routing_exception
        if not isinstance(moved, RequestRedirect):
            return None
        target = urlsplit(moved.new_url)
        location = "/" + target.path.lstrip("/") + (f"?{target.query}" if target.query else "")
        return Response(status=moved.code, headers={"Location": location})

    metrics = ServiceMetrics()
    app.extensions[METRICS_KEY] = metrics
    install_model(app, LoadedModel.load(settings))
    # Under gunicorn: switch to a model the master reloaded, before answering (cheap).
    app.before_request(follow_published_model)

    @app.before_request
    def hide_admin_routes_without_a_token() -> None:
        # Before routing errors are raised, so even a GET or OPTIONS of an admin path is a 404.
        if settings.admin_token is None and request.path.startswith(admin.ADMIN_PREFIX):
            raise NotFound()

    _register_routes(app)
    # Errors under /v2 in the protocol's shape, routing's 404 and 405 included (so not a hook
    # of the kserve blueprint, which sees only the requests routed to it).
    app.after_request(kserve.protocol_error_shape)
    install_rate_limits(app, settings)
    install_openapi(app, settings)
    install_cors(app, settings)

    @app.after_request
    def page_headers(response: Response) -> Response:
        # The editors' page and its assets: no MIME sniffing, no referrer to other sites.
        if request.endpoint in ("web.index", "static"):
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.after_request
    def finish_request(response: Response) -> Response:
        seconds = time.perf_counter() - g.started
        response.headers[REQUEST_ID_HEADER] = g.request_id
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        method = request.method if request.method in _METHODS else "other"
        status = response.status_code
        headlines = g.headlines if status < 400 else 0
        metrics.observe(method, route, status, seconds, headlines)
        log_request(request.method, request.path, status, seconds * 1000.0, headlines, request.remote_addr)
        return response

    model: LoadedModel = app.extensions[MODEL_KEY]
    log.info("model loaded", extra={"fields": {
        "model_version": model.version, "model_dir": str(model.artifact.directory)}})
    return app
