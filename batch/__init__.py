"""Batch scoring: the ``headline-score`` command and its Dask job.

- :mod:`batch.cli`: the command line (arguments, progress, exit codes);
- :mod:`batch.formats`: reading CSV, TSV, JSONL, Parquet and text inputs, and the output rows;
- :mod:`batch.scoring`: a local model or a running service as the source of scores;
- :mod:`batch.sinks`: where scored rows go (stdout or a file, per format);
- :mod:`batch.dask_job`: the same job in partitions on a Dask cluster;
- :mod:`batch.audit`: ``headline-score audit``, the headlines of pages and feeds, ranked.

It stands on the core (:mod:`headline_scorer`), never on service/ or training/.
"""
