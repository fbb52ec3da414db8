"""Readers for every labelled-headline format the project trains on.

Each reader turns one dataset into a :class:`LabelledSet` of normalised headlines, binary
labels and graded targets, and refuses bad data loudly: an unknown label, a missing column or
undecodable bytes raise :class:`DataError` naming the file and line; empty rows are skipped and
counted; duplicates are dropped and counted (all copies when their labels disagree).

Formats:

- ``lines``: one headline per line, gzip or plain, one label per file (chakraborty2016);
- ``webis``: the Webis-Clickbait-17 ``instances.jsonl`` + ``truth.jsonl`` pair, keeping
  ``truthMean`` as the graded target;
- ``table``: CSV / TSV / JSONL with a text column and a label column (horne2017, a user's own).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from headline_scorer.text import normalise_text, split_tsv_line

_LINE_END = re.compile(r"\r\n|\r|\n")
TEXT_COLUMNS = ("headline", "text", "title", "postText")
LABEL_COLUMNS = ("label", "class", "truthClass")
POSITIVE_LABELS = frozenset({"1", "1.0", "true", "yes", "clickbait", "sensational", "positive"})
NEGATIVE_LABELS = frozenset(
    {
        "0", "0.0", "false", "no", "news", "neutral", "negative",
        "no-clickbait", "non-clickbait", "not-clickbait", "noclickbait",
    }
)  # fmt: skip


class DataError(ValueError):
    """A dataset file cannot be read as labelled headlines; the message names file and line."""


@dataclass
class ReadReport:
    """What reading one dataset did: rows seen, skipped and dropped."""

    rows_read: int = 0
    empty_skipped: int = 0
    duplicates_dropped: int = 0
    conflicts_dropped: int = 0


@dataclass
class LabelledSet:
    """One dataset's headlines, ready to split and fit.

    ``texts`` are normalised headlines; ``labels`` is an int array of 0/1 (1 = sensational);
    ``targets`` is a float array in [0, 1]: the graded judgment when the source has one
    (``graded`` is then True) and otherwise equal to ``labels``.
    """

    name: str
    texts: list[str]
    labels: np.ndarray
    targets: np.ndarray
    graded: bool = False
    report: ReadReport = field(default_factory=ReadReport)

    def __len__(self) -> int:
        return len(self.texts)

    def class_counts(self) -> tuple[int, int]:
        positives = int(self.labels.sum())
        return len(self.labels) - positives, positives

    def subset(self, mask: np.ndarray) -> LabelledSet:
        """The rows where boolean ``mask`` is True, as a new set with the same name."""
        index = np.flatnonzero(mask)
        return LabelledSet(
            name=self.name,
            texts=[self.texts[i] for i in index],
            labels=self.labels[index],
            targets=self.targets[index],
            graded=self.graded,
            report=self.report,
        )


@dataclass
class _Row:
    text: str
    label: int
    target: float
    where: str  # "file:line", for messages


def parse_label(value: object, where: str) -> int:
    """Return 1 for a sensational/clickbait label and 0 for a neutral one, else raise."""
    if isinstance(value, bool):
        return int(value)
    key = str(value).strip().lower()
    if key in POSITIVE_LABELS:
        return 1
    if key in NEGATIVE_LABELS:
        return 0
    raise DataError(
        f"{where}: unknown label {value!r}; expected 0/1, true/false, clickbait/news, "
        "sensational/neutral or no-clickbait"
    )


def read_text_file(path: Path) -> str:
    """Decode ``path`` (gzip when it ends in .gz) as UTF-8, naming the line of any bad bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable gzip file ({exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{path}:{line}: bytes {raw[exc.start:exc.end]!r} are not valid UTF-8 "
            "(save the file as UTF-8)"
        ) from exc


def physical_lines(text: str) -> list[str]:
    """The lines of ``text``, ended by "\\n", "\\r\\n" or "\\r" only.

    ``str.splitlines`` would also break at U+2028, U+0085, form feeds and other characters
    that are text inside a headline or a JSON string, shifting every later line number.
    """
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the end of the last line, not an empty line after it
    return lines


def _finish(name: str, rows: Iterable[_Row], report: ReadReport, graded: bool) -> LabelledSet:
    """Drop duplicates (and every copy of a headline whose labels disagree) and build the set."""
    first: dict[str, _Row] = {}
    conflicting: set[str] = set()
    counts: dict[str, int] = {}
    for row in rows:
        key = row.text.casefold()
        counts[key] = counts.get(key, 0) + 1
        if key not in first:
            first[key] = row
        elif first[key].label != row.label:
            conflicting.add(key)
    kept = [row for key, row in first.items() if key not in conflicting]
    report.conflicts_dropped += sum(counts[k] for k in conflicting)
    report.duplicates_dropped += sum(n - 1 for k, n in counts.items() if k not in conflicting)
    if not kept:
        raise DataError(f"{name}: no usable headlines were read")
    labels = np.array([r.label for r in kept], dtype=np.int64)
    if labels.min() == labels.max():
        only = "sensational (1)" if labels[0] == 1 else "neutral (0)"
        raise DataError(
            f"{name}: every usable headline is {only}; a dataset needs both classes to train on"
        )
    return LabelledSet(
        name=name,
        texts=[r.text for r in kept],
        labels=labels,
        targets=np.array([r.target for r in kept], dtype=np.float64),
        graded=graded,
        report=report,
    )


def read_lines(name: str, files: list[tuple[Path, int]]) -> LabelledSet:
    """Read one-headline-per-line files (gzip or plain); ``files`` pairs each path with its label."""
    report = ReadReport()
    rows: list[_Row] = []
    for path, label in files:
        for lineno, line in enumerate(physical_lines(read_text_file(path)), start=1):
            report.rows_read += 1
            text = normalise_text(line)
            if not text:
                report.empty_skipped += 1
                continue
            rows.append(_Row(text, label, float(label), f"{path}:{lineno}"))
    return _finish(name, rows, report, graded=False)


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(physical_lines(read_text_file(path)), start=1):
        if not line.strip():
            yield lineno, {}
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
        yield lineno, record


def read_webis(name: str, instances: Path, truth: Path) -> LabelledSet:
    """Read the Webis-Clickbait-17 pair: ``postText`` from instances, ``truthMean`` and
    ``truthClass`` from truth, joined on ``id``."""
    judgments: dict[str, tuple[float, int]] = {}
    for lineno, record in _jsonl_records(truth):
        if not record:
            continue
        where = f"{truth}:{lineno}"
        for column in ("id", "truthMean", "truthClass"):
            if column not in record:
                raise DataError(f"{where}: missing field {column!r}")
        mean = record["truthMean"]
        if isinstance(mean, bool) or not isinstance(mean, int | float) or not 0 <= mean <= 1:
            raise DataError(f"{where}: truthMean must be a number in [0, 1], got {mean!r}")
        judgments[str(record["id"])] = (float(mean), parse_label(record["truthClass"], where))

    report = ReadReport()
    rows: list[_Row] = []
    for lineno, record in _jsonl_records(instances):
        report.rows_read += 1
        if not record:
            report.empty_skipped += 1
            continue
        where = f"{instances}:{lineno}"
        for column in ("id", "postText"):
            if column not in record:
                raise DataError(f"{where}: missing field {column!r}")
        post = record["postText"]
        if isinstance(post, list):
            post = " ".join(p for p in post if isinstance(p, str))
        if not isinstance(post, str):
            raise DataError(f"{where}: postText must be a string or a list of strings")
        key = str(record["id"])
        if key not in judgments:
            raise DataError(f"{where}: id {key!r} has no judgment in {truth}")
        text = normalise_text(post)
        if not text:
            report.empty_skipped += 1
            continue
        mean, label = judgments[key]
        rows.append(_Row(text, label, mean, where))
    return _finish(name, rows, report, graded=True)


def _pick_column(available: Iterable[str], wanted: str | None, candidates: tuple[str, ...],
                 what: str, where: str) -> str:
    available = list(available)
    if wanted is not None:
        if wanted not in available:
            raise DataError(f"{where}: no {what} column {wanted!r}; columns are {available}")
        return wanted
    for name in candidates:
        if name in available:
            return name
    raise DataError(
        f"{where}: no {what} column; expected one of {list(candidates)}, columns are {available}"
    )


def _table_rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield (line number, record) for a CSV / TSV / JSONL file, header checked."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".jsonl", ".ndjson", ".json"):
        yield from _jsonl_records(path)
        return
    if kind not in (".csv", ".tsv", ".tab"):
        raise DataError(f"{path}: unsupported file type {kind or '(none)'}; use .csv, .tsv or .jsonl")
    text = read_text_file(path)
    if kind == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: the file is empty")
        for values in reader:
            lineno = reader.line_num
            if not values or not any(v.strip() for v in values):
                yield lineno, {}
                continue
            if len(values) != len(header) or any("\n" in v for v in values):
                raise DataError(
                    f"{path}:{lineno}: expected {len(header)} fields on one line, got "
                    f"{len(values)}{' spanning lines' if any(chr(10) in v for v in values) else ''}"
                    " (an unbalanced quote?)"
                )
            yield lineno, dict(zip(header, values))
        return
    # TSV: one record per line, read by the same rule as the offline scorer (split_tsv_line).
    lines = physical_lines(text)
    if not lines:
        raise DataError(f"{path}: the file is empty")
    header = split_tsv_line(lines[0])
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            yield lineno, {}
            continue
        values = split_tsv_line(line)
        if len(values) != len(header):
            raise DataError(
                f"{path}:{lineno}: expected {len(header)} tab-separated fields, got {len(values)}"
            )
        yield lineno, dict(zip(header, values))


def read_table(name: str, path: Path, text_column: str | None = None,
               label_column: str | None = None) -> LabelledSet:
    """Read a CSV / TSV / JSONL file with a text column and a label column.

    Column names default to the first of :data:`TEXT_COLUMNS` / :data:`LABEL_COLUMNS` present.
    """
    records = ((f"{path}:{lineno}", record) for lineno, record in _table_rows(path))
    return read_records(name, records, text_column, label_column)


def read_records(name: str, records: Iterable[tuple[str, dict[str, object]]],
                 text_column: str | None = None, label_column: str | None = None) -> LabelledSet:
    """A dataset from ``(where, record)`` pairs, read by the rules of :func:`read_table`
    (``where`` names the record in errors: a file and line, or a database row)."""
    report = ReadReport()
    rows: list[_Row] = []
    columns: tuple[str, str] | None = None
    for where, record in records:
        report.rows_read += 1
        if not record:
            report.empty_skipped += 1
            continue
        if columns is None or columns[0] not in record or columns[1] not in record:
            columns = (
                _pick_column(record, text_column, TEXT_COLUMNS, "text", where),
                _pick_column(record, label_column, LABEL_COLUMNS, "label", where),
            )
        raw_text, raw_label = record[columns[0]], record[columns[1]]
        if isinstance(raw_text, list):
            raw_text = " ".join(p for p in raw_text if isinstance(p, str))
        if raw_text is None:
            raw_text = ""
        if not isinstance(raw_text, str):
            raise DataError(f"{where}: text must be a string, got {type(raw_text).__name__}")
        text = normalise_text(raw_text)
        if not text:
            report.empty_skipped += 1
            continue
        label = parse_label(raw_label, where)
        rows.append(_Row(text, label, float(label), where))
    return _finish(name, rows, report, graded=False)
