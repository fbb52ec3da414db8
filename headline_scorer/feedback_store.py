"""Editors' feedback: the SQLite store behind ``/v1/feedback``.

This module owns the feedback database (HEADLINE_FEEDBACK_DB, ``data/feedback.sqlite3`` by
default): its schema, and how a judgment is written and read back. The service writes to it;
``make train FEEDBACK=1`` reads it through ``training.feedback``.

Why it cannot lose or damage a judgment:

- the journal is WAL with ``synchronous=FULL``: a committed record survives a crash of the
  worker or of the machine, and readers never block the writer;
- each record is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction; a write that cannot get
  the lock within the busy timeout, or cannot write at all (read-only file, missing folder,
  a file that is not a database, a full disk) is rolled back and raises
  :class:`FeedbackUnavailable`, which the route answers with a 503; what was stored before
  is untouched;
- a connection is opened per operation and closed after it, never at import time, so no
  connection is shared by threads or inherited across gunicorn's fork of a preloaded app.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

LABELS = ("sensational", "neutral")
SCHEMA_VERSION = 1
# The columns of a record, in the order of every listing and export.
COLUMNS = ("id", "created_at", "headline", "label", "note", "model_version", "model_score",
           "model_label")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    headline TEXT NOT NULL CHECK (length(headline) > 0),
    label TEXT NOT NULL CHECK (label IN ('sensational', 'neutral')),
    note TEXT,
    model_version TEXT NOT NULL,
    model_score REAL NOT NULL CHECK (model_score >= 0 AND model_score <= 1),
    model_label TEXT NOT NULL CHECK (model_label IN ('sensational', 'neutral'))
);
PRAGMA user_version = {SCHEMA_VERSION};
"""


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

    def as_dict(self) -> dict:
        return asdict(self)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FeedbackStore:
    """The feedback records in one SQLite file at ``path``.

    ``busy_ms`` is how long a write waits for a lock held by another connection (another
    worker's write, or a backup) before it gives up with :class:`FeedbackUnavailable`.
    """

    def __init__(self, path: Path, busy_ms: int = 5000):
        self.path = Path(path)
        self.busy_ms = busy_ms
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
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            connection.executescript(_SCHEMA)
        self._schema_ready = True

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
            model_score: float, model_label: str) -> FeedbackRecord:
        """Store one judgment in its own transaction; the stored record, with its id."""
        if label not in LABELS or model_label not in LABELS:
            raise ValueError(f"labels must be one of {LABELS}, got {label!r} and {model_label!r}")
        created_at = utc_now()
        values = (created_at, headline, label, note, model_version, float(model_score), model_label)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._open()) as connection:
                self._ensure_schema(connection)
                # IMMEDIATE takes the write lock now (waiting up to busy_ms), so the insert
                # cannot fail half-way for want of it.
                connection.execute("BEGIN IMMEDIATE")
                try:
                    cursor = connection.execute(
                        "INSERT INTO feedback (created_at, headline, label, note, model_version,"
                        " model_score, model_label) VALUES (?, ?, ?, ?, ?, ?, ?)", values)
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
        """Records with an id above ``after_id``, oldest first, at most ``limit`` of them."""
        with self._reading("read the feedback") as connection:
            if connection is None:
                return []
            rows = connection.execute(
                f"SELECT {', '.join(COLUMNS)} FROM feedback WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, -1 if limit is None else limit)).fetchall()
        return [FeedbackRecord(*row) for row in rows]
