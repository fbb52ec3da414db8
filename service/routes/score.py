"""The scoring API editorial tools call: ``/v1/score``, ``/v1/score/batch``, ``/v1/model``.

Routes are thin: check the request (``service.validation``), score with the one shared scorer
of the served model, and say how many headlines were scored (``g.headlines``) for the request
log line and the metrics.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify

from service.config import Settings
from service.model_holder import current_model
from service.openapi import error_responses, json_body, json_response, ref
from service.validation import (
    batch_texts,
    headline_text,
    optional,
    read_json_object,
    reject_unknown_fields,
    required,
)

blueprint = Blueprint("score", __name__)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


@blueprint.post("/v1/score")
def score_one() -> Response:
    settings = _settings()
    body = read_json_object()
    reject_unknown_fields(body, ("headline",))
    text = headline_text(required(body, "headline", str, "a string"), "headline",
                         settings.max_headline_chars)
    model = current_model()
    scored = model.scorer.score_text(text, explain=True).as_dict()
    g.headlines = 1
    return jsonify(headline=scored["headline"], score=scored["score"], label=scored["label"],
                   threshold=model.scorer.threshold, model_version=model.version, cues=scored["cues"])


@blueprint.post("/v1/score/batch")
def score_batch() -> Response:
    settings = _settings()
    body = read_json_object()
    reject_unknown_fields(body, ("headlines", "explain"))
    headlines = required(body, "headlines", list, "an array of strings")
    explain = optional(body, "explain", bool, "a boolean", True)
    texts = batch_texts(headlines, "headlines", "headlines", settings.max_batch,
                        settings.max_headline_chars)
    model = current_model()
    scorer = model.scorer
    # score_texts gives each headline, to the last bit, what score_text gives it alone (so a
    # score on the threshold cannot flip its label by road), and scores big batches at once.
    results = [r.as_dict() for r in scorer.score_texts(texts, explain=explain)]
    g.headlines = len(results)
    return jsonify(model_version=model.version, threshold=scorer.threshold, results=results)


@blueprint.get("/v1/model")
def model_info() -> Response:
    return jsonify(current_model().info)


def openapi_fragment(settings: Settings) -> dict[str, Any]:
    """This blueprint's part of the OpenAPI document."""
    headline = {
        "type": "string",
        "description": (
            "The headline. It is normalised before scoring (Unicode NFKC, control characters "
            "removed, runs of whitespace collapsed to one space, trimmed); it must not be empty "
            f"after that and may have at most {settings.max_headline_chars} characters (Unicode "
            "code points) after it (MAX_HEADLINE_CHARS)."
        ),
        "minLength": 1,
        "examples": ["You Will Not Believe What This Cat Did"],
    }
    score_fields = {
        "headline": {"type": "string", "description": "The normalised text that was scored."},
        "score": {"type": "number", "minimum": 0, "maximum": 1,
                  "description": "How sensational the phrasing is, 0 to 1 (calibrated probability)."},
        "label": {"type": "string", "enum": ["sensational", "neutral"],
                  "description": "'sensational' when score >= threshold, else 'neutral'."},
    }
    cues = {
        "type": "array", "maxItems": 5, "items": ref("Cue"),
        "description": "Up to 5 features that moved this headline's score most, strongest first.",
    }
    example_cues = [{"text": "You", "weight": 1.2458}, {"text": "This", "weight": 1.209},
                    {"text": "What", "weight": 0.9339}, {"text": "Did", "weight": 0.4472},
                    {"text": "Not", "weight": -0.317}]
    schemas = {
        "Cue": {
            "type": "object",
            "required": ["text", "weight"],
            "properties": {
                "text": {"type": "string", "description": (
                    "A word or phrase of the headline, or a named style feature such as "
                    "'ALL-CAPS words', 'exclamation mark', 'question mark'.")},
                "weight": {"type": "number", "description": (
                    "Signed contribution to the log-odds of sensational; positive pushes "
                    "toward sensational.")},
            },
        },
        "ScoreRequest": {
            "type": "object",
            "required": ["headline"],
            "additionalProperties": False,
            "properties": {"headline": headline},
        },
        "ScoreResponse": {
            "type": "object",
            "required": ["headline", "score", "label", "threshold", "model_version", "cues"],
            "properties": {
                **score_fields,
                "threshold": {"type": "number", "description": "The model's decision threshold."},
                "model_version": {"type": "string"},
                "cues": cues,
            },
        },
        "BatchRequest": {
            "type": "object",
            "required": ["headlines"],
            "additionalProperties": False,
            "properties": {
                "headlines": {"type": "array", "items": headline, "minItems": 1,
                              "maxItems": settings.max_batch,
                              "description": f"1 to {settings.max_batch} headlines (MAX_BATCH). "
                                             "One invalid headline rejects the batch, naming it "
                                             "as headlines[i]."},
                "explain": {"type": "boolean", "default": True,
                            "description": "false leaves out the cues, which is faster."},
            },
        },
        "BatchResult": {
            "type": "object",
            "required": ["headline", "score", "label"],
            "properties": {**score_fields, "cues": cues},
        },
        "BatchResponse": {
            "type": "object",
            "required": ["model_version", "threshold", "results"],
            "properties": {
                "model_version": {"type": "string"},
                "threshold": {"type": "number"},
                "results": {"type": "array", "items": ref("BatchResult"),
                            "description": "One result per headline, in input order; 'cues' only "
                                           "when explain is true."},
            },
        },
        "ModelInfo": {
            "type": "object",
            "required": ["version", "threshold", "datasets", "metrics"],
            "properties": {
                "version": {"type": "string"},
                "created_at": {"type": ["string", "null"], "description": "UTC time of training."},
                "threshold": {"type": "number"},
                "threshold_rule": {"type": ["string", "null"]},
                "datasets": {"type": "array", "items": {"type": "object"},
                             "description": "The training data as recorded in the manifest."},
                "metrics": {"type": "object", "description": "The evaluation, per dataset."},
                "libraries": {"type": "object", "additionalProperties": {"type": "string"}},
                "model_sha256": {"type": ["string", "null"]},
            },
        },
    }
    paths = {
        "/v1/score": {"post": {
            "tags": ["scoring"],
            "operationId": "scoreHeadline",
            "summary": "Score one headline",
            "description": "Score, label and the cues that explain the score.",
            "requestBody": json_body("ScoreRequest",
                                     {"headline": "You Will Not Believe What This Cat Did"}),
            "responses": {
                "200": json_response("The score.", "ScoreResponse", {
                    "headline": "You Will Not Believe What This Cat Did", "score": 0.9444,
                    "label": "sensational", "threshold": 0.236,
                    "model_version": "20261127-084526-aff22a8e", "cues": example_cues}),
                **error_responses(400, 413, 415, 422, 500),
            },
        }},
        "/v1/score/batch": {"post": {
            "tags": ["scoring"],
            "operationId": "scoreHeadlines",
            "summary": "Score many headlines",
            "description": "Scores in input order. Set explain to false to skip the cues.",
            "requestBody": json_body("BatchRequest", {
                "headlines": ["You Will Not Believe What This Cat Did",
                              "Parliament passes the budget bill"],
                "explain": False}),
            "responses": {
                "200": json_response("The scores, in input order.", "BatchResponse", {
                    "model_version": "20261127-084526-aff22a8e", "threshold": 0.236,
                    "results": [
                        {"headline": "You Will Not Believe What This Cat Did", "score": 0.9444,
                         "label": "sensational"},
                        {"headline": "Parliament passes the budget bill", "score": 0.0215,
                         "label": "neutral"}]}),
                **error_responses(400, 413, 415, 422, 500),
            },
        }},
        "/v1/model": {"get": {
            "tags": ["model"],
            "operationId": "getModel",
            "summary": "The model being served",
            "description": "Version, creation time, training data, evaluation metrics and threshold, "
                           "from the model's manifest.",
            "responses": {
                "200": json_response("The model's facts.", "ModelInfo"),
                **error_responses(500),
            },
        }},
    }
    return {
        "tags": [{"name": "scoring", "description": "Score headlines."},
                 {"name": "model", "description": "The model being served."}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
