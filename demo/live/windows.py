"""Recent poses -> the model's canonical 60-frame window, resampled by time.

:class:`PoseBuffer` holds the main person's joints in one skeleton layout (MediaPipe world landmarks in the
app; a Kinect v1/v2 or any registered layout when a recording is replayed) with their timestamps, so every
stream goes through the same windowing. It accepts any stream:
a repeated timestamp is ignored, a clock that runs backwards (a new source, a stream that restarted) or a
pause longer than ``max_gap`` starts the buffer afresh (a window must not interpolate across a jump), and
each such event is counted so the pipeline can report it; everything else is resampled by time.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from demo.pose import NUM_LANDMARKS

WINDOW_FRAMES = 60
MEDIAPIPE_LAYOUT = "mediapipe33"

REPEAT, RESTART, GAP, INVALID = "repeated timestamp", "clock went back", "gap", "invalid timestamp"


def layout_window(frames: np.ndarray, timestamps: np.ndarray | None, layout: str) -> np.ndarray:
    """(T, J, C) joints of one body in ``layout`` (NaN rows where no person) -> canonical (3, 60, 25, 2).

    The layout layer does the mapping to NTU-25, the canonical frame and the resampling by timestamps (so
    dropped frames do not speed the motion up).
    """
    from crossglg.skeleton import window_from_frames

    window = np.asarray(
        window_from_frames(
            np.asarray(frames, np.float32), layout, timestamps=timestamps, num_frames=WINDOW_FRAMES
        ),
        np.float32,
    )
    if window.shape != (3, WINDOW_FRAMES, 25, 2):
        raise ValueError(f"window_from_frames returned {window.shape}, expected (3, {WINDOW_FRAMES}, 25, 2)")
    return window


def mediapipe_window(world: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
    """(T, 33, 3) MediaPipe world landmarks (NaN rows where no pose) -> canonical (3, 60, 25, 2) window."""
    return layout_window(world, timestamps, MEDIAPIPE_LAYOUT)


def stack_world(worlds: list[np.ndarray | None], shape: tuple[int, ...] = (NUM_LANDMARKS, 3)) -> np.ndarray:
    """(T, J, C) from per-frame joints (default: 33 MediaPipe landmarks), NaN rows where there was no pose."""
    nan = np.full(shape, np.nan, np.float32)
    return np.stack([nan if w is None else w for w in worlds])


class PoseBuffer:
    """The main person's recent joints in ``layout`` with their timestamps (a few seconds' worth)."""

    def __init__(self, keep_seconds: float = 4.0, max_gap: float = 1.0, layout: str = MEDIAPIPE_LAYOUT):
        from crossglg.skeleton import get_layout

        spec = get_layout(layout)  # an unknown layout fails here, naming the known ones
        self.keep_seconds = keep_seconds
        self.max_gap = max_gap
        self.layout = spec.name
        self._shape = (spec.num_joints, spec.channels)
        self._items: deque[tuple[float, np.ndarray | None]] = deque()
        self.events: dict[str, int] = {REPEAT: 0, RESTART: 0, GAP: 0, INVALID: 0}

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def append(self, timestamp: float, world: np.ndarray | None) -> str | None:
        """Add one frame (``world``: (J, C) joints of the layout, None without a person). Returns None,
        or the event it caused (REPEAT / INVALID: the frame was ignored; RESTART / GAP: older frames were
        dropped, this one starts the buffer)."""
        if world is not None and np.shape(world) != self._shape:
            raise ValueError(f"a {self.layout} frame is {self._shape}, got {np.shape(world)}")
        event = None
        if not math.isfinite(timestamp):
            event = INVALID
        elif self._items:
            last = self._items[-1][0]
            if timestamp == last:
                event = REPEAT
            elif timestamp < last:
                event = RESTART
            elif timestamp - last > self.max_gap:
                event = GAP
        if event is not None:
            self.events[event] += 1
            if event in (REPEAT, INVALID):
                return event
            self.clear()
        self._items.append((timestamp, world))
        while self._items and self._items[0][0] < timestamp - self.keep_seconds:
            self._items.popleft()
        return event

    def presence(self, seconds: float) -> float:
        """Fraction of the frames of the last ``seconds`` that hold a pose."""
        if not self._items:
            return 0.0
        t_end = self._items[-1][0]
        recent = [w is not None for t, w in self._items if t >= t_end - seconds]
        return sum(recent) / len(recent)

    def coverage(self, seconds: float) -> float:
        """Fraction of the last ``seconds`` spanned by frames holding a pose."""
        if not self._items:
            return 0.0
        t_end = self._items[-1][0]
        ts = [t for t, w in self._items if w is not None and t >= t_end - seconds]
        if len(ts) < 2:
            return 0.0
        frames = [t for t, _ in self._items if t >= t_end - seconds]
        span = min(1.0, (max(ts) - min(ts)) / seconds)
        return span * len(ts) / max(len(frames), 1)

    def window(self, seconds: float) -> np.ndarray | None:
        """The canonical window for the last ``seconds``, or None without enough pose."""
        if not self._items:
            return None
        t_end = self._items[-1][0]
        items = [(t, w) for t, w in self._items if t >= t_end - seconds]
        if not any(w is not None for _, w in items):
            return None
        times = np.array([t for t, _ in items], np.float64)
        return layout_window(stack_world([w for _, w in items], self._shape), times, self.layout)
