"""Where ``headline-score`` puts scored rows: JSON lines, CSV or TSV on stdout or in a file, or
a Parquet file.

A sink takes the records of one input a chunk at a time with the :data:`~batch.scoring.Scoring`
to score them by, and writes them in input order: JSON lines as they come (flushed per chunk
for someone typing at stdin), CSV and TSV after one header, Parquet in row groups of
:data:`~batch.formats.PARQUET_ROW_GROUP` rows. :func:`open_sink` picks the sink for a format;
closing it closes the file it opened (stdout is only flushed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from batch.formats import (
    PARQUET_ROW_GROUP,
    TABLE_FORMATS,
    InputFile,
    Record,
    records_table,
    scored_record,
    write_delimited,
)
from batch.scoring import Scoring, score_table


class Sink(Protocol):
    def write(self, source: InputFile, records: list[Record], scoring: Scoring) -> None:
        """Score ``records`` of ``source`` and write them, in order."""

    def close(self) -> None:
        """Write what is pending and close what the sink opened."""


class JsonLinesSink:
    """One JSON object per row: the input record, its text normalised, the outcome appended."""

    def __init__(self, stream: IO[str], explain: bool, flush_each_chunk: bool = False,
                 owns_stream: bool = False):
        self.stream = stream
        self.explain = explain
        self.flush_each_chunk = flush_each_chunk
        self.owns_stream = owns_stream

    def write(self, source: InputFile, records: list[Record], scoring: Scoring) -> None:
        texts = [record[source.text_column] for _, record in records]
        for (_, record), scored in zip(records, scoring(texts, self.explain)):
            row = scored_record(record, source.text_column, scored, self.explain)
            self.stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        if self.flush_each_chunk:
            self.stream.flush()

    def close(self) -> None:
        _release(self.stream, self.owns_stream)


class TableSink:
    """CSV or TSV rows of one schema on a text stream, or (``fmt="parquet"``) a Parquet file
    at ``path``; every input must give that schema (:func:`batch.formats.table_schema`)."""

    def __init__(self, fmt: str, schema: pa.Schema, explain: bool, stream: IO[str] | None = None,
                 path: Path | None = None, owns_stream: bool = False):
        self.fmt = fmt
        self.schema = schema
        self.explain = explain
        self.stream = stream
        self.owns_stream = owns_stream
        self._writer = pq.ParquetWriter(path, schema) if fmt == "parquet" else None
        self._pending: list[pa.Table] = []
        if self._writer is None:
            write_delimited(schema.empty_table(), stream, fmt, header=True)

    def write(self, source: InputFile, records: list[Record], scoring: Scoring) -> None:
        table = score_table(records_table(source, records), source, scoring, self.explain)
        if self._writer is None:
            write_delimited(table, self.stream, self.fmt, header=False)
            return
        # Parquet row groups of a fixed size, however small the chunks: readers (and the Dask
        # job's partitions) work by row group.
        self._pending.append(table)
        if sum(t.num_rows for t in self._pending) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=PARQUET_ROW_GROUP)
            self._pending = []

    def close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
        if self.stream is not None:
            _release(self.stream, self.owns_stream)


def open_sink(fmt: str, schema: pa.Schema | None, output: Path | None, explain: bool,
              interactive: bool = False) -> Sink:
    """The sink for ``fmt`` writing to ``output`` (stdout when None; Parquet needs a file).

    ``schema`` is the output schema of table formats (None for JSON lines); ``interactive``
    flushes JSON lines after each chunk. Raises OSError when ``output`` cannot be written.
    """
    if fmt == "parquet":
        return TableSink(fmt, schema, explain, path=output)
    owned = output is not None
    stream = output.open("w", encoding="utf-8", newline="") if owned else sys.stdout
    try:
        if fmt in TABLE_FORMATS:
            return TableSink(fmt, schema, explain, stream=stream, owns_stream=owned)
        return JsonLinesSink(stream, explain, interactive, owns_stream=owned)
    except BaseException:
        _release(stream, owned)
        raise


def _release(stream: IO[str], owned: bool) -> None:
    """Close a file the sink opened; only flush stdout, which is not the sink's to close."""
    if owned:
        stream.close()
    else:
        stream.flush()
