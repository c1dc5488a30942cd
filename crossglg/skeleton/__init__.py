"""Skeleton layouts, conversion to NTU-25, normalisation, windows and augmentation."""

from crossglg.skeleton.convert import Converted, to_ntu25
from crossglg.skeleton.layouts import NTU25, NTU25_JOINTS, Layout, get_layout, layout_names, register_layout
from crossglg.skeleton.normalize import normalize
from crossglg.skeleton.window import (
    WINDOW_BODIES,
    WINDOW_FRAMES,
    make_window,
    select_actors,
    window_from_frames,
)

__all__ = [
    "NTU25",
    "NTU25_JOINTS",
    "Converted",
    "Layout",
    "WINDOW_BODIES",
    "WINDOW_FRAMES",
    "get_layout",
    "layout_names",
    "make_window",
    "normalize",
    "register_layout",
    "select_actors",
    "to_ntu25",
    "window_from_frames",
]
