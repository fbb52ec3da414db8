"""Stable, order-independent splits decided by a hash of each normalised headline.

A headline lands in the same part on every run, whatever the order of the data and whatever
else is added, and the same text lands in the same part in every dataset. Each class is split
on its own, so the test part holds (up to hashing noise) the same share of both classes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from training.loaders import LabelledSet


def text_fraction(text: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by ``text`` (case-folded) and ``salt``."""
    digest = hashlib.blake2b(f"{salt}\x00{text.casefold()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def hash_part(texts: list[str], fraction: float, salt: str) -> np.ndarray:
    """Boolean mask: True for the ``fraction`` of ``texts`` whose hash falls below it."""
    return np.array([text_fraction(t, salt) < fraction for t in texts], dtype=bool)


def test_mask(data: LabelledSet, fraction: float = 0.2) -> np.ndarray:
    """Rows of ``data`` in its held-out test part (stratified per class by construction)."""
    return hash_part(data.texts, fraction, salt="test")


def split_train_test(data: LabelledSet, fraction: float = 0.2) -> tuple[LabelledSet, LabelledSet]:
    mask = test_mask(data, fraction)
    return data.subset(~mask), data.subset(mask)


def fold_ids(texts: list[str], labels: np.ndarray, n_folds: int, salt: str) -> np.ndarray:
    """A fold number in [0, n_folds) per row, balanced per class, fixed by the text hash.

    Rows of each class are ordered by their hash and dealt round-robin, so every fold has
    (within one row) the same number of each class however small the dataset.
    """
    folds = np.empty(len(texts), dtype=np.int64)
    for label in (0, 1):
        index = np.flatnonzero(labels == label)
        order = sorted(index, key=lambda i: text_fraction(texts[i], salt))
        for rank, i in enumerate(order):
            folds[i] = rank % n_folds
    return folds
