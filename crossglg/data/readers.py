"""Readers of the real skeleton formats. Each returns SkeletonSequence in the sensor frame (metres,
right-handed, +y up) and raises SkeletonFormatError naming file and line on malformed input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from crossglg.data.sequence import EmptySkeletonError, SkeletonFormatError, SkeletonSequence

NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
MSR_NAME = re.compile(r"a(\d\d)_s(\d\d)_e(\d\d)_skeleton3D")
FLORENCE_NAME = re.compile(r"a(\d\d)_s(\d+)_id(\d+)")
UTK_NAME = re.compile(r"joints_s(\d\d)_e(\d\d)")
MSRC_NAME = re.compile(r"P(\d)_(\d)_(\d+)([AB]?)_p(\d\d)")
MSRC_TICKS_PER_SECOND = 49875 / 1000 * 1e6  # tick -> CSV unit (microseconds) is tick*1000/49875


def _numbers(path: Path, lineno: int, text: str, count: int | None, what: str) -> np.ndarray:
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError:
        bad = text.strip()[:60]
        raise SkeletonFormatError(str(path), lineno, f"{what}: not a number in {bad!r}") from None
    if count is not None and values.size != count:
        raise SkeletonFormatError(str(path), lineno, f"{what}: expected {count} numbers, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise SkeletonFormatError(str(path), lineno, f"{what}: NaN or infinite value")
    return values


def _lines(path: Path) -> list[str]:
    try:
        lines = Path(path).read_text().splitlines()
    except UnicodeDecodeError:
        raise SkeletonFormatError(str(path), None, "not a text file") from None
    if not any(line.strip() for line in lines):
        raise SkeletonFormatError(str(path), None, "empty file")
    return lines


def _table(path: Path, columns: int, what: str) -> np.ndarray:
    """A whitespace table of ``columns`` numbers per line; the fast parser first, and on any fault the
    line-by-line parser, which names the line."""
    try:
        data = np.loadtxt(path, dtype=np.float64, ndmin=2)
        if data.shape[0] and data.shape[1] == columns and np.isfinite(data).all():
            return data
    except ValueError:
        pass
    rows = [
        _numbers(path, lineno, text, columns, what)
        for lineno, text in enumerate(_lines(path), 1)
        if text.strip()
    ]
    return np.array(rows)


def _joint_frames(path: Path, joints: int, columns: int, what: str) -> np.ndarray:
    """A file of one joint per line, ``joints`` lines per frame -> (T, joints, columns)."""
    data = _table(path, columns, what)
    if len(data) % joints:
        raise SkeletonFormatError(
            str(path), len(data), f"{len(data)} joint lines is not a whole number of {joints}-joint frames"
        )
    return data.reshape(-1, joints, columns)


def _require_skeleton(path: Path, joints: np.ndarray) -> None:
    if np.count_nonzero(np.any(joints != 0, axis=(-2, -1))) < 2:
        raise EmptySkeletonError(str(path), None, "fewer than 2 frames hold a skeleton (all joints zero)")


# --- NTU RGB+D ------------------------------------------------------------------------------------------


def read_ntu(path: str | Path, *, denoise: bool = True, max_bodies: int = 2) -> SkeletonSequence:
    """NTU ``.skeleton``: bodies are tracked by bodyID; frames where a body is absent stay zero.

    ``denoise`` drops spurious bodies (see :func:`denoise_bodies`) and keeps the ``max_bodies`` most
    active. Confidence is the Kinect tracking state / 2 (1 tracked, 0.5 inferred, 0 not tracked).
    """
    path = Path(path)
    lines = _lines(path)
    pos = 0

    def next_line(what: str) -> tuple[int, str]:
        nonlocal pos
        while pos < len(lines) and not lines[pos].strip():
            pos += 1
        if pos >= len(lines):
            raise SkeletonFormatError(str(path), pos + 1, f"file ends early: expected {what}")
        pos += 1
        return pos, lines[pos - 1]

    lineno, text = next_line("frame count")
    num_frames = int(_numbers(path, lineno, text, 1, "frame count")[0])
    if num_frames <= 0:
        raise SkeletonFormatError(str(path), lineno, "no frames")
    tracks: dict[str, dict[str, np.ndarray]] = {}
    order: list[str] = []
    for t in range(num_frames):
        lineno, text = next_line(f"body count of frame {t + 1}")
        num_bodies = int(_numbers(path, lineno, text, 1, "body count")[0])
        for _ in range(num_bodies):
            lineno, text = next_line("body info line")
            info = text.split()
            if len(info) != 10:
                raise SkeletonFormatError(str(path), lineno, f"body info: {len(info)} fields, not 10")
            body_id = info[0]
            lineno, text = next_line("joint count")
            num_joints = int(_numbers(path, lineno, text, 1, "joint count")[0])
            if num_joints != 25:
                raise SkeletonFormatError(str(path), lineno, f"expected 25 joints, got {num_joints}")
            if body_id not in tracks:
                order.append(body_id)
                tracks[body_id] = {
                    "xyz": np.zeros((num_frames, 25, 3), np.float32),
                    "conf": np.zeros((num_frames, 25), np.float32),
                    "color": np.zeros((num_frames, 25, 2), np.float32),
                }
            track = tracks[body_id]
            for j in range(25):
                lineno, text = next_line(f"joint {j + 1}")
                values = _numbers(path, lineno, text, 12, f"joint {j + 1}")
                track["xyz"][t, j] = values[:3]
                track["color"][t, j] = values[5:7]
                track["conf"][t, j] = values[11] / 2.0
    if not order:
        raise SkeletonFormatError(str(path), None, "no body in any frame")
    joints = np.stack([tracks[b]["xyz"] for b in order])
    conf = np.stack([tracks[b]["conf"] for b in order])
    color = np.stack([tracks[b]["color"] for b in order])
    keep = denoise_bodies(joints, max_bodies=max_bodies) if denoise else list(range(len(order)))
    match = NTU_NAME.search(path.name)
    ids = [int(g) for g in match.groups()] if match else [-1] * 5
    return SkeletonSequence(
        joints=joints[keep],
        layout="ntu25",
        label=ids[4] - 1 if match else -1,
        label_name=_class_name("ntu120", ids[4]) if match else "",
        subject=ids[2],
        source=str(path),
        dataset="ntu",
        timestamps=None,
        confidence=conf[keep],
        meta={"setup": ids[0], "camera": ids[1], "replication": ids[3], "color_xy": color[keep],
              "body_ids": [order[i] for i in keep]},
    )


def denoise_bodies(joints: np.ndarray, *, max_bodies: int = 2, min_frames: int = 11,
                   max_spread_ratio: float = 0.8) -> list[int]:
    """Indices of the bodies to keep, most active first.

    Kinect often reports short-lived ghost bodies (furniture, reflections). A body is dropped when it is
    present in fewer than ``min_frames`` frames or when its mean horizontal extent exceeds
    ``max_spread_ratio`` times its vertical extent (a lying-down "body" made of clutter), unless that
    would drop every body. Activity = summed per-joint variance over the frames the body is present.
    """
    scores, plausible = [], []
    for body in joints:
        present = np.any(body != 0, axis=(1, 2))
        frames = body[present]
        if len(frames) == 0:
            scores.append(-1.0)
            plausible.append(False)
            continue
        spread = frames.max(axis=1) - frames.min(axis=1)  # (t, 3)
        ratio = spread[:, 0].mean() / max(spread[:, 1].mean(), 1e-6)
        plausible.append(present.sum() >= min_frames and ratio <= max_spread_ratio)
        scores.append(float(frames.var(axis=0).sum()))
    candidates = [i for i in range(len(joints)) if plausible[i]] or [int(np.argmax(scores))]
    candidates.sort(key=lambda i: -scores[i])
    return sorted(candidates[:max_bodies], key=lambda i: -scores[i])


# --- MSR Action3D ---------------------------------------------------------------------------------------


def read_msr_action3d(path: str | Path) -> SkeletonSequence:
    """``aAA_sSS_eEE_skeleton3D.txt``: 20 lines ``x y z c`` per frame; columns are Kinect camera axes
    (x, y up, z depth), verified on the data (head above hips, feet point toward the sensor)."""
    path = Path(path)
    data = _joint_frames(path, 20, 4, "joint line (x y z c)")
    _require_skeleton(path, data[..., :3])
    match = MSR_NAME.search(path.name)
    action, subject = (int(match.group(1)), int(match.group(2))) if match else (0, -1)
    return SkeletonSequence(
        joints=data[None, :, :, :3],
        layout="msr_action3d",
        label=action - 1,
        label_name=_class_name("msr_action3d", action) if match else "",
        subject=subject,
        source=str(path),
        dataset="msr_action3d",
        confidence=data[None, :, :, 3].astype(np.float32),
        meta={"repetition": int(match.group(3)) if match else -1},
    )


# --- Florence 3D ----------------------------------------------------------------------------------------


def read_florence(path: str | Path) -> SkeletonSequence:
    """``aAA_sS_idN.txt``: 15 lines ``x y z`` in millimetres per frame (OpenNI order)."""
    path = Path(path)
    data = _joint_frames(path, 15, 3, "joint line (x y z)") / 1000.0
    _require_skeleton(path, data)
    match = FLORENCE_NAME.search(path.name)
    action, subject = (int(match.group(1)), int(match.group(2))) if match else (0, -1)
    return SkeletonSequence(
        joints=data[None],
        layout="openni15",
        label=action - 1,
        label_name=_class_name("florence", action) if match else "",
        subject=subject,
        source=str(path),
        dataset="florence",
        timestamps=None,
        meta={"sample_id": int(match.group(3)) if match else -1},
    )


# --- UTKinect-Action3D ----------------------------------------------------------------------------------

UTK_ACTIONS = ("walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands",
               "clapHands")


def read_utkinect_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices (T,), joints (T, 20, 3)) of one ``joints_sSS_eEE.txt``; duplicate indices dropped."""
    path = Path(path)
    frames, joints = [], []
    for lineno, text in enumerate(_lines(path), 1):
        if not text.strip():
            continue
        values = _numbers(path, lineno, text, 61, "frame line (index + 20 x y z)")
        if frames and values[0] <= frames[-1]:
            if values[0] == frames[-1]:
                continue  # the recorder sometimes writes a frame twice
            raise SkeletonFormatError(str(path), lineno, f"frame index {int(values[0])} goes backwards")
        frames.append(values[0])
        joints.append(values[1:].reshape(20, 3))
    return np.array(frames), np.array(joints)


def read_utkinect_labels(path: str | Path) -> dict[str, list[tuple[str, int, int]]]:
    """``actionLabel.txt`` -> {"s01_e01": [(action, start, end), ...]}; ``NaN NaN`` entries are skipped."""
    path = Path(path)
    out: dict[str, list[tuple[str, int, int]]] = {}
    current = None
    for lineno, text in enumerate(_lines(path), 1):
        text = text.strip()
        if not text:
            continue
        if re.fullmatch(r"s\d\d_e\d\d", text):
            current = out.setdefault(text, [])
            continue
        if current is None or ":" not in text:
            raise SkeletonFormatError(str(path), lineno, f"not 'sSS_eEE' nor 'action: a b': {text!r}")
        action, span = (s.strip() for s in text.split(":", 1))
        if action not in UTK_ACTIONS:
            raise SkeletonFormatError(str(path), lineno, f"unknown action {action!r}")
        parts = span.split()
        if len(parts) != 2:
            raise SkeletonFormatError(str(path), lineno, f"expected 'start end', got {span!r}")
        if any(p.lower() == "nan" for p in parts):
            continue
        start, end = int(parts[0]), int(parts[1])
        if end <= start:
            raise SkeletonFormatError(str(path), lineno, f"segment end {end} is not after start {start}")
        current.append((action, start, end))
    return out


def read_utkinect(root: str | Path) -> list[SkeletonSequence]:
    """All labelled segments. Timestamps = frame index / 30 s, so dropped frames keep their true time."""
    root = Path(root)
    labels = read_utkinect_labels(root / "actionLabel.txt")
    out = []
    for recording, segments in sorted(labels.items()):
        path = root / f"joints_{recording}.txt"
        if not path.is_file():
            raise SkeletonFormatError(str(root / "actionLabel.txt"), None, f"{path.name} is missing")
        frames, joints = read_utkinect_recording(path)
        subject = int(recording[1:3])
        for action, start, end in segments:
            inside = (frames >= start) & (frames <= end)
            if inside.sum() < 2:
                raise SkeletonFormatError(str(path), None, f"segment {action} {start}-{end} has <2 frames")
            label = UTK_ACTIONS.index(action)
            out.append(SkeletonSequence(
                joints=joints[inside][None], layout="kinect_v1", label=label,
                label_name=_class_name("utkinect", label + 1), subject=subject, source=str(path),
                dataset="utkinect", timestamps=frames[inside] / 30.0,
                meta={"recording": recording, "frames": (start, end)},
            ))
    return out


# --- MSRC-12 --------------------------------------------------------------------------------------------


def read_msrc12_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(time in seconds (T,), joints (T, 20, 3)); the leading all-zero frames (no skeleton yet) dropped."""
    path = Path(path)
    try:
        data = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise SkeletonFormatError(str(path), _first_bad_line(path, 81), f"malformed CSV ({err})") from None
    if data.size == 0:
        raise SkeletonFormatError(str(path), None, "empty file")
    if data.shape[1] != 81:
        raise SkeletonFormatError(str(path), 1, f"{data.shape[1]} columns, not 81 (time, 20 x y z w)")
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    if bad.size:
        raise SkeletonFormatError(str(path), int(bad[0]) + 1, "NaN or infinite value")
    present = np.any(data[:, 1:] != 0, axis=1)
    if not present.any():
        raise EmptySkeletonError(str(path), None, "no frame holds a skeleton")
    first = int(np.argmax(present))
    data = data[first:]
    times = data[:, 0] / 1e6
    keep = np.concatenate([[True], np.diff(times) > 0])  # duplicate timestamps would break resampling
    data, times = data[keep], times[keep]
    return times, data[:, 1:].reshape(-1, 20, 4)[:, :, :3]


def _first_bad_line(path: Path, columns: int) -> int | None:
    with open(path) as handle:
        for lineno, text in enumerate(handle, 1):
            parts = text.split()
            if len(parts) != columns:
                return lineno
            try:
                [float(p) for p in parts]
            except ValueError:
                return lineno
    return None


def read_msrc12_tags(path: str | Path) -> list[tuple[float, int]]:
    """Action points of a ``.tagstream`` as (time in seconds on the CSV clock, gesture id 1-12)."""
    path = Path(path)
    lines = _lines(path)
    if lines[0].strip() != "XQPCTick;Tag":
        raise SkeletonFormatError(str(path), 1, f"expected header 'XQPCTick;Tag', got {lines[0].strip()!r}")
    out = []
    for lineno, text in enumerate(lines[1:], 2):
        if not text.strip():
            continue
        tick, _, tag = text.partition(";")
        match = re.match(r"G(\d+)\b", tag.strip())
        if not tick.strip().isdigit() or not match:
            raise SkeletonFormatError(str(path), lineno, f"expected 'tick;Gnn name', got {text.strip()!r}")
        # The data set's own loader: csv_time = (tick * 1000 + 49875 / 2) / 49875, in microseconds.
        out.append(((int(tick) * 1000 + 49875 / 2) / 49875 / 1e6, int(match.group(1))))
    return out


# MSRC-12 gestures are tagged at their action point, near the end of the movement; measured on persons
# 1-10 (docs/skeleton.md) most motion energy lies in the 1.5 s before the tag.
MSRC12_BEFORE_S = 1.5
MSRC12_AFTER_S = 0.5


def read_msrc12(csv_path: str | Path, *, before_s: float = MSRC12_BEFORE_S,
                after_s: float = MSRC12_AFTER_S) -> list[SkeletonSequence]:
    """One window per tagged action point: [tag - before_s, tag + after_s], clipped to the recording."""
    csv_path = Path(csv_path)
    tag_path = csv_path.with_suffix(".tagstream")
    if not tag_path.is_file():
        raise SkeletonFormatError(str(tag_path), None, "tagstream missing for this CSV")
    times, joints = read_msrc12_csv(csv_path)
    match = MSRC_NAME.search(csv_path.name)
    subject = int(match.group(5)) if match else -1
    out = []
    for k, (tag_time, gesture) in enumerate(read_msrc12_tags(tag_path)):
        inside = (times >= tag_time - before_s) & (times <= tag_time + after_s)
        if inside.sum() < 2:
            raise SkeletonFormatError(
                str(tag_path), k + 2, f"action point at {tag_time:.2f} s lies outside the recording "
                f"({times[0]:.2f}-{times[-1]:.2f} s)"
            )
        out.append(SkeletonSequence(
            joints=joints[inside][None], layout="kinect_v1", label=gesture - 1,
            label_name=_class_name("msrc12", gesture), subject=subject, source=str(csv_path),
            dataset="msrc12", timestamps=times[inside],
            meta={"action_point_s": tag_time, "instance": k,
                  "instructions": match.group(1) + "_" + match.group(2) if match else ""},
        ))
    return out


# --- Kinetics-skeleton (ST-GCN JSON) --------------------------------------------------------------------


def read_kinetics_json(path: str | Path, *, max_bodies: int = 2, label_names: dict | None = None
                       ) -> SkeletonSequence:
    """ST-GCN per-clip JSON: ``{"data": [{"frame_index": i, "skeleton": [{"pose": [x0, y0, ...],
    "score": [...]}]}], "label": name, "label_index": k}``. Bodies are ranked by their summed score
    over the clip (the ST-GCN convention) and the top ``max_bodies`` kept; joints are (x, y, score)."""
    path = Path(path)
    try:
        clip = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise SkeletonFormatError(str(path), err.lineno, f"invalid JSON: {err.msg}") from None
    if not isinstance(clip, dict) or not isinstance(clip.get("data"), list):
        raise SkeletonFormatError(str(path), None, "missing 'data' list")
    frames = clip["data"]
    if not frames:
        raise SkeletonFormatError(str(path), None, "empty 'data' list")
    indices = []
    for k, frame in enumerate(frames):
        if "frame_index" not in frame or "skeleton" not in frame:
            raise SkeletonFormatError(str(path), None, f"data[{k}]: needs 'frame_index' and 'skeleton'")
        indices.append(int(frame["frame_index"]))
    first, last = min(indices), max(indices)
    num_frames = last - first + 1
    most = max(len(f["skeleton"]) for f in frames)
    if most == 0:
        raise SkeletonFormatError(str(path), None, "no skeleton in any frame")
    data = np.zeros((most, num_frames, 18, 3), np.float32)
    for k, frame in enumerate(frames):
        t = int(frame["frame_index"]) - first
        for m, body in enumerate(frame["skeleton"]):
            pose, score = body.get("pose"), body.get("score")
            if pose is None or score is None or len(pose) != 36 or len(score) != 18:
                raise SkeletonFormatError(
                    str(path), None, f"data[{k}].skeleton[{m}]: need 'pose' of 36 and 'score' of 18 numbers"
                )
            values = np.asarray(pose, np.float64).reshape(18, 2)
            if not (np.isfinite(values).all() and np.isfinite(score).all()):
                raise SkeletonFormatError(str(path), None, f"data[{k}].skeleton[{m}]: NaN value")
            data[m, t, :, :2] = values
            data[m, t, :, 2] = score
    order = np.argsort(-data[:, :, :, 2].sum(axis=(1, 2)))[:max_bodies]
    data = data[order]
    label = int(clip.get("label_index", -1))
    name = clip.get("label", "") or (label_names or {}).get(label, "")
    return SkeletonSequence(
        joints=data, layout="openpose18", label=label, label_name=str(name), source=str(path),
        dataset="kinetics", confidence=data[..., 2].copy(), meta={"has_skeleton": clip.get("has_skeleton")},
    )


# --- dispatch -------------------------------------------------------------------------------------------


def read_file(path: str | Path) -> SkeletonSequence | list[SkeletonSequence]:
    """Read one file, the format chosen by its name. MSRC-12 CSVs give one sequence per action point."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    name = path.name
    if name.endswith(".skeleton"):
        return read_ntu(path)
    if MSR_NAME.search(name):
        return read_msr_action3d(path)
    if UTK_NAME.search(name):
        frames, joints = read_utkinect_recording(path)
        return SkeletonSequence(joints=joints[None], layout="kinect_v1", source=str(path), dataset="utkinect",
                                subject=int(UTK_NAME.search(name).group(1)), timestamps=frames / 30.0)
    if MSRC_NAME.search(name) and path.suffix == ".csv":
        return read_msrc12(path)
    if FLORENCE_NAME.search(name) and path.suffix == ".txt":
        return read_florence(path)
    if path.suffix == ".json":
        return read_kinetics_json(path)
    raise ValueError(
        f"{path}: unknown skeleton file type (expected NTU .skeleton, "
        "MSR Action3D aAA_sSS_eEE_skeleton3D.txt, "
        "UTKinect joints_sSS_eEE.txt, Florence aAA_sS_idN.txt, MSRC-12 PI_M_G_pNN.csv or Kinetics .json)"
    )


_CLASS_CACHE: dict[str, dict[int, str]] = {}
CLASSES_DIR = Path(__file__).resolve().parents[2] / "resources" / "classes"


def class_names(dataset: str) -> dict[int, str]:
    """{1-based id: name} from resources/classes/<dataset>.tsv."""
    if dataset not in _CLASS_CACHE:
        path = CLASSES_DIR / f"{dataset}.tsv"
        table = {}
        if path.is_file():
            for lineno, text in enumerate(path.read_text().splitlines(), 1):
                if text.strip():
                    key, sep, name = text.partition("\t")
                    if not sep or not key.strip().isdigit():
                        raise SkeletonFormatError(str(path), lineno, "expected 'id<TAB>name'")
                    table[int(key)] = name.strip()
        _CLASS_CACHE[dataset] = table
    return _CLASS_CACHE[dataset]


def _class_name(dataset: str, one_based: int) -> str:
    return class_names(dataset).get(one_based, f"class {one_based}")
