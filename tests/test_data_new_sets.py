"""The four sets of issue 14 (Kinder-Gator, NW-UCLA, GTU3DActions, PRECOG) on the real files in
../shared/data: counts, labels, time, degenerate clips, and which side moves (docs/skeleton.md, "Left and
right: the evidence")."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import numpy as np
import pytest

from crossglg.data import (
    DegenerateSequenceError,
    PrecogStream,
    SkipReport,
    class_names,
    load_dataset,
    read_file,
    readers,
)
from crossglg.skeleton import NTU25, get_layout, make_window

I = NTU25.index
NEW_SETS = ("kinder_gator", "nw_ucla", "gtu3d", "precog")
SIDES = ("left", "right")


@pytest.fixture(scope="module")
def loaded(data_root):
    sets, reports = {}, {}
    for name in NEW_SETS:
        reports[name] = []
        sets[name] = load_dataset(name, data_root, on_missing=reports[name].append)
    return sets, reports


def windows(samples) -> np.ndarray:
    """Canonical windows (N, 3, T, 25) of the main body."""
    return np.stack([make_window(s)[..., 0] for s in samples])


def travel(w: np.ndarray, joint: str) -> np.ndarray:
    """Path length of a joint over each window (N,)."""
    return np.abs(np.diff(w[:, :, :, I(joint)], axis=2)).sum(axis=(1, 2))


def right_moves_more(samples, limb: str) -> np.ndarray:
    w = windows(samples)
    return travel(w, f"right {limb}") > travel(w, f"left {limb}")


def first_side(x: np.ndarray, threshold: float) -> str:
    """'L' / 'R': the side (canonical +x = the subject's left) a coordinate first leaves its start by
    ``threshold`` metres, '-' if it never does."""
    moved = np.flatnonzero(np.abs(x - x[0]) > threshold)
    return "-" if moved.size == 0 else "L" if x[moved[0]] > x[0] else "R"


def lean_sides(samples, threshold: float = 0.08) -> str:
    """First sideways lean of each sample: the shoulder centre leaving the line above the hips."""
    w = windows(samples)
    return "".join(first_side(b[0, :, I("spine shoulder")] - b[0, :, I("spine base")], threshold) for b in w)


def of_class(samples, label: int) -> list:
    return [s for s in samples if s.label == label]


# --- counts, labels, time -------------------------------------------------------------------------------


def test_kinder_gator(loaded, data_root):
    sets, reports = loaded
    kg = sets["kinder_gator"]
    assert len(kg) == 1159 and {s.dataset for s in kg} == {"kinder_gator"}
    per_class = Counter(s.label for s in kg)
    assert len(per_class) == 58 and per_class[17] == 19 and set(per_class.values()) == {19, 20}
    assert class_names("kinder_gator")[18] == "jump as high as you can"
    per_subject = Counter(s.subject for s in kg)
    assert len(per_subject) == 20 and per_subject[565] == 57 and set(per_subject.values()) == {57, 58}
    assert Counter(s.meta["group"] for s in kg) == {"adult": 579, "child": 580}
    assert [str(r) for r in reports["kinder_gator"]] == [
        f"{data_root / 'kinder_gator' / 'Adults'}: p565's 'Jump-as-high-as-you-can' recording is missing; "
        "skipped"
    ]
    missing = reports["kinder_gator"][0]
    assert isinstance(missing, SkipReport) and missing.reason == "file missing"
    for s in kg:
        assert s.joints.shape[2:] == (20, 3) and s.layout == "kinect_v1" and s.timestamps[0] == 0
        assert np.all(np.diff(s.timestamps) > 0) and s.label_name == class_names("kinder_gator")[s.label + 1]
    steps = np.concatenate([np.diff(s.timestamps) for s in kg])
    assert 0.031 < np.median(steps) < 0.034  # about 30 frames a second, Timestamp in milliseconds
    assert sum(s.meta["duplicate_frames_dropped"] for s in kg) == 88
    # the file strings that differ from the readable names
    by_motion = {s.meta["motion"]: s.label_name for s in kg}
    assert by_motion["Climb-and-imaginary-ladder"] == "climb an imaginary ladder"
    assert by_motion["Throw-a-ball-"] == "throw a ball"
    assert by_motion["Make-the-letter-A"] == "make the letter A with your body"
    assert by_motion["Do-two-jumping-jacks"] == "do two jumping jacks"
    assert (
        by_motion["Swipe-across-an-imaginary-screen-in-front-of-you-from-left-to-right"]
        == "swipe across an imaginary screen from left to right"
    )
    # the table is the alphabetical order of the file strings, as the TSV was built
    assert list(readers.KINDER_GATOR_MOTIONS.values()) == list(range(1, 59))
    assert list(readers.KINDER_GATOR_MOTIONS) == sorted(readers.KINDER_GATOR_MOTIONS)


def test_kinder_gator_known_file_and_cache(loaded, data_root):
    path = data_root / "kinder_gator" / "Adults" / "POSE-p565_01-Raise-your-hand-1469182402284.csv"
    seq = read_file(path)
    assert seq.label == 40 and seq.label_name == "raise your hand" and seq.subject == 565
    assert seq.meta["order"] == 1 and seq.meta["group"] == "adult" and seq.meta["handedness"] == "R"
    np.testing.assert_allclose(seq.joints[0, 0, 0], [0.01861399, 0.1514646, 3.326527], atol=1e-6)
    np.testing.assert_allclose(seq.timestamps[:3], [0.0, 0.0360021, 0.0680039], atol=1e-7)
    assert seq.meta["clock_start_s"] == pytest.approx(36794.4716016)
    cached = next(s for s in loaded[0]["kinder_gator"] if s.source == str(path))  # through the .npz cache
    np.testing.assert_array_equal(cached.joints, seq.joints)
    np.testing.assert_array_equal(cached.timestamps, seq.timestamps)
    assert cached.meta == seq.meta and cached.label_name == seq.label_name


def test_nw_ucla(loaded, data_root):
    sets, reports = loaded
    nw = sets["nw_ucla"]
    assert len(nw) == 1473 and len(reports["nw_ucla"]) == 11
    assert {r.reason for r in reports["nw_ucla"]} == {"fewer than 11 frames"}
    assert min(s.num_frames for s in nw) == readers.NW_UCLA_MIN_FRAMES == 11
    counts = Counter(s.label for s in nw)
    assert counts == {0: 149, 1: 148, 2: 139, 3: 173, 4: 148, 5: 148, 7: 142, 8: 142, 10: 142, 11: 142}
    assert {s.label + 1 for s in nw} == set(readers.NW_UCLA_ACTIONS) == set(class_names("nw_ucla"))
    assert {s.subject for s in nw} == set(range(1, 11)) and {s.meta["view"] for s in nw} == {1, 2, 3}
    first = read_file(data_root / "nw_ucla" / "all_sqe" / "a01_s01_e00_v01.json")
    assert first.label_name == "pick up with one hand" and first.meta == {"view": 1, "repetition": 0}
    np.testing.assert_allclose(first.joints[0, 0, 0], [-0.619699, 0.328046, 3.18186], atol=1e-6)
    with pytest.raises(DegenerateSequenceError, match=r"a02_s09_e04_v02.json: 1 frame\(s\): shorter") as err:
        read_file(data_root / "nw_ucla" / "all_sqe" / "a02_s09_e04_v02.json")
    assert err.value.reason == "fewer than 11 frames"
    six = readers.read_nw_ucla(data_root / "nw_ucla" / "all_sqe" / "a01_s10_e00_v03.json", min_frames=1)
    assert six.num_frames == 6


def test_gtu3d_folders_match_the_readme_counts(loaded, data_root):
    """The loader README numbers classes in the lexicographic order of the folder names; under that order
    every folder holds exactly the README's count for its class."""
    folder = data_root / "gtu3d"
    readme = (folder / "README_from_loader_repo.md").read_text()
    listed = re.findall(r"^\s*(\d+)\.\s+(.+?)\s+\((\d+)\)", readme, re.MULTILINE)
    assert [int(k) for k, _, _ in listed] == list(range(1, 15))
    lexicographic = sorted(p.name for p in folder.iterdir() if p.is_dir())
    for (k, name, count), folder_name in zip(listed, lexicographic, strict=True):
        assert readers.GTU3D_FOLDER_CLASS[folder_name] == int(k), name
        assert (
            len(list((folder / folder_name).glob("movement*.txt")))
            == int(count)
            == readers.GTU3D_CLASS_FILES[int(k)]
        ), name
    sets, reports = loaded
    gtu = sets["gtu3d"]
    assert len(gtu) == 508 and reports["gtu3d"] == [] and {s.subject for s in gtu} == {-1}
    assert Counter(s.label + 1 for s in gtu) == readers.GTU3D_CLASS_FILES
    assert all(s.layout == "ntu25" and s.joints.shape[2:] == (25, 3) and s.num_frames >= 16 for s in gtu)
    first = read_file(folder / "1" / "movement1.txt")
    assert first.label == 0 and first.label_name == "open and close the arms" and first.num_frames == 71
    np.testing.assert_allclose(first.joints[0, 0, 0], [-0.130878, -0.0607637, 2.32628], atol=1e-6)


PRECOG_SCRIPT_ORDER = {
    1: [1, 2, 5, 6, 3],
    2: [1, 6, 2, 5, 3],
    3: [1, 4, 6, 7, 3],
    4: [7, 2, 5, 6, 4],
    5: [7, 5, 1, 4, 6],
    6: [7, 5, 3, 8, 6],
}  # class ids, as PRECOG_DATASET.pptx lists them


def test_precog_segments_and_streams(loaded, data_root):
    sets, reports = loaded
    segments = sets["precog"]
    assert len(segments) == 350
    assert sorted(r.source.rsplit("/", 1)[-1] for r in reports["precog"]) == ["Seq2_10.csv", "Seq4_10.csv"]
    assert Counter(s.label for s in segments) == {0: 47, 1: 34, 2: 47, 3: 35, 4: 58, 5: 70, 6: 47, 7: 12}
    assert {s.subject for s in segments} == set(range(1, 13))
    assert min(s.num_frames for s in segments) >= 7
    for path in sorted((data_root / "precog" / "CSV").glob("Seq*.csv")):
        if path.name in ("Seq2_10.csv", "Seq4_10.csv"):
            with pytest.raises(readers.EmptySkeletonError, match="no frame holds a skeleton"):
                readers.read_precog_stream(path)
            continue
        stream = readers.read_precog_stream(path)
        assert isinstance(stream, PrecogStream) and stream.fps == 30.0
        whole = stream.sequence
        assert whole.label == -1 and stream.frame_labels.shape == (whole.num_frames,)
        np.testing.assert_allclose(whole.timestamps, np.arange(whole.num_frames) / 30.0)
        assert [e.label + 1 for e in stream.events] == PRECOG_SCRIPT_ORDER[stream.script]
        cut = readers.read_precog_segments(path)
        assert len(cut) == len(stream.events) == 5
        for event, segment in zip(stream.events, cut, strict=True):
            assert (segment.label, segment.label_name) == (event.label, event.label_name)
            frames = (segment.meta["start_frame"], segment.meta["end_frame"])
            assert frames == (event.start_frame, event.end_frame)
            assert segment.timestamps[0] == event.start_s and segment.timestamps[-1] == event.end_s
            inside = stream.frame_labels[event.start_frame : event.end_frame + 1]
            assert set(inside) <= {0, event.label + 1} and (inside == event.label + 1).mean() > 0.7
            assert stream.label_at((event.start_s + event.end_s) / 2) == event.label
        labelled = np.zeros_like(stream.frame_labels)
        for event in stream.events:
            labelled[event.start_frame : event.end_frame + 1] = event.label + 1
        assert np.all(labelled[stream.frame_labels > 0] == stream.frame_labels[stream.frame_labels > 0])
    # the only split runs: merged across their 1-8 unlabelled frames
    split = readers.read_precog_stream(data_root / "precog" / "CSV" / "Seq1_10.csv")
    runs = [(e.label + 1, e.start_frame, e.end_frame) for e in split.events]
    assert runs[1:3] == [(2, 38, 67), (5, 68, 103)]
    assert split.label_at(0.0) == -1


def test_read_file_detects_the_new_formats_by_name_and_content(data_root, tmp_path):
    kg = next((data_root / "kinder_gator" / "Children").glob("POSE-p103_*-Raise-your-hand-*.csv"))
    renamed = tmp_path / "recording.csv"
    shutil.copy(kg, renamed)
    by_content = read_file(renamed)
    assert by_content.dataset == "kinder_gator" and by_content.subject == 103
    assert by_content.meta["order"] == -1
    np.testing.assert_array_equal(by_content.joints, read_file(kg).joints)
    precog = tmp_path / "take.csv"
    shutil.copy(data_root / "precog" / "CSV" / "Seq1_1.csv", precog)
    got = read_file(precog)
    assert isinstance(got, list) and [s.label for s in got] == [0, 1, 4, 5, 2] and got[0].subject == -1
    nw = tmp_path / "clip.json"
    shutil.copy(data_root / "nw_ucla" / "all_sqe" / "a11_s03_e00_v02.json", nw)
    renamed_clip = read_file(nw)  # recognised by content, the clip by its "file_name" field
    assert renamed_clip.label_name == "throw" and (renamed_clip.subject, renamed_clip.meta["view"]) == (3, 2)
    assert read_file(data_root / "gtu3d" / "10" / "movement1.txt").dataset == "gtu3d"
    with pytest.raises(ValueError, match="Kinder-Gator .*NW-UCLA .*GTU3D .*PRECOG"):
        read_file(data_root / "gtu3d" / "README_from_loader_repo.md")


# --- left and right -------------------------------------------------------------------------------------


def test_sensor_frames_are_right_handed_with_anatomical_names(loaded):
    """(left hip - right hip) x spine points the way the feet point (and toward the sensor), so with
    anatomical names each set's frame is right-handed; in the canonical frame the feet point +z."""
    spine_ends = {"kinect_v1": ("hip center", "shoulder center"), "ntu25": ("spine base", "spine shoulder")}
    sets, _ = loaded
    for name, samples in sets.items():
        j = get_layout(samples[0].layout).index
        base, top = spine_ends[samples[0].layout]
        agree, toward_sensor = [], []
        for sample in samples[::3]:
            body = sample.joints[0].astype(np.float64)
            body = body[np.any(body != 0, axis=(1, 2))]
            facing = np.cross(
                body[:, j("left hip")] - body[:, j("right hip")], body[:, j(top)] - body[:, j(base)]
            ).mean(0)
            feet = sum((body[:, j(f"{side} foot")] - body[:, j(f"{side} ankle")]).mean(0) for side in SIDES)
            feet[1] = 0.0
            agree.append(facing @ feet > 0)
            toward_sensor.append(facing[2] < 0)
        assert np.mean(agree) > 0.95 and np.mean(toward_sensor) > 0.99, name
        w = windows(samples[::3])
        assert ((w[:, 2, :, I("left foot")] - w[:, 2, :, I("left ankle")]).mean(1) > 0).mean() > 0.9, name


def test_kinder_gator_sides_follow_the_instructions_and_handedness(loaded):
    """'raise your hand' and 'raise your other hand' (wave, kick, throw likewise) use opposite limbs, the
    first one the dominant side: right for the right-handed, left for adult 921 (left-handed) when
    throwing. Leaning 'to the side' the right-handed lean right first."""
    kg = loaded[0]["kinder_gator"]
    subjects = sorted({s.subject for s in kg})

    def sides(class_id: int, limb: str) -> dict[int, bool]:
        samples = of_class(kg, class_id - 1)
        return dict(zip([s.subject for s in samples], right_moves_more(samples, limb), strict=True))

    for first, other, limb, opposite_at_least in [
        (41, 42, "wrist", 16),
        (57, 58, "wrist", 16),
        (50, 53, "wrist", 15),
        (51, 52, "wrist", 15),
        (19, 22, "ankle", 18),
        (20, 21, "ankle", 18),
    ]:
        a, b = sides(first, limb), sides(other, limb)
        assert sum(a[s] != b[s] for s in subjects if s in a and s in b) >= opposite_at_least, (first, other)
    handedness = readers.KINDER_GATOR_ADULTS | readers.KINDER_GATOR_CHILDREN
    right_handed = {s for s in subjects if handedness[s] == "R"}
    for throw in (50, 51):
        thrown = sides(throw, "wrist")
        assert sum(thrown[s] for s in right_handed) >= 15 and not thrown[921]  # 921 throws left
    leaning = of_class(kg, 36)  # "put your hands on your hips and lean to the side"
    first = dict(zip([s.subject for s in leaning], lean_sides(leaning), strict=True))
    assert sum(first[s] == "R" for s in right_handed) >= 14 and first[921] == "L"


def test_precog_punches_and_kicks_use_the_named_limb(loaded):
    segments = loaded[0]["precog"]
    named = [
        (0, "wrist", True),
        (1, "wrist", False),
        (2, "ankle", True),
        (3, "ankle", False),
        (4, "ankle", True),
        (5, "ankle", False),
    ]  # right/left punch, front and side right/left kicks
    for label, limb, right in named:
        share = right_moves_more(of_class(segments, label), limb).mean()
        assert (share > 0.85) if right else (share < 0.15), (label, share)


def test_gtu3d_sides(loaded):
    """The files are plain Kinect v2 camera space with anatomical names: both 'right and left' exercises
    start to the subject's right (as their names and, for leaning, right-handedness say), so the loader
    README's 'right-handed shaking' folder, where the left wrist shakes, is named from the viewer's side and
    the TSV names classes by the limb that moves."""
    gtu = loaded[0]["gtu3d"]
    names = class_names("gtu3d")
    for class_id, limb, side in [
        (7, "wrist", "right"),
        (2, "wrist", "left"),
        (5, "ankle", "right"),
        (6, "ankle", "left"),
    ]:
        moved = right_moves_more(of_class(gtu, class_id - 1), limb)
        assert moved.all() if side == "right" else not moved.any(), names[class_id]
        assert re.match(rf"({side}-handed|bend the {side} leg)", names[class_id])
    assert Counter(lean_sides(of_class(gtu, 2)))["R"] >= 34  # waist stretch: 36 of 42 bend right first
    steps = windows(of_class(gtu, 12))  # eight-step motion
    assert "".join(first_side(w[0, :, I("spine base")], 0.2) for w in steps) == "R" * 26


def test_nw_ucla_one_hand_pick_up_leans_right(loaded):
    """No NW-UCLA class names a side; in the one-hand pick-ups where one wrist clearly reaches lower
    (10 cm), it is more often the right one, unlike the two-hand pick-ups."""
    nw = loaded[0]["nw_ucla"]

    def lower(label):
        w = windows(of_class(nw, label))
        d = w[:, 1, :, I("right wrist")].min(1) - w[:, 1, :, I("left wrist")].min(1)
        return int((d < -0.1).sum()), int((d > 0.1).sum())

    right, left = lower(0)
    assert right > 1.4 * left
    right2, left2 = lower(1)
    assert right2 < left2
