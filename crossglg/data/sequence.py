"""The one sample type every reader returns and every window is cut from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class SkeletonFormatError(ValueError):
    """Malformed skeleton input; the message names the file and line so the user can find the fault."""

    def __init__(self, source: str, line: int | None, message: str):
        where = f"{source}:{line}" if line is not None else str(source)
        super().__init__(f"{where}: {message}")
        self.source = str(source)
        self.line = line


class EmptySkeletonError(SkeletonFormatError):
    """A well-formed file in which no frame holds a skeleton (MSR Action3D has one): data sets skip and
    report these instead of failing."""


@dataclass
class SkeletonSequence:
    """A skeleton clip in its source layout.

    ``joints`` is (M, T, J, C) float32: bodies, frames, joints of ``layout``, channels. Readers deliver the
    sensor frame (metres, right-handed, +y up); layouts with ``axes`` (MediaPipe) are mapped in conversion,
    so a live buffer of raw MediaPipe world landmarks can be wrapped as is. Frames where a body is absent
    are all-zero or NaN. ``timestamps`` (T,) in seconds when frames are irregular or time-stamped.
    """

    joints: np.ndarray
    layout: str
    label: int = -1
    label_name: str = ""
    subject: int = -1
    source: str = ""
    dataset: str = ""
    timestamps: np.ndarray | None = None
    confidence: np.ndarray | None = None  # (M, T, J) tracking state / score where the source gives one
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints, dtype=np.float32)
        if joints.ndim == 3:
            joints = joints[None]
        if joints.ndim != 4:
            raise ValueError(f"{self.source or 'sequence'}: joints must be (M, T, J, C), got {joints.shape}")
        self.joints = joints
        if self.timestamps is not None:
            ts = np.asarray(self.timestamps, dtype=np.float64)
            if ts.shape != (joints.shape[1],):
                raise ValueError(
                    f"{self.source or 'sequence'}: {ts.shape[0] if ts.ndim else 0} timestamps "
                    f"for {joints.shape[1]} frames"
                )
            if ts.size > 1 and np.any(np.diff(ts) <= 0):
                raise ValueError(f"{self.source or 'sequence'}: timestamps must increase strictly")
            self.timestamps = ts

    @property
    def num_bodies(self) -> int:
        return self.joints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.joints.shape[1]

    def __repr__(self) -> str:
        return (
            f"SkeletonSequence(dataset={self.dataset!r}, layout={self.layout!r}, shape={self.joints.shape}, "
            f"label={self.label} {self.label_name!r}, subject={self.subject}, source={self.source!r})"
        )
