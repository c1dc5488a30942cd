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

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents):
            raise ValueError(f"layout {self.name!r}: {len(self.joints)} joints but {len(self.parents)} parents")
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
            "spine base", "spine mid", "neck", "head",
            "left shoulder", "left elbow", "left wrist", "left hand",
            "right shoulder", "right elbow", "right wrist", "right hand",
            "left hip", "left knee", "left ankle", "left foot",
            "right hip", "right knee", "right ankle", "right foot",
            "spine shoulder", "left hand tip", "left thumb", "right hand tip", "right thumb",
        ),
        # Official Kinect v2 tree (1-based parents 2 1 21 3 21 5 6 7 21 9 10 11 1 13 14 15 1 17 18 19 2 8 8 12 12),
        # re-rooted at spine base (joint 0) which is its own parent in the official list.
        parents=(-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11),
        description="Kinect v2 / NTU RGB+D, 25 joints, metres",
    )
)
NTU25_JOINTS = NTU25.joints
