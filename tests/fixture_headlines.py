"""Small labelled headlines that the tests write themselves, in every dataset format.

The headlines are generated from templates with a fixed seed, so every run sees the same
data: sensational ones use teaser, hype and shouting phrasing, neutral ones plain news
phrasing. They exist to exercise code paths, not to measure quality.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

SUBJECTS = ["the mayor", "a retired teacher", "this dog", "the senator", "a tiny startup",
            "the local council", "one grandmother", "the coach", "these twins", "a farmer",
            "the minister", "a pop star", "the airline", "a student", "the museum"]
PLACES = ["Ohio", "Kenya", "Norway", "Peru", "Vietnam", "Wales", "Quebec", "Chile",
          "Bavaria", "Tasmania", "Manila", "Lagos", "Denver", "Osaka", "Lyon"]
TOPICS = ["budget", "rail strike", "water supply", "tax reform", "school funding",
          "election law", "trade deal", "flood defences", "housing plan", "energy prices"]

SENSATIONAL_TEMPLATES = [
    "You Won't Believe What {subject} Did Next",
    "{n} Things About {topic} That Will Blow Your Mind",
    "This Is Why {subject} Is Going Viral Right Now",
    "What Happened When {subject} Tried This Will Make You Cry",
    "{subject} SLAMS {place} Critics In STUNNING Rant!",
    "SHOCKING: {subject} DESTROYS The {topic} Debate!",
    "Only True Fans Will Get These {n} {topic} Jokes",
    "We Can't Stop Laughing At {subject} And You Won't Either",
    "{n} Reasons {place} Is The Best Place You've Never Heard Of",
    "BREAKING: {subject} Just Did The UNTHINKABLE!",
]
NEUTRAL_TEMPLATES = [
    "{place} council approves {topic} after long debate",
    "{subject} outlines plans for {topic} in {place}",
    "Parliament in {place} passes {topic} bill",
    "{place} officials report progress on {topic}",
    "Court delays ruling on {place} {topic}",
    "{subject} to testify on {topic} next week",
    "Report finds {topic} costs rose in {place} last year",
    "{place} and unions resume talks over {topic}",
    "Inquiry into {place} {topic} publishes findings",
    "{subject} appointed to lead {place} {topic} review",
]


def _fill(template: str, rng: random.Random) -> str:
    text = template.format(subject=rng.choice(SUBJECTS), place=rng.choice(PLACES),
                           topic=rng.choice(TOPICS), n=rng.randint(5, 25))
    return text[0].upper() + text[1:]


def make_headlines(n_per_class: int = 150, seed: int = 7) -> list[tuple[str, int]]:
    """(headline, label) pairs, label 1 = sensational; distinct headlines, shuffled."""
    rng = random.Random(seed)
    rows: dict[str, int] = {}
    for label, templates in ((1, SENSATIONAL_TEMPLATES), (0, NEUTRAL_TEMPLATES)):
        made = 0
        while made < n_per_class:
            text = _fill(rng.choice(templates), rng)
            if text not in rows:
                rows[text] = label
                made += 1
    pairs = list(rows.items())
    rng.shuffle(pairs)
    return pairs


def write_fixture_datasets(root: Path) -> Path:
    """Write three small datasets (line files, a Webis pair, a TSV) and a manifest naming
    them under ``root``; return the manifest path. ``root/raw`` is the raw-data folder."""
    raw = root / "raw"
    pairs = make_headlines(150, seed=7)
    lines_dir = raw / "fixture-lines"
    lines_dir.mkdir(parents=True)
    with gzip.open(lines_dir / "sensational.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n\n".join(t for t, y in pairs if y == 1) + "\n")
    (lines_dir / "neutral.txt").write_text("\n".join(t for t, y in pairs if y == 0) + "\n",
                                           encoding="utf-8")

    webis_dir = raw / "fixture-webis"
    webis_dir.mkdir()
    rng = random.Random(11)
    with (webis_dir / "instances.jsonl").open("w") as inst, (webis_dir / "truth.jsonl").open("w") as truth:
        for i, (text, label) in enumerate(make_headlines(60, seed=11)):
            mean = round(min(1.0, max(0.0, label * 0.7 + rng.uniform(0.0, 0.3))), 4)
            inst.write(json.dumps({"id": str(i), "postText": [text]}) + "\n")
            truth.write(json.dumps({"id": str(i), "truthMean": mean,
                                    "truthClass": "clickbait" if mean >= 0.5 else "no-clickbait"}) + "\n")

    table_dir = raw / "fixture-table"
    table_dir.mkdir()
    with (table_dir / "titles.tsv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["text", "label", "source"])
        for text, label in make_headlines(40, seed=13):
            writer.writerow([text, label, "fixture"])

    manifest = {"format_version": 1, "datasets": [
        {"name": "fixture-lines", "format": "lines", "evaluation": "split", "licence": "test",
         "citation": "written by tests", "files": [
             {"path": "sensational.txt.gz", "label": 1, "sha256": "-"},
             {"path": "neutral.txt", "label": 0, "sha256": "-"}]},
        {"name": "fixture-webis", "format": "webis", "evaluation": "split", "licence": "test",
         "citation": "written by tests", "files": [
             {"path": "instances.jsonl", "role": "instances", "sha256": "-"},
             {"path": "truth.jsonl", "role": "truth", "sha256": "-"}]},
        {"name": "fixture-table", "format": "table", "evaluation": "cv", "licence": "test",
         "citation": "written by tests", "text_column": "text", "label_column": "label",
         "files": [{"path": "titles.tsv", "sha256": "-"}]},
    ]}
    path = root / "datasets.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path


def write_fixture_config(path: Path) -> Path:
    """A model config for the fixture datasets: every feature part and fitting option of the
    default model (training/model_config.toml), with the fixture datasets' names and small
    min_df. ``teach_held_out`` stays off: it changes which devices the lexicons hold, not the
    model's parts, and the browser tests expect the cues of the model without it
    (tests/test_behaviour.py trains a fixture model with it)."""
    path.write_text(
        "word_ngram_max = 2\nword_min_df = 1\nword_bounds = true\nword_punctuation = true\n"
        "char_ngram_min = 2\nchar_ngram_max = 4\nchar_min_df = 1\n"
        "style_scale = 4.0\nuse_phrasing = true\nphrasing_scale = 2.0\n"
        "use_devices = true\ndevice_scale = 2.0\n"
        'augment_families = ["teaser"]\naugment_bases = 40\naugment_weight = 0.15\n'
        'teach_families = ["prefix", "exclamation", "tabloid_verb"]\n'
        'teach_columns = ["hype label prefix", "exclamation run", "tabloid verb"]\n'
        "teach_penalty = 0.1\n"
        'C = 4.0\nsolver = "newton-cg"\ntol = 1e-3\nsoft_targets = true\ncalibrate = true\n'
        'calibrate_on = ["fixture-webis"]\ncalibration_class_share = 0.66\n\n'
        '[dataset_weights]\n"fixture-lines" = 1.0\n"fixture-webis" = 1.0\n"fixture-table" = 2.0\n\n'
        '[label_smoothing]\n"fixture-lines" = 0.1\n'
    )
    return path
