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
    split.base = {
        20: [i for i, c in enumerate(labels) if c in set(base20)],
        40: [i for i, c in enumerate(labels) if c in set(base40)],
    }
    return split


# --- Kinect one-shot benchmark on the public sets in shared/data ----------------------------------------

MSR_NOVEL = [0, 4, 8, 12, 16]  # MSR Action3D classes 1, 5, 9, 13, 17

# The four sets that widen the base vocabulary (issue 14), in the order their classes enter the base.
WIDE_SETS = ("kinder_gator", "nw_ucla", "gtu3d", "precog")

# Classes of the wide sets that name the same action as a class of a novel set (MSR Action3D 1 high arm
# wave, 5 forward punch, 9 draw circle, 13 bend, 17 tennis swing; UTKinect; Florence). Decided from the
# class names alone, before any result was seen; they never enter a base. 1-based ids of
# resources/classes/<set>.tsv -> the novel class they repeat.
WIDE_BASE_EXCLUDED: dict[str, dict[int, str]] = {
    "kinder_gator": {
        3: "bow (Florence bow; MSR Action3D bend)",
        7: "draw a circle (MSR Action3D draw circle)",
        34: "punch (MSR Action3D forward punch)",
        35: "push an imaginary button (UTKinect push)",
        50: "throw (UTKinect throw)",
        51: "throw (UTKinect throw)",
        52: "throw (UTKinect throw)",
        53: "throw (UTKinect throw)",
        54: "touch your toes (MSR Action3D bend)",
        55: "walk in place (UTKinect walk)",
        56: "walk in place (UTKinect walk)",
        57: "wave (Florence wave; UTKinect wave hands; MSR Action3D high arm wave)",
        58: "wave (Florence wave; UTKinect wave hands; MSR Action3D high arm wave)",
    },
    "nw_ucla": {
        1: "pick up (UTKinect pick up)",
        2: "pick up (UTKinect pick up)",
        4: "walk around (UTKinect walk)",
        5: "sit down (UTKinect, Florence sit down)",
        6: "stand up (UTKinect, Florence stand up)",
        11: "throw (UTKinect throw)",
        12: "carry (UTKinect carry)",
    },
    "gtu3d": {
        4: "walking (UTKinect walk)",
        # listed as "Standing on the Sandal Standing" ("sandalye": chair): a sit-to-stand exercise
        10: "sit down on a chair and stand up (UTKinect, Florence sit down; stand up)",
        11: "sit and applaud (Florence clap, UTKinect clap hands; sit down)",
    },
    "precog": {
        1: "right punch (MSR Action3D forward punch)",
        2: "left punch (MSR Action3D forward punch)",
    },
}
# Nested base sizes of the wide protocol: today's 27, then evenly spaced up to every admitted class.
WIDE_BASE_SIZES = (27, 50, 72, 92)


def radical_inverse(k: int) -> float:
    """k-th point of the base-2 van der Corput sequence (bits of k mirrored behind the binary point)."""
    x, f = 0.0, 0.5
    while k:
        x += f * (k & 1)
        k >>= 1
        f /= 2
    return x


def spread_order(n: int) -> list[int]:
    """0..n-1 ordered so that every prefix is spread evenly over the range: the first index hit by each
    point of the van der Corput sequence. A prefix of a reduced base then covers a whole set's class list,
    not its first names."""
    order: list[int] = []
    seen: set[int] = set()
    k = 0
    while len(order) < n:
        i = int(radical_inverse(k) * n)
        k += 1
        if i not in seen:
            seen.add(i)
            order.append(i)
    return order


def wide_base_order(available: dict[str, list[int]]) -> list[tuple[str, int]]:
    """The wide sets' admitted classes as (set, 0-based label), in the order they enter the base.

    Each set's classes (id order, exclusions removed) are put in :func:`spread_order`; the sets are then
    merged by relative position ((j + 1/2) / n within its set, ties in :data:`WIDE_SETS` order), so every
    prefix takes from each set in proportion to its size."""
    keyed = []
    for d, dataset in enumerate(WIDE_SETS):
        excluded = WIDE_BASE_EXCLUDED[dataset]
        labels = sorted(c for c in available.get(dataset, []) if c + 1 not in excluded)
        for j, i in enumerate(spread_order(len(labels))):
            keyed.append(((j + 0.5) / len(labels), d, (dataset, labels[i])))
    return [item for *_, item in sorted(keyed)]


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
        are all samples of the other subjects. A set without subject ids (GTU3D: every subject is -1)
        draws each class's exemplar from all its samples, and the queries are the other samples."""
        rng = np.random.default_rng(seed)
        labels, subjects = self.labels, self.subjects
        classes = np.unique(labels)
        if np.all(subjects < 0):
            exemplars = np.array([rng.choice(np.flatnonzero(labels == c)) for c in classes])
            return exemplars, np.setdiff1d(np.arange(len(labels)), exemplars)
        eligible = [s for s in np.unique(subjects) if set(labels[subjects == s]) >= set(classes)]
        if not eligible:
            raise ValueError(f"{self.name}: no subject performed every class")
        subject = rng.choice(eligible)
        exemplars = np.array(
            [rng.choice(np.flatnonzero((labels == c) & (subjects == subject))) for c in classes]
        )
        queries = np.flatnonzero(subjects != subject)
        return exemplars, queries


KINECT_BASES = ("msrc12+msr", "msrc12", "wide")


@dataclass
class KinectOneShot:
    """Base = MSRC-12 (+ MSR Action3D classes other than 1, 5, 9, 13, 17 unless the base is "msrc12";
    + the admitted classes of the wide sets for "wide" / "wide:N").

    ``base_labels[i]`` is the joint base label of ``base[i]``: MSRC-12 gestures 0-11, then the MSR
    Action3D base classes in id order, then the wide sets' classes in :func:`wide_base_order`.
    ``validation_classes`` (base labels) are held out from training for model selection by
    :func:`validation_classes_of`; as the base list only grows at its end, a smaller base's validation
    classes are a prefix of a larger one's.
    """

    config: str
    base: list[SkeletonSequence]
    base_labels: np.ndarray
    base_class_names: list[str]
    novel_sets: dict[str, NovelSet]
    seeds: list[int]
    skipped: list[str] = field(default_factory=list)
    base_keys: list[tuple[str, int]] = field(default_factory=list)  # (data set, 0-based label) per class

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


def parse_kinect_base(base: str) -> tuple[str, int | None, tuple[str, ...]]:
    """ "msrc12+msr" | "msrc12" | "wide" | "wide:N" | "wide-SET..." | "wide-SET...:N" -> (kind, N or None,
    the wide sets left out). "wide-precog" is the wide base without PRECOG's classes, so that PRECOG's
    streams stay novel actions."""
    spec, _, count = str(base).partition(":")
    kind, *left_out = spec.split("-")
    if (
        kind not in KINECT_BASES
        or ((count or left_out) and kind != "wide")
        or (count and not count.isdigit())
        or any(s not in WIDE_SETS for s in left_out)
        or len(set(left_out)) != len(left_out)
    ):
        raise ValueError(
            f"unknown Kinect base {base!r}; known: msrc12+msr, msrc12, wide, wide:N "
            f"(N base classes, e.g. {', '.join(f'wide:{n}' for n in WIDE_BASE_SIZES)}), and wide-SET "
            f"or wide-SET:N to leave a wide set out (SET one of {', '.join(WIDE_SETS)})"
        )
    return kind, int(count) if count else None, tuple(left_out)


def kinect_oneshot(
    root: str | Path, *, base: str = "msrc12+msr", num_seeds: int = 10, on_missing=None
) -> KinectOneShot:
    """The public Kinect one-shot benchmark over ``root`` (the shared data folder). Novel sets: MSR
    Action3D classes 1, 5, 9, 13, 17, UTKinect (10 classes), Florence (9 classes), whatever the base.

    ``base``: "msrc12+msr" (27 classes), "msrc12" (12), "wide" (those 27 + every class of Kinder-Gator,
    NW-UCLA, GTU3D and PRECOG not in :data:`WIDE_BASE_EXCLUDED`) or "wide:N" (the first N classes of the
    wide list, N >= 27: nested reduced bases); "wide-precog" (and "wide-precog:N") leaves PRECOG out.
    """
    kind, count, left_out = parse_kinect_base(base)
    skipped: list[str] = []
    report = on_missing or skipped.append
    msrc = _usable(load_dataset("msrc12", root, on_missing=report), skipped)
    msr = _usable(load_dataset("msr_action3d", root, on_missing=report), skipped)
    keys = [("msrc12", g) for g in range(12)]
    if kind != "msrc12":
        keys += [("msr_action3d", c) for c in range(20) if c not in MSR_NOVEL]
    samples = {"msrc12": msrc, "msr_action3d": msr}
    if kind == "wide":
        wide = [d for d in WIDE_SETS if d not in left_out]
        for dataset in wide:
            samples[dataset] = _usable(load_dataset(dataset, root, on_missing=report), skipped)
        keys += wide_base_order({d: sorted({s.label for s in samples[d]}) for d in wide})
        if count is not None:
            if not 27 <= count <= len(keys):
                raise ValueError(f"wide:{count}: the wide base has 27 to {len(keys)} classes")
            keys = keys[:count]
    index = {key: i for i, key in enumerate(keys)}
    base_seqs, labels = [], []  # not `base`: that is the argument naming the base
    for dataset, seqs in samples.items():
        for s in seqs:
            if (dataset, s.label) in index:
                base_seqs.append(s)
                labels.append(index[(dataset, s.label)])
    names = [class_names(d)[c + 1] for d, c in keys]
    novel = {
        "msr_action3d": NovelSet(
            "msr_action3d",
            [s for s in msr if s.label in MSR_NOVEL],
            {c: class_names("msr_action3d")[c + 1] for c in MSR_NOVEL},
        ),
        "utkinect": NovelSet(
            "utkinect",
            _usable(load_dataset("utkinect", root, on_missing=report), skipped),
            {c: class_names("utkinect")[c + 1] for c in range(10)},
        ),
        "florence": NovelSet(
            "florence",
            _usable(load_dataset("florence", root, on_missing=report), skipped),
            {c: class_names("florence")[c + 1] for c in range(9)},
        ),
    }
    config = {"msrc12": "msrc12_only", "msrc12+msr": "msrc12+msr_action3d"}.get(
        kind, f"wide{len(keys)}" + "".join(f"-{d}" for d in left_out)
    )
    return KinectOneShot(
        config, base_seqs, np.array(labels), names, novel, list(range(num_seeds)), skipped, keys
    )
