"""Shared fixtures: fixture datasets written by the tests and a model trained on them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.artifact import ModelArtifact, load_model
from service.scorer import HeadlineScorer
from tests.fixture_headlines import make_headlines, write_fixture_config, write_fixture_datasets
from training.train import main as train_main


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``datasets.json``, ``model_config.toml`` and ``raw/`` fixture datasets."""
    root = tmp_path_factory.mktemp("fixture-data")
    write_fixture_datasets(root)
    write_fixture_config(root / "model_config.toml")
    return root


def train_fixture_model(fixture_data: Path, models_dir: Path) -> int:
    """Run the real training CLI on the fixture datasets; returns its exit code."""
    return train_main([
        "--raw-dir", str(fixture_data / "raw"),
        "--manifest", str(fixture_data / "datasets.json"),
        "--config", str(fixture_data / "model_config.toml"),
        "--models-dir", str(models_dir),
        "--jobs", "1",
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
