"""``headline-score`` as a batch tool: CSV, TSV, JSONL and Parquet rows keep every column and
gain score and label; the output format follows the input or ``--output``; ``--url`` scores
through a running service with results identical to a local model's; progress on stderr.
"""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch import cli
from batch.cli import main
from headline_scorer.scorer import HeadlineScorer
from headline_scorer.text import split_tsv_line
from tests.test_client import serving

AWKWARD = ["  You\tWon't   Believe\u00a0What\u200b Happened  ", "ＦＵＬＬＷＩＤＴＨ letters",
           "Control\x07 characters\x1b removed", 'She said "no", twice', "", "   "]


def headlines(sample_headlines: list[str]) -> list[str]:
    return AWKWARD + sample_headlines[:14]


def write(path: Path, texts: list[str]) -> Path:
    """An input of ``path``'s kind with an id, the headline and a note column."""
    rows = [{"id": str(i), "headline": t, "note": f"note, {i}"} for i, t in enumerate(texts)]
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, ["id", "headline", "note"])
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".tsv":
        path.write_text("id\theadline\tnote\n" + "".join(
            f"{r['id']}\t{' '.join(r['headline'].split())}\t{r['note']}\n" for r in rows),
            encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({**r, "id": int(r["id"])}) + "\n" for r in rows),
                        encoding="utf-8")
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist([{**r, "id": int(r["id"])} for r in rows]), path)
    else:
        path.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -------------------------------------------------------------------- local and --url

@pytest.mark.parametrize("name", ["in.csv", "in.tsv", "in.jsonl", "in.txt", "in.parquet"])
def test_url_scoring_writes_exactly_what_the_local_model_writes(
        models_root: Path, sample_headlines: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], name: str) -> None:
    source = write(tmp_path / name, headlines(sample_headlines))
    suffix = ".parquet" if name.endswith(".parquet") else Path(name).suffix.replace(".txt", ".jsonl")
    local, remote = tmp_path / f"local{suffix}", tmp_path / f"remote{suffix}"
    assert main(["--model", str(models_root), str(source), "--explain", "--output", str(local)]) == 0
    with serving(models_root, max_batch=6) as (url, recorder):
        code, _, err = run(["--url", url, str(source), "--explain", "--output", str(remote)], capsys)
    assert code == 0, err

    sizes = recorder.batch_sizes()
    assert len(sizes) >= 3 and max(sizes) <= 6  # in batches of the server's MAX_BATCH
    if suffix == ".parquet":
        assert pq.read_table(remote).to_pylist() == pq.read_table(local).to_pylist()
    else:
        assert remote.read_bytes() == local.read_bytes()
    # Empty headlines keep their place with an error, on both roads.
    text = local.read_text(encoding="utf-8") if suffix != ".parquet" else ""
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        assert ["error" in r for r in rows] == [i in (4, 5) for i in range(len(rows))]


def test_an_unreachable_service_exits_3_naming_it(models_root: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = write(tmp_path / "in.txt", ["Rates held"])
    code, out, err = run(["--url", f"http://127.0.0.1:{port}", "--retries", "0", str(source)], capsys)
    assert code == 3 and out == ""
    assert f"http://127.0.0.1:{port}" in err and "ConnectionError" in err


# ------------------------------------------------------------------------- every column

def test_csv_rows_keep_every_column_and_gain_score_and_label(
        models_root: Path, scorer: HeadlineScorer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,headline,note\n7,"  Rates\theld  ","two\nlines"\n8,,x\n'
                    "9,SHOCKING: The Coach DESTROYS The Debate!,\n", encoding="utf-8")
    code, out, err = run(["--model", str(models_root), str(path), "--explain"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["id", "headline", "note", "score", "label", "cues", "error"]
    assert [r["id"] for r in rows] == ["7", "8", "9"]
    assert rows[0]["note"] == "two\nlines"  # other columns exactly as read
    assert rows[0]["headline"] == "Rates held"  # the text that was scored
    expected = scorer.score("SHOCKING: The Coach DESTROYS The Debate!", explain=True)
    assert float(rows[2]["score"]) == expected.score and rows[2]["label"] == expected.label
    assert json.loads(rows[2]["cues"]) == expected.as_dict()["cues"]
    assert rows[1]["score"] == rows[1]["label"] == rows[1]["cues"] == ""
    assert "empty" in rows[1]["error"] and rows[0]["error"] == rows[2]["error"] == ""


def test_scoring_a_scored_file_again_keeps_the_old_columns(
        models_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "first.csv"
    first.write_text("headline\nRates held\n", encoding="utf-8")
    assert main(["--model", str(models_root), str(first), "--output", str(tmp_path / "once.csv")]) == 0
    code, out, _ = run(["--model", str(models_root), str(tmp_path / "once.csv")], capsys)
    assert code == 0
    (row,) = csv.DictReader(io.StringIO(out))
    assert list(row) == ["headline", "score", "label", "error", "model_score", "model_label",
                         "model_error"]
    assert row["score"] == row["model_score"]


def test_jsonl_rows_keep_their_fields_and_types(models_root: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "headline": "Rates held", "tags": ["a"], "ok": true}\n'
                    '{"id": 2, "headline": null}\n', encoding="utf-8")
    code, out, _ = run(["--model", str(models_root), str(path), "--explain"], capsys)
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert list(first) == ["id", "headline", "tags", "ok", "score", "label", "cues"]
    assert (first["id"], first["tags"], first["ok"]) == (1, ["a"], True)
    assert isinstance(first["cues"], list)
    assert second == {"id": 2, "headline": "", "error": second["error"]} and "empty" in second["error"]

    # As CSV, values other than text are written as their JSON; nulls are empty cells.
    code, out, _ = run(["--model", str(models_root), str(path), "--output-format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert (rows[0]["tags"], rows[0]["ok"], rows[1]["tags"]) == ('["a"]', "true", "")


def test_a_jsonl_field_the_first_record_lacks_stops_table_output_naming_the_line(
        models_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"headline": "Rates held"}\n{"headline": "Storm", "extra": 1}\n', encoding="utf-8")
    code, out, err = run(["--model", str(models_root), str(path), "--output-format", "csv"], capsys)
    assert code == 1
    assert f"{path}:2: field 'extra' is not among the fields of the first record" in err
    assert out.splitlines()[0] == "headline,score,label,error"


def test_tsv_output_reads_back_to_the_same_values(models_root: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    values = ['"Quoted at both ends"', 'Ends with "a quote"', '"Starts only']
    path.write_text("".join(json.dumps({"headline": v, "note": v}) + "\n" for v in values),
                    encoding="utf-8")
    code, out, _ = run(["--model", str(models_root), str(path), "--output-format", "tsv"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert split_tsv_line(lines[0]) == ["headline", "note", "score", "label", "error"]
    assert [split_tsv_line(line)[:2] for line in lines[1:]] == [[v, v] for v in values]

    tabbed = tmp_path / "tab.jsonl"
    tabbed.write_text(json.dumps({"headline": "Rates held", "note": "a\tb"}) + "\n", encoding="utf-8")
    code, _, err = run(["--model", str(models_root), str(tabbed), "--output-format", "tsv"], capsys)
    assert code == 1 and "column 'note' holds a tab or line break" in err


# ----------------------------------------------------------------------- output format

def test_the_output_format_follows_output_s_extension(
        models_root: Path, sample_headlines: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "in.csv", sample_headlines[:5])
    for name in ("out.jsonl", "out.tsv", "out.parquet", "out.csv"):
        assert main(["--model", str(models_root), str(source), "--output", str(tmp_path / name)]) == 0
    as_jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    as_tsv = (tmp_path / "out.tsv").read_text().splitlines()
    as_parquet = pq.read_table(tmp_path / "out.parquet").to_pylist()
    as_csv = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [r["score"] for r in as_jsonl] == [r["score"] for r in as_parquet]
    assert [float(r["score"]) for r in as_csv] == [r["score"] for r in as_parquet]
    assert len(as_tsv) == 6 and as_tsv[0] == "id\theadline\tnote\tscore\tlabel\terror"
    assert as_jsonl[0]["note"] == as_parquet[0]["note"] == "note, 0"

    # A file name without a known extension keeps the input's format.
    assert main(["--model", str(models_root), str(source), "--output", str(tmp_path / "out.dat")]) == 0
    assert (tmp_path / "out.dat").read_text() == (tmp_path / "out.csv").read_text()


def test_parquet_input_on_stdout_is_json_lines(models_root: Path, sample_headlines: list[str],
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "in.parquet", sample_headlines[:3])
    code, out, _ = run(["--model", str(models_root), str(source)], capsys)
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [0, 1, 2]
    code, out, err = run(["--model", str(models_root), str(source), "--output-format", "parquet"],
                         capsys)
    assert code == 1 and "Parquet output needs --output FILE" in err


def test_inputs_with_other_columns_cannot_share_one_table(models_root: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "a.csv"
    first.write_text("headline\nRates held\n", encoding="utf-8")
    second = tmp_path / "b.csv"
    second.write_text("id,headline\n1,Storm hits coast\n", encoding="utf-8")
    code, out, err = run(["--model", str(models_root), str(first), str(second)], capsys)
    assert code == 1 and out == ""
    assert f"{second}: columns" in err and "need the same columns in every input" in err
    code, out, _ = run(["--model", str(models_root), str(first), str(second),
                        "--output-format", "jsonl"], capsys)
    assert code == 0 and [json.loads(line).get("id") for line in out.splitlines()] == [None, "1"]


def test_the_output_may_not_be_an_input(models_root: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "in.csv", ["Rates held"])
    before = source.read_bytes()
    code, _, err = run(["--model", str(models_root), str(source), "--output", str(source)], capsys)
    assert code == 1 and "is also an input" in err
    assert source.read_bytes() == before


def test_progress_on_stderr_shows_rate_and_eta(models_root: Path, sample_headlines: list[str],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(cli, "LOCAL_CHUNK_ROWS", 10)
    source = write(tmp_path / "in.tsv", sample_headlines[:30])
    code, out, err = run(["--model", str(models_root), str(source)], capsys)
    assert code == 0 and len(out.splitlines()) == 31
    assert "30/30" in err and "headlines/s" in err
    assert "<00:00" in err or "<?" in err  # tqdm's ETA field
