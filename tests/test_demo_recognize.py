"""``crossglg-recognize``: JSON lines from the shared pipeline, and exit codes/messages fit for scripts."""

from __future__ import annotations

import json

import pytest
from test_demo_support import checkpoint_for_tests

from demo.recognize import EXIT_ENROL, EXIT_MODEL, EXIT_OK, EXIT_SOURCE, EXIT_USAGE, main


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(checkpoint_for_tests(tmp_path_factory.mktemp("model")))


def test_enrolled_segments_are_recognised_in_json_lines(ckpt, data_root, capsys):
    clip = str(data_root / "videos" / "tai_chi.mp4")
    code = main(["--source", clip, "--checkpoint", ckpt, "--max-frames", "100", "--stride", "1",
                 "--smoothing", "1", "--threshold", "0", "--enroll", "opening=0.5-2.5",
                 "--enroll", "stance=1.3-3.3"])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and all(set(line) == {"time", "label", "score", "top"} for line in lines)
    times = [line["time"] for line in lines]
    assert times == sorted(times)
    by_time = {line["time"]: line for line in lines}
    # The windows ending where each enrolled segment ends are those segments: each is its own best match.
    opening = min(by_time, key=lambda t: abs(t - 2.5))
    stance = max(by_time)
    assert by_time[opening]["label"] == "opening" and by_time[opening]["score"] > 0.99
    assert by_time[stance]["label"] == "stance" and by_time[stance]["score"] > 0.99
    assert {name for name, _ in by_time[stance]["top"]} == {"opening", "stance"}
    assert "enrolled 'opening'" in err and "100 frames, a pose in 100" in err


def test_errors_give_a_message_and_an_exit_code(ckpt, data_root, tmp_path, capsys):
    clip = str(data_root / "videos" / "tai_chi.mp4")
    missing = str(tmp_path / "nope.mp4")
    assert main(["--source", missing, "--checkpoint", ckpt, "--enroll", "a=0-1"]) == EXIT_SOURCE
    assert "video file not found" in capsys.readouterr().err

    assert main(["--source", clip, "--checkpoint", str(tmp_path / "no-model")]) == EXIT_MODEL
    assert "no model checkpoint at" in capsys.readouterr().err

    bad_gallery = tmp_path / "bad-gallery"
    bad_gallery.mkdir()
    (bad_gallery / "gallery.json").write_text("{ nope")
    assert main(["--source", clip, "--checkpoint", ckpt, "--gallery", str(bad_gallery)]) == EXIT_MODEL
    assert "invalid JSON at line 1" in capsys.readouterr().err

    assert main(["--source", clip, "--checkpoint", ckpt, "--max-frames", "20", "--enroll", "late=50-52"]) \
        == EXIT_ENROL
    assert "no pose between 50 s and 52 s" in capsys.readouterr().err

    for bad in ("wave", "wave=3-1", "wave=a-b"):
        with pytest.raises(SystemExit) as exc:
            main(["--source", clip, "--enroll", bad])
        assert exc.value.code == 2
        assert "--enroll" in capsys.readouterr().err


def test_a_live_stream_is_recognised_as_it_plays(ckpt, data_root, tmp_path, capsys):
    """A stream URL (here file://, read as a stream) is processed frame by frame, printing as it goes."""
    from test_demo_support import tai_chi_poses

    from crossglg.oneshot import Gallery
    from demo.recognize import segment_window
    from demo.runtime import load_embedder

    times, poses, _ = tai_chi_poses(data_root)
    embedder, _ = load_embedder(ckpt)
    gallery = Gallery(embedder.dim, embedder.model_hash)
    window = segment_window(times, poses, 0.0, 2.0)
    gallery.add("tai chi", embedder.embed(window[None]), window[None])
    gallery.save(tmp_path / "gallery")
    url = (data_root / "videos" / "tai_chi.mp4").resolve().as_uri()
    code = main(["--source", url, "--checkpoint", ckpt, "--gallery", str(tmp_path / "gallery"),
                 "--max-frames", "75", "--stride", "5", "--threshold", "-1"])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and all(line["label"] == "tai chi" for line in lines)
    stamps = [line["time"] for line in lines]  # live: seconds of wall clock since the first frame
    assert stamps == sorted(stamps) and stamps[0] > 0
    assert "stream file://" in err and "75 frames" in err

    assert main(["--source", url, "--checkpoint", ckpt, "--enroll", "a=0-1"]) == EXIT_USAGE
    assert "--enroll needs a video file" in capsys.readouterr().err
    missing_pose_model = str(tmp_path / "x.task")
    assert main(["--source", url, "--checkpoint", ckpt, "--pose-model", missing_pose_model]) == EXIT_MODEL
    assert "pose model not found" in capsys.readouterr().err
