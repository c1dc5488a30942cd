"""The Qt-free pipeline on real clips: recording + quality gate, enrolment, recognition, no-person state,
and the threaded live path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from test_demo_support import checkpoint_for_tests, clip_poses, tai_chi_poses

from demo.live import NO_PERSON, UNKNOWN, LivePipeline, Matcher, Recognizer, Settings, check_quality
from demo.live.recording import Recording
from demo.pose import PoseEstimator
from demo.recognize import segment_window
from demo.runtime import load_embedder
from demo.store import GalleryStore


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    emb, _ = load_embedder(checkpoint_for_tests(tmp_path_factory.mktemp("model")), "auto")
    return emb


def test_recording_clip_frames_enrols_a_class_that_replay_recognises(data_root, embedder, tmp_path):
    times, poses, frames = tai_chi_poses(data_root)
    store = GalleryStore(embedder, tmp_path / "gallery", starter=None)
    settings = Settings()
    examples = []
    with PoseEstimator() as estimator:
        pipeline = LivePipeline(estimator, embedder, store.gallery, settings)
        for i, frame in enumerate(frames):
            if i == 30:
                pipeline.start_recording(2.0, on_done=examples.append)
            update = pipeline.process(frame)
            assert update.pose.main is not None
        pipeline.close()
    assert pipeline.recording_status() is None and len(examples) == 1
    example = examples[0]
    assert example.timestamps[0] == pytest.approx(1.0, abs=0.01)
    assert example.timestamps[-1] == pytest.approx(3.0, abs=0.01)
    report = check_quality(example)
    assert report.ok, report.message
    assert report.pose_fraction == 1.0

    store.add_example("tai chi", example.window())
    # A second class from another real clip, so the decision is between two actions.
    cj_times, cj_poses, _ = clip_poses(str(data_root / "videos" / "clean_and_jerk.mp4"), 90)
    store.add_example("clean and jerk", segment_window(cj_times, cj_poses, 1.0, 3.0))
    assert store.gallery.counts() == {"tai chi": 1, "clean and jerk": 1}

    replay = Settings(threshold=0.0, stride=1, smoothing=1, window_seconds=2.0)  # as long as the recording
    recognizer = Recognizer(Matcher(embedder, store.gallery, replay), replay, asynchronous=False)
    by_time = {}
    for t, pose in zip(times, poses, strict=True):
        prediction = recognizer.feed(float(t), pose)
        if prediction is not None:
            by_time[round(float(t), 3)] = prediction
    # The window ending where the recording ended holds exactly the recorded segment.
    at_end = by_time[round(float(example.timestamps[-1]), 3)]
    assert at_end.label == "tai chi"
    assert at_end.score > 0.99
    assert [name for name, _ in at_end.top] == ["tai chi", "clean and jerk"]

    strict = Settings(threshold=1.01, stride=1, smoothing=1)
    assert Matcher(embedder, store.gallery, strict)(example.window(), 3.0).label == UNKNOWN


def test_hold_shows_a_new_label_only_after_it_held(data_root, embedder):
    """settings.hold: one stray window does not change the shown label; `hold` windows in a row do.
    The model's no-action examples are background for any gallery the matcher meets."""
    from crossglg.oneshot import Embedder, Gallery

    times, poses, _ = tai_chi_poses(data_root)
    cj_times, cj_poses, _ = clip_poses(str(data_root / "videos" / "clean_and_jerk.mp4"), 90)
    tai_chi = segment_window(times, poses, 0.0, 2.0)
    jerk = segment_window(cj_times, cj_poses, 1.0, 3.0)
    gallery = Gallery(embedder.dim, embedder.model_hash)
    gallery.add("tai chi", embedder.embed(tai_chi[None]))
    gallery.add("clean and jerk", embedder.embed(jerk[None]))
    sequence = [tai_chi, tai_chi, jerk, tai_chi, jerk, jerk, jerk]

    def shown(hold: int) -> list[str]:
        matcher = Matcher(embedder, gallery, Settings(threshold=0.0, smoothing=1, hold=hold))
        return [matcher(w, float(k)).label for k, w in enumerate(sequence)]

    assert shown(1) == ["tai chi", "tai chi", "clean and jerk", "tai chi"] + ["clean and jerk"] * 3
    assert shown(2) == [
        UNKNOWN,
        "tai chi",
        "tai chi",
        "tai chi",
        "tai chi",
        "clean and jerk",
        "clean and jerk",
    ]
    held = Matcher(embedder, gallery, Settings(threshold=0.0, smoothing=1, hold=2))
    prediction = [held(w, 0.0) for w in (tai_chi, tai_chi, jerk)][-1]
    assert prediction.label == "tai chi"  # still shown after one "clean and jerk" window ...
    assert prediction.score == pytest.approx(dict(prediction.top)["tai chi"])  # ... with its own score
    held.reset()
    assert held(tai_chi, 1.0).label == UNKNOWN  # a reset starts over
    only_tai_chi = Gallery(embedder.dim, embedder.model_hash)
    only_tai_chi.add("tai chi", embedder.embed(tai_chi[None]))
    plain = Settings(threshold=-1.0, smoothing=1, hold=1)  # every window would name the one class ...
    bare = Embedder(embedder.backend)  # ... without rest examples (the shipped model brings its own)
    assert [Matcher(bare, only_tai_chi, plain)(w, 0.0).label for w in (tai_chi, jerk)] == ["tai chi"] * 2
    resting = Embedder(embedder.backend, no_action=jerk[None])  # a model taught that this is rest
    matcher = Matcher(resting, only_tai_chi, plain)
    assert [matcher(w, float(k)).label for k, w in enumerate((tai_chi, jerk))] == ["tai chi", UNKNOWN]


def test_quality_gate_rejects_a_still_or_empty_recording(data_root):
    times, poses, frames = tai_chi_poses(data_root)
    still = Recording(2.0)
    for k in range(61):  # the same real pose for 2 s: nobody moved
        frame = frames[0]
        still.add(type(frame)(frame.image, k / 30, 0.0, k), poses[0])
    report = check_quality(still.example())
    assert not report.ok and "too little motion" in report.message

    empty = Recording(2.0)
    for k in range(61):
        frame = frames[k]
        empty.add(frame, poses[k] if k % 3 == 0 else None)  # a pose in only a third of the frames
    report = check_quality(empty.example())
    assert not report.ok and "found in only 34% of the frames" in report.message


def test_quality_gate_names_key_joints_outside_the_frame(data_root):
    from demo.pose import Pose

    times, poses, frames = tai_chi_poses(data_root)
    cropped = Recording(2.0)
    for k in range(61):
        pose = poses[30 + k]
        image = pose.image.copy()
        image[[13, 15], 1] += 1.0  # the left elbow and wrist below the bottom edge of the frame
        cropped.add(frames[30 + k], Pose(pose.world, image, pose.visibility, pose.presence))
    report = check_quality(cropped.example())
    assert not report.ok
    assert report.missing_joints == ["left elbow", "left wrist"]
    assert "out of view most of the time: left elbow, left wrist; step back" in report.message


def test_no_person_state_and_recovery(data_root, embedder):
    times, poses, _ = tai_chi_poses(data_root)
    from crossglg.oneshot import Gallery

    gallery = Gallery(embedder.dim, embedder.model_hash)
    gallery.add("tai chi", embedder.embed(segment_window(times, poses, 0.0, 2.0)[None]))
    settings = Settings(threshold=0.0, stride=1)
    recognizer = Recognizer(Matcher(embedder, gallery, settings), settings, asynchronous=False)
    labels = []
    for k, pose in enumerate(poses):
        t = float(times[k])
        labels.append(getattr(recognizer.feed(t, None if 70 <= k < 90 else pose), "label", None))
    assert "tai chi" in labels[60:70]
    assert NO_PERSON in labels[70:90]
    assert labels[70:90].count(NO_PERSON) == 1  # announced once, not repeated every frame


def test_threaded_pipeline_plays_a_file_and_predicts(data_root, embedder):
    """The live path: capture thread + processing thread + inference worker, as the app runs them."""
    from crossglg.oneshot import Gallery

    times, poses, _ = tai_chi_poses(data_root)
    gallery = Gallery(embedder.dim, embedder.model_hash)
    gallery.add("tai chi", embedder.embed(segment_window(times, poses, 0.0, 2.0)[None]))
    updates, predictions, done = [], [], threading.Event()
    settings = Settings(threshold=0.0, stride=3)
    with PoseEstimator() as estimator:
        pipeline = LivePipeline(
            estimator,
            embedder,
            gallery,
            settings,
            on_update=updates.append,
            on_prediction=predictions.append,
            on_finished=done.set,
        )
        pipeline.open(data_root / "videos" / "tai_chi.mp4", pace=True)
        deadline = time.monotonic() + 60
        while (len(predictions) < 3 or len(updates) < 40) and time.monotonic() < deadline:
            time.sleep(0.1)
        pipeline.close()
    assert predictions and predictions[-1].label == "tai chi"
    assert len(updates) >= 40
    assert all(u.pose.main is not None for u in updates)
    stamps = [u.frame.timestamp for u in updates]
    assert stamps == sorted(stamps)


def test_mediapipe_window_is_canonical(data_root):
    times, poses, _ = tai_chi_poses(data_root)
    window = segment_window(times, poses, 0.5, 2.5)
    assert window.shape == (3, 60, 25, 2) and window.dtype == np.float32
    assert np.isfinite(window).all()
    assert np.abs(window[:, 0, 0, 0]).max() < 1e-5  # origin: spine base of the first frame
    assert not window[..., 1].any()  # one person: the second body slot is empty


def test_a_stream_with_repeats_gaps_and_backwards_time_keeps_deciding(data_root, embedder):
    """The live buffer on a misbehaving stream: repeated timestamps are ignored (same decisions as the
    clean stream), a clock going back or a pause over 1 s restarts the buffer (the next decisions are
    those of a fresh start, never a window across the jump), an invalid timestamp is skipped."""
    from crossglg.oneshot import Gallery
    from demo.live.windows import GAP, INVALID, REPEAT, RESTART

    times, poses, _ = tai_chi_poses(data_root)
    gallery = Gallery(embedder.dim, embedder.model_hash)
    gallery.add("tai chi", embedder.embed(segment_window(times, poses, 0.0, 2.0)[None]))
    settings = Settings(threshold=0.0, stride=1, smoothing=1)

    def decisions(frames) -> tuple[Recognizer, list]:
        recognizer = Recognizer(Matcher(embedder, gallery, settings), settings, asynchronous=False)
        out = []
        for t, k in frames:
            prediction = recognizer.feed(t, poses[k])
            if prediction is not None:
                out.append((round(prediction.time, 4), prediction.label, round(prediction.score, 5)))
        return recognizer, out

    _, clean = decisions([(float(times[k]), k) for k in range(100)])
    assert len(clean) > 50
    doubled, repeated = decisions(
        [(float(times[k]), k) for k in range(100) for _ in range(2)] + [(float("nan"), 0)]
    )
    assert repeated == clean
    assert doubled.buffer.events[REPEAT] == 100 and doubled.buffer.events[INVALID] == 1

    _, fresh = decisions([(float(times[k - 40]), k) for k in range(40, 100)])
    back, restarted = decisions(
        [(float(times[k]), k) for k in range(40)] + [(float(times[k - 40]), k) for k in range(40, 100)]
    )
    assert back.buffer.events[RESTART] == 1
    assert fresh and restarted[-len(fresh) :] == fresh  # after the jump: exactly a fresh start

    _, fresh = decisions([(float(times[k]) + 5.0, k) for k in range(50, 100)])
    paused, after_gap = decisions([(float(times[k]) + (5.0 if k >= 50 else 0.0), k) for k in range(100)])
    assert paused.buffer.events[GAP] == 1
    assert fresh and after_gap[-len(fresh) :] == fresh


def test_one_channel_for_decisions_and_stream_problems_reported_once(data_root, embedder):
    """Decisions reach the caller only through on_prediction (a frame update carries none); a stream
    whose timestamps repeat and run back is reported once per kind, and every frame is still shown."""
    from crossglg.oneshot import Gallery
    from demo.capture import Frame

    times, poses, frames = tai_chi_poses(data_root)
    gallery = Gallery(embedder.dim, embedder.model_hash)
    gallery.add("tai chi", embedder.embed(segment_window(times, poses, 0.0, 2.0)[None]))
    updates, predictions, statuses = [], [], []
    settings = Settings(threshold=0.0, stride=2, hold=1)  # every decision shown as made
    with PoseEstimator() as estimator:
        pipeline = LivePipeline(
            estimator,
            None,
            None,
            settings,
            on_update=updates.append,
            on_prediction=predictions.append,
            on_status=statuses.append,
        )
        stamps = [k / 30 for k in range(50)] + [k / 30 for k in range(50)]  # runs back once
        stamps[10] = stamps[9]  # and repeats one timestamp
        for k, t in enumerate(stamps):
            pipeline.process(Frame(frames[k].image, t, time.monotonic(), k))
        pipeline.close()
    assert len(updates) == 100 and not hasattr(updates[0], "prediction")
    assert predictions == []
    assert statuses == [
        "the source repeats timestamps: duplicate frames are skipped",
        "the source's clock went back: recognition restarted",
    ]

    gallery_b = Gallery(embedder.dim, embedder.model_hash)
    gallery_b.add("other", embedder.embed(segment_window(times, poses, 1.0, 3.0)[None]))
    with PoseEstimator() as estimator:
        pipeline = LivePipeline(estimator, embedder, gallery, settings, on_prediction=predictions.append)
        pipeline.open(data_root / "videos" / "tai_chi.mp4", pace=True)
        deadline = time.monotonic() + 60
        while not predictions and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.set_gallery(gallery_b)
        count = len(predictions)
        while not any(p.label == "other" for p in predictions[count:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.close()
    assert predictions[0].label == "tai chi"
    assert any(p.label == "other" for p in predictions[count:])  # the swapped gallery is in use
