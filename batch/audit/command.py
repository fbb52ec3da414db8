"""``headline-score audit SOURCE...``: how sensational a page's or a feed's headlines read.

Each SOURCE is a local file, ``-`` (standard input) or an http(s) URL of an RSS/Atom feed, an
HTML page or a plain-text dump. The headlines found in all of them are merged (a count and
every place each stood), scored once each with the local model, and shown as a ranked table;
``--report FILE`` writes a self-contained HTML report, ``--output FILE`` CSV or JSON lines.

A source that cannot be fetched or read, or that holds no headline, gets a message on stderr
naming it, and the others are still audited. Exit status: 0 when any headline was audited, 1
when none could be (or the output cannot be written), 2 when there is no usable model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import requests

from batch.audit.report import html_report, write_csv, write_jsonl, write_table
from batch.audit.sources import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, FetchLimits, SourceError, load_source
from batch.scoring import load_batch_model
from headline_scorer.artifact import ModelError
from headline_scorer.audit import Audit, SourceOutcome, audit_documents
from headline_scorer.extract import FORMATS
from headline_scorer.scorer import HeadlineScorer

OUTPUT_FORMATS = ("csv", "jsonl")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The audit's arguments, on its own parser or on a ``headline-score audit`` sub-parser."""
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="file, - for stdin, or http(s) URL of a feed, page or text dump")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="read every source as this kind (default: detected per source)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model or models directory (default: HEADLINE_MODEL_DIR or models/)")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE",
                        help="write a self-contained HTML report here")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write the ranked headlines here (.csv or .jsonl)")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default=None,
                        help="csv or jsonl (default: from --output's suffix, else jsonl)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds to connect to a URL and between two reads of it (default "
                             f"{DEFAULT_TIMEOUT:g}); a whole download gets three times as long")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                        help=f"largest source read, in bytes (default {DEFAULT_MAX_BYTES:,})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="headline-score audit",
        description="Find the headlines of feeds, pages and text dumps, score each once and rank "
                    "them, most sensational first.",
        epilog="Exit status: 0 when any headline was audited (a source that failed is named on "
               "stderr), 1 when none could be, 2 when there is no usable model.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.max_bytes < 1:
        parser.error("--timeout and --max-bytes must be positive")
    return args


def output_format(args: argparse.Namespace) -> str:
    if args.output_format:
        return args.output_format
    return "csv" if args.output is not None and args.output.suffix.lower() == ".csv" else "jsonl"


def read_sources(sources: list[str], limits: FetchLimits) -> tuple[list, list[SourceOutcome]]:
    """The documents that could be read, and an outcome for each source that could not."""
    documents, failed = [], []
    with requests.Session() as session:
        for source in sources:
            try:
                documents.append(load_source(source, limits, session))
            except SourceError as exc:
                failed.append(SourceOutcome(source, error=str(exc)))
    return documents, failed


def run(args: argparse.Namespace) -> int:
    """Audit ``args.sources`` and show the result (see the module docstring)."""
    try:
        scorer = HeadlineScorer.from_artifact(load_batch_model(args.model))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    limits = FetchLimits(timeout=args.timeout, max_bytes=args.max_bytes)
    documents, failed = read_sources(args.sources, limits)
    audit = audit_documents(documents, scorer, args.format, failed, rewrites=True)
    # Outcomes in the order the sources were given (a source given twice: its first place).
    order = {source: i for i, source in reversed(list(enumerate(args.sources)))}
    audit.sources.sort(key=lambda outcome: order.get(outcome.source, len(order)))
    for outcome in audit.sources:
        if outcome.error is not None:
            print(f"error: {outcome.error}", file=sys.stderr)
    if not audit.audited:
        print("error: nothing could be audited", file=sys.stderr)
        return 1
    return _show(audit, args)


def _show(audit: Audit, args: argparse.Namespace) -> int:
    terminal = sys.stdout.isatty()
    colour = terminal and not os.environ.get("NO_COLOR")
    width = shutil.get_terminal_size().columns if terminal else None
    try:
        write_table(audit, sys.stdout, colour, width)
        if args.output is not None:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                (write_csv if output_format(args) == "csv" else write_jsonl)(audit, out)
        if args.report is not None:
            args.report.write_text(html_report(audit), encoding="utf-8")
    except OSError as exc:
        print(f"error: {exc.filename}: cannot write ({exc.strerror})", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
