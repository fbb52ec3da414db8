"""The contract's refusals, message by message: what a client reads in ``error.message``.

tests/test_api.py checks each refusal's status, code and field over HTTP; these pin the
wording of the messages the service has always sent (and the one message a pydantic error
would otherwise replace), straight through :func:`service.contract.validate`.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from service.config import Settings
from service.contract import (
    BatchRequest,
    Contract,
    FeedbackQuery,
    FeedbackRequest,
    ScoreRequest,
    V2InferenceRequest,
    validate,
)
from service.errors import ValidationError
from service.openapi import operation
from service.request_body import parse_body

LIMITS = Settings(max_headline_chars=80, max_batch=5)
CAT = "You Will Not Believe What This Cat Did"


def _tensor(**fields: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "headline", "datatype": "BYTES", "shape": [1], "data": [CAT], **fields}]}


@pytest.mark.parametrize(("model", "body", "code", "field", "message"), [
    (ScoreRequest, [CAT], "wrong_type", None, "the body must be a JSON object, got array"),
    (ScoreRequest, {}, "missing_field", "headline", "the field 'headline' is required"),
    (ScoreRequest, {"headline": 5}, "wrong_type", "headline", "headline must be a string, got number"),
    (ScoreRequest, {"headline": CAT, "explain": True}, "unknown_field", "explain",
     "unknown field 'explain'; expected only headline"),
    (ScoreRequest, {"headline": "\u200b "}, "empty_headline", "headline",
     "headline is empty after removing whitespace and control characters"),
    (ScoreRequest, {"headline": "x" * 81}, "headline_too_long", "headline",
     "headline has 81 characters after normalisation; the limit is 80 (MAX_HEADLINE_CHARS)"),
    (BatchRequest, {"headlines": CAT}, "wrong_type", "headlines",
     "headlines must be an array of strings, got string"),
    (BatchRequest, {"headlines": []}, "empty_batch", "headlines",
     "headlines must hold at least one headline"),
    (BatchRequest, {"headlines": [7] * 6}, "batch_too_large", "headlines",
     "headlines holds 6 headlines; the limit is 5 (MAX_BATCH)"),
    (BatchRequest, {"headlines": [CAT, 7]}, "wrong_type", "headlines[1]",
     "headlines[1] must be a string, got number"),
    (BatchRequest, {"headlines": [CAT], "explain": 1}, "wrong_type", "explain",
     "explain must be a boolean, got number"),
    (FeedbackRequest, {"headline": CAT, "label": "clickbait"}, "invalid_label", "label",
     "label must be 'sensational' or 'neutral', got 'clickbait'"),
    (FeedbackRequest, {"headline": CAT, "label": "neutral", "note": "n" * 2001}, "note_too_long", "note",
     "note has 2001 characters; the limit is 2000"),
    (V2InferenceRequest, {"inputs": []}, "bad_tensor", "inputs", "expected exactly one input tensor, got 0"),
    (V2InferenceRequest, {"inputs": ["x"]}, "wrong_type", "inputs[0]",
     "inputs[0] must be a tensor object, got string"),
    (V2InferenceRequest, _tensor(name="text"), "bad_tensor", "inputs[0].name",
     "the input tensor must be named 'headline', not 'text'"),
    (V2InferenceRequest, _tensor(datatype="FP32"), "bad_tensor", "inputs[0].datatype",
     "the input tensor's datatype must be BYTES, not 'FP32'"),
    (V2InferenceRequest, _tensor(shape=[1, 2]), "bad_tensor", "inputs[0].shape",
     "the shape must be [N] or [N, 1], got [1, 2]"),
    (V2InferenceRequest, _tensor(shape=[3]), "bad_tensor", "inputs[0].data",
     "shape [3] says 3 headlines, data holds 1"),
    (V2InferenceRequest, _tensor(shape=[2, 1], data=[[CAT, CAT], [CAT]]), "bad_tensor", "inputs[0].data",
     "with shape [N, 1] each row of data holds one headline"),
    (V2InferenceRequest, _tensor(shape=[2, 1], data=[[CAT], [" "]]), "empty_headline", "inputs[0].data[1]",
     "inputs[0].data[1] is empty after removing whitespace and control characters"),
    (V2InferenceRequest, _tensor(shape=[0], data=[]), "empty_batch", "inputs[0].data",
     "the input tensor must hold at least one headline"),
    (V2InferenceRequest, {**_tensor(), "outputs": [{"name": "probability"}]}, "bad_tensor",
     "outputs[0].name", "no output 'probability'; outputs are score, label"),
    # An object's unknown fields come first, the outer object's before an inner one's.
    (V2InferenceRequest, {**_tensor(zz=1), "top": 3, "id": 3}, "unknown_field", "top",
     "unknown field 'top'; expected only id, inputs, model_name, model_version, outputs, "
     "parameters"),
    (V2InferenceRequest, {**_tensor(zz=1, name=3)}, "unknown_field", "inputs[0].zz",
     "unknown field 'zz'; expected only data, datatype, name, parameters, shape"),
])
def test_a_refused_body_gets_the_services_message(model: type[Contract], body: Any, code: str,
                                                  field: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate(model, body, LIMITS)
    assert (refused.value.code, refused.value.field, refused.value.message) == (code, field, message)


@pytest.mark.parametrize(("query", "code", "field", "message"), [
    ({"page": "2"}, "unknown_field", "page", "unknown query parameter 'page'; expected only after_id, "
                                             "format, limit"),
    ({"format": "xml"}, "invalid_parameter", "format",
     "format must be one of json, csv, csv-raw, jsonl, got 'xml'"),
    ({"limit": "+5"}, "invalid_parameter", "limit", "limit must be a whole number from 1 to 1000, got '+5'"),
    ({"format": "csv", "limit": "5"}, "unknown_field", "limit",
     "limit applies to the JSON list only; an export holds every record after after_id"),
])
def test_a_refused_query_gets_the_services_message(query: dict[str, str], code: str, field: str,
                                                   message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate(FeedbackQuery, query, LIMITS, where="query")
    assert (refused.value.code, refused.value.field, refused.value.message) == (code, field, message)


def test_valid_bodies_come_back_normalised() -> None:
    batch = validate(BatchRequest, {"headlines": ["  Ｃat\tnews "]}, LIMITS)
    assert (batch.headlines, batch.explain) == (["Cat news"], True)
    rows = validate(V2InferenceRequest, _tensor(shape=[2, 1], data=[[CAT], [" x "]]), LIMITS)
    assert rows.inputs[0].data == [CAT, "x"]
    note = validate(FeedbackRequest, {"headline": CAT, "label": "neutral", "note": " \t "}, LIMITS)
    assert note.note is None
    assert validate(FeedbackQuery, {"after_id": "3"}, LIMITS, where="query").after_id == 3


def test_a_view_reading_another_body_than_it_declares_fails_loudly() -> None:
    # The document shows each view's declared body; reading another would make it lie.
    app = Flask("drift")
    app.config.update(SETTINGS=LIMITS, TESTING=True)  # TESTING: the exception reaches the test

    @app.post("/drift")
    @operation(operation_id="drift", tag="scoring", summary="drift", body=BatchRequest, replies={})
    def drift() -> dict[str, str]:
        return {"headline": parse_body(ScoreRequest).headline}

    with pytest.raises(RuntimeError, match="reads its body as ScoreRequest but its operation declares "
                                           "BatchRequest"):
        app.test_client().post("/drift", json={"headline": CAT})
