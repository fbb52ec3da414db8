"""Admin routes: ``POST /admin/reload``, and the bearer-token check every admin route makes.

Admin routes exist only when ``HEADLINE_ADMIN_TOKEN`` is set: without it every path under
``/admin/`` answers exactly as an unknown URL does (a 404, whatever the method), so a scan
learns nothing. With it, a request must carry ``Authorization: Bearer <token>``; anything
else gets a 401. The token is compared in constant time (``hmac.compare_digest``).

``POST /admin/reload`` serves the model ``models/current`` points at now (after
``make train``). It loads and checks that model first; one that fails (corrupt, checksum
mismatch, written by another scikit-learn) is refused with a 409 naming the reason, and the
old model keeps serving. Under gunicorn it then sends SIGHUP to the master, which loads the
model itself and replaces every worker (see ``service.reload``); the answer comes once
the master has published the outcome, and from then on every response carries the new version.
In one process (the Flask test client, ``flask run``) the model is simply installed.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
import time
from typing import Literal

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import NotFound

from headline_scorer.artifact import ModelError
from service.config import Settings
from service.contract import ReloadResponse
from service.errors import error_response
from service.model_holder import LoadedModel, current_model, install_model
from service.openapi import Reply, error_reply, operation
from service.reload import model_channel

ADMIN_PREFIX = "/admin/"
log = logging.getLogger(__name__)

blueprint = Blueprint("admin", __name__)
UNAUTHORIZED_MESSAGE = ("admin routes need the header 'Authorization: Bearer <token>' with the "
                        "token configured as HEADLINE_ADMIN_TOKEN")
#: The documented answer of :func:`admin_refusal`'s 401, for every admin route.
UNAUTHORIZED_REPLY = error_reply(
    "No 'Authorization: Bearer <token>' header, or not the token of HEADLINE_ADMIN_TOKEN. Code: "
    "unauthorized.", "unauthorized", UNAUTHORIZED_MESSAGE,
    headers={"WWW-Authenticate": "Bearer realm=\"headline-scorer admin\""})


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _as_bytes(value: str) -> bytes:
    # WSGI hands headers over as latin-1 decoded bytes; encoding back gives the bytes sent,
    # which are the token's UTF-8 bytes when the token is not ASCII.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def bearer_mismatch(token: str) -> str | None:
    """None when the request carries ``Authorization: Bearer <token>``, else why not (for the
    log). The comparison takes the same time however much of the token a guess gets right."""
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return "no bearer token"
    if hmac.compare_digest(_as_bytes(given.strip()), token.encode("utf-8")):
        return None
    return "wrong bearer token"


def admin_refusal() -> Response | None:
    """None when the request may use an admin route, otherwise the response refusing it:
    404 when no admin token is configured, 401 without the right bearer token."""
    token = _settings().admin_token
    if token is None:
        raise NotFound()
    reason = bearer_mismatch(token)
    if reason is None:
        return None
    log.warning("admin request refused", extra={"fields": {
        "path": request.path, "reason": reason, "remote_addr": request.remote_addr}})
    response = error_response(401, "unauthorized", UNAUTHORIZED_MESSAGE)
    response.headers["WWW-Authenticate"] = 'Bearer realm="headline-scorer admin"'
    return response


def _reloaded(status: Literal["reloaded", "unchanged"], model_version: str, previous_version: str
              ) -> Response:
    return jsonify(ReloadResponse(status=status, model_version=model_version,
                                  previous_version=previous_version))


def _refused(reason: str, served: str) -> Response:
    log.warning("model reload refused; still serving the previous model", extra={"fields": {
        "error": reason, "model_version": served}})
    return error_response(409, "model_refused", f"{reason}; still serving {served}")


@blueprint.post("/admin/reload")
@operation(
    operation_id="reloadModel", tag="admin", admin=True,
    summary="Serve the model models/current points at now",
    description=(
        "Loads and checks the model (manifest, scikit-learn version, sha256, a probe headline) and "
        "switches every worker process to it without dropping a request. A model that fails is "
        "refused (409) and the old one keeps serving. The answer comes when the switch is done: "
        "every request made after it gets the new model_version. SIGHUP to the gunicorn master "
        "does the same."),
    replies={
        200: Reply("The model now served.", ReloadResponse),
        401: UNAUTHORIZED_REPLY,
        404: error_reply("No HEADLINE_ADMIN_TOKEN is configured: admin routes do not exist.",
                         "not_found", "no route for /admin/reload; see /docs for the routes"),
        409: error_reply("The model cannot be served; the message names the file and the reason. The "
                         "previous model keeps serving.", "model_refused",
                         "<models>/<version>/model.joblib: sha256 ... does not match the manifest's "
                         "...; still serving <version>"),
        501: error_reply("Several processes without service/gunicorn_conf.py: reload with SIGHUP.",
                         "reload_unavailable", "send SIGHUP to the gunicorn master"),
        504: error_reply("The gunicorn master did not report the reload in time.", "reload_timeout",
                         "the gunicorn master (pid <pid>) did not report the reload within <s> s"),
    },
    errors=(500,))
def reload_model() -> Response:
    refusal = admin_refusal()
    if refusal is not None:
        return refusal
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = _settings()
    started = time.monotonic()
    served = current_model()
    try:
        candidate = LoadedModel.load(settings)
    except ModelError as exc:
        return _refused(str(exc), served.version)
    if (candidate.artifact.directory == served.artifact.directory
            and candidate.info["model_sha256"] == served.info["model_sha256"]):
        return _reloaded("unchanged", served.version, served.version)

    channel = model_channel(app)
    if channel is None:
        if request.environ.get("wsgi.multiprocess"):
            # Installing here would switch this one process of several.
            return error_response(501, "reload_unavailable",
                                  "this server runs several processes without service/gunicorn_conf.py; "
                                  "send SIGHUP to the gunicorn master to reload the model")
        install_model(app, candidate)
        log.info("model reloaded", extra={"fields": {
            "model_version": candidate.version, "previous_version": served.version,
            "model_dir": str(candidate.artifact.directory)}})
        return _reloaded("reloaded", candidate.version, served.version)

    # The master loads the model itself (this check only spares the workers a pointless
    # restart and gives the reason at once); wait until it has published the outcome, within
    # the time gunicorn allows this request before it would kill the worker.
    before = channel.generation()
    log.info("model reload requested; signalling the gunicorn master", extra={"fields": {
        "model_version": candidate.version, "master_pid": channel.master_pid}})
    del candidate  # this worker is about to be replaced; do not hold a second model meanwhile
    os.kill(channel.master_pid, signal.SIGHUP)
    deadline = started + max(1.0, 0.8 * settings.worker_timeout)
    while channel.generation() == before:
        if time.monotonic() > deadline:
            return error_response(504, "reload_timeout",
                                  f"the gunicorn master (pid {channel.master_pid}) did not report the "
                                  f"reload within {deadline - started:.0f} s; its log says why")
        time.sleep(0.02)
    outcome = channel.read()
    if not outcome["ok"]:
        return _refused(outcome["error"], outcome["model_version"])
    return _reloaded("reloaded", outcome["model_version"], served.version)


