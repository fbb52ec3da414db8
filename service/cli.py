"""``headline-score``: score headlines from files or stdin with a saved model.

Reads .txt (or stdin) one headline per line, .csv / .tsv (the ``headline`` or ``text``
column, or ``--column``) and .jsonl (the same field names), and writes one JSON object per
input headline, in input order, to stdout. An empty headline still gets its line, with an
``error`` instead of a score, so output lines match input lines.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from service.artifact import ModelError, load_model
from service.config import Settings
from service.scorer import EmptyHeadline, HeadlineScorer
from service.text import split_tsv_line

TEXT_FIELDS = ("headline", "text")
PROGRESS_MIN_ROWS = 1000


class InputError(ValueError):
    """An input file cannot be read; the message names the file and line."""


def _pick_field(fields: list[str], column: str | None, where: str) -> str:
    if column is not None:
        if column not in fields:
            raise InputError(f"{where}: no column {column!r}; columns are {fields}")
        return column
    for name in TEXT_FIELDS:
        if name in fields:
            return name
    raise InputError(f"{where}: no 'headline' or 'text' column (use --column); columns are {fields}")


def _decoded_lines(name: str, raw_lines: Iterable[bytes]) -> Iterator[str]:
    """Decode a byte stream line by line, so bad bytes are reported with their line.

    Lines keep their line ends (csv needs them); a UTF-8 byte order mark is dropped.
    """
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}:{lineno}: bytes {raw[exc.start:exc.end]!r} are not valid "
                             "UTF-8 (save the file as UTF-8)") from exc


def _tsv_headlines(name: str, lines: Iterable[str], column: str | None) -> Iterator[str]:
    # One record per line, split by the rule training reads TSV with: a CSV reader would let a
    # title that starts with an unbalanced quote swallow the lines after it.
    lines = iter(lines)
    header = split_tsv_line(next(lines, "").rstrip("\r\n"))
    index = header.index(_pick_field(header, column, name))
    for lineno, line in enumerate(lines, start=2):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue  # a blank line is no record, as in CSV
        values = split_tsv_line(line)
        if len(values) != len(header):
            raise InputError(f"{name}:{lineno}: expected {len(header)} tab-separated fields, "
                             f"got {len(values)}")
        yield values[index]


def read_headlines(name: str, stream: Iterable[str], column: str | None) -> Iterator[str]:
    """Yield the headlines of one input (lines with their line ends), in order; a record
    without one yields ""."""
    kind = Path(name).suffix.lower()
    if kind == ".tsv":
        yield from _tsv_headlines(name, stream, column)
    elif kind == ".csv":
        reader = csv.DictReader(stream)
        field = _pick_field(list(reader.fieldnames or []), column, name)
        for row in reader:
            yield row.get(field) or ""
    elif kind in (".jsonl", ".ndjson"):
        field = None
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                yield ""
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise InputError(f"{name}:{lineno}: expected a JSON object")
            field = field or _pick_field(list(record), column, f"{name}:{lineno}")
            value = record.get(field, "")
            yield value if isinstance(value, str) else ""
    else:
        for line in stream:
            yield line.rstrip("\n").rstrip("\r")


def _inputs(files: list[str]) -> Iterator[tuple[str, Iterable[str]]]:
    if not files:
        raw = getattr(sys.stdin, "buffer", None)  # None when stdin was replaced by a text stream
        yield "<stdin>", sys.stdin if raw is None else _decoded_lines("<stdin>", raw)
        return
    for name in files:
        try:
            handle = open(name, "rb")  # noqa: SIM115 (closed below, after its lines are read)
        except OSError as exc:
            raise InputError(f"{name}: cannot open ({exc.strerror})") from exc
        with handle:
            yield name, _decoded_lines(name, handle)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="headline-score", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=".txt, .csv, .tsv or .jsonl files (default: stdin, one per line)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model or models directory (default: HEADLINE_MODEL_DIR or models/)")
    parser.add_argument("--column", default=None, help="text column/field of CSV, TSV or JSONL")
    parser.add_argument("--explain", action="store_true", help="add each headline's cues")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    try:
        artifact = load_model(args.model or settings.model_dir,
                              None if args.model else settings.models_root)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scorer = HeadlineScorer.from_artifact(artifact)
    out = sys.stdout
    show_progress = sys.stderr.isatty() or bool(args.files)
    try:
        for name, stream in _inputs(args.files):
            rows = tqdm(read_headlines(name, stream, args.column), desc=name, unit=" headlines",
                        file=sys.stderr, disable=not show_progress, miniters=PROGRESS_MIN_ROWS,
                        delay=1.0)
            for headline in rows:
                try:
                    record = scorer.score(headline, explain=args.explain).as_dict()
                except EmptyHeadline as exc:
                    record = {"headline": "", "error": str(exc)}  # nothing was left of it
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
