"""One model across gunicorn's processes: the master reloads it, every worker follows.

The app is preloaded in the gunicorn master, which owns a :class:`ModelChannel`. On SIGHUP
(``service/gunicorn_conf.py``'s ``on_reload``, also sent by ``POST /admin/reload``) the master
loads ``models/current`` with :func:`reload_in_master`, tells the old workers to finish their
requests and stop, and publishes the outcome; gunicorn then forks fresh workers from the
master, which already serve the new model. A worker that still takes a request after the
publication (a race of microseconds) sees the generation change in
:func:`follow_published_model` (run before every request, one read of shared memory) and
switches before it answers, so once the outcome is published every response carries it.
A model that fails to load is refused: the old one keeps serving everywhere.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from headline_scorer.artifact import ModelError, load_model
from service.config import Settings
from service.model_holder import MODEL_KEY, LoadedModel, install_model

log = logging.getLogger(__name__)

FOLLOWER_KEY = "headline_model_follower"

STATUS_FILE = "model-status.json"


class ModelChannel:
    """What the gunicorn master tells its workers about the model they must serve.

    The master writes the outcome of each load (``generation``, ``ok``, ``model_version``,
    ``model_dir``, ``error``, ``time``) to a JSON file in a private directory, atomically, and
    then stores the generation in 8 bytes of memory shared with every worker (an anonymous
    shared mapping made before the workers fork). A worker compares that counter with the
    generation it acted on last before each request: a memory read, no system call. Only
    when they differ does it read the file.
    """

    def __init__(self, directory: Path, master_pid: int):
        self.status_path = Path(directory) / STATUS_FILE
        self.master_pid = master_pid
        self._shared = mmap.mmap(-1, 8)  # MAP_SHARED | MAP_ANONYMOUS: inherited by forks

    def generation(self) -> int:
        return int.from_bytes(self._shared[:8], "little")

    def read(self) -> dict[str, Any]:
        """The last published outcome (a generation counter that is torn mid-write only
        makes a reader look here once more: the file is the truth)."""
        return json.loads(self.status_path.read_text(encoding="utf-8"))

    def publish(self, model: LoadedModel, error: str | None) -> int:
        """Master only: record a load attempt (``model`` is the one now served); its generation."""
        generation = self.generation() + 1
        status = {
            "generation": generation,
            "ok": error is None,
            "model_version": model.version,
            "model_dir": str(model.artifact.directory),
            "error": error,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        partial = self.status_path.with_name(f".{STATUS_FILE}.{os.getpid()}")
        partial.write_text(json.dumps(status), encoding="utf-8")
        os.replace(partial, self.status_path)  # readers see the old file or the new, whole
        self._shared[:8] = generation.to_bytes(8, "little")
        return generation


@dataclass
class _Follower:
    """A process's view of the channel: the generation it last acted on."""

    channel: ModelChannel
    generation: int
    lock: threading.Lock  # gthread workers: one thread switches, the others wait for it


def attach_channel(app: Flask, directory: Path) -> ModelChannel:
    """Master only, before any worker forks: publish the loaded model as generation 1."""
    channel = ModelChannel(directory, os.getpid())
    generation = channel.publish(app.extensions[MODEL_KEY], None)
    app.extensions[FOLLOWER_KEY] = _Follower(channel, generation, threading.Lock())
    return channel


def model_channel(app: Flask) -> ModelChannel | None:
    """The app's channel to its gunicorn master, or None when it runs in one process."""
    follower: _Follower | None = app.extensions.get(FOLLOWER_KEY)
    return follower.channel if follower is not None else None


def reload_in_master(app: Flask, before_publishing: Callable[[], None] | None = None
                     ) -> dict[str, Any]:
    """Master only (on SIGHUP): load the configured model and publish the outcome.

    Never raises: a model that fails to load is refused, logged with the reason, and the
    model already served is published again, so waiting workers learn the outcome.
    ``before_publishing`` runs when a new model is installed in the master, before any worker
    can learn of it (gunicorn's conf stops the old workers there).
    """
    follower: _Follower = app.extensions[FOLLOWER_KEY]
    old: LoadedModel = app.extensions[MODEL_KEY]
    settings: Settings = app.config["SETTINGS"]
    try:
        new = LoadedModel.load(settings)
    except Exception as exc:  # the master must survive anything a model file does
        reason = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
        follower.generation = follower.channel.publish(old, reason)
        log.error("model reload refused; still serving the previous model", extra={"fields": {
            "error": reason, "model_version": old.version, "model_dir": str(settings.model_dir)}},
            exc_info=not isinstance(exc, ModelError))
    else:
        install_model(app, new)
        if before_publishing is not None:
            before_publishing()
        follower.generation = follower.channel.publish(new, None)
        log.info("model reloaded", extra={"fields": {
            "model_version": new.version, "previous_version": old.version,
            "model_dir": str(new.artifact.directory)}})
    return follower.channel.read()


def follow_published_model() -> None:
    """Before each request: switch to the model the master published, if this process has
    not yet (a worker forked before the reload and still answering)."""
    app = current_app
    follower: _Follower | None = app.extensions.get(FOLLOWER_KEY)
    if follower is None or follower.channel.generation() == follower.generation:
        return
    with follower.lock:
        if follower.channel.generation() == follower.generation:
            return  # another thread of this worker switched while this one waited
        try:
            status = follower.channel.read()
        except (OSError, ValueError) as exc:  # never fail a request over it: log it, once
            follower.generation = follower.channel.generation()
            log.error("cannot read the published model status", extra={"fields": {
                "error": str(exc), "path": str(follower.channel.status_path)}})
            return
        served: LoadedModel = app.extensions[MODEL_KEY]
        if status["ok"] and status["model_dir"] != str(served.artifact.directory):
            settings: Settings = app.config["SETTINGS"]
            try:
                install_model(app, LoadedModel.from_artifact(
                    load_model(Path(status["model_dir"]), settings.models_root)))
            except Exception as exc:  # keep serving; this worker is being replaced anyway
                log.error("worker could not switch to the published model", extra={"fields": {
                    "error": str(exc), "model_version": served.version}})
            else:
                log.info("worker switched to the published model", extra={"fields": {
                    "model_version": status["model_version"], "previous_version": served.version}})
        follower.generation = status["generation"]
