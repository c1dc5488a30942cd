"""Replaying a recorded skeleton stream through the app's own recogniser.

Any recording the readers understand (a Kinect v1/v2 file, a PRECOG or MSRC-12 session, a pose session the
app saved) goes through the very code the live app runs: :class:`~demo.live.recognition.Recognizer` (buffer,
stride, no-person state) over a :class:`~demo.live.recognition.Matcher` (embedding, smoothing, open-set
decision), only with frames in the recording's layout instead of MediaPipe's. So the numbers measured on
recordings (benchmarks/bench_streaming.py) are the app's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from crossglg.data import SkeletonSequence
from demo.live.recognition import Matcher, Prediction, Recognizer
from demo.live.settings import Settings
from demo.live.windows import layout_window, stack_world

DEFAULT_FPS = 30.0  # frame rate assumed for recordings without timestamps (the Kinect sets' rate)


def stream_frames(sequence: SkeletonSequence, body: int = 0) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """(timestamps (T,), per frame the joints (J, C) of one body or None where it has no skeleton).

    The body is the reader's first (the main actor: readers order bodies by activity); a frame whose
    joints are all zero or NaN has no skeleton ("no person"). Timestamps are the sequence's own, else
    frame / 30 s.
    """
    joints = np.asarray(sequence.joints[body], np.float32)
    times = (
        np.asarray(sequence.timestamps, np.float64)
        if sequence.timestamps is not None
        else np.arange(len(joints), dtype=np.float64) / DEFAULT_FPS
    )
    has_skeleton = np.any(np.isfinite(joints) & (joints != 0), axis=(1, 2))
    return times, [frame if present else None for frame, present in zip(joints, has_skeleton, strict=True)]


def cut_window(
    times: np.ndarray, frames: Sequence[np.ndarray | None], layout: str, start: float, end: float
) -> np.ndarray:
    """The canonical window of the frames between ``start`` and ``end`` seconds (an enrolment segment);
    LookupError when none of them holds a skeleton."""
    from crossglg.skeleton import get_layout

    idx = [i for i, t in enumerate(times) if start <= t <= end]
    if not any(frames[i] is not None for i in idx):
        raise LookupError(f"no pose between {start:g} s and {end:g} s")
    spec = get_layout(layout)
    stacked = stack_world([frames[i] for i in idx], (spec.num_joints, spec.channels))
    return layout_window(stacked, np.asarray(times)[idx], spec.name)


def replay(
    stream: SkeletonSequence | Sequence[SkeletonSequence],
    embedder,
    gallery,
    settings: Settings | None = None,
    *,
    timestamps: np.ndarray | None = None,
    on_prediction: Callable[[Prediction], None] | None = None,
    max_frames: int = 0,
) -> list[Prediction]:
    """Every decision the app would make on a recorded stream, in order.

    ``stream``: one SkeletonSequence, or the segments of one recording (:func:`crossglg.streaming.
    read_stream`; recognition restarts between segments, as the app did where they were cut).
    ``timestamps`` replaces a single sequence's own (a stream whose clock repeats or goes back, which a
    SkeletonSequence cannot hold; the buffer skips repeats and restarts where the clock goes back).
    ``settings``: the app's defaults when None. ``on_prediction`` sees each decision as it is made;
    ``max_frames`` stops after that many frames (0: all). Decisions carry the source time of their newest
    frame and ``compute_ms``, the time the decision took here.
    """
    segments = [stream] if isinstance(stream, SkeletonSequence) else list(stream)
    if not segments:
        raise ValueError("nothing to replay: no sequence given")
    layouts = {s.layout for s in segments}
    if len(layouts) != 1:
        raise ValueError(f"the segments of one stream must share a layout, got {sorted(layouts)}")
    if timestamps is not None and len(segments) != 1:
        raise ValueError("timestamps= replaces the clock of a single sequence, not of several segments")
    settings = settings or Settings()
    recognizer = Recognizer(
        Matcher(embedder, gallery, settings), settings, asynchronous=False, layout=layouts.pop()
    )
    out: list[Prediction] = []
    fed = 0
    for k, segment in enumerate(segments):
        if k:
            recognizer.reset()
        times, frames = stream_frames(segment)
        if timestamps is not None:
            times = np.asarray(timestamps, np.float64)
            if times.shape != (len(frames),):
                raise ValueError(f"{len(times)} timestamps for {len(frames)} frames")
        for t, joints in zip(times, frames, strict=True):
            if max_frames and fed >= max_frames:
                return out
            fed += 1
            prediction = recognizer.feed_joints(float(t), joints)
            if prediction is not None:
                out.append(prediction)
                if on_prediction is not None:
                    on_prediction(prediction)
    return out
