"""A Dask partition is complete exactly when its marker is there, so the marker is written only
after the partition's data: a write that fails leaves neither, and the rerun scores the
partition again instead of trusting a marker beside missing or partial data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from batch import dask_job
from batch.dask_job import MARKER_SUFFIX, JobOptions, plan_job


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "headline"])
        for i in range(rows):
            writer.writerow([i, f"You will not believe what happened on day {i}"])
    return path


@pytest.mark.parametrize(("fmt", "writer"), [("parquet", "write_parquet"), ("csv", "write_delimited")])
def test_a_failed_write_leaves_no_marker_and_the_partition_is_not_complete(
        models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, writer: str) -> None:
    source = write_csv(tmp_path / "in.csv", 10)
    plan = plan_job(JobOptions(inputs=[str(source)], output=tmp_path / "out", model=models_root,
                               output_format=fmt, partition_rows=5))
    try:
        part = plan.parts[0]
        frame = dask_job._score_partition(dask_job._read_partition(part), plan.first, plan.model_dir,
                                          plan.sha256, False)

        def disk_full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(dask_job, writer, disk_full)
            with pytest.raises(OSError, match="No space left"):
                dask_job._write_partition(frame, part, str(plan.directory), fmt, plan.schema, plan.job_id)
        assert not (plan.directory / f"{part.name}{MARKER_SUFFIX}").exists()
        assert not list(plan.directory.glob(f"{part.name}.*")), "no data file, whole or partial"
        assert dask_job._complete(plan.directory, part, plan.job_id) is None

        # The same write without the failure: data, then the marker; now it is complete.
        counts = dask_job._write_partition(frame, part, str(plan.directory), fmt, plan.schema, plan.job_id)
        assert (plan.directory / f"{part.name}.{fmt}").is_file()
        assert dask_job._complete(plan.directory, part, plan.job_id) == counts
    finally:
        plan.release()
