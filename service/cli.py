"""``headline-score``: score headlines in files or stdin, with a saved model or a running service.

Inputs, by file name: ``.txt`` (or stdin) one headline per line; ``.csv`` / ``.tsv`` the
``headline`` or ``text`` column (or ``--column``); ``.jsonl`` the same field names;
``.parquet`` the same column names. Any other name is read as ``.txt``.

Output, to stdout or ``--output FILE``, one row per input row, in input order:

- ``.txt`` and stdin give JSON lines ``{"headline", "score", "label"}``;
- CSV, TSV, JSONL and Parquet inputs keep every input column and append ``score`` and
  ``label`` (and ``cues`` with ``--explain``: a JSON string in CSV, TSV and Parquet, a list in
  JSONL). The text column holds the text that was scored: the headline normalised as the API
  returns it (Unicode NFKC, control characters removed, whitespace collapsed). If the input
  already has a column of one of those names, the appended one is called ``model_<name>``.
- A row whose headline is empty keeps its place, with an ``error`` instead of a score (CSV, TSV
  and Parquet always have the ``error`` column, empty when the row was scored).

The output format follows the input's (several inputs of different kinds, and Parquet written
to stdout, give JSON lines) unless ``--output`` ends in ``.jsonl``, ``.csv``, ``.tsv`` or
``.parquet`` or ``--output-format`` says otherwise. ``--url`` scores through a running service
(``headline_scorer.client``) instead of a local model, with identical results; ``--dask`` runs the
job on a Dask cluster (``service.dask_batch``).

This module owns the batch file formats: reading each kind of input into records (also one
byte range of a file, for the Dask job's partitions) and writing scored rows as JSON lines,
CSV, TSV or Parquet. The Dask job reads, scores and writes its partitions with the functions
here, so it writes exactly what this command writes.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from headline_scorer.artifact import ModelError, load_model
from headline_scorer.client import HeadlineClient, HeadlineRejected, ServiceError
from headline_scorer.scorer import EmptyHeadline, HeadlineScorer
from headline_scorer.text import normalise_text, quote_tsv_field, split_tsv_line
from service.config import Settings

TEXT_FIELDS = ("headline", "text")
FORMATS = ("jsonl", "csv", "tsv", "parquet")
FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
                    ".parquet": "parquet"}
TABLE_FORMATS = ("csv", "tsv", "parquet")
PROGRESS_MIN_ROWS = 1000
PROGRESS_DELAY = 1.0  # seconds before the bar shows: quick runs stay quiet
LOCAL_CHUNK_ROWS = 1000  # rows scored and written at a time with a local model
PARQUET_ROW_GROUP = 65_536
DEFAULT_TIMEOUT = 30.0


class InputError(ValueError):
    """An input file cannot be read; the message names the file and line."""


# ------------------------------------------------------------------------------ inputs

@dataclass(frozen=True)
class Source:
    """One input, as its first lines describe it: kind, columns, text column, where data starts.

    ``schema`` is the Arrow type of each column (strings, except for Parquet inputs).
    ``data_start`` is the byte offset of the first data line (after a CSV/TSV header) and
    ``data_line`` its line number; for Parquet both count rows and row groups instead.
    """

    name: str
    kind: str
    schema: pa.Schema
    text_column: str
    data_start: int = 0
    data_line: int = 1

    @property
    def columns(self) -> list[str]:
        return self.schema.names


def kind_of(name: str) -> str:
    return FORMAT_BY_SUFFIX.get(Path(name).suffix.lower(), "txt")


def _pick_field(fields: list[str], column: str | None, where: str) -> str:
    if column is not None:
        if column not in fields:
            raise InputError(f"{where}: no column {column!r}; columns are {fields}")
        return column
    for name in TEXT_FIELDS:
        if name in fields:
            return name
    raise InputError(f"{where}: no 'headline' or 'text' column (use --column); columns are {fields}")


def _strings(names: Iterable[str]) -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in names])


def _open(name: str) -> IO[bytes]:
    try:
        return open(name, "rb")  # noqa: SIM115 (the callers close it)
    except OSError as exc:
        raise InputError(f"{name}: cannot open ({exc.strerror})") from exc


def _parquet(name: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(name)
    except OSError as exc:
        raise InputError(f"{name}: cannot open ({exc.strerror or exc})") from exc
    except pa.ArrowException as exc:
        raise InputError(f"{name}: not a readable Parquet file ({exc})") from exc


def inspect_source(name: str, column: str | None) -> Source:
    """Read the start of one input (its header, first record or Parquet schema) to describe it.

    Raises :class:`InputError` naming the file when it cannot be opened or has no text column.
    """
    kind = kind_of(name)
    if kind == "txt":
        _open(name).close()  # a missing file is reported before anything is scored
        return Source(name, kind, _strings(["headline"]), "headline")
    if kind == "parquet":
        schema = _parquet(name).schema_arrow
        text = _pick_field(schema.names, column, name)
        if not (pa.types.is_string(schema.field(text).type)
                or pa.types.is_large_string(schema.field(text).type)):
            raise InputError(f"{name}: column {text!r} holds {schema.field(text).type}, not text")
        return Source(name, kind, schema, text)
    with _open(name) as handle:
        if kind == "jsonl":
            for lineno, line in enumerate(_decoded_lines(name, handle), start=1):
                if line.strip():
                    record = _json_record(name, lineno, line)
                    fields = list(record)
                    return Source(name, kind, _strings(fields),
                                  _pick_field(fields, column, f"{name}:{lineno}"))
            return Source(name, kind, _strings([]), column or "headline")  # no records at all
        sizes: list[int] = []

        def measured(raw_lines: Iterable[bytes]) -> Iterator[bytes]:
            for raw in raw_lines:
                sizes.append(len(raw))
                yield raw

        lines = _decoded_lines(name, measured(handle))
        if kind == "tsv":
            header = split_tsv_line(next(lines, "").rstrip("\r\n"))
        else:
            header = next(csv.reader(lines), [])
        if len(set(header)) != len(header):
            raise InputError(f"{name}:1: the header names a column twice: {header}")
        return Source(name, kind, _strings(header), _pick_field(header, column, name),
                      data_start=sum(sizes), data_line=len(sizes) + 1)


def stdin_source() -> Source:
    return Source("<stdin>", "txt", _strings(["headline"]), "headline")


def _decoded_lines(name: str, raw_lines: Iterable[bytes], first_line: int = 1) -> Iterator[str]:
    """Decode a byte stream line by line, so bad bytes are reported with their line.

    Lines keep their line ends (csv needs them); a UTF-8 byte order mark is dropped.
    """
    for lineno, raw in enumerate(raw_lines, start=first_line):
        try:
            yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}:{lineno}: bytes {raw[exc.start:exc.end]!r} are not valid "
                             "UTF-8 (save the file as UTF-8)") from exc


def _json_record(name: str, lineno: int, line: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise InputError(f"{name}:{lineno}: expected a JSON object")
    return record


def _byte_range(handle: IO[bytes], start: int, end: int | None) -> Iterator[bytes]:
    """The lines of ``handle`` from byte ``start`` (a line start) up to byte ``end``."""
    handle.seek(start)
    position = start
    for raw in handle:
        if end is not None and position >= end:
            return
        position += len(raw)
        yield raw


Record = tuple[int, dict]  # (line number, or row number for Parquet; the row's fields)


def read_records(source: Source, start: int | None = None, end: int | None = None,
                 first_line: int | None = None, stream: Iterable[str] | None = None
                 ) -> Iterator[Record]:
    """Yield ``(line, record)`` for each row of ``source``, in order.

    ``start``/``end`` bound a byte range that starts and ends at record boundaries (Parquet:
    a range of row groups) and ``first_line`` is the line (Parquet: row) number at ``start``;
    by default the whole input is read. ``stream`` gives the decoded lines of stdin. Every
    record maps the source's columns to their values; its text column holds a string.
    Raises :class:`InputError` naming file and line for anything that cannot be read.
    """
    if source.kind == "parquet":
        yield from _parquet_records(source, start or 0, end, first_line or 1)
        return
    if stream is not None:
        yield from _line_records(source, stream, 1)
        return
    start = source.data_start if start is None else start
    first_line = source.data_line if first_line is None else first_line
    with _open(source.name) as handle:
        lines = _decoded_lines(source.name, _byte_range(handle, start, end), first_line)
        yield from _line_records(source, lines, first_line)


def _line_records(source: Source, lines: Iterable[str], first_line: int) -> Iterator[Record]:
    name, columns, text = source.name, source.columns, source.text_column
    if source.kind == "txt":
        for lineno, line in enumerate(lines, start=first_line):
            yield lineno, {"headline": line.rstrip("\n").rstrip("\r")}
    elif source.kind == "tsv":
        # One record per line, split by the rule training reads TSV with: a CSV reader would let
        # a title that starts with an unbalanced quote swallow the lines after it.
        for lineno, line in enumerate(lines, start=first_line):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue  # a blank line is no record, as in CSV
            values = split_tsv_line(line)
            if len(values) != len(columns):
                raise InputError(f"{name}:{lineno}: expected {len(columns)} tab-separated fields, "
                                 f"got {len(values)}")
            yield lineno, dict(zip(columns, values))
    elif source.kind == "csv":
        reader = csv.reader(lines)
        while True:
            before = reader.line_num
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(f"{name}:{first_line + before}: not valid CSV ({exc})") from exc
            if not values:
                continue  # a blank line
            lineno = first_line + before
            if len(values) != len(columns):
                raise InputError(f"{name}:{lineno}: expected {len(columns)} comma-separated fields, "
                                 f"got {len(values)}")
            yield lineno, dict(zip(columns, values))
    else:  # jsonl
        for lineno, line in enumerate(lines, start=first_line):
            record = _json_record(name, lineno, line) if line.strip() else {}
            value = record.get(text)
            if value is None:
                record[text] = ""  # a blank line or a missing headline is an empty one
            elif not isinstance(value, str):
                raise InputError(f"{name}:{lineno}: the {text!r} field is "
                                 f"{type(value).__name__}, not text")
            yield lineno, record


def _parquet_records(source: Source, start: int, end: int | None, first_row: int
                     ) -> Iterator[Record]:
    parquet = _parquet(source.name)
    groups = range(start, parquet.num_row_groups if end is None else end)
    row = first_row
    text = source.text_column
    try:
        for group in groups:
            for record in parquet.read_row_group(group).to_pylist():
                if record[text] is None:
                    record[text] = ""
                yield row, record
                row += 1
    except pa.ArrowException as exc:
        raise InputError(f"{source.name}: row group {group} (from row {row}) cannot be read "
                         f"({exc})") from exc


def count_rows(source: Source) -> int:
    """Rows of a file, for the progress bar: exact for Parquet, its lines otherwise."""
    if source.kind == "parquet":
        return _parquet(source.name).metadata.num_rows
    lines, last = 0, b"\n"
    with _open(source.name) as handle:
        handle.seek(source.data_start)
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


# ---------------------------------------------------------------------------- scoring

@dataclass(frozen=True)
class Scored:
    """The outcome for one row: the text that was scored, and a score or an error."""

    text: str
    score: float | None = None
    label: str | None = None
    cues: list[dict] | None = None
    error: str | None = None


Scoring = Callable[[list[str], bool], list[Scored]]


def local_scoring(scorer: HeadlineScorer) -> Scoring:
    """Score with a loaded model. ``score_many`` gives each headline, to the last bit, what
    ``/v1/score`` gives it, and scores a whole chunk at once."""

    def score(texts: list[str], explain: bool) -> list[Scored]:
        out = []
        for result in scorer.score_many(texts, explain):
            if isinstance(result, EmptyHeadline):
                out.append(Scored("", error=str(result)))
            else:
                cues = result.as_dict().get("cues")
                out.append(Scored(result.headline, result.score, result.label, cues))
        return out

    return score


def remote_scoring(client: HeadlineClient) -> Scoring:
    """Score through a running service, in batches of the service's size."""

    def score(texts: list[str], explain: bool) -> list[Scored]:
        out = []
        for text, result in zip(texts, client.score_many(texts, explain=explain, invalid="return")):
            if isinstance(result, HeadlineRejected):
                out.append(Scored(normalise_text(text), error=str(result)))
            else:
                out.append(Scored(result["headline"], result["score"], result["label"],
                                  result.get("cues")))
        return out

    return score


# ----------------------------------------------------------------------------- output

@dataclass(frozen=True)
class Appended:
    """Names of the columns the output appends (``model_<name>`` where the input has one)."""

    score: str = "score"
    label: str = "label"
    cues: str = "cues"
    error: str = "error"

    @classmethod
    def beside(cls, columns: Iterable[str]) -> Appended:
        taken = set(columns)
        names = {}
        for name in ("score", "label", "cues", "error"):
            chosen = name if name not in taken else f"model_{name}"
            if chosen in taken:
                raise InputError(f"the input already has columns {name!r} and {chosen!r}; "
                                 "rename one of them")
            names[name] = chosen
        return cls(**names)


def scored_record(record: dict, text_column: str, scored: Scored, explain: bool) -> dict:
    """A JSON-lines row: the input record with its text normalised and the outcome appended."""
    names = Appended.beside(record)
    out = dict(record)
    out[text_column] = scored.text
    if scored.error is not None:
        out[names.error] = scored.error
        return out
    out[names.score] = scored.score
    out[names.label] = scored.label
    if explain:
        out[names.cues] = scored.cues
    return out


def output_schema(source: Source, explain: bool) -> pa.Schema:
    """The columns (and Arrow types) of CSV, TSV and Parquet output for ``source``."""
    names = Appended.beside(source.columns)
    schema = source.schema.set(source.schema.get_field_index(source.text_column),
                               pa.field(source.text_column, pa.string()))
    schema = schema.remove_metadata()
    schema = schema.append(pa.field(names.score, pa.float64()))
    schema = schema.append(pa.field(names.label, pa.string()))
    if explain:
        schema = schema.append(pa.field(names.cues, pa.string()))
    return schema.append(pa.field(names.error, pa.string()))


def _as_text(value: Any) -> str | None:
    """A JSONL value in a string column: text as it is, anything else as its JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def records_table(source: Source, records: list[Record]) -> pa.Table:
    """The input columns of ``records`` as an Arrow table of ``source.schema``.

    A JSONL record may leave columns out (null) but not add ones the first record lacked.
    """
    columns = source.columns
    if source.kind == "jsonl":
        known = set(columns)
        for lineno, record in records:
            extra = [key for key in record if key not in known]
            if extra:
                raise InputError(f"{source.name}:{lineno}: field {extra[0]!r} is not among the "
                                 f"fields of the first record {columns}; CSV, TSV and Parquet "
                                 "output need the same fields in every record (write JSON lines)")
        data = {c: [_as_text(r.get(c)) for _, r in records] for c in columns}
    else:
        data = {c: [r[c] for _, r in records] for c in columns}
    return pa.Table.from_pydict(data, schema=source.schema)


def score_table(table: pa.Table, source: Source, scoring: Scoring, explain: bool) -> pa.Table:
    """``table`` (input columns) scored: text normalised, score/label/[cues]/error appended."""
    texts = ["" if value is None else value for value in table.column(source.text_column).to_pylist()]
    scored = scoring(texts, explain)
    schema = output_schema(source, explain)
    columns = [table.column(c) for c in source.columns]
    columns[source.columns.index(source.text_column)] = pa.array([s.text for s in scored], pa.string())
    columns += [pa.array([s.score for s in scored], pa.float64()),
                pa.array([s.label for s in scored], pa.string())]
    if explain:
        columns.append(pa.array([None if s.cues is None else json.dumps(s.cues, ensure_ascii=False)
                                 for s in scored], pa.string()))
    columns.append(pa.array([s.error for s in scored], pa.string()))
    return pa.Table.from_arrays(columns, schema=schema)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # floats print as their shortest exact repr


def _tsv_cell(value: str, column: str) -> str:
    if "\t" in value or "\n" in value or "\r" in value:
        raise InputError(f"a value of column {column!r} holds a tab or line break, which TSV "
                         f"cannot hold ({value[:60]!r}); write CSV, JSONL or Parquet instead")
    return quote_tsv_field(value)


def write_delimited(table: pa.Table, stream: IO[str], fmt: str, header: bool) -> None:
    """Write ``table`` as CSV or TSV rows (after its header line when ``header``)."""
    names = table.schema.names
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        if header:
            writer.writerow(names)
        writer.writerows([_cell(v) for v in row.values()] for row in table.to_pylist())
        return
    if header:
        stream.write("\t".join(_tsv_cell(n, n) for n in names) + "\n")
    for row in table.to_pylist():
        stream.write("\t".join(_tsv_cell(_cell(row[n]), n) for n in names) + "\n")


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, row_group_size=PARQUET_ROW_GROUP)


@dataclass
class _TableSink:
    """CSV, TSV or Parquet output of one schema, to a text stream or (Parquet) a file."""

    fmt: str
    schema: pa.Schema
    stream: IO[str] | None = None
    path: Path | None = None
    _writer: pq.ParquetWriter | None = None
    _pending: list[pa.Table] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.fmt == "parquet":
            self._writer = pq.ParquetWriter(self.path, self.schema)
        else:
            write_delimited(self.schema.empty_table(), self.stream, self.fmt, header=True)

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            write_delimited(table, self.stream, self.fmt, header=False)
            return
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


# -------------------------------------------------------------------------------- main

def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """Records in lists of ``size``; on a read error, the rows read before it come first."""
    chunk: list[Record] = []
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except InputError:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def choose_format(requested: str | None, output: Path | None, sources: list[Source]) -> str:
    """The output format: asked for, else ``--output``'s extension, else the inputs' kind."""
    if requested:
        return requested
    if output is not None and output.suffix.lower() in FORMAT_BY_SUFFIX:
        return FORMAT_BY_SUFFIX[output.suffix.lower()]
    kinds = {source.kind for source in sources}
    if len(kinds) == 1 and kinds <= set(TABLE_FORMATS):
        kind = kinds.pop()
        return "jsonl" if kind == "parquet" and output is None else kind
    return "jsonl"


def table_schema(sources: list[Source], explain: bool) -> pa.Schema:
    """The one output schema of all ``sources``; an :class:`InputError` names one that differs."""
    schema = output_schema(sources[0], explain)
    for source in sources[1:]:
        other = output_schema(source, explain)
        if not other.equals(schema):
            raise InputError(
                f"{source.name}: columns {_describe(other)} differ from {sources[0].name}'s "
                f"{_describe(schema)}; CSV, TSV and Parquet output need the same columns in every "
                "input (score them separately, or write JSON lines)")
    return schema


def _describe(schema: pa.Schema) -> str:
    return "[" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "]"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="headline-score", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=".txt, .csv, .tsv, .jsonl or .parquet files (default: stdin, one "
                             "headline per line); with --dask, glob patterns too")
    parser.add_argument("--model", type=Path, default=None,
                        help="model or models directory (default: HEADLINE_MODEL_DIR or models/)")
    parser.add_argument("--column", default=None, help="text column/field of CSV, TSV, JSONL, Parquet")
    parser.add_argument("--explain", action="store_true", help="add each headline's cues")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write here instead of stdout (with --dask: a directory, required)")
    parser.add_argument("--output-format", choices=FORMATS, default=None,
                        help="jsonl, csv, tsv or parquet (default: the input's; see above)")
    remote = parser.add_argument_group("scoring through a running service")
    remote.add_argument("--url", default=None,
                        help="score through the service at this address (http://host:8000)")
    remote.add_argument("--batch-size", type=int, default=None,
                        help="headlines per request (default: the service's MAX_BATCH)")
    remote.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds per request (default {DEFAULT_TIMEOUT:g})")
    remote.add_argument("--retries", type=int, default=3,
                        help="retries on connection errors, timeouts and 503, with back-off (default 3)")
    dask = parser.add_argument_group("scoring on a Dask cluster (writes a directory of partitions)")
    dask.add_argument("--dask", default=None, metavar="local|tcp://HOST:8786",
                      help="'local' starts a cluster on this machine; an address joins one")
    dask.add_argument("--workers", type=int, default=None,
                      help="worker processes of --dask local (default: one per core)")
    dask.add_argument("--partition-rows", type=int, default=None,
                      help="rows per partition (default 50000)")
    dask.add_argument("--overwrite", action="store_true",
                      help="replace an earlier job's output in --output instead of resuming it")
    args = parser.parse_args(argv)
    if args.dask is None and (args.workers is not None or args.partition_rows is not None
                              or args.overwrite):
        parser.error("--workers, --partition-rows and --overwrite go with --dask")
    if args.dask is not None:
        if args.url:
            parser.error("--dask scores with the model on each worker; it does not take --url")
        if args.output is None or not args.files:
            parser.error("--dask needs input files and --output DIR")
        if args.output_format not in (None, *TABLE_FORMATS):
            parser.error("--dask writes parquet, csv or tsv partitions")
    if args.url is None and (args.batch_size is not None):
        parser.error("--batch-size goes with --url")
    for name in ("batch_size", "workers", "partition_rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.timeout <= 0 or args.retries < 0:
        parser.error("--timeout must be positive and --retries at least 0")
    return args


def _scoring(args: argparse.Namespace) -> tuple[Scoring, int, Callable[[], None]]:
    """The scoring function, rows per chunk, and what closes it; ModelError when no model."""
    if args.url:
        client = HeadlineClient(args.url, timeout=args.timeout, retries=args.retries,
                                batch_size=args.batch_size)
        return remote_scoring(client), client.max_batch, client.close
    settings = Settings.from_env()
    artifact = load_model(args.model or settings.model_dir, None if args.model else settings.models_root)
    return local_scoring(HeadlineScorer.from_artifact(artifact)), LOCAL_CHUNK_ROWS, lambda: None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dask is not None:
        from service.dask_batch import run_from_args

        return run_from_args(args)
    try:
        sources = [inspect_source(name, args.column) for name in args.files] or [stdin_source()]
        fmt = choose_format(args.output_format, args.output, sources)
        if fmt == "parquet" and args.output is None:
            raise InputError("Parquet output needs --output FILE")
        if args.output is not None and any(Path(s.name).resolve() == args.output.resolve()
                                           for s in sources if s.name != "<stdin>"):
            raise InputError(f"{args.output}: is also an input; write the output elsewhere")
        schema = table_schema(sources, args.explain) if fmt in TABLE_FORMATS else None
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        scoring, chunk_rows, close_scoring = _scoring(args)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ServiceError, ValueError) as exc:  # the service cannot be reached, or a bad --url
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        return _run(args, sources, fmt, schema, scoring, chunk_rows)
    finally:
        close_scoring()


def _run(args: argparse.Namespace, sources: list[Source], fmt: str, schema: pa.Schema | None,
         scoring: Scoring, chunk_rows: int) -> int:
    if sources[0].name == "<stdin>" and not args.url:
        chunk_rows = 1  # someone may be typing: answer each line as it comes
    show_progress = sys.stderr.isatty() or bool(args.files)
    try:
        total = sum(count_rows(s) for s in sources) if args.files and show_progress else None
        out = sys.stdout
        if fmt != "parquet" and args.output is not None:
            out = args.output.open("w", encoding="utf-8", newline="")
        sink = _TableSink(fmt, schema, stream=out, path=args.output) if schema is not None else None
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bar = tqdm(total=total, desc="scoring", unit=" headlines", file=sys.stderr,
               disable=not show_progress, miniters=PROGRESS_MIN_ROWS, delay=PROGRESS_DELAY)
    code = 0
    try:
        for source in sources:
            stream = None
            if source.name == "<stdin>":
                raw = getattr(sys.stdin, "buffer", None)  # None when stdin was replaced by text
                stream = sys.stdin if raw is None else _decoded_lines("<stdin>", raw)
            for chunk in _chunks(read_records(source, stream=stream), chunk_rows):
                if sink is not None:
                    sink.write(score_table(records_table(source, chunk), source, scoring, args.explain))
                else:
                    texts = [record[source.text_column] for _, record in chunk]
                    for (_, record), scored in zip(chunk, scoring(texts, args.explain)):
                        out.write(json.dumps(scored_record(record, source.text_column, scored,
                                                           args.explain),
                                             ensure_ascii=False, default=str) + "\n")
                    if chunk_rows == 1:
                        out.flush()
                bar.update(len(chunk))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 3
    except BrokenPipeError:
        return 0
    finally:
        bar.close()
        if sink is not None:
            sink.close()
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
