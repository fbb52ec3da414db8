"""Editors' feedback: the store behind ``/v1/feedback``, in SQLite or PostgreSQL.

This module owns the feedback database: its schema and the migrations that create and
upgrade it, and how a judgment is written and read back. The service writes to it;
``make train FEEDBACK=1`` reads it through ``training.feedback``. :func:`open_feedback_store`
picks the backend: :class:`SqliteFeedbackStore`, a file (HEADLINE_FEEDBACK_DB,
``data/feedback.sqlite3`` by default), embedded and enough for one server; or
:class:`PostgresFeedbackStore` (HEADLINE_FEEDBACK_URL=postgresql://...), one database that
several replicas share.

Schema versions: both backends record each migration of :data:`MIGRATIONS` they have applied
in a ``schema_migrations`` table, and apply the missing ones, in order and each in one
transaction, the first time a store is used. A database made before that table existed (the
first SQLite layout) gets its table recorded as migration 1, unchanged.

Why SQLite cannot lose or damage a judgment:

- the journal is WAL with ``synchronous=FULL``: a committed record survives a crash of the
  worker or of the machine, and readers never block the writer;
- each record is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction; a write that cannot get
  the lock within the busy timeout, or cannot write at all (read-only file, missing folder,
  a file that is not a database, a full disk) is rolled back and raises
  :class:`FeedbackUnavailable`, which the route answers with a 503; what was stored before
  is untouched;
- a connection is opened per operation and closed after it, never at import time, so no
  connection is shared by threads or inherited across gunicorn's fork of a preloaded app.

PostgreSQL gets the same care: one transaction per record, a connection per operation (so a
database restart costs the requests made while it is down a 503, and nothing else: the next
operation connects again, with no restart of the service), and every failure to connect or
write rolled back and raised as :class:`FeedbackUnavailable`.

Who sent a judgment is stored as a pseudonym, never as an address: ``client_id`` is
:func:`client_pseudonym` of the client's address, an HMAC-SHA256 under a key that is either
HEADLINE_CLIENT_ID_KEY or, unset, one the database made for itself (so every replica sharing it
gives one client the same id). The same client keeps one id, which is all the training cap on
one client's flood needs; the address cannot be read back without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger(__name__)

LABELS = ("sensational", "neutral")
# The columns of a record, in the order of every listing and export.
COLUMNS = ("id", "created_at", "headline", "label", "note", "model_version", "model_score",
           "model_label", "client_id", "request_id")
# Records read per query when a whole export is streamed: big enough that the queries cost
# little, small enough that a page of the longest headlines and notes stays a few MB.
EXPORT_PAGE = 1000


# A stored client id: "c-" and 16 hex digits of a keyed hash of the client's address.
_PSEUDONYM = re.compile(r"c-[0-9a-f]{16}")


def client_pseudonym(key: str, address: str) -> str:
    """The id stored for a client at ``address``: "c-" and the first 16 hex digits of
    HMAC-SHA256(``key``, ``address``). The same address gives the same id under one key; without
    the key the id cannot be turned back into the address."""
    return "c-" + hmac.new(key.encode(), address.encode(), hashlib.sha256).hexdigest()[:16]


def _stored_key(execute: Callable[..., object]) -> str:
    """The pseudonym key the database made for itself (migration 3)."""
    return execute("SELECT key FROM client_id_key WHERE id = 1").fetchone()[0]


def _pseudonymise_stored(execute: Callable[..., object], mark: str, key: str | None) -> None:
    """Replace every stored client id that is not yet a pseudonym (an address, as schema
    version 2 stored it) by its pseudonym, under ``key`` or else the database's own."""
    key = key or _stored_key(execute)
    stored = [row[0] for row in execute("SELECT DISTINCT client_id FROM feedback "
                                        "WHERE client_id IS NOT NULL").fetchall()]
    for old in stored:
        if not _PSEUDONYM.fullmatch(old):
            execute(f"UPDATE feedback SET client_id = {mark} WHERE client_id = {mark}",
                    (client_pseudonym(key, old), old))


@dataclass(frozen=True)
class Migration:
    """One step of the schema, as statements for each backend, and optionally a rewrite of
    the stored rows run after them: ``rewrite(execute, mark, client_key)``."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]
    rewrite: Callable[[Callable[..., object], str, str | None], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the feedback table", sqlite=("""
        CREATE TABLE IF NOT EXISTS feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            headline TEXT NOT NULL CHECK (length(headline) > 0),
            label TEXT NOT NULL CHECK (label IN ('sensational', 'neutral')),
            note TEXT,
            model_version TEXT NOT NULL,
            model_score REAL NOT NULL CHECK (model_score >= 0 AND model_score <= 1),
            model_label TEXT NOT NULL CHECK (model_label IN ('sensational', 'neutral'))
        )""",), postgres=("""
        CREATE TABLE IF NOT EXISTS feedback (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL,
            headline TEXT NOT NULL CHECK (length(headline) > 0),
            label TEXT NOT NULL CHECK (label IN ('sensational', 'neutral')),
            note TEXT,
            model_version TEXT NOT NULL,
            model_score DOUBLE PRECISION NOT NULL CHECK (model_score >= 0 AND model_score <= 1),
            model_label TEXT NOT NULL CHECK (model_label IN ('sensational', 'neutral'))
        )""",)),
    # Who sent each judgment, so that one client's flood can be found, counted and capped in
    # training, and the request's log lines found. Records stored before keep NULL in both.
    Migration(2, "client and request ids", sqlite=(
        "ALTER TABLE feedback ADD COLUMN client_id TEXT",
        "ALTER TABLE feedback ADD COLUMN request_id TEXT",
    ), postgres=(
        "ALTER TABLE feedback ADD COLUMN IF NOT EXISTS client_id TEXT",
        "ALTER TABLE feedback ADD COLUMN IF NOT EXISTS request_id TEXT",
    )),
    # Client ids become keyed pseudonyms of the address (personal data is not kept): the
    # database makes its own random key, used where HEADLINE_CLIENT_ID_KEY is not set, and the
    # addresses stored under version 2 are replaced by their pseudonyms.
    Migration(3, "client ids are pseudonyms, not addresses", sqlite=(
        "CREATE TABLE IF NOT EXISTS client_id_key (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "key TEXT NOT NULL)",
        "INSERT OR IGNORE INTO client_id_key (id, key) VALUES (1, lower(hex(randomblob(32))))",
    ), postgres=(
        "CREATE TABLE IF NOT EXISTS client_id_key (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "key TEXT NOT NULL)",
        "INSERT INTO client_id_key (id, key) VALUES "
        "(1, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')) "
        "ON CONFLICT (id) DO NOTHING",
    ), rewrite=_pseudonymise_stored),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
_MIGRATIONS_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )"""


class FeedbackUnavailable(Exception):
    """The feedback database cannot be read or written now; nothing was changed.

    ``message`` is for the client and names no file; the log line names the file.
    ``retry_after`` is a number of seconds when waiting may help (a lock held by someone else).
    """

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class FeedbackRecord:
    """One stored judgment: the editor's label for a headline, and what the model said."""

    id: int
    created_at: str  # UTC, ISO 8601 with milliseconds and "Z"
    headline: str  # normalised, as scored
    label: str  # the editor's judgment: "sensational" or "neutral"
    note: str | None
    model_version: str
    model_score: float
    model_label: str
    client_id: str | None = None  # who sent it: the service stores a pseudonym of the address
    request_id: str | None = None  # the X-Request-ID of the request that stored it

    def as_dict(self) -> dict:
        return asdict(self)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _apply_pending(execute: Callable[..., object], applied: int, backend: str, mark: str,
                   client_key: str | None = None) -> None:
    """Run every migration after version ``applied`` through ``execute`` (a connection's, inside
    the caller's transaction) and record each in schema_migrations; ``backend`` names the
    migration's statements ("sqlite" or "postgres"), ``mark`` the driver's parameter marker,
    ``client_key`` the configured pseudonym key (None: the database's own)."""
    record = ("INSERT INTO schema_migrations (version, description, applied_at) "
              f"VALUES ({mark}, {mark}, {mark})")
    for migration in MIGRATIONS:
        if migration.version > applied:
            for statement in getattr(migration, backend):
                execute(statement)
            if migration.rewrite is not None:
                migration.rewrite(execute, mark, client_key)
            execute(record, (migration.version, migration.description, utc_now()))


class FeedbackStore(ABC):
    """The editors' judgments, in whichever database holds them.

    ``where`` names the database for people (a file, or a server and database name; never a
    password). ``client_key`` is the key of the client pseudonyms (HEADLINE_CLIENT_ID_KEY);
    None uses the key the database made for itself.
    """

    where: str
    client_key: str | None

    @abstractmethod
    def add(self, headline: str, label: str, note: str | None, model_version: str,
            model_score: float, model_label: str, client_id: str | None = None,
            request_id: str | None = None, client_address: str | None = None) -> FeedbackRecord:
        """Store one judgment in its own transaction; the stored record, with its id.

        ``client_address`` is the sender's address: what is stored is its pseudonym
        (:func:`client_pseudonym`), never the address. ``client_id`` is stored as given, for a
        tool that writes records itself and names its own clients. ``request_id`` is the
        request that sent it. All three are optional.
        """

    def _sender(self, execute: Callable[..., object], client_id: str | None,
                client_address: str | None) -> str | None:
        """The client id to store: the pseudonym of ``client_address`` when given (under the
        configured key, else the database's own, read through ``execute`` inside the write's
        transaction), otherwise ``client_id`` as given."""
        if client_address is None:
            return client_id
        return client_pseudonym(self.client_key or _stored_key(execute), client_address)

    @abstractmethod
    def count(self) -> int:
        """How many records are stored."""

    @abstractmethod
    def records(self, after_id: int = 0, limit: int | None = None) -> list[FeedbackRecord]:
        """Records with an id above ``after_id``, oldest first, at most ``limit`` of them."""

    def iter_records(self, after_id: int = 0, page_size: int = EXPORT_PAGE) -> Iterator[FeedbackRecord]:
        """Every record with an id above ``after_id``, oldest first, read ``page_size`` at a time.

        Memory stays at one page whatever the store holds, which is what lets an export of
        every record stream. Each page is its own read (keyset paging on the id), so records
        added while the export runs are included if their id is above the last one sent.
        """
        while True:
            page = self.records(after_id, page_size)
            yield from page
            if len(page) < page_size:
                return
            after_id = page[-1].id


def _check_labels(label: str, model_label: str) -> None:
    if label not in LABELS or model_label not in LABELS:
        raise ValueError(f"labels must be one of {LABELS}, got {label!r} and {model_label!r}")


def open_feedback_store(path: Path, url: str | None = None, busy_ms: int = 5000,
                        client_key: str | None = None) -> FeedbackStore:
    """The PostgreSQL store of ``url`` when one is given, else the SQLite file at ``path``.

    ``busy_ms`` is how long a write may wait for a lock (SQLite) or a statement may take
    (PostgreSQL) before the operation gives up with :class:`FeedbackUnavailable`.
    ``client_key`` is the key of the client pseudonyms (None: the database's own).
    """
    if url:
        return PostgresFeedbackStore(url, busy_ms, client_key)
    return SqliteFeedbackStore(path, busy_ms, client_key)


class SqliteFeedbackStore(FeedbackStore):
    """The feedback records in one SQLite file at ``path``.

    ``busy_ms`` is how long a write waits for a lock held by another connection (another
    worker's write, or a backup) before it gives up with :class:`FeedbackUnavailable`.
    """

    def __init__(self, path: Path, busy_ms: int = 5000, client_key: str | None = None):
        self.path = Path(path)
        self.where = str(self.path)
        self.busy_ms = busy_ms
        self.client_key = client_key
        self._schema_ready = False

    # ---------------------------------------------------------------------- connections

    def _unavailable(self, exc: BaseException, doing: str) -> FeedbackUnavailable:
        """The 503 for an SQLite or file-system failure, logged with the file's path."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
            reason = (f"the feedback database is locked by another connection (waited "
                      f"{self.busy_ms} ms, HEADLINE_FEEDBACK_BUSY_MS)")
            retry = max(1, round(self.busy_ms / 1000))
        elif name.startswith("SQLITE_READONLY"):
            reason, retry = "the feedback database is read-only (HEADLINE_FEEDBACK_DB)", None
        elif name.startswith("SQLITE_CANTOPEN") or isinstance(exc, OSError):
            reason, retry = ("the feedback database cannot be opened or created "
                             "(HEADLINE_FEEDBACK_DB)"), None
        elif name.startswith("SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT"):
            reason, retry = ("the file at HEADLINE_FEEDBACK_DB is not a healthy SQLite "
                             "database; it was left as it is"), None
        elif name.startswith("SQLITE_FULL"):
            reason, retry = "the disk holding the feedback database is full", None
        else:
            reason, retry = f"the feedback database failed ({name or type(exc).__name__})", None
        log.error("feedback database %s: cannot %s: %s: %s", self.path, doing,
                  name or type(exc).__name__, exc)
        return FeedbackUnavailable(f"{reason}; cannot {doing}", retry)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are exactly the BEGIN/COMMIT written below.
        connection = sqlite3.connect(self.path, timeout=self.busy_ms / 1000, isolation_level=None)
        try:
            connection.execute("PRAGMA synchronous = FULL")
            # Whatever a write replaces or deletes (an address a migration turns into its
            # pseudonym) is overwritten in the file, not left in free space.
            connection.execute("PRAGMA secure_delete = ON")
        except BaseException:
            connection.close()
            raise
        return connection

    def _ensure_schema(self, connection: sqlite3.Connection) -> None:
        if self._schema_ready:
            return
        # Only a database that needs it is written to, so a read-only one can still be read.
        # WAL is a property of the file: set once, every later connection uses it.
        if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("feedback database %s: journal mode is %s, not wal (a file system "
                            "without shared memory?)", self.path, mode)
        if self._applied(connection) < SCHEMA_VERSION:
            # IMMEDIATE: another process migrating at the same time waits, then finds the
            # work done (the versions are read again inside the transaction).
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(_MIGRATIONS_TABLE)
                _apply_pending(connection.execute, self._applied(connection), "sqlite", "?",
                               self.client_key)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        self._schema_ready = True

    @staticmethod
    def _applied(connection: sqlite3.Connection) -> int:
        """The last migration applied to the database of ``connection`` (0: none)."""
        exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                    "name = 'schema_migrations'").fetchone()
        if exists is None:
            return 0
        return connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations"
                                  ).fetchone()[0]

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection | None]:
        """A connection for reading, or None when no feedback was ever stored (no file)."""
        if not self.path.exists():
            yield None
            return
        try:
            with closing(self._open()) as connection:
                self._ensure_schema(connection)
                yield connection
        except (sqlite3.Error, OSError) as exc:
            raise self._unavailable(exc, doing) from exc

    # ---------------------------------------------------------------------- operations

    def add(self, headline: str, label: str, note: str | None, model_version: str,
            model_score: float, model_label: str, client_id: str | None = None,
            request_id: str | None = None, client_address: str | None = None) -> FeedbackRecord:
        _check_labels(label, model_label)
        created_at = utc_now()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._open()) as connection:
                self._ensure_schema(connection)
                # IMMEDIATE takes the write lock now (waiting up to busy_ms), so the insert
                # cannot fail half-way for want of it.
                connection.execute("BEGIN IMMEDIATE")
                try:
                    values = (created_at, headline, label, note, model_version, float(model_score),
                              model_label, self._sender(connection.execute, client_id,
                                                        client_address), request_id)
                    cursor = connection.execute(
                        f"INSERT INTO feedback ({', '.join(COLUMNS[1:])}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
                    record_id = int(cursor.lastrowid)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        except (sqlite3.Error, OSError) as exc:
            raise self._unavailable(exc, "store the feedback; nothing was stored") from exc
        return FeedbackRecord(record_id, *values)

    def count(self) -> int:
        with self._reading("count the feedback") as connection:
            if connection is None:
                return 0
            return int(connection.execute("SELECT count(*) FROM feedback").fetchone()[0])

    def records(self, after_id: int = 0, limit: int | None = None) -> list[FeedbackRecord]:
        with self._reading("read the feedback") as connection:
            if connection is None:
                return []
            rows = connection.execute(
                f"SELECT {', '.join(COLUMNS)} FROM feedback WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, -1 if limit is None else limit)).fetchall()
        return [FeedbackRecord(*row) for row in rows]


# Any constant: the key of the advisory lock that makes replicas starting together migrate
# one after another instead of racing to create the same table.
_MIGRATION_LOCK = 0x6865_6164  # "head"
_RECORD_SQL = (f"SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
               f"{', '.join(COLUMNS[2:])} FROM feedback")


class PostgresFeedbackStore(FeedbackStore):
    """The feedback records in a PostgreSQL database, shared by every replica of the service.

    ``url`` is a libpq connection URI (``postgresql://user@host:5432/db``, or
    ``postgresql:///db?host=/run/postgresql`` for a local socket). ``busy_ms`` bounds each
    statement (``statement_timeout``), so a write stuck behind a lock gives up with
    :class:`FeedbackUnavailable` rather than holding the request.

    Record ids come from an identity column: unique and increasing, though a transaction that
    rolls back leaves a gap.
    """

    def __init__(self, url: str, busy_ms: int = 5000, client_key: str | None = None):
        self.url = url
        self.busy_ms = busy_ms
        self.client_key = client_key
        self._schema_ready = False
        # For log lines: where the database is, never the password.
        parts = conninfo_to_dict(url)
        self.where = (f"{parts.get('host') or 'local socket'}:{parts.get('port') or 5432}/"
                      f"{parts.get('dbname') or parts.get('user') or '?'}")

    def _unavailable(self, exc: psycopg.Error, doing: str) -> FeedbackUnavailable:
        """The 503 for a failure of the database, logged with where it is."""
        if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
            # No answer from the server at all: not running, restarting, unreachable.
            reason, retry = "the feedback database cannot be reached (HEADLINE_FEEDBACK_URL)", 1
        elif isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
            reason = (f"the feedback database did not answer within {self.busy_ms} ms "
                      "(HEADLINE_FEEDBACK_BUSY_MS)")
            retry = max(1, round(self.busy_ms / 1000))
        elif isinstance(exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow):
            reason, retry = "the feedback database is restarting", 1
        elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            reason, retry = "the feedback database is read-only (a standby?)", None
        else:
            reason, retry = f"the feedback database failed ({exc.sqlstate or type(exc).__name__})", None
        log.error("feedback database %s: cannot %s: %s: %s", self.where, doing, type(exc).__name__,
                  str(exc).strip())
        return FeedbackUnavailable(f"{reason}; cannot {doing}", retry)

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[psycopg.Connection]:
        """One connection and one transaction: committed when the block ends, rolled back
        (and the connection closed) when it raises."""
        try:
            # connect_timeout is in whole seconds, and libpq treats less than 2 as 2.
            with psycopg.connect(self.url, connect_timeout=max(2, math.ceil(self.busy_ms / 1000)),
                                 options=f"-c statement_timeout={self.busy_ms}") as connection:
                if not self._schema_ready:
                    self._migrate(connection)
                yield connection
        except psycopg.Error as exc:
            raise self._unavailable(exc, doing) from exc

    def _migrate(self, connection: psycopg.Connection) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute(_MIGRATIONS_TABLE)
            applied = connection.execute(
                "SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
            _apply_pending(connection.execute, applied, "postgres", "%s", self.client_key)
        self._schema_ready = True

    def add(self, headline: str, label: str, note: str | None, model_version: str,
            model_score: float, model_label: str, client_id: str | None = None,
            request_id: str | None = None, client_address: str | None = None) -> FeedbackRecord:
        _check_labels(label, model_label)
        created_at = utc_now()
        with self._transaction("store the feedback; nothing was stored") as connection:
            values = (created_at, headline, label, note, model_version, float(model_score),
                      model_label, self._sender(connection.execute, client_id, client_address),
                      request_id)
            record_id = connection.execute(
                f"INSERT INTO feedback ({', '.join(COLUMNS[1:])}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values).fetchone()[0]
        return FeedbackRecord(int(record_id), *values)

    def count(self) -> int:
        with self._transaction("count the feedback") as connection:
            return int(connection.execute("SELECT count(*) FROM feedback").fetchone()[0])

    def records(self, after_id: int = 0, limit: int | None = None) -> list[FeedbackRecord]:
        with self._transaction("read the feedback") as connection:
            rows = connection.execute(f"{_RECORD_SQL} WHERE id > %s ORDER BY id LIMIT %s",
                                      (after_id, limit)).fetchall()
        return [FeedbackRecord(*row) for row in rows]
