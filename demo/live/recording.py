"""Recording a one-shot example: ``seconds`` of the main person's poses, then the quality gate.

A recording always ends, within a wall-clock budget (``seconds`` + ``grace``), whatever the source does:

* it **completes** once it holds ``seconds`` of video. Its clock is the source's, re-based where the
  source jumps: a timestamp that goes back (a stream restarting its clock) or leaps ahead by more than
  ``max_gap`` (a camera that dropped and came back) continues from the previous frame, so the pieces
  are stitched and each stitch is counted (``breaks``; a looping file counts its loops too). The quality
  gate then warns about the jump. A repeated timestamp is a duplicate frame and is ignored.
* it is **cancelled** with a message naming the reason: by the user, by the pipeline (the source was
  changed or ended), or by :meth:`Recording.expire` once the budget is spent without enough video.

Thread-safe: frames arrive on the pipeline thread while the UI reads :meth:`Recording.status`; the
``on_done`` / ``on_cancelled`` callback runs exactly once, outside the lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from demo.capture import Frame
from demo.live.windows import mediapipe_window, stack_world
from demo.pose import NUM_LANDMARKS, Pose

# MediaPipe landmarks that must be seen for a usable example: shoulders, elbows, wrists, hips.
KEY_JOINTS = {
    11: "left shoulder",
    12: "right shoulder",
    13: "left elbow",
    14: "right elbow",
    15: "left wrist",
    16: "right wrist",
    23: "left hip",
    24: "right hip",
}

# Seconds of an example: the app records this much, whatever the recogniser's window length.
RECORD_SECONDS = 2.0

RECORDING, DONE, CANCELLED = "recording", "done", "cancelled"
CANCELLED_PREFIX = "recording cancelled"


@dataclass
class RecordedExample:
    """Poses captured for a one-shot example; ``world``/``image`` rows are NaN where no pose was found."""

    timestamps: np.ndarray  # (T,) the recording's (re-based) clock
    world: np.ndarray  # (T, 33, 3)
    image: np.ndarray  # (T, 33, 3)
    visibility: np.ndarray  # (T, 33)
    in_view: np.ndarray  # (T, 33) bool: joint inside the frame
    thumbnail: np.ndarray | None = None  # BGR frame from the middle of the recording
    breaks: int = 0  # jumps of the source stitched together (loop, clock reset, long gap)

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.world[:, 0, 0])

    def window(self) -> np.ndarray:
        """The canonical window of the whole recording, resampled to 60 frames by time."""
        if not self.present.any():
            raise ValueError("the recording holds no pose")
        return mediapipe_window(self.world, self.timestamps)


@dataclass
class QualityReport:
    ok: bool
    pose_fraction: float
    motion: float  # metres: spread (std) of the most-moving key joint
    missing_joints: list[str]
    message: str
    warnings: list[str] = field(default_factory=list)  # usable, but the user should look at the preview


def check_quality(
    example: RecordedExample, *, min_pose_fraction: float = 0.9, min_motion: float = 0.03
) -> QualityReport:
    """The recording gate: enough frames with a pose, enough motion, the key joints in view.

    "In view" means inside the frame (MediaPipe presence and image position), not unoccluded: an elbow
    hidden behind the body in a side view is part of many actions and must not fail the gate. Motion is
    the spread (std, metres) of the most-moving key joint, so a one-handed wave counts in full; slow
    tai chi on the real clips spreads >= 5 cm per 2 s, a still pose stays near landmark jitter.
    """
    n = len(example.timestamps)
    present = example.present
    fraction = float(present.mean()) if n else 0.0
    problems = []
    if n == 0 or fraction < min_pose_fraction:
        problems.append(
            f"a person was found in only {fraction:.0%} of the frames (need {min_pose_fraction:.0%}): "
            "stand where the camera sees you from head to hips, in good light"
        )
    missing: list[str] = []
    motion = 0.0
    if present.any():
        in_view = example.in_view[present]
        for j, name in KEY_JOINTS.items():
            if float(in_view[:, j].mean()) < 0.8:
                missing.append(name)
        if missing:
            problems.append(f"out of view most of the time: {', '.join(missing)}; step back from the camera")
        key = example.world[present][:, list(KEY_JOINTS)]
        motion = float(np.linalg.norm(key.std(axis=0), axis=-1).max()) if len(key) > 1 else 0.0
        if motion < min_motion:
            problems.append(
                f"too little motion ({motion * 100:.1f} cm, need {min_motion * 100:.0f} cm): "
                "perform the action while the progress bar runs"
            )
    warnings = []
    if example.breaks:
        times = "once" if example.breaks == 1 else f"{example.breaks} times"
        warnings.append(
            f"the video jumped {times} during the recording (a looping file or a dropped "
            "camera): check the preview"
        )
    ok = not problems
    message = "good example" if ok else "; ".join(problems)
    if ok and warnings:
        message += "; note: " + "; ".join(warnings)
    return QualityReport(
        ok=ok,
        pose_fraction=fraction,
        motion=motion,
        missing_joints=missing,
        message=message,
        warnings=warnings,
    )


@dataclass(frozen=True)
class RecordingStatus:
    """A snapshot of a recording, safe to hand to another thread."""

    state: str  # RECORDING, DONE or CANCELLED
    progress: float  # 0..1 of the requested seconds of video
    recorded: float  # seconds of video collected
    seconds: float  # seconds requested
    frames: int
    frames_with_pose: int
    breaks: int
    time_left: float  # wall-clock seconds until the budget runs out
    message: str = ""  # for CANCELLED: why


def cancel_message(reason: str | None) -> str:
    return f"{CANCELLED_PREFIX}: {reason}" if reason else CANCELLED_PREFIX


class Recording:
    """Collects the main person's poses for ``seconds`` of (re-based) source time; see the module doc."""

    def __init__(
        self,
        seconds: float = RECORD_SECONDS,
        on_done: Callable[[RecordedExample], None] | None = None,
        *,
        on_cancelled: Callable[[str], None] | None = None,
        grace: float = 3.0,
        max_gap: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not seconds > 0:
            raise ValueError(f"a recording needs a positive length, got {seconds!r} s")
        self.seconds = seconds
        self.grace = grace
        self.max_gap = max_gap
        self.on_done = on_done or (lambda ex: None)
        self.on_cancelled = on_cancelled or (lambda message: None)
        self._clock = clock
        self.started_at = clock()
        self.deadline = self.started_at + seconds + grace
        self._lock = threading.Lock()
        self._state = RECORDING
        self._message = ""
        self._t0: float | None = None
        self._last_raw: float | None = None
        self._offset = 0.0  # added to source time since the last stitch
        self._loop: int | None = None
        self._rows: list[tuple[float, Pose | None]] = []
        self._thumb: np.ndarray | None = None
        self.breaks = 0

    # state ---------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def done(self) -> bool:
        return self._state == DONE

    @property
    def finished(self) -> bool:
        return self._state != RECORDING

    def _recorded(self) -> float:
        if not self._rows:
            return 0.0
        assert self._t0 is not None  # set by the first frame, before any row
        return self._rows[-1][0] - self._t0

    def progress(self) -> float:
        return min(1.0, self._recorded() / self.seconds)

    def status(self) -> RecordingStatus:
        with self._lock:
            return RecordingStatus(
                state=self._state,
                progress=self.progress(),
                recorded=self._recorded(),
                seconds=self.seconds,
                frames=len(self._rows),
                frames_with_pose=sum(p is not None for _, p in self._rows),
                breaks=self.breaks,
                time_left=max(0.0, self.deadline - self._clock()),
                message=self._message,
            )

    # input ---------------------------------------------------------------------------------------------
    def _step(self) -> float:
        """A typical frame interval of this recording (used to stitch across a jump)."""
        if len(self._rows) < 2:
            return 1.0 / 30.0
        ts = np.array([t for t, _ in self._rows[-11:]])
        return float(np.median(np.diff(ts)))

    def add(self, frame: Frame, pose: Pose | None) -> None:
        example = None
        with self._lock:
            raw = float(frame.timestamp)
            if self._state != RECORDING or not math.isfinite(raw):
                return
            if self._last_raw is None:
                self._t0 = raw
            elif raw == self._last_raw:
                return  # a duplicate frame
            elif raw < self._last_raw or raw - self._last_raw > self.max_gap:
                self._offset = self._rows[-1][0] + self._step() - raw  # stitch: continue the clock
                self.breaks += 1
            elif frame.loop != self._loop:
                self.breaks += 1  # a looping file started over (its clock kept counting)
            self._last_raw, self._loop = raw, frame.loop
            t0 = self._t0
            assert t0 is not None  # set by the first frame (the branch above when _last_raw is None)
            t = raw + self._offset
            self._rows.append((t, pose))
            if self._thumb is None and t - t0 >= self.seconds / 2:
                self._thumb = frame.image.copy()
            if t - t0 >= self.seconds:
                self._state = DONE
                example = self._example()
        if example is not None:
            self.on_done(example)

    def cancel(self, reason: str | None = None) -> bool:
        """Ends an unfinished recording; ``on_cancelled`` gets "recording cancelled[: reason]"."""
        with self._lock:
            if self._state != RECORDING:
                return False
            self._state = CANCELLED
            self._message = cancel_message(reason)
        self.on_cancelled(self._message)
        return True

    def expire(self, now: float | None = None) -> bool:
        """Cancels the recording when its wall-clock budget is spent; True if it did so now."""
        with self._lock:
            now = self._clock() if now is None else now
            if self._state != RECORDING or now < self.deadline:
                return False
            budget = self.seconds + self.grace
            if not self._rows:
                reason = f"no video arrived within {budget:.0f} s (has the source stopped?)"
            else:
                reason = (
                    f"only {self._recorded():.1f} of {self.seconds:.1f} s of video arrived within "
                    f"{budget:.0f} s (the source stalled or dropped)"
                )
        return self.cancel(reason)

    def example(self) -> RecordedExample:
        with self._lock:
            return self._example()

    def _example(self) -> RecordedExample:
        rows = self._rows
        if not rows:
            empty = np.zeros((0, NUM_LANDMARKS, 3), np.float32)
            return RecordedExample(
                np.zeros(0),
                empty,
                empty.copy(),
                np.zeros((0, NUM_LANDMARKS), np.float32),
                np.zeros((0, NUM_LANDMARKS), bool),
                breaks=self.breaks,
            )
        poses = [p for _, p in rows]
        return RecordedExample(
            timestamps=np.array([t for t, _ in rows], np.float64),
            world=stack_world([p.world if p else None for p in poses]),
            image=stack_world([p.image if p else None for p in poses]),
            visibility=np.stack([p.visibility if p else np.zeros(NUM_LANDMARKS, np.float32) for p in poses]),
            in_view=np.stack([p.in_view() if p else np.zeros(NUM_LANDMARKS, bool) for p in poses]),
            thumbnail=self._thumb,
            breaks=self.breaks,
        )
