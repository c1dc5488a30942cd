"""Rules that synthesise the NTU-25 joints a source does not measure.

One function per rule, shared by every source (Kinect v1, OpenNI, MSR Action3D, MediaPipe, OpenPose), so
a skeleton recorded live looks like the training data. Arrays are (..., 3) in the sensor frame (+y up);
missing values are NaN. The constants were measured on the six NTU RGB+D files in ``shared/data/ntu``
(Kinect v2 measures all 25 joints): medians over the frames where the joints involved are tracked.
"""

from __future__ import annotations

import numpy as np

SPINE_MID_FRACTION = 0.57  # spine mid sits 57 % of the way from spine base to spine shoulder
NECK_FRACTION = 0.34  # neck sits 34 % of the way from spine shoulder to head
HAND_FRACTION = 0.27  # |hand - wrist| / |wrist - elbow| (NTU: 0.24 left, 0.30 right)
HAND_TIP_FRACTION = 1.8  # hand tip = wrist + 1.8 (hand - wrist)     (NTU: 1.90 left, 1.72 right)
THUMB_ALONG = 1.13  # thumb = wrist + 1.13 (hand - wrist) + 0.64 |hand - wrist| * side
THUMB_SIDE = 0.64  # (NTU: |thumb - wrist| = 1.32 |hand - wrist|, along-axis part 1.13)
FOOT_FORWARD = 0.30  # foot = ankle + shin * (0.30 forward - 0.13 up)   (NTU: 9.2 cm forward,
FOOT_DOWN = 0.13  # 4.2 cm down of the ankle for a ~0.31 m shin)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 1e-9, v / norm, np.nan)


def _length(v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(v, axis=-1, keepdims=True)


def midpoint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spine base = mid-hip and spine shoulder = mid-shoulder when a source lacks them; head = mid-ears."""
    return (a + b) / 2


def spine_mid(spine_base: np.ndarray, spine_shoulder: np.ndarray) -> np.ndarray:
    return spine_base + SPINE_MID_FRACTION * (spine_shoulder - spine_base)


def neck(spine_shoulder: np.ndarray, head: np.ndarray) -> np.ndarray:
    return spine_shoulder + NECK_FRACTION * (head - spine_shoulder)


def body_axes(spine_base, spine_shoulder, left_hip, right_hip, left_shoulder, right_shoulder):
    """Per-frame (left, up, forward) unit vectors of the body; forward = left x up (right-handed)."""
    up = _unit(spine_shoulder - spine_base)
    across = left_hip - right_hip
    weak = np.linalg.norm(across, axis=-1, keepdims=True) < 0.02
    across = np.where(weak | np.isnan(across), left_shoulder - right_shoulder, across)
    across = across - np.sum(across * up, axis=-1, keepdims=True) * up
    left = _unit(across)
    forward = np.cross(left, up)
    return left, up, forward


def hand(wrist: np.ndarray, elbow: np.ndarray, toward: np.ndarray | None = None) -> np.ndarray:
    """Hand centre a fixed fraction of the forearm beyond the wrist, along the forearm or, when the
    source sees the hand (MediaPipe index/pinky knuckles), toward the mean knuckle."""
    forearm = wrist - elbow
    direction = _unit(forearm)
    if toward is not None:
        seen = _unit(toward - wrist)
        direction = np.where(np.isnan(seen), direction, seen)
    return wrist + HAND_FRACTION * _length(forearm) * direction


def hand_tip(wrist: np.ndarray, hand_: np.ndarray) -> np.ndarray:
    return wrist + HAND_TIP_FRACTION * (hand_ - wrist)


def thumb(wrist: np.ndarray, hand_: np.ndarray, side: np.ndarray) -> np.ndarray:
    """``side``: direction the thumb points away from the hand axis (the body's forward direction when
    the source has no thumb landmark: relaxed hands hold their thumbs forward)."""
    along = hand_ - wrist
    across = side - np.sum(side * _unit(along), axis=-1, keepdims=True) * _unit(along)
    return wrist + THUMB_ALONG * along + THUMB_SIDE * _length(along) * _unit(across)


def foot(
    ankle: np.ndarray, knee: np.ndarray, forward: np.ndarray, up: np.ndarray, toward: np.ndarray | None = None
) -> np.ndarray:
    """Foot ahead of and below the ankle, scaled by the shin; along the seen foot (MediaPipe heel ->
    foot index) when the source has it, else along the body's forward direction."""
    shin = _length(ankle - knee)
    offset = shin * (FOOT_FORWARD * forward - FOOT_DOWN * up)
    if toward is not None:
        seen = _unit(toward)
        offset = np.where(np.isnan(seen), offset, _length(offset) * seen)
    return ankle + offset
