"""headline-scorer's core: what a saved model needs to load and run, and nothing else.

- :mod:`headline_scorer.text`: normalisation of a headline's characters;
- :mod:`headline_scorer.features`: the named style and phrasing features a model uses;
- :mod:`headline_scorer.artifact`: the model format (write, verify, load);
- :mod:`headline_scorer.scorer`: the scorer and its explanations;
- :mod:`headline_scorer.paths`: where data, models and reports live;
- :mod:`headline_scorer.feedback_store`: the editors' feedback database;
- :mod:`headline_scorer.client`: a small HTTP client of the scoring service.

It imports neither Flask nor argparse nor Dask; training/, batch/ and service/ stand on it.
"""
