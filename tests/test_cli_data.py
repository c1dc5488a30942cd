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
