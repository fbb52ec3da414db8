"""Configuration, read from environment variables in this one place.

Every setting has a default that works on a laptop; README lists them all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

from headline_scorer.paths import DEFAULT_FEEDBACK_DB, DEFAULT_MODELS_ROOT, Paths


def _int(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"configuration error: {name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SystemExit(f"configuration error: {name}={value} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise SystemExit(f"configuration error: {name}={value} must be at most {maximum}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise SystemExit(f"configuration error: LOG_LEVEL={raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


# scheme://host[:port], as a browser sends it in the Origin header: no path, query or "*".
_ORIGIN = re.compile(r"^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$", re.IGNORECASE)


def _origins(name: str) -> tuple[str, ...]:
    """A comma-separated list of web origins; empty or unset is none."""
    origins = []
    for raw in os.environ.get(name, "").split(","):
        origin = raw.strip().rstrip("/")
        if not origin:
            continue
        if not _ORIGIN.match(origin):
            raise SystemExit(f"configuration error: {name} holds {raw.strip()!r}, which is not an "
                             "origin such as https://cms.example.org or http://localhost:3000 "
                             "(scheme, host and port only; each origin named, no '*')")
        origins.append(origin.lower())
    return tuple(origins)


def _feedback_url(url: str | None) -> str | None:
    if url is not None and urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise SystemExit("configuration error: HEADLINE_FEEDBACK_URL must be a postgresql://... "
                         "URL (unset it to keep feedback in the SQLite file of HEADLINE_FEEDBACK_DB)")
    return url


def _rate_limit(raw: str) -> str:
    """A limit string that Flask-Limiter can read, or a configuration error naming it."""
    text = raw.strip()
    if text:
        try:
            parse_many(text)
        except ValueError as exc:
            raise SystemExit(f"configuration error: HEADLINE_FEEDBACK_RATE_LIMIT={raw!r} is not a "
                             "rate limit such as '30/minute;500/day' (empty for none): "
                             f"{exc}") from None
    return text


@dataclass(frozen=True)
class Settings:
    """What the service, the CLI and batch jobs read from the environment."""

    models_root: Path = DEFAULT_MODELS_ROOT
    model_dir: Path = DEFAULT_MODELS_ROOT / "current"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = os.cpu_count() or 1
    max_headline_chars: int = 1000
    max_batch: int = 1000
    max_body_bytes: int = 1 << 20
    log_level: str = "INFO"
    # gunicorn: seconds a worker gets to finish its requests after SIGTERM, and seconds of
    # silence before a stuck worker is killed and replaced.
    graceful_timeout: int = 30
    worker_timeout: int = 30
    # Threads per gunicorn worker; above 1 gunicorn uses its gthread worker.
    threads: int = 1
    # Editors' feedback (POST /v1/feedback): an SQLite file, and how long a write waits for
    # another writer's lock before the request gets a 503.
    feedback_db: Path = DEFAULT_FEEDBACK_DB
    feedback_busy_ms: int = 5000
    # PostgreSQL instead of the SQLite file, shared by every replica (postgresql://...).
    feedback_url: str | None = None
    # Bearer token for the admin routes (GET /v1/feedback); None hides them (404).
    admin_token: str | None = None
    # Bearer token POST /v1/feedback needs, for deployments where only known tools may write
    # feedback; None (unset or blank) leaves it open to any client, within the rate limits.
    feedback_token: str | None = None
    # Key of the pseudonyms stored as each judgment's client_id instead of the client's
    # address (HMAC-SHA256). None: the key the feedback database made for itself, which every
    # replica sharing the database reads; a key set here stays out of the database, so a copy
    # of the database alone cannot be searched for an address.
    client_id_key: str | None = None
    # Limits on POST /v1/feedback per client address, in Flask-Limiter's notation
    # ("30/minute;500/day"; "" for none): a few editors' judgments a minute pass, a script
    # flooding the training data does not.
    feedback_rate_limit: str = "30/minute;500/day"
    # Where the counts of those limits live. memory:// is per worker process, so N workers
    # let a client through up to N times the limit; redis://host:6379 (or any storage URI of
    # the limits package) shares them between workers and replicas.
    rate_limit_storage: str = "memory://"
    # Web origins whose pages may call the scoring and feedback routes (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Web origins whose pages may show the editors' page in a frame; none by default.
    frame_ancestors: tuple[str, ...] = ()
    # Proxies in front of the service whose X-Forwarded-For and X-Forwarded-Proto are trusted
    # (1 behind deploy/nginx/headline-scorer.conf); 0 trusts no client's say about either.
    trusted_proxies: int = 0

    def __post_init__(self) -> None:
        # An empty or blank token would let an empty bearer in: it means "no admin routes",
        # however the settings were built.
        if self.admin_token is not None and not self.admin_token.strip():
            object.__setattr__(self, "admin_token", None)
        if self.feedback_token is not None and not self.feedback_token.strip():
            object.__setattr__(self, "feedback_token", None)
        if self.client_id_key is not None and not self.client_id_key.strip():
            object.__setattr__(self, "client_id_key", None)

    @classmethod
    def from_env(cls) -> Settings:
        paths = Paths.from_env()
        return cls(
            models_root=paths.models_root,
            model_dir=paths.model_dir,
            host=os.environ.get("HOST", cls.host),
            port=_int("PORT", cls.port, minimum=0, maximum=65535),  # 0: any free port (gunicorn logs it)
            workers=_int("WORKERS", cls.workers),
            max_headline_chars=_int("MAX_HEADLINE_CHARS", cls.max_headline_chars),
            max_batch=_int("MAX_BATCH", cls.max_batch),
            max_body_bytes=_int("MAX_BODY_BYTES", cls.max_body_bytes),
            log_level=_log_level(os.environ.get("LOG_LEVEL", cls.log_level)),
            graceful_timeout=_int("GRACEFUL_TIMEOUT", cls.graceful_timeout, minimum=0),
            worker_timeout=_int("WORKER_TIMEOUT", cls.worker_timeout),
            threads=_int("THREADS", cls.threads),
            feedback_db=paths.feedback_db,
            feedback_busy_ms=_int("HEADLINE_FEEDBACK_BUSY_MS", cls.feedback_busy_ms, minimum=0),
            feedback_url=_feedback_url(paths.feedback_url),
            admin_token=os.environ.get("HEADLINE_ADMIN_TOKEN", "").strip() or None,
            feedback_token=os.environ.get("HEADLINE_FEEDBACK_TOKEN", "").strip() or None,
            client_id_key=os.environ.get("HEADLINE_CLIENT_ID_KEY", "").strip() or None,
            feedback_rate_limit=_rate_limit(os.environ.get("HEADLINE_FEEDBACK_RATE_LIMIT",
                                                           cls.feedback_rate_limit)),
            rate_limit_storage=os.environ.get("HEADLINE_RATE_LIMIT_STORAGE", "").strip()
            or cls.rate_limit_storage,
            cors_origins=_origins("HEADLINE_CORS_ORIGINS"),
            frame_ancestors=_origins("HEADLINE_FRAME_ANCESTORS"),
            trusted_proxies=_int("TRUSTED_PROXIES", cls.trusted_proxies, minimum=0, maximum=10),
        )
