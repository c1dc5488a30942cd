"""``load_dataset(name, root)``: every sample of a data set folder as SkeletonSequence (label 0-based)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from crossglg.data import readers
from crossglg.data.sequence import EmptySkeletonError, SkeletonSequence
from crossglg.io import atomic_open

DATASETS = ("ntu", "msr_action3d", "utkinect", "florence", "msrc12", "kinetics")


def _folder(root: Path, name: str) -> Path:
    """``root`` may be the data set folder itself or the shared data folder that holds it."""
    root = Path(root)
    nested = root / name
    return nested if nested.is_dir() else root


def load_dataset(name: str, root: str | Path, *, msr_clean_only: bool = False,
                 on_missing=None) -> list[SkeletonSequence]:
    """All samples of data set ``name`` under ``root`` (e.g. ``../shared/data`` or its subfolder).

    ``msr_clean_only`` keeps the 557 MSR Action3D sequences listed in files_used_in_cvpr12_paper.txt.
    Files without a skeleton (EmptySkeletonError: one MSR Action3D file is all zeros) and MSRC-12
    recordings whose CSV is missing are reported through ``on_missing(message)`` (default: a line on
    stderr) and skipped; any other malformed file raises.
    """
    report = on_missing or (lambda message: print(message, file=sys.stderr))

    def each(read, files):
        out = []
        for f in files:
            try:
                got = read(f)
            except EmptySkeletonError as err:
                report(f"{err}; skipped")
                continue
            out.extend(got if isinstance(got, list) else [got])
        return out

    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    folder = _folder(root, name)
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
    else:
        samples = _load_kinetics(folder)
    if not samples:
        raise FileNotFoundError(f"{folder}: no {name} samples found")
    return samples


def _load_msrc12(folder: Path, report, each) -> list[SkeletonSequence]:
    csvs = []
    for tags in sorted(folder.glob("P*_*_*_p*.tagstream")):
        csv = tags.with_suffix(".csv")
        if not csv.is_file():
            report(f"{tags}: {csv.name} is missing; skipped")
            continue
        csvs.append(csv)
    return each(lambda csv: _cached(csv, readers.read_msrc12), csvs)


def cache_dir() -> Path:
    """$CROSSGLG_CACHE, else the platform's user cache folder (~/.cache/crossglg on Linux)."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("CROSSGLG_CACHE", user_cache_dir("crossglg")))


def _cached(csv: Path, read) -> list[SkeletonSequence]:
    """Parsed MSRC-12 windows kept as .npz (never pickle) keyed by path, size and mtime: the 174 MB of
    text takes a minute to parse, the cache a second to read."""
    stat = csv.stat()
    key = hashlib.sha1(f"{csv.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v1".encode()).hexdigest()[:16]
    path = cache_dir() / "msrc12" / f"{csv.stem}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return [
                    SkeletonSequence(
                        joints=data[f"joints{k}"], layout="kinect_v1", label=int(data["labels"][k]),
                        label_name=readers.class_names("msrc12").get(int(data["labels"][k]) + 1, ""),
                        subject=int(data["subject"]), source=str(csv), dataset="msrc12",
                        timestamps=data[f"times{k}"],
                        meta={"action_point_s": float(data["points"][k]), "instance": k,
                              "instructions": str(data["instructions"])},
                    )
                    for k in range(len(data["labels"]))
                ]
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache entry is re-parsed below
    samples = read(csv)
    arrays = {
        "labels": np.array([s.label for s in samples]),
        "subject": np.array(samples[0].subject if samples else -1),
        "points": np.array([s.meta["action_point_s"] for s in samples]),
        "instructions": np.array(samples[0].meta["instructions"] if samples else ""),
    }
    for k, s in enumerate(samples):
        arrays[f"joints{k}"] = s.joints
        arrays[f"times{k}"] = s.timestamps
    try:
        with atomic_open(path) as out:
            np.savez(out, **arrays)
    except OSError:
        pass  # a read-only home only costs speed
    return samples


def _load_kinetics(folder: Path) -> list[SkeletonSequence]:
    """A folder of ST-GCN clip JSONs; ``*_label.json`` files (the ST-GCN index) are skipped."""
    files = sorted(f for f in folder.rglob("*.json") if not f.name.endswith("_label.json"))
    return [readers.read_kinetics_json(f) for f in files]
