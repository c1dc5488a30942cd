"""The description of every class in the merged training label space (for the text features).

Base classes from several data sets share one label space (e.g. MSRC-12's 12 + MSR Action3D's 15), and each
keeps the description written for its own data set's class list.
"""

from __future__ import annotations

# Data set name (SkeletonSequence.dataset) -> class-list / description file name.
CLASS_LIST_OF = {
    "msr_action3d": "msr_action3d",
    "msrc12": "msrc12",
    "utkinect": "utkinect",
    "florence": "florence",
    "ntu": "ntu120",
    "ntu120": "ntu120",
    "ntu60": "ntu120",
}


def class_descriptions(class_keys: list[tuple[str, int]]):
    """ClassDescription for each (dataset, 0-based label) key, from ``resources/descriptions``."""
    from crossglg.text.descriptions import descriptions_for

    cache: dict[str, object] = {}
    out = []
    for dataset, label in class_keys:
        list_name = CLASS_LIST_OF.get(dataset)
        if list_name is None:
            raise KeyError(f"no description file is known for data set {dataset!r}")
        if list_name not in cache:
            cache[list_name] = descriptions_for(list_name)
        out.append(cache[list_name].by_id(int(label) + 1))
    return out

