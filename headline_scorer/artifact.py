"""The model artifact format: the one place that writes, verifies and loads a model.

A model lives in ``models/<version>/``::

    model.joblib     the fitted scikit-learn Pipeline
    manifest.json    format version, versions of the libraries, data, hyperparameters,
                     threshold, metrics and the sha256 of model.joblib
    metrics.json     the evaluation, per dataset
    MODEL_CARD.md    the human-readable account of the model (plus any PNG plots)

``models/current`` is a symbolic link to the newest complete version. A version is built in a
hidden temporary directory and renamed into place, and the link is swapped with an atomic
rename, so an interrupted training never leaves a broken current model.

Loading reads ``manifest.json`` as JSON (never unpickled), checks its format and the
scikit-learn version, then checks the sha256 of ``model.joblib`` before unpickling it. Nothing
else in the code base opens a ``.joblib`` file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.pipeline import Pipeline

FORMAT_VERSION = 2  # 2: the pipeline pickles headline_scorer.* (1 pickled service.text.*)
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "MODEL_CARD.md"
CURRENT_LINK = "current"
RETRAIN_HINT = "retrain with `make train`"


class ModelError(RuntimeError):
    """A model cannot be used; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class ModelArtifact:
    """A verified, loaded model: its directory, its manifest and the fitted pipeline."""

    directory: Path
    manifest: dict[str, Any]
    pipeline: Pipeline

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def threshold(self) -> float:
        return float(self.manifest["threshold"])

    @property
    def model_file(self) -> Path:
        return self.directory / str(self.manifest.get("model_file", MODEL_FILE))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def git_commit(cwd: Path) -> str | None:
    """The commit the code was at (with "-dirty" when the work tree has changes), if known."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def write_model(
    pipeline: Pipeline,
    manifest: dict[str, Any],
    metrics: dict[str, Any],
    models_dir: Path,
    write_extras: Callable[[Path], None] | None = None,
) -> Path:
    """Write a new model version under ``models_dir`` and point ``current`` at it.

    ``manifest`` supplies the training facts (datasets, hyperparameters, threshold, ...); this
    function adds the format version, version name, creation time, library versions and the
    model's sha256. ``write_extras(directory)`` may add the model card and plots before the
    version is published. Returns the new version's directory.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=models_dir))
    os.chmod(staging, 0o755)  # mkdtemp makes it private; the service may run as another user
    try:
        model_path = staging / MODEL_FILE
        joblib.dump(pipeline, model_path, compress=3)
        digest = sha256_of(model_path)
        base = f"{created:%Y%m%d-%H%M%S}-{digest[:8]}"
        version, copy = base, 1
        # Training is deterministic, so the same model can be written twice within a second.
        while (models_dir / version).exists():
            copy += 1
            version = f"{base}-{copy}"
        full_manifest = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": created.isoformat(timespec="seconds"),
            "libraries": library_versions(),
            **manifest,
            "metrics": metrics,
            "model_file": MODEL_FILE,
            "model_sha256": digest,
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(full_manifest, indent=2) + "\n")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
        if write_extras is not None:
            write_extras(staging)
        final = models_dir / version
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    point_current_at(models_dir, version)
    return final


def point_current_at(models_dir: Path, version: str) -> None:
    """Atomically make ``models_dir/current`` a link to ``version``."""
    link = models_dir / CURRENT_LINK
    tmp_link = models_dir / f".{CURRENT_LINK}-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(version, tmp_link)
    os.replace(tmp_link, link)


def resolve_model_dir(path: Path) -> Path:
    """A version directory from either a version directory or a models directory (its current)."""
    if (path / MANIFEST_FILE).exists() or not (path / CURRENT_LINK).exists():
        return path
    return path / CURRENT_LINK


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read and check ``manifest.json`` of a version directory, without touching the pickle."""
    path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: missing; no model here ({RETRAIN_HINT})") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable or not JSON ({exc}); {RETRAIN_HINT}") from exc
    if not isinstance(manifest, dict):
        raise ModelError(f"{path}: expected a JSON object; {RETRAIN_HINT}")
    required = ("format_version", "version", "threshold", "model_sha256", "libraries")
    missing = [key for key in required if key not in manifest]
    if missing:
        raise ModelError(f"{path}: missing {', '.join(missing)}; {RETRAIN_HINT}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format {manifest['format_version']!r}, this code reads "
            f"{FORMAT_VERSION}; {RETRAIN_HINT}"
        )
    if not isinstance(manifest["libraries"], dict):
        raise ModelError(f"{path}: libraries must be an object of versions; {RETRAIN_HINT}")
    trained_with = str(manifest["libraries"].get("scikit-learn", "?"))
    if _minor(trained_with) != _minor(sklearn.__version__):
        raise ModelError(
            f"{path}: written by scikit-learn {trained_with}, this is {sklearn.__version__}; "
            f"{RETRAIN_HINT}"
        )
    threshold = manifest["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not (
        0 < threshold < 1
    ):
        raise ModelError(f"{path}: threshold must be a number in (0, 1); {RETRAIN_HINT}")
    return manifest


def load_model(path: Path, models_root: Path | None = None) -> ModelArtifact:
    """Load and verify a model from a version directory or a models directory.

    When ``models_root`` is given, the resolved model must lie inside it (symbolic links
    followed), so a configuration or link can never point the loader elsewhere.
    Raises :class:`ModelError` naming the file for anything missing, corrupt or incompatible.
    """
    directory = resolve_model_dir(Path(path))
    real = directory.resolve()
    if models_root is not None:
        root = Path(models_root).resolve()
        if real != root and root not in real.parents:
            raise ModelError(f"{directory}: resolves to {real}, outside the models directory {root}")
    if not real.is_dir():
        raise ModelError(f"{directory}: no model directory here ({RETRAIN_HINT})")
    manifest = read_manifest(real)
    model_path = real / str(manifest.get("model_file", MODEL_FILE))
    if model_path.parent != real:
        raise ModelError(f"{real / MANIFEST_FILE}: model_file must name a file in {real}")
    pipeline = load_pipeline_file(model_path, manifest["model_sha256"])
    return ModelArtifact(directory=real, manifest=manifest, pipeline=pipeline)


def load_pipeline_file(path: Path, sha256: object) -> Pipeline:
    """Unpickle the pipeline in ``path`` once its content matches ``sha256`` (its manifest's
    digest). Raises :class:`ModelError` naming the file when it cannot be read, does not
    match, cannot be unpickled or holds no headline-scorer pipeline."""
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc}); {RETRAIN_HINT}") from exc
    if actual != sha256:
        raise ModelError(
            f"{path}: sha256 {actual} does not match the manifest's "
            f"{sha256}; the file is corrupt or was changed ({RETRAIN_HINT})"
        )
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # unpickling can raise nearly anything on a damaged file
        raise ModelError(f"{path}: cannot be unpickled ({exc}); {RETRAIN_HINT}") from exc
    if not isinstance(pipeline, Pipeline) or "clf" not in pipeline.named_steps:
        raise ModelError(f"{path}: not a headline-scorer pipeline; {RETRAIN_HINT}")
    return pipeline
