"""Conversion of any registered layout to NTU-25, synthesising the joints a source lacks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossglg.skeleton import synthesis as rules
from crossglg.skeleton.layouts import NTU25, Layout, get_layout


@dataclass
class Converted:
    """An NTU-25 skeleton in the sensor frame (metres, right-handed, +y up).

    ``joints`` (M, T, 25, 3); ``measured`` (25,) True where the source measured the joint, False where a
    rule in :mod:`crossglg.skeleton.synthesis` made it; ``present`` (M, T) frames where the body exists
    (absent frames are zero).
    """

    joints: np.ndarray
    measured: np.ndarray
    present: np.ndarray
    source_layout: str
    timestamps: np.ndarray | None = None
    confidence: np.ndarray | None = None

    @property
    def synthesised_joints(self) -> list[str]:
        return [NTU25.joints[j] for j in np.flatnonzero(~self.measured)]


def ntu_mapping(layout: Layout) -> dict[int, int]:
    """{ntu25 index: source index} for joints the source measures (same name, or ``ntu_equivalents``; a
    source joint named in an equivalence is not also matched by its own name: MSR's "neck" is the
    shoulder centre, not NTU's neck)."""
    renamed = {source for _, source in layout.ntu_equivalents}
    same = [n for n in NTU25.joints if n in layout.joints and n not in renamed]
    mapping = {NTU25.index(n): layout.index(n) for n in same}
    for ntu_name, source_name in layout.ntu_equivalents:
        mapping[NTU25.index(ntu_name)] = layout.index(source_name)
    return mapping


def _present(joints: np.ndarray) -> np.ndarray:
    """(M, T): a body is present in a frame when it has a finite, non-zero joint."""
    finite = np.isfinite(joints).all(axis=-1)
    nonzero = np.any(joints != 0, axis=-1)
    return np.any(finite & nonzero, axis=-1)


def to_ntu25(
    source, layout: str | Layout | None = None, *, timestamps=None, mirrored: bool = False
) -> Converted:
    """Convert a (T, J, C) / (M, T, J, C) array in ``layout``, or a SkeletonSequence, to NTU-25.

    Raw axes are mapped with ``layout.axes`` (MediaPipe: y down -> up); 2-D layouts get z = 0 and their
    third channel becomes the confidence, with score-0 joints treated as missing. ``mirrored=True`` is for
    landmarks estimated on a horizontally mirrored image (a selfie preview, or NTU's RGB videos, which are
    mirrored: docs/skeleton.md): x is reflected and left/right names swapped, giving the real subject.
    """
    confidence = None
    if layout is None:
        if not hasattr(source, "layout"):
            raise TypeError("to_ntu25 needs a layout for a plain array")
        layout, timestamps, confidence = source.layout, source.timestamps, source.confidence
        source = source.joints
    layout = get_layout(layout)
    joints = np.asarray(source, dtype=np.float64)
    if joints.ndim == 3:
        joints = joints[None]
    if joints.ndim != 4 or joints.shape[2] != layout.num_joints or joints.shape[3] < 2:
        raise ValueError(
            f"layout {layout.name!r} expects (M, T, {layout.num_joints}, {layout.channels}) joints, "
            f"got {tuple(np.shape(source))}"
        )
    if layout.two_d:
        confidence = joints[..., 2].astype(np.float32)
        xyz = np.concatenate([joints[..., :2], np.zeros_like(joints[..., :1])], axis=-1)
        xyz[confidence <= 0] = np.nan
    else:
        xyz = joints[..., :3].copy()
    present = _present(np.nan_to_num(xyz, nan=0.0))
    xyz[~present] = np.nan
    if layout.axes is not None:
        xyz = xyz @ np.asarray(layout.axes, dtype=np.float64).T
        if layout.two_d:
            xyz[..., 2] = 0.0
    if mirrored:
        perm = layout.mirror_permutation()
        xyz = xyz[:, :, perm]
        xyz[..., 0] = -xyz[..., 0]
        if confidence is not None:
            confidence = np.asarray(confidence)[:, :, perm]

    if layout.name == NTU25.name:
        out = xyz
        measured = np.ones(25, bool)
    else:
        out, measured = _synthesise(xyz, layout)
    out = _fill_from_ancestors(out)
    present &= np.isfinite(out).all(axis=(2, 3))  # e.g. a 2-D frame whose hips and shoulders are unseen
    out[~present] = 0.0
    return Converted(
        joints=out.astype(np.float32),
        measured=measured,
        present=present,
        source_layout=layout.name,
        timestamps=None if timestamps is None else np.asarray(timestamps, np.float64),
        confidence=confidence,
    )


def _synthesise(xyz: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    m, t = xyz.shape[:2]
    out = np.full((m, t, 25, 3), np.nan)
    mapping = ntu_mapping(layout)
    measured = np.zeros(25, bool)
    for ntu_j, src_j in mapping.items():
        out[:, :, ntu_j] = xyz[:, :, src_j]
        measured[ntu_j] = True

    def get(name):
        return out[:, :, NTU25.index(name)]

    def put(name, value):
        out[:, :, NTU25.index(name)] = value

    def src(name):
        return xyz[:, :, layout.index(name)] if name in layout.joints else None

    def missing(name):
        return not measured[NTU25.index(name)]

    if missing("head"):
        ears = src("left ear"), src("right ear")
        if ears[0] is not None and ears[1] is not None:
            head = rules.midpoint(*ears)
            nose = src("nose")
            if nose is not None:
                head = np.where(np.isnan(head), nose, head)
            put("head", head)
    if missing("spine base"):
        put("spine base", rules.midpoint(get("left hip"), get("right hip")))
    if missing("spine shoulder"):
        put("spine shoulder", rules.midpoint(get("left shoulder"), get("right shoulder")))
    if missing("spine mid"):
        put("spine mid", rules.spine_mid(get("spine base"), get("spine shoulder")))
    if missing("neck"):
        put("neck", rules.neck(get("spine shoulder"), get("head")))

    left, up, forward = rules.body_axes(
        get("spine base"),
        get("spine shoulder"),
        get("left hip"),
        get("right hip"),
        get("left shoulder"),
        get("right shoulder"),
    )
    for side in ("left", "right"):
        wrist, elbow = get(f"{side} wrist"), get(f"{side} elbow")
        if missing(f"{side} hand"):
            knuckles = [src(f"{side} index"), src(f"{side} pinky")]
            toward = rules.midpoint(*knuckles) if all(k is not None for k in knuckles) else None
            put(f"{side} hand", rules.hand(wrist, elbow, toward))
        hand = get(f"{side} hand")
        if missing(f"{side} hand tip"):
            put(f"{side} hand tip", rules.hand_tip(wrist, hand))
        if missing(f"{side} thumb"):
            seen = src(f"{side} thumb knuckle")
            thumb_side = forward if seen is None else np.where(np.isnan(seen), forward, seen - wrist)
            put(f"{side} thumb", rules.thumb(wrist, hand, thumb_side))
        if missing(f"{side} foot"):
            heel, toe = src(f"{side} heel"), src(f"{side} foot index")
            toward = None if heel is None or toe is None else toe - heel
            put(f"{side} foot", rules.foot(get(f"{side} ankle"), get(f"{side} knee"), forward, up, toward))
    return out, measured


def _fill_from_ancestors(joints: np.ndarray) -> np.ndarray:
    """A joint still unknown (a 2-D joint with score 0) takes its nearest known ancestor's position, so
    windows never hold NaN; its confidence stays 0."""
    joints = joints.copy()
    for j in _topological_order():
        parent = NTU25.parents[j]
        if parent >= 0:
            hole = np.isnan(joints[:, :, j]).any(axis=-1)
            joints[:, :, j][hole] = joints[:, :, parent][hole]
    return joints


def _topological_order() -> list[int]:
    order, seen = [], set()

    def visit(j):
        if j in seen:
            return
        if NTU25.parents[j] >= 0:
            visit(NTU25.parents[j])
        seen.add(j)
        order.append(j)

    for j in range(25):
        visit(j)
    return order
