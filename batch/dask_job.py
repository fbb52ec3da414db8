"""Batch scoring on Dask: ``headline-score --dask local|tcp://HOST:8786 INPUT... --output DIR``.

The job reads CSV, TSV, JSONL, Parquet (and .txt) inputs, glob patterns included, as one Dask
dataframe in partitions, scores each partition with the shared scorer and writes each as a
Parquet (or CSV/TSV) file in DIR, with a summary (``summary.json``, also printed).

How it works:

- **Partitions** are planned on the client: a Parquet file is cut between row groups, a line
  file at record boundaries found by one fast pass over it (CSV records may span lines, so
  CSV is parsed for that pass), about ``--partition-rows`` rows each. A worker reads its
  byte range with the very readers ``headline-score`` uses (:mod:`batch.formats`), then scores
  and writes it with the same functions (:mod:`batch.scoring`), so the output equals the
  single-process command's, row for row, and an error names the file and the line.
- **The model is loaded once per worker process**: tasks carry the model's directory and
  sha256, never the model; the first task on a worker loads and verifies it
  (``headline_scorer.artifact``) and later tasks reuse it. Every worker must see the model directory
  (the resolved version directory, so a retrain during the job cannot mix two models) and
  the input and output paths at the same place, e.g. on a shared filesystem.
- **Output**: ``part-FFFFF-CCCCC.parquet`` for file F's chunk C, so sorted names are input
  order. Each is written to a temporary name and renamed, then its completion marker
  ``part-FFFFF-CCCCC.done.json`` (its input range, the job and its counts) is written the
  same way; a partition is complete exactly when its marker is there.
- **Bad input** (a missing column, an undecodable byte, a malformed line) fails that file's
  partitions with an error naming file and line; every other partition is still scored and
  written, the summary lists what failed, and the command exits 1.
- **Rerun**: the same command again resumes: partitions whose marker matches (same job,
  same input file size and modification time, same range) are kept, the others (failed,
  never finished, or whose input changed) are scored again, and outputs no longer planned
  are removed. ``--overwrite`` deletes the job's files in DIR and starts over. A DIR holding
  another job's output (other inputs, options or model) is refused unless ``--overwrite``;
  a non-empty DIR that holds no job is always refused.
- **One job per DIR at a time**: a job holds an OS file lock on ``DIR/.headline-score.lock``
  (filelock) from planning to its summary, and a second job on the same DIR is refused at
  once. The lock ends with its process, so a job that crashed never blocks its own rerun.
"""

from __future__ import annotations

import csv
import functools
import glob
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from filelock import FileLock, Timeout

from batch.formats import (
    Appended,
    InputError,
    InputFile,
    inspect_input,
    open_parquet,
    output_schema,
    read_records,
    records_table,
    write_delimited,
    write_parquet,
)
from batch.scoring import load_batch_model, local_scoring, score_table
from headline_scorer.artifact import ModelError, load_model
from headline_scorer.environ import environ_restored, local_cluster_options
from headline_scorer.scorer import HeadlineScorer

DEFAULT_PARTITION_ROWS = 50_000
JOB_FILE = "job.json"
LOCK_FILE = ".headline-score.lock"
SUMMARY_FILE = "summary.json"
MARKER_SUFFIX = ".done.json"
PART_PREFIX = "part-"
WORKER_WAIT = 60.0  # seconds to wait for a cluster to have a worker


# ---------------------------------------------------------------------------- planning

@dataclass(frozen=True)
class Partition:
    """A slice of one input file: bytes [start, end) (Parquet: row groups), from ``first_line``."""

    name: str
    source: InputFile
    start: int
    end: int | None
    first_line: int
    rows: int
    size: int
    mtime_ns: int

    def identity(self) -> dict[str, Any]:
        """What a completion marker records, to tell whether it still describes this slice."""
        return {"file": self.source.name, "size": self.size, "mtime_ns": self.mtime_ns,
                "start": self.start, "end": self.end, "first_line": self.first_line}


def expand_inputs(patterns: list[str]) -> list[str]:
    """Absolute paths of the inputs, glob patterns expanded (sorted), in the order given."""
    paths = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            found = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not found:
                raise InputError(f"{pattern}: no file matches this pattern")
            paths += found
        else:
            paths.append(pattern)
    return [os.path.abspath(p) for p in paths]


def plan_file(source: InputFile, file_index: int, rows_per_part: int) -> list[Partition]:
    """Cut one input into partitions of about ``rows_per_part`` rows at record boundaries."""
    stat = os.stat(source.name)
    spans: list[tuple[int, int | None, int, int]] = []  # (start, end, first line, rows)
    if source.kind == "parquet":
        meta = open_parquet(source.name).metadata
        start, row, rows = 0, 1, 0
        for group in range(meta.num_row_groups):
            rows += meta.row_group(group).num_rows
            if rows >= rows_per_part or group == meta.num_row_groups - 1:
                spans.append((start, group + 1, row, rows))
                start, row, rows = group + 1, row + rows, 0
    else:
        spans = _line_spans(source, rows_per_part)
    stem = f"{PART_PREFIX}{file_index:05d}"
    return [Partition(f"{stem}-{i:05d}", source, start, end, first, rows, stat.st_size,
                      stat.st_mtime_ns)
            for i, (start, end, first, rows) in enumerate(spans)]


def _line_spans(source: InputFile, rows_per_part: int) -> list[tuple[int, int | None, int, int]]:
    """Byte spans of about ``rows_per_part`` records of a line file (CSV: parsed records)."""
    spans = []
    offset = start = source.data_start
    line = first = source.data_line
    rows = 0
    with open(source.name, "rb") as handle:
        handle.seek(offset)
        if source.kind == "csv":
            consumed = 0  # bytes of the lines the reader has taken (it never reads ahead)

            def lines() -> Iterator[str]:
                nonlocal consumed
                for raw in handle:
                    consumed += len(raw)
                    # latin-1 maps each byte to one character: quotes, commas and line ends are
                    # where they are in UTF-8, and bad bytes are left for the worker to report.
                    yield raw.decode("latin-1")

            reader = csv.reader(lines())
            try:
                for values in reader:
                    rows += bool(values)  # a blank line is no record
                    if rows >= rows_per_part:
                        offset = source.data_start + consumed
                        spans.append((start, offset, first, rows))
                        start, first, rows = offset, source.data_line + reader.line_num, 0
            except csv.Error:
                pass  # the worker reading this span reports it with file and line
            if rows or not spans:
                spans.append((start, None, first, rows))
            return spans
        for raw in handle:
            line += 1
            offset += len(raw)
            # A blank TSV line is no record; a blank JSONL line is one (an empty headline).
            rows += not (source.kind == "tsv" and not raw.strip())
            if rows >= rows_per_part:
                spans.append((start, offset, first, rows))
                start, first, rows = offset, line, 0
    if rows or not spans:
        spans.append((start, None, first, rows))
    return spans


# ------------------------------------------------------------------ running on workers

_load_lock = threading.Lock()


# One model per process: a worker serving a new job's model drops the old one. cache_info()
# counts the loads (misses).
@functools.lru_cache(maxsize=1)
def load_worker_scorer(model_dir: str, sha256: str) -> HeadlineScorer:
    """Load and verify the job's model on this worker; ModelError when its sha256 differs."""
    artifact = load_model(Path(model_dir))
    found = artifact.manifest["model_sha256"]
    if found != sha256:
        raise ModelError(f"{model_dir}: on this worker the model's sha256 is {found}, the "
                         f"job's is {sha256}; every worker needs the same model there")
    return HeadlineScorer.from_artifact(artifact)


def worker_scorer(model_dir: str, sha256: str) -> HeadlineScorer:
    """This process's scorer for the model at ``model_dir``, loaded on first use only."""
    # lru_cache alone lets two threads of one worker both load the model on a first call.
    with _load_lock:
        return load_worker_scorer(model_dir, sha256)


def _frame(table: pa.Table) -> Any:
    import pandas as pd

    # Arrow-backed columns: the round trip back to Arrow gives the very same values and types.
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _read_partition(part: Partition) -> Any:
    stat = os.stat(part.source.name)
    if (stat.st_size, stat.st_mtime_ns) != (part.size, part.mtime_ns):
        raise InputError(f"{part.source.name}: changed since the job was planned; run it again")
    records = list(read_records(part.source, part.start, part.end, part.first_line))
    return _frame(records_table(part.source, records))


def _score_partition(frame: Any, source: InputFile, model_dir: str, sha256: str, explain: bool) -> Any:
    table = pa.Table.from_pandas(frame, schema=source.schema, preserve_index=False)
    scoring = local_scoring(worker_scorer(model_dir, sha256))
    return _frame(score_table(table, source, scoring, explain))


def _replace_atomically(path: Path, write: Any) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _write_partition(frame: Any, part: Partition, out_dir: str, fmt: str, schema: pa.Schema,
                     job_id: str) -> dict[str, Any]:
    """Write one scored partition, then its completion marker; return its counts."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    directory = Path(out_dir)
    target = directory / f"{part.name}.{fmt}"
    if fmt == "parquet":
        _replace_atomically(target, lambda path: write_parquet(table, path))
    else:
        def write_text(path: Path) -> None:
            with path.open("w", encoding="utf-8", newline="") as stream:
                write_delimited(table, stream, fmt, header=True)

        _replace_atomically(target, write_text)
    names = Appended.beside(part.source.columns)
    labels = table.column(names.label).to_pylist()
    counts = {"rows": table.num_rows, "errors": sum(label is None for label in labels),
              "sensational": sum(label == "sensational" for label in labels)}
    marker = {"job": job_id, "partition": part.identity(), "output": target.name, **counts}
    _replace_atomically(directory / f"{part.name}{MARKER_SUFFIX}",
                        lambda path: path.write_text(json.dumps(marker, indent=1) + "\n"))
    return counts


# -------------------------------------------------------------------------- the job

@dataclass(frozen=True)
class JobOptions:
    inputs: list[str]
    output: Path
    model: Path | None = None
    column: str | None = None
    explain: bool = False
    output_format: str = "parquet"
    partition_rows: int = DEFAULT_PARTITION_ROWS
    overwrite: bool = False


class JobError(RuntimeError):
    """The job cannot start (its output directory, or no input at all); the message says why."""


def _job_description(options: JobOptions, inputs: list[str], model_sha256: str) -> dict[str, Any]:
    return {"inputs": inputs, "column": options.column, "explain": options.explain,
            "output_format": options.output_format, "model_sha256": model_sha256}


def _ours(path: Path) -> bool:
    name = path.name
    return (name in (JOB_FILE, SUMMARY_FILE) or name.startswith(PART_PREFIX)
            or (name.startswith("." + PART_PREFIX) and name.endswith(".tmp")))


def _check_output_directory(directory: Path) -> list[Path]:
    """``directory``'s entries (its lock file aside) if it is missing, empty or a job's;
    JobError otherwise, before anything is written into it."""
    if directory.exists() and not directory.is_dir():
        raise JobError(f"{directory}: exists and is not a directory")
    entries = [e for e in directory.iterdir() if e.name != LOCK_FILE] if directory.exists() else []
    if entries and not (directory / JOB_FILE).exists():
        raise JobError(f"{directory}: not empty and holds no headline-score job ({JOB_FILE} is "
                       "missing); choose a new or empty directory")
    return entries


def lock_output(directory: Path) -> FileLock:
    """Take ``directory``'s job lock (creating the directory); JobError at once when another
    job holds it. The caller releases it when the job ends."""
    _check_output_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise JobError(f"{directory}: another headline-score job is writing into it; wait for "
                       "that job to end, or choose another directory") from None
    return lock


def prepare_output(directory: Path, job: dict[str, Any], overwrite: bool) -> None:
    """Make ``directory`` (created by :func:`lock_output`) ready for ``job``: new, resumed, or
    (``overwrite``) emptied of a job."""
    entries = _check_output_directory(directory)
    job_file = directory / JOB_FILE
    if job_file.exists() and not overwrite:
        try:
            earlier = json.loads(job_file.read_text())
        except (OSError, ValueError) as exc:
            raise JobError(f"{job_file}: unreadable ({exc}); use --overwrite") from exc
        differs = [key for key in job if earlier.get(key) != job[key]]
        if differs:
            raise JobError(f"{directory}: holds the output of another job (its {', '.join(differs)} "
                           "differ); pass --overwrite to replace it, or choose another directory")
    if overwrite:
        for entry in entries:
            if _ours(entry) and entry.is_file():
                entry.unlink()
    for entry in directory.glob(f".{PART_PREFIX}*.tmp"):  # left by a worker that was stopped
        entry.unlink()
    _replace_atomically(job_file, lambda path: path.write_text(json.dumps(job, indent=1) + "\n"))


def _complete(directory: Path, part: Partition, job_id: str) -> dict[str, Any] | None:
    """The counts in ``part``'s marker if it is complete for this job, else None."""
    try:
        marker = json.loads((directory / f"{part.name}{MARKER_SUFFIX}").read_text())
    except (OSError, ValueError):
        return None
    if marker.get("job") != job_id or marker.get("partition") != part.identity():
        return None
    if not (directory / str(marker.get("output"))).is_file():
        return None
    return {key: marker[key] for key in ("rows", "errors", "sensational")}


def _remove_unplanned(directory: Path, planned: set[str], fmt: str) -> None:
    keep = {f"{name}.{fmt}" for name in planned} | {f"{name}{MARKER_SUFFIX}" for name in planned}
    for entry in directory.glob(f"{PART_PREFIX}*"):
        if entry.name not in keep and entry.is_file():
            entry.unlink()


@dataclass
class Plan:
    """A job ready to run: its model, partitions (complete or to do) and output directory."""

    options: JobOptions
    model_dir: str
    sha256: str
    model_version: str
    job_id: str
    directory: Path
    first: InputFile
    schema: pa.Schema
    parts: list[Partition]
    done: dict[str, dict[str, Any]]
    failed: list[dict[str, Any]]
    inputs: list[str]
    started: float
    lock: FileLock

    def release(self) -> None:
        """Let another job use the output directory (after this one ran, or will not)."""
        self.lock.release()


def plan_job(options: JobOptions) -> Plan:
    """Check the model, read the inputs' headers, cut them into partitions and prepare DIR,
    on the client, before any cluster is involved.

    A file that cannot be read is reported (and listed in the summary) and the others go on.
    Raises :class:`InputError` when no input can be read at all, :class:`JobError` for an
    unusable output directory and :class:`ModelError` for an unusable model.
    """
    started = time.perf_counter()
    artifact = load_batch_model(options.model)
    model_dir, sha256 = str(artifact.directory), str(artifact.manifest["model_sha256"])
    inputs = expand_inputs(options.inputs)

    failed: list[dict[str, Any]] = []
    parts: list[Partition] = []
    schema: pa.Schema | None = None
    first: InputFile | None = None
    for index, path in enumerate(inputs):
        try:
            source = inspect_input(path, options.column)
            this_schema = output_schema(source, options.explain)
            if schema is not None and not this_schema.equals(schema):
                raise InputError(f"{path}: columns {this_schema.names} differ from {first.name}'s "
                                 f"{schema.names}; every input of a job needs the same columns")
            parts += plan_file(source, index, options.partition_rows)
        except (InputError, OSError) as exc:
            failed.append({"partition": None, "file": path, "error": str(exc)})
            print(f"error: {exc}", file=sys.stderr)
            continue
        schema, first = this_schema, first or source
    if schema is None or first is None:
        raise InputError("no input could be read: " + "; ".join(f["error"] for f in failed))

    job = _job_description(options, inputs, sha256)
    job_id = hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()[:16]
    directory = options.output.resolve()
    lock = lock_output(directory)
    try:
        prepare_output(directory, job, options.overwrite)
        _remove_unplanned(directory, {p.name for p in parts}, options.output_format)
        done = {p.name: counts for p in parts if (counts := _complete(directory, p, job_id))}
    except BaseException:
        lock.release()
        raise
    return Plan(options, model_dir, sha256, artifact.version, job_id, directory, first, schema,
                parts, done, failed, inputs, started, lock)


def run_plan(plan: Plan, client: Any, scheduler: str = "") -> dict[str, Any]:
    """Score the partitions of ``plan`` not yet complete on the cluster of ``client``; the
    summary of the whole job (also written to DIR)."""
    import dask
    import dask.dataframe as dd
    from distributed import as_completed
    from tqdm import tqdm

    options, directory, parts, done = plan.options, plan.directory, plan.parts, plan.done
    failed = list(plan.failed)
    todo = [p for p in parts if p.name not in done]
    print(f"{len(parts)} partitions of {sum(p.rows for p in parts)} rows from {len(plan.inputs)} "
          f"files; {len(done)} already complete, {len(todo)} to score on {scheduler}",
          file=sys.stderr, flush=True)

    written: dict[str, dict[str, Any]] = {}
    if todo:
        input_meta = _frame(plan.first.schema.empty_table())
        output_meta = _frame(plan.schema.empty_table())
        with dask.config.set({"dataframe.convert-string": False}):
            frame = dd.from_map(_read_partition, todo, meta=input_meta, label="read-headlines")
            # Tasks carry the model's path and sha256; each worker loads it once (worker_scorer).
            scored = frame.map_partitions(_score_partition, plan.first, plan.model_dir,
                                          plan.sha256, options.explain, meta=output_meta)
            writes = [dask.delayed(_write_partition)(piece, part, str(directory),
                                                     options.output_format, plan.schema, plan.job_id)
                      for piece, part in zip(scored.to_delayed(), todo)]
        futures = client.compute(writes)
        part_of = {future.key: part for future, part in zip(futures, todo)}
        with tqdm(total=sum(p.rows for p in todo), desc="scoring", unit=" headlines",
                  file=sys.stderr, smoothing=0.1) as bar:
            for future in as_completed(futures):
                part = part_of[future.key]
                if future.status == "finished":
                    written[part.name] = future.result()
                else:
                    try:
                        error = future.exception()
                    except Exception as exc:  # cancelled, e.g. its workers kept dying
                        error = exc
                    failed.append({"partition": part.name, "file": part.source.name,
                                   "error": f"{type(error).__name__}: {error}"})
                    bar.write(f"error: {part.name} ({part.source.name}): {error}", file=sys.stderr)
                bar.update(part.rows)
                future.release()

    seconds = time.perf_counter() - plan.started
    counts = {**done, **written}
    rows = sum(c["rows"] for c in counts.values())
    errors = sum(c["errors"] for c in counts.values())
    sensational = sum(c["sensational"] for c in counts.values())
    rows_now = sum(c["rows"] for c in written.values())
    summary = {
        "output": str(directory),
        "output_format": options.output_format,
        "scheduler": scheduler,
        "workers": len(client.scheduler_info().get("workers", {})),
        "model_version": plan.model_version,
        "rows": rows,
        "scored": rows - errors,
        "empty_headlines": errors,
        "sensational": sensational,
        "sensational_share": round(sensational / (rows - errors), 6) if rows > errors else None,
        "partitions": {"planned": len(parts), "written": len(written),
                       "already_complete": len(done), "failed": len(failed)},
        "failed": failed,
        "seconds": round(seconds, 2),
        "headlines_per_second": round(rows_now / seconds, 1) if seconds > 0 else None,
    }
    _replace_atomically(directory / SUMMARY_FILE,
                        lambda path: path.write_text(json.dumps(summary, indent=2) + "\n"))
    return summary


@contextmanager
def dask_client(address: str, workers: int | None = None) -> Iterator[tuple[Any, str]]:
    """A client of a LocalCluster sized to this machine (``local``) or of the scheduler at
    ``address``; yields it with a description of the cluster."""
    from distributed import Client, LocalCluster

    if address == "local":
        n = workers or os.cpu_count() or 1
        # The cluster's nannies write their workers' settings into this process's environment.
        with environ_restored(), LocalCluster(n_workers=n, **local_cluster_options()) as cluster, \
                Client(cluster) as client:
            yield client, f"a LocalCluster of {n} worker processes"
        return
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
        yield client, f"the Dask scheduler at {address}"


def run_command(options: JobOptions, address: str, workers: int | None = None) -> int:
    """``headline-score --dask ADDRESS``: plan the job, run it on the cluster at ``address``
    (``local``: a LocalCluster of ``workers`` processes) and print its summary; the exit code
    (1 bad input or output directory, 2 no usable model, 3 the cluster cannot be used)."""
    try:
        plan = plan_job(options)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (InputError, JobError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        with dask_client(address, workers) as (client, described):
            summary = run_plan(plan, client, described)
    except (OSError, TimeoutError) as exc:
        print(f"error: cannot use the Dask cluster {address!r}: {exc}", file=sys.stderr)
        return 3
    finally:
        plan.release()
    print(json.dumps(summary, indent=2))
    if summary["failed"]:
        print(f"error: {len(summary['failed'])} partitions or files failed (listed above and in "
              f"{SUMMARY_FILE}); fix them and run the same command again: complete partitions "
              "are kept", file=sys.stderr)
        return 1
    return 0
