"""Recording never hangs: whatever the source does, a recording ends within its budget, either done or
cancelled with a message naming the reason. Real clips, real MediaPipe, real file streams (``file://``,
read as a camera that drops and reconnects)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from test_demo_support import cut_clip, tai_chi_poses

from demo.capture import Frame
from demo.live import NO_PERSON, LivePipeline, check_quality
from demo.live.recording import CANCELLED, DONE, Recording
from demo.pose import PoseEstimator

HANG_GUARD = 60.0  # seconds: only so that a regression fails instead of hanging the suite


@pytest.fixture(scope="module")
def estimator():
    with PoseEstimator() as est:
        yield est


@pytest.fixture(scope="module")
def short_clip(data_root, tmp_path_factory):
    """The first 1.5 s (45 frames) of tai_chi.mp4: a 2 s recording always crosses its end."""
    return cut_clip(data_root / "videos" / "tai_chi.mp4", tmp_path_factory.mktemp("clips") / "short.mp4", 45)


class Outcome:
    """Collects the one callback a recording ends with."""

    def __init__(self):
        self.examples, self.cancelled = [], []
        self.ended = threading.Event()

    def done(self, example) -> None:
        self.examples.append(example)
        self.ended.set()

    def cancel(self, message: str) -> None:
        self.cancelled.append(message)
        self.ended.set()

    def wait(self, pipeline: LivePipeline) -> None:
        """Polls ``recording_status()`` as the window does, until the recording has ended."""
        limit = time.monotonic() + HANG_GUARD
        while not self.ended.is_set() and time.monotonic() < limit:
            pipeline.recording_status()
            time.sleep(0.05)
        assert self.ended.is_set(), f"the recording did not end: {pipeline.recording_status()}"
        assert len(self.examples) + len(self.cancelled) == 1


def wait_for(condition, what: str) -> None:
    limit = time.monotonic() + HANG_GUARD
    while not condition() and time.monotonic() < limit:
        time.sleep(0.02)
    assert condition(), what


def playing(estimator, **callbacks) -> tuple[LivePipeline, list]:
    updates: list = []
    pipeline = LivePipeline(estimator, on_update=updates.append, **callbacks)
    return pipeline, updates


def test_a_recording_spans_the_loop_of_a_file(estimator, short_clip):
    """The reported hang: a 2 s recording crossing the end of a looping 1.5 s file completes, with its
    clock running on across the loop; the gate keeps it but says the video jumped."""
    pipeline, updates = playing(estimator)
    outcome = Outcome()
    try:
        pipeline.open(short_clip, pace=True, loop=True)
        wait_for(lambda: updates, "no frame shown")
        pipeline.start_recording(2.0, on_done=outcome.done, on_cancelled=outcome.cancel)
        outcome.wait(pipeline)
    finally:
        pipeline.close()
    assert outcome.cancelled == [] and len(outcome.examples) == 1
    example = outcome.examples[0]
    assert example.breaks >= 1  # it did cross the loop
    assert np.all(np.diff(example.timestamps) > 0)
    assert 2.0 <= example.timestamps[-1] - example.timestamps[0] < 2.3
    report = check_quality(example)
    assert report.ok, report.message
    assert "the video jumped" in report.message and report.warnings
    assert pipeline.recording_status() is None


def test_a_clock_that_restarts_leaps_repeats_or_sticks(data_root):
    """Timestamps going back (a stream restarting its clock, as the looping file used to) or leaping ahead
    are stitched; duplicates are ignored; a clock that never advances ends at the deadline."""
    times, poses, frames = tai_chi_poses(data_root)

    def frame_at(k: int, t: float) -> Frame:
        return Frame(frames[k].image, t, 0.0, k)

    restarted = Recording(2.0)
    for k in range(100):
        restarted.add(frame_at(k, (k if k < 30 else k - 30) / 30), poses[k])  # the clock restarts at 30
    leaped = Recording(2.0)
    for k in range(100):
        leaped.add(frame_at(k, k / 30 + (5.0 if k >= 30 else 0.0)), poses[k])  # 5 s without frames
    for rec in (restarted, leaped):
        assert rec.state == DONE and rec.breaks == 1
        example = rec.example()
        assert len(example.timestamps) == 61
        assert np.allclose(np.diff(example.timestamps), 1 / 30)  # stitched one frame after the last
        assert "the video jumped once" in check_quality(example).message

    doubled = Recording(2.0)
    for k in range(61):
        doubled.add(frame_at(k, k / 30), poses[k])
        doubled.add(frame_at(k, k / 30), poses[k])  # the same frame again
    assert doubled.state == DONE and doubled.breaks == 0 and len(doubled.example().timestamps) == 61

    now = [100.0]
    cancelled = []
    stuck = Recording(2.0, on_cancelled=cancelled.append, grace=3.0, clock=lambda: now[0])
    for k in range(100):
        stuck.add(frame_at(k, 0.5), poses[k])  # the clock never moves
    assert stuck.state == "recording" and stuck.status().progress == 0.0
    now[0] += 4.9
    assert not stuck.expire() and stuck.status().time_left == pytest.approx(0.1)
    now[0] += 0.2
    assert stuck.expire()
    assert cancelled == [
        "recording cancelled: only 0.0 of 2.0 s of video arrived within 5 s (the source stalled or dropped)"
    ]
    assert stuck.state == CANCELLED and not stuck.expire() and not stuck.cancel()
    stuck.add(frame_at(0, 9.0), poses[0])  # a late frame changes nothing
    assert stuck.status().frames == 1 and len(cancelled) == 1


def test_a_camera_that_drops_briefly_is_bridged(estimator, short_clip):
    """The file:// stream ends every 1.5 s and reconnects after 0.05 s: the recording runs on through the
    short gaps (resampled by time) and completes."""
    statuses: list[str] = []
    pipeline, updates = playing(estimator, on_status=statuses.append)
    outcome = Outcome()
    try:
        pipeline.open(short_clip.resolve().as_uri(), reconnect_seconds=0.05)
        wait_for(lambda: updates, "no frame shown")
        pipeline.start_recording(2.0, on_done=outcome.done, on_cancelled=outcome.cancel)
        outcome.wait(pipeline)
    finally:
        pipeline.close()
    assert outcome.cancelled == [], outcome.cancelled
    example = outcome.examples[0]
    assert example.breaks == 0 and len(example.timestamps) >= 5 and example.present.any()
    assert any("lost; reconnecting" in s for s in statuses) and any("reconnected" in s for s in statuses)


def test_a_camera_that_stays_away_cancels_at_the_deadline(estimator, short_clip):
    """The stream drops and its reconnection takes longer than the recording's budget: the recording is
    cancelled with the reason while the source is still reconnecting."""
    statuses: list[str] = []
    pipeline, updates = playing(estimator, on_status=statuses.append)
    outcome = Outcome()
    try:
        pipeline.open(short_clip.resolve().as_uri(), reconnect_seconds=30.0)
        wait_for(lambda: updates, "no frame shown")
        pipeline.start_recording(2.0, on_done=outcome.done, on_cancelled=outcome.cancel, grace=1.0)
        outcome.wait(pipeline)
        assert pipeline.running  # still waiting for the camera: the recording did not wait with it
    finally:
        pipeline.close()
    assert outcome.examples == []
    (message,) = outcome.cancelled
    assert message.startswith("recording cancelled: ")
    assert ("of 2.0 s of video arrived within 3 s" in message) or ("no video arrived within 3 s" in message)
    assert any("lost; reconnecting" in s for s in statuses)


def test_switching_the_source_cancels_and_the_next_recording_works(estimator, data_root):
    pipeline, updates = playing(estimator)
    first, second = Outcome(), Outcome()
    try:
        pipeline.open(data_root / "videos" / "tai_chi.mp4", loop=True)
        wait_for(lambda: updates, "no frame shown")
        pipeline.start_recording(2.0, on_done=first.done, on_cancelled=first.cancel)
        wait_for(lambda: (s := pipeline.recording_status()) is not None and s.frames >= 3, "nothing recorded")
        pipeline.open(data_root / "videos" / "clean_and_jerk.mp4", loop=True)
        assert first.cancelled == ["recording cancelled: source changed"] and first.examples == []
        assert pipeline.recording_status() is None
        shown = len(updates)
        wait_for(lambda: len(updates) > shown, "the new source shows nothing")
        pipeline.start_recording(2.0, on_done=second.done, on_cancelled=second.cancel)
        second.wait(pipeline)
    finally:
        pipeline.close()
    assert second.cancelled == [] and len(second.examples) == 1


def test_the_end_of_a_file_or_a_stop_cancels(estimator, short_clip):
    finished = threading.Event()
    pipeline, updates = playing(estimator, on_finished=finished.set)
    ended, stopped = Outcome(), Outcome()
    try:
        pipeline.open(short_clip, pace=True, loop=False)  # 1.5 s of video: too short for 2 s
        wait_for(lambda: updates, "no frame shown")
        pipeline.start_recording(2.0, on_done=ended.done, on_cancelled=ended.cancel)
        ended.wait(pipeline)
        assert finished.is_set()
        assert ended.cancelled == ["recording cancelled: the video ended"]

        pipeline.open(short_clip, pace=True, loop=True)
        pipeline.start_recording(2.0, on_done=stopped.done, on_cancelled=stopped.cancel)
        pipeline.stop()
        assert stopped.cancelled == ["recording cancelled: the video was stopped"]
        assert pipeline.recording_status() is None and not pipeline.running
    finally:
        pipeline.close()


def test_nobody_in_view_completes_and_the_gate_says_why(estimator):
    """A covered camera (uniform grey frames): MediaPipe finds nobody, the recording still ends on time
    and the quality gate names the problem; recognition says "no person"."""
    predictions = []
    pipeline = LivePipeline(estimator, on_prediction=predictions.append)
    outcome = Outcome()
    grey = np.full((256, 340, 3), 128, np.uint8)
    pipeline.start_recording(2.0, on_done=outcome.done, on_cancelled=outcome.cancel)
    for k in range(70):
        update = pipeline.process(Frame(grey, k / 30, time.monotonic(), k))
        assert update.pose.main is None
    pipeline.close()
    assert outcome.cancelled == [] and len(outcome.examples) == 1
    report = check_quality(outcome.examples[0])
    assert not report.ok and "a person was found in only 0% of the frames" in report.message
    assert [p.label for p in predictions] == [NO_PERSON]  # announced once
