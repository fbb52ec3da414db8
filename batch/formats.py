"""The batch file formats: reading inputs into records and turning scored rows into output.

Inputs, by file name: ``.txt`` (or stdin) one headline per line; ``.csv`` / ``.tsv`` the
``headline`` or ``text`` column (or ``--column``); ``.jsonl`` the same field names;
``.parquet`` the same column names. Any other name is read as ``.txt``. An input can be read
whole or by byte range (Parquet: by row groups), which is how the Dask job reads partitions.

Output rows keep every input column, with the text column normalised, and append ``score``,
``label`` (``cues`` with explanations) and ``error`` (``model_<name>`` where the input already
has that column): as a JSON object per row (:func:`scored_record`) or an Arrow table
(:func:`scored_table`) written as CSV, TSV (:func:`write_delimited`) or Parquet
(:func:`write_parquet`). Both the ``headline-score`` command and the Dask job write with these,
so they write the same bytes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from headline_scorer.text import quote_tsv_field, split_tsv_line

TEXT_FIELDS = ("headline", "text")
FORMATS = ("jsonl", "csv", "tsv", "parquet")
FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
                    ".parquet": "parquet"}
TABLE_FORMATS = ("csv", "tsv", "parquet")
PARQUET_ROW_GROUP = 65_536
STDIN_NAME = "<stdin>"


class InputError(ValueError):
    """An input file cannot be read; the message names the file and line."""


# ------------------------------------------------------------------------------ inputs

@dataclass(frozen=True)
class InputFile:
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


def _kind_of(name: str) -> str:
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


def open_parquet(name: str) -> pq.ParquetFile:
    """The Parquet file ``name``; :class:`InputError` naming it when it cannot be read."""
    try:
        return pq.ParquetFile(name)
    except OSError as exc:
        raise InputError(f"{name}: cannot open ({exc.strerror or exc})") from exc
    except pa.ArrowException as exc:
        raise InputError(f"{name}: not a readable Parquet file ({exc})") from exc


def inspect_input(name: str, column: str | None) -> InputFile:
    """Read the start of one input (its header, first record or Parquet schema) to describe it.

    Raises :class:`InputError` naming the file when it cannot be opened or has no text column.
    """
    kind = _kind_of(name)
    if kind == "txt":
        _open(name).close()  # a missing file is reported before anything is scored
        return InputFile(name, kind, _strings(["headline"]), "headline")
    if kind == "parquet":
        schema = open_parquet(name).schema_arrow
        text = _pick_field(schema.names, column, name)
        if not (pa.types.is_string(schema.field(text).type)
                or pa.types.is_large_string(schema.field(text).type)):
            raise InputError(f"{name}: column {text!r} holds {schema.field(text).type}, not text")
        return InputFile(name, kind, schema, text)
    with _open(name) as handle:
        if kind == "jsonl":
            for lineno, line in enumerate(decoded_lines(name, handle), start=1):
                if line.strip():
                    record = _json_record(name, lineno, line)
                    fields = list(record)
                    return InputFile(name, kind, _strings(fields),
                                     _pick_field(fields, column, f"{name}:{lineno}"))
            return InputFile(name, kind, _strings([]), column or "headline")  # no records at all
        sizes: list[int] = []

        def measured(raw_lines: Iterable[bytes]) -> Iterator[bytes]:
            for raw in raw_lines:
                sizes.append(len(raw))
                yield raw

        lines = decoded_lines(name, measured(handle))
        if kind == "tsv":
            header = split_tsv_line(next(lines, "").rstrip("\r\n"))
        else:
            header = next(csv.reader(lines), [])
        if len(set(header)) != len(header):
            raise InputError(f"{name}:1: the header names a column twice: {header}")
        return InputFile(name, kind, _strings(header), _pick_field(header, column, name),
                         data_start=sum(sizes), data_line=len(sizes) + 1)


def stdin_input() -> InputFile:
    """Standard input: one headline per line."""
    return InputFile(STDIN_NAME, "txt", _strings(["headline"]), "headline")


def decoded_lines(name: str, raw_lines: Iterable[bytes], first_line: int = 1) -> Iterator[str]:
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


def read_records(source: InputFile, start: int | None = None, end: int | None = None,
                 first_line: int | None = None, stream: Iterable[str] | None = None
                 ) -> Iterator[Record]:
    """Yield ``(line, record)`` for each row of ``source``, in order.

    ``start``/``end`` bound a byte range that starts and ends at record boundaries (Parquet:
    a range of row groups) and ``first_line`` is the line (Parquet: row) number at ``start``;
    by default the whole input is read. ``stream`` gives the decoded lines of stdin. Every
    record maps the input's columns to their values; its text column holds a string.
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
        lines = decoded_lines(source.name, _byte_range(handle, start, end), first_line)
        yield from _line_records(source, lines, first_line)


def _line_records(source: InputFile, lines: Iterable[str], first_line: int) -> Iterator[Record]:
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


def _parquet_records(source: InputFile, start: int, end: int | None, first_row: int
                     ) -> Iterator[Record]:
    parquet = open_parquet(source.name)
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


def count_rows(source: InputFile) -> int:
    """Rows of a file, for the progress bar: exact for Parquet, its lines otherwise."""
    if source.kind == "parquet":
        return open_parquet(source.name).metadata.num_rows
    lines, last = 0, b"\n"
    with _open(source.name) as handle:
        handle.seek(source.data_start)
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


# ----------------------------------------------------------------------------- output

@dataclass(frozen=True)
class Scored:
    """The outcome for one row: the text that was scored, and a score or an error."""

    text: str
    score: float | None = None
    label: str | None = None
    cues: list[dict] | None = None
    error: str | None = None


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


def output_schema(source: InputFile, explain: bool) -> pa.Schema:
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


def records_table(source: InputFile, records: list[Record]) -> pa.Table:
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


def scored_table(table: pa.Table, source: InputFile, scored: list[Scored], explain: bool) -> pa.Table:
    """``table`` (input columns) with its outcomes, one per row: text normalised,
    score/label/[cues]/error appended; cues as a JSON string."""
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
    """Write ``table`` as one Parquet file, in row groups of :data:`PARQUET_ROW_GROUP`."""
    pq.write_table(table, path, row_group_size=PARQUET_ROW_GROUP)


def choose_format(requested: str | None, output: Path | None, sources: list[InputFile]) -> str:
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


def table_schema(sources: list[InputFile], explain: bool) -> pa.Schema:
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
