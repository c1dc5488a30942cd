"""Recorded skeleton streams through the app's own recogniser (demo.live.replay), and pose sessions: the
app's live MediaPipe stream saved to a file that replays to the same decisions."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from test_demo_support import checkpoint_for_tests, tai_chi_poses

from crossglg.data import SkeletonFormatError, read_file
from crossglg.data.readers import read_pose_session, read_precog_stream
from crossglg.oneshot import Embedder, Gallery
from crossglg.streaming import read_stream, write_pose_session
from demo.live import NO_PERSON, LivePipeline, Settings, cut_window, replay, stream_frames
from demo.pose import PoseEstimator
from demo.runtime import load_embedder


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    emb, _ = load_embedder(checkpoint_for_tests(tmp_path_factory.mktemp("model")), "auto")
    return emb


def one_class_gallery(embedder, times, frames, layout, start, end, name="enrolled"):
    gallery = Gallery(embedder.dim, embedder.model_hash)
    window = cut_window(times, frames, layout, start, end)
    gallery.add(name, embedder.embed(window[None]), window[None])
    return gallery


def test_a_kinect_v2_recording_is_decided_at_the_stride_from_its_own_windows(data_root, embedder):
    """NTU (Kinect v2, no timestamps: 30 Hz): a decision every 5th frame once 60 % of the 2 s window is
    covered (frame 40), each carrying the time of its newest frame; the window the buffer builds at the
    end of the enrolled span is the enrolled window itself."""
    sequence = read_file(data_root / "ntu" / "S001C001P001R001A001.skeleton")
    times, frames = stream_frames(sequence)
    assert sequence.layout == "ntu25" and times[1] == pytest.approx(1 / 30)
    end = float(times[69])  # a decision time: frame 70 is a multiple of the stride
    gallery = one_class_gallery(embedder, times, frames, "ntu25", end - 2.0, end)
    settings = Settings(smoothing=1, hold=1, window_seconds=2.0)  # each window's own decision, not held
    predictions = replay(sequence, embedder, gallery, settings)
    assert [round(p.time, 6) for p in predictions] == [round((5 * k - 1) / 30, 6) for k in range(8, 21)]
    at_end = next(p for p in predictions if p.time == pytest.approx(end))
    assert at_end.label == "enrolled" and at_end.score > 0.999
    assert all(p.compute_ms >= p.model_ms > 0 for p in predictions)
    # With the default settings each window is decided as Gallery.decide's calibrated default does.
    for p in predictions:
        window = cut_window(times, frames, "ntu25", p.time - 2.0, p.time)
        assert p.label == gallery.decide(embedder.embed(window[None])[0]).label


def test_a_kinect_v1_stream_with_its_own_clock_and_missing_skeletons(data_root, embedder):
    """PRECOG (Kinect v1, timestamps from the reader): stride 3 gives a decision every 0.1 s; frames whose
    skeleton is all zero are "no person", announced once, and recognition resumes afterwards."""
    stream = read_precog_stream(data_root / "precog" / "CSV" / "Seq1_2.csv").sequence
    joints = stream.joints.copy()
    joints[:, 120:160] = 0.0  # the sensor lost the person for 40 frames
    lost = replace(stream, joints=joints)
    times, frames = stream_frames(lost)
    assert sum(f is None for f in frames) == 40
    gallery = one_class_gallery(embedder, times, frames, "kinect_v1", 1.0, 3.0)
    bare = Embedder(embedder.backend)  # no rest examples: with threshold -1 every window names the class
    predictions = replay(lost, bare, gallery, Settings(stride=3, threshold=-1.0, hold=1))
    gaps = np.diff([p.time for p in predictions])
    labels = [p.label for p in predictions]
    assert labels.count(NO_PERSON) == 1
    k = labels.index(NO_PERSON)
    assert np.allclose(np.delete(gaps, [k - 1, k]), 0.1)  # only the no-person announcement breaks step
    assert 120 / 30 < predictions[k].time < 160 / 30
    assert set(labels[:k]) == {"enrolled"} and set(labels[k + 1 :]) == {"enrolled"}


def test_repeated_and_backwards_timestamps_are_handled_like_the_app(data_root, embedder):
    """A clock that repeats a stamp (the duplicate frame is skipped) and goes back (the buffer restarts: no
    decision until 60 % of a new 2 s window is seen, then decisions on the new clock)."""
    sequence = read_file(data_root / "ntu" / "S002C001P003R001A003.skeleton")  # 100 frames
    times, frames = stream_frames(sequence)
    gallery = one_class_gallery(embedder, times, frames, "ntu25", 0.0, 2.0)
    clock = np.arange(sequence.num_frames) / 30.0
    clock[41] = clock[40]  # a repeated stamp while decisions are being made
    clock[50:] -= 1.5  # the clock goes back 1.5 s at frame 50
    stamps = [
        p.time
        for p in replay(sequence, embedder, gallery, Settings(stride=1, window_seconds=2.0), timestamps=clock)
    ]
    k = next(i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1])
    first, second = stamps[:k], stamps[k:]
    assert np.all(np.diff(first) > 0) and first[-1] == clock[49]
    assert first.count(clock[40]) == 1  # the duplicate frame made no second decision
    assert second[0] == pytest.approx(clock[50] + 1.2, abs=1 / 30 + 1e-9)  # not at once: the buffer restarted
    assert np.all(np.diff(second) > 0) and second[-1] == clock[-1]
    with pytest.raises(ValueError, match="10 timestamps for 100 frames"):
        replay(sequence, embedder, gallery, timestamps=clock[:10])


def test_the_cli_session_round_trip_on_a_real_clip(data_root, tmp_path, capsys):
    """crossglg-recognize --save-session on a real video, then --skeleton on the session: the very same
    JSON lines (same poses, same windows, same enrolments, same decisions)."""
    from demo.recognize import EXIT_OK, main

    ckpt = str(checkpoint_for_tests(tmp_path))
    clip = str(data_root / "videos" / "tai_chi.mp4")
    session = tmp_path / "poses.npz"
    common = [
        "--checkpoint",
        ckpt,
        "--max-frames",
        "90",
        "--enroll",
        "open=0.2-1.8",
        "--enroll",
        "step=1-2.9",
    ]
    assert main(["--source", clip, "--save-session", str(session), *common]) == EXIT_OK
    live_out, live_err = capsys.readouterr()
    assert "saved the pose session (90 frames, 3.0 s)" in live_err
    assert main(["--skeleton", str(session), *common]) == EXIT_OK
    replay_out, replay_err = capsys.readouterr()
    assert "90 frames (mediapipe33, 1 segment(s)), a skeleton in 90" in replay_err
    assert live_out.splitlines() and replay_out == live_out
    assert {json.loads(line)["label"] for line in live_out.splitlines()} <= {"open", "step", "unknown"}


def test_the_app_pipeline_saves_its_session_with_loop_seams(data_root, tmp_path):
    """LivePipeline keeps what it fed the recogniser; a looping file starting over begins a new segment
    (the recogniser restarted there), and the file reads back exactly."""
    times, poses, frames = tai_chi_poses(data_root)  # the clip's first 100 frames
    looped = frames + [replace(f, loop=1, timestamp=f.timestamp + 100 / 30) for f in frames[:40]]
    with PoseEstimator() as estimator:
        pipeline = LivePipeline(estimator)
        with pytest.raises(ValueError, match="no frames yet"):
            pipeline.save_session(tmp_path / "empty.npz")
        updates = [pipeline.process(f) for f in looped]
        pipeline.close()
        saved = pipeline.save_session(tmp_path / "app" / "session.npz")
    assert (saved.frames, saved.segments) == (140, 2)
    segments = read_file(saved.path)
    assert [s.num_frames for s in segments] == [100, 40]
    world = np.concatenate([s.joints[0] for s in segments])
    expected = np.stack([u.pose.main.world for u in updates])
    assert np.array_equal(world, expected)
    assert np.array_equal(np.concatenate([s.timestamps for s in segments]), [f.timestamp for f in looped])
    assert np.array_equal(segments[1].confidence[0, 0], updates[100].pose.main.visibility)
    assert not list((tmp_path / "app").glob("*.tmp"))  # the atomic write left no temporary file


def test_malformed_session_files_name_the_file_and_field(tmp_path):
    good = dict(
        timestamps=np.arange(4) / 30.0,
        joints=np.zeros((4, 33, 3), np.float32),
        visibility=np.ones((4, 33), np.float32),
        segment_starts=[0],
        source="camera 0",
    )
    path = write_pose_session(tmp_path / "ok.npz", **good)
    assert len(read_pose_session(path)) == 1

    def broken(name: str, **change) -> str:
        target = tmp_path / name
        write_pose_session(target, **{**good, **change})
        with pytest.raises(SkeletonFormatError) as err:
            read_file(target)
        assert str(target) in str(err.value)
        return str(err.value)

    assert "field 'joints': expected float (4, 33, 3)" in broken("j.npz", joints=np.zeros((4, 20, 3)))
    assert "field 'timestamps': [2] = " in broken("t.npz", timestamps=np.array([0.0, 0.1, 0.05, 0.2]))
    assert "field 'segment_starts'" in broken("s.npz", segment_starts=[1])
    assert "unknown skeleton layout 'nope'" in broken("l.npz", layout="nope")
    assert (
        len(
            read_file(
                write_pose_session(
                    tmp_path / "two.npz",
                    **{**good, "timestamps": np.array([0.0, 0.1, 0.05, 0.2]), "segment_starts": [0, 2]},
                )
            )
        )
        == 2
    )

    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(SkeletonFormatError, match="text.npz: not a pose session: not an .npz"):
        read_file(text)
    single = tmp_path / "single.npz"
    with open(single, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(SkeletonFormatError, match="a single .npy array, not a pose session"):
        read_file(single)
    pickled = tmp_path / "pickled.npz"
    np.savez(
        pickled,
        meta=np.array([{"format": "x"}], dtype=object),
        timestamps=good["timestamps"],
        joints=good["joints"],
        visibility=good["visibility"],
        segment_starts=[0],
    )
    with pytest.raises(SkeletonFormatError, match="field 'meta': unreadable"):
        read_file(pickled)
    np.savez(pickled, meta=np.array("{}"), timestamps=good["timestamps"])
    with pytest.raises(SkeletonFormatError, match="field 'joints': missing"):
        read_file(pickled)
    with pytest.raises(ValueError, match="must end in .npz"):
        write_pose_session(tmp_path / "x.csv", **good)
    assert read_stream(path)[0].meta["source"] == "camera 0"


def test_the_app_saves_its_pose_session_from_the_source_menu(qtbot, data_root, tmp_path, embedder):
    """Source -> Save pose session… (Ctrl+S): nothing to save before a source plays; then the poses the
    app saw, under the chosen name (.npz added), readable by read_file and named after the source."""
    from demo.app import App

    app = App(
        embedder=embedder,
        backend_name="test",
        gallery_dir=tmp_path / "gallery",
        settings_path=tmp_path / "settings.json",
    )
    qtbot.addWidget(app.window)
    try:
        window = app.window
        action = next(a for a in window.source_menu.actions() if a.text() == "&Save pose session…")
        assert action.shortcut().toString() == "Ctrl+S"
        action.trigger()  # nothing has played yet: a message, no file dialog
        assert window.last_error.startswith("No poses to save yet")
        assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
        qtbot.waitUntil(lambda: app.pipeline.session_frames >= 30, timeout=30000)
        assert window.save_session(str(tmp_path / "mine"))
        (segment, *more) = read_file(tmp_path / "mine.npz")
        assert segment.meta["source"] == "file tai_chi.mp4" and segment.num_frames >= 30 and not more
        assert segment.layout == "mediapipe33" and np.isfinite(segment.joints).all()  # a pose in every frame
        assert window.status_message.text().startswith("saved ")
        assert not window.save_session(str(tmp_path / "mine.npz" / "x.npz"))  # a file where a folder must be
        assert "could not save the pose session" in window.last_error
    finally:
        app.close()
