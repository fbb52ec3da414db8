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
(``headline_scorer.client``) instead of a local model, with identical results; ``--dask`` runs
the job on a Dask cluster (``batch.dask_job``).

``headline-score audit SOURCE...`` is another command: it finds the headlines of pages, feeds
and text dumps (files or URLs) and ranks them (:mod:`batch.audit.command`; ``headline-score
audit --help``). A file named ``audit`` is scored as ``./audit``.

This module owns the command line: its arguments, choosing the scoring back-end
(:mod:`batch.scoring`) and the sink (:mod:`batch.sinks`), the progress bar and the exit codes
(1 bad input or output, 2 no usable model, 3 the service cannot be reached).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from batch import dask_job
from batch.audit import command as audit_command
from batch.formats import (
    FORMATS,
    STDIN_NAME,
    TABLE_FORMATS,
    InputError,
    InputFile,
    Record,
    choose_format,
    count_rows,
    decoded_lines,
    inspect_input,
    read_records,
    stdin_input,
    table_schema,
)
from batch.scoring import Scoring, load_batch_model, local_scoring, remote_scoring
from batch.sinks import open_sink
from headline_scorer.artifact import ModelError
from headline_scorer.client import HeadlineClient, ServiceError
from headline_scorer.scorer import HeadlineScorer

PROGRESS_MIN_ROWS = 1000
PROGRESS_DELAY = 1.0  # seconds before the bar shows: quick runs stay quiet
LOCAL_CHUNK_ROWS = 1000  # rows scored and written at a time with a local model
DEFAULT_TIMEOUT = 30.0
AUDIT_COMMAND = "audit"


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="headline-score", description=__doc__.split("\n")[0],
        epilog=f"headline-score {AUDIT_COMMAND} SOURCE... ranks the headlines of pages and feeds "
               f"(see headline-score {AUDIT_COMMAND} --help).")
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
    artifact = load_batch_model(args.model)
    return local_scoring(HeadlineScorer.from_artifact(artifact)), LOCAL_CHUNK_ROWS, lambda: None


def _dask_options(args: argparse.Namespace) -> dask_job.JobOptions:
    return dask_job.JobOptions(inputs=args.files, output=args.output, model=args.model,
                               column=args.column, explain=args.explain,
                               output_format=args.output_format or "parquet",
                               partition_rows=args.partition_rows or dask_job.DEFAULT_PARTITION_ROWS,
                               overwrite=args.overwrite)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [AUDIT_COMMAND]:
        return audit_command.main(arguments[1:])
    args = parse_args(arguments)
    if args.dask is not None:
        return dask_job.run_command(_dask_options(args), args.dask, args.workers)
    try:
        sources = [inspect_input(name, args.column) for name in args.files] or [stdin_input()]
        fmt = choose_format(args.output_format, args.output, sources)
        if fmt == "parquet" and args.output is None:
            raise InputError("Parquet output needs --output FILE")
        if args.output is not None and any(Path(s.name).resolve() == args.output.resolve()
                                           for s in sources if s.name != STDIN_NAME):
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


def _run(args: argparse.Namespace, sources: list[InputFile], fmt: str, schema: pa.Schema | None,
         scoring: Scoring, chunk_rows: int) -> int:
    if sources[0].name == STDIN_NAME and not args.url:
        chunk_rows = 1  # someone may be typing: answer each line as it comes
    show_progress = sys.stderr.isatty() or bool(args.files)
    try:
        total = sum(count_rows(s) for s in sources) if args.files and show_progress else None
        sink = open_sink(fmt, schema, args.output, args.explain, interactive=chunk_rows == 1)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bar = tqdm(total=total, desc="scoring", unit=" headlines", file=sys.stderr,
               disable=not show_progress, miniters=PROGRESS_MIN_ROWS, delay=PROGRESS_DELAY)
    code = 0
    try:
        for source in sources:
            stream = None
            if source.name == STDIN_NAME:
                raw = getattr(sys.stdin, "buffer", None)  # None when stdin was replaced by text
                stream = sys.stdin if raw is None else decoded_lines(STDIN_NAME, raw)
            for chunk in _chunks(read_records(source, stream=stream), chunk_rows):
                sink.write(source, chunk, scoring)
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
        sink.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
