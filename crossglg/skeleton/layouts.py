"""Skeleton layouts: joint names, parents and left/right pairs, held in one registry.

Every source format is described once here; conversion and normalisation work from these
descriptions, so a user can add a layout from their own code with :func:`register_layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layout:
    """A joint order. ``parents[j]`` is the index of j's parent, -1 for the root."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    channels: int = 3  # 3 for x y z; 3 for 2-D + score layouts too (x, y, score)
    description: str = ""
    left_right: tuple[tuple[int, int], ...] = field(default=())
    # (ntu25 joint, source joint) pairs for the same body point under another name; same names match anyway.
    ntu_equivalents: tuple[tuple[str, str], ...] = ()
    # 3x3 matrix taking raw source axes to the sensor frame (metres, right-handed, +y up); None = identity.
    axes: tuple[tuple[float, float, float], ...] | None = None
    two_d: bool = False  # x, y + score: depth is unknown and the third channel is a confidence

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents):
            n_joints, n_parents = len(self.joints), len(self.parents)
            raise ValueError(f"layout {self.name!r}: {n_joints} joints but {n_parents} parents")
        for j, p in enumerate(self.parents):
            if not (p == -1 or 0 <= p < len(self.joints)) or p == j:
                raise ValueError(f"layout {self.name!r}: joint {self.joints[j]!r} has bad parent {p}")
        if not self.left_right:
            object.__setattr__(self, "left_right", _pairs_by_name(self.joints))

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs, the edges of the skeleton tree."""
        return tuple((j, p) for j, p in enumerate(self.parents) if p >= 0)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {joint!r}") from None

    def mirror_permutation(self) -> list[int]:
        """Index map that swaps every left joint with its right twin (for mirroring)."""
        perm = list(range(self.num_joints))
        for a, b in self.left_right:
            perm[a], perm[b] = b, a
        return perm


def _pairs_by_name(joints: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    pairs = []
    for i, name in enumerate(joints):
        if name.startswith("left "):
            twin = "right " + name[len("left ") :]
            if twin in joints:
                pairs.append((i, joints.index(twin)))
    return tuple(pairs)


_REGISTRY: dict[str, Layout] = {}


def register_layout(layout: Layout, *, overwrite: bool = False) -> Layout:
    if layout.name in _REGISTRY and not overwrite:
        raise ValueError(f"layout {layout.name!r} is already registered (pass overwrite=True to replace it)")
    _REGISTRY[layout.name] = layout
    return layout


def get_layout(name: str | Layout) -> Layout:
    if isinstance(name, Layout):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def layout_names() -> list[str]:
    return sorted(_REGISTRY)


# NTU RGB+D / Kinect v2: the canonical layout every source is converted to.
NTU25 = register_layout(
    Layout(
        name="ntu25",
        joints=(
            "spine base",
            "spine mid",
            "neck",
            "head",
            "left shoulder",
            "left elbow",
            "left wrist",
            "left hand",
            "right shoulder",
            "right elbow",
            "right wrist",
            "right hand",
            "left hip",
            "left knee",
            "left ankle",
            "left foot",
            "right hip",
            "right knee",
            "right ankle",
            "right foot",
            "spine shoulder",
            "left hand tip",
            "left thumb",
            "right hand tip",
            "right thumb",
        ),
        # Official Kinect v2 tree (1-based parents
        # 2 1 21 3 21 5 6 7 21 9 10 11 1 13 14 15 1 17 18 19 2 8 8 12 12),
        # re-rooted at spine base (joint 0) which is its own parent in the official list.
        parents=(-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11),
        description="Kinect v2 / NTU RGB+D, 25 joints, metres",
    )
)
NTU25_JOINTS = NTU25.joints


# --- Source layouts -------------------------------------------------------------------------------------
# Joint names follow the canonical NTU-25 spelling wherever the source joint is the same body point, so
# conversion maps them by name; `ntu_equivalents` adds the few pairs whose source name differs.
# `axes` maps a source's raw axes to the sensor frame every conversion starts from (metres, right-handed,
# +y up); None means the reader already delivers that frame.

KINECT_V1 = register_layout(
    Layout(
        name="kinect_v1",
        joints=(
            "hip center",
            "spine",
            "shoulder center",
            "head",
            "left shoulder",
            "left elbow",
            "left wrist",
            "left hand",
            "right shoulder",
            "right elbow",
            "right wrist",
            "right hand",
            "left hip",
            "left knee",
            "left ankle",
            "left foot",
            "right hip",
            "right knee",
            "right ankle",
            "right foot",
        ),
        parents=(-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18),
        description="Kinect SDK v1 order, 20 joints (UTKinect-Action3D, MSRC-12), metres",
        ntu_equivalents=(("spine base", "hip center"), ("spine shoulder", "shoulder center")),
    )
)

MSR_ACTION3D = register_layout(
    Layout(
        name="msr_action3d",
        joints=(
            "left shoulder",
            "right shoulder",
            "neck",
            "spine",
            "left hip",
            "right hip",
            "hip center",
            "left elbow",
            "right elbow",
            "left wrist",
            "right wrist",
            "left hand",
            "right hand",
            "left knee",
            "right knee",
            "left ankle",
            "right ankle",
            "left foot",
            "right foot",
            "head",
        ),
        # From the data set viewer's bone list, rooted at hip center (joint 7, 1-based).
        parents=(2, 2, 3, 6, 6, 6, -1, 0, 1, 7, 8, 9, 10, 4, 5, 13, 14, 15, 16, 2),
        # Sides are ANATOMICAL and therefore swapped against the order usually cited for this set (which
        # starts "1 right shoulder"): in Kinect camera axes the cited "right" chain lies on the subject's
        # left, and the cited "left" wrist is the one that moves in every one-arm action (docs/skeleton.md).
        description="MSR Action3D order, 20 Kinect v1 joints; 'neck' is the Kinect v1 shoulder center",
        ntu_equivalents=(("spine base", "hip center"), ("spine shoulder", "neck")),
    )
)

OPENNI15 = register_layout(
    Layout(
        name="openni15",
        joints=(
            "head",
            "neck",
            "torso",
            "left shoulder",
            "left elbow",
            "left wrist",
            "right shoulder",
            "right elbow",
            "right wrist",
            "left hip",
            "left knee",
            "left ankle",
            "right hip",
            "right knee",
            "right ankle",
        ),
        parents=(1, 2, -1, 1, 3, 4, 1, 6, 7, 2, 9, 10, 2, 12, 13),
        description="OpenNI / NiTE 15 joints (Florence 3D Actions); 'neck' lies on the shoulder line",
        ntu_equivalents=(("spine shoulder", "neck"),),
    )
)

OPENPOSE18 = register_layout(
    Layout(
        name="openpose18",
        joints=(
            "nose",
            "spine shoulder",
            "right shoulder",
            "right elbow",
            "right wrist",
            "left shoulder",
            "left elbow",
            "left wrist",
            "right hip",
            "right knee",
            "right ankle",
            "left hip",
            "left knee",
            "left ankle",
            "right eye",
            "left eye",
            "right ear",
            "left ear",
        ),
        parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
        description="OpenPose COCO-18 (Kinetics-skeleton): x, y in image units (y down) and a score",
        # image x right, y down -> sensor frame with y up; depth unknown (stays 0).
        axes=((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 0.0)),
        two_d=True,
    )
)

MEDIAPIPE33 = register_layout(
    Layout(
        name="mediapipe33",
        joints=(
            "nose",
            "left eye inner",
            "left eye",
            "left eye outer",
            "right eye inner",
            "right eye",
            "right eye outer",
            "left ear",
            "right ear",
            "mouth left",
            "mouth right",
            "left shoulder",
            "right shoulder",
            "left elbow",
            "right elbow",
            "left wrist",
            "right wrist",
            "left pinky",
            "right pinky",
            "left index",
            "right index",
            "left thumb knuckle",
            "right thumb knuckle",
            "left hip",
            "right hip",
            "left knee",
            "right knee",
            "left ankle",
            "right ankle",
            "left heel",
            "right heel",
            "left foot index",
            "right foot index",
        ),
        parents=(
            -1,
            0,
            1,
            2,
            0,
            4,
            5,
            3,
            6,
            0,
            0,
            0,
            0,
            11,
            12,
            13,
            14,
            15,
            16,
            15,
            16,
            15,
            16,
            11,
            12,
            23,
            24,
            25,
            26,
            27,
            28,
            27,
            28,
        ),
        description="MediaPipe BlazePose 33 world landmarks (metres, origin hip centre, y down, z to camera)",
        # BlazePose world frame: x image-right, y down, z away from camera -> rotate 180 deg about x.
        axes=((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
    )
)
