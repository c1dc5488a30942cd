"""Readers of the real skeleton data sets, the SkeletonSequence sample type and one-shot protocols."""

from crossglg.data.datasets import DATASETS, SkipReport, load_dataset
from crossglg.data.readers import ActionEvent, DegenerateSequenceError, PrecogStream, class_names, read_file
from crossglg.data.sequence import EmptySkeletonError, SkeletonFormatError, SkeletonSequence

__all__ = [
    "DATASETS",
    "ActionEvent",
    "DegenerateSequenceError",
    "EmptySkeletonError",
    "PrecogStream",
    "SkeletonFormatError",
    "SkeletonSequence",
    "SkipReport",
    "class_names",
    "load_dataset",
    "read_file",
]
