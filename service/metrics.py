"""Prometheus metrics of the service, correct under one process or many gunicorn workers.

Metrics:

- ``headline_scorer_http_requests_total{method, route, status}``: requests answered; ``route``
  is the URL rule (``/v1/score``, ``/v2/models/<model_name>/infer``), or ``unmatched`` for a
  URL no route serves, so a scan of random URLs cannot create unbounded label values.
- ``headline_scorer_http_request_duration_seconds{method, route}``: latency histogram, with
  buckets from 0.5 ms because a single headline is scored in well under a millisecond.
- ``headline_scorer_headlines_scored_total{route}``: headlines scored by successful requests.
- ``headline_scorer_model_info{version}``: 1 for the model version being served (an info
  metric, exposed as a gauge as Prometheus's text format does for info metrics).
- ``headline_scorer_served_score{model_version}``: histogram of the scores returned by
  ``/v1/score``, ``/v1/score/batch``, V2 infer and ``/v1/suggest`` (its headline's own score),
  in twentieths of [0, 1], so a change of model or of traffic (a new desk) shows as a shifted
  distribution (docs/operations.md).
- ``headline_scorer_served_labels_total{model_version, label}``: the labels returned by them.

Label values are bounded: ``route`` is a URL rule or ``unmatched``; ``label`` is one of two;
``model_version`` takes the first :data:`MAX_MODEL_VERSIONS` versions a process serves and
``other`` after that, however often a model is reloaded.

Under gunicorn, ``service/gunicorn_conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the app
is imported, so prometheus-client keeps every process's values in files there, and a scrape
served by any worker adds up all of them (the library's documented multiprocess mode). Without
that variable (tests, a single process) each app has its own registry.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Twentieths: fine enough to see a distribution move, and 21 series per model version.
SCORE_BUCKETS = tuple(round(i / 20, 2) for i in range(1, 21))
MAX_MODEL_VERSIONS = 8
OTHER_VERSION = "other"


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, or None when the process keeps metrics in memory."""
    return os.environ.get(MULTIPROC_ENV) or None


class ServiceMetrics:
    """The service's metric objects, and the text a scrape returns."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # The *_created series double the output and say nothing useful here; multiprocess
        # mode never has them, so the single-process output matches it.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "headline_scorer_http_requests", "HTTP requests answered, by route and status.",
            ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram(
            "headline_scorer_http_request_duration_seconds",
            "Time from the request's arrival in the app to its response, in seconds.",
            ("method", "route"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.headlines = Counter(
            "headline_scorer_headlines_scored", "Headlines scored by successful requests.",
            ("route",), registry=self.registry)
        # livemax: across the live processes only, so a replaced worker's model drops out.
        self.model_info = Gauge(
            "headline_scorer_model_info", "The model version being served (value 1).",
            ("version",), multiprocess_mode="livemax", registry=self.registry)
        self._model_version: str | None = None
        self.scores = Histogram(
            "headline_scorer_served_score", "Scores returned by the scoring routes (0 to 1).",
            ("model_version",), buckets=SCORE_BUCKETS, registry=self.registry)
        self.labels = Counter(
            "headline_scorer_served_labels", "Labels returned by the scoring routes.",
            ("model_version", "label"), registry=self.registry)
        self._versions: set[str] = set()

    def observe(self, method: str, route: str, status: int, seconds: float, headlines: int) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if headlines:
            self.headlines.labels(route).inc(headlines)

    def served(self, model_version: str, scores: Sequence[float], labels: Sequence[str]) -> None:
        """Count the scores and labels one request returns, under the model that gave them."""
        version = self._version_label(model_version)
        observe_many(self.scores.labels(version), scores)
        for label in set(labels):
            self.labels.labels(version, label).inc(labels.count(label))

    def _version_label(self, version: str) -> str:
        if version not in self._versions:
            if len(self._versions) >= MAX_MODEL_VERSIONS:
                return OTHER_VERSION
            self._versions.add(version)
        return version

    def model_loaded(self, version: str) -> None:
        """Mark ``version`` as the model this process serves (and a previous one as not)."""
        if self._model_version not in (None, version):
            self.model_info.labels(self._model_version).set(0)
        self.model_info.labels(version).set(1)
        self._model_version = version

    def render(self) -> bytes:
        """The exposition text of every process's metrics, in a fixed order (see
        :class:`SortedCollector`)."""
        if multiprocess_dir() is None:
            return generate_latest(SortedCollector(self.registry))
        # Documented pattern: a fresh registry per scrape that merges the processes' files.
        return generate_latest(SortedCollector(multiprocess.MultiProcessCollector(None)))


class SortedCollector:
    """Another collector's metric families by name, and each family's label sets in sorted
    order, a label set's own samples (buckets, count, sum) kept as the library wrote them.

    Left alone, the order follows which label set a process saw first and, in multiprocess
    mode, which worker's file the directory listing names first, so two scrapes of the same
    values could read differently."""

    def __init__(self, collector: CollectorRegistry | multiprocess.MultiProcessCollector):
        self.collector = collector

    def collect(self):  # noqa: ANN201 - prometheus-client's collector protocol
        for family in sorted(self.collector.collect(), key=lambda family: family.name):
            family.samples.sort(key=lambda sample: sorted(
                (name, value) for name, value in sample.labels.items() if name != "le"))
            yield family


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every value, with one increment per bucket.

    In multiprocess mode each increment is a locked write to a memory-mapped file (about
    6 µs), so observing a batch of 1,000 scores one by one would cost more than a third of
    the time it takes to score them; counted per bucket it costs at most one write per
    bucket. prometheus-client has no public call for this, so it writes the child's bucket
    and sum values as its own ``observe`` does (tests/test_drift_metrics.py checks that the
    two give the same exposition).
    """
    if not len(values):
        return
    bounds = histogram._upper_bounds  # ends with +Inf
    # observe() counts a value in the first bucket whose upper bound is >= it.
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts.tolist()):
        if count:
            bucket.inc(count)
    histogram._sum.inc(float(np.sum(values)))
