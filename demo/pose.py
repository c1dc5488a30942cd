"""MediaPipe Tasks pose estimation in VIDEO mode, keeping one "main" person across frames.

VIDEO mode tracks between frames (faster and steadier than per-image detection) but refuses a timestamp
that is not strictly larger than the previous one, also after switching to another source; the estimator
therefore maps every source's clock onto one monotonic millisecond counter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from crossglg.paths import resource_path
from demo.native_logs import quiet_native

DEFAULT_POSE_MODEL = resource_path("models", "pose_landmarker_full.task")
NUM_LANDMARKS = 33
QUIET_FIRST_FRAMES = 2  # frames whose native log noise is filtered (see demo.native_logs)
# MediaPipe pose landmark indices of the torso corners (shoulders, hips).
TORSO = (11, 12, 23, 24)
# MediaPipe's own connection list for drawing (pairs of landmark indices).
POSE_CONNECTIONS = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 7),
    (0, 4),
    (4, 5),
    (5, 6),
    (6, 8),
    (9, 10),
    (11, 12),
    (11, 13),
    (13, 15),
    (15, 17),
    (15, 19),
    (15, 21),
    (17, 19),
    (12, 14),
    (14, 16),
    (16, 18),
    (16, 20),
    (16, 22),
    (18, 20),
    (11, 23),
    (12, 24),
    (23, 24),
    (23, 25),
    (24, 26),
    (25, 27),
    (26, 28),
    (27, 29),
    (28, 30),
    (29, 31),
    (30, 32),
    (27, 31),
    (28, 32),
)


@dataclass
class Pose:
    """One person. ``world``: metres, origin at the hip centre, y down (MediaPipe world landmarks);
    ``image``: x, y normalised to the frame (0..1), z relative depth; ``visibility``: 0..1, low when the
    joint is occluded; ``presence``: 0..1, low when the joint is outside the frame."""

    world: np.ndarray  # (33, 3) float32
    image: np.ndarray  # (33, 3) float32
    visibility: np.ndarray  # (33,) float32
    presence: np.ndarray | None = None  # (33,) float32

    def in_view(self, min_presence: float = 0.5) -> np.ndarray:
        """(33,) bool: the joint lies inside the frame."""
        inside = np.all((self.image[:, :2] >= 0.0) & (self.image[:, :2] <= 1.0), axis=1)
        presence = self.presence if self.presence is not None else self.visibility
        return inside & (presence >= min_presence)

    def torso_centre(self) -> np.ndarray:
        return self.image[list(TORSO), :2].mean(axis=0)

    def torso_size(self) -> float:
        pts = self.image[list(TORSO), :2]
        return float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0))) + 1e-6


@dataclass
class PoseResult:
    main: Pose | None
    others: list[Pose] = field(default_factory=list)
    ms: float = 0.0  # time spent in the pose network for this frame


class MainPersonTracker:
    """Chooses the main person: the largest torso at first, then whoever is nearest to where the main
    person was last seen, so a second person walking by does not steal the label."""

    def __init__(self, forget_after: float = 1.0) -> None:
        self.forget_after = forget_after
        self._centre: np.ndarray | None = None
        self._size = 0.0
        self._seen_at = -np.inf

    def reset(self) -> None:
        self._centre, self._seen_at = None, -np.inf

    def choose(self, poses: list[Pose], now: float) -> int | None:
        if not poses:
            return None
        if self._centre is None or now - self._seen_at > self.forget_after:
            best = int(np.argmax([p.torso_size() for p in poses]))
        else:
            dists = [np.linalg.norm(p.torso_centre() - self._centre) / max(self._size, 1e-3) for p in poses]
            best = int(np.argmin(dists))
        self._centre = poses[best].torso_centre()
        self._size = poses[best].torso_size()
        self._seen_at = now
        return best


class PoseEstimator:
    """Wraps ``PoseLandmarker`` (VIDEO mode). Accepts our bundle or the official lite/full/heavy ones.

    MediaPipe's native log noise at creation, on the first frames and at closing is filtered unless
    :func:`demo.native_logs.configure` was told ``verbose``."""

    def __init__(
        self, model_path: str | Path | None = None, *, num_poses: int = 2, min_confidence: float = 0.5
    ) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        self.model_path = Path(model_path) if model_path else DEFAULT_POSE_MODEL
        if not self.model_path.is_file():
            raise FileNotFoundError(
                f"pose model not found: {self.model_path} (rebuild it with scripts/make_pose_bundle.py, "
                "or pass an official pose_landmarker_*.task with --pose-model)"
            )
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=num_poses,
            min_pose_detection_confidence=min_confidence,
            min_pose_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        try:
            with quiet_native():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except Exception as exc:  # mediapipe raises RuntimeError/ValueError with C++ status text
            raise ValueError(
                f"{self.model_path}: not a usable MediaPipe pose landmarker bundle ({exc})"
            ) from exc
        self._mp = __import__("mediapipe")
        self.tracker = MainPersonTracker()
        self._frames = 0
        self._last_ms = -1
        self._offset_ms = 0
        self._source_last_ms: int | None = None

    def new_source(self) -> None:
        """Call when the frames start coming from another source (its clock restarts)."""
        self._offset_ms = self._last_ms + 1
        self._source_last_ms = None
        self.tracker.reset()

    def _timestamp_ms(self, seconds: float) -> int:
        ms = int(round(seconds * 1000.0))
        if self._source_last_ms is None:
            self._offset_ms = self._last_ms + 1 - ms
        self._source_last_ms = ms
        stamp = max(ms + self._offset_ms, self._last_ms + 1)
        self._last_ms = stamp
        return stamp

    def process(self, image_bgr: np.ndarray, timestamp: float) -> PoseResult:
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        start = time.perf_counter()
        if self._frames < QUIET_FIRST_FRAMES:  # MediaPipe logs its set-up warnings on the first frames
            with quiet_native():
                result = self._landmarker.detect_for_video(image, self._timestamp_ms(timestamp))
        else:
            result = self._landmarker.detect_for_video(image, self._timestamp_ms(timestamp))
        ms = (time.perf_counter() - start) * 1000.0
        self._frames += 1
        poses = [
            Pose(
                world=np.array([[p.x, p.y, p.z] for p in world], np.float32),
                image=np.array([[p.x, p.y, p.z] for p in norm], np.float32),
                visibility=np.array([p.visibility or 0.0 for p in norm], np.float32),
                presence=np.array([p.presence or 0.0 for p in norm], np.float32),
            )
            for world, norm in zip(result.pose_world_landmarks, result.pose_landmarks, strict=True)
        ]
        main = self.tracker.choose(poses, timestamp)
        if main is None:
            return PoseResult(main=None, others=[], ms=ms)
        return PoseResult(main=poses[main], others=[p for i, p in enumerate(poses) if i != main], ms=ms)

    def close(self) -> None:
        """Always call (or use ``with``): mediapipe's own finaliser fails during interpreter teardown."""
        if self._landmarker is not None:
            with quiet_native():
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
