"""One-shot protocols: which classes train the encoder (base), which are novel, and how exemplars and
queries are drawn. Class ids are 0-based labels, as in ``SkeletonSequence.label``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossglg.data.datasets import load_dataset
from crossglg.data.readers import NTU_NAME, class_names
from crossglg.data.sequence import SkeletonSequence


def every_sixth(start: int, stop: int) -> list[int]:
    """1-based ids start, start+6, ... <= stop, as 0-based labels (A1, A7, ... -> 0, 6, ...)."""
    return [a - 1 for a in range(start, stop + 1, 6)]


def reduced_classes(classes: Sequence[int], count: int) -> list[int]:
    """``count`` classes spread evenly over ``classes``: the centre of each of ``count`` equal bins,
    positions floor((i + 1/2) * len / count). Deterministic, and each smaller set covers the whole id
    range rather than its first ids (for 20 of the NTU-120 base classes: A4, A10, ..., A118)."""
    if not 0 < count <= len(classes):
        raise ValueError(f"cannot pick {count} of {len(classes)} classes")
    return [classes[((2 * i + 1) * len(classes)) // (2 * count)] for i in range(count)]


def validation_classes_of(base: Sequence[int]) -> list[int]:
    """Held-out base classes for model selection: every 5th base class from the first, base[::5]. On the
    NTU base list (A2-A6, A8-A12, ...) this is exactly A2, A8, ..., A116; never a novel class."""
    return list(base[::5])


# --- NTU RGB+D 120 / 60 ---------------------------------------------------------------------------------


@dataclass
class NTUOneShot:
    """NTU one-shot split computed from file NAMES (SsssCcccPpppRrrrAaaa), so it runs on any subset."""

    num_classes: int
    novel_classes: list[int]
    base_classes: list[int]
    validation_classes: list[int]
    exemplar_names: dict[int, str]  # novel class -> the sample name that is its one exemplar
    exemplars: list[Path] = field(default_factory=list)  # present exemplar files, class order
    test: list[Path] = field(default_factory=list)  # every other novel-class file
    base: list[Path] = field(default_factory=list)  # files of base classes
    ignored: list[Path] = field(default_factory=list)  # names that do not parse or exceed num_classes

    def reduced_base_classes(self, count: int) -> list[int]:
        """20 / 40 / 60 / 80 (NTU-120) base classes by :func:`reduced_classes` over the base classes that
        are not validation classes, so a reduced set can be trained with validation held out (80 = all
        80 non-validation base classes)."""
        held = set(self.validation_classes)
        return reduced_classes([c for c in self.base_classes if c not in held], count)

    def base_files(self, count: int | None = None, *, exclude_validation: bool = False) -> list[Path]:
        keep = set(self.base_classes if count is None else self.reduced_base_classes(count))
        if exclude_validation:
            keep -= set(self.validation_classes)
        return [p for p in self.base if ntu_label(p) in keep]

    def validation_files(self) -> list[Path]:
        keep = set(self.validation_classes)
        return [p for p in self.base if ntu_label(p) in keep]

    @property
    def missing_exemplars(self) -> list[int]:
        have = {ntu_label(p) for p in self.exemplars}
        return [c for c in self.novel_classes if c not in have]


def ntu_label(path: str | Path) -> int:
    match = NTU_NAME.search(Path(path).name)
    if not match:
        raise ValueError(f"{path}: not an NTU sample name (SsssCcccPpppRrrrAaaa)")
    return int(match.group(5)) - 1


def _ntu_files(files_or_root) -> list[Path]:
    if isinstance(files_or_root, (str, Path)):
        root = Path(files_or_root)
        if root.is_dir():
            nested = root / "ntu"
            return sorted((nested if nested.is_dir() else root).glob("*.skeleton"))
        return [root]
    return [Path(p) for p in files_or_root]


def _ntu_oneshot(files_or_root, num_classes: int) -> NTUOneShot:
    novel = every_sixth(1, num_classes)
    exemplar_names = {}
    for c in novel:
        setup = 1 if c < 60 else 18  # A1..A55 from S001, A61..A115 from S018 (Liu et al., TPAMI 2020)
        exemplar_names[c] = f"S{setup:03d}C003P008R001A{c + 1:03d}"
    base = [c for c in range(num_classes) if c not in novel]
    validation = validation_classes_of(base)
    assert validation == every_sixth(2, num_classes)  # the published rule A2, A8, ...
    split = NTUOneShot(num_classes, novel, base, validation, exemplar_names)
    wanted = {name: c for c, name in exemplar_names.items()}
    for path in _ntu_files(files_or_root):
        match = NTU_NAME.search(path.name)
        if not match or int(match.group(5)) > num_classes:
            split.ignored.append(path)
            continue
        label = int(match.group(5)) - 1
        if match.group(0) in wanted:
            split.exemplars.append(path)
        elif label in novel:
            split.test.append(path)
        else:
            split.base.append(path)
    split.exemplars.sort(key=ntu_label)
    return split


def ntu120_oneshot(files_or_root) -> NTUOneShot:
    """NTU-120 one-shot (Liu et al. 2020): novel A1, A7, ..., A115; one exemplar each; the other 100
    classes are base; validation classes A2, A8, ..., A116 are base classes held out for development."""
    return _ntu_oneshot(files_or_root, 120)


def ntu60_oneshot(files_or_root) -> NTUOneShot:
    """NTU-60 one-shot: novel A1, A7, ..., A55; validation A2, A8, ..., A56."""
    return _ntu_oneshot(files_or_root, 60)


# --- Kinetics-skeleton ----------------------------------------------------------------------------------


@dataclass
class KineticsOneShot:
    """CrossGLG supplement split of Kinetics-skeleton (label_index values of the ST-GCN JSONs)."""

    base_classes_20: list[int]
    base_classes_40: list[int]
    novel_classes: list[int]
    seed: int
    support: list[int] = field(default_factory=list)  # sample index of each novel class's one support
    test: list[int] = field(default_factory=list)  # the other novel-class samples
    base: dict[int, list[int]] = field(default_factory=dict)  # 20 / 40 -> base sample indices


def kinetics_oneshot(labels: Iterable[int] | Sequence[SkeletonSequence], seed: int = 0) -> KineticsOneShot:
    """Split samples (or their labels) of Kinetics-skeleton. The support sample of every novel class is
    drawn once with ``seed`` and stays fixed; windows resample each clip evenly to 60 frames."""
    labels = [s.label if isinstance(s, SkeletonSequence) else int(s) for s in labels]
    base20 = list(range(2, 383, 20))
    base40 = sorted(base20 + list(range(4, 385, 20)))
    novel = list(range(3, 384, 20))
    split = KineticsOneShot(base20, base40, novel, seed)
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    for c in novel:
        members = np.flatnonzero(labels_arr == c)
        if len(members):
            split.support.append(int(rng.choice(members)))
    support = set(split.support)
    split.test = [i for i, c in enumerate(labels) if c in set(novel) and i not in support]
    split.base = {20: [i for i, c in enumerate(labels) if c in set(base20)],
                  40: [i for i, c in enumerate(labels) if c in set(base40)]}
    return split


# --- Kinect one-shot benchmark on the public sets in shared/data ----------------------------------------

MSR_NOVEL = [0, 4, 8, 12, 16]  # MSR Action3D classes 1, 5, 9, 13, 17


@dataclass
class NovelSet:
    """Samples of one novel set, scored on its own."""

    name: str
    samples: list[SkeletonSequence]
    class_names: dict[int, str]

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples])

    @property
    def subjects(self) -> np.ndarray:
        return np.array([s.subject for s in self.samples])

    def draw_exemplars(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(exemplar indices, one per class in sorted class order; query indices). One subject with
        every class is drawn with ``seed``, one of its samples per class is the exemplar, and the queries
        are all samples of the other subjects."""
        rng = np.random.default_rng(seed)
        labels, subjects = self.labels, self.subjects
        classes = np.unique(labels)
        eligible = [s for s in np.unique(subjects) if set(labels[subjects == s]) >= set(classes)]
        if not eligible:
            raise ValueError(f"{self.name}: no subject performed every class")
        subject = rng.choice(eligible)
        exemplars = np.array([rng.choice(np.flatnonzero((labels == c) & (subjects == subject)))
                              for c in classes])
        queries = np.flatnonzero(subjects != subject)
        return exemplars, queries


@dataclass
class KinectOneShot:
    """Base = MSRC-12 (+ MSR Action3D classes other than 1, 5, 9, 13, 17 unless ``msrc12_only``).

    ``base_labels[i]`` is the joint base label of ``base[i]``: MSRC-12 gestures 0-11, then the MSR
    Action3D base classes in id order. ``validation_classes`` (base labels) are held out from training for
    model selection by :func:`validation_classes_of`.
    """

    config: str
    base: list[SkeletonSequence]
    base_labels: np.ndarray
    base_class_names: list[str]
    novel_sets: dict[str, NovelSet]
    seeds: list[int]
    skipped: list[str] = field(default_factory=list)

    @property
    def validation_classes(self) -> list[int]:
        return validation_classes_of(list(range(len(self.base_class_names))))

    def split_base(self) -> tuple[np.ndarray, np.ndarray]:
        """(training indices, validation indices) of ``base``."""
        held = np.isin(self.base_labels, self.validation_classes)
        return np.flatnonzero(~held), np.flatnonzero(held)


def _usable(samples, skipped):
    keep = []
    for s in samples:
        if np.count_nonzero(np.any(s.joints != 0, axis=(0, 2, 3))) >= 2:
            keep.append(s)
        else:
            skipped.append(f"{s.source}: fewer than 2 frames hold a skeleton")
    return keep


def kinect_oneshot(root: str | Path, *, msrc12_only: bool = False, num_seeds: int = 10,
                   on_missing=None) -> KinectOneShot:
    """The public Kinect one-shot benchmark over ``root`` (the shared data folder). Novel sets: MSR
    Action3D classes 1, 5, 9, 13, 17, UTKinect (10 classes), Florence (9 classes)."""
    skipped: list[str] = []
    report = on_missing or skipped.append
    msrc = _usable(load_dataset("msrc12", root, on_missing=report), skipped)
    msr = _usable(load_dataset("msr_action3d", root, on_missing=report), skipped)
    base = list(msrc)
    names = [class_names("msrc12")[g + 1] for g in range(12)]
    labels = [s.label for s in msrc]
    if not msrc12_only:
        msr_base = [c for c in range(20) if c not in MSR_NOVEL]
        names += [class_names("msr_action3d")[c + 1] for c in msr_base]
        for s in msr:
            if s.label in msr_base:
                base.append(s)
                labels.append(12 + msr_base.index(s.label))
    novel = {
        "msr_action3d": NovelSet("msr_action3d", [s for s in msr if s.label in MSR_NOVEL],
                                 {c: class_names("msr_action3d")[c + 1] for c in MSR_NOVEL}),
        "utkinect": NovelSet("utkinect", _usable(load_dataset("utkinect", root, on_missing=report), skipped),
                             {c: class_names("utkinect")[c + 1] for c in range(10)}),
        "florence": NovelSet("florence", _usable(load_dataset("florence", root, on_missing=report), skipped),
                             {c: class_names("florence")[c + 1] for c in range(9)}),
    }
    return KinectOneShot("msrc12_only" if msrc12_only else "msrc12+msr_action3d", base, np.array(labels),
                         names, novel, list(range(num_seeds)), skipped)


def oneshot_accuracy(embeddings: np.ndarray, labels: np.ndarray, exemplars: np.ndarray, queries: np.ndarray,
                     topk: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Top-k accuracy of nearest-exemplar matching on L2-normalised embeddings (cosine similarity)."""
    emb = np.asarray(embeddings, np.float64)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    sims = emb[queries] @ emb[exemplars].T
    ranked = np.asarray(labels)[exemplars][np.argsort(-sims, axis=1)]
    truth = np.asarray(labels)[queries][:, None]
    return {k: float(np.mean(np.any(ranked[:, :k] == truth, axis=1))) for k in topk}
