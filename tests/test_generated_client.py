"""A client generated from the served ``/openapi.json`` by openapi-python-client, against real gunicorn.

The document is the contract integrators build on: generating a client from it must keep
every operation (the generator skips one whose schemas it cannot read, with a warning), and
the generated score and Open Inference Protocol calls must return what the scorer gives.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import requests

from headline_scorer.scorer import HeadlineScorer
from tests.gunicorn_server import Server

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "headline_scorer_api"
CAT = "You Will Not Believe What This Cat Did"
HEADLINES = [CAT, "Council approves budget for new bridge", "SHOCKING: what happened next!"]


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Server], models_root: Path) -> Server:
    return server_factory(models_root)


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    response = requests.get(server.url("/openapi.json"), timeout=10)
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def api(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, importable while the module's tests run."""
    root = tmp_path_factory.mktemp("generated-client")
    spec = root / "openapi.json"
    spec.write_bytes(requests.get(server.url("/openapi.json"), timeout=10).content)
    # The generator formats its output with ruff, which it looks for on PATH.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(spec), "--output-path", str(root / PACKAGE),
         "--meta", "none"], capture_output=True, text=True, env=env, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output, output  # how the generator reports what it left out
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(api: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{api.__name__}.{name}")


@pytest.fixture(scope="module")
def client(api: ModuleType, server: Server) -> Any:
    return _module(api, "client").Client(base_url=server.url(""), raise_on_unexpected_status=True)


def test_every_operation_is_generated(api: ModuleType, document: dict[str, Any]) -> None:
    documented = Counter(op["tags"][0] for ops in document["paths"].values() for op in ops.values())
    package = Path(api.__file__).parent / "api"
    generated = Counter(module.parent.name for module in package.glob("*/*.py")
                        if module.name != "__init__.py")
    assert generated == documented
    assert documented["kserve"] == 9  # server metadata, live, ready; model metadata, ready, infer x2


def test_generated_score_call_returns_the_scorers_answer(api: ModuleType, client: Any,
                                                         scorer: HeadlineScorer) -> None:
    models = _module(api, "models")
    score_headline = _module(api, "api.scoring.score_headline")
    result = score_headline.sync(client=client, body=models.ScoreRequest(headline=CAT))
    expected = scorer.score(CAT, explain=True)
    assert isinstance(result, models.ScoreResponse)
    assert (result.headline, result.score, result.label) == (CAT, expected.score, expected.label)
    assert (result.threshold, result.model_version) == (scorer.threshold, scorer.version)
    assert [(c.text, c.weight) for c in result.cues] == [(c.text, c.weight) for c in expected.cues]


def test_generated_score_call_gets_the_error_contract(api: ModuleType, client: Any) -> None:
    models = _module(api, "models")
    score_headline = _module(api, "api.scoring.score_headline")
    result = score_headline.sync(client=client, body=models.ScoreRequest(headline=" \t"))
    assert isinstance(result, models.Error)
    assert (result.error.code, result.error.field) == ("empty_headline", "headline")


@pytest.mark.parametrize("nested", [False, True])
def test_generated_infer_call_returns_the_scorers_answer(api: ModuleType, client: Any,
                                                         scorer: HeadlineScorer, nested: bool) -> None:
    models = _module(api, "models")
    v2_infer = _module(api, "api.kserve.v_2_infer")
    tensor = models.V2InputTensor(
        name="headline", datatype="BYTES", shape=[len(HEADLINES), 1] if nested else [len(HEADLINES)],
        data=[[h] for h in HEADLINES] if nested else HEADLINES)
    result = v2_infer.sync(model_name="headline-scorer", client=client,
                           body=models.V2InferenceRequest(inputs=[tensor], id="7"))
    assert isinstance(result, models.V2InferenceResponse)
    assert (result.model_name, result.model_version, result.id) == ("headline-scorer", scorer.version, "7")
    outputs = {tensor.name: tensor for tensor in result.outputs}
    expected = [scorer.score(h, explain=True) for h in HEADLINES]
    assert outputs["score"].data == np.asarray([e.score for e in expected], dtype=np.float32).tolist()
    assert outputs["label"].data == [e.label for e in expected]
    assert outputs["score"].shape == outputs["label"].shape == [len(HEADLINES)]
