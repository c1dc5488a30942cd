"""Fixed-size model windows: (C, T, V, M) = (3, 60, 25, 2) float32 in the canonical frame."""

from __future__ import annotations

import numpy as np

from crossglg.skeleton.convert import Converted, to_ntu25
from crossglg.skeleton.layouts import NTU25
from crossglg.skeleton.normalize import normalize

WINDOW_FRAMES = 60
WINDOW_BODIES = 2
# (C, T, V, M): x/y/z, frames, NTU-25 joints, bodies. The one definition every consumer of windows
# (models, Embedder, galleries, ONNX export, engines) checks against; docs/architecture.md.
WINDOW_SHAPE = (3, WINDOW_FRAMES, NTU25.num_joints, WINDOW_BODIES)
MIN_PRESENCE = 0.5  # a body seen in under half the frames never becomes the main actor


def select_actors(converted: Converted, max_bodies: int = WINDOW_BODIES) -> list[int]:
    """Main actor(s), main first: bodies present in >= half the frames before the rest, then the most
    motion (summed per-joint variance over present frames). In NTU two-person actions both are kept."""
    scores = []
    for m in range(converted.joints.shape[0]):
        present = converted.present[m]
        frames = converted.joints[m][present]
        motion = float(frames.var(axis=0).sum()) if len(frames) > 1 else 0.0
        scores.append((present.mean() >= MIN_PRESENCE, present.any(), motion))
    order = sorted(range(len(scores)), key=lambda m: scores[m], reverse=True)
    return [m for m in order if scores[m][1]][:max_bodies]


def resample(
    joints: np.ndarray,
    present: np.ndarray,
    times: np.ndarray,
    num_frames: int,
    span: tuple[float, float] | None = None,
) -> np.ndarray:
    """(M, T, 25, 3) -> (M, num_frames, 25, 3) by linear interpolation in time over each body's present
    frames; the grid spans the main body's first to last present frame (uniform in seconds when the
    source has timestamps, so dropped frames do not speed the motion up), or ``span`` (start, end) in
    the units of ``times``. A body outside its own present span is zero."""
    main_times = times[present[0]]
    start, stop = span or (main_times[0], main_times[-1])
    grid = np.linspace(start, stop, num_frames)
    out = np.zeros((joints.shape[0], num_frames) + joints.shape[2:], np.float64)
    for m in range(joints.shape[0]):
        t = times[present[m]]
        if len(t) == 0:
            continue
        values = joints[m][present[m]].reshape(len(t), -1)
        inside = (grid >= t[0]) & (grid <= t[-1])
        if len(t) == 1:
            out[m, inside] = values[0].reshape(joints.shape[2:])
            continue
        right = np.clip(np.searchsorted(t, grid[inside], side="right"), 1, len(t) - 1)
        left = right - 1
        w = ((grid[inside] - t[left]) / (t[right] - t[left]))[:, None]
        out[m, inside] = ((1 - w) * values[left] + w * values[right]).reshape((-1,) + joints.shape[2:])
    return out


def make_window(
    sequence, T: int = WINDOW_FRAMES, *, max_bodies: int = WINDOW_BODIES, scale: bool = False
) -> np.ndarray:
    """SkeletonSequence | Converted -> float32 (3, T, 25, max_bodies) canonical window.

    Converts to NTU-25, picks the main actor(s) (:func:`select_actors`), normalises into the canonical
    frame (metres unless ``scale``), resamples by timestamps where the sequence has them (else by frame
    index), and pads missing bodies with zeros.
    """
    converted = sequence if isinstance(sequence, Converted) else to_ntu25(sequence)
    actors = select_actors(converted, max_bodies)
    if not actors:
        raise ValueError(f"{getattr(sequence, 'source', '') or 'sequence'}: no body in any frame")
    joints = converted.joints[actors].astype(np.float64)
    present = converted.present[actors]
    frames = joints.shape[1]
    times = converted.timestamps if converted.timestamps is not None else np.arange(frames, dtype=np.float64)
    canonical = normalize(joints, present, scale=scale)
    if present[0].sum() < 2:
        canonical = np.repeat(canonical[:, present[0]][:, :1], T, axis=1)
        canonical[~present[:, present[0]][:, 0]] = 0
    else:
        canonical = resample(canonical, present, times, T)
    window = np.zeros((3, T, 25, max_bodies), np.float32)
    window[..., : len(actors)] = canonical.transpose(3, 1, 2, 0)
    return window


def window_from_frames(
    frames: np.ndarray, layout: str, timestamps=None, num_frames: int = WINDOW_FRAMES, **kwargs
) -> np.ndarray:
    """Window a live buffer: ``frames`` (T, J, C) of one body in ``layout`` (e.g. raw MediaPipe world
    landmarks, NaN where the pose was lost) with optional timestamps in seconds."""
    converted = to_ntu25(np.asarray(frames)[None], layout, timestamps=timestamps)
    return make_window(converted, num_frames, **kwargs)
