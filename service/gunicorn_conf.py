"""gunicorn configuration of the scoring service (``make serve``).

    gunicorn --config service/gunicorn_conf.py 'service:create_app()'

Everything comes from ``service.config.Settings`` (HOST, PORT, WORKERS, THREADS,
GRACEFUL_TIMEOUT, WORKER_TIMEOUT, LOG_LEVEL). The app is preloaded in the master, so the model
is loaded and checked once before any worker starts (a bad model stops start-up with one line
naming the file) and the workers share its memory. gunicorn's access log is off: the app writes
its own JSON line per request. SIGTERM or Ctrl-C (SIGINT, which gunicorn alone would treat as
a quick shutdown) stops gracefully: workers finish the requests they have within
GRACEFUL_TIMEOUT seconds.

Model reload: SIGHUP to the master (or ``POST /admin/reload``, which sends it) makes the master
load ``models/current`` before gunicorn forks fresh workers from it and stops the old ones
gracefully; a model that fails to load is refused and the old one kept. The master publishes
each outcome through a ``service.reload.ModelChannel`` (a private directory, removed at
exit, and memory shared with the workers), so a worker still answering meanwhile switches too.

Prometheus multiprocess mode: prometheus-client picks its storage when it is first imported,
so this file sets ``PROMETHEUS_MULTIPROC_DIR`` before gunicorn imports the app. Without one
from the environment it makes a private temporary directory and removes it at exit; a given
directory is emptied of the previous run's files at start. ``child_exit`` tells the library
that a worker has died, so its live gauges stop counting.
"""

from __future__ import annotations

import atexit
import gc
import glob
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
# The pid of the gunicorn master that prepared the metrics directory, and whether it made it.
_OWNER = "HEADLINE_SCORER_METRICS_OWNER"
_PRIVATE = "HEADLINE_SCORER_METRICS_PRIVATE"


def _prepare_metrics_dir() -> None:
    me = str(os.getpid())
    if os.environ.get(_OWNER) == me:
        return  # gunicorn re-reads this file on SIGHUP; the directory is in use by this server
    given = os.environ.get(_MULTIPROC)
    if given and not os.environ.get(_PRIVATE):
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in glob.glob(os.path.join(given, "*.db")):
            os.remove(stale)
    else:
        # No directory given, or one inherited from another master's private one: make our own.
        os.environ[_MULTIPROC] = tempfile.mkdtemp(prefix="headline-scorer-metrics-")
        os.environ[_PRIVATE] = "1"
        # atexit, not gunicorn's on_exit: it also runs when the app fails to load (bad model).
        atexit.register(_remove_private_dir, os.environ[_MULTIPROC], me)
    os.environ[_OWNER] = me


def _remove_private_dir(path: str, owner: str) -> None:
    # Forked workers inherit this handler; only the master that made the directory removes it.
    if str(os.getpid()) == owner:
        shutil.rmtree(path, ignore_errors=True)


_prepare_metrics_dir()
# Only now: importing the service imports prometheus-client, which picks its storage then.
from service.config import Settings  # noqa: E402
from service.reload import attach_channel, reload_in_master  # noqa: E402

_settings = Settings.from_env()

_host = f"[{_settings.host}]" if ":" in _settings.host else _settings.host
bind = [f"{_host}:{_settings.port}"]
workers = _settings.workers
threads = _settings.threads
preload_app = True
graceful_timeout = _settings.graceful_timeout
timeout = _settings.worker_timeout
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "headline-scorer"
# gunicorn 24+ opens a control socket at one fixed path per user; two servers on one machine
# (a developer's and the tests') would fight over it, and nothing here uses it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    # gunicorn treats SIGINT (Ctrl-C) as a quick shutdown that drops the requests in flight;
    # this service stops gracefully on Ctrl-C too, exactly as on SIGTERM.
    server.handle_int = server.handle_term
    # The preloaded app, before any worker forks: every worker inherits its channel.
    directory = tempfile.mkdtemp(prefix="headline-scorer-model-")
    atexit.register(_remove_private_dir, directory, str(os.getpid()))
    attach_channel(server.app.wsgi(), Path(directory))


def on_reload(server: Any) -> None:
    # SIGHUP: gunicorn is about to fork every worker anew from the master's preloaded app, so
    # the master loads the new model first (or refuses it and keeps the old one).
    def stop_old_workers() -> None:
        # Before the new model is published: the workers holding the old one stop accepting
        # and finish what they have, so a request sent after the reload reaches a fresh worker
        # (new connections wait in the listen queue, a fork away) rather than an old one that
        # would have to load the model too. (gunicorn signals them again once it has forked the
        # new workers: harmless, they finish their request either way.)
        for pid in list(server.WORKERS):
            server.kill_worker(pid, signal.SIGTERM)

    reload_in_master(server.app.wsgi(), before_publishing=stop_old_workers)


def pre_fork(server: Any, worker: Any) -> None:
    # The preloaded model is hundreds of thousands of long-lived objects. Frozen, the workers'
    # garbage collector never walks them (less time per collection) and never writes to their
    # pages (they stay shared with the master instead of being copied into every worker).
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    # A terminal's Ctrl-C reaches the workers too: finish the current request, then exit.
    signal.signal(signal.SIGINT, worker.handle_exit)
    signal.siginterrupt(signal.SIGINT, False)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
