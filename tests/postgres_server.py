"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a private data
directory, a Unix socket in that directory (no TCP port to collide with), trust
authentication, and always stopped and deleted at the end.

PostgreSQL refuses to run as root, so as root (CI, this machine) the cluster belongs to the
``postgres`` system user that Debian's package creates, and its commands run through
``runuser``; as any other user they run as that user. ``.ci/run`` installs the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

PORT = 5432  # only names the socket file, which lives in the cluster's own directory
START_TIMEOUT = 60


def server_bindir() -> Path | None:
    """The newest Debian PostgreSQL server's bin directory, or None when none is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class PostgresCluster:
    """One running cluster; :meth:`new_database` gives each test a database of its own."""

    def __init__(self, bindir: Path, root: Path, owner: str | None):
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.owner = owner
        self._databases = 0

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n"
                               f"{result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")

    def start(self) -> None:
        options = f"-k {self.root} -c listen_addresses='' -p {PORT} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", str(START_TIMEOUT), "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown, as a restart by an operator does: open sessions are ended."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={PORT}"

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        self._databases += 1
        name = f"feedback_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started cluster, stopped and removed when the block ends."""
    bindir = server_bindir()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server under /usr/lib/postgresql: apt-get install "
                                "postgresql (.ci/run does)")
    owner = "postgres" if os.geteuid() == 0 else None
    # Not under pytest's tmp_path: that is private to root (0700), and the server runs as
    # the postgres user.
    root = Path(tempfile.mkdtemp(prefix="headline-pg-"))
    if owner is not None:
        shutil.chown(root, owner)
    cluster = PostgresCluster(bindir, root, owner)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        # It may never have started, or a test may have stopped it already.
        with suppress(RuntimeError, subprocess.TimeoutExpired):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
