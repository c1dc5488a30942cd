"""The description of every class in the merged training label space (for the text features).

Base classes from several data sets share one label space (e.g. MSRC-12's 12 + MSR Action3D's 15), and each
keeps the description written for its own data set's class list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crossglg.text.descriptions import ClassDescription, Descriptions

# Data set name (SkeletonSequence.dataset) -> class-list / description file name.
CLASS_LIST_OF = {
    "msr_action3d": "msr_action3d",
    "msrc12": "msrc12",
    "utkinect": "utkinect",
    "florence": "florence",
    "kinder_gator": "kinder_gator",
    "nw_ucla": "nw_ucla",
    "gtu3d": "gtu3d",
    "precog": "precog",
    "no_action": "no_action",  # the "no action" class (crossglg.training.data, data.no_action_persons)
    "ntu": "ntu120",
    "ntu120": "ntu120",
    "ntu60": "ntu120",
}


def class_descriptions(class_keys: list[tuple[str, int]]) -> list[ClassDescription]:
    """ClassDescription for each (dataset, 0-based label) key, from ``resources/descriptions``."""
    from crossglg.text.descriptions import descriptions_for

    cache: dict[str, Descriptions] = {}
    out = []
    for dataset, label in class_keys:
        list_name = CLASS_LIST_OF.get(dataset)
        if list_name is None:
            raise KeyError(f"no description file is known for data set {dataset!r}")
        if list_name not in cache:
            cache[list_name] = descriptions_for(list_name)
        out.append(cache[list_name].by_id(int(label) + 1))
    return out
