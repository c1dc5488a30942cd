"""Malformed input gives an error naming the file and the line, never a silently wrong array."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from crossglg.data import SkeletonFormatError, SkeletonSequence, load_dataset, read_file
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
