"""Memory stays bounded under hostile input (marker ``hostile_traffic``): real gunicorn, two
workers, the default limits.

100 batches of 1,000 unique random 1,000-character strings once grew each worker to about
600 MB, because the scorer remembered every long "word" it met. Now every worker stays under
250 MB, and after a warm-up its memory no longer grows with the number of such batches. The
time these requests take is measured by ``make bench`` (benchmarks/hostile.py), not here.
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from service.config import Settings
from tests.gunicorn_server import Server, gunicorn_environment

pytestmark = pytest.mark.hostile_traffic

WORKER_LIMIT_MB = 250
# What a worker may still grow between the 2nd and the 100th batch: allocator noise (about 3 MB
# here), never a memory that fills with what clients send (remembering 20,000 strings of 1,000
# characters takes over 20 MB for their text alone).
STEADY_GROWTH_MB = 12
BATCHES, WARM_UP = 100, 2


@pytest.fixture(scope="module")
def server(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("hostile-memory")
    server = Server(gunicorn_environment(models_root, directory, WORKERS="2",
                                         MAX_BODY_BYTES=str(Settings.max_body_bytes)), directory)
    try:
        server.wait_ready()
        deadline = time.monotonic() + 30
        while len(psutil.Process(server.process.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield server
    finally:
        server.kill()


def workers_rss_mb(server: Server) -> dict[int, float]:
    return {child.pid: child.memory_info().rss / 2**20
            for child in psutil.Process(server.process.pid).children()}


def send_batches(server: Server, batches: list[list[str]]) -> list[int]:
    """Send every batch from two clients (so both workers get them); the statuses."""
    pending, statuses, lock = list(batches), [], threading.Lock()

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not pending:
                    return
                batch = pending.pop()
            response = session.post(server.url("/v1/score/batch"),
                                    json={"headlines": batch, "explain": False}, timeout=120)
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_unique_long_strings_leave_every_worker_bounded(server: Server) -> None:
    rng = random.Random(100)
    alphabet = string.ascii_letters + string.digits
    batches = [["".join(rng.choices(alphabet, k=1000)) for _ in range(1000)] for _ in range(BATCHES)]
    assert send_batches(server, batches[:WARM_UP]) == [200] * WARM_UP
    warm = workers_rss_mb(server)
    assert send_batches(server, batches[WARM_UP:]) == [200] * (BATCHES - WARM_UP)
    after = workers_rss_mb(server)
    assert set(after) == set(warm), "a worker was replaced"
    assert max(after.values()) < WORKER_LIMIT_MB, after
    grown = {pid: after[pid] - warm[pid] for pid in after}
    assert max(grown.values()) < STEADY_GROWTH_MB, (warm, after)
