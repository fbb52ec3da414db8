"""The Open Inference Protocol (KServe V2, REST) in front of the same scorer.

So the service drops into KServe / Seldon tooling: server and model health, model metadata and
``POST /v2/models/headline-scorer/infer``, which takes one BYTES input tensor ``headline`` of
shape ``[N]`` or ``[N, 1]`` and returns an FP32 tensor ``score`` (and a BYTES tensor ``label``)
of shape ``[N]``. The scores are the FP32 roundings of what ``/v1/score`` returns. Errors use
the service's one error shape rather than the protocol's bare ``{"error": "..."}`` string; both
have the message under ``error``. The binary tensor extension is not supported (such a request
is not JSON and gets a 415).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app, g, jsonify

from service.config import Settings
from service.errors import ApiError, ValidationError
from service.model_holder import LoadedModel, current_model
from service.openapi import error_responses, json_body, json_response, ref, service_version
from service.validation import (
    batch_texts,
    expect_type,
    optional,
    read_json_object,
    reject_unknown_fields,
    required,
)

MODEL_NAME = "headline-scorer"
INPUT_NAME = "headline"
OUTPUTS = {"score": "FP32", "label": "BYTES"}

blueprint = Blueprint("kserve", __name__)


def _served_model(model_name: str, model_version: str | None) -> LoadedModel:
    model = current_model()
    if model_name != MODEL_NAME or model_version not in (None, model.version):
        wanted = model_name if model_version is None else f"{model_name} version {model_version}"
        raise ApiError(404, "model_not_found",
                       f"no model {wanted!r} here; this server serves {MODEL_NAME!r} version "
                       f"{model.version!r}")
    return model


@blueprint.get("/v2")
def server_metadata() -> Response:
    return jsonify(name=MODEL_NAME, version=service_version(), extensions=[])


@blueprint.get("/v2/health/live")
def server_live() -> Response:
    return jsonify(live=True)


@blueprint.get("/v2/health/ready")
def server_ready() -> Response:
    ready = current_model().probe() is None
    response = jsonify(ready=ready)
    response.status_code = 200 if ready else 503
    return response


@blueprint.get("/v2/models/<model_name>")
@blueprint.get("/v2/models/<model_name>/versions/<model_version>")
def model_metadata(model_name: str, model_version: str | None = None) -> Response:
    model = _served_model(model_name, model_version)
    return jsonify(
        name=MODEL_NAME,
        versions=[model.version],
        platform="scikit-learn",
        inputs=[{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        outputs=[{"name": name, "datatype": datatype, "shape": [-1]}
                 for name, datatype in OUTPUTS.items()],
    )


@blueprint.get("/v2/models/<model_name>/ready")
@blueprint.get("/v2/models/<model_name>/versions/<model_version>/ready")
def model_ready(model_name: str, model_version: str | None = None) -> Response:
    ready = _served_model(model_name, model_version).probe() is None
    response = jsonify(name=MODEL_NAME, ready=ready)
    response.status_code = 200 if ready else 503
    return response


def _headlines_of(tensor: Any, settings: Settings) -> list[str]:
    """The normalised headlines of the input tensor, checked against its shape."""
    where = "inputs[0]"
    tensor = expect_type(tensor, dict, "a tensor object", where)
    reject_unknown_fields(tensor, ("name", "shape", "datatype", "parameters", "data"), f"{where}.")
    name = required(tensor, "name", str, "a string", f"{where}.")
    if name != INPUT_NAME:
        raise ValidationError("bad_tensor", f"the input tensor must be named {INPUT_NAME!r}, not {name!r}",
                              f"{where}.name")
    datatype = required(tensor, "datatype", str, "a string", f"{where}.")
    if datatype != "BYTES":
        raise ValidationError("bad_tensor", f"the input tensor's datatype must be BYTES, not {datatype!r}",
                              f"{where}.datatype")
    shape = required(tensor, "shape", list, "an array of integers", f"{where}.")
    if not (1 <= len(shape) <= 2 and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                         for d in shape) and shape[1:] in ([], [1])):
        raise ValidationError("bad_tensor", f"the shape must be [N] or [N, 1], got {shape!r}",
                              f"{where}.shape")
    data = required(tensor, "data", list, "an array", f"{where}.")
    # The protocol allows the data nested by the shape or flattened in row-major order.
    if len(shape) == 2 and data and all(isinstance(row, list) for row in data):
        if any(len(row) != 1 for row in data):
            raise ValidationError("bad_tensor", "with shape [N, 1] each row of data holds one headline",
                                  f"{where}.data")
        data = [row[0] for row in data]
    count = shape[0]
    if len(data) != count:
        raise ValidationError("bad_tensor", f"shape {shape!r} says {count} headlines, data holds {len(data)}",
                              f"{where}.data")
    return batch_texts(data, "the input tensor", f"{where}.data", settings.max_batch,
                       settings.max_headline_chars)


def _requested_outputs(body: dict[str, Any]) -> list[str]:
    wanted = optional(body, "outputs", list, "an array of output objects", None)
    if wanted is None:
        return list(OUTPUTS)
    names = []
    for i, entry in enumerate(wanted):
        field = f"outputs[{i}]"
        entry = expect_type(entry, dict, "an object", field)
        reject_unknown_fields(entry, ("name", "parameters"), f"{field}.")
        name = required(entry, "name", str, "a string", f"{field}.")
        if name not in OUTPUTS:
            raise ValidationError("bad_tensor", f"no output {name!r}; outputs are {', '.join(OUTPUTS)}",
                                  f"{field}.name")
        names.append(name)
    return names


@blueprint.post("/v2/models/<model_name>/infer")
@blueprint.post("/v2/models/<model_name>/versions/<model_version>/infer")
def infer(model_name: str, model_version: str | None = None) -> Response:
    model = _served_model(model_name, model_version)
    settings: Settings = current_app.config["SETTINGS"]
    body = read_json_object()
    reject_unknown_fields(body, ("id", "parameters", "inputs", "outputs"))
    request_id = optional(body, "id", str, "a string", None)
    optional(body, "parameters", dict, "an object", None)
    inputs = required(body, "inputs", list, "an array of tensors")
    if len(inputs) != 1:
        raise ValidationError("bad_tensor", f"expected exactly one input tensor, got {len(inputs)}",
                              "inputs")
    texts = _headlines_of(inputs[0], settings)
    wanted = _requested_outputs(body)
    results = model.scorer.score_texts(texts)  # as /v1/score/batch
    g.headlines = len(results)
    data = {
        "score": np.asarray([r.score for r in results], dtype=np.float32).tolist(),
        "label": [r.label for r in results],
    }
    out: dict[str, Any] = {"model_name": MODEL_NAME, "model_version": model.version}
    if request_id is not None:
        out["id"] = request_id
    out["outputs"] = [{"name": name, "datatype": OUTPUTS[name], "shape": [len(results)],
                       "data": data[name]} for name in wanted]
    return jsonify(out)


def openapi_fragment(settings: Settings) -> dict[str, Any]:
    model_param = {"name": "model_name", "in": "path", "required": True,
                   "schema": {"type": "string", "enum": [MODEL_NAME]},
                   "description": f"Always {MODEL_NAME!r}; any other name gets a 404."}
    version_param = {"name": "model_version", "in": "path", "required": True,
                     "schema": {"type": "string"},
                     "description": "The served model's version; any other gets a 404."}
    tensor_shape = {"type": "array", "items": {"type": "integer", "minimum": 0},
                    "minItems": 1, "maxItems": 2}
    schemas = {
        "V2ServerMetadata": {
            "type": "object", "required": ["name", "version", "extensions"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                           "extensions": {"type": "array", "items": {"type": "string"}}},
        },
        "V2Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
        "V2Ready": {"type": "object", "required": ["ready"], "properties": {
            "name": {"type": "string"}, "ready": {"type": "boolean"}}},
        "V2TensorMetadata": {
            "type": "object", "required": ["name", "datatype", "shape"],
            "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
                           "shape": {"type": "array", "items": {"type": "integer"}}},
        },
        "V2ModelMetadata": {
            "type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"],
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": ref("V2TensorMetadata")},
                "outputs": {"type": "array", "items": ref("V2TensorMetadata")},
            },
        },
        "V2InputTensor": {
            "type": "object", "required": ["name", "shape", "datatype", "data"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "enum": [INPUT_NAME]},
                "shape": {**tensor_shape, "description": "[N] or [N, 1]; N from 1 to "
                          f"{settings.max_batch} (MAX_BATCH)."},
                "datatype": {"type": "string", "enum": ["BYTES"]},
                "parameters": {"type": "object"},
                "data": {"type": "array", "description": "N headlines, flat or nested as [[h], ...]; "
                         "each checked like the headline of /v1/score."},
            },
        },
        "V2RequestedOutput": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "enum": list(OUTPUTS)},
                           "parameters": {"type": "object"}},
        },
        "V2InferenceRequest": {
            "type": "object", "required": ["inputs"], "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "description": "Echoed in the response."},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": ref("V2InputTensor"), "minItems": 1,
                           "maxItems": 1},
                "outputs": {"type": "array", "items": ref("V2RequestedOutput"),
                            "description": "Which outputs to return (default: all)."},
            },
        },
        "V2OutputTensor": {
            "type": "object", "required": ["name", "shape", "datatype", "data"],
            "properties": {
                "name": {"type": "string", "enum": list(OUTPUTS)},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "datatype": {"type": "string", "enum": sorted(set(OUTPUTS.values()))},
                "data": {"type": "array", "items": {"type": ["number", "string"]}},
            },
        },
        "V2InferenceResponse": {
            "type": "object", "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": ref("V2OutputTensor")},
            },
        },
    }
    infer_op = {
        "tags": ["kserve"],
        "summary": "Score headlines (Open Inference Protocol)",
        "description": "Input BYTES tensor 'headline'; outputs FP32 'score' and BYTES 'label'.",
        "requestBody": json_body("V2InferenceRequest", {
            "id": "42",
            "inputs": [{"name": "headline", "shape": [2], "datatype": "BYTES",
                        "data": ["You Will Not Believe What This Cat Did",
                                 "Parliament passes the budget bill"]}]}),
        "responses": {
            "200": json_response("The scores, in input order.", "V2InferenceResponse", {
                "model_name": MODEL_NAME, "model_version": "20261127-084526-aff22a8e", "id": "42",
                "outputs": [
                    {"name": "score", "datatype": "FP32", "shape": [2], "data": [0.9444, 0.0215]},
                    {"name": "label", "datatype": "BYTES", "shape": [2],
                     "data": ["sensational", "neutral"]}]}),
            **error_responses(400, 404, 413, 415, 422, 500),
        },
    }
    metadata_op = {
        "tags": ["kserve"], "summary": "Model metadata (Open Inference Protocol)",
        "responses": {"200": json_response("The model's name, versions and tensors.", "V2ModelMetadata"),
                      **error_responses(404, 500)},
    }
    ready_op = {
        "tags": ["kserve"], "summary": "Model readiness (Open Inference Protocol)",
        "responses": {"200": json_response("Ready.", "V2Ready", {"name": MODEL_NAME, "ready": True}),
                      "503": json_response("Not ready.", "V2Ready", {"name": MODEL_NAME, "ready": False}),
                      **error_responses(404)},
    }

    def with_params(op: dict[str, Any], operation_id: str, versioned: bool) -> dict[str, Any]:
        params = [model_param, version_param] if versioned else [model_param]
        return {**op, "operationId": operation_id, "parameters": params}

    paths: dict[str, Any] = {
        "/v2": {"get": {
            "tags": ["kserve"], "operationId": "v2ServerMetadata", "summary": "Server metadata",
            "responses": {"200": json_response("Name, version, protocol extensions.", "V2ServerMetadata")},
        }},
        "/v2/health/live": {"get": {
            "tags": ["kserve"], "operationId": "v2Live", "summary": "Server liveness",
            "responses": {"200": json_response("Alive.", "V2Live", {"live": True})},
        }},
        "/v2/health/ready": {"get": {
            "tags": ["kserve"], "operationId": "v2Ready", "summary": "Server readiness",
            "responses": {"200": json_response("Ready.", "V2Ready", {"ready": True}),
                          "503": json_response("Not ready.", "V2Ready", {"ready": False})},
        }},
    }
    base = "/v2/models/{model_name}"
    versioned = base + "/versions/{model_version}"
    for prefix, is_versioned, suffix_id in ((base, False, ""), (versioned, True, "Version")):
        paths[prefix] = {"get": with_params(metadata_op, f"v2ModelMetadata{suffix_id}", is_versioned)}
        paths[prefix + "/ready"] = {"get": with_params(ready_op, f"v2ModelReady{suffix_id}", is_versioned)}
        paths[prefix + "/infer"] = {"post": with_params(infer_op, f"v2Infer{suffix_id}", is_versioned)}
    return {
        "tags": [{"name": "kserve", "description": "Open Inference Protocol (KServe V2) endpoints."}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
