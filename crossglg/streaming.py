"""Scoring a live recogniser on a continuous recording, the way a user experiences it.

A recording has ground-truth action events (class, start, end in seconds) and "no action" time between
them. The recogniser emits a label every few frames; a *fire* is the moment the shown label changes to a
class name (``unknown`` and ``no person`` never fire). Each fire is matched to at most one event:

* a fire of class c at time t belongs to an event of class c when ``start <= t <= end + tolerance``: the
  window that sees an action ends after it, so a label may trail the action's end by up to ``tolerance``;
* the first such fire detects the event (its latency is ``t - end``: negative when the label appears
  before the action is over); later fires of the same class for the same event are *double fires*;
* any other fire is a *false label*; those that fall outside every event (and its tolerance) count
  against "false labels per minute of no-action time";
* of those, the ones within ``lead`` before an event's start are also counted apart as *onset labels*:
  an event's annotated start can come after the gesture has begun (MSRC-12's events are cut around an
  action point, and a gesture repeated back to back starts earlier), so a label there names a gesture
  that is starting rather than one shown during rest. "False labels per minute of rest" leaves them and
  that lead time out; "per minute of no-action time" keeps both, and stays the figure targets are judged on.

Event precision = detecting fires / all fires (double fires count against it), recall = detected events /
events, F1 their harmonic mean.

Reading a whole recording as a stream (:func:`read_stream`) and its ground-truth events
(:func:`precog_events`, :func:`msrc12_events`) live here too; replaying it through the app's recogniser is
``demo.live.replay`` (the app's layer).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

SILENT_LABELS = frozenset({"unknown", "no person", ""})


@dataclass(frozen=True)
class Event:
    label: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class Fire:
    label: str
    time: float


def fires(predictions: Iterable[tuple[float, str]], silent: frozenset[str] = SILENT_LABELS) -> list[Fire]:
    """(time, shown label) in time order -> the moments the label changes to a class name."""
    out: list[Fire] = []
    shown = None
    for t, label in predictions:
        if label != shown and label not in silent:
            out.append(Fire(label, float(t)))
        shown = label
    return out


@dataclass
class StreamScore:
    events: int
    fires: int
    detected: int
    double_fires: int
    false_labels: int
    false_in_no_action: int
    no_action_s: float
    latencies_s: list[float] = field(default_factory=list)
    # class -> [events, detected]: which actions a decision rule catches and which it loses
    per_class: dict[str, list[int]] = field(default_factory=dict)
    # "performed -> shown": the wrong names shown during an event (or its tolerance), where most wrong
    # labels fall; what an embedding lever has to separate
    confusions: dict[str, int] = field(default_factory=dict)
    # "next event -> shown": the false labels in no-action time within the lead before an event's start
    onset_labels: dict[str, int] = field(default_factory=dict)
    rest_s: float = 0.0  # no-action time less the lead before each event
    rest_labels: dict[str, int] = field(default_factory=dict)  # shown -> count: the other no-action labels

    @property
    def precision(self) -> float:
        return self.detected / self.fires if self.fires else 1.0

    @property
    def recall(self) -> float:
        return self.detected / self.events if self.events else 1.0

    @property
    def f1(self) -> float:
        return self.open_set_f1(0)

    def open_set_f1(self, stray_labels: int) -> float:
        """F1 with ``stray_labels`` counted as wrong labels: those shown while the person did something the
        gallery never enrolled, which a user sees as just as wrong as a wrong name."""
        shown = self.fires + stray_labels
        p = self.detected / shown if shown else 1.0
        r = self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_per_minute(self) -> float:
        return self.false_in_no_action / (self.no_action_s / 60.0) if self.no_action_s > 0 else 0.0

    @property
    def rest_false_per_minute(self) -> float:
        return sum(self.rest_labels.values()) / (self.rest_s / 60.0) if self.rest_s > 0 else 0.0

    def latency(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_s, q)) if self.latencies_s else None

    def __add__(self, other: StreamScore) -> StreamScore:
        per_class = {c: [0, 0] for c in sorted(self.per_class.keys() | other.per_class.keys())}
        for part in (self.per_class, other.per_class):
            for c, (events, detected) in part.items():
                per_class[c][0] += events
                per_class[c][1] += detected
        return StreamScore(
            self.events + other.events,
            self.fires + other.fires,
            self.detected + other.detected,
            self.double_fires + other.double_fires,
            self.false_labels + other.false_labels,
            self.false_in_no_action + other.false_in_no_action,
            self.no_action_s + other.no_action_s,
            self.latencies_s + other.latencies_s,
            per_class,
            dict(Counter(self.confusions) + Counter(other.confusions)),
            dict(Counter(self.onset_labels) + Counter(other.onset_labels)),
            self.rest_s + other.rest_s,
            dict(Counter(self.rest_labels) + Counter(other.rest_labels)),
        )

    def summary(self) -> dict:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_per_minute": self.false_per_minute,
            "rest_false_per_minute": self.rest_false_per_minute,
            "latency_p50_s": self.latency(50),
            "latency_p95_s": self.latency(95),
        }


def score_stream(
    events: Sequence[Event],
    fired: Sequence[Fire],
    span: tuple[float, float],
    *,
    tolerance_s: float = 1.0,
    lead_s: float = 1.0,
) -> StreamScore:
    """Scores the fires of one recording covering ``span`` (start, end seconds) against its events."""
    detected: dict[int, float] = {}
    confusions: dict[str, int] = {}
    onset: dict[str, int] = {}
    rest: dict[str, int] = {}
    double = false = false_idle = 0
    for f in fired:
        owner = next(
            (
                k
                for k, e in enumerate(events)
                if e.label == f.label and e.start <= f.time <= e.end + tolerance_s
            ),
            None,
        )
        if owner is None:
            false += 1
            during = next((e for e in events if e.start <= f.time <= e.end), None) or next(
                (e for e in events if e.end < f.time <= e.end + tolerance_s), None
            )  # the action being performed, else the one just ended
            if during is None:
                false_idle += 1
                starting = min(
                    (e for e in events if f.time < e.start <= f.time + lead_s),
                    key=lambda e: e.start,
                    default=None,
                )
                if starting is not None:
                    pair = f"{starting.label} -> {f.label}"
                    onset[pair] = onset.get(pair, 0) + 1
                else:
                    rest[f.label] = rest.get(f.label, 0) + 1
            else:
                pair = f"{during.label} -> {f.label}"
                confusions[pair] = confusions.get(pair, 0) + 1
        elif owner in detected:
            double += 1
        else:
            detected[owner] = f.time - events[owner].end
    busy = _union_length([(e.start, min(e.end + tolerance_s, span[1])) for e in events])
    led = _union_length([(max(e.start - lead_s, span[0]), min(e.end + tolerance_s, span[1])) for e in events])
    per_class: dict[str, list[int]] = {}
    for k, e in enumerate(events):
        counts = per_class.setdefault(e.label, [0, 0])
        counts[0] += 1
        counts[1] += k in detected
    return StreamScore(
        len(events),
        len(fired),
        len(detected),
        double,
        false,
        false_idle,
        max(0.0, span[1] - span[0] - busy),
        sorted(detected.values()),
        per_class,
        confusions,
        onset,
        max(0.0, span[1] - span[0] - led),
        rest,
    )


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -np.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


# --- whole recordings as streams ------------------------------------------------------------------------

# --format names of crossglg-recognize --skeleton; each reads the WHOLE recording (read_file cuts PRECOG and
# MSRC-12 recordings into their labelled actions instead).
STREAM_FORMATS = (
    "session",
    "precog",
    "msrc12",
    "ntu",
    "msr_action3d",
    "utkinect",
    "florence",
    "kinder_gator",
    "nw_ucla",
    "gtu3d",
    "kinetics",
)


def read_stream(path: str | Path, fmt: str | None = None) -> list:
    """A whole recording as a live recogniser sees it: the list of its segments (SkeletonSequence, in
    order; recognition restarts between them). One segment for every format but a pose session saved where
    the app's recogniser restarted. ``fmt``: one of STREAM_FORMATS, or None to detect it the way
    :func:`crossglg.data.read_file` does. Raises FileNotFoundError, SkeletonFormatError (file, line or
    field) or ValueError (an unknown type or format name)."""
    from crossglg.data import readers
    from crossglg.data.sequence import SkeletonSequence

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if fmt is not None and fmt not in STREAM_FORMATS:
        raise ValueError(f"unknown skeleton format {fmt!r}; known: {', '.join(STREAM_FORMATS)}")
    name, suffix = path.name, path.suffix.lower()
    if fmt is None and suffix == ".csv":  # the two CSV sets read_file would cut into actions
        head = readers._head(path)
        kinder = readers.KINDER_GATOR_NAME.search(name) or head.startswith("Timestamp,HipCenterX")
        if not kinder and (readers.PRECOG_NAME.search(name) or head.startswith("HipCenter;")):
            fmt = "precog"
        elif not kinder and readers.MSRC_NAME.search(name):
            fmt = "msrc12"
    if fmt == "session":
        return readers.read_pose_session(path)
    if fmt == "precog":
        return [readers.read_precog_stream(path).sequence]
    if fmt == "msrc12":
        times, joints = readers.read_msrc12_csv(path)
        match = readers.MSRC_NAME.search(name)
        return [
            SkeletonSequence(
                joints=joints[None],
                layout="kinect_v1",
                source=str(path),
                dataset="msrc12",
                subject=int(match.group(5)) if match else -1,
                timestamps=times,
            )
        ]
    if fmt is not None:
        reader = {
            "ntu": readers.read_ntu,
            "msr_action3d": readers.read_msr_action3d,
            "utkinect": readers.read_utkinect_file,
            "florence": readers.read_florence,
            "kinder_gator": readers.read_kinder_gator,
            "nw_ucla": readers.read_nw_ucla,
            "gtu3d": readers.read_gtu3d,
            "kinetics": readers.read_kinetics_json,
        }[fmt]
        return [reader(path)]
    sequence = readers.read_file(path)
    return sequence if isinstance(sequence, list) else [sequence]


def precog_events(stream) -> list[Event]:
    """A PrecogStream's labelled actions (runs split by a short gap merged) as Events."""
    return [Event(e.label_name, e.start_s, e.end_s) for e in stream.events]


def msrc12_events(
    tags: Iterable[tuple[float, int]],
    names: dict[int, str],
    *,
    before_s: float | None = None,
    after_s: float | None = None,
) -> list[Event]:
    """MSRC-12 action points (time, gesture id) -> Events [point - before_s, point + after_s], by default
    the readers' convention (MSRC12_BEFORE_S, MSRC12_AFTER_S)."""
    from crossglg.data.readers import MSRC12_AFTER_S, MSRC12_BEFORE_S

    before = MSRC12_BEFORE_S if before_s is None else before_s
    after = MSRC12_AFTER_S if after_s is None else after_s
    return [Event(names[gesture], t - before, t + after) for t, gesture in tags]


# --- pose sessions (the app's saved live stream) ----------------------------------------------------------


def write_pose_session(
    path: str | Path,
    timestamps: np.ndarray,
    joints: np.ndarray,
    visibility: np.ndarray,
    segment_starts: Sequence[int],
    *,
    source: str,
    layout: str = "mediapipe33",
) -> Path:
    """Write a pose session ``.npz`` (format: docs/app.md, "Replay and pose sessions"; read back by
    :func:`crossglg.data.readers.read_pose_session` and ``read_file``), atomically: an interrupted save
    never leaves a half-written file under ``path``. ``path`` must end in ``.npz``."""
    import datetime as _dt
    import json

    from crossglg.data.readers import POSE_SESSION_FORMAT, POSE_SESSION_VERSION
    from crossglg.io import atomic_open

    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: a pose session file must end in .npz")
    meta = {
        "format": POSE_SESSION_FORMAT,
        "version": POSE_SESSION_VERSION,
        "layout": layout,
        "source": str(source),
        "saved": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(
            handle,
            meta=np.array(json.dumps(meta)),
            timestamps=np.asarray(timestamps, np.float64),
            joints=np.asarray(joints, np.float32),
            visibility=np.asarray(visibility, np.float32),
            segment_starts=np.asarray(segment_starts, np.int64),
        )
    return path
