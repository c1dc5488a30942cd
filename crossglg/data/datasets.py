"""``load_dataset(name, root)``: every sample of a data set folder as SkeletonSequence (label 0-based)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from crossglg.data import readers
from crossglg.data.sequence import EmptySkeletonError, SkeletonSequence
from crossglg.io import atomic_open
from crossglg.paths import cache_root

DATASETS = (
    "ntu",
    "msr_action3d",
    "utkinect",
    "florence",
    "msrc12",
    "kinetics",
    "kinder_gator",
    "nw_ucla",
    "gtu3d",
    "precog",
)


class SkipReport(str):
    """The message ``on_missing`` receives (a plain string to print), carrying the skipped ``source`` and
    the ``reason``: the same text for every sample one rule skips, so a report can count skips by reason."""

    source: str
    reason: str

    def __new__(cls, message: str, *, source: str, reason: str) -> SkipReport:
        report = super().__new__(cls, message)
        report.source, report.reason = source, reason
        return report


def skip_report(err: EmptySkeletonError) -> SkipReport:
    """The report of a file a reader found empty or degenerate."""
    reason = getattr(err, "reason", None) or str(err).removeprefix(f"{err.source}: ")
    return SkipReport(f"{err}; skipped", source=err.source, reason=reason)


def dataset_folder(root: str | Path, name: str) -> Path:
    """``root`` may be the data set folder itself or the shared data folder that holds it."""
    root = Path(root)
    nested = root / name
    return nested if nested.is_dir() else root


def load_dataset(
    name: str,
    root: str | Path,
    *,
    msr_clean_only: bool = False,
    on_missing: Callable[[str], object] | None = None,
) -> list[SkeletonSequence]:
    """All samples of data set ``name`` under ``root`` (e.g. ``../shared/data`` or its subfolder).

    ``msr_clean_only`` keeps the 557 MSR Action3D sequences listed in files_used_in_cvpr12_paper.txt.
    Files without a skeleton or too short to be a sample (EmptySkeletonError and its subclass
    DegenerateSequenceError: one MSR Action3D file, 11 NW-UCLA clips, 2 PRECOG recordings) and files a
    set should have but lacks (an MSRC-12 CSV, a Kinder-Gator motion, a GTU3D folder's files, a PRECOG
    recording) are reported through ``on_missing(message)`` (default: a line on stderr; the message is a
    :class:`SkipReport` with ``source`` and ``reason``) and skipped; any other malformed file raises.
    """
    report = on_missing or (lambda message: print(message, file=sys.stderr))

    def each(read, files):
        out = []
        for f in files:
            try:
                got = read(f)
            except EmptySkeletonError as err:
                report(skip_report(err))
                continue
            out.extend(got if isinstance(got, list) else [got])
        return out

    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    folder = dataset_folder(root, name)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: data set folder not found")
    if name == "ntu":
        files = sorted(folder.glob("*.skeleton"))
        samples = each(readers.read_ntu, files)
    elif name == "msr_action3d":
        files = sorted(folder.glob("a*_s*_e*_skeleton3D.txt"))
        if msr_clean_only:
            listed = set((folder / "files_used_in_cvpr12_paper.txt").read_text().split())
            files = [f for f in files if f.name.replace("_skeleton3D.txt", "") in listed]
        samples = each(readers.read_msr_action3d, files)
    elif name == "florence":
        samples = each(readers.read_florence, sorted(folder.glob("a*_s*_id*.txt")))
    elif name == "utkinect":
        samples = readers.read_utkinect(folder)
    elif name == "msrc12":
        samples = _load_msrc12(folder, report, each)
    elif name == "kinder_gator":
        samples = _load_kinder_gator(folder, report, each)
    elif name == "nw_ucla":
        files = sorted(folder.glob("a*_s*_e*_v*.json")) or sorted(folder.glob("*/a*_s*_e*_v*.json"))
        samples = each(readers.read_nw_ucla, files)
    elif name == "gtu3d":
        samples = _load_gtu3d(folder, report, each)
    elif name == "precog":
        samples = _load_precog(folder, report, each)
    else:
        samples = _load_kinetics(folder)
    if not samples:
        raise FileNotFoundError(f"{folder}: no {name} samples found")
    return samples


def _missing(report, where: Path, what: str) -> None:
    report(SkipReport(f"{where}: {what} is missing; skipped", source=str(where), reason="file missing"))


def _load_msrc12(folder: Path, report, each) -> list[SkeletonSequence]:
    csvs = []
    for tags in sorted(folder.glob("P*_*_*_p*.tagstream")):
        csv = tags.with_suffix(".csv")
        if not csv.is_file():
            _missing(report, tags, csv.name)
            continue
        csvs.append(csv)
    return each(lambda csv: _cached(csv, readers.read_msrc12, "msrc12"), csvs)


def _load_kinder_gator(folder: Path, report, each) -> list[SkeletonSequence]:
    """``Adults/`` and ``Children/``; every participant of the README should have all 58 motions (one adult
    recording, p565 "Jump-as-high-as-you-can", was lost by the authors and is reported)."""
    files = sorted(folder.glob("*/POSE-p*.csv"))
    performed: dict[int, set[str]] = {}
    for f in files:
        subject, _, motion = readers.kinder_gator_name(f)  # an unknown motion name raises here
        performed.setdefault(subject, set()).add(motion)
    groups = [("Adults", readers.KINDER_GATOR_ADULTS), ("Children", readers.KINDER_GATOR_CHILDREN)]
    for group, participants in groups:
        for subject in sorted(participants):
            for motion in sorted(set(readers.KINDER_GATOR_MOTIONS) - performed.get(subject, set())):
                _missing(report, folder / group, f"p{subject}'s {motion!r} recording")
    return each(lambda f: _cached(f, readers.read_kinder_gator, "kinder_gator"), files)


def _load_gtu3d(folder: Path, report, each) -> list[SkeletonSequence]:
    """Folders ``1``-``14``; a folder holding fewer files than the README counts for its class is
    reported (the file names have gaps, so the missing ones cannot be named)."""
    files = []
    for name, class_id in sorted(readers.GTU3D_FOLDER_CLASS.items(), key=lambda item: int(item[0])):
        found = sorted((folder / name).glob("movement*.txt"), key=lambda f: (len(f.name), f.name))
        expected = readers.GTU3D_CLASS_FILES[class_id]
        if len(found) < expected:
            _missing(report, folder / name, f"{expected - len(found)} of the README's {expected} files")
        files += found
    return each(readers.read_gtu3d, files)


PRECOG_SCRIPTS, PRECOG_SUBJECTS = range(1, 7), range(1, 13)


def _load_precog(folder: Path, report, each) -> list[SkeletonSequence]:
    """``CSV/SeqX_Y.csv`` for scripts 1-6 and subjects 1-12: the labelled action segments."""
    csv_folder = folder / "CSV" if (folder / "CSV").is_dir() else folder
    files = []
    for script in PRECOG_SCRIPTS:
        for subject in PRECOG_SUBJECTS:
            path = csv_folder / f"Seq{script}_{subject}.csv"
            if path.is_file():
                files.append(path)
            else:
                _missing(report, csv_folder, path.name)
    return each(readers.read_precog_segments, files)


CACHE_VERSION = "v2"


def _cached(path: Path, read, dataset: str) -> SkeletonSequence | list[SkeletonSequence]:
    """The sequences ``read(path)`` returns, kept as .npz (arrays, and the other fields as JSON: never
    pickle) keyed by path, size and mtime: MSRC-12's 174 MB of text takes a minute to parse and
    Kinder-Gator's 1159 CSVs 6 s, their caches about a second. A sequence whose ``meta`` does not survive
    JSON unchanged is not cached; an empty file raises on every load, as it is not cached either."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{CACHE_VERSION}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    entry = cache_root(dataset) / f"{path.stem}-{digest}.npz"
    if entry.is_file():
        try:
            return _load_entry(entry, str(path))
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache entry is re-parsed below
    got = read(path)
    samples = got if isinstance(got, list) else [got]
    fields = [
        {
            "layout": s.layout,
            "label": s.label,
            "label_name": s.label_name,
            "subject": s.subject,
            "source": s.source,
            "dataset": s.dataset,
            "meta": s.meta,
        }
        for s in samples
    ]
    try:
        header = json.dumps(fields)
        if json.loads(header) != fields:
            return got
    except (TypeError, ValueError):
        return got
    arrays = {"header": np.array(header), "single": np.array(not isinstance(got, list))}
    for k, s in enumerate(samples):
        arrays[f"joints{k}"] = s.joints
        if s.timestamps is not None:
            arrays[f"times{k}"] = s.timestamps
        if s.confidence is not None:
            arrays[f"confidence{k}"] = s.confidence
    try:
        with atomic_open(entry) as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub matches **arrays to allow_pickle
    except OSError:
        pass  # a read-only home only costs speed
    return got


def _load_entry(entry: Path, source: str) -> SkeletonSequence | list[SkeletonSequence]:
    """The cached sequences of ``source``; the entry is keyed by the resolved file, so the path it was
    first read by (another checkout, a symlink) is replaced by the one asked for now, as a reader would."""
    with np.load(entry, allow_pickle=False) as data:
        fields = [{**f, "source": source} for f in json.loads(str(data["header"]))]
        samples = [
            SkeletonSequence(
                joints=data[f"joints{k}"],
                timestamps=data[f"times{k}"] if f"times{k}" in data else None,
                confidence=data[f"confidence{k}"] if f"confidence{k}" in data else None,
                **f,
            )
            for k, f in enumerate(fields)
        ]
        return samples[0] if bool(data["single"]) and len(samples) == 1 else samples


def _load_kinetics(folder: Path) -> list[SkeletonSequence]:
    """A folder of ST-GCN clip JSONs; ``*_label.json`` files (the ST-GCN index) are skipped."""
    files = sorted(f for f in folder.rglob("*.json") if not f.name.endswith("_label.json"))
    return [readers.read_kinetics_json(f) for f in files]
