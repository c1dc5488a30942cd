"""Readers of the real skeleton data sets, the SkeletonSequence sample type and one-shot protocols."""

from crossglg.data.datasets import DATASETS, load_dataset
from crossglg.data.readers import class_names, read_file
from crossglg.data.sequence import EmptySkeletonError, SkeletonFormatError, SkeletonSequence

__all__ = [
    "DATASETS", "EmptySkeletonError", "SkeletonFormatError", "SkeletonSequence", "class_names",
    "load_dataset", "read_file",
]
