"""Training augmentations on canonical windows (3, T, 25, M), each a small function; ``Augmenter``
chains them with probabilities. Absent bodies (all-zero) stay zero."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossglg.skeleton.layouts import NTU25
from crossglg.skeleton.window import resample

MIRROR = np.array(NTU25.mirror_permutation())


def _present(window: np.ndarray) -> np.ndarray:
    """(T, M) frames where a body exists."""
    return np.any(window != 0, axis=(0, 2))


def _apply_linear(window: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    present = _present(window)
    out = np.einsum("ij,jtvm->itvm", matrix, window)
    return out * present[None, :, None, :]


def rotation(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """3x3 rotation (radians): yaw about +y, pitch about +x, roll about +z."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def rotate(window: np.ndarray, yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Rotate about the origin (radians)."""
    return _apply_linear(window, rotation(yaw, pitch, roll))


def _descendants(joint: int) -> list[int]:
    below = [j for j, parent in enumerate(NTU25.parents) if parent == joint]
    return below + [d for j in below for d in _descendants(j)]


# the joints a limb turns about, parents before children (shoulders and hips, then elbows and knees), each
# with the joints below it
POSTURE_JOINTS = tuple(
    (NTU25.index(f"{side} {name}"), _descendants(NTU25.index(f"{side} {name}")))
    for name in ("shoulder", "hip", "elbow", "knee")
    for side in ("left", "right")
)


def posture(window: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """Each limb segment below a joint of POSTURE_JOINTS turned about that joint by its own rotation
    (``turns`` (8, 3): yaw, pitch, roll in radians), the same in every frame: people hold their arms and
    legs differently (a boxer's guard, a wide stance) and still perform the same action."""
    out = np.array(window, np.float32)
    for (joint, below), turn in zip(POSTURE_JOINTS, turns, strict=True):  # absent bodies: all zero, stay so
        pivot = out[:, :, joint : joint + 1]
        out[:, :, below] = np.einsum("ij,jtvm->itvm", rotation(*turn), out[:, :, below] - pivot) + pivot
    return out


def scale(window: np.ndarray, factors) -> np.ndarray:
    return _apply_linear(window, np.diag(np.broadcast_to(np.asarray(factors, float), (3,))))


def shear(window: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """``amounts`` (3, 3) off-diagonal shear factors (the diagonal is ignored)."""
    matrix = np.array(amounts, float)
    np.fill_diagonal(matrix, 1.0)
    return _apply_linear(window, matrix)


def jitter(window: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    present = _present(window)
    return window + rng.normal(0, sigma, window.shape) * present[None, :, None, :]


def drop_joints(window: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Occlusion: dropped joints collapse onto their parent (the root onto itself), so no bone points
    at the origin from far away."""
    out = window.copy()
    for j in joints:
        parent = max(NTU25.parents[j], 0)
        out[:, :, j] = window[:, :, parent]
    return out


def crop_and_resample(window: np.ndarray, start: float, length: float) -> np.ndarray:
    """Keep the span [start, start + length] (fractions of the clip) and stretch it back to T frames:
    a temporal crop that also changes speed."""
    t = window.shape[1]
    joints = window.transpose(3, 1, 2, 0)  # (M, T, V, C)
    present = _present(window).T
    times = np.arange(t, dtype=float)
    lo, hi = start * (t - 1), min(start + length, 1.0) * (t - 1)
    if present[0].sum() < 2:
        return window
    out = resample(joints, present, times, t, span=(lo, hi))
    return out.transpose(3, 1, 2, 0).astype(window.dtype)


def mirror(window: np.ndarray) -> np.ndarray:
    """Reflect x (the subject's left-right axis) and swap every left joint with its right twin, so the
    result is a real skeleton of the mirrored motion with anatomically correct names."""
    out = window[:, :, MIRROR].copy()
    out[0] = -out[0]
    return out


_SIDE = re.compile(r"\b(left|right)\b")


def mirror_labels(class_names: Sequence[str]) -> np.ndarray:
    """The label a mirrored window of each class must carry, so that mirroring never teaches a wrong one:
    a sided class whose mirror image is a class too takes its twin's ("front right kick" -> "front left
    kick"); a class that names no side, or both ("right and left waist stretch"), keeps its own; a sided
    class without a twin (MSRC-12 "push right") gets -1: it is never mirrored."""
    index = {name.lower(): i for i, name in enumerate(class_names)}
    out = np.arange(len(class_names))
    for i, name in enumerate(class_names):
        sides = set(_SIDE.findall(name.lower()))
        twin = _SIDE.sub(lambda m: "right" if m.group(1) == "left" else "left", name.lower())
        if twin in index and twin != name.lower():
            out[i] = index[twin]
        elif len(sides) == 1:
            out[i] = -1
    return out


@dataclass
class Augmenter:
    """Random augmentation of one window; magnitudes in radians / fractions / metres."""

    rotate_yaw: float = np.pi / 6
    rotate_tilt: float = np.pi / 18
    scale_range: tuple[float, float] = (0.9, 1.1)
    shear: float = 0.1
    jitter_sigma: float = 0.005
    drop_prob: float = 0.2  # chance that a window loses joints
    drop_max: int = 3
    crop_prob: float = 0.5
    crop_min: float = 0.7  # shortest kept span, fraction of the clip
    mirror_prob: float = 0.5
    posture_prob: float = 0.0  # chance that the limbs are turned (:func:`posture`)
    posture_angle: float = 0.3  # radians, the largest turn about each axis

    def __call__(self, window: np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
        return self.augment(window, rng)[0]

    def augment(
        self, window: np.ndarray, rng: np.random.Generator | int | None = None, may_mirror: bool = True
    ) -> tuple[np.ndarray, bool]:
        """The augmented window and whether it was mirrored (its label may change: :func:`mirror_labels`).
        ``may_mirror`` False keeps the side; the random draws are the same either way."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        out = np.asarray(window, np.float32)
        if self.crop_prob and rng.random() < self.crop_prob:
            length = rng.uniform(self.crop_min, 1.0)
            out = crop_and_resample(out, rng.uniform(0, 1 - length), length)
        if self.posture_prob and rng.random() < self.posture_prob:
            out = posture(out, rng.uniform(-self.posture_angle, self.posture_angle, (len(POSTURE_JOINTS), 3)))
        mirrored = bool(self.mirror_prob) and rng.random() < self.mirror_prob and may_mirror
        if mirrored:
            out = mirror(out)
        if self.shear:
            out = shear(out, rng.uniform(-self.shear, self.shear, (3, 3)))
        if self.scale_range != (1.0, 1.0):
            out = scale(out, rng.uniform(*self.scale_range))
        if self.rotate_yaw or self.rotate_tilt:
            out = rotate(
                out,
                rng.uniform(-self.rotate_yaw, self.rotate_yaw),
                rng.uniform(-self.rotate_tilt, self.rotate_tilt),
                rng.uniform(-self.rotate_tilt, self.rotate_tilt),
            )
        if self.jitter_sigma:
            out = jitter(out, self.jitter_sigma, rng)
        if self.drop_prob and rng.random() < self.drop_prob:
            out = drop_joints(out, rng.choice(25, rng.integers(1, self.drop_max + 1), replace=False))
        return out.astype(np.float32), mirrored
