"""``make bench`` (Dask part): one million headlines, one process against a 2-worker LocalCluster.

One run, on the same machine in the same state:

1. a corpus of ``--rows`` headlines (default 1,000,000) resampled with a fixed seed from the
   project's datasets (``make data``), written as Parquet files (``--files`` of them, row groups
   of 50,000) under the git-ignored ``data/bench/``;
2. the single-process command scores it: ``headline-score FILES --output single.parquet``;
3. the Dask job scores it on a LocalCluster of 2 worker processes:
   ``headline-score --dask local --workers 2 FILES --output DIR`` (partitions of
   ``--partition-rows``);
4. the Dask job again on the first file alone (``rows / files`` headlines), to show that a
   worker's memory depends on the partition size, not on the input size.

Each command runs as a subprocess; headlines/s is rows over its wall time (start-up, model
load and, for Dask, starting the cluster included). Resident memory of every process of the
command (the client and each worker process; a LocalCluster's scheduler lives in the client)
is sampled every 0.1 s from /proc through psutil and its peak kept. Scaling efficiency is the
Dask rate over the single-process rate, divided by the number of workers. The outputs of
steps 2 and 3 are compared value for value.

Writes ``benchmarks/dask_results.json`` and ``benchmarks/DASK_RESULTS.md`` and prints the
Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from headline_scorer.artifact import load_model  # noqa: E402
from training.datasets import RAW_DIR, load_dataset, load_manifest  # noqa: E402

BENCH_DIR = ROOT / "data" / "bench"
RESULTS_JSON = ROOT / "benchmarks" / "dask_results.json"
RESULTS_MD = ROOT / "benchmarks" / "DASK_RESULTS.md"
SCRIPT = Path(sys.executable).with_name("headline-score")
ROW_GROUP = 50_000
SAMPLE_EVERY = 0.1
WORKERS = 2


def build_corpus(rows: int, files: int, seed: int, raw_dir: Path) -> tuple[list[Path], dict]:
    """``rows`` headlines drawn with replacement from every dataset, as ``files`` Parquet files."""
    pool: list[str] = []
    per_dataset = {}
    for spec in load_manifest():
        texts = load_dataset(spec, raw_dir).texts
        per_dataset[spec.name] = len(texts)
        pool += texts
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pool), size=rows)
    directory = BENCH_DIR / f"headlines-{rows}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    paths = []
    bounds = np.linspace(0, rows, files + 1).astype(int)
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        table = pa.table({"id": pa.array(np.arange(lo, hi), pa.int64()),
                          "headline": pa.array([pool[j] for j in picks[lo:hi]], pa.string())})
        path = directory / f"part-{i:02d}.parquet"
        pq.write_table(table, path, row_group_size=ROW_GROUP)
        paths.append(path)
    return paths, {"rows": rows, "files": files, "row_group_rows": ROW_GROUP, "seed": seed,
                   "distinct_source_headlines": len(pool), "datasets": per_dataset,
                   "bytes": sum(p.stat().st_size for p in paths)}


class MemorySampler(threading.Thread):
    """Peak resident memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peaks: dict[int, tuple[str, int]] = {}  # pid -> (role, peak RSS bytes)
        self.peak_total = 0
        self.stop = threading.Event()

    def _role(self, process: psutil.Process) -> str:
        if process.pid == self.root.pid:
            return "client"
        try:
            cmdline = " ".join(process.cmdline())
        except psutil.Error:
            return "other"
        # A LocalCluster's nannies live in the client process; each starts its worker as a
        # spawned multiprocessing child. multiprocessing's resource tracker is "other".
        return "worker" if "spawn_main" in cmdline else "other"

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for process in processes:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                role, peak = self.peaks.get(process.pid, (None, 0))
                if role is None:
                    role = self._role(process)
                self.peaks[process.pid] = (role, max(peak, rss))
            self.peak_total = max(self.peak_total, total)
            time.sleep(SAMPLE_EVERY)

    def by_role(self) -> dict[str, list[int]]:
        roles: dict[str, list[int]] = {}
        for role, peak in self.peaks.values():
            roles.setdefault(role, []).append(peak)
        return {role: sorted(peaks, reverse=True) for role, peaks in roles.items()}


def run_command(args: list[str], rows: int) -> dict:
    """Run one command as a subprocess; wall time, rate and peak memory of its processes."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    sampler = MemorySampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}:\n{err.decode()[-3000:]}")
    roles = sampler.by_role()
    mib = 1 << 20
    return {
        "command": " ".join(str(a).replace(str(ROOT) + "/", "") for a in args),
        "seconds": round(seconds, 2),
        "headlines_per_second": round(rows / seconds, 1),
        "peak_rss_mib": {role: [round(p / mib, 1) for p in peaks] for role, peaks in roles.items()},
        "peak_rss_total_mib": round(sampler.peak_total / mib, 1),
        "stdout": out.decode()[-4000:],
    }


def same_output(single: Path, directory: Path) -> bool:
    """Whether the Dask partitions, in name order, hold the single-process file's values."""
    expected = pq.ParquetFile(single)
    parts = sorted(directory.glob("part-*.parquet"))
    got = pa.concat_tables([pq.read_table(p) for p in parts])
    whole = expected.read()
    return got.num_rows == whole.num_rows and all(
        got.column(name).equals(whole.column(name)) for name in whole.schema.names)


def markdown(results: dict) -> str:
    single, big, small = results["single"], results["dask"], results["dask_small"]

    def worker_peak(run: dict) -> str:
        peaks = run["peak_rss_mib"].get("worker", [])
        return " / ".join(f"{p:.0f}" for p in peaks) or "-"

    corpus = results["corpus"]
    lines = [
        "## Dask batch scoring (`benchmarks/bench_dask.py`)",
        "",
        f"Run {results['date']} on {results['machine']['cpus']} cores, "
        f"{results['machine']['memory_gib']} GiB, Python {results['machine']['python']}, "
        f"load average {results['machine']['load_average_before']} before the run "
        "(a shared machine: other work ran at the same time). Model "
        f"{results['model_version']}. Corpus: {corpus['rows']:,} headlines resampled (seed "
        f"{corpus['seed']}) from {corpus['distinct_source_headlines']:,} dataset headlines, "
        f"{corpus['files']} Parquet files, {corpus['bytes'] / (1 << 20):.1f} MiB. "
        f"Partitions of {results['partition_rows']:,} rows. Times include start-up, model load "
        "and (Dask) starting the LocalCluster.",
        "",
        "| run | headlines | seconds | headlines/s | peak RSS client (MiB) | peak RSS per worker (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| single process (`headline-score`) | {corpus['rows']:,} | {single['seconds']} | "
        f"{single['headlines_per_second']:,.0f} | {max(single['peak_rss_mib']['client']):.0f} | - |",
        f"| Dask LocalCluster, {WORKERS} workers | {corpus['rows']:,} | {big['seconds']} | "
        f"{big['headlines_per_second']:,.0f} | {max(big['peak_rss_mib']['client']):.0f} | "
        f"{worker_peak(big)} |",
        f"| Dask LocalCluster, {WORKERS} workers | {results['small_rows']:,} | {small['seconds']} | "
        f"{small['headlines_per_second']:,.0f} | {max(small['peak_rss_mib']['client']):.0f} | "
        f"{worker_peak(small)} |",
        "",
        f"- Scaling efficiency ({WORKERS} workers against one process, same input): "
        f"**{results['scaling_efficiency']:.2f}** "
        f"(speed-up {results['speedup']:.2f}x).",
        f"- Worker memory with {corpus['rows']:,} rows against {results['small_rows']:,}: "
        f"{worker_peak(big)} MiB against {worker_peak(small)} MiB: bounded by the partition, "
        "not the input.",
        f"- Dask output equals the single-process output value for value: "
        f"{'yes' if results['outputs_identical'] else '**NO**'}.",
        "",
        "Rerun: `make bench` (or `.venv/bin/python benchmarks/bench_dask.py`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--partition-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current")
    args = parser.parse_args(argv)
    if args.rows < args.files or args.files < 2:
        parser.error("--files must be at least 2 and at most --rows")

    artifact = load_model(args.model)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"building {args.rows:,} headlines as {args.files} Parquet files ...", flush=True)
    paths, corpus = build_corpus(args.rows, args.files, args.seed, args.raw_dir)
    out = BENCH_DIR / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    model = ["--model", str(artifact.directory)]
    dask = ["--dask", "local", "--workers", str(WORKERS), "--partition-rows", str(args.partition_rows)]

    print("single process ...", flush=True)
    single = run_command([str(SCRIPT), *model, *map(str, paths), "--output",
                          str(out / "single.parquet")], args.rows)
    print(f"  {single['headlines_per_second']:,.0f} headlines/s", flush=True)
    print(f"Dask, {WORKERS} workers ...", flush=True)
    big = run_command([str(SCRIPT), *model, *dask, *map(str, paths), "--output",
                       str(out / "dask")], args.rows)
    print(f"  {big['headlines_per_second']:,.0f} headlines/s", flush=True)
    small_rows = pq.ParquetFile(paths[0]).metadata.num_rows
    print(f"Dask, {WORKERS} workers, {small_rows:,} rows ...", flush=True)
    small = run_command([str(SCRIPT), *model, *dask, str(paths[0]), "--output",
                         str(out / "dask-small")], small_rows)

    speedup = big["headlines_per_second"] / single["headlines_per_second"]
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / (1 << 30)),
                    "python": platform.python_version(), "load_average_before": load_before},
        "model_version": artifact.version,
        "partition_rows": args.partition_rows,
        "corpus": corpus,
        "small_rows": small_rows,
        "single": single,
        "dask": big,
        "dask_small": small,
        "speedup": round(speedup, 3),
        "scaling_efficiency": round(speedup / WORKERS, 3),
        "outputs_identical": same_output(out / "single.parquet", out / "dask"),
    }
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    RESULTS_MD.write_text(text)
    print(text)
    return 0 if results["outputs_identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
