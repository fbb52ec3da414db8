"""``headline-score``: score headlines from files or stdin with a saved model.

Reads .txt (or stdin) one headline per line, .csv / .tsv (the ``headline`` or ``text``
column, or ``--column``) and .jsonl (the same field names), and writes one JSON object per
input headline, in input order, to stdout. An empty headline still gets its line, with an
``error`` instead of a score, so output lines match input lines.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from service.artifact import ModelError, load_model
from service.config import Settings
from service.scorer import EmptyHeadline, HeadlineScorer

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


def read_headlines(name: str, stream: io.TextIOBase, column: str | None) -> Iterator[str]:
    """Yield the headlines of one input, in order (a record without one yields "")."""
    kind = Path(name).suffix.lower()
    if kind in (".csv", ".tsv"):
        reader = csv.DictReader(stream, delimiter="\t" if kind == ".tsv" else ",")
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


def _inputs(files: list[str]) -> Iterator[tuple[str, io.TextIOBase]]:
    if not files:
        yield "<stdin>", sys.stdin
        return
    for name in files:
        try:
            with open(name, encoding="utf-8", newline="") as handle:
                yield name, handle
        except OSError as exc:
            raise InputError(f"{name}: cannot open ({exc.strerror})") from exc


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
                    record = {"headline": headline, "error": str(exc)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except (InputError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
