"""The model: word and character TF-IDF plus named style and phrasing features into one
logistic regression.

Pure functions: :func:`build_pipeline` makes an unfitted scikit-learn Pipeline from the
hyperparameters in ``training/model_config.toml``; :func:`fit_pipeline` fits it on several
datasets at once with per-dataset weights and soft targets (Webis' mean judgment, smoothed
labels); :func:`fold_calibration` folds a Platt scaling into the classifier's own coefficients
so the fitted pipeline's ``predict_proba`` is already the calibrated score and explanations
stay exact.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from headline_scorer.features import (
    WORD_AND_PUNCTUATION_PATTERN,
    DeviceFeatures,
    NameMask,
    PhrasingFeatures,
    StyleFeatures,
    hype_words,
    learn_names,
    lower_with_bounds,
)
from training.behaviour import (
    BOTH_HALVES,
    LEXICON,
    Behaviour,
    load_behaviour,
    rewrite,
    shorten,
    swap_topic,
)
from training.loaders import LabelledSet
from training.split import text_fraction

CONFIG_PATH = Path(__file__).with_name("model_config.toml")
SEED = 20161


@dataclass
class ModelConfig:
    """Hyperparameters of the default model (see ``model_config.toml`` for the why)."""

    word_ngram_max: int = 2
    word_min_df: int = 2
    word_bounds: bool = False
    word_punctuation: bool = False
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    char_min_df: int = 3
    use_word: bool = True
    use_char: bool = True
    mask_names: bool = False
    name_min_count: int = 3
    name_min_share: float = 0.9
    use_style: bool = True
    style_scale: float = 1.0
    use_phrasing: bool = False
    phrasing_scale: float = 1.0
    phrasing_lengths: bool = True
    phrasing_leading_count_only: bool = False
    phrasing_casualty_counts_are_news: bool = False
    hype_words_without_held_out: bool = False
    hype_words_without_tabloid_verbs: bool = False
    teach_held_out: bool = False
    use_devices: bool = False
    device_scale: float = 1.0
    device_figurative_only: bool = False
    device_shouting_column: bool = False
    device_wide_labels: bool = False
    device_label_hype_words: bool = False
    device_lexicon_verbs: bool = False
    device_format_labels: bool = False
    style_format_labels: bool = False
    device_format_shouting: bool = False
    device_format_forward: bool = False
    device_media_forward: bool = False
    format_label_hyphens: bool = False
    format_label_hype_words: bool = False
    device_time_not_forward: bool = False
    phrasing_time_not_teaser: bool = False
    augment_families: list[str] = field(default_factory=list)
    augment_bases: int = 0
    augment_weight: float = 0.0
    augment_named_only: list[str] = field(default_factory=list)
    teach_families: list[str] = field(default_factory=list)
    teach_columns: list[str] = field(default_factory=list)
    teach_penalty: float = 0.05
    domain_copies: list[str] = field(default_factory=list)
    domain_copy_scale: float = 1.0
    domain_copy_named: bool = False
    serve_domains: list[str] = field(default_factory=list)
    C: float = 4.0
    solver: str = "lbfgs"
    tol: float = 1e-4
    soft_targets: bool = True
    calibrate: bool = True
    calibrate_on: list[str] = field(default_factory=lambda: ["webis-clickbait-17"])
    calibration_class_share: float = 1.0
    threshold_f1_tolerance: float = 0.0
    threshold_f1_smoothing: float = 0.0
    fixed_threshold: float = 0.0  # 0: chosen by the F1 rule
    dataset_weights: dict[str, float] = field(default_factory=dict)
    label_smoothing: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CONFIG_PATH) -> ModelConfig:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        known = set(cls.__dataclass_fields__)
        unknown = set(document) - known
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        return cls(**document)

    def weight_of(self, dataset: str) -> float:
        return float(self.dataset_weights.get(dataset, 1.0))

    def smoothing_of(self, dataset: str) -> float:
        return float(self.label_smoothing.get(dataset, 0.0))


# Settings read only after the fit (by the Platt scaling and the threshold on out-of-fold
# scores), never by fit_pipeline: configs that differ only in these share their fitted models.
AFTER_FIT_SETTINGS = ("calibrate", "calibrate_on", "calibration_class_share",
                      "threshold_f1_tolerance", "threshold_f1_smoothing", "fixed_threshold")


def suite_twin(config: ModelConfig) -> ModelConfig:
    """The recipe the behavioural suite measures: ``config`` given nothing of the held-out
    halves (``config`` itself unless it has ``teach_held_out``).

    A model shipped with ``teach_held_out`` is also given the held-out half of every device
    family (its tabloid verbs, labels and frames as lexicon and rewrites), so the suite cannot
    tell from it how the recipe generalises to devices it never saw. ``make train``
    therefore fits this twin on the same rows beside it, without that half and with a
    hype-word list that does not know its words, and the suite's device figures, ``make
    tune``, the ablation and ``make limits`` all measure the twin."""
    if not config.teach_held_out:
        return config
    return replace(config, teach_held_out=False, hype_words_without_held_out=True)


def taught_half(config: ModelConfig) -> str:
    """The half of each device family the model is given: "train", or both halves under
    ``teach_held_out``."""
    return BOTH_HALVES if config.teach_held_out else "train"


def fitting_key(config: ModelConfig) -> str:
    """The settings ``fit_pipeline`` reads, as text: equal keys give identical fits."""
    settings = asdict(config)
    for name in AFTER_FIT_SETTINGS:
        settings.pop(name)
    return json.dumps(settings, sort_keys=True)


def build_pipeline(config: ModelConfig) -> Pipeline:
    """An unfitted Pipeline(features=FeatureUnion(word, char, style, phrasing),
    clf=LogisticRegression); parts switched off in the config are left out."""
    if (config.format_label_hyphens or config.format_label_hype_words) \
            and not (config.style_format_labels or config.device_format_labels):
        raise ValueError("format_label_hyphens and format_label_hype_words read format labels: "
                         "they need style_format_labels or device_format_labels = true")
    parts = []
    behaviour = (load_behaviour() if config.use_phrasing or config.use_devices
                 or config.style_format_labels else None)
    if config.use_word:
        parts.append(("word", TfidfVectorizer(
            lowercase=True,
            preprocessor=lower_with_bounds if config.word_bounds else None,
            token_pattern=WORD_AND_PUNCTUATION_PATTERN if config.word_punctuation
            else r"(?u)\b\w\w+\b",
            ngram_range=(1, config.word_ngram_max), min_df=config.word_min_df,
            sublinear_tf=True, dtype=np.float64,
        )))
    if config.use_char:
        parts.append(("char", TfidfVectorizer(
            lowercase=True, analyzer="char_wb",
            ngram_range=(config.char_ngram_min, config.char_ngram_max),
            min_df=config.char_min_df, sublinear_tf=True, dtype=np.float64,
        )))
    if config.use_style:
        # With style_format_labels a format label in front ("UPDATE:", "WATCH LIVE:";
        # behaviour.toml's format labels) is a house style, not shouted words.
        parts.append(("style", StyleFeatures(
            scale=config.style_scale,
            **(format_label_reading(config, behaviour) if config.style_format_labels
               else {}))))
    if config.use_phrasing:
        left_out = hype_words_left_out(config, behaviour)
        parts.append(("phrasing", PhrasingFeatures(
            scale=config.phrasing_scale, lengths=config.phrasing_lengths,
            hype_words_left_out=left_out,
            leading_count_only=config.phrasing_leading_count_only,
            casualty_counts_are_news=config.phrasing_casualty_counts_are_news,
            time_not_teaser=config.phrasing_time_not_teaser)))
    if config.use_devices:
        parts.append(("devices", device_features(config, behaviour)))
    if not parts:
        raise ValueError("the model needs at least one of word, char, style or phrasing features")
    classifier = LogisticRegression(C=config.C, max_iter=3000, solver=config.solver,
                                    tol=config.tol, random_state=SEED)
    return Pipeline([("features", FeatureUnion(parts)), ("clf", classifier)])


def hype_words_left_out(config: ModelConfig, behaviour: Behaviour | None = None
                        ) -> tuple[str, ...]:
    """The words the phrasing features' hype-word list must not know under ``config``: the
    words only the behavioural suite's held-out devices use (``hype_words_without_held_out``),
    and the tabloid verbs the device column counts (the train half, or both halves under
    ``teach_held_out``), figurative uses only when ``device_figurative_only``
    (``hype_words_without_tabloid_verbs``)."""
    if not (config.hype_words_without_held_out or config.hype_words_without_tabloid_verbs):
        return ()
    behaviour = behaviour or load_behaviour()
    words: set[str] = set()
    if config.hype_words_without_held_out:
        words |= behaviour.held_out_only_words()
    if config.hype_words_without_tabloid_verbs:
        words |= {form for entry in counted_tabloid_verbs(config, behaviour)
                  for form in entry.split("|") if " " not in form}
    return tuple(sorted(words))


def counted_tabloid_verbs(config: ModelConfig, behaviour: Behaviour) -> tuple[str, ...]:
    """The "present|past" entries the device column counts under ``config``: the half of the
    tabloid-verb family the model is given, and with ``device_lexicon_verbs`` the family's
    lexicon part, which no training rewrite holds."""
    family = behaviour.families["tabloid_verb"]
    return family.items(taught_half(config)) + (family.items(LEXICON)
                                                 if config.device_lexicon_verbs else ())


def format_label_reading(config: ModelConfig, behaviour: Behaviour) -> dict[str, Any]:
    """How the style and device features read a format label under ``config`` (their
    ``format_words``, ``format_hyphens`` and ``format_hype_words``): by behaviour.toml's
    format words; with ``format_label_hyphens`` its words may be hyphenated ("FACT-CHECK:");
    with ``format_label_hype_words`` a label holding a hype word of the phrasing features'
    list (without the words :func:`hype_words_left_out` names, nor behaviour.toml's status
    words, which beside a format word name the item's status: "WEATHER ALERT:") is no format
    label ("SHOCKING VIDEO:", "MUST-SEE VIDEO:", "BREAKING UPDATE:"). The two options narrow how
    format labels are read, so :func:`build_pipeline` refuses them without
    ``style_format_labels`` or ``device_format_labels``."""
    return {"format_words": behaviour.format_words,
            "format_hyphens": config.format_label_hyphens,
            "format_hype_words": (tuple(sorted(hype_words(
                (*hype_words_left_out(config, behaviour), *behaviour.status_words))))
                if config.format_label_hype_words else ())}


def device_features(config: ModelConfig, behaviour: Behaviour | None = None) -> DeviceFeatures:
    """The model's (unfitted) device features under ``config``. Their tabloid verbs are the
    training half of that family: the behavioural suite measures with the other half, which
    the model it measures must never be given (both halves under ``teach_held_out``, whose
    suite figures come from :func:`suite_twin`). With ``device_figurative_only`` a literal use ("Fire
    destroys homes") is not counted as a tabloid verb; with ``device_wide_labels`` a label
    prefix is read in its wider shapes ("🚨 BREAKING:", "JAW-DROPPING:"); with
    ``device_label_hype_words`` a label holding a hype word of the phrasing features' list
    (without the words :func:`hype_words_left_out` names) counts in any case and at any length
    ("OMG:", "Shocking:"); with ``device_lexicon_verbs`` the tabloid verbs include the
    family's lexicon part (:func:`counted_tabloid_verbs`); with ``device_format_labels`` a
    label naming a kind of item ("UPDATE:", "WATCH LIVE:"; behaviour.toml's format labels) is
    no hype label; with ``device_format_shouting`` such a label's capitals are not shouting in
    the "shouting with '!'" column, and with ``device_format_forward`` an item it opens counts
    no forward reference ("ANALYSIS: Why the deal matters"). Both read labels by the format
    words, so they need ``device_format_labels``. With ``device_media_forward`` as well, a
    label naming only the medium (behaviour.toml's format-label media: "VIDEO:", "PHOTOS:")
    leaves the item its forward words ("VIDEO: You won't believe what happens next") but not
    its demonstratives, which point at the medium ("Caught on video: This plane ..."). With
    ``device_time_not_forward`` "this", "these" or "next" before a word of time ("this week")
    is no forward reference."""
    if (config.device_format_shouting or config.device_format_forward) \
            and not config.device_format_labels:
        raise ValueError("device_format_shouting and device_format_forward read format labels: "
                         "they need device_format_labels = true")
    if config.device_media_forward and not config.device_format_forward:
        raise ValueError("device_media_forward narrows device_format_forward: it needs "
                         "device_format_forward = true")
    behaviour = behaviour or load_behaviour()
    verbs = counted_tabloid_verbs(config, behaviour)
    return DeviceFeatures(scale=config.device_scale,
                          tabloid_verbs=tuple(form for entry in verbs for form in entry.split("|")),
                          figurative_only=config.device_figurative_only,
                          shouting_column=config.device_shouting_column,
                          wide_labels=config.device_wide_labels,
                          **(format_label_reading(config, behaviour)
                             if config.device_format_labels else {}),
                          format_shouting=config.device_format_shouting,
                          format_forward=config.device_format_forward,
                          media_words=(behaviour.media_words
                                       if config.device_media_forward else ()),
                          time_not_forward=config.device_time_not_forward,
                          label_words=(tuple(sorted(hype_words(
                              hype_words_left_out(config, behaviour))))
                              if config.device_label_hype_words else ()))


def soft_targets(data: LabelledSet, config: ModelConfig) -> np.ndarray | None:
    """Each row's target in [0, 1] when it is fitted softly, or None for hard labels.

    Graded data (Webis' truthMean) use their grade when ``soft_targets`` is on; other data
    use their labels smoothed by the dataset's ``label_smoothing`` s (1 -> 1 - s, 0 -> s),
    which keeps a dataset whose two sides differ in more than phrasing from pushing its
    scores to the extremes.
    """
    if data.graded and config.soft_targets:
        return data.targets
    smoothing = config.smoothing_of(data.name)
    if smoothing:
        return data.labels * (1.0 - smoothing) + (1 - data.labels) * smoothing
    return None


TOPIC_FAMILY = "topic"
SHORTENED_FAMILY = "shortened"


def counterfactual_pairs(data: LabelledSet, config: ModelConfig, families: list[str],
                         behaviour: Behaviour | None = None
                         ) -> list[tuple[str, str, int, str]]:
    """Counterfactual rewrites of ``data``'s neutral headlines: (plain, rewrite, label,
    family).

    Each family of ``families`` gets up to ``augment_bases`` / len(families) pairs, drawn
    from that family's ``train`` half only (both halves under ``teach_held_out``; topic swaps
    always from the train half): the neutral rows, in an order fixed by a hash of
    their text, that the family can rewrite (a tabloid verb needs a reporting verb to
    replace, so its bases are the rows that have one). A device rewrite is labelled 1
    (sensational), a topic swap 0 (the same phrasing about something else is still neutral),
    and so is a shortened headline (``shortened``: a plain headline cut short is still
    plain). The bases come from the rows given, so in cross-validation each rewrite lands in
    the fold of its plain base.
    """
    if not families or config.augment_bases <= 0:
        return []
    behaviour = behaviour or load_behaviour()
    neutral = sorted((t for t, y in zip(data.texts, data.labels) if y == 0),
                     key=lambda t: text_fraction(t, "augment"))
    quota = max(1, config.augment_bases // len(families))
    pairs = []
    for family in families:
        taken = 0
        for plain in neutral:
            if taken >= quota:
                break
            if family == TOPIC_FAMILY:
                changed = swap_topic(plain, behaviour.topics["train"])
                label = 0
            elif family == SHORTENED_FAMILY:
                changed = shorten(plain, behaviour.cut_before,
                                  int(behaviour.bases["short_max_words"]))
                label = 0
            else:
                seed = int(text_fraction(plain, family) * 2**31)
                changed = rewrite(plain, behaviour.families[family], taught_half(config),
                                  seed)
                label = 1
            if changed is not None and changed != plain:
                pairs.append((plain, changed, label, family))
                taken += 1
    return pairs


def training_rows(datasets: list[LabelledSet], config: ModelConfig
                  ) -> tuple[list[str], list[str], np.ndarray, np.ndarray, list[str]]:
    """Texts, the texts the n-gram parts see, labels, sample weights for the classifier and
    each row's domain (its dataset's name; "" for a counterfactual pair, which teaches every
    domain alike).

    A row with a soft target t becomes two rows, labelled 1 with weight t and 0 with weight
    1 - t: logistic loss on those equals cross-entropy against t. Each dataset's rows carry
    its weight from the config; rows of weight 0 are left out. Counterfactual pairs
    (:func:`counterfactual_pairs`) add their rewrite with its label and their plain base
    labelled 0, both at ``augment_weight``, so a pair differs only by its device. A rewrite
    of a family in ``augment_named_only`` shows the n-gram parts its plain base: the pair then
    differs only in the named features, which is all that family may teach.
    """
    texts: list[str] = []
    labels: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    domains: list[str] = []
    for data in datasets:
        w = config.weight_of(data.name)
        targets = soft_targets(data, config)
        if targets is not None:
            domains += [data.name] * (2 * len(data))
            texts += data.texts + data.texts
            labels += [np.ones(len(data), np.int64), np.zeros(len(data), np.int64)]
            weights += [w * targets, w * (1.0 - targets)]
        else:
            domains += [data.name] * len(data)
            texts += data.texts
            labels.append(data.labels)
            weights.append(np.full(len(data), w))
    ngram_texts = list(texts)
    pairs = [p for data in datasets
             for p in counterfactual_pairs(data, config, config.augment_families)]
    if pairs:
        texts += [plain for plain, _, _, _ in pairs] + [changed for _, changed, _, _ in pairs]
        ngram_texts += [plain for plain, _, _, _ in pairs] + [
            plain if family in config.augment_named_only else changed
            for plain, changed, _, family in pairs]
        labels += [np.zeros(len(pairs), np.int64),
                   np.array([label for _, _, label, _ in pairs], dtype=np.int64)]
        weights.append(np.full(2 * len(pairs), config.augment_weight))
        domains += [""] * (2 * len(pairs))
    y = np.concatenate(labels)
    sample_weight = np.concatenate(weights)
    keep = sample_weight > 0
    return ([t for t, k in zip(texts, keep) if k], [t for t, k in zip(ngram_texts, keep) if k],
            y[keep], sample_weight[keep], [d for d, k in zip(domains, keep) if k])


def _rows_of(transformer: object, texts: list[str]) -> sp.csr_matrix:
    """``transformer``'s rows for ``texts``, each distinct text transformed once."""
    unique = list(dict.fromkeys(texts))
    position = {t: i for i, t in enumerate(unique)}
    matrix = sp.csr_matrix(transformer.transform(unique))
    return matrix[np.fromiter((position[t] for t in texts), dtype=np.int64, count=len(texts))]


def fit_pipeline(datasets: list[LabelledSet], config: ModelConfig) -> Pipeline:
    """Fit a fresh pipeline on ``datasets`` (their training parts) with the config's weights."""
    texts, ngram_texts, y, sample_weight, domains = training_rows(datasets, config)
    pipeline = build_pipeline(config)
    # Vocabulary, idf and the acronym list come from each distinct real headline once (not
    # from the soft-target copies, nor from the counterfactual rewrites: a rewrite must teach
    # the weights of features real headlines have, and a shouted rewrite must not make an
    # ordinary word look like an acronym). Columns are stacked in the union's order, each
    # part reading its own text of a row (n-gram parts: ngram_texts).
    features: FeatureUnion = pipeline.named_steps["features"]
    real_texts = list(dict.fromkeys(t for d in datasets for t in d.texts))
    if config.mask_names:
        mask_names(features, learn_names(real_texts, config.name_min_count,
                                         config.name_min_share))
    features.fit(real_texts)
    blocks = [_rows_of(part, ngram_texts if isinstance(part, TfidfVectorizer) else texts)
              for _, part in features.transformer_list]
    rows = sp.hstack(blocks, format="csr")
    copied = np.concatenate([
        np.full(block.shape[1], config.domain_copy_named or isinstance(part, TfidfVectorizer))
        for block, (_, part) in zip(blocks, features.transformer_list)]).nonzero()[0]
    clf: LogisticRegression = pipeline.named_steps["clf"]
    clf.fit(with_domain_copies(rows, domains, config, copied), y, sample_weight=sample_weight)
    if config.domain_copies:
        collapse_domain_copies(clf, rows.shape[1], copied, config)
    if config.teach_families:
        teach_devices(pipeline, [p for d in datasets
                                 for p in counterfactual_pairs(d, config, config.teach_families)],
                      config)
    return pipeline


def with_domain_copies(rows: sp.csr_matrix, domains: list[str], config: ModelConfig,
                       columns: np.ndarray) -> sp.csr_matrix:
    """``rows`` widened for domain adaptation by feature augmentation (Daume III, "Frustratingly
    easy domain adaptation", ACL 2007): each dataset of ``domain_copies`` gets its own copy of
    the ``columns`` (the n-gram columns; with ``domain_copy_named`` the named features too)
    times ``domain_copy_scale``, plus an indicator column, non-zero
    on its rows only. The shared columns then learn what the datasets agree on, and a copy what
    only its dataset's labels say (an outlet's templates, a topic its annotators found baity):
    the regulariser makes a weight that several datasets need cheaper in the shared columns,
    and a scale below 1 makes a copy dearer still. ``rows`` itself without copies."""
    if not config.domain_copies:
        return rows
    domain_of = np.array(domains)
    copied = rows[:, columns] * config.domain_copy_scale
    blocks = [rows]
    for name in config.domain_copies:
        member = (domain_of == name).astype(np.float64)
        if not member.any():
            raise ValueError(f"domain_copies: no training row of {name!r}")
        blocks += [sp.diags(member) @ copied, sp.csr_matrix(member.reshape(-1, 1))]
    return sp.hstack(blocks, format="csr")


def collapse_domain_copies(clf: LogisticRegression, width: int, columns: np.ndarray,
                           config: ModelConfig) -> None:
    """Reduce a classifier fitted on :func:`with_domain_copies` rows to one over the shared
    columns: their weights plus the copies (and indicators) of ``serve_domains``, so a served
    headline is scored as a row of those datasets (none: by the shared weights alone). The
    result is one linear model of the usual width."""
    unknown = set(config.serve_domains) - set(config.domain_copies)
    if unknown:
        raise ValueError(f"serve_domains {sorted(unknown)} are not among domain_copies")
    coef = clf.coef_[:, :width].copy()
    intercept = clf.intercept_.copy()
    block = len(columns) + 1
    for name in config.serve_domains:
        start = width + config.domain_copies.index(name) * block
        coef[:, columns] += config.domain_copy_scale * clf.coef_[:, start:start + len(columns)]
        intercept += clf.coef_[:, start + len(columns)]
    clf.coef_ = coef
    clf.intercept_ = intercept
    clf.n_features_in_ = width


def mask_names(features: FeatureUnion, names: frozenset[str]) -> None:
    """Give every n-gram part a :class:`NameMask` of ``names`` as its preprocessor (the word
    part keeps its start and end markers when it had them), so no n-gram says who or what a
    headline is about."""
    for _, part in features.transformer_list:
        if isinstance(part, TfidfVectorizer):
            bounds = part.preprocessor is lower_with_bounds
            if part.analyzer != "word" and bounds:
                raise ValueError("start and end markers are for the word part only")
            part.set_params(preprocessor=NameMask(names, bounds=bounds))


def teach_devices(pipeline: Pipeline, pairs: list[tuple[str, str, int, str]],
                  config: ModelConfig) -> None:
    """Second stage of counterfactual augmentation: add to the coefficients of the named
    columns in ``teach_columns`` (feature names such as "hype label prefix") the change that
    best separates each rewrite from its plain base, every other weight held fixed.

    Fitted by L-BFGS on the logistic loss of the pairs (every family weighing the same, so a
    family with few pairs is taught as firmly as one with many) with the fitted model's logit
    as an offset plus ``teach_penalty`` / 2 times the squared change: the pairs are separable,
    so without the penalty the weights would grow until every "WATCH:" or "!!" of a real
    neutral post scored 1. The n-gram weights that rank real headlines are untouched: the
    pairs can teach only what a device adds. The result is still one linear model.
    """
    if not pairs:
        return
    features: FeatureUnion = pipeline.named_steps["features"]
    clf: LogisticRegression = pipeline.named_steps["clf"]
    texts = [plain for plain, _, _, _ in pairs] + [changed for _, changed, _, _ in pairs]
    y = np.concatenate([np.zeros(len(pairs)), [label for _, _, label, _ in pairs]])
    X = sp.csr_matrix(features.transform(texts))
    offset = X @ clf.coef_[0] + clf.intercept_[0]
    names = [str(n) for n in features.get_feature_names_out()]
    wanted = {f"{part}__{column}" for part, _ in features.transformer_list
              for column in config.teach_columns}
    columns = [i for i, n in enumerate(names) if n in wanted]
    if len(columns) != len(config.teach_columns):
        raise ValueError(f"teach_columns {config.teach_columns}: not every one is a named "
                         "feature of exactly one part")
    Z = X[:, columns].toarray()
    sign = 2.0 * y - 1.0
    penalty = config.teach_penalty
    # Every family weighs the same in the loss however many pairs it has (a tabloid verb
    # needs a reporting verb to replace, so its pairs are fewer): the weights sum to 1.
    family_of = [family for _, _, _, family in pairs] * 2
    counts = Counter(family_of)
    weight = np.array([1.0 / (len(counts) * counts[f]) for f in family_of])

    def loss(delta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (offset + Z @ delta)
        value = weight @ np.logaddexp(0.0, -margin) + 0.5 * penalty * delta @ delta
        gradient = -(Z.T @ (weight * sign * expit(-margin))) + penalty * delta
        return float(value), gradient

    # Run to convergence, like the main fit (scipy's default tolerances are loose for a
    # change this small), so the model is the optimum, whatever the CPU's BLAS kernels.
    result = minimize(loss, np.zeros(len(columns)), jac=True, method="L-BFGS-B",
                      options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
    coef = clf.coef_.copy()
    coef[0, columns] += result.x
    clf.coef_ = coef


def platt_parameters(logits: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(a, b) such that sigmoid(a * logit + b) is calibrated to held-out ``targets`` in
    [0, 1] (labels, or soft targets fitted by cross-entropy)."""
    targets = np.asarray(targets, dtype=np.float64)
    z = np.concatenate([logits, logits]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(logits)), np.zeros(len(logits))])
    weight = np.concatenate([targets, 1.0 - targets])
    keep = weight > 0
    scaler = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    scaler.fit(z[keep], y[keep], sample_weight=weight[keep])
    return float(scaler.coef_[0, 0]), float(scaler.intercept_[0])


def calibration_targets(data: LabelledSet, config: ModelConfig) -> np.ndarray:
    """What the score is calibrated to on ``data``: its labels, or for graded data a mix of
    label (share ``calibration_class_share``) and grade, which trades calibration against the
    classes (ECE) for closeness to the grade (MSE)."""
    if not data.graded:
        return data.labels.astype(np.float64)
    share = config.calibration_class_share
    return share * data.labels + (1.0 - share) * data.targets


def fold_calibration(pipeline: Pipeline, a: float, b: float) -> None:
    """Rewrite the classifier in place so its logit becomes ``a * logit + b``."""
    clf: LogisticRegression = pipeline.named_steps["clf"]
    clf.coef_ = clf.coef_ * a
    clf.intercept_ = clf.intercept_ * a + b
