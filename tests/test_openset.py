"""Open-set recognition: the metrics, the calibrated default of Gallery.decide, either-hand matching,
gallery compatibility and the ``crossglg-eval --open-set`` mode on the real data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from crossglg import openset
from crossglg.oneshot import UNKNOWN, Gallery
from crossglg.training.metrics import Episode

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "resources" / "starter_gallery"


def unit(*values):
    v = np.asarray(values, np.float32)
    return v / np.linalg.norm(v)


def write_calibration(path: Path, rule: str, level: float, either_hand: bool = False, prior: float = 0.2):
    levels = [-1.0, 0.0, 0.5, 1.0]
    curve = {"levels": levels, "known_accuracy": [0.9, 0.8, 0.6, 0.0], "rejection": [0.0, 0.2, 0.7, 1.0]}
    path.write_text(
        json.dumps(
            {
                "format": openset.CALIBRATION_FORMAT,
                "rule": rule,
                "level": level,
                "either_hand": either_hand,
                "prior": prior,
                "curves": {"off": curve, "on": curve},
            }
        )
    )
    return path


@pytest.fixture
def calibration(tmp_path, monkeypatch):
    """Point the library at a calibration file of the test's own."""

    def use(rule: str, level: float, **kw):
        path = write_calibration(tmp_path / f"cal_{rule}_{level}.json", rule, level, **kw)
        monkeypatch.setattr(openset, "CALIBRATION_FILE", path)
        return openset.load_calibration()

    return use


# ------------------------------------------------------------------------------------------ metrics


def test_auroc_on_hand_counted_pairs():
    # pairs won by the positives: 0.9 beats both, 0.8 both, 0.4 only 0.3 -> 5 of 6
    assert openset.auroc([0.9, 0.8, 0.4], [0.5, 0.3]) == pytest.approx(5 / 6)
    assert openset.auroc([0.5], [0.5]) == pytest.approx(0.5)  # a tie counts half
    assert openset.auroc([0.1, 0.2], [0.3, 0.4]) == pytest.approx(0.0)
    assert np.isnan(openset.auroc([0.1], []))


def test_rule_scores_on_hand_computed_values():
    sims = np.array([[0.9, 0.6, 0.1]])
    between = openset.gallery_similarities(np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 0, 1)]))
    mu = np.nanmean(between)  # pairs: cos 45 deg, 0, 0
    assert mu == pytest.approx(np.sqrt(0.5) / 3, abs=1e-6)
    expect = {
        "cosine": 0.9,
        "margin": 0.3,
        "ratio": 1 - 0.1 / 0.4,
        "shifted": 0.9 - mu,
        "normalised": (0.9 - mu) / (1 - mu),
        "nearest": (0.9 - np.sqrt(0.5)) / (1 - np.sqrt(0.5)),
    }
    for rule, value in expect.items():
        score, best = openset.decision_scores(sims, rule, between, prior=0.3)
        assert best.tolist() == [0] and score[0] == pytest.approx(value, abs=1e-6), rule
    # one enrolled class: the prior stands in for the runner-up and the inter-class cosine
    one = np.array([[0.8]])
    assert openset.decision_scores(one, "margin", None, prior=0.3)[0][0] == pytest.approx(0.5)
    assert openset.decision_scores(one, "normalised", None, prior=0.3)[0][0] == pytest.approx(0.5 / 0.7)
    with pytest.raises(ValueError, match="unknown open-set rule"):
        openset.decision_scores(sims, "magic", between)


def test_operating_point_and_curve_counts():
    sc = openset.OpenSetScores(
        "toy",
        known=np.array([True, True, True, True, False, False]),
        correct=np.array([True, True, False, True, False, False]),
        scores={"cosine": np.array([0.9, 0.7, 0.95, 0.4, 0.6, 0.3])},
    )
    point = sc.operating_point("cosine", 0.5)
    # known: 0.9 ok, 0.7 ok, 0.95 accepted but wrong class, 0.4 rejected -> 2 of 4; unknown: 0.3 rejected
    assert point == {"known_accuracy": 0.5, "rejection": 0.5, "known_wrong_label": 0.25}
    curve = sc.curve("cosine", np.array([0.0, 0.65, 1.0]))
    assert curve["known_accuracy"] == [0.75, 0.5, 0.0] and curve["rejection"] == [0.0, 1.0, 1.0]
    # 4 known x 2 unknown pairs, the known 0.4 loses to 0.6 only: 7/8
    assert sc.auroc("cosine") == pytest.approx(7 / 8)


def test_enrolment_subsets_are_all_combinations_or_seeded_draws():
    assert [s.tolist() for s in openset.enrolment_subsets(3, 2, 5, seed=0)] == [[0, 1], [0, 2], [1, 2]]
    a = openset.enrolment_subsets(10, 5, 5, seed=3)
    assert len({tuple(s) for s in a}) == 5 and all(len(s) == 5 for s in a)
    assert [s.tolist() for s in a] == [s.tolist() for s in openset.enrolment_subsets(10, 5, 5, seed=3)]
    with pytest.raises(ValueError):
        openset.enrolment_subsets(3, 3, 5, seed=0)


def test_score_open_set_on_separable_and_confusable_embeddings():
    # 3 classes, 3 subjects; class c lies along axis c, so everything is separable
    labels = np.repeat([0, 1, 2], 3)
    emb = np.eye(3, dtype=np.float32)[labels] + 0.05 * np.random.default_rng(0).normal(size=(9, 3))
    ep = Episode(np.array([0, 3, 6]), np.array([1, 2, 4, 5, 7, 8]))
    sc = openset.score_open_set("toy", emb, labels, [ep], fraction=0.5, subsets=5)
    assert sc.galleries == 3 and sc.enrolled == 2  # ceil(1.5) of 3 classes, all 3 subsets
    assert sc.known.sum() == 3 * 4 and (~sc.known).sum() == 3 * 2
    assert sc.operating_point("cosine", 0.5) == {
        "known_accuracy": 1.0,
        "rejection": 1.0,
        "known_wrong_label": 0.0,
    }
    assert sc.auroc("cosine") == pytest.approx(1.0)
    # the unknown class collapsed onto class 0: its queries can no longer be told apart
    emb2 = emb.copy()
    emb2[labels == 2] = emb[labels == 0]
    sc2 = openset.score_open_set("toy", emb2, labels, [ep], fraction=0.5, subsets=5)
    assert sc2.auroc("cosine") < 0.9 and sc2.operating_point("cosine", 0.5)["rejection"] < 1.0


def test_rest_examples_reject_the_queries_nearer_to_them_at_every_level():
    labels = np.repeat([0, 1], 3)
    emb = np.array([[1, 0, -0.2]] * 3 + [[0, 1, -0.2]] * 3, np.float32)
    emb[2] = [0.6, 0, 0.8]  # a quiet performance of class 0: nearer to rest than to its exemplar
    ep = Episode(np.array([0, 3]), np.array([1, 2, 4, 5]))
    rest = np.array([[0, 0, 1]], np.float32)

    def scores(**kw):
        return openset.score_open_set("toy", emb, labels, [ep], fraction=0.5, subsets=5, **kw)

    plain, vetoed = scores(), scores(background=rest)
    assert plain.operating_point("cosine", -1.0)["rejection"] == 0.0
    assert np.isneginf(vetoed.scores["cosine"]).sum() == 2  # query 2 in both one-class galleries
    # rejected even at level -1: the quiet query when class 1 alone is enrolled (1 of 4 unknown queries)
    assert vetoed.operating_point("cosine", -1.0)["rejection"] == 0.25
    far = scores(background=np.array([[-1, -1, 0]], np.float32))  # rest no query resembles: no change
    np.testing.assert_array_equal(far.scores["cosine"], plain.scores["cosine"])


# ---------------------------------------------------------------------- the calibrated default rule


def test_shipped_calibration_is_valid_and_chosen_on_validation():
    cal = openset.load_calibration()
    assert openset.CALIBRATION_FILE.is_file(), "crossglg/openset_calibration.json must ship"
    assert cal.rule in openset.RULES and cal.curves.keys() == {"off", "on"}
    assert "validation" in cal.meta["chosen_on"]
    chosen = [
        c for c in cal.meta["candidates"] if c["rule"] == cal.rule and c["either_hand"] == cal.either_hand
    ]
    assert (
        chosen
        and max(c["balanced_accuracy"] for c in cal.meta["candidates"]) == chosen[0]["balanced_accuracy"]
    )
    point = cal.tradeoff(chosen[0]["level"])
    assert point["known_accuracy"] == pytest.approx(chosen[0]["known_accuracy"], abs=1e-4)
    assert point["rejection"] == pytest.approx(chosen[0]["rejection"], abs=1e-4)
    stream = cal.meta.get("stream_level")
    if stream is None:  # the level of the open-set curves
        assert chosen[0]["level"] == cal.level
    else:  # re-chosen on the never-enrolled validation streams, starting from the curves' level
        assert stream["open_set_level"] == chosen[0]["level"] and stream["level"] == cal.level
        assert set(stream["msrc12_persons"]) <= {4, 5}, "MSRC-12 validation persons only"
        points = [(m, row["level"], v) for row in stream["table"] for m, v in row["per_model"].items()]
        assert openset.choose_stream_level(points, chosen[0]["level"])["level"] == cal.level
        live, stricter = cal.stream_tradeoff(), cal.stream_tradeoff(stream["table"][-1]["level"])
        assert live is not None and stricter is not None and cal.stream_tradeoff(0.99) is None
        assert (
            stricter["recall"] <= live["recall"] and stricter["stray_per_minute"] <= live["stray_per_minute"]
        )
    lo, hi = cal.level_range
    assert lo < cal.level < hi


def test_stream_level_prefers_the_higher_of_tied_levels_and_needs_every_model():
    # (model, level, score): "a" and "b" are two seeds, two galleries each
    points = [
        ("a", 0.7, 0.70),
        ("a", 0.7, 0.66),
        ("b", 0.7, 0.66),
        ("b", 0.7, 0.66),  # mean 0.67
        ("a", 0.74, 0.67),
        ("a", 0.74, 0.65),
        ("b", 0.74, 0.65),
        ("b", 0.74, 0.63),  # mean 0.65
        ("a", 0.78, 0.70),
        ("a", 0.78, 0.64),
        ("b", 0.78, 0.66),
        ("b", 0.78, 0.64),  # 0.66: tied, higher
    ]
    choice = openset.choose_stream_level(points, current=0.74)
    assert choice["candidate"] == 0.78 and choice["moved"] and choice["level"] == 0.78
    assert [r["level"] for r in choice["table"]] == [0.7, 0.74, 0.78]
    assert choice["table"][0]["score"] == pytest.approx(0.67)
    assert choice["table"][2]["per_model"] == pytest.approx({"a": 0.67, "b": 0.65})
    # the best level must beat the current one on every model, not on the mean alone
    one_seed = [(m, lvl, v + (0.1 if m == "a" and lvl == 0.78 else 0.0)) for m, lvl, v in points]
    one_seed = [(m, lvl, v - (0.03 if m == "b" and lvl == 0.78 else 0.0)) for m, lvl, v in one_seed]
    choice = openset.choose_stream_level(one_seed, current=0.74)
    assert choice["candidate"] == 0.78 and not choice["moved"] and choice["level"] == 0.74
    with pytest.raises(ValueError, match="level 0.78 was measured for"):
        openset.choose_stream_level([p for p in points if not (p[0] == "b" and p[1] == 0.78)], 0.74)
    with pytest.raises(ValueError, match="current level 0.5 was not measured"):
        openset.choose_stream_level(points, current=0.5)


def test_decide_without_arguments_uses_the_calibrated_rule(calibration):
    g = Gallery(dim=3)
    g.add("a", unit(1, 0, 0))
    g.add("b", unit(0, 1, 0))
    query = unit(1, 0.3, 0.5)  # cosine 0.86 to "a": known under cosine >= 0.5
    assert g.decide(query, threshold=0.5).label == "a"
    cal = calibration("cosine", 0.9)
    d = g.decide(query)
    assert d.label == UNKNOWN and d.rule == "cosine" and d.level == 0.9
    assert d.score == pytest.approx(float(unit(1, 0.3, 0.5)[0]))
    assert g.decide(unit(1, 0.1, 0)).label == "a"  # cosine 0.995
    # a relative rule: the gallery's classes are orthogonal (mu = 0), so normalised = cosine here ...
    calibration("normalised", 0.9)
    assert g.decide(query).rule_score == pytest.approx(d.score, abs=1e-6)
    # ... and a crowded gallery (mu > 0) raises the bar for the same cosine
    g.add("c", unit(1, 1, 0))
    assert g.decide(query).rule_score < d.score
    assert cal.tradeoff(0.5) == {
        "rule": "cosine",
        "level": 0.5,
        "either_hand": False,
        "with_rest": False,
        "known_accuracy": 0.6,
        "rejection": 0.7,
    }


def test_explicit_arguments_override_the_calibration(calibration):
    calibration("cosine", 0.95)
    g = Gallery(dim=3)
    g.add("a", unit(1, 0, 0))
    g.add("b", unit(0, 1, 0))
    query = unit(1, 0.3, 0.5)
    assert g.decide(query).label == UNKNOWN
    assert g.decide(query, level=0.5).label == "a" and g.decide(query, level=0.5).level == 0.5
    legacy = g.decide(query, threshold=0.5)
    assert legacy.label == "a" and legacy.rule == "cosine" and legacy.level == 0.5
    assert g.decide(unit(1, 0.95, 0), margin=0.1).label == UNKNOWN  # margin alone: threshold 0.5
    with pytest.raises(ValueError, match="either level"):
        g.decide(query, threshold=0.5, level=0.5)
    assert Gallery(dim=3).decide(query).label == UNKNOWN
    # the trade-off the UI shows moves with the level: stricter never rejects less
    lo, hi = g.tradeoff(0.0), g.tradeoff(0.75)
    assert hi["rejection"] >= lo["rejection"] and hi["known_accuracy"] <= lo["known_accuracy"]
    assert lo == {
        "rule": "cosine",
        "level": 0.0,
        "either_hand": g.either_hand,
        "with_rest": False,
        "known_accuracy": 0.8,
        "rejection": 0.2,
    }


# --------------------------------------------------------------------- galleries: either hand, files


def test_old_gallery_loads_with_the_default_setting():
    cal = openset.load_calibration()
    g = Gallery.load(STARTER)
    assert g.either_hand == cal.either_hand
    assert not np.any(g.mirrored_prototypes())  # an old gallery has no mirrored embeddings
    d = g.decide(g.embeddings(g.classes[0])[0])
    assert d.top[0][0] == g.classes[0] and d.rule == cal.rule and d.level == cal.level


def test_gallery_file_records_either_hand_and_mirrors(tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(STARTER, folder)
    meta = json.loads((folder / "gallery.json").read_text())
    meta.pop("either_hand", None)  # as written before the option existed
    meta["files"].pop("mirrored", None)
    for cls in meta["classes"]:
        for exemplar in cls["exemplars"]:
            exemplar.pop("has_mirror", None)
    (folder / "gallery.json").write_text(json.dumps(meta))
    g = Gallery.load(folder)
    assert g.either_hand == openset.load_calibration().either_hand  # the default
    g.either_hand = not openset.load_calibration().either_hand
    name = g.classes[0]
    g.add(name, unit(*np.ones(g.dim)), mirrored=unit(*np.arange(1, g.dim + 1)))
    again = Gallery.load(g.save(folder))
    assert again.either_hand == g.either_hand
    meta = json.loads((folder / "gallery.json").read_text())
    assert meta["either_hand"] == g.either_hand and (folder / meta["files"]["mirrored"]).is_file()
    np.testing.assert_allclose(again.mirrored_prototypes()[0], unit(*np.arange(1, g.dim + 1)), atol=1e-6)
    assert not np.any(again.mirrored_prototypes()[1:])
    meta["either_hand"] = "yes"
    (folder / "gallery.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="either_hand"):
        Gallery.load(folder)


@pytest.fixture(scope="module")
def one_arm_window(data_root):
    from crossglg.data import load_dataset
    from crossglg.skeleton import make_window

    samples = load_dataset("msr_action3d", data_root, on_missing=lambda _: None)
    wave = next(s for s in samples if s.label == 0)  # "high arm wave": one arm
    kick = next(s for s in samples if s.label == 13)  # "forward kick"
    return make_window(wave), make_window(kick)


def test_either_hand_matches_the_mirror_of_a_real_exemplar(one_arm_window, tmp_path):
    from crossglg.oneshot import Embedder
    from crossglg.skeleton.augment import mirror

    wave, kick = one_arm_window
    embedder = Embedder()  # the shipped default model
    left_wave = embedder.embed(mirror(wave))[0]  # the same wave with the other arm
    g = Gallery(embedder.dim, embedder.model_hash, either_hand=False)
    g.add("high arm wave", embedder.embed(wave), wave[None])
    g.add("forward kick", embedder.embed(kick), kick[None])
    off = dict(g.rank(left_wave))["high arm wave"]
    assert off < 0.99  # the model does tell the mirror from the original
    assert g.embed_mirrors(embedder) == 2 and g.embed_mirrors(embedder) == 0
    assert dict(g.rank(left_wave))["high arm wave"] == pytest.approx(off, abs=1e-6)  # still off
    g.either_hand = True
    on = g.decide(left_wave, level=0.99)
    assert on.label == "high arm wave" and on.score == pytest.approx(1.0, abs=1e-5)
    # the original still matches itself, and the setting and mirrors survive a save / load
    assert g.decide(embedder.embed(wave)[0], level=0.99).label == "high arm wave"
    again = Gallery.load(g.save(tmp_path / "g"))
    assert again.either_hand and again.decide(left_wave, level=0.99).label == "high arm wave"
    assert again.reembed(embedder).decide(left_wave, level=0.99).label == "high arm wave"


# ------------------------------------------------------------------------------------------ the CLI


def test_open_set_eval_mode_on_the_real_data(data_root, tmp_path):
    from train.evaluate import main

    out = tmp_path / "openset"
    config = str(REPO / "train/configs/kinect_msrc12_msr_stgcn_full.toml")
    rc = main(
        [config, "--raw", "--draws", "2", "--out", str(out), "--open-set", "--data-root", str(data_root)]
    )
    assert rc == 0 and (out / "openset.png").stat().st_size > 10_000
    report = json.loads((out / "openset.json").read_text())
    splits = {name: e["split"] for name, e in report["sets"].items()}
    assert splits == {
        "val_msr_action3d": "validation",
        "val_msrc12": "validation",
        "val_pooled": "validation",
        "msr_action3d": "novel",
        "utkinect": "novel",
        "florence": "novel",
    }
    ut = report["sets"]["utkinect"]["off"]
    assert ut["enrolled_classes"] == 5 and ut["galleries"] == 2 * 5
    for rule in openset.RULES:
        curve = ut["rules"][rule]["curve"]
        assert np.all(np.diff(curve["rejection"]) >= 0) and np.all(np.diff(curve["known_accuracy"]) <= 0)
        assert 0.0 <= ut["rules"][rule]["auroc"] <= 1.0
    # the legacy point lies on the cosine curve at level 0.5
    i = ut["rules"]["cosine"]["curve"]["levels"].index(0.5)
    cosine = ut["rules"]["cosine"]["curve"]
    assert ut["legacy"]["rejection"] == pytest.approx(cosine["rejection"][i], abs=1e-4)
    cal = openset.select_calibration([report])
    assert cal["rule"] in openset.RULES and len(cal["meta"]["candidates"]) == 2 * len(openset.RULES)


def test_open_set_eval_scores_with_the_models_rest_examples_as_the_app_does(data_root, tmp_path):
    from crossglg.checkpoint import DEFAULT_CHECKPOINT, read_no_action
    from train.evaluate import main

    config = str(REPO / "train/configs/kinect_msrc12_msr_stgcn_full.toml")
    reports = {}
    rest = read_no_action(DEFAULT_CHECKPOINT)
    assert rest is not None
    for mode in ("model", "off"):
        out = tmp_path / mode
        args = [config, "--checkpoint", "default", "--draws", "1", "--out", str(out), "--open-set"]
        assert main([*args, "--no-figures", "--data-root", str(data_root), "--no-action", mode]) == 0
        reports[mode] = json.loads((out / "openset.json").read_text())
    assert reports["model"]["no_action_examples"] == len(rest) and reports["off"]["no_action_examples"] == 0
    vetoed = 0
    for name, entry in reports["model"]["sets"].items():
        for point in ("default", "legacy"):  # the calibrated level and the lower legacy cosine 0.5
            with_rest, without = entry["off"][point], reports["off"]["sets"][name]["off"][point]
            # rest examples can only turn answers into "unknown"
            assert with_rest["rejection"] >= without["rejection"]
            assert with_rest["known_accuracy"] <= without["known_accuracy"]
            vetoed += with_rest["rejection"] > without["rejection"]
    assert vetoed > 0  # and on real data they do (at the calibrated level nearly all are rejected already)
    # the rest curves of a calibration come from such reports only; the choice itself is kept
    target = tmp_path / "calibration.json"
    target.write_bytes(openset.CALIBRATION_FILE.read_bytes())
    assert (
        openset.main(["rest-curves", str(tmp_path / "off/openset.json"), "--calibration", str(target)]) == 2
    )
    assert (
        openset.main(["rest-curves", str(tmp_path / "model/openset.json"), "--calibration", str(target)]) == 0
    )
    shipped, updated = openset.load_calibration(), openset.load_calibration(target)
    assert (updated.rule, updated.level, updated.curves) == (shipped.rule, shipped.level, shipped.curves)
    point = updated.tradeoff(rest=True)
    assert point["with_rest"] and not updated.tradeoff()["with_rest"]
    assert updated.meta["rest_reports"][0]["no_action_examples"] == len(rest)
    assert 0.0 <= point["known_accuracy"] <= 1.0 and 0.0 <= point["rejection"] <= 1.0


def test_stream_level_sets_the_level_from_real_never_enrolled_stream_reports(data_root, tmp_path, capsys):
    """bench_streaming.py --msrc12-enrol on a validation person at two levels -> stream-level writes the
    level its rule picks, the table the Settings dialog reads, and refuses a report without the measure."""
    import subprocess
    import sys

    reports = []
    for level in ("0.66", "0.74"):  # 0.74: the level of the open-set curves, where the choice starts
        out = tmp_path / f"enrol_{level}.json"
        args = "--sets msrc12 --msrc12-persons 4 --msrc12-per-person 4 --msrc12-enrol 6 -q".split()
        subprocess.run(
            [sys.executable, str(REPO / "benchmarks/bench_streaming.py"), *args, "--threshold", level,
             "--data", str(data_root), "--out", str(out)],
            check=True, cwd=REPO, capture_output=True, timeout=600,
        )  # fmt: skip
        reports.append(out)
    target = tmp_path / "calibration.json"
    target.write_bytes(openset.CALIBRATION_FILE.read_bytes())
    assert openset.main(["stream-level", *map(str, reports), "--calibration", str(target)]) == 0
    cal = openset.load_calibration(target)
    stream = cal.meta["stream_level"]
    assert [row["level"] for row in stream["table"]] == [0.66, 0.74] and stream["msrc12_persons"] == [4]
    points = [(m, row["level"], v) for row in stream["table"] for m, v in row["per_model"].items()]
    assert cal.level == openset.choose_stream_level(points, 0.74)["level"] == stream["level"]
    looser, stricter = (cal.stream_tradeoff(row["level"]) for row in stream["table"])
    assert looser is not None and stricter is not None and looser["recall"] >= stricter["recall"]
    # a report measured without --msrc12-enrol is refused, naming the file and the field
    plain = json.loads(reports[0].read_text())
    plain["results"]["msrc12"]["never_enrolled"] = None
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    assert openset.main(["stream-level", str(tmp_path / "plain.json"), "--calibration", str(target)]) == 2
    assert "plain.json: field 'results.msrc12.never_enrolled' is empty" in capsys.readouterr().err
    # a report from before the per-class lists (confusions) still counts; one without its counts does not
    old = json.loads(reports[0].read_text())
    for key in ("latencies_s", "per_class", "confusions"):
        del old["results"]["msrc12"]["total"][key]
    (tmp_path / "old.json").write_text(json.dumps(old))
    both = ["stream-level", str(tmp_path / "old.json"), str(reports[1]), "--calibration", str(target)]
    assert openset.main(both) == 0
    del old["results"]["msrc12"]["total"]["fires"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert openset.main(["stream-level", str(tmp_path / "old.json"), "--calibration", str(target)]) == 2
    assert "old.json: field 'results.msrc12.total.fires' is missing" in capsys.readouterr().err
