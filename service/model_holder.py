"""The model an app serves: one immutable holder, read once per request.

``create_app`` loads a :class:`LoadedModel` and installs it with :func:`install_model`; every
route takes it with :func:`current_model` once per request and uses only that object, so
replacing the served model is the single assignment in :func:`install_model` and a request
never mixes two models. How the processes of a gunicorn server agree on the model is
:mod:`service.reload`'s business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g

from headline_scorer.artifact import ModelArtifact, ModelError, load_model
from headline_scorer.scorer import HeadlineScorer, ScoredHeadline
from service.config import Settings

MODEL_KEY = "headline_model"
METRICS_KEY = "headline_metrics"
# Scored at start-up and by the readiness checks: a model that cannot score this is not served.
PROBE_HEADLINE = "Council approves budget for new bridge after public consultation"


@dataclass(frozen=True)
class LoadedModel:
    """A verified model artifact, its scorer, and the facts ``GET /v1/model`` reports."""

    artifact: ModelArtifact
    scorer: HeadlineScorer
    info: dict[str, Any]

    @property
    def version(self) -> str:
        return self.scorer.version

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact) -> LoadedModel:
        manifest = artifact.manifest
        info = {
            "version": artifact.version,
            "created_at": manifest.get("created_at"),
            "threshold": artifact.threshold,
            "threshold_rule": manifest.get("threshold_rule"),
            "datasets": manifest.get("datasets", []),
            "metrics": manifest.get("metrics", {}),
            "libraries": manifest.get("libraries", {}),
            "model_sha256": manifest.get("model_sha256"),
        }
        loaded = cls(artifact=artifact, scorer=HeadlineScorer.from_artifact(artifact), info=info)
        problem = loaded.probe()
        if problem:
            raise ModelError(f"{artifact.directory}: {problem}")
        return loaded

    @classmethod
    def load(cls, settings: Settings) -> LoadedModel:
        """Load and verify the configured model; :class:`ModelError` names the bad file."""
        return cls.from_artifact(load_model(settings.model_dir, settings.models_root))

    def probe(self) -> str | None:
        """Score the probe headline; None when that works, otherwise what went wrong."""
        try:
            score = self.scorer.score(PROBE_HEADLINE, explain=True).score
        except Exception as exc:  # any failure means "not ready"; the caller reports it
            return f"the probe headline cannot be scored ({type(exc).__name__}: {exc})"
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            return f"the probe headline scores {score!r}, not a number in [0, 1]"
        return None


def install_model(app: Flask, model: LoadedModel) -> None:
    """Make ``model`` the one ``app`` serves from its next request on."""
    app.extensions[MODEL_KEY] = model
    metrics = app.extensions.get(METRICS_KEY)
    if metrics is not None:
        metrics.model_loaded(model.version)


def current_model() -> LoadedModel:
    """The model of the app handling this request; read it once per request."""
    return current_app.extensions[MODEL_KEY]


def count_served(model: LoadedModel, results: Sequence[ScoredHeadline]) -> None:
    """Note what a scoring route returns: how many headlines (request log and metrics), and
    their scores and labels under ``model``'s version (the drift metrics)."""
    g.headlines = len(results)
    current_app.extensions[METRICS_KEY].served(
        model.version, [r.score for r in results], [r.label for r in results])
