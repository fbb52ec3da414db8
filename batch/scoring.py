"""Where batch scores come from: a model loaded in this process, or a running service.

A :data:`Scoring` turns a list of headlines into one :class:`~batch.formats.Scored` each, in
order; both back-ends give every headline, to the last bit, what ``/v1/score`` gives it, so
the output does not depend on the road. :func:`load_batch_model` resolves the model the
batch tools load, through :class:`headline_scorer.paths.Paths` like every other tool.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from batch.formats import InputFile, Scored, scored_table
from headline_scorer.artifact import ModelArtifact, load_model
from headline_scorer.client import HeadlineClient, HeadlineRejected
from headline_scorer.paths import Paths
from headline_scorer.scorer import EmptyHeadline, HeadlineScorer
from headline_scorer.text import normalise_text

Scoring = Callable[[list[str], bool], list[Scored]]


def load_batch_model(model: Path | None) -> ModelArtifact:
    """The model ``--model`` names (a version or a models directory), else the configured one
    (``HEADLINE_MODEL_DIR``, kept inside ``HEADLINE_MODELS_DIR``); ModelError when unusable."""
    if model is not None:
        return load_model(model)
    paths = Paths.from_env()
    return load_model(paths.model_dir, paths.models_root)


def local_scoring(scorer: HeadlineScorer) -> Scoring:
    """Score with a loaded model. ``score_many`` gives each headline, to the last bit, what
    ``/v1/score`` gives it, and scores a whole chunk at once."""

    def score(texts: list[str], explain: bool) -> list[Scored]:
        out = []
        for result in scorer.score_many(texts, explain):
            if isinstance(result, EmptyHeadline):
                out.append(Scored("", error=str(result)))
            else:
                cues = result.as_dict().get("cues")
                out.append(Scored(result.headline, result.score, result.label, cues))
        return out

    return score


def remote_scoring(client: HeadlineClient) -> Scoring:
    """Score through a running service, in batches of the service's size."""

    def score(texts: list[str], explain: bool) -> list[Scored]:
        out = []
        for text, result in zip(texts, client.score_many(texts, explain=explain, invalid="return")):
            if isinstance(result, HeadlineRejected):
                out.append(Scored(normalise_text(text), error=str(result)))
            else:
                out.append(Scored(result["headline"], result["score"], result["label"],
                                  result.get("cues")))
        return out

    return score


def score_table(table: pa.Table, source: InputFile, scoring: Scoring, explain: bool) -> pa.Table:
    """``table`` (input columns) scored: text normalised, score/label/[cues]/error appended."""
    texts = ["" if value is None else value for value in table.column(source.text_column).to_pylist()]
    return scored_table(table, source, scoring(texts, explain), explain)
