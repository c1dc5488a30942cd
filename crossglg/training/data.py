"""Training and evaluation data from the foundation's protocols, as arrays of canonical windows.

``prepare_data(cfg)`` turns one protocol (``data.protocol``) into: the training windows of the base
classes minus the held-out validation classes, one description per training class (merged label space),
one-shot validation sets built from the held-out base classes (model selection only) and the novel test
sets with their seeded exemplar draws. The whole result is cached as one ``.npz`` (no pickle) keyed by the
data files, our data/skeleton code and the protocol settings, so 50 ablation runs parse the files once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.io import atomic_open
from crossglg.training.metrics import Episode, NovelSet

PROTOCOL_CACHE_FORMAT = 2
PUBLIC_SETS = ("msrc12", "msr_action3d", "utkinect", "florence")


@dataclass
class PreparedData:
    train_windows: np.ndarray  # (N, 3, T, 25, M)
    train_labels: np.ndarray  # (N,) in 0..K-1
    class_names: list[str]  # K training classes
    class_keys: list[tuple[str, int]]  # (data set, 0-based label in that set) per training class
    val_sets: list[NovelSet] = field(default_factory=list)
    test_sets: list[NovelSet] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def descriptions(self):
        from crossglg.training.text import class_descriptions

        return class_descriptions(self.class_keys)


def _windows(samples, num_frames: int) -> np.ndarray:
    from crossglg.skeleton import make_window

    if not samples:
        return np.zeros((0, 3, num_frames, 25, 2), np.float32)
    return np.stack([make_window(s, T=num_frames) for s in samples]).astype(np.float32)


def window_set(name: str, pset, num_frames: int, seeds: list[int]) -> NovelSet:
    """The foundation's NovelSet (sequences + draw rule) -> windows and explicit episodes."""
    classes = sorted(pset.class_names)
    remap = {c: i for i, c in enumerate(classes)}
    labels = np.array([remap[int(c)] for c in pset.labels], dtype=np.int64)
    episodes = [Episode(*map(np.asarray, pset.draw_exemplars(seed))) for seed in seeds]
    return NovelSet(
        name=name,
        windows=_windows(pset.samples, num_frames),
        labels=labels,
        class_names=[pset.class_names[c] for c in classes],
        episodes=episodes,
        subjects=np.asarray(pset.subjects, dtype=np.int64),
        meta={"sources": sorted({str(s.source) for s in pset.samples})},
    )


def _validation_sets(samples, base_labels, class_names, val_classes, num_frames, seeds) -> list[NovelSet]:
    """Held-out base classes as one-shot sets, one per data set (labels and subject ids of different data
    sets must not mix), drawn by the same rule as the novel sets."""
    from crossglg.data.protocols import NovelSet as ProtocolNovelSet

    out = []
    by_dataset: dict[str, list[int]] = {}
    for i, (s, lab) in enumerate(zip(samples, base_labels, strict=True)):
        if int(lab) in val_classes:
            by_dataset.setdefault(s.dataset, []).append(i)
    for dataset, idx in sorted(by_dataset.items()):
        members = [samples[i] for i in idx]
        names = {int(s.label): class_names[int(base_labels[i])] for s, i in zip(members, idx, strict=True)}
        if len(names) < 2:
            continue  # a one-class set cannot rank anything
        pset = ProtocolNovelSet(f"val_{dataset}", members, names)
        out.append(window_set(f"val_{dataset}", pset, num_frames, seeds))
    return out


def _kinect(cfg: dict) -> PreparedData:
    from crossglg.data.protocols import kinect_oneshot

    d = cfg["data"]
    base = str(d["base"])
    seeds = list(range(int(d["draws"])))
    split = kinect_oneshot(d["root"], base=base, num_seeds=len(seeds), on_missing=lambda m: None)
    labels = np.asarray(split.base_labels, dtype=np.int64)
    val_classes = set(split.validation_classes)
    train_classes = [c for c in range(len(split.base_class_names)) if c not in val_classes]
    remap = {c: i for i, c in enumerate(train_classes)}
    train_idx, _ = split.split_base()
    train_samples = [split.base[i] for i in train_idx]
    return PreparedData(
        train_windows=_windows(train_samples, d["num_frames"]),
        train_labels=np.array([remap[int(labels[i])] for i in train_idx], dtype=np.int64),
        class_names=[split.base_class_names[c] for c in train_classes],
        class_keys=[split.base_keys[c] for c in train_classes],
        val_sets=_validation_sets(
            split.base, labels, split.base_class_names, val_classes, d["num_frames"], seeds
        ),
        test_sets=[window_set(name, pset, d["num_frames"], seeds) for name, pset in split.novel_sets.items()],
        manifest={
            "protocol": "kinect_oneshot",
            "base": base,
            "config": split.config,
            "base_classes": len(split.base_class_names),
            "train_samples": len(train_samples),
            "validation_classes": [split.base_class_names[c] for c in sorted(val_classes)],
            "skipped": split.skipped,
            "train_sources": sorted({str(s.source) for s in train_samples}),
        },
    )


def _all_public(cfg: dict) -> PreparedData:
    """Every class of the four public sets (MSRC-12 12 + MSR Action3D 20 + UTKinect 10 + Florence 9), and
    with ``data.base = "wide"`` every class of the four wide sets too (Kinder-Gator 58, NW-UCLA 10, GTU3D
    14, PRECOG 8): the shipped model's training data. Nothing is held out, so no validation or test sets."""
    from crossglg.data import load_dataset
    from crossglg.data.protocols import WIDE_SETS

    d = cfg["data"]
    if str(d["base"]) not in ("all", "wide"):
        raise ValueError(f"data.base for all_public must be 'all' or 'wide', got {d['base']!r}")
    datasets = PUBLIC_SETS + (WIDE_SETS if d["base"] == "wide" else ())
    samples, names = [], []
    keys: list[tuple[str, int]] = []
    labels = []
    skipped: list[str] = []
    for dataset in datasets:
        seqs = load_dataset(dataset, d["root"], on_missing=skipped.append)
        seqs = [s for s in seqs if np.count_nonzero(np.any(s.joints != 0, axis=(0, 2, 3))) >= 2]
        local = sorted({(int(s.label), s.label_name) for s in seqs})
        offset = len(keys)
        for lab, name in local:
            keys.append((dataset, lab))
            names.append(f"{dataset}: {name}")
        index = {lab: offset + i for i, (lab, _) in enumerate(local)}
        samples += seqs
        labels += [index[int(s.label)] for s in seqs]
    return PreparedData(
        train_windows=_windows(samples, d["num_frames"]),
        train_labels=np.array(labels, dtype=np.int64),
        class_names=names,
        class_keys=keys,
        manifest={
            "protocol": "all_public",
            "datasets": list(datasets),
            "train_samples": len(samples),
            "skipped": skipped,
            "train_sources": sorted({str(s.source) for s in samples}),
        },
    )


def _ntu(cfg: dict, num_classes: int) -> PreparedData:
    """NTU RGB+D 120 / 60 one-shot from the raw ``.skeleton`` files under ``data.root`` (denoised by the
    reader: short/noisy bodies dropped, the two most active actors kept). ``data.base``: "all" or the
    number of base classes (20 / 40 / 60 / 80 for NTU-120's reduced settings)."""
    from crossglg.data import read_file
    from crossglg.data.protocols import ntu60_oneshot, ntu120_oneshot, ntu_label

    d = cfg["data"]
    split = (ntu120_oneshot if num_classes == 120 else ntu60_oneshot)(d["root"])
    count = None if str(d["base"]) in ("all", "msrc12+msr") else int(d["base"])
    base_classes = split.base_classes if count is None else split.reduced_base_classes(count)
    train_classes = [c for c in base_classes if c not in split.validation_classes]
    remap = {c: i for i, c in enumerate(train_classes)}
    train_files = split.base_files(count, exclude_validation=True)
    if not train_files:
        raise FileNotFoundError(f"{d['root']}: no NTU base-class .skeleton files found")
    from crossglg.data.readers import class_names as list_class_names

    names = list_class_names("ntu120")

    def read(paths):
        return [read_file(p) for p in paths]

    train_windows = _ntu_windows(train_files, d["num_frames"])
    test_sets = []
    if split.exemplars and not split.missing_exemplars:
        files = list(split.exemplars) + list(split.test)
        labels_raw = [ntu_label(p) for p in files]
        classes = sorted(split.novel_classes)
        idx = {c: i for i, c in enumerate(classes)}
        ep = Episode(np.arange(len(split.exemplars)), np.arange(len(split.exemplars), len(files)))
        test_sets.append(
            NovelSet(
                f"ntu{num_classes}_novel",
                _ntu_windows(files, d["num_frames"]),
                np.array([idx[c] for c in labels_raw]),
                [names[c + 1] for c in classes],
                [ep],
            )
        )
    val_files = split.validation_files()
    val_sets = []
    if val_files:
        from crossglg.data.protocols import NovelSet as ProtocolNovelSet

        seqs = read(val_files)
        pset = ProtocolNovelSet("val_ntu", seqs, {int(s.label): names[int(s.label) + 1] for s in seqs})
        try:
            val_sets.append(window_set("val_ntu", pset, d["num_frames"], list(range(int(d["draws"])))))
        except ValueError:
            pass  # too few validation files (e.g. the 6-file sample) to draw from one subject
    return PreparedData(
        train_windows=train_windows,
        train_labels=np.array([remap[ntu_label(p)] for p in train_files], dtype=np.int64),
        class_names=[names[c + 1] for c in train_classes],
        class_keys=[("ntu120", c) for c in train_classes],
        val_sets=val_sets,
        test_sets=test_sets,
        manifest={
            "protocol": f"ntu{num_classes}_oneshot",
            "base": str(d["base"]),
            "train_samples": len(train_files),
            "missing_exemplars": split.missing_exemplars,
            "train_sources": [p.name for p in train_files],
        },
    )


def _ntu_window(path: Path, num_frames: int) -> np.ndarray:
    from crossglg.data import read_file
    from crossglg.skeleton import make_window

    return make_window(read_file(path), T=num_frames).astype(np.float32)


def _ntu_windows(paths: list[Path], num_frames: int) -> np.ndarray:
    """Raw NTU files -> windows; the full set (114k files) is read by all CPU cores in parallel."""
    if len(paths) < 200:
        return (
            np.stack([_ntu_window(p, num_frames) for p in paths])
            if paths
            else np.zeros((0, 3, num_frames, 25, 2), np.float32)
        )
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        return np.stack(list(pool.map(partial(_ntu_window, num_frames=num_frames), paths, chunksize=64)))


def no_action_windows(d: dict) -> tuple[np.ndarray, dict]:
    """Windows of the "no action" class and what they are: stretches of no-action time from the
    sessions of the MSRC-12 persons ``data.no_action_persons`` (a fixed draw, so every seed trains on the
    same windows). A live recogniser spends most of its time there; a model that never saw it takes the
    return to rest between two actions for another action (docs/results.md, "No-action training")."""
    from crossglg.data.readers import MSRC_NAME, read_msrc12_no_action

    persons = sorted({int(p) for p in d["no_action_persons"]})
    folder = Path(d["root"]) / "msrc12"
    csvs = [
        csv
        for csv in sorted(folder.glob("*.csv"))
        if (m := MSRC_NAME.search(csv.name))
        and int(m.group(5)) in persons
        and csv.with_suffix(".tagstream").is_file()
    ]
    rng = np.random.default_rng(0)
    samples = [s for csv in csvs for s in read_msrc12_no_action(csv, int(d["no_action_per_session"]), rng)]
    if not samples:
        raise FileNotFoundError(
            f"{folder}: no MSRC-12 session (CSV + tagstream) of persons {persons} for data.no_action_persons"
        )
    manifest = {"persons": persons, "sessions": len(csvs), "windows": len(samples)}
    return _windows(samples, d["num_frames"]), manifest


def _with_no_action(data: PreparedData, windows: np.ndarray, manifest: dict) -> PreparedData:
    from crossglg.data.readers import NO_ACTION

    data.train_windows = np.concatenate([data.train_windows, windows])
    data.train_labels = np.concatenate(
        [data.train_labels, np.full(len(windows), len(data.class_names), np.int64)]
    )
    data.class_names.append(NO_ACTION)
    data.class_keys.append(("no_action", 0))
    data.manifest["no_action"] = manifest
    return data


# ------------------------------------------------------------------------------------------- cache


def code_version() -> str:
    """Hash of our code that turns files into windows (readers, conversion, normalisation, windows)."""
    import crossglg.data
    import crossglg.skeleton

    h = hashlib.sha256()
    for pkg in (crossglg.data, crossglg.skeleton):
        assert pkg.__file__ is not None  # regular packages (an __init__.py), not namespace ones
        for path in sorted(Path(pkg.__file__).parent.rglob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def files_fingerprint(folder: Path) -> str:
    """Paths, sizes and modification times of every file under ``folder`` (cheap: no file is read)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    from crossglg.paths import cache_root

    return cache_root("windows")


def _cache_key(cfg: dict) -> str:
    d = cfg["data"]
    root = Path(d["root"])
    parts = [
        PROTOCOL_CACHE_FORMAT,
        d["protocol"],
        str(d["base"]),
        d["num_frames"],
        d["draws"],
        str(root.resolve()),
        files_fingerprint(root) if root.is_dir() else "",
        code_version(),
    ]
    if d.get("no_action_persons"):  # (older cache entries stay valid without it)
        parts += [sorted(int(p) for p in d["no_action_persons"]), int(d["no_action_per_session"])]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _save(data: PreparedData, path: Path) -> None:
    arrays = {"train_windows": data.train_windows, "train_labels": data.train_labels}
    meta: dict[str, Any] = {
        "class_names": data.class_names,
        "class_keys": data.class_keys,
        "manifest": data.manifest,
        "sets": [],
    }
    for kind, sets in (("val", data.val_sets), ("test", data.test_sets)):
        for i, s in enumerate(sets):
            p = f"{kind}{i}_"
            arrays[p + "windows"], arrays[p + "labels"] = s.windows, s.labels
            if s.subjects is not None:
                arrays[p + "subjects"] = s.subjects
            for j, ep in enumerate(s.episodes):
                arrays[f"{p}ex{j}"], arrays[f"{p}q{j}"] = ep.exemplars, ep.queries
            meta["sets"].append(
                {
                    "kind": kind,
                    "prefix": p,
                    "name": s.name,
                    "class_names": s.class_names,
                    "episodes": len(s.episodes),
                    "meta": s.meta,
                }
            )
    arrays["meta_json"] = np.array(json.dumps(meta))
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub matches **arrays to allow_pickle


def _load(path: Path) -> PreparedData:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta_json"]))
        data = PreparedData(
            z["train_windows"],
            z["train_labels"],
            meta["class_names"],
            [tuple(k) for k in meta["class_keys"]],
            manifest=meta["manifest"],
        )
        for s in meta["sets"]:
            p = s["prefix"]
            episodes = [Episode(z[f"{p}ex{j}"], z[f"{p}q{j}"]) for j in range(s["episodes"])]
            ns = NovelSet(
                s["name"],
                z[p + "windows"],
                z[p + "labels"],
                s["class_names"],
                episodes,
                z[p + "subjects"] if p + "subjects" in z else None,
                s["meta"],
            )
            (data.val_sets if s["kind"] == "val" else data.test_sets).append(ns)
    return data


def prepare_data(cfg: dict, need_train: bool = True, use_cache: bool = True) -> PreparedData:
    """The protocol of ``cfg['data']`` as window arrays (cached on disk; see module docstring)."""
    protocol = cfg["data"]["protocol"]
    builders = {
        "kinect_oneshot": _kinect,
        "all_public": _all_public,
        "ntu120_oneshot": lambda c: _ntu(c, 120),
        "ntu60_oneshot": lambda c: _ntu(c, 60),
    }
    if protocol not in builders:
        raise ValueError(f"unknown data.protocol {protocol!r}; known: {', '.join(builders)}")
    frozen = cfg["data"].get("prepared", "")
    if frozen:
        # A frozen snapshot (written by ``freeze_data``): every run of an ablation sees identical arrays
        # even while the data code changes underneath.
        return _load(Path(frozen))
    d = cfg["data"]
    base = str(d["base"]).replace("+", "_") + ("-noaction" if d.get("no_action_persons") else "")
    stem = f"protocol-{protocol}-{base}-T{d['num_frames']}-D{d['draws']}"
    path = cache_dir() / f"{stem}-{_cache_key(cfg)}.npz"
    if use_cache and path.is_file():
        try:
            return _load(path)
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache entry: rebuild
    rest = no_action_windows(d) if d.get("no_action_persons") else None  # fails before the long part
    data = builders[protocol](cfg)
    if rest is not None:
        data = _with_no_action(data, *rest)
    data.manifest["data_code_version"] = code_version()
    if use_cache:
        for stale in path.parent.glob(f"{stem}-*.npz"):
            stale.unlink(missing_ok=True)  # older code or data: never read again
        _save(data, path)
    return data


def freeze_data(cfg: dict, out: str | Path) -> Path:
    """Writes the prepared protocol to ``out`` so later runs can pin it with ``data.prepared = "<out>"``."""
    out = Path(out)
    _save(prepare_data({**cfg, "data": {**cfg["data"], "prepared": ""}}), out)
    return out
