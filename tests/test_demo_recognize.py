"""``crossglg-recognize``: JSON lines from the shared pipeline, and exit codes/messages fit for scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_demo_support import checkpoint_for_tests

from crossglg.oneshot import Gallery
from demo.recognize import EXIT_ENROL, EXIT_MODEL, EXIT_OK, EXIT_SOURCE, EXIT_USAGE, main
from demo.store import STARTER_GALLERY as STARTER


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(checkpoint_for_tests(tmp_path_factory.mktemp("model")))


def every_decision(ckpt: str, *source: str) -> list[str]:
    """Arguments that report every decision: stride 1, no smoothing, nothing rejected by the threshold, and
    2 s windows, so that the window ending where an enrolled 2 s span ends is that span."""
    every = ["--stride", "1", "--smoothing", "1", "--threshold", "0", "--window-seconds", "2"]
    return [*source, "--checkpoint", ckpt, *every]


def test_enrolled_segments_are_recognised_in_json_lines(ckpt, data_root, capsys):
    clip = str(data_root / "videos" / "tai_chi.mp4")
    enrol = ["--enroll", "opening=0.5-2.5", "--enroll", "stance=1.3-3.3"]
    code = main([*every_decision(ckpt, "--source", clip), "--max-frames", "100", *enrol])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and all(set(line) == {"time", "label", "score", "top", "rest"} for line in lines)
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

    assert (
        main(["--source", clip, "--checkpoint", ckpt, "--max-frames", "20", "--enroll", "late=50-52"])
        == EXIT_ENROL
    )
    assert "no pose between 50 s and 52 s" in capsys.readouterr().err

    # an option out of its range is named, before any model or source is opened
    assert (
        main(["--source", missing, "--checkpoint", ckpt, "--window-seconds", "0.1", "--hold", "0"])
        == EXIT_USAGE
    )
    err = capsys.readouterr().err
    assert "'window_seconds' must be seconds from 0.2 to 30, got 0.1" in err
    assert "'hold' must be a whole number from 1 to 100, got 0" in err

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
    code = main(
        [
            "--source",
            url,
            "--checkpoint",
            ckpt,
            "--gallery",
            str(tmp_path / "gallery"),
            "--max-frames",
            "75",
            "--stride",
            "5",
            "--threshold",
            "-1",
            "--hold",
            "1",
        ]
    )
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


NATIVE_NOISE = (
    "Sparsity tensors may not yet be fully supported",
    "INFO: ",
    "W0000 ",
    "I0000 ",
    "Logging before InitGoogle",
    "XNNPACK",
)


def recognize_subprocess(*args: str) -> subprocess.CompletedProcess:
    """crossglg-recognize (its entry point, ``demo.recognize:main``, of this checkout) in its own process,
    so MediaPipe's native logging is real."""
    return subprocess.run(
        [sys.executable, "-m", "demo.recognize", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_the_console_is_quiet_unless_verbose(ckpt, data_root, tmp_path):
    """MediaPipe / LiteRT / glog lines are filtered by default, our own messages and errors are not;
    -v shows the native lines again."""
    clip = str(data_root / "videos" / "tai_chi.mp4")
    quiet = recognize_subprocess(
        "--source", clip, "--checkpoint", ckpt, "--max-frames", "60", "--gallery", str(STARTER)
    )
    assert quiet.returncode == EXIT_OK, quiet.stderr
    assert [json.loads(line)["label"] for line in quiet.stdout.splitlines()]
    noise = [line for line in quiet.stderr.splitlines() if any(n in line for n in NATIVE_NOISE)]
    assert noise == []
    assert quiet.stderr.splitlines()[0].startswith("crossglg-recognize: model ")
    assert "crossglg-recognize: 60 frames, a pose in 60" in quiet.stderr

    failing = recognize_subprocess(
        "--source", clip, "--checkpoint", ckpt, "--max-frames", "20", "--enroll", "late=50-52"
    )
    assert failing.returncode == EXIT_ENROL
    assert "crossglg-recognize: --enroll late: no pose between 50 s and 52 s" in failing.stderr
    assert not [line for line in failing.stderr.splitlines() if any(n in line for n in NATIVE_NOISE)]

    verbose = recognize_subprocess(
        "--source", clip, "--checkpoint", ckpt, "--max-frames", "5", "--gallery", str(STARTER), "-v"
    )
    assert verbose.returncode == EXIT_OK, verbose.stderr
    assert "Sparsity tensors may not yet be fully supported" in verbose.stderr  # the filter was the reason


def test_skeleton_recordings_are_recognised_in_json_lines(ckpt, data_root, tmp_path, capsys):
    """--skeleton replays a Kinect v1 (PRECOG) and a Kinect v2 (NTU) recording through the app's recogniser;
    --enroll cuts seconds of the stream's own clock; the decision at an enrolled span's end is that span."""
    precog = str(data_root / "precog" / "CSV" / "Seq1_2.csv")
    code = main(
        [*every_decision(ckpt, "--skeleton", precog), "--enroll", "first=1.0-3.0", "--enroll", "last=5.5-7.5"]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and all(set(line) == {"time", "label", "score", "top", "rest"} for line in lines)
    by_time = {line["time"]: line for line in lines}
    assert len(by_time) == len(lines) and list(by_time) == sorted(by_time)
    assert by_time[3.0]["label"] == "first" and by_time[3.0]["score"] > 0.99
    assert by_time[7.5]["label"] == "last" and by_time[7.5]["score"] > 0.99
    assert "260 frames (kinect_v1, 1 segment(s)), a skeleton in 260, 0.000-8.633 s" in err

    # the same span enrolled as idle as well: there the answer turns to "unknown" (idle is never a label)
    # while the "first" class is still ranked first for display; the gallery file keeps it as background
    args = [
        *every_decision(ckpt, "--skeleton", precog),
        "--enroll",
        "first=1.0-3.0",
        "--enroll-idle",
        "5.5-7.5",
    ]
    assert main([*args, "--save-gallery", str(tmp_path / "g")]) == EXIT_OK
    out, err = capsys.readouterr()
    by_time = {line["time"]: line for line in map(json.loads, out.splitlines())}
    assert by_time[3.0]["label"] == "first" and by_time[3.0]["rest"] < by_time[3.0]["top"][0][1]
    assert by_time[7.5]["label"] == "unknown" and by_time[7.5]["top"][0][0] == "first"
    assert by_time[7.5]["rest"] > 0.99  # why it is unknown: the idle example is at least as close
    assert "enrolled 'idle' (idle, never a label) from 5.5-7.5 s" in err
    assert Gallery.load(tmp_path / "g").background_classes == ["idle"]
    hands = ["--either-hand", "--max-frames", "100", "--save-gallery", str(tmp_path / "h")]
    assert main([*every_decision(ckpt, "--skeleton", precog), "--enroll", "first=1.0-3.0", *hands]) == EXIT_OK
    capsys.readouterr()
    either = Gallery.load(tmp_path / "h")  # the option is kept, with the exemplar's mirror embedded
    assert either.either_hand and np.abs(either.mirrored_prototypes()).sum() > 0
    with pytest.raises(SystemExit) as usage:  # argparse's usage error
        main([*every_decision(ckpt, "--skeleton", precog), "--enroll-idle", "idle=5.5-7.5"])
    assert usage.value.code == EXIT_USAGE
    assert "--enroll-idle 'idle=5.5-7.5': expected START-END (seconds), no name" in capsys.readouterr().err

    ntu = str(data_root / "ntu" / "S001C001P001R001A001.skeleton")
    assert (
        main(["--skeleton", ntu, "--checkpoint", ckpt, "--enroll", "drink=0.5-2.5", "--window-seconds", "2"])
        == EXIT_OK
    )
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["time"] for line in lines] == [round((5 * k - 1) / 30, 3) for k in range(8, 21)]
    assert {line["top"][0][0] for line in lines} == {"drink"}
    assert "103 frames (ntu25, 1 segment(s))" in err


def test_bad_skeleton_files_exit_2_naming_file_and_line_or_field(ckpt, data_root, tmp_path, capsys):
    source = data_root / "precog" / "CSV" / "Seq1_2.csv"
    lines = source.read_text().splitlines()
    lines[4] = lines[4].replace(";", ";0.1 oops 2;", 1)
    broken = tmp_path / "Seq1_2.csv"
    broken.write_text("\n".join(lines) + "\n")
    assert main(["--skeleton", str(broken), "--checkpoint", ckpt]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{broken}:5: line: 22 ';'-separated fields, expected 21" in err and "Traceback" not in err

    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\n")
    assert main(["--skeleton", str(unknown), "--checkpoint", ckpt]) == EXIT_USAGE
    assert f"{unknown}: unknown skeleton file type" in capsys.readouterr().err
    assert main(["--skeleton", str(unknown), "--format", "precog", "--checkpoint", ckpt]) == EXIT_USAGE
    assert f"{unknown}:1: header: expected the 20 Kinect v1 joint names" in capsys.readouterr().err

    renamed = tmp_path / "recording.txt"  # PRECOG content under another name: --format says what it is
    renamed.write_text(source.read_text())
    assert (
        main(["--skeleton", str(renamed), "--format", "precog", "--checkpoint", ckpt, "--max-frames", "60"])
        == EXIT_OK
    )
    assert "60 frames (kinect_v1" in capsys.readouterr().err

    session = tmp_path / "session.npz"
    np.savez(
        session,
        meta=np.array('{"format": "crossglg-pose-session", "version": 1, "layout": "mediapipe33"}'),
        timestamps=np.zeros(3),
        joints=np.zeros((3, 20, 3)),
        visibility=np.zeros((3, 33)),
        segment_starts=np.zeros(1, int),
    )
    assert main(["--skeleton", str(session), "--checkpoint", ckpt]) == EXIT_USAGE
    assert f"{session}: field 'joints': expected float (3, 33, 3)" in capsys.readouterr().err

    assert main(["--skeleton", str(tmp_path / "absent.skeleton"), "--checkpoint", ckpt]) == EXIT_SOURCE
    assert "absent.skeleton: no such file" in capsys.readouterr().err
    for bad in (["--format", "xyz"], ["--unmirror"], ["--save-session", "s.npz"]):
        with pytest.raises(SystemExit) as exc:
            main(["--skeleton", str(source), *bad])
        assert exc.value.code == EXIT_USAGE
    assert "--unmirror applies to --source" in capsys.readouterr().err

    run = recognize_subprocess("--skeleton", str(broken), "--checkpoint", ckpt)
    assert run.returncode == EXIT_USAGE and "Traceback" not in run.stderr
    message = f"{broken}:5: line: 22 ';'-separated fields, expected 21 (20 joints, label)"
    assert run.stderr.strip() == f"crossglg-recognize: {message}"
