"""Action descriptions written by a language model: file schema, prompts and the body-part lexicon.

The sentence encoder lives in ``crossglg.text.encoder`` (imported on demand: it pulls in torch models).
"""

from crossglg.text.descriptions import (
    ClassDescription,
    Descriptions,
    descriptions_for,
    load_descriptions,
    validate_descriptions,
)
from crossglg.text.lexicon import PART_TO_JOINTS, emphasised_parts, joint_targets, joints_for_part
from crossglg.text.prompts import GLOBAL_PROMPT, JOINT_PROMPT, format_prompts

__all__ = [
    "GLOBAL_PROMPT",
    "JOINT_PROMPT",
    "PART_TO_JOINTS",
    "ClassDescription",
    "Descriptions",
    "descriptions_for",
    "emphasised_parts",
    "format_prompts",
    "joint_targets",
    "joints_for_part",
    "load_descriptions",
    "validate_descriptions",
]
