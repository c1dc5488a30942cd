"""Skeleton layouts, conversion to NTU-25, normalisation, windows and augmentation."""

from crossglg.skeleton.layouts import NTU25, NTU25_JOINTS, Layout, get_layout, layout_names, register_layout

__all__ = ["NTU25", "NTU25_JOINTS", "Layout", "get_layout", "layout_names", "register_layout"]
