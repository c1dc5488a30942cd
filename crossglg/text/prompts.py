"""The two prompts that ask a language model for a global and a joint-level description of an action.

These exact strings are recorded in every description file, so a reader knows what the texts answer.
"""

from __future__ import annotations

from crossglg.skeleton import NTU25_JOINTS
from crossglg.text.lexicon import lexicon_parts

GLOBAL_PROMPT = (
    'Describe how a person performs the action "{action}" in one or two sentences, for a system that '
    "recognises actions from the 3-D positions of body joints. Name the body parts that matter most for "
    "recognising this action and mark each of them with double asterisks, for example **right arm** or "
    "**knees**. Use only body parts from this list: {joints}. Left and right are the performer's own left "
    "and right."
)
JOINT_PROMPT = (
    'For the action "{action}", write one short sentence for each of the following 25 body joints saying '
    "what that joint does during the action: how it moves, or that it stays still. Joints: {joints}. Left "
    "and right are the performer's own left and right. Answer with a JSON object that maps every joint "
    "name, spelt exactly as given, to its sentence."
)


def format_prompts(action: str) -> tuple[str, str]:
    """(global prompt, joint prompt) for one action name; the global one lists the lexicon's body parts."""
    action = " ".join(str(action).split())
    if not action:
        raise ValueError("action name is empty")
    global_prompt = GLOBAL_PROMPT.format(action=action, joints=", ".join(lexicon_parts()))
    joint_prompt = JOINT_PROMPT.format(action=action, joints=", ".join(NTU25_JOINTS))
    return global_prompt, joint_prompt
