"""The held-out test part and the folds: stable, order-independent and balanced per class."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

from training import split
from training.loaders import LabelledSet
from training.split import fold_ids, split_train_test

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def dataset(texts: list[str], labels: list[int], name: str = "d") -> LabelledSet:
    y = np.array(labels, dtype=np.int64)
    return LabelledSet(name=name, texts=list(texts), labels=y, targets=y.astype(float))


def synthetic(n_per_class: int) -> LabelledSet:
    texts = [f"Sensational headline number {i}" for i in range(n_per_class)] + \
            [f"plain news item {i}" for i in range(n_per_class)]
    return dataset(texts, [1] * n_per_class + [0] * n_per_class)


def held_out(data: LabelledSet) -> set[str]:
    return {t for t, m in zip(data.texts, split.test_mask(data)) if m}


def test_the_split_does_not_depend_on_data_order() -> None:
    data = synthetic(300)
    order = list(range(len(data)))
    random.Random(5).shuffle(order)
    shuffled = dataset([data.texts[i] for i in order], [int(data.labels[i]) for i in order])
    assert held_out(data) == held_out(shuffled)
    train, test = split_train_test(shuffled)
    assert set(test.texts) == held_out(data)
    assert set(train.texts) | set(test.texts) == set(data.texts)
    assert not set(train.texts) & set(test.texts)


def test_a_headline_lands_in_the_same_part_whatever_else_is_in_the_data() -> None:
    full = synthetic(300)
    kept = [i for i in range(len(full)) if i % 3 != 0]
    subset = dataset([full.texts[i] for i in kept], [int(full.labels[i]) for i in kept])
    more = dataset(full.texts + [f"Extra headline {i}" for i in range(200)],
                   full.labels.tolist() + [1] * 200)
    assert held_out(subset) == held_out(full) & set(subset.texts)
    assert held_out(more) & set(full.texts) == held_out(full)


def test_the_split_ignores_letter_case() -> None:
    texts = [f"Council Approves Budget Number {i}" for i in range(200)]
    upper = dataset(texts, [i % 2 for i in range(200)])
    lower = dataset([t.lower() for t in texts], [i % 2 for i in range(200)])
    assert np.array_equal(split.test_mask(upper), split.test_mask(lower))


def test_the_split_is_the_same_in_another_process() -> None:
    """No per-process hash seed (Python's hash()) decides the part."""
    data = synthetic(100)
    script = ("import json, sys; from training.split import test_mask; "
              "from tests.test_split import synthetic; "
              "print(json.dumps(test_mask(synthetic(100)).tolist()))")
    masks = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout
        masks.append(json.loads(out))
    assert masks[0] == masks[1] == split.test_mask(data).tolist()


def test_about_a_fifth_of_each_class_is_held_out() -> None:
    data = synthetic(2000)
    mask = split.test_mask(data)
    for label in (0, 1):
        share = mask[data.labels == label].mean()
        assert 0.17 < share < 0.23, (label, share)


def test_fold_ids_are_balanced_per_class_and_stable() -> None:
    texts = [f"Sensational headline number {i}" for i in range(103)] + \
            [f"plain news item {i}" for i in range(50)]
    data = dataset(texts, [1] * 103 + [0] * 50)  # unequal classes, neither a multiple of 5
    folds = fold_ids(data.texts, data.labels, 5, salt="cv")
    assert set(folds.tolist()) == set(range(5))
    for label in (0, 1):
        counts = np.bincount(folds[data.labels == label], minlength=5)
        assert counts.max() - counts.min() <= 1, (label, counts)

    order = list(range(len(data)))
    random.Random(1).shuffle(order)
    shuffled = fold_ids([data.texts[i] for i in order], data.labels[order], 5, salt="cv")
    assert dict(zip(data.texts, folds.tolist())) == \
        dict(zip([data.texts[i] for i in order], shuffled.tolist()))


def test_different_salts_give_different_folds() -> None:
    data = synthetic(100)
    a = fold_ids(data.texts, data.labels, 3, salt="calibration")
    b = fold_ids(data.texts, data.labels, 3, salt="cv")
    assert not np.array_equal(a, b)
