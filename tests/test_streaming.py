"""Event-level scoring of a live recogniser on a continuous recording (crossglg.streaming)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crossglg.streaming import Event, Fire, fires, score_stream

REPO = Path(__file__).resolve().parents[1]


def test_fires_are_label_changes_to_a_class():
    shown = [
        (0.0, "no person"),
        (0.2, "unknown"),
        (0.4, "kick"),
        (0.6, "kick"),
        (0.8, "unknown"),
        (1.0, "kick"),
        (1.2, "punch"),
        (1.4, "punch"),
    ]
    assert fires(shown) == [Fire("kick", 0.4), Fire("kick", 1.0), Fire("punch", 1.2)]


def test_score_counts_detections_doubles_and_false_labels():
    events = [Event("kick", 2.0, 3.0), Event("punch", 6.0, 7.0), Event("kick", 10.0, 11.0)]
    fired = [
        Fire("kick", 2.8),
        Fire("kick", 3.5),  # detected early (-0.2 s), then a double fire
        Fire("kick", 6.5),  # wrong class during the punch: a false label, not in idle time
        Fire("punch", 7.3),  # detected 0.3 s after the end
        Fire("punch", 9.0),
    ]  # idle time: a false label there
    score = score_stream(events, fired, (0.0, 60.0), tolerance_s=1.0)
    assert (score.detected, score.double_fires, score.false_labels, score.false_in_no_action) == (2, 1, 2, 1)
    assert score.recall == pytest.approx(2 / 3) and score.precision == pytest.approx(2 / 5)
    assert score.latencies_s == pytest.approx([-0.2, 0.3])
    assert score.no_action_s == pytest.approx(60.0 - 3 * 2.0)
    assert score.false_per_minute == pytest.approx(1 / (54 / 60))
    assert score.per_class == {"kick": [2, 1], "punch": [1, 1]}  # the second kick was never named
    assert score.confusions == {"punch -> kick": 1}  # the wrong name shown during the punch
    # 3 labels shown while the person did something never enrolled: precision 2 / 8, recall 2 / 3
    assert score.open_set_f1(3) == pytest.approx(2 * (2 / 8) * (2 / 3) / (2 / 8 + 2 / 3))
    assert score.open_set_f1(0) == pytest.approx(score.f1)
    total = score + score + score_stream([Event("wave", 1.0, 2.0)], [], (0.0, 5.0))
    assert total.events == 7 and total.per_class == {"kick": [4, 2], "punch": [2, 2], "wave": [1, 0]}
    assert total.confusions == {"punch -> kick": 2}
    back_to_back = score_stream(
        [Event("kick", 0.0, 1.0), Event("punch", 1.2, 2.0)],
        [Fire("wave", 1.5), Fire("wave", 2.5)],
        (0.0, 9.0),
    )
    assert back_to_back.confusions == {"punch -> wave": 2}  # during the punch, then just after it


def test_labels_just_before_an_action_are_counted_apart_from_rest():
    """A gesture repeated back to back begins before its annotated start; a label there is an onset label."""
    events = [Event("wind it up", 10.0, 12.0), Event("wind it up", 14.0, 16.0)]
    fired = [
        Fire("goggles", 3.0),  # rest: 7 s before any start
        Fire("goggles", 9.4),  # 0.6 s before the first start
        Fire("goggles", 13.5),  # after the first one's tolerance, 0.5 s before the second
        Fire("wind it up", 14.2),
    ]
    score = score_stream(events, fired, (0.0, 30.0), tolerance_s=1.0, lead_s=1.0)
    assert (score.false_labels, score.false_in_no_action, score.detected) == (3, 3, 1)
    assert score.onset_labels == {"wind it up -> goggles": 2} and score.rest_labels == {"goggles": 1}
    assert score.no_action_s == pytest.approx(30.0 - 6.0)
    assert score.rest_s == pytest.approx(30.0 - 6.0 - 1.0 - 1.0)  # the two leads [9, 10] and [13, 14]
    assert score.false_per_minute == pytest.approx(3 / (24 / 60))  # the figure targets are judged on
    assert score.rest_false_per_minute == pytest.approx(1 / (22 / 60))
    total = score + score
    assert total.onset_labels == {"wind it up -> goggles": 4} and total.rest_s == pytest.approx(44.0)
    assert total.rest_labels == {"goggles": 2}
    assert total.rest_false_per_minute == pytest.approx(score.rest_false_per_minute)
    # an action at the recording's start has no lead inside it
    early = score_stream([Event("kick", 0.5, 1.0)], [Fire("punch", 0.2)], (0.0, 5.0))
    assert early.onset_labels == {"kick -> punch": 1} and early.rest_s == pytest.approx(5.0 - 2.0)
    assert early.rest_labels == {} and early.rest_false_per_minute == 0.0


def test_read_stream_gives_whole_recordings_where_read_file_gives_cuts(data_root, tmp_path):
    """PRECOG and MSRC-12: read_file cuts labelled actions, read_stream keeps the whole recording (every
    frame, the reader's clock); other formats are read_file's one sequence; --format overrides detection."""
    from crossglg.data import read_file
    from crossglg.data.readers import read_msrc12_csv, read_precog_stream
    from crossglg.streaming import STREAM_FORMATS, read_stream

    precog = data_root / "precog" / "CSV" / "Seq1_2.csv"
    (whole,) = read_stream(precog)
    stream = read_precog_stream(precog)
    assert isinstance(read_file(precog), list) and whole.num_frames == stream.sequence.num_frames == 260
    assert np.array_equal(whole.joints, stream.sequence.joints)
    assert whole.timestamps[-1] == pytest.approx(259 / 30)
    renamed = tmp_path / "recording.dat"
    renamed.write_bytes(precog.read_bytes())
    assert read_stream(renamed, "precog")[0].num_frames == 260

    csv = sorted((data_root / "msrc12").glob("*_p01.csv"))[0]
    (session,) = read_stream(csv)
    times, joints = read_msrc12_csv(csv)
    assert session.layout == "kinect_v1" and session.subject == 1
    assert np.array_equal(session.timestamps, times)
    assert np.array_equal(session.joints[0], joints.astype(np.float32))

    ntu = data_root / "ntu" / "S001C001P001R001A001.skeleton"
    assert read_stream(ntu)[0].joints.shape == read_file(ntu).joints.shape
    with pytest.raises(ValueError, match="unknown skeleton format 'bvh'; known: session, precog"):
        read_stream(ntu, "bvh")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_stream(tmp_path / "absent.csv")
    assert "session" in STREAM_FORMATS


def test_ground_truth_events_of_the_two_continuous_sets(data_root):
    from crossglg.data.readers import MSRC12_AFTER_S, MSRC12_BEFORE_S, read_msrc12_tags, read_precog_stream
    from crossglg.streaming import msrc12_events, precog_events

    stream = read_precog_stream(data_root / "precog" / "CSV" / "Seq1_2.csv")
    events = precog_events(stream)
    assert len(events) == 5 and all(e.end > e.start for e in events)
    assert [e.label for e in events] == [e.label_name for e in stream.events]
    tags = read_msrc12_tags(sorted((data_root / "msrc12").glob("*_p01.tagstream"))[0])
    events = msrc12_events(tags, {g: f"G{g}" for g in range(1, 13)})
    assert len(events) == len(tags) and events[0].label == f"G{tags[0][1]}"
    assert events[0].start == pytest.approx(tags[0][0] - MSRC12_BEFORE_S)
    assert events[0].end == pytest.approx(tags[0][0] + MSRC12_AFTER_S)


def test_msrc12_no_action_stretches_avoid_every_action(data_root):
    from crossglg.data.readers import (
        MSRC12_AFTER_S,
        MSRC12_BEFORE_S,
        NO_ACTION,
        read_msrc12_no_action,
        read_msrc12_tags,
    )

    csv = sorted((data_root / "msrc12").glob("*_p01.csv"))[0]
    tags = read_msrc12_tags(csv.with_suffix(".tagstream"))
    stretches = read_msrc12_no_action(csv, 20, np.random.default_rng(0))
    assert 15 <= len(stretches) <= 20 and {s.label_name for s in stretches} == {NO_ACTION}
    for s in stretches:
        start, end = s.meta["start_s"], s.meta["end_s"]
        assert 1.25 <= end - start <= 2.0 and start <= s.timestamps[0] < s.timestamps[-1] <= end
        assert all(end <= t - MSRC12_BEFORE_S or start >= t + MSRC12_AFTER_S for t, _ in tags)
    again = read_msrc12_no_action(csv, 20, np.random.default_rng(0))
    assert [s.meta for s in again] == [s.meta for s in stretches]


def test_msrc12_no_action_skips_stretches_where_nobody_is_in_view(data_root):
    from crossglg.data.readers import read_msrc12_no_action
    from crossglg.skeleton.window import make_window

    csv = data_root / "msrc12" / "P2_1_6_p03.csv"  # the person leaves the view for a while
    stretches = read_msrc12_no_action(csv, 100, np.random.default_rng(0))
    assert 0 < len(stretches) < 100  # the draws that fell where nobody is tracked are dropped
    for s in stretches:
        assert make_window(s).any()  # each has a body to train on


@pytest.mark.parametrize("spread", ["one", "sessions"])
def test_streaming_benchmark_enrols_several_examples_per_gesture(data_root, tmp_path, spread):
    """--msrc12-examples N: N action points of the other person per gesture, as a user who records a
    gesture N times, in a row (one session) or on different occasions (in turn from each session of it
    that the person has); the replay runs as with one."""
    import subprocess
    import sys

    from crossglg.data.readers import MSRC_NAME, class_names

    out = tmp_path / "three.json"
    args = "--sets msrc12 --msrc12-persons 4 --msrc12-per-person 1 --msrc12-examples 3 -q".split()
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_streaming.py"), *args, "--data", str(data_root),
         "--out", str(out), "--msrc12-examples-from", spread],
        check=True, cwd=REPO, capture_output=True, timeout=600,
    )  # fmt: skip
    result = json.loads(out.read_text())["results"]["msrc12"]
    assert result["examples_per_gesture"] == 3 and result["examples_from"] == spread
    assert result["total"]["events"] > 0
    person5 = [MSRC_NAME.search(csv.name) for csv in (data_root / "msrc12").glob("*_p05.csv")]
    sessions = {name: sum(int(m.group(3)) == g for m in person5) for g, name in class_names("msrc12").items()}
    sources = result["gallery_sources"]["4"]
    assert len(sources) == 12
    for gesture, source in sources.items():
        points = source.split(", ")
        files = {p.split("@")[0] for p in points}
        assert len(points) == 3 == len(set(points))
        assert len(files) == (1 if spread == "one" else min(3, sessions[gesture]))
        assert all("_p05.csv@" in p for p in points)  # person 4's gallery comes from person 5
    if spread == "sessions":
        assert max(sessions.values()) > 1  # some gestures really were drawn from two sessions


def test_benchmark_counts_left_right_twin_confusions_only(load_benchmark):
    bench = load_benchmark("bench_streaming")
    total = {
        "per_class": {c: [1, 0] for c in ("front left kick", "front right kick", "push right", "wave")},
        "confusions": {
            "front left kick -> front right kick": 3,  # the twin
            "front right kick -> front left kick": 2,  # the twin
            "front left kick -> wave": 4,
            "push right -> wave": 5,  # a sided class without a twin
        },
    }
    assert bench.twin_confusions(total) == 5


def test_benchmark_tells_unknowns_that_look_like_rest_from_the_others(load_benchmark):
    from demo.live import NO_PERSON, UNKNOWN, Prediction

    bench = load_benchmark("bench_streaming")
    events = [Event("punch", 1.0, 2.0)]
    predictions = [
        Prediction(1.2, "punch", 0.9, [("punch", 0.9)], rest=0.5),
        Prediction(1.4, UNKNOWN, 0.6, [("punch", 0.6)], rest=0.7),  # a rest example is closer
        Prediction(1.6, UNKNOWN, 0.6, [("kick", 0.6)], rest=0.6),  # a tie is rest too (Gallery.decide)
        Prediction(1.8, UNKNOWN, 0.5, [("punch", 0.5)], rest=0.3),  # below the level, not rest
        Prediction(2.2, UNKNOWN, 0.5, [("punch", 0.5)]),  # no rest examples at all
        Prediction(5.0, UNKNOWN, 0.4, [("punch", 0.4)], rest=0.9),  # no-action time
        Prediction(6.0, NO_PERSON, 0.0),
    ]
    counts = bench._decision_counts(predictions, events)
    assert counts["event_unknown"] == 4 and counts["event_unknown_rest"] == 2
    assert (counts["event_right"], counts["idle_unknown"], counts["no_person"]) == (1, 1, 1)


def test_recording_interval_draws_the_same_recordings_for_both_models(load_benchmark):
    bench = load_benchmark("bench_streaming")
    base = {0: {"set": [["a", 10, 10, 5], ["b", 10, 10, 5], ["c", 10, 10, 5]]}}  # F1 0.5 on each
    better = {0: {"set": [["a", 10, 10, 8], ["b", 10, 10, 7], ["c", 10, 10, 9]]}}  # 0.7 to 0.9
    low, high = bench.recording_interval(better, base, [0])
    assert 0.2 - 1e-9 <= low < 0.3 < high <= 0.4 + 1e-9  # the full sample's difference, 0.3, inside
    assert bench.recording_interval(base, base, [0]) == [0.0, 0.0]
    assert bench.recording_interval(base, None, [0]) == [0.5, 0.5]  # a model's own F1, no baseline
    low, high = bench.recording_interval(better, None, [0])
    assert 0.7 - 1e-9 <= low < 0.8 < high <= 0.9 + 1e-9
    assert bench.recording_interval(better, base, [1]) is None  # a draw one side did not replay
    with pytest.raises(ValueError, match="different recordings"):
        bench.recording_interval({0: {"set": [["x", 10, 10, 5]] * 3}}, base, [0])


def test_streaming_benchmark_with_the_persons_own_examples(data_root, tmp_path):
    """--exemplar-from own: each recording's gallery comes from the same person's other recordings (PRECOG:
    another subject's only for a class none of them has, and counted; MSRC-12: a session whose gesture the
    person recorded only once is left out and listed), never from the recording replayed."""
    import re
    import subprocess
    import sys

    from crossglg.data.readers import MSRC_NAME

    out = tmp_path / "own.json"
    args = "--sets precog,msrc12 --precog-exemplar segment --part val --msrc12-persons 4 -q".split()
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_streaming.py"), *args, "--data", str(data_root),
         "--out", str(out), "--exemplar-from", "own", "--msrc12-per-person", "4"],
        check=True, cwd=REPO, capture_output=True, timeout=600,
    )  # fmt: skip
    results = json.loads(out.read_text())["results"]
    precog, msrc12 = results["precog (segment)"], results["msrc12"]
    assert precog["exemplar_from"] == msrc12["exemplar_from"] == "own"
    subject = re.compile(r"Seq\d+_(\d+)\.csv")
    replayed = {row["file"] for row in precog["per_recording"]}
    assert set(precog["gallery_sources"]) == replayed
    borrowed = 0
    for file, sources in precog["gallery_sources"].items():
        assert len(sources) == 8
        for source in sources.values():
            name = source.split("@")[0]
            assert name != file  # never the recording replayed
            borrowed += subject.match(name).group(1) != subject.match(file).group(1)
    assert borrowed == precog["examples_from_another_person"] < len(replayed) * 8 / 4
    person4 = [MSRC_NAME.search(csv.name) for csv in (data_root / "msrc12").glob("*_p04.csv")]
    recorded = {g: sum(int(m.group(3)) == g for m in person4) for g in {int(m.group(3)) for m in person4}}
    scored = {row["file"] for row in msrc12["per_recording"]}
    assert scored and set(msrc12["gallery_sources"]) == scored
    for file in scored | set(msrc12["sessions_without_own_example"]):
        gesture = int(MSRC_NAME.search(file).group(3))
        assert (file in scored) == (recorded[gesture] > 1)  # left out exactly where no other session exists
    for file, sources in msrc12["gallery_sources"].items():
        assert len(sources) == 12
        assert all("_p04.csv@" in s and not s.startswith(file + "@") for s in sources.values())


def test_streaming_benchmark_over_gallery_draws(data_root, tmp_path, load_benchmark):
    """--draws N replays with N seeded galleries and reports each draw, their mean and range; the tables
    and ``results`` stay the first draw's, and --baseline pairs two reports draw by draw."""
    import subprocess
    import sys

    out = tmp_path / "draws.json"
    args = "--sets msrc12 --msrc12-persons 4 --msrc12-per-person 1 --seed 3 --draws 2 -q".split()
    run = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_streaming.py"), *args, "--data", str(data_root),
         "--out", str(out)],
        check=True, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads(out.read_text())
    summary = report["draw_summary"]
    assert summary["seeds"] == [3, 4] and sorted(report["draws"]) == ["3", "4"]
    assert report["draws"]["3"]["msrc12"] == report["results"]["msrc12"]["total"]
    f1 = summary["sets"]["msrc12"]["f1"]
    assert f1["per_draw"] == [report["draws"][k]["msrc12"]["f1"] for k in ("3", "4")]
    assert f1["min"] <= f1["mean"] <= f1["max"] and summary["mean_f1"]["per_draw"] == f1["per_draw"]
    assert "over gallery draws [3, 4]" in run.stdout

    bench = load_benchmark("bench_streaming")
    itself = bench.paired(report, report)
    assert itself["differences"] == [0.0, 0.0] and itself["recording_interval_95"] == [0.0, 0.0]
    assert report["draw_recordings"]["3"] == bench.recording_counts(report["results"])
    low, high = report["recording_interval_95"]
    assert low <= summary["mean_f1"]["mean"] <= high and "95 % over recordings drawn again" in run.stdout
    # a report of one draw pairs by its seed
    one_draw = {
        "part": report["part"],
        "seed": 4,
        "results": {"msrc12": {"total": report["draws"]["4"]["msrc12"]}},
    }
    pair = bench.paired(report, one_draw)
    assert pair["seeds"] == [4] and pair["differences"] == [0.0] and pair["higher_in"] == 0
    with pytest.raises(ValueError, match="no gallery draw in common"):
        bench.paired(report, {**one_draw, "seed": 9})
    with pytest.raises(ValueError, match="not comparable"):
        bench.paired(report, {**one_draw, "part": "test"})
    other = tmp_path / "test_half.json"
    other.write_text(json.dumps({**one_draw, "part": "test"}))
    refused = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_streaming.py"), "--baseline", str(other),
         "--part", "val"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "replayed part 'test', not 'val'" in refused.stderr  # before replaying


def test_benchmark_table_has_a_heading_over_every_column(load_benchmark):
    bench = load_benchmark("bench_streaming")
    total = {"events": 3, "precision": 0.5, "recall": 1.0, "f1": 0.667, "double_fires": 1}
    total |= {
        "false_per_minute": 2.0,
        "rest_false_per_minute": 1.0,
        "latency_p50_s": -0.2,
        "latency_p95_s": None,
    }
    head, rule, row = bench.table(
        {"msrc12": {"total": total, "compute_ms_p50": 3.0, "compute_ms_p95": 4.0}}
    ).split("\n")
    assert len(head) == len(rule) == len(row)
    assert head.split()[-10:] == [
        "false/min",
        "rest/min",
        "lat",
        "p50",
        "lat",
        "p95",
        "ms",
        "p50",
        "ms",
        "p95",
    ]
    assert row.split()[-6:] == ["2.00", "1.00", "-0.20", "-", "3.0", "4.0"]


@pytest.mark.parametrize("either_hand", [True, False])
def test_benchmark_gallery_embeds_mirrors_only_with_either_hand(data_root, load_benchmark, either_hand):
    """--either-hand: the benchmark's galleries match mirrors as the app's do, which needs every
    exemplar's mirrored embedding; without it none is computed."""
    from crossglg.data import read_file
    from crossglg.oneshot import Embedder
    from crossglg.skeleton import make_window
    from crossglg.skeleton.augment import mirror

    bench = load_benchmark("bench_streaming")
    embedder = Embedder()
    window = make_window(read_file(data_root / "ntu" / "S001C001P001R001A001.skeleton"))
    setup = bench.Setup(embedder, settings=None, either_hand=either_hand)
    gallery = bench._gallery(setup, {"drink": window}, {"drink": "ntu"})
    assert gallery.either_hand is either_hand
    prototypes = gallery.mirrored_prototypes()
    if either_hand:
        np.testing.assert_allclose(prototypes[0], embedder.embed(mirror(window))[0], atol=1e-5)
    else:
        assert not np.any(prototypes)
