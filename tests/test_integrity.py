"""Artifact integrity on every road a model takes into service: start, the admin reload and
the gunicorn master's reload (SIGHUP).

``tests/test_artifact.py`` proves ``load_model`` itself refuses a changed byte, a model outside
the models directory and a bad manifest. These tests prove the service never goes around it:
whichever way a model is loaded, a changed byte is refused before anything is unpickled, a
link leading out of the models directory is refused, and a pickle is never opened unless its
manifest, read as JSON, is sound first.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

import headline_scorer.artifact as artifact_module
from headline_scorer.artifact import (
    CURRENT_LINK,
    MANIFEST_FILE,
    MODEL_FILE,
    ModelError,
    point_current_at,
    sha256_of,
)
from service import create_app
from service.config import Settings
from service.reload import FOLLOWER_KEY, attach_channel, reload_in_master

TOKEN = "integrity-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings_for(models: Path, **overrides: object) -> Settings:
    values: dict = {"models_root": models, "model_dir": models / CURRENT_LINK, "admin_token": TOKEN}
    values.update(overrides)
    return Settings(**values)


def add_version(models: Path, name: str) -> Path:
    """A copy of the current version under a new name, made current."""
    target = models / name
    shutil.copytree((models / CURRENT_LINK).resolve(), target)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["version"] = name
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))
    point_current_at(models, name)
    return target


# Each road takes the models directory (already damaged) and returns the refusal's message.
def at_start(models: Path) -> str:
    with pytest.raises(ModelError) as caught:
        create_app(settings_for(models))
    return str(caught.value)


def by_admin_route(app: Flask) -> Callable[[Path], str]:
    def reload(models: Path) -> str:
        old = app.test_client().get("/v1/model").get_json()["version"]
        response = app.test_client().post("/admin/reload", headers=AUTH)
        assert response.status_code == 409, response.get_json()
        assert app.test_client().get("/v1/model").get_json()["version"] == old
        return response.get_json()["error"]["message"]
    return reload


def by_master(app: Flask, tmp_path: Path) -> Callable[[Path], str]:
    attach_channel(app, tmp_path)

    def reload(models: Path) -> str:
        outcome = reload_in_master(app)
        assert not outcome["ok"]
        assert app.extensions[FOLLOWER_KEY].channel.read() == outcome
        return outcome["error"]
    return reload


ROADS = ["start", "admin route", "master (SIGHUP)"]


@pytest.fixture
def road(request: pytest.FixtureRequest, model_copy: Path, tmp_path: Path) -> Callable[[Path], str]:
    """How the damaged model is offered: the app (when there is one) is built on the sound
    model first, as a running service would be."""
    if request.param == "start":
        return at_start
    app = create_app(settings_for(model_copy))
    return by_admin_route(app) if request.param == "admin route" else by_master(app, tmp_path)


@pytest.fixture
def never_unpickled(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Fails the test if a model file is unpickled after this point."""
    opened: list[Path] = []

    def must_not_unpickle(path: object, *args: object, **kwargs: object) -> None:
        opened.append(Path(str(path)))
        pytest.fail(f"{path} was unpickled")

    monkeypatch.setattr(artifact_module.joblib, "load", must_not_unpickle)
    return opened


@pytest.mark.parametrize("road", ROADS, indirect=True)
def test_one_changed_byte_is_refused_before_unpickling(road: Callable[[Path], str], model_copy: Path,
                                                      never_unpickled: list[Path]) -> None:
    version = add_version(model_copy, "one-byte-changed")
    model = version / MODEL_FILE
    data = bytearray(model.read_bytes())
    data[len(data) // 3] ^= 0x40
    model.write_bytes(bytes(data))
    message = road(model_copy)
    assert str(model) in message and "does not match" in message
    assert never_unpickled == []


@pytest.mark.parametrize("road", ROADS, indirect=True)
@pytest.mark.parametrize("escape", ["current links outside", "a version links outside"])
def test_a_link_out_of_the_models_directory_is_refused(road: Callable[[Path], str], model_copy: Path,
                                                       tmp_path: Path, escape: str,
                                                       never_unpickled: list[Path]) -> None:
    outside = tmp_path / "elsewhere" / "sound-model"
    shutil.copytree((model_copy / CURRENT_LINK).resolve(), outside)  # a sound model, wrong place
    if escape == "current links outside":
        link = model_copy / CURRENT_LINK
        link.unlink()
        link.symlink_to(outside)
    else:
        (model_copy / "v-escape").symlink_to(outside)
        point_current_at(model_copy, "v-escape")
    message = road(model_copy)
    assert "outside the models directory" in message and str(outside) in message
    assert never_unpickled == []


def test_a_model_directory_configured_outside_the_models_directory_is_refused(
        model_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree((model_copy / CURRENT_LINK).resolve(), outside)
    with pytest.raises(ModelError, match="outside the models directory"):
        create_app(settings_for(model_copy, model_dir=outside))


class _Trap:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _manifest_not_json(manifest: Path, trap: bytes) -> str:
    manifest.write_bytes(trap)  # a pickle where the JSON should be: read as JSON, never loaded
    return "not JSON"


def _other_scikit_learn(manifest: Path, trap: bytes) -> str:
    data = json.loads(manifest.read_text())
    data["libraries"]["scikit-learn"] = "0.24.2"
    manifest.write_text(json.dumps(data))
    return "written by scikit-learn 0.24.2"


def _missing_checksum(manifest: Path, trap: bytes) -> str:
    data = json.loads(manifest.read_text())
    del data["model_sha256"]
    manifest.write_text(json.dumps(data))
    return "missing model_sha256"


@pytest.mark.parametrize("road", ROADS, indirect=True)
@pytest.mark.parametrize("bad_manifest", [_manifest_not_json, _other_scikit_learn, _missing_checksum])
def test_a_pickle_is_opened_only_after_its_manifest_is_checked(
        road: Callable[[Path], str], model_copy: Path, tmp_path: Path,
        bad_manifest: Callable[[Path, bytes], str]) -> None:
    # A booby-trapped model.joblib whose checksum the manifest records: only the manifest's
    # other checks stand between it and unpickling.
    marker = tmp_path / "pickle-was-opened"
    trap = pickle.dumps(_Trap(marker))
    version = add_version(model_copy, "trapped")
    (version / MODEL_FILE).write_bytes(trap)
    manifest = version / MANIFEST_FILE
    data = json.loads(manifest.read_text())
    data["model_sha256"] = sha256_of(version / MODEL_FILE)
    manifest.write_text(json.dumps(data))
    problem = bad_manifest(manifest, trap)
    message = road(model_copy)
    assert str(manifest) in message and problem in message
    assert not marker.exists()

