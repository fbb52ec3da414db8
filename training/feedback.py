"""The editors' stored feedback as one more training dataset (``make train FEEDBACK=1``).

The judgments come from the core's feedback store and are read by the same rules as a user's
own ``--data`` file (:func:`training.loaders.read_records`): normalised, with duplicates and
conflicting judgments of one headline dropped.

No single client may make up more than a share of the dataset (HEADLINE_FEEDBACK_MAX_CLIENT_SHARE
or ``--feedback-max-client-share``, 0.2 by default), so one script or one compromised tool
cannot decide what the model learns from feedback: :func:`cap_clients` keeps each client's
oldest records up to a count that holds every client within the share. Records without a
client id (stored before ids were kept, or written by a tool that gave none) count as one
client, ``(unknown)``, so they cannot dodge the cap by being anonymous. With fewer than
1/share clients no cap can hold; the share is then 1/clients, which keeps them equal.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from headline_scorer.feedback_store import FeedbackRecord, FeedbackUnavailable, open_feedback_store
from headline_scorer.paths import Paths
from training.loaders import DataError, LabelledSet, read_records

# Training on feedback needs this many usable judgments of each label, so that each of the
# five cross-validation folds that measure the feedback dataset holds both labels.
MIN_PER_LABEL = 5
DEFAULT_MAX_CLIENT_SHARE = 0.2
SHARE_VARIABLE = "HEADLINE_FEEDBACK_MAX_CLIENT_SHARE"
UNKNOWN_CLIENT = "(unknown)"


@dataclass(frozen=True)
class ClientCap:
    """What :func:`cap_clients` did: records per client stored and kept, and the cap applied."""

    share: float  # the share enforced: the asked one, or 1/clients when that is larger
    per_client: int  # records kept at most from any one client
    stored: dict[str, int]
    kept: dict[str, int]

    def summary(self) -> str:
        """Lines for the training log: the cap, then each client, most records first."""
        lines = [f"    feedback: at most {self.per_client} records per client ({self.share:.0%} "
                 f"share), {sum(self.kept.values())} of {sum(self.stored.values())} kept, "
                 f"{len(self.stored)} clients"]
        for client, count in sorted(self.stored.items(), key=lambda kv: (-kv[1], kv[0])):
            capped = f" (capped from {count})" if self.kept[client] < count else ""
            lines.append(f"      {client}: {self.kept[client]}{capped}")
        return "\n".join(lines)


def max_client_share(raw: str | None = None) -> float:
    """The share of HEADLINE_FEEDBACK_MAX_CLIENT_SHARE (or ``raw``), a number in (0, 1]."""
    text = (os.environ.get(SHARE_VARIABLE, "") if raw is None else raw).strip()
    if not text:
        return DEFAULT_MAX_CLIENT_SHARE
    try:
        share = float(text)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:
        raise DataError(f"feedback: {SHARE_VARIABLE} must be a number above 0 and at most 1 "
                        f"(1: no cap), got {text!r}")
    return share


def cap_clients(records: Sequence[FeedbackRecord], share: float
                ) -> tuple[list[FeedbackRecord], ClientCap]:
    """``records`` with each client's beyond the cap left out, and what was kept.

    The cap is the largest count ``c`` with ``c <= share * sum(min(n_i, c))`` over the
    clients' record counts ``n_i``: every client then holds at most ``share`` of the kept
    records. Each client's oldest records are kept (ids ascending), so a flood that starts
    late cannot push out what came before it.
    """
    client_of = [r.client_id or UNKNOWN_CLIENT for r in records]
    stored = Counter(client_of)
    if not stored:
        return [], ClientCap(share, 0, {}, {})
    effective = max(share, 1 / len(stored))
    counts = list(stored.values())
    low, high = 1, max(counts)  # c = 1 always holds, since effective * clients >= 1
    while low < high:
        middle = (low + high + 1) // 2
        # A tolerance, so that a share of exactly 1/k does not fail on rounding.
        if middle <= effective * sum(min(n, middle) for n in counts) + 1e-9:
            low = middle
        else:
            high = middle - 1
    taken: Counter[str] = Counter()
    kept = []
    for record, client in sorted(zip(records, client_of), key=lambda rc: rc[0].id):
        if taken[client] < low:
            taken[client] += 1
            kept.append(record)
    return kept, ClientCap(effective, low, dict(stored), {c: taken[c] for c in stored})


def feedback_dataset(path: Path | None = None, share: float | None = None) -> LabelledSet:
    """The stored judgments as the training dataset ``feedback``, each client capped.

    ``share`` is the most of the dataset one client may make up (:func:`cap_clients`;
    default HEADLINE_FEEDBACK_MAX_CLIENT_SHARE, else 0.2); the records per client, stored and
    kept, are printed.

    ``path`` defaults to the configured store: the PostgreSQL database of HEADLINE_FEEDBACK_URL
    when that is set, else the SQLite file of HEADLINE_FEEDBACK_DB. Raises :class:`DataError`
    naming the problem when there is no database, or too few judgments of either label to
    train and measure on.
    """
    paths = Paths.from_env()
    url = paths.feedback_url if path is None else None
    if url is None:
        path = Path(path) if path is not None else paths.feedback_db
        if not path.exists():
            raise DataError(f"feedback: no feedback database at {path} (HEADLINE_FEEDBACK_DB); "
                            "editors store feedback with the web page or POST /v1/feedback")
    store = open_feedback_store(path, url)
    where = store.where
    try:
        records = store.records()
    except FeedbackUnavailable as exc:
        raise DataError(f"feedback: {where}: {exc.message}") from exc
    if not records:
        raise DataError(f"feedback: {where} holds no feedback yet")
    stored = len(records)
    records, cap = cap_clients(records, max_client_share() if share is None else share)
    print(cap.summary())
    rows = ((f"{where}: record {r.id}", {"headline": r.headline, "label": r.label}) for r in records)
    try:
        data = read_records("feedback", rows, text_column="headline", label_column="label")
    except DataError as exc:
        raise DataError(f"{exc} (the {len(records)} records kept of {stored} in {where})") from None
    neutral, sensational = data.class_counts()
    if min(neutral, sensational) < MIN_PER_LABEL:
        report = data.report
        raise DataError(
            f"feedback: too few judgments in {where}: {neutral} neutral and {sensational} "
            f"sensational usable headlines (of {len(records)} records kept of {stored} after "
            f"capping each client at {cap.per_client}; "
            f"{report.duplicates_dropped} duplicates and {report.conflicts_dropped} conflicting "
            f"judgments dropped); training on feedback needs at least {MIN_PER_LABEL} of each "
            "label, one per cross-validation fold")
    return data
