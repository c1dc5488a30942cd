"""Malformed input gives an error naming the file and the line, never a silently wrong array."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest

from crossglg.data import EmptySkeletonError, SkeletonFormatError, SkeletonSequence, load_dataset, read_file
from crossglg.data.readers import read_kinetics_json, read_utkinect_labels


def _ntu_text(frames: int = 2, joints: int = 25) -> list[str]:
    lines = [str(frames)]
    for _ in range(frames):
        lines += ["1", "72057594037931101 0 1 1 1 1 0 0.02 0.05 2", str(joints)]
        lines += ["0.1 0.2 3.0 277.4 191.8 1036.2 519.1 -0.2 0.05 0.96 -0.12 2"] * joints
    return lines


def test_ntu_truncated_wrong_joint_count_and_nan(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    lines = _ntu_text()
    path.write_text("\n".join(lines[:-3]))
    with pytest.raises(SkeletonFormatError, match=rf"{path.name}:\d+: file ends early"):
        read_file(path)
    path.write_text("\n".join(_ntu_text(joints=24)))
    with pytest.raises(SkeletonFormatError, match=rf"{path.name}:4: expected 25 joints, got 24"):
        read_file(path)
    bad = list(lines)
    bad[10] = "0.1 nan 3.0 277.4 191.8 1036.2 519.1 -0.2 0.05 0.96 -0.12 2"
    path.write_text("\n".join(bad))
    with pytest.raises(SkeletonFormatError, match=rf"{path.name}:11: joint 7: NaN"):
        read_file(path)
    bad[10] = "0.1 0.2 3.0 277.4"
    path.write_text("\n".join(bad))
    with pytest.raises(SkeletonFormatError, match=rf"{path.name}:11: joint 7: expected 12 numbers, got 4"):
        read_file(path)
    path.write_text("")
    with pytest.raises(SkeletonFormatError, match="empty file"):
        read_file(path)


def test_msr_florence_bad_lines(tmp_path, data_root):
    msr = tmp_path / "a01_s01_e01_skeleton3D.txt"
    lines = (data_root / "msr_action3d" / "a01_s01_e01_skeleton3D.txt").read_text().splitlines()
    msr.write_text("\n".join(lines[:30]))
    with pytest.raises(SkeletonFormatError, match="30 joint lines is not a whole number of 20-joint frames"):
        read_file(msr)
    broken = list(lines)
    broken[41] = "0.1 0.2 x 1"
    msr.write_text("\n".join(broken))
    with pytest.raises(SkeletonFormatError, match=rf"{msr.name}:42: .*not a number"):
        read_file(msr)
    broken[41] = "0.1 0.2 NaN 1"
    msr.write_text("\n".join(broken))
    with pytest.raises(SkeletonFormatError, match=rf"{msr.name}:42: .*NaN"):
        read_file(msr)
    florence = tmp_path / "a01_s1_id1.txt"
    florence.write_text("1 2 3\n" * 14)
    with pytest.raises(SkeletonFormatError, match="14 joint lines is not a whole number of 15-joint"):
        read_file(florence)


def test_utkinect_labels_skip_nan_and_reject_garbage(tmp_path):
    path = tmp_path / "actionLabel.txt"
    path.write_text("s01_e01\nwalk: 10 20\ncarry:  NaN NaN\n")
    assert read_utkinect_labels(path) == {"s01_e01": [("walk", 10, 20)]}
    path.write_text("s01_e01\nwalk: 10\n")
    with pytest.raises(SkeletonFormatError, match=r"actionLabel.txt:2: expected 'start end'"):
        read_utkinect_labels(path)
    path.write_text("s01_e01\nfly: 1 2\n")
    with pytest.raises(SkeletonFormatError, match=r":2: unknown action 'fly'"):
        read_utkinect_labels(path)


def test_msrc12_bad_csv_and_missing_csv_is_reported(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("CROSSGLG_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "msrc12"
    folder.mkdir()
    source = data_root / "msrc12"
    for name in ("P1_1_1_p06.csv", "P1_1_1_p06.tagstream", "P1_2_5_p04.tagstream"):
        shutil.copy(source / name, folder / name)
    reports = []
    samples = load_dataset("msrc12", tmp_path, on_missing=reports.append)
    assert len(samples) == 9 and len(reports) == 1 and "P1_2_5_p04.csv is missing" in reports[0]
    lines = (source / "P1_1_1_p06.csv").read_text().splitlines()
    lines[99] = " ".join(lines[99].split()[:50])
    (folder / "P1_1_1_p06.csv").write_text("\n".join(lines))
    with pytest.raises(SkeletonFormatError, match=r"P1_1_1_p06.csv:100: malformed"):
        read_file(folder / "P1_1_1_p06.csv")
    shutil.copy(source / "P1_1_1_p06.csv", folder / "P1_1_1_p06.csv")
    (folder / "P1_1_1_p06.tagstream").write_text("Tick,Tag\n1;G1\n")
    with pytest.raises(SkeletonFormatError, match=r"tagstream:1: expected header"):
        read_file(folder / "P1_1_1_p06.csv")
    (folder / "P1_1_1_p06.tagstream").write_text("XQPCTick;Tag\n5;G1 lift outstretched arms\n")
    with pytest.raises(SkeletonFormatError, match=r"tagstream:2: action point at .* outside the recording"):
        read_file(folder / "P1_1_1_p06.csv")


def test_kinetics_json_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    frames = []
    for t in range(1, 31):
        bodies = [
            {
                "pose": rng.uniform(0, 1, 36).round(3).tolist(),
                "score": rng.uniform(0.2, 1, 18).round(3).tolist(),
            }
            for _ in range(3 if t < 5 else 1)
        ]
        frames.append({"frame_index": t, "skeleton": bodies})
    clip = {"data": frames, "label": "archery", "label_index": 5}
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(clip))
    seq = read_kinetics_json(path)
    assert seq.joints.shape == (2, 30, 18, 3) and seq.label == 5 and seq.label_name == "archery"
    np.testing.assert_allclose(seq.joints[0, 10, :, :2].ravel(), frames[10]["skeleton"][0]["pose"], atol=1e-6)
    from crossglg.skeleton import make_window

    window = make_window(seq, scale=True)
    assert window.shape == (3, 60, 25, 2) and np.isfinite(window).all()
    assert len(load_dataset("kinetics", tmp_path)) == 1
    clip["data"][3]["skeleton"][0]["pose"] = [0.1] * 30
    path.write_text(json.dumps(clip))
    with pytest.raises(SkeletonFormatError, match=r"clip.json: data\[3\].skeleton\[0\]: need 'pose' of 36"):
        read_file(path)
    path.write_text('{"data": [')
    with pytest.raises(SkeletonFormatError, match=r"clip.json:1: invalid JSON"):
        read_file(path)


def test_sequence_validation():
    with pytest.raises(ValueError, match="3 timestamps for 4 frames"):
        SkeletonSequence(joints=np.zeros((4, 25, 3)), layout="ntu25", timestamps=np.arange(3.0))
    with pytest.raises(ValueError, match="increase strictly"):
        SkeletonSequence(joints=np.zeros((3, 25, 3)), layout="ntu25", timestamps=np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="unknown skeleton file type"):
        p = __import__("pathlib").Path(__file__)
        read_file(p)


# --- the four sets of issue 14 ---------------------------------------------------------------------------

KG_NAME = "POSE-p565_01-Raise-your-hand-1469182402284.csv"


def _kinder_gator_copy(data_root, tmp_path, name: str = KG_NAME) -> tuple:
    lines = (data_root / "kinder_gator" / "Adults" / KG_NAME).read_text().splitlines()
    return tmp_path / name, lines


def test_kinder_gator_bad_lines(tmp_path, data_root):
    path, lines = _kinder_gator_copy(data_root, tmp_path)

    def fails(changed: list[str], pattern: str, target=path) -> None:
        target.write_text("\n".join(changed) + "\n")
        with pytest.raises(SkeletonFormatError, match=pattern):
            read_file(target)

    bad = list(lines)
    bad[2] = bad[2].rsplit(",", 2)[0]  # a field lost
    fails(bad, rf"{path.name}:3: line: 62 comma-separated fields, expected 64")
    bad = list(lines)
    fields = bad[4].split(",")
    fields[10] = "0.7x"  # HeadX
    bad[4] = ",".join(fields)
    fails(bad, rf"{path.name}:5: HeadX: not a number: '0.7x'")
    fields[10] = "nan"
    bad[4] = ",".join(fields)
    fails(bad, rf"{path.name}:5: HeadX: NaN or infinite value")
    fails(lines[:6] + [lines[6][:40]], rf"{path.name}:7: line: \d+ comma-separated fields")  # truncated
    fails(lines[:1], rf"{path.name}: no frame lines after the header")
    bad = list(lines)
    bad[3] = bad[3].replace("Raise-your-hand", "Bow")
    fails(bad, rf"{path.name}:4: Action: 'Bow', file name says 'Raise-your-hand'")
    bad = list(lines)
    bad[5] = bad[5].replace(",565,", ",566,")
    fails(bad, rf"{path.name}:6: User-ID: '566', file name says 565")
    bad = list(lines)
    bad[3], bad[4] = bad[4], bad[3]
    fails(bad, rf"{path.name}:5: Timestamp: .* goes backwards")
    fails([lines[0].replace("HeadX", "HeadQ")] + lines[1:], rf"{path.name}:1: header: column 11 is 'HeadQ'")
    unknown = tmp_path / "POSE-p565_01-Juggle-1469182402284.csv"
    fails(
        [line.replace("Raise-your-hand", "Juggle") for line in lines],
        r"Juggle-1469182402284.csv: motion name: unknown Kinder-Gator motion 'Juggle'",
        unknown,
    )
    renamed = tmp_path / "renamed.csv"  # no name to go by: the Action column must hold a known motion
    fails(
        [line.replace("Raise-your-hand", "Juggle") for line in lines],
        r"renamed.csv:2: Action: unknown motion 'Juggle'",
        renamed,
    )


def test_nw_ucla_bad_json(tmp_path, data_root):
    source = data_root / "nw_ucla" / "all_sqe" / "a11_s03_e00_v02.json"
    clip = json.loads(source.read_text())
    path = tmp_path / source.name

    def fails(changed, pattern: str) -> None:
        path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
        with pytest.raises(SkeletonFormatError, match=pattern):
            read_file(path)

    fails(source.read_text()[:500], rf"{path.name}:1: JSON: .*column")  # truncated
    bad = json.loads(json.dumps(clip))
    del bad["skeletons"][3][7]
    fails(bad, rf"{path.name}:1: skeletons\[3\]: expected 20 joints of 3 numbers, got 19")
    bad = json.loads(json.dumps(clip))
    bad["skeletons"][2][4][1] = "up"
    fails(bad, rf"{path.name}:1: skeletons\[2\]\[4\]: not a number")
    bad = json.loads(json.dumps(clip))
    bad["label"] = 10
    fails(bad, rf"{path.name}:1: label: 10 disagrees with a11 \(expected 9")
    bad = json.loads(json.dumps(clip))
    del bad["skeletons"]
    fails(bad, rf"{path.name}:1: skeletons: missing")
    pretty = json.dumps(dict(clip, label=3), indent=1)  # the line of the field, not of the file's start
    line = pretty[: pretty.index('"label"')].count("\n") + 1
    fails(pretty, rf"{path.name}:{line}: label: 3 disagrees")


def test_gtu3d_bad_lines(tmp_path, data_root):
    folder = tmp_path / "10"
    folder.mkdir()
    path = folder / "movement1.txt"
    lines = (data_root / "gtu3d" / "10" / "movement1.txt").read_text().splitlines()
    path.write_text("\n".join(lines[:74]))
    with pytest.raises(SkeletonFormatError, match=r"movement1.txt:74: 74 joint lines is not a whole number"):
        read_file(path)
    bad = list(lines)
    bad[6] = "0.1 zero 2.2"
    path.write_text("\n".join(bad))
    with pytest.raises(SkeletonFormatError, match=r"movement1.txt:7: joint line \(x y z\): not a number"):
        read_file(path)
    bad[6] = "0.1 2.2"
    path.write_text("\n".join(bad))
    with pytest.raises(SkeletonFormatError, match=r"movement1.txt:7: joint line \(x y z\): expected 3 num"):
        read_file(path)
    stray = tmp_path / "99"
    stray.mkdir()
    shutil.copy(data_root / "gtu3d" / "10" / "movement1.txt", stray / "movement1.txt")
    with pytest.raises(SkeletonFormatError, match=r"99/movement1.txt: folder: '99' is not a GTU3D class"):
        read_file(stray / "movement1.txt")


def test_precog_bad_lines(tmp_path, data_root):
    lines = (data_root / "precog" / "CSV" / "Seq1_1.csv").read_text().splitlines()
    path = tmp_path / "Seq1_1.csv"

    def fails(changed: list[str], pattern: str) -> None:
        path.write_text("\n".join(changed) + "\n")
        with pytest.raises(SkeletonFormatError, match=pattern):
            read_file(path)

    bad = list(lines)
    bad[2] = bad[2].rsplit(";", 1)[0]
    fails(bad, rf"{path.name}:3: line: 20 ';'-separated fields, expected 21")
    bad = list(lines)
    fields = bad[3].split(";")
    fields[5] = " ".join(fields[5].split()[:2])
    bad[3] = ";".join(fields)
    fails(bad, rf"{path.name}:4: ElbowLeft: expected 3 numbers 'x y z', got 2")
    bad = list(lines)
    fields = bad[4].split(";")
    fields[3] = "0.1 high 2.9"
    bad[4] = ";".join(fields)
    fails(bad, rf"{path.name}:5: HeadY: not a number: 'high'")
    bad = list(lines)
    bad[5] = bad[5].rsplit(";", 1)[0] + ";9"
    fails(bad, rf"{path.name}:6: label: '9' is not a class id 0-8")
    fails(lines[:10] + [lines[10][:100]], rf"{path.name}:11: line: \d+ ';'-separated fields")  # truncated
    fails(["HipCenter; Spine"] + lines[1:], rf"{path.name}:1: header: expected the 20 Kinect v1 joint names")


def test_new_sets_report_missing_and_empty_files(tmp_path, data_root, monkeypatch):
    """Files a set should hold but lacks, and files without a usable skeleton, are reported and skipped."""
    monkeypatch.setenv("CROSSGLG_CACHE", str(tmp_path / "cache"))
    kg = tmp_path / "kinder_gator" / "Adults"
    kg.mkdir(parents=True)
    shutil.copy(data_root / "kinder_gator" / "Adults" / KG_NAME, kg / KG_NAME)
    reports = []
    assert len(load_dataset("kinder_gator", tmp_path, on_missing=reports.append)) == 1
    assert len(reports) == 20 * 58 - 1 and all(r.reason == "file missing" for r in reports)
    assert any("p921's 'Wave-your-other-hand' recording is missing" in r for r in reports)
    nw = tmp_path / "nw_ucla"
    nw.mkdir()
    for name in ("a11_s03_e00_v02.json", "a02_s09_e04_v02.json"):
        shutil.copy(data_root / "nw_ucla" / "all_sqe" / name, nw / name)
    reports = []
    assert len(load_dataset("nw_ucla", tmp_path, on_missing=reports.append)) == 1
    assert [(r.reason, r.source.endswith("a02_s09_e04_v02.json")) for r in reports] == [
        ("fewer than 11 frames", True)
    ]
    gtu = tmp_path / "gtu3d" / "13"
    gtu.mkdir(parents=True)
    for k in (1, 2):
        shutil.copy(data_root / "gtu3d" / "13" / f"movement{k}.txt", gtu / f"movement{k}.txt")
    reports = []
    assert len(load_dataset("gtu3d", tmp_path, on_missing=reports.append)) == 2
    assert len(reports) == 14 and any("13: 23 of the README's 25 files is missing" in r for r in reports)
    precog = tmp_path / "precog" / "CSV"
    precog.mkdir(parents=True)
    for name in ("Seq1_1.csv", "Seq2_10.csv"):
        shutil.copy(data_root / "precog" / "CSV" / name, precog / name)
    reports = []
    assert len(load_dataset("precog", tmp_path, on_missing=reports.append)) == 5
    empty = "no frame holds a skeleton (all joints zero)"
    assert Counter(r.reason for r in reports) == {"file missing": 70, empty: 1}


def test_kinder_gator_empty_frames(tmp_path, data_root):
    """Leading all-zero frames (no skeleton yet) are dropped and time restarts at the first skeleton; a
    recording without any skeleton is an EmptySkeletonError, which load_dataset reports and skips."""
    path, lines = _kinder_gator_copy(data_root, tmp_path)

    def zeroed(line: str) -> str:
        fields = line.split(",")
        return ",".join([fields[0]] + ["0"] * 60 + fields[61:])

    path.write_text("\n".join([lines[0]] + [zeroed(line) for line in lines[1:4]] + lines[4:]) + "\n")
    seq = read_file(path)
    full = read_file(data_root / "kinder_gator" / "Adults" / KG_NAME)
    assert seq.num_frames == full.num_frames - 3 and seq.timestamps[0] == 0
    np.testing.assert_array_equal(seq.joints[0], full.joints[0, 3:])
    path.write_text("\n".join([lines[0]] + [zeroed(line) for line in lines[1:]]) + "\n")
    with pytest.raises(EmptySkeletonError, match=rf"{path.name}: fewer than 2 frames hold a skeleton"):
        read_file(path)
