"""The behavioural suite (training/behaviour.py) on fixture data: the rewrites each device
family makes, the disjoint halves of its lexicons, the counterfactual pairs training draws
from the train halves only, the device features, and the report of ``make behaviour``."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from headline_scorer.artifact import load_model, sha256_of
from headline_scorer.features import (
    DEVICE_FEATURES,
    DEVICE_FEATURES_WITH_SHOUTING,
    PHRASING_FEATURES,
    STYLE_FEATURES,
    DeviceFeatures,
    NameMask,
    PhrasingFeatures,
    StyleFeatures,
    learn_names,
)
from headline_scorer.scorer import NAMED_CUES
from tests.conftest import train_fixture_model
from tests.fixture_headlines import make_headlines
from training.behaviour import (
    BEHAVIOUR_PATH,
    TWIN_FILE,
    Bases,
    Score,
    apply_template,
    device_columns_of,
    flagged_device_rows,
    load_behaviour,
    markdown_tables,
    rewrite,
    run_suite,
    shorten,
    shout_words,
    swap_topic,
    swap_verb,
    word_count,
)
from training.behaviour import main as behaviour_main
from training.loaders import LabelledSet
from training.model import (
    ModelConfig,
    build_pipeline,
    counterfactual_pairs,
    device_features,
    fit_pipeline,
    hype_words_left_out,
    suite_twin,
    training_rows,
)

REPORTING = ("criticises|criticised", "rejects|rejected", "responds to|responded to")


def test_suite_file_has_disjoint_halves_and_the_issue_targets() -> None:
    behaviour = load_behaviour()
    targets = {name: f.target for name, f in behaviour.families.items()}
    assert targets == {"prefix": 0.90, "teaser": 0.90, "exclamation": 0.80,
                       "tabloid_verb": 0.70, "shouting": 0.90}
    for family in behaviour.families.values():
        assert family.train and family.held_out
        assert not set(family.train) & set(family.held_out), family.name
    train_terms = {t for pair in behaviour.topics["train"] for t in pair}
    held_terms = {t for pair in behaviour.topics["held_out"] for t in pair}
    assert not train_terms & held_terms
    assert behaviour.false_positive_max == {"wire": 0.02, "posts": 0.05, "short": 0.03}
    assert behaviour.topic_limits == {"median_abs_change_max": 0.02, "flip_share_max": 0.01}


def test_overlapping_halves_are_refused(tmp_path: Path) -> None:
    text = BEHAVIOUR_PATH.read_text(encoding="utf-8").replace(
        'held_out = ["EXCLUSIVE: {h}"', 'held_out = ["SHOCKING: {h}", "EXCLUSIVE: {h}"')
    path = tmp_path / "behaviour.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="prefix: train and held_out share"):
        load_behaviour(path)


def test_a_lexicon_part_must_not_share_a_verb_with_either_half(tmp_path: Path) -> None:
    family = load_behaviour().families["tabloid_verb"]
    assert family.lexicon and family.items("lexicon") == family.lexicon
    text = BEHAVIOUR_PATH.read_text(encoding="utf-8")
    path = tmp_path / "behaviour.toml"
    # "rips into" holds the train half's "rips", which a device column would count there.
    path.write_text(text.replace('lexicon = ["lays into|laid into"',
                                 'lexicon = ["rips into|ripped into", "lays into|laid into"'),
                    encoding="utf-8")
    with pytest.raises(ValueError, match="tabloid_verb: train and lexicon share"):
        load_behaviour(path)
    path.write_text(text.replace('lexicon = ["lays into|laid into"',
                                 'lexicon = ["eviscerates|eviscerated", "lays into|laid into"'),
                    encoding="utf-8")
    with pytest.raises(ValueError, match="tabloid_verb: held_out and lexicon share"):
        load_behaviour(path)
    path.write_text(text.replace('[families.teaser]\n', '[families.teaser]\nlexicon = ["x"]\n'),
                    encoding="utf-8")
    with pytest.raises(ValueError, match="teaser: only a verb family has a lexicon"):
        load_behaviour(path)


def test_a_format_label_is_no_hype_label_when_asked(tmp_path: Path) -> None:
    behaviour = load_behaviour()
    assert {"update", "live", "correction"} <= set(behaviour.format_words)
    config = ModelConfig(use_devices=True)
    column = DEVICE_FEATURES.index("hype label prefix")
    format_labelled = ["UPDATE: Police respond to reports of shooting",
                       "WATCH LIVE: President holds a rally in Florida",
                       "FOX NEWS POLL: First 100 days get mixed reviews",
                       "CORRECTION - Earlier report misnamed the minister",
                       # A format entry of two words ("fact check").
                       "FACT CHECK: Senator's claims about the budget"]
    # No label of the suite's prefix family reads otherwise with format labels.
    suite_labelled = [template.replace("{h}", "Council passes budget")
                      for half in ("train", "held_out")
                      for template in behaviour.families["prefix"].items(half)]
    values = {}
    for c, counted in ((config, True), (replace(config, device_format_labels=True), False)):
        features = device_features(c).fit(format_labelled + suite_labelled)
        for headline in format_labelled:
            assert features.features_one(headline)[column] == (c.device_scale if counted else 0.0)
        values[counted] = [features.features_one(h)[column] for h in suite_labelled]
    assert values[True] == values[False] and sum(values[True]) >= len(suite_labelled) // 2
    # A phrase's words count only together: "CHECK:" is a hype label, "FACT" no format label.
    assert features.label_format_words("FACT CHECK") == {"fact check"}
    assert features.label_format_words("Fact-check") == {"fact check"}
    assert not features.is_format_label("FACT") and not features.is_format_label("CHECK THIS OUT")
    assert not features.is_format_label("CHECK FACT")
    assert features.features_one("CHECK: Council passes budget")[column] == config.device_scale
    text = BEHAVIOUR_PATH.read_text(encoding="utf-8")
    path = tmp_path / "behaviour.toml"
    refused = [
        ('words = ["update",', 'words = ["watch", "update",',
         r"format_labels words \['watch'\] are in a label"),
        # A phrase is refused on any of its words.
        ('words = ["update",', 'words = ["watch now", "update",',
         r"format_labels words \['watch'\] are in a label"),
        ('media = ["video",', 'media = ["vlog", "video",',
         r"format_labels media \['vlog'\] are not among"),
        ('status = ["alert",', 'status = ["update", "alert",',
         r"format_labels status \['update'\] are not hype words"),
    ]
    for old, new, message in refused:
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            load_behaviour(path)


def test_a_format_label_is_no_shouting_when_asked() -> None:
    behaviour = load_behaviour()
    config = ModelConfig(use_style=True)
    column = STYLE_FEATURES.index("ALL-CAPS words")
    corpus = ["Police respond to an update on the shooting", "Voters reject the budget",
              "NASA launches a probe", "Senate votes on the bill"]
    counts = {}
    for c in (config, replace(config, style_format_labels=True)):
        style = dict(build_pipeline(c).named_steps["features"].transformer_list)["style"]
        style.fit(corpus)
        counts[c.style_format_labels] = {h: style.features_one(h)[column] / c.style_scale for h in (
            "UPDATE: Police respond to reports of shooting",
            "CORRECTION - Earlier report misnamed the minister",
            "UPDATE: Voters REJECT budget",
            "SHOCKING: Council passes budget",
            "NASA: Probe reaches Jupiter",
            "Voters REJECT budget",
            *(t.replace("{h}", "Council passes budget")
              for t in behaviour.families["prefix"].items("train")))}
    off, on = counts[False], counts[True]
    assert off["UPDATE: Police respond to reports of shooting"] == 1
    assert on["UPDATE: Police respond to reports of shooting"] == 0
    assert (off["CORRECTION - Earlier report misnamed the minister"], on[
        "CORRECTION - Earlier report misnamed the minister"]) == (1, 0)
    # Only the label's words leave the count: what follows still shouts.
    assert (off["UPDATE: Voters REJECT budget"], on["UPDATE: Voters REJECT budget"]) == (2, 1)
    assert on["SHOCKING: Council passes budget"] == 1
    for headline in off:
        if not headline.startswith(("UPDATE", "CORRECTION")):
            assert on[headline] == off[headline], headline
    # A model pickled before the option existed has no format words and reads as it did.
    old = StyleFeatures(scale=1.0).fit(corpus)
    del old.__dict__["format_words"], old.__dict__["format_words_"]
    assert old.features_one("UPDATE: Police respond to reports of shooting")[column] == 1


def test_a_format_label_neither_shouts_nor_points_forward_when_asked() -> None:
    config = ModelConfig(use_devices=True, device_shouting_column=True,
                         device_format_labels=True)
    names = DEVICE_FEATURES_WITH_SHOUTING
    shout, forward = names.index("shouting with '!'"), names.index("forward reference")
    corpus = ["Police respond to an update on the shooting", "Voters reject the budget",
              "Senate passes the budget", "NASA launches a probe", "Why the deal matters"]
    headlines = ["UPDATE: Senate passes budget!", "UPDATE: Senate PASSES budget!",
                 "ANALYSIS: Why the budget deal matters", "Opinion: How the council got this wrong",
                 "Why the budget deal matters", "SHOCKING: Why the budget deal matters",
                 "Senate PASSES budget!", "This is why the Senate passed the budget",
                 "NASA: Why the probe matters"]
    values = {}
    for options in ({}, {"device_format_shouting": True}, {"device_format_forward": True},
                    {"device_format_shouting": True, "device_format_forward": True}):
        features = device_features(replace(config, **options)).fit(corpus)
        values[tuple(sorted(options))] = {h: [v / config.device_scale
                                             for v in features.features_one(h)]
                                          for h in headlines}
    off = values[()]
    shouting = values[("device_format_shouting",)]
    skipping = values[("device_format_forward",)]
    both = values[("device_format_forward", "device_format_shouting")]
    assert off["UPDATE: Senate passes budget!"][shout] == 1
    assert shouting["UPDATE: Senate passes budget!"][shout] == 0
    # Capitals after the label still shout.
    assert shouting["UPDATE: Senate PASSES budget!"][shout] == 1
    assert off["ANALYSIS: Why the budget deal matters"][forward] == 1
    assert skipping["ANALYSIS: Why the budget deal matters"][forward] == 0
    assert off["Opinion: How the council got this wrong"][forward] == 2
    assert skipping["Opinion: How the council got this wrong"][forward] == 0
    # Without a format label in front nothing changes: a hype label, a plain "why", a
    # teaser frame, or a label that is no format label ("NASA:").
    for headline in ("Why the budget deal matters", "SHOCKING: Why the budget deal matters",
                     "Senate PASSES budget!", "This is why the Senate passed the budget",
                     "NASA: Why the probe matters"):
        assert off[headline] == shouting[headline] == skipping[headline] == both[headline], \
            headline
    assert off["This is why the Senate passed the budget"][forward] == 2
    # Each option changes only its own column.
    for headline in headlines:
        assert [v for i, v in enumerate(shouting[headline]) if i != shout] == \
            [v for i, v in enumerate(off[headline]) if i != shout]
        assert [v for i, v in enumerate(skipping[headline]) if i != forward] == \
            [v for i, v in enumerate(off[headline]) if i != forward]
        assert both[headline] == [skipping[headline][i] if i == forward else
                                  shouting[headline][i] for i in range(len(names))]
    # They read labels by the format words, so they are refused without them.
    with pytest.raises(ValueError, match="need device_format_labels"):
        device_features(replace(config, device_format_labels=False, device_format_forward=True))
    # A model pickled before the options existed reads as it did.
    old = device_features(config).fit(corpus)
    for attribute in ("format_shouting", "format_forward"):
        del old.__dict__[attribute]
    assert [v / config.device_scale
            for v in old.features_one("ANALYSIS: Why the budget deal matters")] == \
        off["ANALYSIS: Why the budget deal matters"]


def test_a_label_naming_only_the_medium_keeps_the_forward_reference_when_asked() -> None:
    behaviour = load_behaviour()
    assert {"video", "photos", "podcast"} <= set(behaviour.media_words)
    assert not {"analysis", "opinion", "update", "live"} & set(behaviour.media_words)
    config = ModelConfig(use_devices=True, device_format_labels=True,
                         device_format_forward=True)
    forward = DEVICE_FEATURES.index("forward reference")
    corpus = ["Police respond to an update on the shooting", "Why the deal matters"]
    headlines = {
        # label: (forward words with the format rule alone, with media labels kept)
        "VIDEO: You won't believe what happens next": (0, 2),
        "PHOTOS: This is what the storm left behind": (0, 1),
        # Demonstratives after a media label point at the medium shown.
        "Caught on video: This plane's landing gear collapsed": (0, 0),
        "VIDEO: Here's why the bridge fell": (0, 1),
        "Podcast - Why the budget deal matters": (0, 1),
        "ANALYSIS: Why the budget deal matters": (0, 0),
        "LIVE VIDEO: What we know about the fire": (0, 0),  # "live" names more than a medium
        "EXPLAINER: What the new tax rules mean": (0, 0),
        "Why the budget deal matters": (1, 1),
        "SHOCKING: This is why the budget failed": (2, 2),
    }
    counted = {}
    for media in (False, True):
        features = device_features(replace(config, device_media_forward=media)).fit(corpus)
        counted[media] = {h: features.features_one(h)[forward] / config.device_scale
                          for h in headlines}
    assert {h: (counted[False][h], counted[True][h]) for h in headlines} == headlines
    # Every other column reads as without the option.
    plain = device_features(config).fit(corpus)
    narrowed = device_features(replace(config, device_media_forward=True)).fit(corpus)
    for headline in headlines:
        assert [v for i, v in enumerate(plain.features_one(headline)) if i != forward] == \
            [v for i, v in enumerate(narrowed.features_one(headline)) if i != forward]
    # It narrows device_format_forward, so it is refused without it.
    with pytest.raises(ValueError, match="needs device_format_forward"):
        device_features(replace(config, device_format_forward=False, device_media_forward=True))
    # A model pickled before the option existed reads as it did: every format label counts.
    old = narrowed
    del old.__dict__["media_words"], old.__dict__["media_words_"]
    assert old.features_one("VIDEO: You won't believe what happens next")[forward] == 0


def test_a_format_label_may_be_hyphenated_and_holds_no_hype_word_when_asked() -> None:
    config = ModelConfig(use_style=True, style_format_labels=True, use_devices=True,
                         device_shouting_column=True, device_format_labels=True,
                         device_format_shouting=True, device_format_forward=True)
    caps, label = STYLE_FEATURES.index("ALL-CAPS words"), DEVICE_FEATURES.index(
        "hype label prefix")
    forward = DEVICE_FEATURES.index("forward reference")
    corpus = ["Police respond to an update on the shooting", "Voters reject the budget",
              "Senate passes the budget", "Man falls off the bridge", "Why the deal matters"]
    headlines = ["FACT-CHECK: Trump's claims about the economy",
                 "LIVE-BLOG: Why the Senate debates the budget",
                 "SHOCKING VIDEO: Man falls off bridge", "BREAKING UPDATE: Senate passes budget",
                 "Amazing photos: Why the man fell", "FACT CHECK: Trump's claims",
                 "UPDATE: Voters REJECT budget", "SHOCKING: Man falls off bridge",
                 "JAW-DROPPING: Senate passes budget", "WATCH LIVE: Senate debates budget",
                 "VIDEO: Man falls off bridge", "Man falls off bridge",
                 "WEATHER ALERT: Storm to hit coast"]
    values = {}
    for options in ({}, {"format_label_hyphens": True}, {"format_label_hype_words": True}):
        pipeline = build_pipeline(replace(config, **options))
        parts = dict(pipeline.named_steps["features"].transformer_list)
        style, devices = parts["style"].fit(corpus), parts["devices"].fit(corpus)
        values[tuple(options)] = {h: (style.features_one(h)[caps] / config.style_scale,
                                      [v / config.device_scale for v in devices.features_one(h)])
                                  for h in headlines}
    off = values[()]
    hyphens = values[("format_label_hyphens",)]
    hype = values[("format_label_hype_words",)]
    # A hyphenated format label is read as one: its capitals are no shouting, and the item it
    # opens counts no forward reference.
    assert off["FACT-CHECK: Trump's claims about the economy"][0] == 1
    assert hyphens["FACT-CHECK: Trump's claims about the economy"][0] == 0
    assert off["LIVE-BLOG: Why the Senate debates the budget"][1][forward] == 1
    assert hyphens["LIVE-BLOG: Why the Senate debates the budget"][1][forward] == 0
    # A hyphenated label that names no kind of item still shouts.
    assert hyphens["JAW-DROPPING: Senate passes budget"] == off["JAW-DROPPING: Senate passes budget"]
    # A label with a hype word beside the format word says how to feel: a hype label whose
    # capitals shout, and the item keeps its forward words.
    for headline in ("SHOCKING VIDEO: Man falls off bridge",
                     "BREAKING UPDATE: Senate passes budget"):
        assert off[headline][0] == 0 and off[headline][1][label] == 0, headline
        assert hype[headline][0] == 2 and hype[headline][1][label] == 1, headline
    assert off["Amazing photos: Why the man fell"][1][forward] == 0
    assert hype["Amazing photos: Why the man fell"][1][forward] == 1
    # Labels that only name the item, and headlines without one, read as before.
    # A status word beside the format word ("alert", behaviour.toml's format_labels status)
    # keeps it a format label.
    assert "alert" in load_behaviour().status_words
    for headline in ("FACT CHECK: Trump's claims", "UPDATE: Voters REJECT budget",
                     "SHOCKING: Man falls off bridge", "WATCH LIVE: Senate debates budget",
                     "VIDEO: Man falls off bridge", "Man falls off bridge",
                     "WEATHER ALERT: Storm to hit coast"):
        assert off[headline] == hyphens[headline] == hype[headline], headline
    for headline in headlines:
        if not headline.startswith(("FACT-CHECK", "LIVE-BLOG")):
            assert hyphens[headline] == off[headline], headline
    # They narrow how format labels are read, so they are refused without them.
    for option in ("format_label_hyphens", "format_label_hype_words"):
        with pytest.raises(ValueError, match="need style_format_labels or device_format_labels"):
            build_pipeline(replace(config, style_format_labels=False, device_format_labels=False,
                                   device_format_shouting=False, device_format_forward=False,
                                   **{option: True}))
    # A model pickled before the options existed reads as it did.
    pipeline = build_pipeline(replace(config, format_label_hyphens=True,
                                      format_label_hype_words=True))
    style = dict(pipeline.named_steps["features"].transformer_list)["style"].fit(corpus)
    for attribute in ("format_hyphens", "format_hype_words", "format_hype_words_"):
        del style.__dict__[attribute]
    for headline in headlines:
        assert style.features_one(headline)[caps] / config.style_scale == off[headline][0], \
            headline


def test_a_word_of_time_after_this_or_next_is_no_forward_reference_when_asked() -> None:
    config = ModelConfig(use_phrasing=True, use_devices=True)
    forward = DEVICE_FEATURES.index("forward reference")
    opening = PHRASING_FEATURES.index("teaser opening")
    corpus = ["Senate votes on the budget", "Why the deal matters"]
    headlines = {
        # headline: (forward words, teaser opening) without the options, and with them
        "Senate to vote on budget this week": ((1, 0), (0, 0)),
        "This week, the Senate votes on the budget": ((1, 1), (0, 0)),
        "These days the council meets in private": ((1, 1), (0, 0)),
        "Fed to meet next month on rates": ((1, 0), (0, 0)),
        "This year's budget is the largest": ((1, 1), (0, 0)),
        "Stocks fell this years first quarter": ((1, 0), (0, 0)),  # Webis drops apostrophes
        "Here's what the Senate passed this week": ((3, 1), (2, 1)),
        "This is why the Senate passed the budget": ((2, 1), (2, 1)),
        "This cat learned to hop like a kangaroo": ((1, 1), (1, 1)),
        "You won't believe what happens next": ((2, 0), (2, 0)),
        "What happens next week in the Senate": ((2, 1), (1, 1)),
        "Senate passes budget": ((0, 0), (0, 0)),
    }
    counted = {}
    for on in (False, True):
        pipeline = build_pipeline(replace(config, device_time_not_forward=on,
                                          phrasing_time_not_teaser=on))
        parts = dict(pipeline.named_steps["features"].transformer_list)
        devices, phrasing = parts["devices"].fit(corpus), parts["phrasing"].fit(corpus)
        counted[on] = {h: (devices.features_one(h), phrasing.features_one(h)) for h in headlines}
    assert {h: tuple((counted[on][h][0][forward] / config.device_scale,
                      counted[on][h][1][opening] / config.phrasing_scale) for on in (False, True))
            for h in headlines} == headlines
    # Every other column reads as without the options.
    for headline in headlines:
        off, on = counted[False][headline], counted[True][headline]
        assert [v for i, v in enumerate(off[0]) if i != forward] == \
            [v for i, v in enumerate(on[0]) if i != forward]
        assert [v for i, v in enumerate(off[1]) if i != opening] == \
            [v for i, v in enumerate(on[1]) if i != opening]
    # Models pickled before the options existed read as they did.
    pipeline = build_pipeline(replace(config, device_time_not_forward=True,
                                      phrasing_time_not_teaser=True))
    parts = dict(pipeline.named_steps["features"].transformer_list)
    devices, phrasing = parts["devices"].fit(corpus), parts["phrasing"].fit(corpus)
    del devices.__dict__["time_not_forward"], phrasing.__dict__["time_not_teaser"]
    for headline in headlines:
        assert (devices.features_one(headline), phrasing.features_one(headline)) == \
            counted[False][headline], headline


def test_the_device_column_counts_the_lexicon_part_only_when_asked() -> None:
    config = ModelConfig(use_devices=True, device_figurative_only=True, teach_held_out=True,
                         hype_words_without_tabloid_verbs=True)
    with_lexicon = replace(config, device_lexicon_verbs=True)
    assert "lambasts" not in device_features(config).tabloid_verbs
    for c in (with_lexicon, suite_twin(with_lexicon)):
        verbs = set(device_features(c).tabloid_verbs)
        assert {"lambasts", "lambasted", "lays into", "slams"} <= verbs
        assert "lambasts" in hype_words_left_out(c)
    assert "eviscerates" not in device_features(suite_twin(with_lexicon)).tabloid_verbs
    column = DEVICE_FEATURES.index("tabloid verb")
    headline = "Senator lambasts budget plan"
    for c, expected in ((config, 0.0), (with_lexicon, 1.0)):
        features = device_features(c).fit([headline])
        assert features.features_one(headline)[column] == expected * c.device_scale
    # No training rewrite holds a lexicon word, whichever half the model is given.
    data = LabelledSet("plain", [f"Council criticises budget for bridge number {i}"
                                 for i in range(300)], np.zeros(300, np.int64), np.zeros(300))
    lexicon = {f for e in load_behaviour().families["tabloid_verb"].lexicon for f in e.split("|")}
    c = replace(with_lexicon, augment_families=["tabloid_verb"], augment_bases=600)
    changed = [t for _, t, _, _ in counterfactual_pairs(data, c, c.augment_families)]
    assert changed and not any(f" {w} " in f" {t.lower()} " for t in changed for w in lexicon)


def test_templates_replace_the_final_punctuation() -> None:
    assert apply_template("SHOCKING: {h}", "Budget vote fails.") == "SHOCKING: Budget vote fails"
    assert apply_template("{h}!!!", "Budget vote fails?") == "Budget vote fails!!!"
    assert apply_template("This is why {h}", "Budget vote fails") == "This is why Budget vote fails"


def test_tabloid_verb_replaces_the_first_reporting_verb_in_its_tense() -> None:
    assert swap_verb("Senator criticises budget plan", REPORTING, "slams|slammed") == \
        "Senator slams budget plan"
    assert swap_verb("Senator criticised budget plan", REPORTING, "tears into|tore into") == \
        "Senator tore into budget plan"
    # The earliest verb in the headline wins, whatever the lexicon's order.
    assert swap_verb("Union rejects offer and criticises board", REPORTING, "slams|slammed") == \
        "Union slams offer and criticises board"
    assert swap_verb("Minister Responds To Critics", REPORTING, "lashes out at|lashed out at") == \
        "Minister Lashes Out At Critics"
    assert swap_verb("Council approves budget", REPORTING, "slams|slammed") is None
    assert swap_verb("Prerejects nothing", REPORTING, "slams|slammed") is None  # whole words only


def test_shouting_puts_exactly_the_asked_words_in_capitals() -> None:
    shouted = shout_words("Council approves budget for the new bridge.", 2, True, seed=3)
    assert shouted is not None and shouted.lower().endswith("bridge!")
    capitals = [w for w in shouted.rstrip("!").split() if w.isupper()]
    assert len(capitals) == 2
    assert shout_words("Council approves budget", 1, False, seed=0).count("!") == 0
    assert shout_words("EU and UN met", 1, True, seed=0) is None  # no ordinary word


def test_topic_swap_goes_both_ways_and_keeps_capitals() -> None:
    pairs = (("Obama", "Beyonce"), ("government", "band"))
    assert swap_topic("Obama signs water bill", pairs) == "Beyonce signs water bill"
    assert swap_topic("Beyonce signs water bill", pairs) == "Obama signs water bill"
    assert swap_topic("Government approves plan", pairs) == "Band approves plan"
    assert swap_topic("Obamacare vote delayed", pairs) is None


def test_rewrite_draws_from_the_half_asked_for() -> None:
    behaviour = load_behaviour()
    prefix = behaviour.families["prefix"]
    for seed in range(30):
        trained = rewrite("Budget vote fails", prefix, "train", seed)
        held = rewrite("Budget vote fails", prefix, "held_out", seed)
        assert any(trained == apply_template(t, "Budget vote fails") for t in prefix.train)
        assert any(held == apply_template(t, "Budget vote fails") for t in prefix.held_out)


def _neutral_set() -> LabelledSet:
    texts = ["Council criticises budget for the new bridge", "Obama signs water supply bill",
             "Court delays ruling on rail strike", "Minister outlines plans for school funding",
             "SHOCKING: you will not believe this"]
    labels = np.array([0, 0, 0, 0, 1])
    return LabelledSet("plain", texts, labels, labels.astype(float))


def test_counterfactual_pairs_use_neutral_bases_and_train_halves_only() -> None:
    behaviour = load_behaviour()
    config = replace(ModelConfig(), augment_families=[*behaviour.families, "topic", "shortened"],
                     augment_bases=100, augment_weight=0.5)
    data = _neutral_set()
    pairs = counterfactual_pairs(data, config, config.augment_families)
    assert pairs and pairs == counterfactual_pairs(data, config, config.augment_families)
    neutral = {t for t, y in zip(data.texts, data.labels) if y == 0}
    held_words = {"EXCLUSIVE", "STUNNING", "MUST SEE", "UNBELIEVABLE", "BOMBSHELL", "WATCH",
                  "eviscerat", "obliterat", "shredd", "demolish", "skewer", "mock",
                  "Taylor Swift", "Kardashian", "Kanye"}
    for plain, changed, label, family in pairs:
        assert plain in neutral
        assert changed != plain
        assert not any(w in changed for w in held_words), changed
        assert label == (0 if family in ("topic", "shortened") else 1)
    texts, ngram_texts, y, weight, _ = training_rows([data], config)
    assert ngram_texts == texts
    assert len(texts) == len(data) + 2 * len(pairs)
    assert np.all(weight[len(data):] == 0.5)
    assert y[len(data):len(data) + len(pairs)].sum() == 0  # the plain bases, labelled neutral


def test_named_only_rewrites_show_the_ngram_parts_their_plain_base() -> None:
    config = replace(ModelConfig(), augment_families=["prefix", "shouting"], augment_bases=100,
                     augment_weight=0.5, augment_named_only=["prefix"])
    data = _neutral_set()
    pairs = counterfactual_pairs(data, config, config.augment_families)
    texts, ngram_texts, _, _, _ = training_rows([data], config)
    rewrites = dict(zip(texts[len(data) + len(pairs):], ngram_texts[len(data) + len(pairs):]))
    for plain, changed, _, family in pairs:
        assert rewrites[changed] == (plain if family == "prefix" else changed)


def test_no_augmentation_leaves_the_training_rows_unchanged() -> None:
    data = _neutral_set()
    texts, ngram_texts, y, weight, _ = training_rows([data], ModelConfig())
    assert texts == ngram_texts == data.texts and list(y) == list(data.labels) and np.all(weight == 1.0)


def test_device_features_read_labels_runs_and_tabloid_verbs() -> None:
    devices = DeviceFeatures(tabloid_verbs=("slams", "lashes out at")).fit(
        ["the budget is exclusive news", "watch the launch", "NASA and the FBI meet"])
    assert devices.features_one("EXCLUSIVE: budget vote fails") == [1.0, 0.0, 0.0, 0.0]
    assert devices.features_one("NASA: rover finds water") == [0.0, 0.0, 0.0, 0.0]  # acronym
    assert devices.features_one("Exclusive: budget vote fails") == [0.0, 0.0, 0.0, 0.0]
    assert devices.features_one("Budget 2017: rates rise") == [0.0, 0.0, 0.0, 0.0]
    assert devices.features_one("Vote fails!!") == [0.0, 1.0, 0.0, 0.0]
    assert devices.features_one("Vote fails!") == [0.0, 0.0, 0.0, 0.0]
    assert devices.features_one("Senator Lashes Out At critics, slams aides")[2] == 2.0
    assert devices.features_one("Slamsung reports profits")[2] == 0.0
    assert devices.features_one("This Is Why the vote failed, and what comes next")[3] == 3.0
    assert devices.features_one("this is why the vote failed")[3] == 2.0  # casing is no device
    matrix = devices.transform(["WATCH - cat", "Vote fails"])
    assert matrix.shape == (2, 4) and matrix[0, 0] == 1.0



def test_wide_labels_read_symbols_hyphens_and_known_hype_words_in_any_case() -> None:
    corpus = ["the budget is exclusive news", "watch the launch", "NASA and the FBI meet",
              "OMG and LOL are acronyms here"]
    narrow = DeviceFeatures().fit(corpus)
    wide = DeviceFeatures(wide_labels=True, label_words=("omg", "shocking", "jaw-dropping",
                                                         "must", "breaking")).fit(corpus)
    for text in ("🚨 BREAKING: budget vote fails", "» EXCLUSIVE - budget vote fails",
                 "JAW-DROPPING: budget vote fails", "OMG: budget vote fails",
                 "Shocking: budget vote fails", "Jaw-dropping: budget vote fails",
                 "MUST-SEE: budget vote fails", "Breaking news: budget vote fails"):
        assert not narrow.hype_label(text) and wide.hype_label(text), text
    for text in ("EXCLUSIVE: budget vote fails", "WATCH - cat"):  # read alike by both
        assert narrow.hype_label(text) and wide.hype_label(text), text
    for text in ("NASA: rover finds water", "LOL: budget vote fails",  # acronyms, no hype word
                 "Watch: budget vote fails", "Analysis: the budget",  # format labels
                 "Budget 2017: rates rise", "3 SHOCKING: things", "Vote fails"):
        assert not narrow.hype_label(text) and not wide.hype_label(text), text
    assert wide.features_one("🚨 BREAKING: budget vote fails")[0] == 1.0
    # The model passes the option on with the phrasing features' hype words, which in the
    # model the suite measures (the default's suite twin) never hold a word of its held-out
    # prefixes.
    shapes_only = DeviceFeatures(wide_labels=True).fit(corpus)
    assert shapes_only.hype_label("🚨 BREAKING: budget vote fails")
    assert not shapes_only.hype_label("OMG: budget vote fails")
    words_only = DeviceFeatures(label_words=("omg",)).fit(corpus)  # the two options are apart
    assert words_only.hype_label("OMG: budget vote fails")
    assert not words_only.hype_label("🚨 OMG: budget vote fails")
    config = replace(suite_twin(ModelConfig.load()), device_wide_labels=True)
    devices = dict(build_pipeline(config).named_steps["features"].transformer_list)["devices"]
    assert devices.wide_labels and not devices.label_words
    config = replace(config, device_label_hype_words=True)
    devices = dict(build_pipeline(config).named_steps["features"].transformer_list)["devices"]
    assert devices.wide_labels and {"omg", "shocking", "breaking"} <= set(devices.label_words)
    assert set(devices.label_words).isdisjoint(load_behaviour().held_out_only_words())
    config = replace(config, device_wide_labels=False)
    devices = dict(build_pipeline(config).named_steps["features"].transformer_list)["devices"]
    assert not devices.wide_labels and "omg" in devices.label_words


def test_figurative_only_skips_literal_uses_of_a_tabloid_verb() -> None:
    verbs = ("slams", "slammed", "blasts", "rips", "destroys", "destroyed", "lashes out at")
    every = DeviceFeatures(tabloid_verbs=verbs).fit(["a vote"])
    figurative = DeviceFeatures(tabloid_verbs=verbs, figurative_only=True).fit(["a vote"])
    literal = ["Fire destroys a Social Security building in Brasilia",  # physical subject
               "7 Blasts Around Baghdad Kill at Least 24",  # a count: a noun
               "Bomb blasts in Pakistan kill fifty",
               "25 killed as explosion rips through a karaoke bar",  # a particle of motion
               "Home destroyed by fire in Geneva",  # the passive's agent is physical
               "Destroyed school to be rebuilt",  # no subject
               "World leaders respond to London blasts",  # a present form, nothing after it
               "Tornado slams northwest Arkansas, killing three"]
    aimed = ["Senate slams budget in 52-48 vote",
             "Trump slams 'sick people' over Russia intel",  # a quoted target
             "Trump slammed for attack on civil rights campaigner",  # a figurative passive
             "Plan slammed in new report",
             "Obama lashes out at Republicans",
             "A.M.A. Blasts Government-Sponsored Health Plan"]
    for headline in literal:
        assert every.features_one(headline)[2] == 1.0, headline
        assert figurative.features_one(headline)[2] == 0.0, headline
    for headline in aimed:
        assert figurative.features_one(headline)[2] == 1.0, headline
    assert figurative.features_one("Senator slams aides after blasts in Kabul")[2] == 1.0


def test_a_pickled_device_part_without_the_guard_counts_every_match() -> None:
    devices = DeviceFeatures(tabloid_verbs=("destroys",)).fit(["a vote"])
    del devices.__dict__["figurative_only"]  # as pickled before the parameter existed
    restored = pickle.loads(pickle.dumps(devices))
    assert restored.features_one("Fire destroys homes")[2] == 1.0


def test_run_suite_measures_every_family_and_set() -> None:
    behaviour = load_behaviour()
    bases = Bases(wire=["Council criticises budget for the new bridge",
                        "Obama signs water supply bill"],
                  posts=["Court delays ruling on rail strike in Washington"])

    def score(texts: list[str]) -> np.ndarray:  # sensational exactly when it has "!" or caps
        return np.array([0.9 if "!" in t or any(w.isupper() and len(w) > 3 for w in t.split())
                         else 0.1 for t in texts])

    report = run_suite(behaviour, bases, score, threshold=0.5)
    devices = report["devices"]
    assert set(devices) == set(behaviour.families)
    assert devices["exclamation"]["share_sensational"] == 1.0
    assert devices["exclamation"]["median_rise"] == pytest.approx(0.8)
    assert devices["tabloid_verb"]["n"] == 1  # only one base has a reporting verb
    assert report["false_positives"]["wire"] == {"n": 2, "rate": 0.0, "max": 0.02, "met": True}
    assert report["false_positives"]["short"]["n"] == 1
    assert report["topic"]["n"] == 1 and report["topic"]["median_abs_change"] == 0.0


def test_run_suite_scores_each_list_of_headlines_once() -> None:
    """The device rows, the false-positive sets and their breakdown share plain headlines:
    each model is asked for each distinct list once."""
    behaviour = load_behaviour()
    bases = Bases(wire=["Council criticises budget for the new bridge", "Mayor opens bridge"],
                  posts=["Court delays ruling on rail strike in Washington"])
    asked: dict[str, list[tuple[str, ...]]] = {"model": [], "twin": []}

    def counting(name: str) -> Score:
        def score(texts: list[str]) -> np.ndarray:
            asked[name].append(tuple(texts))
            return np.full(len(texts), 0.1)
        return score

    report = run_suite(behaviour, bases, counting("model"), 0.5, twin_score=counting("twin"),
                       columns=lambda texts: [() for _ in texts])
    for name, lists in asked.items():
        assert len(lists) == len(set(lists)), name
    # the plain headlines of the device rows are among them, asked once, and every figure holds
    assert asked["model"].count(tuple(bases.wire + bases.posts)) == 1
    assert report["false_positives"]["wire"]["rate"] == 0.0
    assert report["false_positive_devices"]["wire"]["flagged"] == 0


def test_flagged_plain_headlines_are_broken_down_by_the_device_they_carry() -> None:
    behaviour = load_behaviour()
    bases = Bases(wire=["JUST IN: council approves budget", "Council approves budget",
                        "Mayor opens the new bridge"],
                  posts=["Senator slams aides over budget", "Court delays ruling on strike",
                         "This is why the court delayed its ruling"])

    def score(texts: list[str]) -> np.ndarray:  # sensational: a label, "slams" or "Mayor"
        return np.array([0.9 if ":" in t or "slams" in t or "Mayor" in t else 0.1
                         for t in texts])

    def columns(texts: list[str]) -> list[tuple[str, ...]]:
        return [("hype label prefix",) if ":" in t else ("tabloid verb",) if "slams" in t
                else ("forward reference",) if t.startswith("This is why") else ()
                for t in texts]

    rows = flagged_device_rows(behaviour, bases, score, 0.5, columns)
    assert rows["wire"] == {"n": 3, "flagged": 2, "flagged_with_device": 1,
                            "by_column": {"hype label prefix": 1}, "n_without_device": 2,
                            "rate_without_device": 0.5}
    # the teaser post carries a device but is not flagged: it counts in neither figure
    assert rows["posts"] == {"n": 3, "flagged": 1, "flagged_with_device": 1,
                             "by_column": {"tabloid verb": 1}, "n_without_device": 1,
                             "rate_without_device": 0.0}
    report = run_suite(behaviour, bases, score, 0.5, columns=columns)
    assert report["false_positive_devices"] == rows
    assert "| posts | 1 of 3 | 1 | tabloid verb 1 | 0.0% (1) |" in markdown_tables(report)
    assert "false_positive_devices" not in run_suite(behaviour, bases, score, 0.5)


def test_the_device_columns_of_a_trained_model_name_the_devices_of_a_headline(
        models_root: Path) -> None:
    columns = device_columns_of(load_model(models_root / "current").pipeline)
    assert columns is not None
    labelled, plain = columns(["SHOCKING: council approves budget",
                               "Council approves budget"])
    assert "hype label prefix" in labelled
    assert plain == ()


def test_make_behaviour_writes_the_report(fixture_data: Path, models_root: Path,
                                          tmp_path: Path) -> None:
    text = BEHAVIOUR_PATH.read_text(encoding="utf-8")
    text = text.replace('wire = "chakraborty2016"', 'wire = "fixture-lines"')
    text = text.replace('posts = "webis-clickbait-17"', 'posts = "fixture-webis"')
    suite = tmp_path / "behaviour.toml"
    suite.write_text(text, encoding="utf-8")
    out = tmp_path / "reports"
    code = behaviour_main(["--model", str(models_root / "current"), "--reports-dir", str(out),
                           "--behaviour", str(suite), "--raw-dir", str(fixture_data / "raw"),
                           "--manifest", str(fixture_data / "datasets.json")])
    assert code == 0
    report = json.loads((out / "behaviour.json").read_text())
    assert set(report["devices"]) == {"prefix", "teaser", "exclamation", "tabloid_verb",
                                      "shouting"}
    assert report["bases"]["wire"] > 0 and report["bases"]["posts"] > 0
    assert all(row["n"] > 0 for name, row in report["devices"].items() if name != "tabloid_verb")
    markdown = (out / "behaviour.md").read_text()
    assert "| prefix: a hype label in front" in markdown
    assert "| plain neutral headlines |" in markdown


def test_second_stage_teaches_only_the_named_columns(fixture_data: Path) -> None:
    rows = make_headlines(60, seed=5)
    labels = np.array([y for _, y in rows])
    data = LabelledSet("plain", [t for t, _ in rows], labels, labels.astype(float))
    config = replace(ModelConfig.load(fixture_data / "model_config.toml"),
                     augment_families=[], augment_bases=60, augment_weight=1.0,
                     teach_families=["prefix", "exclamation"],
                     teach_columns=["hype label prefix", "exclamation run"],
                     dataset_weights={})
    taught = fit_pipeline([data], config)
    plain = fit_pipeline([data], replace(config, teach_families=[]))
    width = {name: part.transform(["x"]).shape[1]
             for name, part in taught.named_steps["features"].transformer_list}
    devices_start = sum(width[name] for name in ("word", "char", "style", "phrasing"))
    before, after = plain.named_steps["clf"].coef_[0], taught.named_steps["clf"].coef_[0]
    np.testing.assert_array_equal(before[:devices_start], after[:devices_start])
    np.testing.assert_array_equal(before[devices_start + 2:], after[devices_start + 2:])
    np.testing.assert_array_equal(plain.named_steps["clf"].intercept_,
                                  taught.named_steps["clf"].intercept_)
    label_run = after[devices_start:devices_start + 2] - before[devices_start:devices_start + 2]
    assert np.all(label_run > 0)  # "hype label prefix" and "exclamation run" now count
    neutral = "Court delays ruling on rail strike"
    for rewritten in ("ASTONISHING: Court delays ruling on rail strike",
                      "Court delays ruling on rail strike!!"):
        gain = np.diff(taught.decision_function([neutral, rewritten]))[0]
        assert gain > np.diff(plain.decision_function([neutral, rewritten]))[0]


def test_phrasing_without_lengths_keeps_its_shape_and_drops_only_lengths() -> None:
    with_lengths = PhrasingFeatures().features_one("Why you need this now")
    without = PhrasingFeatures(lengths=False).features_one("Why you need this now")
    assert len(without) == len(with_lengths) == len(PHRASING_FEATURES)
    length_columns = {"headline length (words)", "very short headline",
                      "headline length (characters)", "1 word", "2 words", "3 words",
                      "4-5 words", "6-7 words", "8-9 words", "10-12 words", "13-16 words",
                      "17+ words"}
    for name, a, b in zip(PHRASING_FEATURES, with_lengths, without):
        assert b == (0.0 if name in length_columns else a), name
    assert any(with_lengths[PHRASING_FEATURES.index(n)] for n in length_columns)


def test_the_shouting_column_needs_a_shouted_word_and_a_bang() -> None:
    corpus = ["the senate rejects the budget", "NASA and the FBI meet", "a vote in the senate"]
    four = DeviceFeatures().fit(corpus)
    five = DeviceFeatures(shouting_column=True).fit(corpus)
    assert four.names == DEVICE_FEATURES and len(DEVICE_FEATURES) == 4
    assert five.names == (*DEVICE_FEATURES, "shouting with '!'")
    for text, shouting in (("Senate REJECTS the budget!", 1.0),
                           ("Senate rejects the BUDGET !!!", 1.0),
                           ("Senate REJECTS the budget", 0.0),  # no "!"
                           ("Senate rejects the budget!", 0.0),  # nothing shouted
                           ("NASA and the FBI meet!", 0.0)):  # acronyms are no shouting
        row = five.features_one(text)
        assert row[:4] == four.features_one(text) and row[4] == shouting, text
    assert five.transform(["Senate REJECTS the budget!"]).shape == (1, 5)
    # The model passes the option on, and the scorer can name the column as a cue.
    pipeline = build_pipeline(replace(ModelConfig(), use_devices=True, use_phrasing=True,
                                      device_shouting_column=True,
                                      phrasing_leading_count_only=True))
    features = dict(pipeline.named_steps["features"].transformer_list)
    assert features["devices"].shouting_column and features["phrasing"].leading_count_only
    assert "shouting with '!'" in NAMED_CUES


def test_starts_with_a_number_can_count_only_a_leading_count() -> None:
    column = PHRASING_FEATURES.index("starts with a number")
    counts = ("21 things only 90s kids remember", "30 people die in bombing",
              '"17 photos" that went viral', "1,000 jobs cut at plant")
    not_counts = ("2016 was a banner year for research", "10-year-old takes car for a drive",
                  "60th anniversary of the end of the war", "22.2% of students drop out",
                  "17 % of shoppers never shop online", "$8,000 media center comes with a TV",
                  "72-hour ban on horse movements", "3.5 million visitors expected")
    any_number, count_only = PhrasingFeatures(), PhrasingFeatures(leading_count_only=True)
    for text in counts:
        assert any_number.features_one(text)[column] == 1.0, text
        assert count_only.features_one(text)[column] == 1.0, text
    for text in not_counts:
        assert any_number.features_one(text)[column] == 1.0, text
        assert count_only.features_one(text)[column] == 0.0, text
    for text in ("Budget vote fails", "Senate rejects budget in 52-48 vote"):
        assert count_only.features_one(text)[column] == 0.0, text
    # Only that column changes.
    for text in not_counts:
        a, b = any_number.features_one(text), count_only.features_one(text)
        assert [x for i, x in enumerate(a) if i != column] == \
            [x for i, x in enumerate(b) if i != column]


def test_a_count_of_casualties_or_arrests_can_read_as_news_not_a_listicle() -> None:
    column = PHRASING_FEATURES.index("starts with a number")
    news = ("14 killed in Russian bus-truck collision", "15 Die on Indian Train",
            "2 Flint ex-officials charged over tainted water", "1,100 evacuated due to fire",
            "13 Peruvian Troops Killed in Ambushes", "250 Feared Dead in Ferry Disaster")
    listicles = ("21 things only 90s kids remember", "18 Deliciously Decadent Desserts To Die For",
                 "14 Texts All Ride Or Die Friends Send", "10 celebrities who died too young",
                 "7 struggles of taking one more shot", "1,000 jobs cut at plant",
                 "12 people you meet at every wedding, and why they are dead serious")
    count_only = PhrasingFeatures(leading_count_only=True)
    news_aware = PhrasingFeatures(leading_count_only=True, casualty_counts_are_news=True)
    for text in news:
        assert count_only.features_one(text)[column] == 1.0, text
        assert news_aware.features_one(text)[column] == 0.0, text
    for text in listicles:
        assert news_aware.features_one(text)[column] == 1.0, text
    # A casualty word far from the count, or no leading number at all, changes nothing.
    for text in ("3 reasons the budget talks could end with everyone arrested",
                 "Police say 14 killed in crash"):
        assert news_aware.features_one(text) == count_only.features_one(text), text
    # Only that column changes; years and sums stay non-counts either way.
    for text in (*news, "2016 was deadly: 30 killed"):
        a, b = count_only.features_one(text), news_aware.features_one(text)
        assert [x for i, x in enumerate(a) if i != column] == \
            [x for i, x in enumerate(b) if i != column]
    assert news_aware.features_one("2016 was deadly: 30 killed")[column] == 0.0
    # The model passes the option on.
    pipeline = build_pipeline(replace(ModelConfig(), use_phrasing=True,
                                      phrasing_casualty_counts_are_news=True))
    assert dict(pipeline.named_steps["features"].transformer_list)[
        "phrasing"].casualty_counts_are_news


def test_names_are_learnt_from_sentence_case_headlines_only() -> None:
    texts = ["Police say Obama met the mayor", "Why Obama left early today",
             "Crowds greet Obama in the city", "Fans of obama-style politics return",
             "Obama Meets The Mayor In Town",  # Title Case: no evidence
             "Rain falls on the Mayor's garden party", "The mayor opens a new bridge",
             "Fans cheer as Rihanna lands", "Fans wait for Rihanna outside",
             "Everyone loves Rihanna now", "SHOCKING news about the MAYOR today"]
    names = learn_names(texts, min_count=3, min_share=0.9)
    assert "obama" not in names  # capitalised 3 times of 4 (0.75 < 0.9)
    assert learn_names(texts, min_count=3, min_share=0.7) >= {"obama"}
    assert "rihanna" in names
    assert "mayor" not in names and "police" not in names and "fans" not in names


def test_name_mask_hides_who_but_keeps_the_phrasing() -> None:
    mask = NameMask({"trump", "taylor", "swift"}, bounds=True)
    assert mask("Trump SLAMS critics!") == "xxstart xxname slams critics! xxend"
    assert mask("Taylor Swift's critics") == "xxstart xxname xxname's critics xxend"
    assert mask("Trumpcare stalls") == "xxstart trumpcare stalls xxend"
    plain = NameMask({"trump"})
    text = "Trump's aides deny Trump-era  rules"
    assert plain(text).split() == [w for token in text.split() for w in plain(token).split()]
    assert NameMask({"a", "b"}) == NameMask(["b", "a"]) and NameMask({"a"}) != NameMask({"a"}, True)


def test_a_model_with_names_masked_scores_the_same_phrasing_alike(fixture_data: Path) -> None:
    """Who a headline is about leaves the n-grams alone: with names masked, swapping one
    learnt name for another moves the score only through the named features."""
    rows = make_headlines(80, seed=7)
    people = ["Obama", "Beyonce", "Merkel", "Rihanna"]
    extra = [(f"{verb} {person} {tail}", y) for person in people
             for verb, tail, y in (("Crowds greet", "at the summit", 0),
                                   ("Reporters ask", "about the budget", 0),
                                   ("You won't believe what", "did next", 1))]
    texts = [t for t, _ in rows + extra]
    labels = np.array([y for _, y in rows + extra])
    data = LabelledSet("plain", texts, labels, labels.astype(float))
    config = replace(ModelConfig.load(fixture_data / "model_config.toml"), mask_names=True,
                     dataset_weights={})
    pipeline = fit_pipeline([data], config)
    for _, part in pipeline.named_steps["features"].transformer_list:
        if hasattr(part, "vocabulary_"):
            assert isinstance(part.preprocessor, NameMask)
            assert {"obama", "beyonce", "merkel", "rihanna"} <= part.preprocessor.names
            assert not any("obama" in term or "rihanna" in term for term in part.vocabulary_)
    swapped = [f"Lawmakers question {p} over the budget" for p in people]
    for _, part in pipeline.named_steps["features"].transformer_list:
        if hasattr(part, "vocabulary_"):  # n-gram rows: equal whoever is named
            rows_of = part.transform(swapped).toarray()
            np.testing.assert_array_equal(rows_of, np.repeat(rows_of[:1], len(people), axis=0))
    # Beyonce and Rihanna are names of one length: even the length features agree.
    scores = pipeline.decision_function(swapped)
    assert scores[1] == scores[3]
    unmasked = fit_pipeline([data], replace(config, mask_names=False)).decision_function(swapped)
    assert unmasked[1] != unmasked[3]


def test_each_family_gets_its_share_of_the_bases_it_can_rewrite() -> None:
    """A family's pairs come from the rows it applies to: tabloid verbs from the rows with a
    reporting verb, however few, each family up to augment_bases / len(families)."""
    rows = [f"Plain headline number {i} in the weather" for i in range(40)]
    rows += [f"Mayor criticises plan number {i}" for i in range(6)]
    data = LabelledSet("plain", rows, np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows)))
    config = replace(ModelConfig(), augment_bases=20)
    pairs = counterfactual_pairs(data, config, ["teaser", "tabloid_verb"])
    by_family = {f: [p for p in pairs if p[3] == f] for f in ("teaser", "tabloid_verb")}
    assert len(by_family["teaser"]) == 10
    assert len(by_family["tabloid_verb"]) == 6  # every row with a reporting verb, no more
    assert all("criticises" in plain for plain, _, _, _ in by_family["tabloid_verb"])
    short = counterfactual_pairs(data, config, ["shortened"])
    assert short and all(label == 0 and word_count(changed) <= 5
                         for _, changed, label, _ in short)


def test_shorten_cuts_before_a_joining_word_after_two_words() -> None:
    cut = load_behaviour().cut_before
    assert shorten("Senate rejects budget in 52-48 vote", cut, 5) == "Senate rejects budget"
    assert shorten("Man dies after fall from bridge", cut, 5) == "Man dies"
    assert shorten("Budget vote fails", cut, 5) is None
    assert shorten("In a surprise move the council resigns", cut, 5) is None


def test_second_stage_weighs_every_family_alike(fixture_data: Path) -> None:
    """A family with few pairs (tabloid verbs need a reporting verb) is taught as firmly
    beside a family with many pairs as beside one with as few: each family weighs the same."""
    rows = make_headlines(60, seed=5)
    labels = np.array([y for _, y in rows])
    texts = [t for t, _ in rows] + [f"Mayor criticises plan number {i}" for i in range(4)]
    labels = np.concatenate([labels, np.zeros(4, dtype=np.int64)])
    data = LabelledSet("plain", texts, labels, labels.astype(float))
    config = replace(ModelConfig.load(fixture_data / "model_config.toml"), use_devices=True,
                     augment_families=[], augment_bases=60, dataset_weights={},
                     teach_families=["prefix", "tabloid_verb"],
                     teach_columns=["hype label prefix", "tabloid verb"], teach_penalty=0.1)
    many = fit_pipeline([data], config)  # 30 prefix pairs, 4 tabloid-verb pairs
    few = fit_pipeline([data], replace(config, augment_bases=8))  # 4 and 4
    plain = fit_pipeline([data], replace(config, teach_families=[]))
    names = [str(n) for n in plain.named_steps["features"].get_feature_names_out()]
    column = names.index("devices__tabloid verb")
    gain = {name: p.named_steps["clf"].coef_[0, column] - plain.named_steps["clf"].coef_[0, column]
            for name, p in (("many", many), ("few", few))}
    assert gain["few"] > 0.5
    assert gain["many"] == pytest.approx(gain["few"], rel=1e-3)


def test_hype_words_column_can_leave_out_the_held_out_devices_words() -> None:
    behaviour = load_behaviour()
    left_out = behaviour.held_out_only_words()
    assert {"stunning", "bombshell", "obliterates"} <= left_out  # held-out prefix and verb
    assert not left_out & {"shocking", "breaking", "slams"}  # train-half words stay known
    full = PhrasingFeatures().fit(["a vote"])
    blind = PhrasingFeatures(hype_words_left_out=tuple(left_out)).fit(["a vote"])
    hype = PHRASING_FEATURES.index("hype words")
    assert full.features_one("STUNNING: vote fails")[hype] == 1.0
    assert blind.features_one("STUNNING: vote fails")[hype] == 0.0
    assert blind.features_one("SHOCKING: vote fails")[hype] == 1.0
    old = PhrasingFeatures()  # as pickled before the parameter existed: never fitted with it
    del old.__dict__["hype_words_left_out"]
    assert pickle.loads(pickle.dumps(old)).features_one("STUNNING: vote fails")[hype] == 1.0


def test_hype_words_can_leave_the_tabloid_verbs_to_the_device_column() -> None:
    # The device column counts a train-half tabloid verb only where it is figurative; left in
    # the hype-word list too, "Fire destroys homes" would still count there.
    verbs_only = ModelConfig(use_phrasing=True, hype_words_without_tabloid_verbs=True)
    assert {"slams", "slammed", "destroys", "destroyed", "blasts"} <= set(
        hype_words_left_out(verbs_only))
    assert "stunning" not in hype_words_left_out(verbs_only)  # held-out words: the other option
    assert not {"lashes out at", "lashes"} & set(hype_words_left_out(verbs_only))
    both = replace(verbs_only, hype_words_without_held_out=True)
    assert {"stunning", "slams"} <= set(hype_words_left_out(both))
    assert hype_words_left_out(ModelConfig(use_phrasing=True)) == ()
    hype = PHRASING_FEATURES.index("hype words")
    for config, expected in ((ModelConfig(use_phrasing=True), 1.0), (verbs_only, 0.0)):
        phrasing = dict(build_pipeline(config).named_steps["features"].transformer_list)["phrasing"]
        assert phrasing.fit(["a vote"]).features_one("Fire destroys homes")[hype] == expected


def test_rewrite_from_both_halves_draws_from_each_and_refuses_an_unknown_half() -> None:
    prefix = load_behaviour().families["prefix"]
    drawn = {rewrite("Budget vote fails", prefix, "both", seed) for seed in range(200)}
    assert drawn & {apply_template(t, "Budget vote fails") for t in prefix.train}
    assert drawn & {apply_template(t, "Budget vote fails") for t in prefix.held_out}
    with pytest.raises(ValueError, match="no half 'test'"):
        rewrite("Budget vote fails", prefix, "test", 1)


def test_teach_held_out_gives_the_model_both_halves_and_its_suite_twin_only_the_train_half(
) -> None:
    behaviour = load_behaviour()
    config = ModelConfig(use_phrasing=True, use_devices=True, hype_words_without_tabloid_verbs=True,
                         device_figurative_only=True, teach_held_out=True)
    twin = suite_twin(config)
    assert replace(twin, teach_held_out=True, hype_words_without_held_out=False) == config
    assert suite_twin(twin) == twin  # a model not taught the held-out halves is its own twin
    assert {"eviscerates", "slams"} <= set(device_features(config).tabloid_verbs)
    assert "slams" in device_features(twin).tabloid_verbs
    assert "eviscerates" not in device_features(twin).tabloid_verbs
    # The twin's hype-word list must not know the held-out devices' words, whatever the
    # shipped model's does; the tabloid verbs of both halves go to the device column.
    assert {"stunning", "eviscerates", "slams"} <= set(hype_words_left_out(twin))
    assert "stunning" not in hype_words_left_out(config)
    assert {"eviscerates", "slams"} <= set(hype_words_left_out(config))
    assert "stunning" in hype_words_left_out(replace(config, hype_words_without_held_out=True))
    data = LabelledSet("plain", [f"Council criticises budget for bridge number {i}"
                                 for i in range(300)], np.zeros(300, np.int64), np.zeros(300))
    held = {apply_template(t, "x").replace("x", "") for t in behaviour.families["prefix"].held_out}

    def prefixes(c: ModelConfig) -> set[str]:
        c = replace(c, augment_families=["prefix", "tabloid_verb"], augment_bases=600)
        return {changed.split(" Council")[0] + " " for _, changed, _, f in
                counterfactual_pairs(data, c, c.augment_families) if f == "prefix"}

    assert prefixes(config) & held and not prefixes(twin) & held


def test_run_suite_takes_the_held_out_rows_from_the_twin_and_the_rest_from_the_model() -> None:
    behaviour = load_behaviour()
    bases = Bases(wire=["Council criticises budget for the new bridge",
                        "Obama signs water supply bill"],
                  posts=["Court delays ruling on rail strike in Washington"])

    def shipped(texts: list[str]) -> np.ndarray:  # everything sensational
        return np.full(len(texts), 0.9)

    def twin(texts: list[str]) -> np.ndarray:  # nothing sensational
        return np.full(len(texts), 0.1)

    report = run_suite(behaviour, bases, shipped, threshold=0.5, twin_score=twin)
    assert all(row["share_sensational"] == 0.0 for row in report["devices"].values())
    # The lexicon part, of the verb family only, is measured on the twin too.
    assert list(report["devices_lexicon"]) == ["tabloid_verb"]
    assert report["devices_lexicon"]["tabloid_verb"]["n"] == 1
    assert report["devices_lexicon"]["tabloid_verb"]["share_sensational"] == 0.0
    assert all(row["share_sensational"] == 1.0 for row in report["devices_shipped"].values())
    assert all(row["share_sensational"] == 1.0
               for row in report["devices_train_half"].values())
    assert report["false_positives"]["wire"]["rate"] == 1.0
    assert report["false_positives_twin"]["wire"]["rate"] == 0.0
    markdown = markdown_tables(report)
    assert "held-out half, suite twin" in markdown and "held-out half, shipped model" in markdown
    assert "| wire | 2 | 100.0% | <= 2% | no | 0.0% |" in markdown
    alone = run_suite(behaviour, bases, shipped, threshold=0.5)
    assert "devices_shipped" not in alone and "false_positives_twin" not in alone
    assert "suite twin" not in markdown_tables(alone)


def test_a_model_taught_the_held_out_halves_ships_its_suite_twin(
        fixture_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "model_config.toml"
    config.write_text((fixture_data / "model_config.toml").read_text(encoding="utf-8")
                      .replace("teach_held_out = true\n", "")
                      .replace("use_devices = true\n", "use_devices = true\nteach_held_out = true\n"),
                      encoding="utf-8")
    models = tmp_path / "models"
    assert train_fixture_model(fixture_data, models, "--config", str(config)) == 0
    directory = (models / "current").resolve()
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["hyperparameters"]["teach_held_out"] is True
    twin_path = directory / TWIN_FILE
    assert manifest["suite_twin"]["file"] == TWIN_FILE
    assert manifest["suite_twin"]["sha256"] == sha256_of(twin_path)
    shipped, twin = load_model(directory).pipeline, joblib.load(twin_path)
    verbs = {name: dict(p.named_steps["features"].transformer_list)["devices"].tabloid_verbs
             for name, p in (("shipped", shipped), ("twin", twin))}
    assert "eviscerates" in verbs["shipped"] and "eviscerates" not in verbs["twin"]
    # Same calibration folded into both: a headline no device touches scores nearly alike.
    plain = ["Court delays ruling on rail strike", "Council approves budget for bridge"]
    np.testing.assert_allclose(shipped.predict_proba(plain)[:, 1],
                               twin.predict_proba(plain)[:, 1], atol=0.05)

    text = BEHAVIOUR_PATH.read_text(encoding="utf-8")
    text = text.replace('wire = "chakraborty2016"', 'wire = "fixture-lines"')
    text = text.replace('posts = "webis-clickbait-17"', 'posts = "fixture-webis"')
    suite = tmp_path / "behaviour.toml"
    suite.write_text(text, encoding="utf-8")
    arguments = ["--model", str(directory), "--reports-dir", str(tmp_path / "reports"),
                 "--behaviour", str(suite), "--raw-dir", str(fixture_data / "raw"),
                 "--manifest", str(fixture_data / "datasets.json")]
    assert behaviour_main(arguments) == 0
    report = json.loads((tmp_path / "reports" / "behaviour.json").read_text())
    assert set(report["devices_shipped"]) == set(report["devices"])
    assert "suite twin" in (tmp_path / "reports" / "behaviour.md").read_text()

    twin_path.write_bytes(twin_path.read_bytes()[:-10] + b"0123456789")
    capsys.readouterr()
    assert behaviour_main(arguments) == 1
    error = capsys.readouterr().err
    assert str(twin_path) in error and "does not match the manifest" in error
