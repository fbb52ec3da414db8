"""The scoring API editorial tools call: ``/v1/score``, ``/v1/score/batch``, ``/v1/suggest``,
``/v1/model``.

Routes are thin: read the request through its contract model (``service.contract``), score
with the one shared scorer of the served model, and say what was scored (``count_served``) for
the request log line and the metrics.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from headline_scorer.rewrite import suggest_rewrites
from headline_scorer.scorer import band_of
from service.contract import (
    BatchRequest,
    BatchResponse,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
    SuggestRequest,
    SuggestResponse,
)
from service.model_holder import count_served, current_model
from service.openapi import Reply, operation
from service.request_body import parse_body

blueprint = Blueprint("score", __name__)
BODY_ERRORS = (400, 413, 415, 422, 500)


@blueprint.post("/v1/score")
@operation(operation_id="scoreHeadline", tag="scoring", summary="Score one headline",
           description="Score, label and the cues that explain the score.", body=ScoreRequest,
           replies={200: Reply("The score.", ScoreResponse)}, errors=BODY_ERRORS)
def score_one() -> Response:
    text = parse_body(ScoreRequest).headline
    model = current_model()
    result = model.scorer.score_text(text, explain=True)
    count_served(model, [result])
    scored = result.as_dict()
    return jsonify(ScoreResponse(
        headline=scored["headline"], score=scored["score"], label=scored["label"],
        threshold=model.scorer.threshold, model_version=model.version, cues=scored["cues"]))


@blueprint.post("/v1/score/batch")
@operation(operation_id="scoreHeadlines", tag="scoring", summary="Score many headlines",
           description="Scores in input order. Set explain to false to skip the cues.",
           body=BatchRequest, replies={200: Reply("The scores, in input order.", BatchResponse)},
           errors=BODY_ERRORS)
def score_batch() -> Response:
    body = parse_body(BatchRequest)
    model = current_model()
    scorer = model.scorer
    # score_texts gives each headline, to the last bit, what score_text gives it alone (so a
    # score on the threshold cannot flip its label by road), and scores big batches at once.
    scored = scorer.score_texts(body.headlines, explain=body.explain)
    count_served(model, scored)
    results = [r.as_dict() for r in scored]
    return jsonify(BatchResponse(model_version=model.version, threshold=scorer.threshold, results=results))


@blueprint.post("/v1/suggest")
@operation(operation_id="suggestRewrites", tag="scoring", summary="Propose calmer rewrites",
           description="Up to three rewrites of the headline that the model scores lower, calmest "
                       "first, each with its score, band and the edits made (ALL-CAPS ordinary "
                       "words to lower case, '!' runs removed, a hype label dropped, a tabloid verb "
                       "replaced by a plain reporting verb, a teaser frame turned into a statement). "
                       "No rewrite changes a name, a number or a quotation.",
           body=SuggestRequest, replies={200: Reply("The headline's score and the rewrites.",
                                                    SuggestResponse)}, errors=BODY_ERRORS)
def suggest() -> Response:
    text = parse_body(SuggestRequest).headline
    model = current_model()
    scorer = model.scorer
    result = scorer.score_text(text, explain=False)
    suggestions = suggest_rewrites(scorer, text)
    count_served(model, [result])
    return jsonify(SuggestResponse(
        headline=result.headline, score=result.score, label=result.label,
        band=band_of(result.score, scorer.threshold), threshold=scorer.threshold,
        model_version=model.version, suggestions=[s.as_dict() for s in suggestions]))


@blueprint.get("/v1/model")
@operation(operation_id="getModel", tag="model", summary="The model being served",
           description="Version, creation time, training data, evaluation metrics and threshold, "
                       "from the model's manifest.",
           replies={200: Reply("The model's facts.", ModelInfo)}, errors=(500,))
def model_info() -> Response:
    return jsonify(current_model().info)
