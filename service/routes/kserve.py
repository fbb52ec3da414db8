"""The Open Inference Protocol (KServe V2, REST) in front of the same scorer.

So the service drops into KServe / Seldon tooling: server and model health, model metadata and
``POST /v2/models/headline-scorer/infer``, which takes one BYTES input tensor ``headline`` of
shape ``[N]`` or ``[N, 1]`` and returns an FP32 tensor ``score`` (and a BYTES tensor ``label``)
of shape ``[N]``. The scores are the FP32 roundings of what ``/v1/score`` returns. Errors use
the service's one error shape rather than the protocol's bare ``{"error": "..."}`` string; both
have the message under ``error``. The binary tensor extension is not supported (such a request
is not JSON and gets a 415). The tensors' types are in ``service.contract``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, g, jsonify

from service.contract import (
    V2_INPUT_NAME,
    V2_MODEL_NAME,
    V2_OUTPUTS,
    V2InferenceRequest,
    V2InferenceResponse,
    V2Live,
    V2ModelMetadata,
    V2ModelPath,
    V2OutputTensor,
    V2Ready,
    V2ServerMetadata,
)
from service.errors import ApiError
from service.model_holder import LoadedModel, current_model
from service.openapi import Reply, operation, service_version
from service.request_body import parse_body

blueprint = Blueprint("kserve", __name__)


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
           replies={200: Reply("The model's name, versions and tensors.", V2ModelMetadata)},
           errors=(404, 500))
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
                    503: Reply("Not ready.", V2Ready, example={"name": V2_MODEL_NAME, "ready": False})},
           errors=(404,))
def model_ready(model_name: str, model_version: str | None = None) -> Response:
    ready = _served_model(model_name, model_version).probe() is None
    return _readiness(V2Ready(name=V2_MODEL_NAME, ready=ready), ready)


@blueprint.post("/v2/models/<model_name>/infer")
@blueprint.post("/v2/models/<model_name>/versions/<model_version>/infer")
@operation(operation_id=("v2Infer", "v2InferVersion"), tag="kserve",
           summary="Score headlines (Open Inference Protocol)",
           description="Input BYTES tensor 'headline'; outputs FP32 'score' and BYTES 'label'.",
           path=V2ModelPath, body=V2InferenceRequest,
           replies={200: Reply("The scores, in input order.", V2InferenceResponse)},
           errors=(400, 404, 413, 415, 422, 500))
def infer(model_name: str, model_version: str | None = None) -> Response:
    model = _served_model(model_name, model_version)
    body = parse_body(V2InferenceRequest)
    wanted = list(V2_OUTPUTS) if body.outputs is None else [output.name for output in body.outputs]
    results = model.scorer.score_texts(body.inputs[0].data)  # as /v1/score/batch
    g.headlines = len(results)
    data = {
        "score": np.asarray([r.score for r in results], dtype=np.float32).tolist(),
        "label": [r.label for r in results],
    }
    echo = {} if body.id is None else {"id": body.id}
    return jsonify(V2InferenceResponse(
        model_name=V2_MODEL_NAME, model_version=model.version, **echo,
        outputs=[V2OutputTensor(name=name, datatype=V2_OUTPUTS[name], shape=[len(results)], data=data[name])
                 for name in wanted]))
