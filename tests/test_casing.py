"""Casing invariance, fast: a headline in Title Case and in sentence case gets the same score.

The quality gate measures this on the full model (median difference at most 0.01); here the
fixture model, trained by the real training code, must give exactly equal scores, because
every part of the default model reads a headline lower-cased except the shouting feature,
which only counts ALL-CAPS words (left as they are by both rewrites). A part that stopped
lower-casing, in training or in the scorer, fails this in seconds.
"""

from __future__ import annotations

from headline_scorer.artifact import ModelArtifact
from headline_scorer.scorer import HeadlineScorer
from tests.fixture_headlines import make_headlines
from training.evaluate import sentence_case, title_case


def test_title_case_and_sentence_case_score_the_same(scorer: HeadlineScorer, artifact: ModelArtifact) -> None:
    headlines = [text for text, _ in make_headlines(60, seed=31)] + [
        "Council approves budget for the new bridge", "NASA and the FBI study U.S. launch data"]
    titled = [title_case(text) for text in headlines]
    sentenced = [sentence_case(text) for text in headlines]
    assert titled != sentenced
    assert [r.score for r in scorer.score_many(titled)] == [r.score for r in scorer.score_many(sentenced)]
    # The fitted pipeline itself, as training built it, agrees.
    pipeline = artifact.pipeline
    assert list(pipeline.predict_proba(titled)[:, 1]) == list(pipeline.predict_proba(sentenced)[:, 1])
