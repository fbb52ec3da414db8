"""gunicorn settings of the naive baseline: the service's own settings, without its hooks.

    gunicorn --config benchmarks/naive_gunicorn_conf.py 'benchmarks.naive_app:app'

Bind address, workers, threads and timeouts come from ``service.config.Settings`` exactly as in
``service/gunicorn_conf.py``, and the app is preloaded in the master the same way; the
service's hooks (metrics directory, model reloading, signal handling) belong to the service
and are left out.
"""

from __future__ import annotations

from service.config import Settings

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
proc_name = "headline-naive-baseline"
control_socket_disable = True
