"""Body-part lexicon: the one place where words in a description become NTU-25 joints.

The language model marks key body parts in a global description with ``**...**``. The model's
joint-importance calibration needs those words as joints, so every emphasised word must be a key of
:data:`PART_TO_JOINTS`. Validation, the description generator and training all use this table.

Indices are 0-based NTU-25 (see ``crossglg.skeleton.NTU25_JOINTS``). A part named without a side
("arm", "knee") means both sides; plural forms mean both sides too.
"""

from __future__ import annotations

import re

import numpy as np

from crossglg.skeleton import NTU25_JOINTS

NUM_JOINTS = len(NTU25_JOINTS)
DEFAULT_SMOOTHING = 0.1

_J = {name: i for i, name in enumerate(NTU25_JOINTS)}


def _side(side: str, *names: str) -> tuple[int, ...]:
    return tuple(_J[f"{side} {n}"] for n in names)


def _both(*names: str) -> tuple[int, ...]:
    return tuple(sorted(_side("left", *names) + _side("right", *names)))


# Sided parts: name -> NTU joint names without the side word.
_SIDED_PARTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("arm",): ("shoulder", "elbow", "wrist", "hand", "hand tip", "thumb"),
    ("upper arm",): ("shoulder", "elbow"),
    ("forearm", "lower arm"): ("elbow", "wrist", "hand"),
    ("hand", "fist"): ("hand", "hand tip", "thumb"),
    ("fingers", "finger", "fingertips"): ("hand tip", "thumb"),
    ("palm",): ("hand",),
    ("leg",): ("hip", "knee", "ankle", "foot"),
    ("thigh", "upper leg"): ("hip", "knee"),
    ("shin", "lower leg", "calf"): ("knee", "ankle"),
    ("heel",): ("ankle",),
    ("toes",): ("foot",),
}
# Plural forms of the sided parts (both sides).
_PLURALS = {
    "arm": "arms",
    "upper arm": "upper arms",
    "forearm": "forearms",
    "lower arm": "lower arms",
    "hand": "hands",
    "fist": "fists",
    "palm": "palms",
    "leg": "legs",
    "thigh": "thighs",
    "upper leg": "upper legs",
    "shin": "shins",
    "lower leg": "lower legs",
    "calf": "calves",
    "heel": "heels",
    "shoulder": "shoulders",
    "elbow": "elbows",
    "wrist": "wrists",
    "hip": "hips",
    "knee": "knees",
    "ankle": "ankles",
    "foot": "feet",
    "thumb": "thumbs",
    "hand tip": "hand tips",
}
_TORSO = (_J["spine base"], _J["spine mid"], _J["spine shoulder"])
_HEAD_NECK = (_J["neck"], _J["head"])
_PELVIS = (_J["spine base"], _J["left hip"], _J["right hip"])


def _build() -> dict[str, tuple[int, ...]]:
    table: dict[str, tuple[int, ...]] = {}
    # Every NTU joint name is a part of its own ("left hand" is widened below to the hand with its tip
    # and thumb: a description saying **left hand** means the whole hand).
    for i, name in enumerate(NTU25_JOINTS):
        table[name] = (i,)
    # Unsided joint words and their plurals mean both sides.
    for word in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "foot", "thumb", "hand tip"):
        table[word] = _both(word)
        table[_PLURALS[word]] = _both(word)
    for aliases, members in _SIDED_PARTS.items():
        for alias in aliases:
            for side in ("left", "right"):
                table[f"{side} {alias}"] = _side(side, *members)
            table[alias] = _both(*members)
            if alias in _PLURALS:
                table[_PLURALS[alias]] = _both(*members)
    table.update(
        {
            "head": (_J["head"],),
            "face": (_J["head"],),
            "neck": (_J["neck"],),
            "torso": _TORSO,
            "trunk": _TORSO,
            "spine": _TORSO,
            "upper body": _TORSO[1:] + _HEAD_NECK + _both("shoulder", "elbow", "wrist", "hand"),
            "lower body": tuple(sorted(_PELVIS + _both("knee", "ankle", "foot"))),
            "back": (_J["spine mid"], _J["spine shoulder"]),
            "upper back": (_J["spine shoulder"],),
            "lower back": (_J["spine base"], _J["spine mid"]),
            "chest": (_J["spine mid"], _J["spine shoulder"]),
            "waist": _PELVIS[:1] + (_J["spine mid"],),
            "pelvis": _PELVIS,
            "whole body": tuple(range(NUM_JOINTS)),
            "body": tuple(range(NUM_JOINTS)),
        }
    )
    return {k: tuple(sorted(set(v))) for k, v in table.items()}


PART_TO_JOINTS: dict[str, tuple[int, ...]] = _build()
"""Body-part word (lowercase, single spaces) -> 0-based NTU-25 joint indices."""

_EMPHASIS = re.compile(r"\*\*(.+?)\*\*", re.S)


def normalise_part(part: str) -> str:
    return " ".join(part.lower().split())


def emphasised_parts(text: str) -> list[str]:
    """Body parts marked ``**like this**`` in a global description, normalised, in order of appearance."""
    return [normalise_part(m) for m in _EMPHASIS.findall(text)]


def joints_for_part(part: str) -> tuple[int, ...]:
    key = normalise_part(part)
    try:
        return PART_TO_JOINTS[key]
    except KeyError:
        raise KeyError(
            f"body part {part!r} is not in the lexicon (crossglg/text/lexicon.py); "
            f"use one of e.g. 'right arm', 'hands', 'left knee', 'legs', 'torso', 'head'"
        ) from None


def mentioned_parts(text: str) -> list[str]:
    """Lexicon words found in plain text (longest match first): the fallback when nothing is emphasised."""
    found: list[str] = []
    lowered = " " + re.sub(r"[^a-z ]+", " ", text.lower()) + " "
    for part in sorted(PART_TO_JOINTS, key=len, reverse=True):
        needle = f" {part} "
        if needle in lowered:
            found.append(part)
            lowered = lowered.replace(needle, " | ")
    return found


def key_joints(global_text: str) -> tuple[int, ...]:
    """Sorted union of the joints of all emphasised parts (unknown parts raise KeyError)."""
    joints: set[int] = set()
    for part in emphasised_parts(global_text):
        joints.update(joints_for_part(part))
    return tuple(sorted(joints))


def joint_targets(global_text: str, smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """Key-joint target distribution (25,) float32 summing to 1, for the joint-importance loss.

    Rule: the emphasised joints K share ``1 - smoothing`` equally; ``smoothing`` is spread uniformly
    over all 25 joints, so no joint has zero mass (the loss stays finite and unmentioned joints still
    count a little). A text with no emphasis falls back to body-part words mentioned in plain text,
    and with none of those to the uniform distribution; validation reports such texts as errors.
    """
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must lie in [0, 1], got {smoothing}")
    joints = key_joints(global_text)
    if not joints:
        joints = tuple(sorted({j for p in mentioned_parts(global_text) for j in PART_TO_JOINTS[p]}))
    target = np.full(NUM_JOINTS, 1.0 / NUM_JOINTS, dtype=np.float64)
    if joints:
        focus = np.zeros(NUM_JOINTS)
        focus[list(joints)] = 1.0 / len(joints)
        target = (1.0 - smoothing) * focus + smoothing * target
    return (target / target.sum()).astype(np.float32)


def lexicon_parts() -> list[str]:
    """The lexicon words in a readable order (group words first, then NTU joint names)."""
    joint_names = set(NTU25_JOINTS)
    return [p for p in PART_TO_JOINTS if p not in joint_names] + list(NTU25_JOINTS)
