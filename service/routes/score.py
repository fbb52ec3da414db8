"""The scoring API editorial tools call: ``/v1/score``, ``/v1/score/batch``, ``/v1/model``.

Routes are thin: read the request through its contract model (``service.contract``), score
with the one shared scorer of the served model, and say how many headlines were scored
(``g.headlines``) for the request log line and the metrics.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from service.contract import (
    BatchRequest,
    BatchResponse,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
)
from service.model_holder import current_model
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
    scored = model.scorer.score_text(text, explain=True).as_dict()
    g.headlines = 1
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
    results = [r.as_dict() for r in scorer.score_texts(body.headlines, explain=body.explain)]
    g.headlines = len(results)
    return jsonify(BatchResponse(model_version=model.version, threshold=scorer.threshold, results=results))


@blueprint.get("/v1/model")
@operation(operation_id="getModel", tag="model", summary="The model being served",
           description="Version, creation time, training data, evaluation metrics and threshold, "
                       "from the model's manifest.",
           replies={200: Reply("The model's facts.", ModelInfo)}, errors=(500,))
def model_info() -> Response:
    return jsonify(current_model().info)
