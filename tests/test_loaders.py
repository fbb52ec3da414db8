"""Every dataset format the loaders read, and how they refuse or report bad data."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from training.loaders import DataError, LabelledSet, read_lines, read_table, read_webis
from training.train import load_sources, print_data_summary


def by_text(data: LabelledSet) -> dict[str, int]:
    return dict(zip(data.texts, data.labels.tolist()))


# ---------------------------------------------------------------------------- one per line

def test_lines_reads_gzip_and_plain_files_with_their_labels(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "bait.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("You Won't Believe This Dog\n\n17 Things Only Cats Know\n")
    (tmp_path / "news.txt").write_text("Senate passes  farm bill\r\nCourt delays\truling\n",
                                       encoding="utf-8")

    data = read_lines("mixed", [(tmp_path / "bait.txt.gz", 1), (tmp_path / "news.txt", 0)])

    assert by_text(data) == {
        "You Won't Believe This Dog": 1,
        "17 Things Only Cats Know": 1,
        "Senate passes farm bill": 0,  # whitespace collapsed, CRLF handled
        "Court delays ruling": 0,  # a tab is whitespace, not a field separator here
    }
    assert data.targets.tolist() == data.labels.astype(float).tolist()
    assert not data.graded
    assert data.report.rows_read == 5
    assert data.report.empty_skipped == 1


def test_lines_keep_a_headline_holding_a_unicode_line_separator_on_its_line(tmp_path: Path) -> None:
    (tmp_path / "bait.txt").write_text("One\u2028Weird Trick\nAnother Trick\n", encoding="utf-8")
    (tmp_path / "news.txt").write_text("Budget passed\nRail strike ends\n", encoding="utf-8")
    data = read_lines("sep", [(tmp_path / "bait.txt", 1), (tmp_path / "news.txt", 0)])
    assert "One Weird Trick" in data.texts
    assert data.report.rows_read == 4


def test_lines_name_file_and_line_of_undecodable_bytes(tmp_path: Path) -> None:
    (tmp_path / "bait.txt").write_bytes(b"Fine headline\nAlso fine\nCaf\xe9 owner SHOCKS town\n")
    (tmp_path / "news.txt").write_text("Budget passed\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_lines("bad", [(tmp_path / "bait.txt", 1), (tmp_path / "news.txt", 0)])
    assert f"{tmp_path / 'bait.txt'}:3:" in str(caught.value)
    assert "UTF-8" in str(caught.value)


def test_lines_refuse_a_broken_gzip_file_by_name(tmp_path: Path) -> None:
    (tmp_path / "bait.txt.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="bait.txt.gz"):
        read_lines("bad", [(tmp_path / "bait.txt.gz", 1)])


# ---------------------------------------------------------------------------------- webis

def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")
    return path


def test_webis_pair_keeps_truth_mean_as_graded_target(tmp_path: Path) -> None:
    instances = write_jsonl(tmp_path / "instances.jsonl", [
        {"id": "a", "postText": ["This Is What Happens When You Ignore Your Cat"]},
        {"id": "b", "postText": ["Storm closes schools in Leeds"]},
        "",
        {"id": "c", "postText": "Prime minister visits Kenya"},
        {"id": "d", "postText": ["You'll Never Guess Who Won"]},
    ])
    truth = write_jsonl(tmp_path / "truth.jsonl", [
        {"id": "d", "truthMean": 0.8, "truthClass": "clickbait"},
        {"id": "b", "truthMean": 0.0666, "truthClass": "no-clickbait"},
        {"id": "a", "truthMean": 0.9333, "truthClass": "clickbait"},
        {"id": "c", "truthMean": 0.2, "truthClass": "no-clickbait"},
    ])

    data = read_webis("webis", instances, truth)

    assert data.graded
    got = {t: (int(y), float(m)) for t, y, m in zip(data.texts, data.labels, data.targets)}
    assert got == {
        "This Is What Happens When You Ignore Your Cat": (1, 0.9333),
        "Storm closes schools in Leeds": (0, 0.0666),
        "Prime minister visits Kenya": (0, 0.2),
        "You'll Never Guess Who Won": (1, 0.8),
    }
    assert data.report.empty_skipped == 1


def test_webis_post_without_judgment_is_an_error_naming_the_line(tmp_path: Path) -> None:
    instances = write_jsonl(tmp_path / "instances.jsonl", [
        {"id": "a", "postText": ["One"]}, {"id": "zz", "postText": ["Two"]}])
    truth = write_jsonl(tmp_path / "truth.jsonl", [
        {"id": "a", "truthMean": 0.9, "truthClass": "clickbait"}])
    with pytest.raises(DataError) as caught:
        read_webis("webis", instances, truth)
    assert f"{instances}:2:" in str(caught.value) and "'zz'" in str(caught.value)


def test_webis_missing_field_and_bad_truth_mean_name_file_and_line(tmp_path: Path) -> None:
    instances = write_jsonl(tmp_path / "instances.jsonl", [{"id": "a", "postText": ["One"]}])
    truth = write_jsonl(tmp_path / "truth.jsonl", [
        {"id": "a", "truthMean": 0.9, "truthClass": "clickbait"},
        {"id": "b", "truthClass": "clickbait"}])
    with pytest.raises(DataError, match=rf"{re.escape(str(truth))}:2: missing field 'truthMean'"):
        read_webis("webis", instances, truth)

    write_jsonl(truth, [{"id": "a", "truthMean": 1.5, "truthClass": "clickbait"}])
    with pytest.raises(DataError,
                       match=rf"{re.escape(str(truth))}:1: truthMean must be a number in \[0, 1\]"):
        read_webis("webis", instances, truth)


# ------------------------------------------------------------------------------ tables

def test_csv_reads_text_and_named_labels(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        'id,headline,label\n'
        '1,"Doctors Hate Her, And Here\'s Why",clickbait\n'
        '2,Council approves budget,news\n'
        '3,"She said ""no"" to the deal",0\n'
        '4,Amazing Trick Revealed,TRUE\n'
        ',,\n',
        encoding="utf-8")
    data = read_table("mine", path)
    assert by_text(data) == {
        "Doctors Hate Her, And Here's Why": 1,
        "Council approves budget": 0,
        'She said "no" to the deal': 0,
        "Amazing Trick Revealed": 1,
    }
    assert data.report.rows_read == 5 and data.report.empty_skipped == 1


def test_csv_field_spanning_lines_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text('text,label\nGood one,1\n"Unbalanced quote,0\nNext,1\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:\d+: .*unbalanced quote"):
        read_table("mine", path)


def test_tsv_reads_doubled_quotes_and_keeps_an_unbalanced_leading_quote(tmp_path: Path) -> None:
    # The shapes of horne2017/titles.tsv lines 188, 196, 197 and 198.
    path = tmp_path / "titles.tsv"
    path.write_text(
        "text\tlabel\tsource\n"
        '"Ted Cruz Seen Buying Bleach\t1\tfake / 42_Fake.txt\n'
        "Senate confirms new judge\t0\treal / 1_Real.txt\n"
        '"CANADA READY TO RECEIVE 250\t1\tfake / 6_Fake.txt\n'
        '"Clinton\'s HIV Secret REVEALED ""This Could END Hillary\'s Campaign!"""\t1\tfake / 8\n'
        "House passes spending bill\t0\treal / 2_Real.txt\n",
        encoding="utf-8")
    data = read_table("titles", path, text_column="text", label_column="label")
    assert by_text(data) == {
        '"Ted Cruz Seen Buying Bleach': 1,
        "Senate confirms new judge": 0,
        '"CANADA READY TO RECEIVE 250': 1,
        'Clinton\'s HIV Secret REVEALED "This Could END Hillary\'s Campaign!"': 1,
        "House passes spending bill": 0,
    }
    assert data.report.rows_read == 5


def test_tsv_with_the_wrong_number_of_fields_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "titles.tsv"
    path.write_text("text\tlabel\nOne\t1\nTwo\twith a tab\t0\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:3: expected 2 tab-separated fields, got 3"):
        read_table("titles", path)


def test_jsonl_table_reads_text_and_label_fields(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"text": "Wait Till You See Number 7", "label": 1},
        {"text": "Bank holds interest rates", "label": 0},
        "",
        {"text": "   ", "label": 1},
        {"text": "Line\u2028separator inside", "label": "sensational"},
        {"text": "Minister resigns", "label": False},
    ])
    # json.dumps escapes U+2028; write one record with it raw, as ensure_ascii=False would.
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"text": "Raw\u2028Separator Shock", "label": "clickbait"}\n')
    data = read_table("mine", path)
    assert by_text(data) == {
        "Wait Till You See Number 7": 1,
        "Bank holds interest rates": 0,
        "Line separator inside": 1,
        "Minister resigns": 0,
        "Raw Separator Shock": 1,
    }
    assert data.report.rows_read == 7 and data.report.empty_skipped == 2


def test_unknown_label_names_file_line_and_value(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("headline,label\nOne,1\nTwo,0\nThree,maybe\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_table("mine", path)
    assert f"{path}:4:" in str(caught.value)
    assert "'maybe'" in str(caught.value)


def test_missing_label_column_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("headline,score\nOne,1\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:2: no label column"):
        read_table("mine", path)
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:2: no text column 'title'"):
        read_table("mine", path, text_column="title", label_column="score")


def test_jsonl_record_missing_a_field_names_file_and_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mine.jsonl", [{"text": "One", "label": 1}, {"text": "Two"}])
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:2: no label column"):
        read_table("mine", path)


def test_table_with_undecodable_bytes_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.tsv"
    path.write_bytes(b"text\tlabel\nOne\t1\nTwo\t0\nThr\xffee\t1\n")
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:4: bytes b'\\xff' are not valid UTF-8"):
        read_table("mine", path)


def test_table_of_unknown_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mine.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match="unsupported file type .xlsx"):
        read_table("mine", path)


# ------------------------------------------------------------- duplicates and one class

def test_duplicates_dropped_and_conflicts_drop_every_copy(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "headline,label\n"
        "Cat Does Amazing Thing,1\n"
        "cat does  amazing thing,1\n"  # same headline after normalising and case-folding
        "Cat Does Amazing Thing,1\n"
        "Budget approved,0\n"
        "Storm Hits Coast,1\n"
        "Storm hits coast,0\n"  # disagreeing labels: every copy goes
        "STORM HITS COAST,1\n"
        "Rates unchanged,0\n",
        encoding="utf-8")
    data = read_table("mine", path)
    assert by_text(data) == {"Cat Does Amazing Thing": 1, "Budget approved": 0,
                             "Rates unchanged": 0}
    assert data.report.duplicates_dropped == 2
    assert data.report.conflicts_dropped == 3


def test_conflicts_across_line_files_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "bait.txt").write_text("Shared headline\nOnly bait\n", encoding="utf-8")
    (tmp_path / "news.txt").write_text("Shared headline\nOnly news\n", encoding="utf-8")
    data = read_lines("lines", [(tmp_path / "bait.txt", 1), (tmp_path / "news.txt", 0)])
    assert by_text(data) == {"Only bait": 1, "Only news": 0}
    assert data.report.conflicts_dropped == 2


def test_a_dataset_left_with_one_class_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("headline,label\nOne,1\nTwo,1\nThree,0\nthree,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="mine: every usable headline is sensational"):
        read_table("mine", path)


def test_the_summary_prints_what_was_read_skipped_and_dropped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("headline,label\nA Thing,1\na thing,1\n,1\nNews item,0\nX,1\nx,0\n"
                    "Other news,0\n", encoding="utf-8")
    sources = load_sources([], tmp_path, [path], [])
    print_data_summary(sources)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.split()[:1] == ["mine"])
    # dataset, read, empty, dupes, conflict, kept, neutral, sensational, evaluation
    assert row.split() == ["mine", "7", "1", "1", "2", "3", "2", "1", "cv"]
    assert "empty" in out and "conflict" in out
    assert np.array_equal(np.sort(sources[0].data.labels), [0, 0, 1])
