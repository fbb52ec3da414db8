"""The model card (MODEL_CARD.md) and its plots, written into a model's directory.

Everything here is generated from the training run's own manifest and metrics; nothing is
typed in by hand, so ``make train`` rebuilds the card exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from headline_scorer.artifact import MANIFEST_FILE  # noqa: E402
from training.behaviour import markdown_tables  # noqa: E402
from training.loaders import LabelledSet  # noqa: E402

INTENDED_USE = """\
Scores how sensational the *phrasing* of an English news headline is (clickbait teasers,
hype, shouting) against neutral news phrasing, as a probability-like value in [0, 1], with
the words that drove the score. It is an aid for editors reviewing their own headlines, not
a judgment of a story's truth, of a source's reliability, or of a writer."""

LIMITATIONS = """\
- The training data are English headlines and news-outlet tweets from 2007-2017; newer
  idioms, other languages and other domains (product titles, social posts) are out of scope.
- chakraborty2016's two sides come from different outlets: its clickbait side is almost all
  Title Case and BuzzFeed-style templates. Text is lower-cased before n-grams, so casing
  alone cannot drive the score, but outlet templates still can.
- horne2017 labels the *source* (fake-news site or trusted outlet), not the phrasing; it is
  small (251 titles) and noisy, and is used for its shouting style.
- Webis-Clickbait-17 text was cleaned upstream (non-ASCII dropped, @mentions and hashtags
  removed); very short posts carry little signal.
- A headline can be sensational in content while neutral in phrasing; the model only reads
  phrasing. Scores near the threshold deserve a human look."""


def _plot_roc(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test parts")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_reliability(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (labels, scores) in curves.items():
        observed, predicted = calibration_curve(labels, scores, n_bins=10, strategy="uniform")
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="mean score in bin", ylabel="share sensational", title="Reliability, test parts")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_reliability_truth_mean(path: Path, graded: dict[str, tuple[np.ndarray, np.ndarray]]
                                 ) -> None:
    """Mean annotator judgment against mean score, in 10 equal-width score bins."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (targets, scores) in graded.items():
        which = np.minimum((scores * 10).astype(int), 9)
        used = [b for b in range(10) if (which == b).any()]
        ax.plot([scores[which == b].mean() for b in used],
                [targets[which == b].mean() for b in used], marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="mean score in bin", ylabel="mean annotator judgment (truthMean)",
           title="Reliability against truthMean, test part")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_histograms(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]],
                     threshold: float) -> None:
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5), squeeze=False)
    for ax, (name, (labels, scores)) in zip(axes[0], curves.items()):
        bins = np.linspace(0, 1, 21)
        ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="neutral", density=True)
        ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label="sensational", density=True)
        ax.axvline(threshold, color="black", linestyle="--", label="threshold")
        ax.set(title=name, xlabel="score")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _metrics_table(metrics: dict) -> str:
    rows = ["| dataset | evaluated on | n | accuracy | precision | recall | F1 | ROC-AUC | Brier "
            "| ECE | MSE vs truthMean |", "|" + "---|" * 11]
    for name, m in metrics["datasets"].items():
        mse = f"{m['mse_truth_mean']:.3f}" if "mse_truth_mean" in m else "-"
        rows.append(
            f"| {name} | {m['evaluation']} | {m['n']} | {m['accuracy']:.3f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['roc_auc']:.3f} | "
            f"{m['brier']:.3f} | {m['ece']:.3f} | {mse} |"
        )
    return "\n".join(rows)


def _probe_lines(probes: dict) -> str:
    casing, shouting = probes["casing_invariance"], probes["shouting_sensitivity"]
    lines = []
    if casing["n"]:
        lines.append(f"- Casing invariance: median |score(Title Case) - score(sentence case)| = "
                     f"{casing['median_abs_diff']:.4f} over {casing['n']} headlines.")
    if shouting["n"]:
        lines.append(f"- Shouting sensitivity: putting one or two ordinary words in ALL CAPS and "
                     f"ending with \"!\" raises the score by a median of "
                     f"{shouting['median_rise']:.3f} ({shouting['share_raised']:.0%} of "
                     f"{shouting['n']} headlines rise).")
    return "\n".join(lines) or ("Not measured: no dataset has a held-out test part with "
                                "neutral headlines (small datasets are only cross-validated).")


def _behaviour_lines(behaviour: dict | None) -> str:
    if behaviour is None:
        return ("Not measured: the behavioural suite needs the wire-style and news-post datasets "
                "of training/behaviour.toml.")
    return ("`make behaviour` (training/behaviour.py) rewrites neutral headlines of the test "
            f"parts ({behaviour['bases']['wire']} wire-style titles of chakraborty2016, "
            f"{behaviour['bases']['posts']} Webis posts judged no-clickbait with a mean judgment "
            "of at most 0.2) with each device family's held-out half of training/behaviour.toml, "
            "which the model measured on it never sees in training, and measures the share "
            "labelled sensational at the threshold, the plain headlines' false-positive rates "
            "and topic swaps.\n\n"
            + markdown_tables(behaviour))


def _augmentation_description(hyper: dict) -> str:
    joint = hyper.get("augment_families") or []
    taught = hyper.get("teach_families") or []
    if not hyper.get("augment_bases") or not (joint and hyper.get("augment_weight") or taught):
        return "No counterfactual augmentation."
    text = (f"Counterfactual augmentation: up to {hyper['augment_bases']} neutral training "
            "headlines of each dataset are rewritten, shared equally among the families (each "
            "family takes, in an order fixed by a hash of their text, the headlines it can "
            "rewrite: a tabloid verb needs a reporting verb to replace). Each is rewritten "
            "with one device of its family, " + (
                "drawn from both halves of that family in training/behaviour.toml "
                "(`teach_held_out`: the behavioural suite measures the held-out half on a twin "
                "fitted without it), and " if hyper.get("teach_held_out") else
                "drawn from the train half of that family in training/behaviour.toml only (the "
                "behavioural suite measures the other half), and ")
            + "paired with its plain version. The pairs are made from the rows being fitted, "
            "so in every cross-validation fold a rewrite sits with its plain base.")
    if joint and hyper.get("augment_weight"):
        text += (f" Pairs of {', '.join(joint)} join the main fit, both rows weighing "
                 f"{hyper['augment_weight']} (a device rewrite labelled sensational; a topic "
                 "swap or a shortened headline neutral).")
        named = hyper.get("augment_named_only") or []
        if named:
            text += (" Rewrites of " + ", ".join(named) + " show the n-gram parts their plain "
                     "base: they teach only the named features.")
    if taught:
        text += (f" Pairs of {', '.join(taught)} are fitted after it to the named columns "
                 f"{', '.join(hyper['teach_columns'])} alone (L2 penalty "
                 f"{hyper['teach_penalty']}, every family weighing the same), every other "
                 "weight held fixed.")
    return text


def _format_reading_note(hyper: dict) -> str:
    """How a format label is read beyond its format words, for the model card: to go inside
    the parenthesis that gives its examples."""
    return (("; its words may be hyphenated, 'FACT-CHECK:'"
             if hyper.get("format_label_hyphens") else "")
            + ("; one holding a hype word, 'SHOCKING VIDEO:', names none"
               if hyper.get("format_label_hype_words") else ""))


def _hype_list_note(hyper: dict) -> str:
    """What the hype-word list of the phrasing features leaves out, as a clause."""
    left_out = []
    if hyper.get("hype_words_without_held_out"):
        left_out.append("the words only the behavioural suite's held-out devices hold")
    if hyper.get("hype_words_without_tabloid_verbs"):
        left_out.append("the tabloid verbs the device features count")
    return " whose hype-word list leaves out " + " and ".join(left_out) if left_out else ""


def _model_description(hyper: dict) -> str:
    """What the pipeline is, read from its hyperparameters."""
    parts = []
    if hyper["use_word"]:
        extras = [x for x, on in (("between start and end markers", hyper["word_bounds"]),
                                  ("with tone punctuation as tokens", hyper["word_punctuation"]))
                  if on]
        parts.append(f"lower-cased word n-grams (1-{hyper['word_ngram_max']}"
                     + (", " + ", ".join(extras) if extras else "") + ")")
    if hyper["use_char"]:
        parts.append(f"lower-cased character n-grams inside words "
                     f"({hyper['char_ngram_min']}-{hyper['char_ngram_max']})")
    named = []
    if hyper["use_style"]:
        named.append("style features (shouted ALL-CAPS words, exclamation marks, question marks"
                     + ("; the words of a label that names a kind of item ('UPDATE:'"
                        + _format_reading_note(hyper) + ") are not "
                        "counted as shouted" if hyper.get("style_format_labels") else "")
                     + ")")
    if hyper.get("use_phrasing"):
        named.append("phrasing features (length, numbers, addressing the reader, teaser "
                     "openings and endings, quote marks, hype words, a 'LABEL:' prefix)"
                     + _hype_list_note(hyper)
                     + (", an opening 'This week' or 'These days' being no teaser opening"
                        if hyper.get("phrasing_time_not_teaser") else ""))
    if hyper.get("use_devices"):
        named.append("device features (a shouted label prefix, an exclamation run, tabloid "
                     "verbs, forward-reference words)"
                     + (", the tabloid verbs including a lexicon that no training rewrite "
                        "holds (training/behaviour.toml)"
                        if hyper.get("device_lexicon_verbs") else "")
                     + (", a label that names a kind of item ('UPDATE:', 'WATCH LIVE:'"
                        + _format_reading_note(hyper) + ") not "
                        "counted as a hype label" if hyper.get("device_format_labels") else "")
                     + (", nor its capitals as shouting" if hyper.get("device_format_shouting")
                        else "")
                     + (", and an item such a label opens counting no forward reference "
                        "('ANALYSIS: Why ...')" if hyper.get("device_format_forward") else "")
                     + (" unless the label names only the medium ('VIDEO: You won't believe "
                        "...'; its demonstratives still do not count)"
                        if hyper.get("device_media_forward") else "")
                     + (", 'this', 'these' or 'next' before a word of time ('this week') "
                        "counting no forward reference"
                        if hyper.get("device_time_not_forward") else "")

                     + (", a tabloid verb counted only where it can be a verb of speech aimed "
                        "at someone (not 'Fire destroys homes' or '7 blasts in Baghdad')"
                        if hyper.get("device_figurative_only") else ""))
    # "a; b; and c": the descriptions hold commas of their own.
    named_parts = ["; ".join(named[:-1]), named[-1]] if len(named) > 1 else named
    text = ("A scikit-learn Pipeline: " + " and ".join(parts) + ", TF-IDF"
            + (" (names masked: every word that training headlines in sentence case write "
               "with a capital, such as a person, place or club, reads as one token "
               "'xxname', so the n-grams judge how a headline is phrased, not whom it is "
               "about)" if hyper.get("mask_names") and (hyper["use_word"] or hyper["use_char"])
               else "")
            + (", plus named " + "; and ".join(named_parts) if named else "")
            + f", into one logistic regression (C = {hyper['C']}). Dataset weights: "
            + ", ".join(f"{k} {v}" for k, v in hyper["dataset_weights"].items()) + ".")
    if hyper["soft_targets"]:
        text += " Webis-Clickbait-17 rows are fitted against their mean annotator judgment."
    if hyper.get("label_smoothing"):
        text += " Labels smoothed towards 0.5: " + ", ".join(
            f"{k} by {v}" for k, v in hyper["label_smoothing"].items()) + "."
    return text + " Every cue the service returns is a feature's exact contribution to the log-odds."


def _f1_rule_description(manifest: dict, metrics: dict) -> str:
    """When the threshold is fixed, what the F1 rule would have chosen for this model."""
    by_rule = metrics.get("threshold_by_f1_rule")
    if by_rule is None or by_rule == manifest["threshold"]:
        return ""
    return (f"Unfixed (fixed_threshold = 0), the F1 rule of the threshold_f1_* settings "
            f"would choose {by_rule:.3f} for this model. ")


def _calibration_description(hyper: dict, calibration: dict | None, metrics: dict) -> str:
    if not calibration:
        return "The score is the logistic regression's own probability."
    share = hyper.get("calibration_class_share", 1.0)
    target = ("their classes" if share >= 1 else
              "their mean annotator judgment (truthMean)" if share <= 0 else
              f"a mix of their class ({share:.0%}) and their mean annotator judgment "
              f"({1 - share:.0%})")
    text = (f"The score is Platt-scaled (logit' = {calibration['a']:.3f} x logit "
            f"{calibration['b']:+.3f}) on the out-of-fold scores of "
            f"{', '.join(hyper['calibrate_on'])} against {target}, folded into the "
            "classifier's coefficients.")
    for name in hyper["calibrate_on"]:
        m = metrics["datasets"].get(name)
        if m and share <= 0 and "mse_truth_mean" in m:
            text += (f" The score is the expected share of readers who would judge the phrasing "
                     f"sensational: on {name}'s test part its mean squared error against the "
                     f"mean judgment is {m['mse_truth_mean']:.4f} (ECE against the mean judgment "
                     f"{m['ece_truth_mean']:.3f}; against the binary class, reported and not a "
                     f"target, {m['ece']:.3f}).")
        elif m:
            text += (f" On {name}'s test part the expected calibration error is {m['ece']:.3f}: "
                     f"there, a score of 0.3 means that about 3 in 10 such headlines were judged "
                     "sensational.")
    others = [f"{n} {m['ece']:.3f}" for n, m in metrics["datasets"].items()
              if n not in hyper["calibrate_on"]]
    if others:
        text += (" It is not calibrated for the other datasets, whose labels follow their source "
                 "(ECE " + ", ".join(others) + ").")
    return text


def write_report(directory: Path, pipeline: Pipeline, manifest: dict, metrics: dict,
                 test_sets: dict[str, LabelledSet], ablation: dict | None = None) -> None:
    """Write MODEL_CARD.md and roc.png, reliability.png, histograms.png into ``directory``.

    ``ablation`` is the report of ``make tune ABLATION=1`` run against this model's config
    (reports/ablation.json), or None when there is none for it."""
    full = json.loads((directory / MANIFEST_FILE).read_text())
    curves = {name: (data.labels, pipeline.predict_proba(data.texts)[:, 1])
              for name, data in test_sets.items()}
    plots = []
    if curves:
        _plot_roc(directory / "roc.png", curves)
        _plot_reliability(directory / "reliability.png", curves)
        _plot_histograms(directory / "histograms.png", curves, manifest["threshold"])
        plots = ["roc.png", "reliability.png", "histograms.png"]
        graded = {name: (data.targets, curves[name][1]) for name, data in test_sets.items()
                  if data.graded}
        if graded:
            _plot_reliability_truth_mean(directory / "reliability_truth_mean.png", graded)
            plots.append("reliability_truth_mean.png")

    data_rows = ["| dataset | rows used | evaluation | licence | citation |", "|---|---|---|---|---|"]
    for d in manifest["datasets"]:
        data_rows.append(f"| {d['name']} | {d['rows']} | {d['evaluation']} | {d['licence']} | "
                         f"{d['citation']} |")
    probes = metrics["probes"]
    hyper = manifest["hyperparameters"]
    calibration = manifest.get("calibration")
    sections = [
        f"# Model card: headline-scorer {full['version']}",
        f"Created {full['created_at']} from commit `{manifest.get('git_commit')}` with "
        + ", ".join(f"{k} {v}" for k, v in full["libraries"].items())
        + f". Trained in {manifest['training_seconds']} s by `make train`.",
        "## Intended use", INTENDED_USE,
        "## Model", _model_description(hyper), _augmentation_description(hyper),
        "## Data", "\n".join(data_rows),
        "## Metrics",
        "Each dataset evaluated by `split` keeps a 20% test part chosen by a hash of the "
        "normalised headline; it was never used to fit, calibrate or choose the threshold. "
        "horne2017 is too small for one split and is measured by 5-fold stratified "
        "cross-validation of the whole recipe (every fold refits all datasets).",
        _metrics_table(metrics),
        "MSE is the mean squared error of the score against Webis' mean annotator judgment; "
        "ECE is the expected calibration error over 10 equal-width bins.",
        "### Behaviour on neutral test headlines",
        _probe_lines(probes),
        "### Behavioural suite: phrasing devices, plain headlines, topic swaps",
        _behaviour_lines(metrics.get("behaviour")),
        "## Threshold and calibration",
        f"Threshold {manifest['threshold']:.3f}: it {manifest['threshold_rule']}. "
        + _f1_rule_description(manifest, metrics)
        + _calibration_description(hyper, calibration, metrics),
    ]
    sections.append("## Ablation")
    if ablation is not None:
        sections += [f"What each addition buys, measured by `make tune ABLATION=1` against this "
                     f"model's configuration: {ablation['folds']}-fold cross-validation inside the "
                     "training parts (test parts never read), each variant with its own "
                     "calibration and threshold chosen like the default model's.",
                     ablation["table"]]
    else:
        sections.append("No ablation has been run for this configuration: run "
                        "`make tune ABLATION=1`, then `make train`.")
    if plots:
        sections += ["## Plots", "\n".join(f"![{p}]({p})" for p in plots)]
    sections += ["## Limitations", LIMITATIONS]
    (directory / "MODEL_CARD.md").write_text("\n\n".join(sections) + "\n", encoding="utf-8")
