"""The editors' stored feedback as one more training dataset (``make train FEEDBACK=1``).

The judgments come from the core's feedback store and are read by the same rules as a user's
own ``--data`` file (:func:`training.loaders.read_records`): normalised, with duplicates and
conflicting judgments of one headline dropped.
"""

from __future__ import annotations

from pathlib import Path

from headline_scorer.feedback_store import FeedbackUnavailable, open_feedback_store
from headline_scorer.paths import Paths
from training.loaders import DataError, LabelledSet, read_records

# Training on feedback needs this many usable judgments of each label, so that each of the
# five cross-validation folds that measure the feedback dataset holds both labels.
MIN_PER_LABEL = 5


def feedback_dataset(path: Path | None = None) -> LabelledSet:
    """The stored judgments as the training dataset ``feedback``.

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
    rows = ((f"{where}: record {r.id}", {"headline": r.headline, "label": r.label}) for r in records)
    try:
        data = read_records("feedback", rows, text_column="headline", label_column="label")
    except DataError as exc:
        raise DataError(f"{exc} (the {len(records)} records in {where})") from None
    neutral, sensational = data.class_counts()
    if min(neutral, sensational) < MIN_PER_LABEL:
        report = data.report
        raise DataError(
            f"feedback: too few judgments in {where}: {neutral} neutral and {sensational} "
            f"sensational usable headlines (of {len(records)} records; "
            f"{report.duplicates_dropped} duplicates and {report.conflicts_dropped} conflicting "
            f"judgments dropped); training on feedback needs at least {MIN_PER_LABEL} of each "
            "label, one per cross-validation fold")
    return data
