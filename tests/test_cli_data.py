"""``crossglg-data inspect`` and ``render`` on real files."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from crossglg.cli.data import main


def test_inspect_reports_layout_bodies_and_synthesised_joints(data_root, capsys):
    assert main(["inspect", str(data_root / "ntu" / "S001C003P008R002A058.skeleton"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["bodies"] == 2 and row["frames"] == 70 and row["label_name"] == "handshaking"
    assert row["synthesised_joints"] == [] and row["layout"] == "ntu25"
    assert main(["inspect", str(data_root / "florence" / "a01_s1_id1.txt")]) == 0
    text = capsys.readouterr().out
    assert "openni15" in text and "left hand tip" in text and "wave" in text


def test_inspect_bad_file_exits_with_clear_error(tmp_path, capsys):
    bad = tmp_path / "a01_s01_e01_skeleton3D.txt"
    bad.write_text("1 2 3 1\n" * 19)
    assert main(["inspect", str(bad)]) == 2
    assert "19 joint lines" in capsys.readouterr().err


def test_render_png_and_gif(data_root, tmp_path):
    png = tmp_path / "ntu.png"
    assert main(["render", str(data_root / "ntu" / "S001C001P001R001A001.skeleton"), "--out", str(png)]) == 0
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[0] > 300 and image.shape[1] > 800
    blue = (image[..., 2] > 150) & (image[..., 0] < 80)  # left side drawn in blue
    red = (image[..., 0] > 180) & (image[..., 1] < 80)  # right side in red
    assert blue.sum() > 200 and red.sum() > 200
    gif = tmp_path / "florence.gif"
    assert main(["render", str(data_root / "florence" / "a01_s1_id1.txt"), "--out", str(gif)]) == 0
    with Image.open(gif) as animation:
        assert animation.n_frames > 5
    assert (
        main(["render", str(data_root / "florence" / "a01_s1_id1.txt"), "--out", str(tmp_path / "x.bmp")])
        == 2
    )


def test_inspect_files_of_the_new_sets(data_root, capsys):
    kg = next((data_root / "kinder_gator" / "Adults").glob("POSE-p921_*-Throw-a-ball--*.csv"))
    assert main(["inspect", str(kg), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["dataset"] == "kinder_gator" and row["label_name"] == "throw a ball" and row["subject"] == 921
    assert row["meta"]["handedness"] == "L" and row["duration_s"] > 1
    assert main(["inspect", str(data_root / "gtu3d" / "2" / "movement1.txt"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label_name"] == "right-handed shaking" and row["synthesised_joints"] == []
    assert main(["inspect", str(data_root / "precog" / "CSV" / "Seq6_3.csv"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = ["back fist", "side right kick", "front right kick", "elbow strike", "side left kick"]
    assert [r["label_name"] for r in rows] == expected
    assert rows[4]["meta"]["start_frame"] == 141  # split by one unlabelled frame, merged
    # a degenerate clip is well-formed: inspect says why a data set skips it
    assert main(["inspect", str(data_root / "nw_ucla" / "all_sqe" / "a02_s09_e04_v02.json")]) == 0
    text = capsys.readouterr().out
    assert "sequences: 0" in text and "reason: fewer than 11 frames" in text and "1 frame(s)" in text


def test_inspect_a_data_set_folder_counts_skips_by_reason(data_root, capsys):
    assert main(["inspect", str(data_root / "nw_ucla"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dataset"] == "nw_ucla" and summary["sequences"] == 1473 and summary["skipped"] == 11
    assert summary["skipped_by_reason"] == {"fewer than 11 frames": 11}
    assert summary["classes"] == 10 and summary["subjects"] == 10
    assert summary["frames_min_median_max"][0] == 11
    assert main(["inspect", str(data_root / "gtu3d")]) == 0
    text = capsys.readouterr().out
    assert "sequences: 508" in text and "(no subject ids)" in text and "skipped: 0" in text
    assert "40  1 left-handed shaking" in text
    assert main(["inspect", str(data_root / "gtu3d"), "--dataset", "nonsense"]) == 2
    assert "unknown data set 'nonsense'" in capsys.readouterr().err
