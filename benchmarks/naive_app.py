"""The naive baseline the benchmark compares the service with: the obvious way to serve the model.

A minimal Flask app that unpickles the same pipeline file (``models/current/model.joblib``, or
the version directory in ``HEADLINE_MODEL_DIR``) and calls ``pipeline.predict_proba`` on every
request. It opens the ``.joblib`` file itself, which nothing else in the project may do
(``headline_scorer/artifact.py`` owns the format): it is the comparison point, kept deliberately naive,
with no checksum, manifest or explanation. Served with the service's gunicorn settings:

    gunicorn --config benchmarks/naive_gunicorn_conf.py 'benchmarks.naive_app:app'
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
from flask import Flask, Response, jsonify, request

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path(os.environ.get("HEADLINE_MODEL_DIR", ROOT / "models" / "current"))

pipeline = joblib.load(MODEL_DIR / "model.joblib")
threshold = float(json.loads((MODEL_DIR / "manifest.json").read_text())["threshold"])
app = Flask(__name__)


@app.post("/v1/score")
def score_one() -> Response:
    headline = request.get_json()["headline"]
    score = float(pipeline.predict_proba([headline])[0, 1])
    return jsonify(headline=headline, score=score,
                   label="sensational" if score >= threshold else "neutral")


@app.post("/v1/score/batch")
def score_batch() -> Response:
    headlines = request.get_json()["headlines"]
    scores = pipeline.predict_proba(headlines)[:, 1].tolist()
    return jsonify(results=[
        {"headline": h, "score": s, "label": "sensational" if s >= threshold else "neutral"}
        for h, s in zip(headlines, scores)
    ])
