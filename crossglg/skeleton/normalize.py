"""The canonical frame: metres, right-handed, +x the subject's anatomical left, +y up, +z the direction
the subject faces; origin at the main body's spine base in its first frame; rotated about y so the hip
line (right hip -> left hip) lies along +x.

"Up" is the body's, not the sensor's: sensors are tilted differently (measured spine pitch against the
sensor's y axis: NTU -16 deg, MSR Action3D -25 deg, MSRC-12 +3 deg), so before the rotation about y the
skeleton is tilted so that the spine of its most upright frames (spine base -> spine shoulder, averaged
over frames where head and ankles are >= 95 % of their largest distance) points along +y.
"""

from __future__ import annotations

import numpy as np

from crossglg.skeleton.layouts import NTU25

_SB, _SS = NTU25.index("spine base"), NTU25.index("spine shoulder")
_LH, _RH = NTU25.index("left hip"), NTU25.index("right hip")
_LS, _RS = NTU25.index("left shoulder"), NTU25.index("right shoulder")
_HEAD = NTU25.index("head")
_ANKLES = [NTU25.index("left ankle"), NTU25.index("right ankle")]
UPRIGHT_SHARE = 0.95
HEADING_FRAMES = 5  # the hip line is averaged over the main body's first 5 frames against jitter
MIN_LINE_M = 0.02  # a hip line shorter than 2 cm (seen edge-on) falls back to the shoulder line


def yaw_rotation(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """3x3 rotation about +y taking the main body's right->left hip line (or shoulder line) to +x."""
    frames = joints[0][present[0]][:HEADING_FRAMES]
    if len(frames) == 0:
        raise ValueError("no frame with the main body: cannot normalise")
    for a, b in ((_LH, _RH), (_LS, _RS)):
        line = (frames[:, a] - frames[:, b]).mean(axis=0)
        if np.hypot(line[0], line[2]) >= MIN_LINE_M:
            break
    else:
        return np.eye(3)  # a 2-D skeleton seen edge-on: keep the sensor's heading
    angle = np.arctan2(line[2], line[0])  # rotate by +angle about y maps (cos, 0, sin) onto +x
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def tilt_rotation(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """3x3 rotation (no yaw) taking the main body's upright spine direction onto +y."""
    frames = joints[0][present[0]]
    height = np.linalg.norm(frames[:, _HEAD] - frames[:, _ANKLES].mean(axis=1), axis=-1)
    tall = frames[height >= UPRIGHT_SHARE * height.max()]
    spine = (tall[:, _SS] - tall[:, _SB]).mean(axis=0)
    norm = np.linalg.norm(spine)
    if norm < 1e-6:
        return np.eye(3)
    up = spine / norm
    axis = np.cross(up, [0.0, 1.0, 0.0])
    sin, cos = np.linalg.norm(axis), up[1]
    if sin < 1e-9:
        return np.eye(3) if cos > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / sin
    skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sin * skew + (1 - cos) * skew @ skew


def torso_length(joints: np.ndarray, present: np.ndarray) -> float:
    """Mean spine base - spine shoulder distance of the main body, the scale unit when scaling."""
    frames = joints[0][present[0]]
    return float(np.linalg.norm(frames[:, _SS] - frames[:, _SB], axis=-1).mean())


def normalize(
    joints: np.ndarray, present: np.ndarray, *, scale: bool = False, upright: bool = True
) -> np.ndarray:
    """(M, T, 25, 3) NTU-25 sensor-frame joints -> canonical frame (absent frames stay zero).

    ``scale=True`` divides by the main body's mean torso length, for sources without metric depth
    (2-D OpenPose) or when body size should not matter; windows for the models keep metres by default.
    ``upright=False`` skips the tilt correction (keeps the sensor's vertical).
    """
    joints = np.asarray(joints, np.float64)
    first = int(np.argmax(present[0]))
    origin = joints[0, first, _SB].copy()
    out = joints - origin
    if upright:
        out = out @ tilt_rotation(out, present).T
    out = out @ yaw_rotation(out, present).T
    if scale:
        length = torso_length(out, present)
        if length > 1e-6:
            out = out / length
    out[~present] = 0.0
    return out
