"""The Open Inference Protocol's official clients against real gunicorn: tritonclient[http] and
kserve's InferenceRESTClient, as an integrator would use them (no custom headers, JSON
tensors), for health, metadata and infer; the scores equal /v1/score's, in FP32."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import requests
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

from headline_scorer.scorer import HeadlineScorer
from tests.gunicorn_server import Server

MODEL = "headline-scorer"
HEADLINES = ["You Won't Believe What This Dog Did Next", "Parliament passes the budget bill",
             "SHOCKING: The Mayor DESTROYS The Budget Debate!", "Ünïcödé — “quotes” 🎉"]


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Server], models_root: Path) -> Server:
    return server_factory(models_root)


@pytest.fixture
def triton_client(server: Server) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()


def v1_scores(server: Server, headlines: list[str]) -> list[float]:
    return [requests.post(server.url("/v1/score"), json={"headline": h}, timeout=10).json()["score"]
            for h in headlines]


def test_tritonclient_health_and_metadata(triton_client: triton.InferenceServerClient,
                                          scorer: HeadlineScorer) -> None:
    assert triton_client.is_server_live() and triton_client.is_server_ready()
    assert triton_client.is_model_ready(MODEL)
    assert triton_client.get_server_metadata()["name"] == MODEL
    metadata = triton_client.get_model_metadata(MODEL)
    assert metadata["versions"] == [scorer.version]
    assert metadata["inputs"] == [{"name": "headline", "datatype": "BYTES", "shape": [-1]}]


def test_tritonclient_infer_gives_v1_scores_in_fp32(triton_client: triton.InferenceServerClient,
                                                    server: Server) -> None:
    tensor = triton.InferInput("headline", [len(HEADLINES)], "BYTES")
    tensor.set_data_from_numpy(np.array(HEADLINES, dtype=object), binary_data=False)
    outputs = [triton.InferRequestedOutput("score", binary_data=False),
               triton.InferRequestedOutput("label", binary_data=False)]
    result = triton_client.infer(MODEL, [tensor], outputs=outputs, request_id="triton-1")
    scores = result.as_numpy("score")
    assert scores.dtype == np.float32
    assert scores.tolist() == np.asarray(v1_scores(server, HEADLINES), dtype=np.float32).tolist()
    v1_labels = [r["label"] for r in requests.post(
        server.url("/v1/score/batch"), json={"headlines": HEADLINES}, timeout=10).json()["results"]]
    labels = [label.decode() if isinstance(label, bytes) else label for label in result.as_numpy("label")]
    assert labels == v1_labels
    assert result.get_response()["id"] == "triton-1"


def test_tritonclient_errors_read_as_the_protocols_message(
        triton_client: triton.InferenceServerClient) -> None:
    tensor = triton.InferInput("text", [1], "BYTES")
    tensor.set_data_from_numpy(np.array(["Council meets"], dtype=object), binary_data=False)
    with pytest.raises(InferenceServerException) as raised:
        triton_client.infer(MODEL, [tensor])
    assert "must be named 'headline'" in str(raised.value)
    assert raised.value.status() == "422"
    with pytest.raises(InferenceServerException, match="no model 'other'"):
        triton_client.get_model_metadata("other")


def kserve_calls(base: str, headlines: list[str]) -> tuple[bool, bool, bool, dict]:
    async def run() -> tuple[bool, bool, bool, dict]:
        client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
        try:
            live = await client.is_server_live(base)
            ready = await client.is_server_ready(base)
            model_ready = await client.is_model_ready(base, MODEL)
            request = InferRequest(model_name=MODEL, request_id="kserve-1", infer_inputs=[
                InferInput(name="headline", shape=[len(headlines)], datatype="BYTES",
                           data=headlines)])
            response = await client.infer(base, request, model_name=MODEL)
            return live, ready, model_ready, {o.name: o.data for o in response.outputs}
        finally:
            await client.close()

    return asyncio.run(run())


def test_kserve_client_health_and_infer_give_v1_scores(server: Server) -> None:
    live, ready, model_ready, outputs = kserve_calls(server.url(""), HEADLINES)
    assert live and ready and model_ready
    assert outputs["score"] == np.asarray(v1_scores(server, HEADLINES), dtype=np.float32).tolist()


def test_kserve_client_errors_carry_the_protocols_message(server: Server) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="422") as raised:
        kserve_calls(server.url(""), [""])
    assert "inputs[0].data[0]" in str(raised.value)
