"""``headline-score``: one JSON line per input headline, in input order, from every input kind."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from batch.cli import main
from headline_scorer.scorer import HeadlineScorer

SCRIPT = Path(sys.executable).with_name("headline-score")
ISSUE_EXAMPLE = "You Will Not Believe What This Cat Did\nParliament passes budget bill\n"


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def run_main_table(args: list[str], capsys: pytest.CaptureFixture[str], delimiter: str = ","
                   ) -> tuple[int, list[dict], str]:
    """Run the CLI on CSV or TSV input, whose output is the same kind of table."""
    code = main(args)
    captured = capsys.readouterr()
    return code, list(csv.DictReader(io.StringIO(captured.out), delimiter=delimiter)), captured.err


def run_script(args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, timeout=60)


# ----------------------------------------------------------------------- the console script

def test_stdin_gives_one_json_line_per_line_in_order(models_root: Path,
                                                     scorer: HeadlineScorer) -> None:
    assert SCRIPT.exists(), "the headline-score console script is not installed"
    lines = ["You Will Not Believe What This Cat Did", "Parliament passes budget bill", "",
             "Court delays ruling on Peru tax reform", "   ",
             "SHOCKING: The Coach DESTROYS The Budget Debate!"]
    result = run_script(["--model", str(models_root)], ("\n".join(lines) + "\n").encode())

    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(out) == len(lines)
    for line, record in zip(lines, out):
        if line.strip():
            assert set(record) == {"headline", "score", "label"}
            assert record["headline"] == line
            expected = scorer.score(line, explain=True)
            assert record["score"] == expected.score and record["label"] == expected.label
            assert 0.0 <= record["score"] <= 1.0
        else:
            assert record["headline"] == ""
            assert "empty" in record["error"] and "score" not in record


def test_the_issue_example_scores_the_teaser_higher(models_root: Path) -> None:
    result = run_script(["--model", str(models_root)], ISSUE_EXAMPLE.encode())
    teaser, news = (json.loads(line) for line in result.stdout.decode().splitlines())
    assert teaser["headline"] == "You Will Not Believe What This Cat Did"
    assert teaser["score"] > news["score"]
    assert (teaser["label"], news["label"]) == ("sensational", "neutral")


def test_a_missing_model_exits_2_naming_the_file(tmp_path: Path) -> None:
    result = run_script(["--model", str(tmp_path / "nowhere")], b"Headline\n")
    assert result.returncode == 2
    assert str(tmp_path / "nowhere") in result.stderr.decode()
    assert result.stdout == b""


# ----------------------------------------------------------------------------------- files

def test_csv_uses_the_headline_column(models_root: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,headline\n1,"Budget, tax and rail: what changes"\n2,\n3,Rates held\n',
                    encoding="utf-8")
    code, out, _ = run_main_table(["--model", str(models_root), str(path)], capsys)
    assert code == 0
    assert [r["headline"] for r in out] == ["Budget, tax and rail: what changes", "",
                                            "Rates held"]
    assert [r["id"] for r in out] == ["1", "2", "3"]
    assert [bool(r["error"]) for r in out] == [False, True, False]
    assert out[1]["score"] == "" and float(out[0]["score"]) > 0


def test_a_byte_order_mark_does_not_hide_the_column(models_root: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("headline,x\nRates held,1\n".encode("utf-8-sig"))
    code, out, err = run_main_table(["--model", str(models_root), str(path)], capsys)
    assert code == 0, err
    assert [r["headline"] for r in out] == ["Rates held"]


def test_tsv_uses_the_text_column_and_keeps_lines_apart(models_root: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "titles.tsv"
    path.write_text(
        "text\tlabel\n"
        '"Ted Cruz Seen Buying Bleach\t1\n'  # an unbalanced quote, as in horne2017
        "Senate confirms new judge\t0\n"
        '"Clinton REVEALED ""This Could END It!"""\t1\n',
        encoding="utf-8")
    code, out, _ = run_main(["--model", str(models_root), "--output-format", "jsonl", str(path)],
                            capsys)
    assert code == 0
    assert [r["text"] for r in out] == ['"Ted Cruz Seen Buying Bleach',
                                        "Senate confirms new judge",
                                        'Clinton REVEALED "This Could END It!"']
    assert [r["label"] for r in out] == ["1", "0", "1"]  # the input's own label column is kept
    assert all(r["model_label"] in ("sensational", "neutral") for r in out)


def test_column_option_picks_another_column(models_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.csv"
    path.write_text("headline,title\nIgnored,Rates held\nIgnored too,Storm hits coast\n",
                    encoding="utf-8")
    code, out, _ = run_main_table(["--model", str(models_root), "--column", "title", str(path)],
                                  capsys)
    assert code == 0
    assert [r["title"] for r in out] == ["Rates held", "Storm hits coast"]
    assert [r["headline"] for r in out] == ["Ignored", "Ignored too"]


def test_jsonl_uses_the_same_field_names(models_root: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"headline": "Rates held", "id": 1}\n\n{"headline": "Storm hits coast"}\n'
                    '{"headline": ""}\n', encoding="utf-8")
    code, out, _ = run_main(["--model", str(models_root), str(path)], capsys)
    assert code == 0
    assert [r["headline"] for r in out] == ["Rates held", "", "Storm hits coast", ""]
    assert ["error" in r for r in out] == [False, True, False, True]


def test_several_files_are_scored_in_the_order_given(models_root: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "a.txt"
    first.write_text("One headline\nTwo headline\n", encoding="utf-8")
    second = tmp_path / "b.jsonl"
    second.write_text('{"text": "Three headline"}\n', encoding="utf-8")
    code, out, _ = run_main(["--model", str(models_root), str(second), str(first)], capsys)
    assert code == 0
    # The JSONL record keeps its own field name; the .txt lines are "headline".
    assert [r.get("text", r.get("headline")) for r in out] == ["Three headline", "One headline",
                                                               "Two headline"]


def test_explain_adds_the_cues(models_root: Path, scorer: HeadlineScorer,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("SHOCKING: The Coach DESTROYS The Debate!\n"))
    code, out, _ = run_main(["--model", str(models_root), "--explain"], capsys)
    assert code == 0
    expected = scorer.score("SHOCKING: The Coach DESTROYS The Debate!", explain=True).as_dict()
    assert out == [json.loads(json.dumps(expected))]
    assert out[0]["cues"]


@pytest.mark.parametrize("content, args, problem", [
    ("id,title\n1,Rates held\n", [], "no 'headline' or 'text' column (use --column)"),
    ("headline\nRates held\n", ["--column", "title"], "no column 'title'"),
])
def test_a_missing_column_exits_1_naming_the_file(
        models_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        content: str, args: list[str], problem: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = run_main(["--model", str(models_root), *args, str(path)], capsys)
    assert code == 1 and out == []
    assert str(path) in err and problem in err


def test_undecodable_bytes_exit_1_naming_file_and_line(models_root: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"Rates held\nCaf\xe9 closes\n")
    code, out, err = run_main(["--model", str(models_root), str(path)], capsys)
    assert code == 1
    assert [r["headline"] for r in out] == ["Rates held"]  # what came before is kept
    assert f"{path}:2:" in err and "UTF-8" in err


def test_a_missing_input_file_exits_1_naming_it(models_root: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["--model", str(models_root), str(tmp_path / "none.txt")], capsys)
    assert code == 1 and str(tmp_path / "none.txt") in err
