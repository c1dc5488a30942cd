"""Pose sessions: the live MediaPipe stream kept (bounded) and saved to a file that replays exactly.

A session is what the recogniser was fed: per frame the source timestamp, the main person's world landmarks
and their visibility (NaN where nobody was found), plus the frames where recognition restarted (a looping
file starting over, a clock going back), so that ``crossglg-recognize --skeleton session.npz`` makes the
decisions the app made. The file (``.npz``, no pickle) is written by
:func:`crossglg.streaming.write_pose_session` and read by ``crossglg.data.read_file``; docs/app.md,
"Replay and pose sessions", specifies it.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.streaming import write_pose_session
from demo.live.windows import stack_world
from demo.pose import NUM_LANDMARKS, Pose

SESSION_MAX_FRAMES = 18_000  # the last 10 minutes at 30 fps (about 10 MB in memory)


@dataclass(frozen=True)
class SavedSession:
    path: Path
    frames: int
    seconds: float  # source time covered (sum over segments)
    segments: int


class SessionRecorder:
    """The frames fed to the recogniser, newest ``max_frames`` kept (0: all); thread-safe.

    A repeated or non-finite timestamp is not kept (the recogniser ignores those frames too); a clock that
    goes back starts a new segment, as does ``restart=True`` (the caller reset the recogniser).
    """

    def __init__(self, max_frames: int = SESSION_MAX_FRAMES):
        self._rows: deque[tuple[float, Pose | None, bool]] = deque(maxlen=max_frames or None)
        self._lock = threading.Lock()
        self.source = ""

    def clear(self, source: str = "") -> None:
        """Forget every frame; the next ones belong to ``source``."""
        with self._lock:
            self._rows.clear()
            self.source = source

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, timestamp: float, pose: Pose | None, *, restart: bool = False) -> bool:
        """Keep one frame; False when it was not kept (a duplicate or invalid timestamp)."""
        t = float(timestamp)
        with self._lock:
            if not math.isfinite(t):
                return False
            if self._rows and not restart:
                last = self._rows[-1][0]
                if t == last:
                    return False
                restart = t < last
            self._rows.append((t, pose, restart))
        return True

    def save(self, path: str | os.PathLike) -> SavedSession:
        """Write the frames kept so far (``crossglg.streaming.write_pose_session``, atomic); ValueError
        when there are none or ``path`` does not end in .npz, OSError when it cannot be written."""
        with self._lock:
            rows, source = list(self._rows), self.source
        if not rows:
            raise ValueError("no frames yet: open a camera or a video first")
        times = np.array([t for t, _, _ in rows], np.float64)
        starts = [0] + [i for i, (_, _, restart) in enumerate(rows) if restart and i > 0]
        world = stack_world([p.world if p is not None else None for _, p, _ in rows])
        visibility = stack_world(
            [p.visibility if p is not None else None for _, p, _ in rows], (NUM_LANDMARKS,)
        )
        written = write_pose_session(Path(path), times, world, visibility, starts, source=source)
        bounds = [*starts, len(rows)]
        seconds = sum(times[b - 1] - times[a] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        return SavedSession(written, len(rows), float(seconds), len(starts))
