"""The Open Inference Protocol (KServe V2, REST) in front of the same scorer.

So the service drops into KServe / Seldon tooling: server and model health, model metadata and
``POST /v2/models/headline-scorer/infer``, which takes one BYTES input tensor ``headline`` of
shape ``[N]`` or ``[N, 1]`` and returns an FP32 tensor ``score`` (and a BYTES tensor ``label``)
of shape ``[N]``. The scores are the FP32 roundings of what ``/v1/score`` returns. The tensors'
types are in ``service.contract``.

What the official clients (tritonclient[http], kserve's InferenceRESTClient) need, and get: a
body without Content-Type is read as JSON; the protocol's own fields (``id``, ``model_name``,
``model_version``, ``parameters``) are accepted; and an error is the protocol's
``{"error": "<message>"}`` with its status, carrying the service's ``code``, ``field`` and
``request_id`` beside the message (:class:`~service.contract.V2Error`), whereas /v1 keeps its
own error shape. The binary tensor extension is not supported (such a request is not JSON and
gets a 415).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from service.contract import (
    V2_INPUT_NAME,
    V2_MODEL_NAME,
    V2_OUTPUTS,
    V2Error,
    V2InferenceRequest,
    V2InferenceResponse,
    V2Live,
    V2ModelMetadata,
    V2ModelPath,
    V2OutputTensor,
    V2Ready,
    V2ServerMetadata,
)
from service.errors import ApiError, ValidationError
from service.model_holder import LoadedModel, count_served, current_model
from service.openapi import ERROR_RESPONSES, Reply, operation, service_version
from service.request_body import parse_body

blueprint = Blueprint("kserve", __name__)


def _errors(*statuses: int) -> dict[int, Reply]:
    """The documented error answers of a V2 route, in the protocol's shape."""
    return {status: Reply(ERROR_RESPONSES[status][1], V2Error) for status in statuses}


def protocol_error_shape(response: Response) -> Response:
    """The app's after-request hook for the protocol's paths (``/v2...``).

    Every error there, whoever raised it (routing's 404 and 405, the contract, a route, a 413
    or a bug), leaves the app's error handlers as {"error": {code, message, field,
    request_id}}; the protocol's clients read a string under "error" (tritonclient prints it).
    """
    on_protocol_path = request.path == "/v2" or request.path.startswith("/v2/")
    if on_protocol_path and response.status_code >= 400 and response.is_json:
        detail = (response.get_json(silent=True) or {}).get("error")
        if isinstance(detail, dict):
            response.set_data(jsonify(V2Error(error=detail["message"], code=detail["code"],
                                              field=detail["field"],
                                              request_id=detail.get("request_id"))).get_data())
    return response


def _served_model(model_name: str, model_version: str | None) -> LoadedModel:
    model = current_model()
    if model_name != V2_MODEL_NAME or model_version not in (None, model.version):
        wanted = model_name if model_version is None else f"{model_name} version {model_version}"
        raise ApiError(404, "model_not_found",
                       f"no model {wanted!r} here; this server serves {V2_MODEL_NAME!r} version "
                       f"{model.version!r}")
    return model


def _readiness(body: dict[str, Any], ready: bool) -> Response:
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


@blueprint.get("/v2")
@operation(operation_id="v2ServerMetadata", tag="kserve", summary="Server metadata",
           replies={200: Reply("Name, version, protocol extensions.", V2ServerMetadata)})
def server_metadata() -> Response:
    return jsonify(V2ServerMetadata(name=V2_MODEL_NAME, version=service_version(), extensions=[]))


@blueprint.get("/v2/health/live")
@operation(operation_id="v2Live", tag="kserve", summary="Server liveness",
           replies={200: Reply("Alive.", V2Live, example={"live": True})})
def server_live() -> Response:
    return jsonify(V2Live(live=True))


@blueprint.get("/v2/health/ready")
@operation(operation_id="v2Ready", tag="kserve", summary="Server readiness",
           replies={200: Reply("Ready.", V2Ready, example={"ready": True}),
                    503: Reply("Not ready.", V2Ready, example={"ready": False})})
def server_ready() -> Response:
    ready = current_model().probe() is None
    return _readiness(V2Ready(ready=ready), ready)


@blueprint.get("/v2/models/<model_name>")
@blueprint.get("/v2/models/<model_name>/versions/<model_version>")
@operation(operation_id=("v2ModelMetadata", "v2ModelMetadataVersion"), tag="kserve",
           summary="Model metadata (Open Inference Protocol)", path=V2ModelPath,
           replies={200: Reply("The model's name, versions and tensors.", V2ModelMetadata),
                    **_errors(404, 500)})
def model_metadata(model_name: str, model_version: str | None = None) -> Response:
    model = _served_model(model_name, model_version)
    return jsonify(V2ModelMetadata(
        name=V2_MODEL_NAME,
        versions=[model.version],
        platform="scikit-learn",
        inputs=[{"name": V2_INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        outputs=[{"name": name, "datatype": datatype, "shape": [-1]}
                 for name, datatype in V2_OUTPUTS.items()],
    ))


@blueprint.get("/v2/models/<model_name>/ready")
@blueprint.get("/v2/models/<model_name>/versions/<model_version>/ready")
@operation(operation_id=("v2ModelReady", "v2ModelReadyVersion"), tag="kserve",
           summary="Model readiness (Open Inference Protocol)", path=V2ModelPath,
           replies={200: Reply("Ready.", V2Ready, example={"name": V2_MODEL_NAME, "ready": True}),
                    503: Reply("Not ready.", V2Ready, example={"name": V2_MODEL_NAME, "ready": False}),
                    **_errors(404)})
def model_ready(model_name: str, model_version: str | None = None) -> Response:
    ready = _served_model(model_name, model_version).probe() is None
    return _readiness(V2Ready(name=V2_MODEL_NAME, ready=ready), ready)


@blueprint.post("/v2/models/<model_name>/infer")
@blueprint.post("/v2/models/<model_name>/versions/<model_version>/infer")
@operation(operation_id=("v2Infer", "v2InferVersion"), tag="kserve",
           summary="Score headlines (Open Inference Protocol)",
           description="Input BYTES tensor 'headline'; outputs FP32 'score' and BYTES 'label'.",
           path=V2ModelPath, body=V2InferenceRequest,
           replies={200: Reply("The scores, in input order.", V2InferenceResponse),
                    **_errors(400, 404, 413, 415, 422, 500)})
def infer(model_name: str, model_version: str | None = None) -> Response:
    model = _served_model(model_name, model_version)
    body = parse_body(V2InferenceRequest, untyped_is_json=True)
    for field, given, served in (("model_name", body.model_name, V2_MODEL_NAME),
                                 ("model_version", body.model_version, model.version)):
        if given not in (None, served):
            raise ValidationError("invalid_value", f"{field} {given!r} in the body is not the "
                                  f"model of the path, {served!r}", field)
    wanted = list(V2_OUTPUTS) if body.outputs is None else [output.name for output in body.outputs]
    results = model.scorer.score_texts(body.inputs[0].data)  # as /v1/score/batch
    count_served(model, results)
    data = {
        "score": np.asarray([r.score for r in results], dtype=np.float32).tolist(),
        "label": [r.label for r in results],
    }
    echo = {} if body.id is None else {"id": body.id}
    return jsonify(V2InferenceResponse(
        model_name=V2_MODEL_NAME, model_version=model.version, **echo,
        outputs=[V2OutputTensor(name=name, datatype=V2_OUTPUTS[name], shape=[len(results)], data=data[name])
                 for name in wanted]))
