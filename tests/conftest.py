"""Shared fixtures: fixture datasets written by the tests and a model trained on them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headline_scorer.artifact import ModelArtifact, load_model
from headline_scorer.environ import restore_environ
from headline_scorer.scorer import HeadlineScorer
from tests.fixture_headlines import make_headlines, write_fixture_config, write_fixture_datasets
from tests.gunicorn_server import Server, server_pool
from tests.postgres_server import PostgresCluster, postgres_cluster, server_bindir
from training.train import main as train_main

# The environment the session started with. A Dask nanny writes its workers' settings
# (OPENBLAS_NUM_THREADS=1, OMP_ and MKL_ too, MALLOC_TRIM_THRESHOLD_, PYTHONHASHSEED=6640)
# into the os.environ of the process that starts it (dask/distributed#6681), and the Dask
# tests' module-scoped clusters start in this one: every subprocess of a later test would
# inherit them (the kernel test of the quality gate fitted on one thread because of it).
_SESSION_ENVIRON = dict(os.environ)


@pytest.fixture(autouse=True)
def _environment_of_the_session() -> Iterator[None]:
    """After each test, os.environ is the session's again (monkeypatch's own undo runs first;
    pytest's own PYTEST_CURRENT_TEST, which it sets and removes around each phase, is left to
    it)."""
    yield
    restore_environ(_SESSION_ENVIRON, leave={"PYTEST_CURRENT_TEST"})


# Dask's fixed HTTP port, where a scheduler started with dashboard_address=None alone listens.
DASK_HTTP_PORT = 8787


@pytest.fixture
def dask_port_taken() -> Iterator[int]:
    """Dask's port 8787 held on loopback for the test (unless another program already holds
    it, which makes the same point), as by another cluster on a shared machine: a local
    cluster of the product must not need it. Pair with
    ``@pytest.mark.filterwarnings("error:Port")`` so that Dask's "Port 8787 is already in use"
    fails the test."""
    with socket.socket() as sock:
        with contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", DASK_HTTP_PORT))
            sock.listen()
        yield DASK_HTTP_PORT


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``datasets.json``, ``model_config.toml`` and ``raw/`` fixture datasets."""
    root = tmp_path_factory.mktemp("fixture-data")
    write_fixture_datasets(root)
    write_fixture_config(root / "model_config.toml")
    return root


def train_fixture_model(fixture_data: Path, models_dir: Path, *extra: str) -> int:
    """Run the real training CLI on the fixture datasets (with ``extra`` arguments); returns
    its exit code."""
    return train_main([
        "--raw-dir", str(fixture_data / "raw"),
        "--manifest", str(fixture_data / "datasets.json"),
        "--config", str(fixture_data / "model_config.toml"),
        "--models-dir", str(models_dir),
        "--jobs", "1",
        *extra,
    ])


@pytest.fixture(scope="session")
def models_root(fixture_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding one model trained on the fixture data (``current`` set).

    Session-wide and read-only: a test that changes a model copies it first
    (see ``model_copy``).
    """
    root = tmp_path_factory.mktemp("models")
    assert train_fixture_model(fixture_data, root) == 0
    return root


@pytest.fixture(scope="session")
def artifact(models_root: Path) -> ModelArtifact:
    return load_model(models_root, models_root)


@pytest.fixture(scope="session")
def scorer(artifact: ModelArtifact) -> HeadlineScorer:
    return HeadlineScorer.from_artifact(artifact)


@pytest.fixture
def model_copy(models_root: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture models directory that a test may damage."""
    target = tmp_path / "models"
    shutil.copytree(models_root, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def sample_headlines() -> list[str]:
    """Fixture headlines of both classes, plus awkward but valid ones."""
    return [t for t, _ in make_headlines(40, seed=99)] + [
        "NASA and the FBI confirm U.S. launch date",
        "WOW!!! You Have To See This",
        "Ünïcödé headline — with “quotes” and emoji 🎉",
        "a",
    ]


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _run_module(args: list[str], timeout: int) -> None:
    result = subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def full_models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models folder of one real ``make data`` + ``make train`` run on the full datasets
    in HEADLINE_DATA_DIR, in a temporary folder (the repository's data/raw and models/ are
    never touched). Only quality-gate tests use it; they skip without HEADLINE_DATA_DIR."""
    if not os.environ.get("HEADLINE_DATA_DIR", "").strip():
        pytest.skip("HEADLINE_DATA_DIR is not set: the quality gate trains on the full datasets "
                    "in that folder (e.g. ../shared/datasets)")
    root = tmp_path_factory.mktemp("quality-gate")
    raw, models = root / "raw", root / "models"
    _run_module(["training.datasets", "--raw-dir", str(raw)], timeout=600)
    _run_module(["training.train", "--raw-dir", str(raw), "--models-dir", str(models)], timeout=1200)
    return models


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Starts real gunicorn servers (tests/gunicorn_server.py) shared by a test module; all
    stopped after it. ``server_factory(models_root, wait=True, **environment)``."""
    with server_pool(tmp_path_factory) as start:
        yield start


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """As ``server_factory``, for one test: its servers are stopped when it ends."""
    with server_pool(tmp_path_factory) as start:
        yield start


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster (tests/postgres_server.py) for the whole session;
    ``postgres.new_database()`` gives a test an empty database of its own."""
    if server_bindir() is None:
        pytest.skip("no PostgreSQL server under /usr/lib/postgresql: apt-get install postgresql "
                    "(.ci/run does) to run the feedback tests against PostgreSQL")
    with postgres_cluster() as cluster:
        yield cluster
