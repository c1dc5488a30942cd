"""Readers of the real skeleton formats. Each returns SkeletonSequence in the sensor frame (metres,
right-handed, +y up) and raises SkeletonFormatError naming file and line on malformed input."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.data.sequence import EmptySkeletonError, SkeletonFormatError, SkeletonSequence
from crossglg.paths import resource_path

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
        meta={
            "setup": ids[0],
            "camera": ids[1],
            "replication": ids[3],
            "color_xy": color[keep],
            "body_ids": [order[i] for i in keep],
        },
    )


def denoise_bodies(
    joints: np.ndarray, *, max_bodies: int = 2, min_frames: int = 11, max_spread_ratio: float = 0.8
) -> list[int]:
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

UTK_ACTIONS = (
    "walk",
    "sitDown",
    "standUp",
    "pickUp",
    "carry",
    "throw",
    "push",
    "pull",
    "waveHands",
    "clapHands",
)


def read_utkinect_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices (T,), joints (T, 20, 3)) of one ``joints_sSS_eEE.txt``; duplicate indices dropped."""
    path = Path(path)
    frames: list[float] = []
    joints: list[np.ndarray] = []
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
            out.append(
                SkeletonSequence(
                    joints=joints[inside][None],
                    layout="kinect_v1",
                    label=label,
                    label_name=_class_name("utkinect", label + 1),
                    subject=subject,
                    source=str(path),
                    dataset="utkinect",
                    timestamps=frames[inside] / 30.0,
                    meta={"recording": recording, "frames": (start, end)},
                )
            )
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


def read_msrc12(
    csv_path: str | Path, *, before_s: float = MSRC12_BEFORE_S, after_s: float = MSRC12_AFTER_S
) -> list[SkeletonSequence]:
    """One window per tagged action point: [tag - before_s, tag + after_s], clipped to the recording."""
    csv_path = Path(csv_path)
    tag_path = csv_path.with_suffix(".tagstream")
    times, joints, tags, subject = _msrc12_session(csv_path)
    match = MSRC_NAME.search(csv_path.name)
    out = []
    for k, (tag_time, gesture) in enumerate(tags):
        inside = (times >= tag_time - before_s) & (times <= tag_time + after_s)
        if inside.sum() < 2:
            raise SkeletonFormatError(
                str(tag_path),
                k + 2,
                f"action point at {tag_time:.2f} s lies outside the recording "
                f"({times[0]:.2f}-{times[-1]:.2f} s)",
            )
        out.append(
            SkeletonSequence(
                joints=joints[inside][None],
                layout="kinect_v1",
                label=gesture - 1,
                label_name=_class_name("msrc12", gesture),
                subject=subject,
                source=str(csv_path),
                dataset="msrc12",
                timestamps=times[inside],
                meta={
                    "action_point_s": tag_time,
                    "instance": k,
                    "instructions": match.group(1) + "_" + match.group(2) if match else "",
                },
            )
        )
    return out


def _msrc12_session(csv_path: Path) -> tuple[np.ndarray, np.ndarray, list[tuple[float, int]], int]:
    """A session's (times, joints, action points, person); its tagstream must exist."""
    tag_path = csv_path.with_suffix(".tagstream")
    if not tag_path.is_file():
        raise SkeletonFormatError(str(tag_path), None, "tagstream missing for this CSV")
    times, joints = read_msrc12_csv(csv_path)
    match = MSRC_NAME.search(csv_path.name)
    return times, joints, read_msrc12_tags(tag_path), int(match.group(5)) if match else -1


NO_ACTION = "no action"


def read_msrc12_no_action(
    csv_path: str | Path,
    count: int,
    rng: np.random.Generator,
    *,
    spans_s: tuple[float, float] = (1.25, 2.0),
    before_s: float = MSRC12_BEFORE_S,
    after_s: float = MSRC12_AFTER_S,
) -> list[SkeletonSequence]:
    """Up to ``count`` stretches of a session's no-action time: the person standing, resting or returning
    to rest between two repetitions, where a live recogniser must stay silent. Each lies wholly outside
    every action's [tag - before_s, tag + after_s] and lasts a seeded length in ``spans_s`` (the app's
    live window up to a recorded example's 2 s); stretches are drawn in proportion to the free time, so
    short gaps between repetitions are as likely, per second, as long pauses."""
    csv_path = Path(csv_path)
    times, joints, tags, subject = _msrc12_session(csv_path)
    busy = sorted((t - before_s, t + after_s) for t, _ in tags)
    edges = [float(times[0]), *(x for span in busy for x in span), float(times[-1])]
    gaps = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= spans_s[0]]
    out: list[SkeletonSequence] = []
    if not gaps:
        return out
    free = np.array([b - a for a, b in gaps])
    for _ in range(count):
        a, b = gaps[int(rng.choice(len(gaps), p=free / free.sum()))]
        span = float(rng.uniform(spans_s[0], min(spans_s[1], b - a)))
        end = float(rng.uniform(a + span, b))
        inside = (times >= end - span) & (times <= end)
        if inside.sum() < 2 or not joints[inside].any():  # all-zero frames: the person left the view
            continue
        out.append(
            SkeletonSequence(
                joints=joints[inside][None],
                layout="kinect_v1",
                label=0,
                label_name=NO_ACTION,
                subject=subject,
                source=str(csv_path),
                dataset="msrc12",
                timestamps=times[inside],
                meta={"no_action": True, "start_s": end - span, "end_s": end},
            )
        )
    return out


# --- Kinetics-skeleton (ST-GCN JSON) --------------------------------------------------------------------


def read_kinetics_json(
    path: str | Path, *, max_bodies: int = 2, label_names: dict | None = None
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
        joints=data,
        layout="openpose18",
        label=label,
        label_name=str(name),
        source=str(path),
        dataset="kinetics",
        confidence=data[..., 2].copy(),
        meta={"has_skeleton": clip.get("has_skeleton")},
    )


# --- shared by the four sets below ---------------------------------------------------------------------


class DegenerateSequenceError(EmptySkeletonError):
    """A well-formed sequence too short to be a sample (NW-UCLA has clips of 1 to 10 frames).
    ``load_dataset`` reports and skips it like an empty file; ``reason`` is the rule it breaks, the same
    text for every file that rule rejects, so skips can be counted by reason."""

    def __init__(self, source: str, line: int | None, message: str, reason: str):
        super().__init__(source, line, message)
        self.reason = reason


# Kinect SDK v1 joint names as the Kinder-Gator and PRECOG headers spell them, in the kinect_v1 order.
KINECT_V1_SDK_NAMES = (
    "HipCenter",
    "Spine",
    "ShoulderCenter",
    "Head",
    "ShoulderLeft",
    "ElbowLeft",
    "WristLeft",
    "HandLeft",
    "ShoulderRight",
    "ElbowRight",
    "WristRight",
    "HandRight",
    "HipLeft",
    "KneeLeft",
    "AnkleLeft",
    "FootLeft",
    "HipRight",
    "KneeRight",
    "AnkleRight",
    "FootRight",
)


def _trim_empty_frames(joints: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Drop leading and trailing all-zero frames (no skeleton yet / any more); inner ones stay as absent."""
    present = np.flatnonzero(np.any(joints != 0, axis=(1, 2)))
    if present.size == 0:
        return (joints, *arrays)
    keep = slice(int(present[0]), int(present[-1]) + 1)
    return (joints[keep], *(a[keep] for a in arrays))


# --- Kinder-Gator ---------------------------------------------------------------------------------------

KINDER_GATOR_NAME = re.compile(r"POSE-p(\d+)_(\d+)-(.+)-(\d+)\.csv$")
# File motion string -> 1-based id of resources/classes/kinder_gator.tsv. The strings are the data set's
# own (its typos and the trailing dash of "Throw-a-ball-" included); the TSV holds the readable names.
KINDER_GATOR_MOTIONS = {
    "Bend-your-knee-while-raising-your-leg": 1,
    "Bend-your-other-knee-while-raising-your-leg": 2,
    "Bow": 3,
    "Climb-and-imaginary-ladder": 4,
    "Do-a-forward-lunge": 5,
    "Do-two-jumping-jacks": 6,
    "Draw-a-circle": 7,
    "Draw-a-square": 8,
    "Draw-a-triangle": 9,
    "Draw-the-letter-A": 10,
    "Draw-the-letter-C": 11,
    "Draw-the-letter-K": 12,
    "Draw-the-letter-M": 13,
    "Draw-the-letter-X": 14,
    "Fly-like-a-bird": 15,
    "Fly-like-an-airplane": 16,
    "Jump": 17,
    "Jump-as-high-as-you-can": 18,
    "Kick-a-ball": 19,
    "Kick-a-ball-as-far-as-you-can": 20,
    "Kick-a-ball-as-far-as-you-can-with-the-other-leg": 21,
    "Kick-a-ball-with-the-other-leg": 22,
    "Lift-your-leg-to-one-side": 23,
    "Lift-your-leg-to-the-other-side": 24,
    "Make-the-letter-A": 25,
    "Make-the-letter-C": 26,
    "Make-the-letter-K": 27,
    "Make-the-letter-M": 28,
    "Make-the-letter-P": 29,
    "Make-the-letter-T": 30,
    "Make-the-letter-X": 31,
    "Make-the-letter-Y": 32,
    "Point-at-the-camera": 33,
    "Punch": 34,
    "Push-an-imaginary-button-in-front-of-you": 35,
    "Put-your-hands-on-your-hips-and-lean-to-the-other-side": 36,
    "Put-your-hands-on-your-hips-and-lean-to-the-side": 37,
    "Put-your-hands-on-your-hips-and-twist": 38,
    "Raise-your-arm-to-one-side": 39,
    "Raise-your-arm-to-the-other-side": 40,
    "Raise-your-hand": 41,
    "Raise-your-other-hand": 42,
    "Run-in-place": 43,
    "Run-in-place-as-fast-as-you-can": 44,
    "Signal-someone-to-come-here": 45,
    "Signal-someone-to-stop": 46,
    "Swim": 47,
    "Swipe-across-an-imaginary-screen-in-front-of-you-from-left-to-right": 48,
    "Swipe-across-an-imaginary-screen-in-front-of-you-from-right-to-left": 49,
    "Throw-a-ball-": 50,
    "Throw-a-ball-as-far-as-you-can": 51,
    "Throw-a-ball-as-far-as-you-can-with-the-other-arm": 52,
    "Throw-a-ball-with-your-other-arm": 53,
    "Touch-your-toes": 54,
    "Walk-in-place": 55,
    "Walk-in-place-as-fast-as-you-can": 56,
    "Wave-your-hand": 57,
    "Wave-your-other-hand": 58,
}
# Participants and their handedness (R, L, B = both) from the data set's README.txt.
KINDER_GATOR_ADULTS = {
    565: "R",
    577: "R",
    604: "R",
    976: "R",
    734: "R",
    876: "R",
    921: "L",
    888: "R",
    934: "R",
    970: "R",
}
KINDER_GATOR_CHILDREN = {
    337: "B",
    595: "B",
    106: "R",
    290: "R",
    342: "R",
    474: "R",
    169: "R",
    103: "R",
    723: "R",
    644: "R",
}
KINECT_V1_XYZ_COLUMNS = tuple(f"{joint}{axis}" for joint in KINECT_V1_SDK_NAMES for axis in "XYZ")
KINDER_GATOR_HEADER = ("Timestamp", *KINECT_V1_XYZ_COLUMNS, "User-ID", "Action", "")


def kinder_gator_name(path: str | Path) -> tuple[int, int, str]:
    """(participant id, performance order, motion string) from a Kinder-Gator file name."""
    path = Path(path)
    match = KINDER_GATOR_NAME.search(path.name)
    if not match:
        raise SkeletonFormatError(
            str(path), None, "file name: expected POSE-p<PID>_<order>-<Motion-Name>-<unix ms>.csv"
        )
    motion = match.group(3)
    if motion not in KINDER_GATOR_MOTIONS:
        raise SkeletonFormatError(str(path), None, f"motion name: unknown Kinder-Gator motion {motion!r}")
    return int(match.group(1)), int(match.group(2)), motion


def read_kinder_gator(path: str | Path) -> SkeletonSequence:
    """``POSE-p<PID>_<order>-<Motion>-<unix ms>.csv``: a header, then per frame a Timestamp in
    milliseconds, 20 joints x y z (Kinect SDK v1 camera space, metres), User-ID, Action and an empty field
    (each line ends in a comma). Timestamps become seconds from the first frame; a repeated timestamp (88
    frames in the set) is dropped as the recorder writing the same frame twice. A file renamed away from
    the data set's pattern is read from its User-ID and Action columns (performance order -1)."""
    path = Path(path)
    named = KINDER_GATOR_NAME.search(path.name) is not None
    subject, order, motion = kinder_gator_name(path) if named else (None, -1, None)
    lines = _lines(path)
    header = [name.strip() for name in lines[0].split(",")]
    if tuple(header) != KINDER_GATOR_HEADER:
        pairs = zip(header, KINDER_GATOR_HEADER, strict=False)
        shorter = min(len(header), len(KINDER_GATOR_HEADER))
        column = next((k for k, (a, b) in enumerate(pairs) if a != b), shorter)
        found = header[column] if column < len(header) else "(nothing)"
        expected = KINDER_GATOR_HEADER[column] if column < len(KINDER_GATOR_HEADER) else "(end of line)"
        raise SkeletonFormatError(
            str(path),
            1,
            f"header: column {column + 1} is {found!r}, expected {expected!r} "
            f"({len(header)} columns, expected {len(KINDER_GATOR_HEADER)})",
        )
    rows, numbers = [], len(KINDER_GATOR_HEADER) - 3
    for lineno, text in enumerate(lines[1:], 2):
        if not text.strip():
            continue
        fields = text.split(",")
        if len(fields) != len(KINDER_GATOR_HEADER):
            raise SkeletonFormatError(
                str(path),
                lineno,
                f"line: {len(fields)} comma-separated fields, expected "
                f"{len(KINDER_GATOR_HEADER)} (Timestamp, 20 joints x y z, User-ID, Action, empty)",
            )
        user, action = fields[numbers].strip(), fields[numbers + 1].strip()
        if subject is None:  # no name to go by: the first frame line gives participant and motion
            if not user.isdigit():
                raise SkeletonFormatError(str(path), lineno, f"User-ID: {user[:20]!r} is not an id")
            if action not in KINDER_GATOR_MOTIONS:
                raise SkeletonFormatError(str(path), lineno, f"Action: unknown motion {action!r}")
            subject, motion = int(user), action
        source = "file name" if named else "first frame"
        if user != str(subject):
            raise SkeletonFormatError(str(path), lineno, f"User-ID: {user!r}, {source} says {subject}")
        if action != motion:
            raise SkeletonFormatError(str(path), lineno, f"Action: {action!r}, {source} says {motion!r}")
        rows.append((lineno, fields[:numbers]))
    if not rows:
        raise SkeletonFormatError(str(path), None, "no frame lines after the header")
    # set from the file name, else from the first frame line
    assert subject is not None and motion is not None
    data = _number_rows(path, rows, KINDER_GATOR_HEADER)
    times = data[:, 0] / 1000.0
    steps = np.diff(times)
    if np.any(steps < 0):
        k = int(np.argmax(steps < 0)) + 1
        raise SkeletonFormatError(str(path), rows[k][0], f"Timestamp: {data[k, 0]} goes backwards")
    keep = np.concatenate([[True], steps > 0])
    joints, times = _trim_empty_frames(data[keep, 1:].reshape(-1, 20, 3), times[keep])
    _require_skeleton(path, joints)
    group = "adult" if subject in KINDER_GATOR_ADULTS else "child" if subject in KINDER_GATOR_CHILDREN else ""
    handedness = KINDER_GATOR_ADULTS.get(subject) or KINDER_GATOR_CHILDREN.get(subject, "")
    class_id = KINDER_GATOR_MOTIONS[motion]
    return SkeletonSequence(
        joints=joints[None],
        layout="kinect_v1",
        label=class_id - 1,
        label_name=_class_name("kinder_gator", class_id),
        subject=subject,
        source=str(path),
        dataset="kinder_gator",
        timestamps=times - times[0],
        meta={
            "group": group,
            "order": order,
            "handedness": handedness,
            "motion": motion,
            "clock_start_s": float(times[0]),
            "duplicate_frames_dropped": int((~keep).sum()),
        },
    )


def _number_rows(path: Path, rows: list[tuple[int, list[str]]], columns: tuple[str, ...]) -> np.ndarray:
    """(lineno, text fields) rows -> float array; on a bad value the line and column name are reported."""
    try:
        data = np.array([fields for _, fields in rows], dtype=np.float64)
    except ValueError:
        data = None
    if data is not None and np.isfinite(data).all():
        return data
    values = []
    for lineno, fields in rows:
        for column, text in enumerate(fields):
            try:
                value = float(text)
            except ValueError:
                raise SkeletonFormatError(
                    str(path), lineno, f"{columns[column]}: not a number: {text.strip()[:30]!r}"
                ) from None
            if not np.isfinite(value):
                raise SkeletonFormatError(str(path), lineno, f"{columns[column]}: NaN or infinite value")
            values.append(value)
    return np.array(values).reshape(len(rows), -1)  # numbers only Python's float() reads


# --- Northwestern-UCLA Multiview Action3D --------------------------------------------------------------

NW_UCLA_NAME = re.compile(r"a(\d\d)_s(\d\d)_e(\d\d)_v(\d\d)")
NW_UCLA_ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)  # the data set's own action ids (7 and 10 unused)
# Length histogram of the 1484 JSON clips: 1 (2 clips), 6 (2), 8 (4), 9 (2), 10 (1), then 11 (26) and every
# length above is common (median 31). The 11 clips under 11 frames (two are a single frame) are fragments
# too short to hold an action: they are rejected with a reason, not padded.
NW_UCLA_MIN_FRAMES = 11


def _json_line(text: str, key: str) -> int:
    """Line of the first ``"key"`` in a JSON text (1 for the data set's one-line files)."""
    at = text.find(f'"{key}"')
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def read_nw_ucla(path: str | Path, *, min_frames: int = NW_UCLA_MIN_FRAMES) -> SkeletonSequence:
    """``aAA_sSS_eEE_vVV.json`` (the CTR-GCN form): ``{"file_name", "skeletons": [T][20][3], "label"}``
    in Kinect SDK v1 order and metres. ``label`` = AA - 1 (the set's own ids: labels 6, 9 unused); the
    JSON ``label`` is the 1-based rank of AA among the 10 ids and must agree. A renamed file is read by
    its ``file_name`` field. Clips shorter than ``min_frames`` raise DegenerateSequenceError."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise SkeletonFormatError(str(path), None, "not a text file") from None
    try:
        clip = json.loads(text)
    except json.JSONDecodeError as err:
        raise SkeletonFormatError(str(path), err.lineno, f"JSON: {err.msg} (column {err.colno})") from None
    if not isinstance(clip, dict):
        raise SkeletonFormatError(str(path), 1, "JSON: expected an object with 'skeletons' and 'label'")
    for key in ("skeletons", "label"):
        if key not in clip:
            raise SkeletonFormatError(str(path), 1, f"{key}: missing")
    match = NW_UCLA_NAME.fullmatch(path.stem)
    if match and "file_name" in clip and clip["file_name"] != path.stem:
        raise SkeletonFormatError(
            str(path), _json_line(text, "file_name"), f"file_name: {clip['file_name']!r} is not {path.stem!r}"
        )
    if not match:  # renamed: the JSON still says which clip it is
        match = NW_UCLA_NAME.fullmatch(str(clip.get("file_name", "")))
        if not match:
            raise SkeletonFormatError(
                str(path),
                _json_line(text, "file_name"),
                "file_name: neither the file's name nor its 'file_name' field is aAA_sSS_eEE_vVV",
            )
    action, subject, repetition, view = (int(g) for g in match.groups())
    if action not in NW_UCLA_ACTIONS:
        raise SkeletonFormatError(str(path), None, f"file name: a{action:02d} is not an NW-UCLA action")
    expected_rank = NW_UCLA_ACTIONS.index(action) + 1
    if not isinstance(clip["label"], int) or clip["label"] != expected_rank:
        raise SkeletonFormatError(
            str(path),
            _json_line(text, "label"),
            f"label: {clip['label']!r} disagrees with a{action:02d} "
            f"(expected {expected_rank}, the rank of action {action} among {NW_UCLA_ACTIONS})",
        )
    line = _json_line(text, "skeletons")
    frames = clip["skeletons"]
    if not isinstance(frames, list) or not frames:
        raise SkeletonFormatError(str(path), line, "skeletons: expected a non-empty list of frames")
    for t, frame in enumerate(frames):
        if (
            not isinstance(frame, list)
            or len(frame) != 20
            or any(not isinstance(joint, list) or len(joint) != 3 for joint in frame)
        ):
            size = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise SkeletonFormatError(
                str(path), line, f"skeletons[{t}]: expected 20 joints of 3 numbers, got {size} entries"
            )
    try:
        joints = np.array(frames, dtype=np.float64)
    except (TypeError, ValueError):
        t, j = next(
            (t, j)
            for t, frame in enumerate(frames)
            for j, joint in enumerate(frame)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in joint)
        )
        raise SkeletonFormatError(
            str(path), line, f"skeletons[{t}][{j}]: not a number in {frames[t][j]!r}"[:160]
        ) from None
    if not np.isfinite(joints).all():
        t = int(np.argmax(~np.isfinite(joints).all(axis=(1, 2))))
        raise SkeletonFormatError(str(path), line, f"skeletons[{t}]: NaN or infinite value")
    joints = _trim_empty_frames(joints)[0]
    if len(joints) < min_frames:
        raise DegenerateSequenceError(
            str(path),
            None,
            f"{len(joints)} frame(s): shorter than the {min_frames} an NW-UCLA clip needs",
            reason=f"fewer than {min_frames} frames",
        )
    _require_skeleton(path, joints)
    return SkeletonSequence(
        joints=joints[None],
        layout="kinect_v1",
        label=action - 1,
        label_name=_class_name("nw_ucla", action),
        subject=subject,
        source=str(path),
        dataset="nw_ucla",
        meta={"view": view, "repetition": repetition},
    )


# --- GTU3DActions ---------------------------------------------------------------------------------------

GTU3D_NAME = re.compile(r"movement(\d+)\.txt$")
# Folder -> 1-based class id of resources/classes/gtu3d.tsv. The loader's README numbers its classes in
# the lexicographic order of the folder names (1, 10, 11, ..., 14, 2, ..., 9); its file counts (below)
# match the folders one to one under that order (tests/test_data_new_sets.py checks every folder).
GTU3D_FOLDER_CLASS = {
    "1": 1,
    "10": 2,
    "11": 3,
    "12": 4,
    "13": 5,
    "14": 6,
    "2": 7,
    "3": 8,
    "4": 9,
    "5": 10,
    "6": 11,
    "7": 12,
    "8": 13,
    "9": 14,
}
GTU3D_CLASS_FILES = {
    1: 37,
    2: 40,
    3: 42,
    4: 32,
    5: 25,
    6: 27,
    7: 38,
    8: 39,
    9: 38,
    10: 39,
    11: 39,
    12: 37,
    13: 26,
    14: 49,
}  # the README's count per class


def read_gtu3d(path: str | Path) -> SkeletonSequence:
    """``<folder 1-14>/movementN.txt``: 25 lines ``x y z`` (metres, Kinect v2 = NTU order) per frame.
    The files hold no subject id: ``subject`` is -1, so they serve class-level training, not
    per-subject splits. Names and axes are plain Kinect v2 camera space (anatomical sides, checked on the
    data in docs/skeleton.md); it is the loader README's names of the two shaking classes that name the
    hand from the viewer's side, so the TSV names those classes by the hand that moves."""
    path = Path(path)
    folder = path.parent.name
    if folder not in GTU3D_FOLDER_CLASS:
        raise SkeletonFormatError(str(path), None, f"folder: {folder!r} is not a GTU3D class folder (1-14)")
    match = GTU3D_NAME.search(path.name)
    if not match:
        raise SkeletonFormatError(str(path), None, "file name: expected movementN.txt")
    joints = _joint_frames(path, 25, 3, "joint line (x y z)")
    joints = _trim_empty_frames(joints)[0]
    _require_skeleton(path, joints)
    class_id = GTU3D_FOLDER_CLASS[folder]
    return SkeletonSequence(
        joints=joints[None],
        layout="ntu25",
        label=class_id - 1,
        label_name=_class_name("gtu3d", class_id),
        subject=-1,
        source=str(path),
        dataset="gtu3d",
        meta={"folder": folder, "movement": int(match.group(1))},
    )


# --- PRECOG 2016 ----------------------------------------------------------------------------------------

PRECOG_NAME = re.compile(r"Seq(\d+)_(\d+)\.csv$")
PRECOG_FPS = 30.0  # Kinect SDK 1.8 skeleton stream; the files carry no time column
PRECOG_CLASSES = 8
# Runs of the same action split by a short unlabelled gap are one action: each script holds 5 different
# actions, and the only splits seen are 1, 7 and 8 frames long (Seq1_10, Seq6_3).
PRECOG_MERGE_GAP_FRAMES = 10


@dataclass(frozen=True)
class ActionEvent:
    """One ground-truth action of a continuous recording: ``label`` 0-based, frames inclusive."""

    label: int
    label_name: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float


@dataclass
class PrecogStream:
    """A whole PRECOG recording, as a live recogniser would see it.

    ``sequence`` holds every frame (label -1, timestamps frame / 30 s); ``frame_labels`` (T,) are the
    file's per-frame class ids (1-based, 0 = no action) exactly as recorded; ``events`` are the labelled
    actions, runs split by a gap of up to PRECOG_MERGE_GAP_FRAMES unlabelled frames merged.
    """

    sequence: SkeletonSequence
    frame_labels: np.ndarray
    events: list[ActionEvent]
    script: int
    subject: int

    @property
    def fps(self) -> float:
        return PRECOG_FPS

    def label_at(self, time_s: float) -> int:
        """0-based label of the event covering ``time_s``, -1 outside every event."""
        for event in self.events:
            if event.start_s <= time_s <= event.end_s:
                return event.label
        return -1


def _precog_events(frame_labels: np.ndarray, times: np.ndarray) -> list[ActionEvent]:
    runs: list[list[int]] = []  # [class id, start, end]
    for t, class_id in enumerate(frame_labels.tolist()):
        if not class_id:
            continue
        if runs and runs[-1][0] == class_id and t - runs[-1][2] - 1 <= PRECOG_MERGE_GAP_FRAMES:
            runs[-1][2] = t  # the same action again after a short unlabelled gap (or none)
        else:
            runs.append([class_id, t, t])
    return [
        ActionEvent(
            label=c - 1,
            label_name=_class_name("precog", c),
            start_frame=a,
            end_frame=b,
            start_s=float(times[a]),
            end_s=float(times[b]),
        )
        for c, a, b in runs
    ]


def read_precog_stream(path: str | Path) -> PrecogStream:
    """``SeqX_Y.csv`` (script X, subject Y): a ';'-separated header of the 20 Kinect SDK v1 joint names,
    then per frame 20 fields ``x y z`` (metres, Kinect v1 camera space) and the frame's class id
    (0 = no action). All-zero frames are kept as absent; a recording with no skeleton at all (Seq2_10 and
    Seq4_10) raises EmptySkeletonError. A file not named SeqX_Y.csv gets script and subject -1."""
    path = Path(path)
    match = PRECOG_NAME.search(path.name)
    script, subject = (int(match.group(1)), int(match.group(2))) if match else (-1, -1)
    lines = _lines(path)
    header = tuple(name.strip() for name in lines[0].split(";"))
    if header != KINECT_V1_SDK_NAMES:
        raise SkeletonFormatError(
            str(path),
            1,
            f"header: expected the 20 Kinect v1 joint names ({KINECT_V1_SDK_NAMES[0]}; ...; "
            f"{KINECT_V1_SDK_NAMES[-1]}), got {len(header)} fields starting {header[0][:20]!r}",
        )
    rows, labels = [], []
    for lineno, text in enumerate(lines[1:], 2):
        if not text.strip():
            continue
        fields = text.split(";")
        if len(fields) != 21:
            raise SkeletonFormatError(
                str(path), lineno, f"line: {len(fields)} ';'-separated fields, expected 21 (20 joints, label)"
            )
        numbers = " ".join(fields[:20]).split()
        if len(numbers) != 60:
            j = next(j for j, field_text in enumerate(fields[:20]) if len(field_text.split()) != 3)
            raise SkeletonFormatError(
                str(path),
                lineno,
                f"{KINECT_V1_SDK_NAMES[j]}: expected 3 numbers 'x y z', got {len(fields[j].split())}",
            )
        label_text = fields[20].strip()
        if not label_text.isdigit() or int(label_text) > PRECOG_CLASSES:
            raise SkeletonFormatError(
                str(path), lineno, f"label: {label_text[:20]!r} is not a class id 0-{PRECOG_CLASSES}"
            )
        rows.append((lineno, numbers))
        labels.append(int(label_text))
    if not rows:
        raise SkeletonFormatError(str(path), None, "no frame lines after the header")
    joints = _number_rows(path, rows, KINECT_V1_XYZ_COLUMNS).reshape(-1, 20, 3)
    if not np.any(joints != 0):
        raise EmptySkeletonError(str(path), None, "no frame holds a skeleton (all joints zero)")
    _require_skeleton(path, joints)
    frame_labels = np.array(labels, dtype=np.int64)
    times = np.arange(len(joints)) / PRECOG_FPS
    sequence = SkeletonSequence(
        joints=joints[None],
        layout="kinect_v1",
        subject=subject,
        source=str(path),
        dataset="precog",
        timestamps=times,
        meta={"script": script},
    )
    events = _precog_events(frame_labels, times)
    return PrecogStream(sequence, frame_labels, events, script=script, subject=subject)


def read_precog_segments(path: str | Path) -> list[SkeletonSequence]:
    """One SkeletonSequence per labelled action of a PRECOG recording (the stream's ``events``); the
    timestamps stay on the recording's clock (frame / 30 s)."""
    stream = read_precog_stream(path)
    whole = stream.sequence
    assert whole.timestamps is not None  # read_precog_stream always sets them
    out = []
    for k, event in enumerate(stream.events):
        cut = slice(event.start_frame, event.end_frame + 1)
        joints = whole.joints[:, cut]
        if np.count_nonzero(np.any(joints != 0, axis=(0, 2, 3))) < 2:
            raise SkeletonFormatError(
                str(path),
                event.start_frame + 2,
                f"label: action {event.label + 1} at frames {event.start_frame}-{event.end_frame} "
                "has fewer than 2 frames with a skeleton",
            )
        out.append(
            SkeletonSequence(
                joints=joints,
                layout="kinect_v1",
                label=event.label,
                label_name=event.label_name,
                subject=stream.subject,
                source=whole.source,
                dataset="precog",
                timestamps=whole.timestamps[cut],
                meta={
                    "script": stream.script,
                    "segment": k,
                    "start_frame": event.start_frame,
                    "end_frame": event.end_frame,
                },
            )
        )
    return out


# --- Pose sessions (saved by crossglg-live and crossglg-recognize --save-session) -----------------------

POSE_SESSION_FORMAT = "crossglg-pose-session"
POSE_SESSION_VERSION = 1
# Arrays of a session .npz (docs/app.md, "Replay and pose sessions"); no pickle, no object arrays.
POSE_SESSION_FIELDS = ("meta", "timestamps", "joints", "visibility", "segment_starts")


def read_pose_session(path: str | Path) -> list[SkeletonSequence]:
    """A pose session ``.npz`` saved by the app: one SkeletonSequence per segment (the live recogniser
    restarted between segments, e.g. where a looping file started over), in order. Frames without a
    person are NaN; ``confidence`` is the landmarks' visibility; timestamps are the source's seconds.
    Errors name the file and the array (field) at fault."""
    import zipfile

    from crossglg.skeleton import get_layout

    path = Path(path)

    def fault(field_name: str | None, message: str) -> SkeletonFormatError:
        where = f"field {field_name!r}: " if field_name else ""
        return SkeletonFormatError(str(path), None, f"{where}{message}")

    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise fault(None, "a single .npy array, not a pose session (.npz)")
    if not magic.startswith(b"PK"):
        raise fault(None, "not a pose session: not an .npz (zip) archive")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise fault(None, f"not a pose session (an .npz archive without pickled data): {exc}") from None
    if not hasattr(archive, "files"):
        raise fault(None, "a single .npy array, not a pose session (.npz)")
    with archive:
        arrays = {}
        for name in POSE_SESSION_FIELDS:
            if name not in archive.files:
                raise fault(name, f"missing (a pose session holds {', '.join(POSE_SESSION_FIELDS)})")
            try:
                arrays[name] = archive[name]
            except (ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
                raise fault(name, f"unreadable ({exc})") from None
    meta_array = arrays["meta"]
    if meta_array.shape != () or meta_array.dtype.kind != "U":
        raise fault("meta", f"expected one JSON string, got {meta_array.dtype} {meta_array.shape}")
    try:
        meta = json.loads(str(meta_array[()]))
    except json.JSONDecodeError as err:
        raise fault("meta", f"invalid JSON at character {err.pos}: {err.msg}") from None
    if not isinstance(meta, dict) or meta.get("format") != POSE_SESSION_FORMAT:
        raise fault("meta", f"'format' is not {POSE_SESSION_FORMAT!r}")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= POSE_SESSION_VERSION:
        raise fault("meta", f"'version' {version!r} is not one this reader knows (1-{POSE_SESSION_VERSION})")
    try:
        layout = get_layout(str(meta.get("layout")))
    except KeyError as exc:
        raise fault("meta", f"'layout': {exc.args[0]}") from None
    source = meta.get("source", "")
    if not isinstance(source, str):
        raise fault("meta", f"'source' must be a string, got {type(source).__name__}")

    times = arrays["timestamps"]
    if times.ndim != 1 or times.dtype.kind != "f" or len(times) == 0:
        raise fault("timestamps", f"expected a non-empty 1-D float array, got {times.dtype} {times.shape}")
    count = len(times)
    if not np.isfinite(times).all():
        raise fault("timestamps", f"[{int(np.argmax(~np.isfinite(times)))}] is NaN or infinite")
    joints = arrays["joints"]
    expected = (count, layout.num_joints, layout.channels)
    if joints.shape != expected or joints.dtype.kind != "f":
        raise fault(
            "joints",
            f"expected float {expected} (frames, {layout.name} joints, channels), "
            f"got {joints.dtype} {joints.shape}",
        )
    if np.isinf(joints).any():
        frame = int(np.argmax(np.isinf(joints).any(axis=(1, 2))))
        raise fault("joints", f"frame {frame} holds an infinite value")
    visibility = arrays["visibility"]
    if visibility.shape != expected[:2] or visibility.dtype.kind != "f":
        raise fault("visibility", f"expected float {expected[:2]}, got {visibility.dtype} {visibility.shape}")
    starts = arrays["segment_starts"]
    if (
        starts.ndim != 1
        or starts.dtype.kind not in "iu"
        or len(starts) == 0
        or starts[0] != 0
        or np.any(np.diff(starts) <= 0)
        or starts[-1] >= count
    ):
        raise fault(
            "segment_starts",
            f"expected increasing frame indices from 0 below {count}, got {starts.tolist()[:8]}",
        )
    bounds = [*starts.tolist(), count]
    out = []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        back = np.flatnonzero(np.diff(times[a:b]) <= 0)
        if back.size:
            i = a + int(back[0]) + 1
            raise fault(
                "timestamps",
                f"[{i}] = {times[i]!r} is not after [{i - 1}] = {times[i - 1]!r} "
                f"within segment {k} (a new segment must start where the clock goes back)",
            )
        out.append(
            SkeletonSequence(
                joints=joints[a:b][None],
                layout=layout.name,
                source=str(path),
                dataset="session",
                timestamps=times[a:b],
                confidence=visibility[a:b][None].astype(np.float32),
                meta={"source": source, "segment": k, "first_frame": a, "saved": meta.get("saved", "")},
            )
        )
    return out


# --- dispatch -------------------------------------------------------------------------------------------


def _head(path: Path, size: int = 400) -> str:
    """The first characters of a file, for telling formats apart where the name does not."""
    with open(path, "rb") as handle:
        return handle.read(size).decode("utf-8", errors="replace")


def read_utkinect_file(path: str | Path) -> SkeletonSequence:
    """One whole UTKinect recording (every action of it) with its frame clock at 30 Hz; the subject comes
    from a joints_sSS_eEE.txt name, -1 for any other name."""
    frames, joints = read_utkinect_recording(path)
    utk = UTK_NAME.search(Path(path).name)
    return SkeletonSequence(
        joints=joints[None],
        layout="kinect_v1",
        source=str(path),
        dataset="utkinect",
        subject=int(utk.group(1)) if utk else -1,
        timestamps=frames / 30.0,
    )


def read_file(path: str | Path) -> SkeletonSequence | list[SkeletonSequence]:
    """Read one file, the format chosen by its name, and by its first line where the suffix is shared
    (.csv, .json). MSRC-12 CSVs give one sequence per action point, PRECOG CSVs one per labelled action,
    a pose session (.npz) one per segment."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    name, suffix = path.name, path.suffix.lower()
    if name.endswith(".skeleton"):
        return read_ntu(path)
    if MSR_NAME.search(name):
        return read_msr_action3d(path)
    if UTK_NAME.search(name):
        return read_utkinect_file(path)
    if suffix == ".csv":
        head = _head(path)
        if KINDER_GATOR_NAME.search(name) or head.startswith("Timestamp,HipCenterX"):
            return read_kinder_gator(path)
        if PRECOG_NAME.search(name) or head.startswith("HipCenter;"):
            return read_precog_segments(path)
        if MSRC_NAME.search(name):
            return read_msrc12(path)
    if suffix == ".txt" and FLORENCE_NAME.search(name):
        return read_florence(path)
    if suffix == ".txt" and GTU3D_NAME.search(name):
        return read_gtu3d(path)
    if suffix == ".json":
        if NW_UCLA_NAME.search(name) or '"skeletons"' in _head(path):
            return read_nw_ucla(path)
        return read_kinetics_json(path)
    if suffix == ".npz":
        return read_pose_session(path)
    raise ValueError(
        f"{path}: unknown skeleton file type (expected NTU .skeleton, "
        "MSR Action3D aAA_sSS_eEE_skeleton3D.txt, "
        "UTKinect joints_sSS_eEE.txt, Florence aAA_sS_idN.txt, MSRC-12 PI_M_G_pNN.csv, "
        "Kinder-Gator POSE-p<PID>_<order>-<Motion>-<ms>.csv, NW-UCLA aAA_sSS_eEE_vVV.json, "
        "GTU3D <class folder>/movementN.txt, PRECOG SeqX_Y.csv, Kinetics .json or a pose session .npz)"
    )


_CLASS_CACHE: dict[str, dict[int, str]] = {}
CLASSES_DIR = resource_path("classes")


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
