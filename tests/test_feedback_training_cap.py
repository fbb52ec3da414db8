"""``make train FEEDBACK=1`` caps any one client's share of the feedback dataset and prints the
records per client, so a flood from one address cannot decide what the model learns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from headline_scorer.feedback_store import FeedbackRecord, SqliteFeedbackStore
from tests.conftest import train_fixture_model
from training.feedback import (
    UNKNOWN_CLIENT,
    cap_clients,
    feedback_dataset,
    max_client_share,
)
from training.loaders import DataError


def _records(clients: list[str | None]) -> list[FeedbackRecord]:
    return [FeedbackRecord(i + 1, "2026-12-06T01:00:00.000Z", f"Headline {i}", "neutral", None, "v",
                           0.5, "neutral", client) for i, client in enumerate(clients)]


def test_a_flooding_client_is_cut_to_the_share_keeping_its_oldest_records() -> None:
    clients = ["flood"] * 500 + [c for c in ("a", "b", "c", "d") for _ in range(50)]
    kept, cap = cap_clients(_records(clients), 0.2)
    assert cap.per_client == 50 and cap.share == 0.2
    assert cap.stored == {"flood": 500, "a": 50, "b": 50, "c": 50, "d": 50}
    assert cap.kept == {"flood": 50, "a": 50, "b": 50, "c": 50, "d": 50}
    assert [r.id for r in kept if r.client_id == "flood"] == list(range(1, 51))
    for client, count in cap.kept.items():
        assert count <= 0.2 * len(kept), client
    assert "flood: 50 (capped from 500)" in cap.summary()
    assert "at most 50 records per client (20% share), 250 of 700 kept, 5 clients" in cap.summary()


@pytest.mark.parametrize("share", [0.1, 0.2, 0.35, 0.5])
def test_every_client_keeps_at_most_the_share_and_the_cap_is_the_largest_that_does(
        share: float) -> None:
    clients = ["x"] * 300 + ["y"] * 120 + ["z"] * 40 + [f"c{i}" for i in range(30) for _ in range(3)]
    kept, cap = cap_clients(_records(clients), share)
    assert max(cap.kept.values()) <= share * len(kept) + 1e-9
    # One more per client would break the share: the cap is not smaller than it must be.
    more = sum(min(n, cap.per_client + 1) for n in cap.stored.values())
    assert cap.per_client + 1 > share * more


def test_records_without_a_client_id_are_one_unknown_client() -> None:
    kept, cap = cap_clients(_records([None] * 40 + ["a", "b", "c", "d"] * 3), 0.2)
    assert cap.stored == {UNKNOWN_CLIENT: 40, "a": 3, "b": 3, "c": 3, "d": 3}
    assert cap.kept[UNKNOWN_CLIENT] == 3 and len(kept) == 15


def test_with_fewer_clients_than_the_share_allows_they_are_kept_equal() -> None:
    kept, cap = cap_clients(_records(["a"] * 30 + ["b"] * 10), 0.2)
    assert cap.share == 0.5 and cap.kept == {"a": 10, "b": 10}
    kept, cap = cap_clients(_records([None] * 12), 0.2)  # one client: all of it
    assert len(kept) == 12 and cap.share == 1


def test_the_share_comes_from_the_environment_and_a_bad_one_names_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADLINE_FEEDBACK_MAX_CLIENT_SHARE", raising=False)
    assert max_client_share() == 0.2
    monkeypatch.setenv("HEADLINE_FEEDBACK_MAX_CLIENT_SHARE", " 0.35 ")
    assert max_client_share() == 0.35
    for bad in ("0", "1.5", "-0.2", "lots", "nan"):
        monkeypatch.setenv("HEADLINE_FEEDBACK_MAX_CLIENT_SHARE", bad)
        with pytest.raises(DataError, match="HEADLINE_FEEDBACK_MAX_CLIENT_SHARE must be"):
            max_client_share()


def _store_from(path: Path, clients: dict[str, int]) -> None:
    store = SqliteFeedbackStore(path)
    i = 0
    for client, n in clients.items():
        for _ in range(n):
            sensational = i % 2 == 0
            text = (f"You Won't Believe What Harbour Town Did With Plan {i}!" if sensational
                    else f"Harbour town council publishes minutes of meeting {i}")
            store.add(text, "sensational" if sensational else "neutral", None, "v", 0.5, "neutral",
                      client, f"req-{i}")
            i += 1


def test_the_feedback_dataset_is_capped_and_the_counts_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "feedback.sqlite3"
    _store_from(path, {"198.51.100.66": 200, **{f"192.0.2.{i}": 10 for i in range(1, 6)}})
    data = feedback_dataset(path, share=0.2)
    assert len(data) == 62  # 12 of the flood (19% of 62; 13 would be 21% of 63), 10 of each other
    out = capsys.readouterr().out
    assert "at most 12 records per client (20% share), 62 of 250 kept, 6 clients" in out
    assert "198.51.100.66: 12 (capped from 200)" in out and "192.0.2.3: 10\n" in out


def test_make_train_feedback_takes_the_share_from_its_option(
        tmp_path: Path, fixture_data: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "feedback.sqlite3"
    _store_from(path, {"198.51.100.66": 60, "192.0.2.1": 12, "192.0.2.2": 12})
    monkeypatch.setenv("HEADLINE_FEEDBACK_DB", str(path))
    monkeypatch.setenv("HEADLINE_FEEDBACK_MAX_CLIENT_SHARE", "0.9")  # the option wins
    assert train_fixture_model(fixture_data, tmp_path / "models", "--feedback",
                               "--feedback-max-client-share", "0.5") == 0
    out = capsys.readouterr().out
    assert re.search(r"at most 24 records per client \(50% share\), 48 of 84 kept, 3 clients", out)
    assert "198.51.100.66: 24 (capped from 60)" in out
