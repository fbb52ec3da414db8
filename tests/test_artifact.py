"""The model artifact: written whole or not at all, verified before unpickling, refused loudly."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sklearn

import headline_scorer.artifact as artifact_module
from headline_scorer.artifact import (
    CURRENT_LINK,
    MANIFEST_FILE,
    MODEL_FILE,
    ModelArtifact,
    ModelError,
    load_model,
    sha256_of,
    write_model,
)


def training_facts(artifact: ModelArtifact) -> dict:
    """What train.py hands write_model, taken from the fixture model's manifest."""
    return {key: artifact.manifest[key] for key in
            ("git_commit", "datasets", "hyperparameters", "threshold")}


def version_dir(models: Path) -> Path:
    return (models / CURRENT_LINK).resolve()


def edit_manifest(directory: Path, **changes: object) -> Path:
    path = directory / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    return path


def test_round_trip_gives_identical_predictions(artifact: ModelArtifact, tmp_path: Path,
                                                sample_headlines: list[str]) -> None:
    metrics = {"datasets": {"x": {"f1": 0.5}}}
    directory = write_model(artifact.pipeline, training_facts(artifact), metrics, tmp_path)

    loaded = load_model(tmp_path, tmp_path)

    assert loaded.directory == directory
    assert np.array_equal(loaded.pipeline.predict_proba(sample_headlines),
                          artifact.pipeline.predict_proba(sample_headlines))
    assert loaded.threshold == artifact.threshold
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    assert manifest["model_sha256"] == sha256_of(directory / MODEL_FILE)
    assert manifest["version"] == directory.name == loaded.version
    assert manifest["libraries"]["scikit-learn"] == sklearn.__version__
    assert {"python", "numpy", "joblib"} <= set(manifest["libraries"])
    assert manifest["format_version"] == artifact_module.FORMAT_VERSION
    assert manifest["metrics"] == metrics
    assert json.loads((directory / "metrics.json").read_text()) == metrics


def test_current_points_to_the_newest_and_is_swapped_by_one_rename(
        artifact: ModelArtifact, model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = version_dir(model_copy)
    seen_at_swap = []
    real_replace = os.replace

    def replace(src: os.PathLike, dst: os.PathLike) -> None:
        if Path(dst).name == CURRENT_LINK:  # the old link must still be there, whole
            seen_at_swap.append((Path(dst).resolve(), Path(src).is_symlink()))
        real_replace(src, dst)

    monkeypatch.setattr(artifact_module.os, "replace", replace)
    new = write_model(artifact.pipeline, training_facts(artifact), {}, model_copy)

    assert seen_at_swap == [(old, True)]
    assert new != old and old.is_dir()  # the previous version is kept
    assert version_dir(model_copy) == new
    assert os.readlink(model_copy / CURRENT_LINK) == new.name  # relative: the folder can move
    assert load_model(model_copy, model_copy).directory == new
    assert [p.name for p in model_copy.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_no_version_and_current_unchanged(
        artifact: ModelArtifact, model_copy: Path, interruption: BaseException) -> None:
    before = sorted(p.name for p in model_copy.iterdir())
    current = version_dir(model_copy)

    def fail(directory: Path) -> None:
        (directory / "MODEL_CARD.md").write_text("half a card")
        raise interruption

    with pytest.raises(type(interruption)):
        write_model(artifact.pipeline, training_facts(artifact), {}, model_copy, write_extras=fail)

    assert sorted(p.name for p in model_copy.iterdir()) == before
    assert version_dir(model_copy) == current


def test_the_same_model_written_twice_in_one_second_gets_two_versions(
        artifact: ModelArtifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return fixed

    monkeypatch.setattr(artifact_module, "datetime", FrozenClock)
    first = write_model(artifact.pipeline, training_facts(artifact), {}, tmp_path)
    second = write_model(artifact.pipeline, training_facts(artifact), {}, tmp_path)
    assert second.name == f"{first.name}-2"
    assert load_model(tmp_path, tmp_path).version == second.name


# ------------------------------------------------------------------------------- refusals

def test_one_changed_byte_is_refused_before_unpickling(model_copy: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    model = version_dir(model_copy) / MODEL_FILE
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))

    def must_not_unpickle(*args: object, **kwargs: object) -> None:
        pytest.fail("joblib.load was called on a model whose checksum does not match")

    monkeypatch.setattr(artifact_module.joblib, "load", must_not_unpickle)
    with pytest.raises(ModelError) as caught:
        load_model(model_copy, model_copy)
    assert str(model) in str(caught.value)
    assert "does not match" in str(caught.value)


class _Trap:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_a_malicious_pickle_is_never_opened(model_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pickle-was-opened"
    model = version_dir(model_copy) / MODEL_FILE
    model.write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(ModelError, match="does not match"):
        load_model(model_copy, model_copy)
    assert not marker.exists()


def test_another_scikit_learn_minor_version_is_refused_with_retrain_hint(model_copy: Path) -> None:
    major, minor = (int(x) for x in sklearn.__version__.split(".")[:2])
    directory = version_dir(model_copy)
    libraries = json.loads((directory / MANIFEST_FILE).read_text())["libraries"]
    path = edit_manifest(directory, libraries=dict(libraries, **{"scikit-learn": f"{major}.{minor + 1}.0"}))
    with pytest.raises(ModelError) as caught:
        load_model(model_copy, model_copy)
    message = str(caught.value)
    assert str(path) in message
    assert f"{major}.{minor + 1}.0" in message and sklearn.__version__ in message
    assert "retrain with `make train`" in message


def test_another_patch_release_of_scikit_learn_is_accepted(model_copy: Path) -> None:
    major, minor = sklearn.__version__.split(".")[:2]
    directory = version_dir(model_copy)
    libraries = json.loads((directory / MANIFEST_FILE).read_text())["libraries"]
    edit_manifest(directory, libraries=dict(libraries, **{"scikit-learn": f"{major}.{minor}.99"}))
    assert load_model(model_copy, model_copy).directory == directory


def test_a_missing_model_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "20200101-000000-deadbeef"
    with pytest.raises(ModelError, match=re.escape(str(missing))):
        load_model(missing)


def test_a_models_folder_without_any_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=re.escape(str(tmp_path / MANIFEST_FILE))):
        load_model(tmp_path, tmp_path)


def test_a_missing_manifest_is_named(model_copy: Path) -> None:
    path = version_dir(model_copy) / MANIFEST_FILE
    path.unlink()
    with pytest.raises(ModelError, match=f"{re.escape(str(path))}: missing"):
        load_model(version_dir(model_copy), model_copy)


def test_a_manifest_that_is_not_json_is_named(model_copy: Path) -> None:
    path = version_dir(model_copy) / MANIFEST_FILE
    path.write_text("{ this is not json")
    with pytest.raises(ModelError, match=f"{re.escape(str(path))}: unreadable or not JSON"):
        load_model(model_copy, model_copy)


@pytest.mark.parametrize("changes, problem", [
    ({"format_version": 99}, "model format 99"),
    ({"libraries": "scikit-learn 1.0"}, "libraries must be an object"),
    ({"threshold": 1.5}, "threshold must be a number in"),
    ({"model_file": "../elsewhere.joblib"}, "model_file must name a file in"),
])
def test_a_damaged_manifest_is_refused_by_name(model_copy: Path, changes: dict,
                                               problem: str) -> None:
    path = edit_manifest(version_dir(model_copy), **changes)
    with pytest.raises(ModelError) as caught:
        load_model(model_copy, model_copy)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_a_model_of_the_old_format_is_refused_with_the_retrain_hint(model_copy: Path) -> None:
    # Format 1 pickled service.text.* classes; unpickling it is never attempted.
    path = edit_manifest(version_dir(model_copy), format_version=1)
    with pytest.raises(ModelError) as caught:
        load_model(model_copy, model_copy)
    message = str(caught.value)
    assert str(path) in message and "model format 1" in message and "make train" in message


def test_a_saved_pipeline_names_only_the_core(model_copy: Path) -> None:
    """The pickled pipeline refers to headline_scorer.* and the numeric libraries, never to
    the server or training packages, so an environment with the core installed can load it."""
    modules: set[str] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            modules.add(module.split(".")[0])
            return super().find_class(module, name)

    pipeline = load_model(model_copy, model_copy).pipeline
    Recorder(io.BytesIO(pickle.dumps(pipeline))).load()
    assert "headline_scorer" in modules
    assert not modules & {"service", "training", "batch", "tests"}, modules


def test_a_missing_model_file_is_named(model_copy: Path) -> None:
    model = version_dir(model_copy) / MODEL_FILE
    model.unlink()
    with pytest.raises(ModelError, match=f"{re.escape(str(model))}: cannot read"):
        load_model(model_copy, model_copy)


def test_a_model_outside_the_models_root_is_refused(model_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(version_dir(model_copy), outside)
    assert load_model(outside).directory == outside  # a sound model, only in the wrong place

    with pytest.raises(ModelError, match="outside the models directory"):
        load_model(outside, model_copy)
    link = model_copy / CURRENT_LINK
    link.unlink()
    link.symlink_to(outside)
    with pytest.raises(ModelError, match="outside the models directory"):
        load_model(model_copy, model_copy)


def test_a_sibling_folder_named_like_the_models_root_is_outside(model_copy: Path) -> None:
    # "models-evil" starts with "models" as a string; as a path it is not inside it.
    sibling = model_copy.with_name(model_copy.name + "-evil")
    shutil.copytree(version_dir(model_copy), sibling / "v1")
    with pytest.raises(ModelError, match="outside the models directory"):
        load_model(sibling / "v1", model_copy)
    link = model_copy / CURRENT_LINK
    link.unlink()
    link.symlink_to(sibling / "v1")
    with pytest.raises(ModelError, match="outside the models directory"):
        load_model(model_copy, model_copy)
