"""``headline-score --dask``: the Dask job on a LocalCluster of two worker processes writes what
the single-process command writes, row for row; loads the model once per worker; reports bad
input by file and line without losing finished partitions; and resumes or overwrites on rerun.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dask
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from batch import dask_job
from batch.cli import main as cli_main
from batch.dask_job import JobError, JobOptions, plan_file, plan_job, run_plan
from batch.formats import inspect_input, read_records
from headline_scorer.environ import local_cluster_options, restore_environ

AWKWARD = ["  You\tWon't   Believe\u00a0What\u200b Happened  ", "ＦＵＬＬＷＩＤＴＨ letters",
           "Line\nbreaks\r\ninside", 'She said "no", twice', ""]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalCluster(n_workers=2, **local_cluster_options()) as cluster, \
            Client(cluster) as dask_client:
        yield dask_client


def _headlines(sample_headlines: list[str], count: int, offset: int = 0) -> list[str]:
    pool = AWKWARD + ["   "] + sample_headlines
    return [pool[(offset + i) % len(pool)] for i in range(count)]


def write_input(path: Path, headlines: list[str], start_id: int = 0) -> Path:
    """One input file of ``path``'s kind: an id, the headline and a note column."""
    rows = [{"id": str(start_id + i), "headline": h, "note": f"n{i}" if i % 3 else ""}
            for i, h in enumerate(headlines)]
    kind = path.suffix
    if kind == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, ["id", "headline", "note"])
            writer.writeheader()
            writer.writerows(rows)
    elif kind == ".tsv":
        # TSV holds no tabs or line breaks inside a field
        clean = [" ".join(r["headline"].split()) for r in rows]
        path.write_text("id\theadline\tnote\n" + "".join(
            f"{r['id']}\t{h}\t{r['note']}\n" for r, h in zip(rows, clean)), encoding="utf-8")
    elif kind == ".jsonl":
        path.write_text("".join(json.dumps({**r, "id": int(r["id"])}, ensure_ascii=False) + "\n"
                                for r in rows), encoding="utf-8")
    else:
        table = pa.Table.from_pylist([{**r, "id": int(r["id"])} for r in rows])
        pq.write_table(table, path, row_group_size=4)
    return path


def single_process(files: list[Path], output: Path, *extra: str, models_root: Path) -> None:
    assert cli_main(["--model", str(models_root), *map(str, files), "--output", str(output),
                     *extra]) == 0


def dask_output(directory: Path, fmt: str = "parquet") -> pa.Table | str:
    parts = sorted(directory.glob(f"part-*.{fmt}"))
    if fmt == "parquet":
        return pa.concat_tables([pq.read_table(p) for p in parts])
    texts = [p.read_text(encoding="utf-8") for p in parts]
    header = texts[0].split("\n", 1)[0] + "\n"
    assert all(t.startswith(header) for t in texts)  # every part is a whole CSV/TSV file
    return header + "".join(t[len(header):] for t in texts)


def options(files: list[Path], output: Path, models_root: Path, **extra: object) -> JobOptions:
    return JobOptions(inputs=[str(f) for f in files], output=output, model=models_root,
                      partition_rows=7, **extra)


def run_job(options: JobOptions, client: Client) -> dict:
    """What ``headline-score --dask`` does with a cluster it already has: plan, run, unlock."""
    plan = plan_job(options)
    try:
        return run_plan(plan, client)
    finally:
        plan.release()


# ------------------------------------------------------------------------ the same output

@pytest.mark.parametrize("kind", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_dask_output_equals_the_single_process_output_row_for_row(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path,
        kind: str) -> None:
    files = [write_input(tmp_path / f"in-a{kind}", _headlines(sample_headlines, 30)),
             write_input(tmp_path / f"in-b{kind}", _headlines(sample_headlines, 17, 9), 100)]
    single_process(files, tmp_path / "single.parquet", models_root=models_root)

    summary = run_job(options([tmp_path / f"in-*{kind}"], tmp_path / "out", models_root), client)

    expected = pq.read_table(tmp_path / "single.parquet")
    got = dask_output(tmp_path / "out")
    assert got.schema.equals(expected.schema)
    assert got.to_pylist() == expected.to_pylist()
    partitions = summary["partitions"]
    assert partitions["written"] == partitions["planned"] >= 6  # both files, in several pieces
    assert partitions["already_complete"] == partitions["failed"] == 0
    assert summary["rows"] == 47 and summary["failed"] == []
    labels = expected.column("label").to_pylist()
    assert summary["empty_headlines"] == labels.count(None) > 0
    assert summary["sensational"] == labels.count("sensational")
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["rows"] == 47 and written["sensational_share"] == summary["sensational_share"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_csv_and_tsv_partitions_with_cues_equal_the_single_process_file(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path,
        fmt: str) -> None:
    files = [write_input(tmp_path / "a.jsonl", [" ".join(h.split()) for h in
                                                _headlines(sample_headlines, 25)])]
    single_process(files, tmp_path / f"single.{fmt}", "--explain", models_root=models_root)

    run_job(options(files, tmp_path / "out", models_root, explain=True, output_format=fmt), client)

    expected = (tmp_path / f"single.{fmt}").read_text(encoding="utf-8")
    assert dask_output(tmp_path / "out", fmt) == expected
    rows = list(csv.DictReader(io.StringIO(expected), delimiter="," if fmt == "csv" else "\t"))
    assert json.loads(next(r for r in rows if r["score"])["cues"])  # cues as a JSON string


def test_the_model_is_loaded_once_per_worker_not_per_task(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path) -> None:
    files = [write_input(tmp_path / "a.csv", _headlines(sample_headlines, 70))]
    summary = run_job(options(files, tmp_path / "out", models_root), client)
    assert summary["partitions"]["written"] == 10  # many more tasks than workers

    loads = client.run(lambda: dask_job.load_worker_scorer.cache_info().misses)
    assert len(loads) == 2
    assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1


# --------------------------------------------------------------------------- bad input

def test_bad_input_names_file_and_line_and_keeps_the_partitions_written(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path) -> None:
    good = write_input(tmp_path / "1-good.csv", _headlines(sample_headlines, 20))
    bad = write_input(tmp_path / "2-bad.csv", _headlines(sample_headlines, 20, 5), 100)
    lines = bad.read_bytes().split(b"\n")
    lines[12] = lines[12].replace(b",", b",Caf\xe9 ", 1)  # line 13: not UTF-8
    bad.write_bytes(b"\n".join(lines))
    missing = tmp_path / "3-missing.csv"
    missing.write_text("id,title,note\n1,Rates held,\n", encoding="utf-8")
    later = write_input(tmp_path / "4-later.csv", _headlines(sample_headlines, 9, 11), 200)
    job = options([good, bad, missing, later], tmp_path / "out", models_root)

    summary = run_job(job, client)

    failed = {(f["partition"], Path(f["file"]).name): f["error"] for f in summary["failed"]}
    assert set(failed) == {(None, "3-missing.csv"), ("part-00001-00001", "2-bad.csv")}
    assert "no 'headline' or 'text' column" in failed[(None, "3-missing.csv")]
    assert f"{bad}:13:" in failed[("part-00001-00001", "2-bad.csv")]
    assert "UTF-8" in failed[("part-00001-00001", "2-bad.csv")]
    out = tmp_path / "out"
    assert summary["partitions"]["written"] == 3 + 2 + 2  # good, bad's other two, later
    assert not (out / "part-00001-00001.parquet").exists()
    assert (out / "part-00001-00000.done.json").exists()

    # Fixed, the same command again scores only what is missing, and the whole equals the
    # single-process output.
    write_input(bad, _headlines(sample_headlines, 20, 5), 100)
    write_input(missing, ["Rates held"], 300)
    before = (out / "part-00000-00000.parquet").stat().st_mtime_ns
    summary = run_job(job, client)
    assert summary["failed"] == []
    assert summary["partitions"]["already_complete"] == 5  # good's three and later's two
    assert summary["partitions"]["written"] == 3 + 1  # bad's three (its file changed), missing
    assert (out / "part-00000-00000.parquet").stat().st_mtime_ns == before
    single_process([good, bad, missing, later], tmp_path / "single.parquet", models_root=models_root)
    assert dask_output(out).to_pylist() == pq.read_table(tmp_path / "single.parquet").to_pylist()


def test_a_rerun_resumes_and_overwrite_starts_over(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path) -> None:
    files = [write_input(tmp_path / "a.tsv", _headlines(sample_headlines, 20))]
    out = tmp_path / "out"
    first = run_job(options(files, out, models_root), client)
    (out / "part-00000-00001.done.json").unlink()  # as if stopped before it finished
    (out / ".part-00000-00001.parquet.dead.tmp").write_bytes(b"half")

    resumed = run_job(options(files, out, models_root), client)
    assert resumed["partitions"] == {"planned": 3, "written": 1, "already_complete": 2, "failed": 0}
    assert resumed["rows"] == first["rows"] == 20
    assert not list(out.glob(".*.tmp"))

    # Other partition sizes: the old partitions are not this plan's, so all are scored again
    # and the outputs of the old plan are removed.
    replanned = run_job(JobOptions([str(files[0])], out, models_root, partition_rows=10), client)
    assert replanned["partitions"]["written"] == 2 and replanned["partitions"]["already_complete"] == 0
    assert sorted(p.name for p in out.glob("part-*")) == [
        "part-00000-00000.done.json", "part-00000-00000.parquet",
        "part-00000-00001.done.json", "part-00000-00001.parquet"]

    again = run_job(options(files, out, models_root, overwrite=True), client)
    assert again["partitions"] == {"planned": 3, "written": 3, "already_complete": 0, "failed": 0}
    single_process(files, tmp_path / "single.parquet", models_root=models_root)
    assert dask_output(out).to_pylist() == pq.read_table(tmp_path / "single.parquet").to_pylist()


def test_a_directory_of_another_job_or_other_files_is_refused(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path) -> None:
    first = write_input(tmp_path / "a.csv", _headlines(sample_headlines, 5))
    second = write_input(tmp_path / "b.csv", _headlines(sample_headlines, 5, 3))
    out = tmp_path / "out"
    run_job(options([first], out, models_root), client)
    with pytest.raises(JobError, match="another job.*inputs.*--overwrite"):
        run_job(options([second], out, models_root), client)
    with pytest.raises(JobError, match="explain"):
        run_job(options([first], out, models_root, explain=True), client)
    assert run_job(options([second], out, models_root, overwrite=True), client)["rows"] == 5

    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"\xff\xd8")
    for overwrite in (False, True):
        with pytest.raises(JobError, match="holds no headline-score job"):
            run_job(options([first], other, models_root, overwrite=overwrite), client)
    assert sorted(p.name for p in other.iterdir()) == ["holiday.jpg"]  # not even a lock file


# A second job on one DIR, in its own process: it takes DIR's lock and holds it until killed.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from batch.dask_job import lock_output
lock = lock_output(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(600)
"""


def test_a_job_is_refused_while_another_holds_its_directory_and_not_after_that_one_died(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path) -> None:
    files = [write_input(tmp_path / "a.csv", _headlines(sample_headlines, 6))]
    out = tmp_path / "out"
    run_job(options(files, out, models_root), client)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    other = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE,
                             text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert other.stdout is not None and other.stdout.readline() == "locked\n"
        for overwrite in (False, True):
            with pytest.raises(JobError, match="another headline-score job is writing into it"):
                run_job(options(files, out, models_root, overwrite=overwrite), client)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    finally:
        other.kill()  # a crash: no chance to release anything
        other.wait()
    resumed = run_job(options(files, out, models_root), client)
    assert resumed["partitions"]["already_complete"] == resumed["partitions"]["planned"]


# ------------------------------------------------------------------------- the command

def test_the_command_joins_a_scheduler_by_address_and_prints_the_summary(
        client: Client, models_root: Path, sample_headlines: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_input(tmp_path / "a.parquet", _headlines(sample_headlines, 12))
    write_input(tmp_path / "b.parquet", _headlines(sample_headlines, 12, 4), 50)
    code = cli_main(["--model", str(models_root), "--dask", client.scheduler.address,
                     str(tmp_path / "*.parquet"), "--output", str(tmp_path / "out"),
                     "--output-format", "csv", "--partition-rows", "5"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["rows"] == 24 and summary["workers"] == 2
    assert summary["scheduler"] == f"the Dask scheduler at {client.scheduler.address}"
    assert "scoring" in captured.err  # the progress bar
    assert len(list((tmp_path / "out").glob("part-*.csv"))) == 4  # 3 row groups of 4 rows a file


def test_the_command_exits_1_when_a_partition_failed(
        client: Client, models_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"headline": "Rates held"}\n{"headline": 7}\n', encoding="utf-8")
    code = cli_main(["--model", str(models_root), "--dask", client.scheduler.address, str(path),
                     "--output", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{path}:2: the 'headline' field is int, not text" in captured.err
    assert "run the same command again" in captured.err
    assert json.loads(captured.out)["failed"][0]["file"] == str(path)


def test_no_matching_input_is_an_error(models_root: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    # Inputs are checked before any cluster is joined (there is none at this address).
    code = cli_main(["--model", str(models_root), "--dask", "tcp://127.0.0.1:1",
                     str(tmp_path / "*.csv"), "--output", str(tmp_path / "out")])
    assert code == 1
    assert "*.csv: no file matches this pattern" in capsys.readouterr().err


# ----------------------------------------------------------------------------- planning

def test_partitions_cut_csv_at_record_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    rows = [[str(i), f"Headline {i}" if i % 4 else f'Quoted "{i}",\nover\r\nlines', "x"]
            for i in range(23)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "headline", "note"])
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i == 10:
            buffer.write("\r\n")  # a blank line is no record
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    source = inspect_input(str(path), None)

    parts = plan_file(source, 0, 5)

    assert [p.rows for p in parts] == [5, 5, 5, 5, 3]
    whole = list(read_records(source))
    pieces = [r for p in parts for r in read_records(source, p.start, p.end, p.first_line)]
    assert pieces == whole
    assert [r["id"] for _, r in whole] == [str(i) for i in range(23)]
    assert [p.first_line for p in parts] == [whole[0][0], *(whole[5 * k][0] for k in range(1, 5))]


@pytest.mark.parametrize("kind, text", [
    (".tsv", "id\theadline\n" + "".join(f"{i}\tHeadline {i}\n" + ("\n" if i == 3 else "")
                                         for i in range(12))),
    (".jsonl", "".join(json.dumps({"headline": f"Headline {i}"}) + "\n" + ("\n" if i == 3 else "")
                       for i in range(12))),
    (".txt", "".join(f"Headline {i}\n" for i in range(11)) + "Headline 11"),
])
def test_partitions_of_line_files_cover_every_record_once(tmp_path: Path, kind: str, text: str) -> None:
    path = tmp_path / f"in{kind}"
    path.write_text(text, encoding="utf-8")
    source = inspect_input(str(path), None)
    parts = plan_file(source, 3, 4)
    assert all(p.name.startswith("part-00003-") for p in parts)
    whole = list(read_records(source))
    assert [r for p in parts for r in read_records(source, p.start, p.end, p.first_line)] == whole
    assert sum(p.rows for p in parts) == len(whole)


def test_the_settings_a_dask_nanny_leaves_in_the_process_that_starts_it_are_undone() -> None:
    """A nanny writes its workers' settings (dask's distributed.nanny.pre-spawn-environ,
    PYTHONHASHSEED) into the os.environ of the process that starts it (dask/distributed#6681),
    as this module's LocalCluster does in the test process; restore_environ, which conftest
    runs after every test, puts the session's environment back, so no later test's subprocess
    inherits them."""
    snapshot = dict(os.environ)
    nanny = dask.config.get("distributed.nanny.pre-spawn-environ")
    assert nanny.get("OPENBLAS_NUM_THREADS") == 1
    os.environ.update({key: str(value) for key, value in nanny.items()} | {"PYTHONHASHSEED": "6640"})
    del os.environ[next(key for key in snapshot if key != "PYTEST_CURRENT_TEST")]
    restore_environ(snapshot)
    assert dict(os.environ) == snapshot


@pytest.mark.filterwarnings("error:Port")
def test_a_local_cluster_of_the_job_leaves_the_environment_as_it_found_it(
        dask_port_taken: int) -> None:
    """``headline-score --dask local`` starts its cluster in the CLI's own process: once the
    job is done, no nanny setting is left there for a later subprocess to inherit. Its
    scheduler serves HTTP on a free loopback port, not on Dask's fixed one, which another
    cluster holds here."""
    nanny = dask.config.get("distributed.nanny.pre-spawn-environ")
    os.environ.pop("PYTHONHASHSEED", None)
    for key in nanny:
        os.environ.pop(key, None)
    before = dict(os.environ)
    with dask_job.dask_client("local", workers=1) as (client, described):
        assert "LocalCluster of 1 worker" in described
        assert client.submit(sum, [1, 2]).result() == 3
        http_port = client.scheduler_info()["services"]["dashboard"]
        assert http_port != dask_port_taken
        assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1:")
        # What this test guards against: the nanny did write into this process.
        assert os.environ.get("OPENBLAS_NUM_THREADS") == "1"
    assert dict(os.environ) == before
