"""The live recognition pipeline, free of Qt so the app and ``crossglg-recognize`` share every step.

    source -> LatestFrameGrabber -> PoseEstimator (main person) -> PoseBuffer (timestamps)
           -> every ``stride`` frames: 60-frame window -> InferenceWorker (thread) -> smoothed decision

Live sources never queue: the grabber keeps only the newest frame, a frame that cannot be processed within
``max_age`` (100 ms) of its capture is skipped, and one that finished later is not shown (it still feeds
recognition), so nothing shown is older than 100 ms. ``crossglg-recognize`` instead feeds every frame of a
file to a synchronous :class:`Recognizer` (inference inline), so its results are reproducible.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from demo.capture import Frame, LatestFrameGrabber, VideoSource
from demo.pose import Pose, PoseEstimator, PoseResult

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
NO_PERSON = "no person"
WINDOW_FRAMES = 60
MEDIAPIPE_LAYOUT = "mediapipe33"
# MediaPipe landmarks that must be seen for a usable example: shoulders, elbows, wrists, hips.
KEY_JOINTS = {11: "left shoulder", 12: "right shoulder", 13: "left elbow", 14: "right elbow",
              15: "left wrist", 16: "right wrist", 23: "left hip", 24: "right hip"}


@dataclass
class Settings:
    threshold: float = 0.5  # cosine similarity below which the answer is "unknown"
    margin: float = 0.0  # required lead of the best class over the second
    stride: int = 5  # infer every `stride` processed frames
    smoothing: int = 3  # windows whose embeddings are averaged before deciding
    window_seconds: float = 2.0  # time covered by one 60-frame window
    max_age: float = 0.1  # seconds: live frames older than this are skipped or not shown
    min_coverage: float = 0.6  # fraction of the window's span that must hold a pose before deciding
    absent_seconds: float = 0.5  # "no person" when under half of this recent span holds a pose


@dataclass
class Prediction:
    time: float  # source time (s) of the newest frame in the window
    label: str  # class name, UNKNOWN or NO_PERSON
    score: float
    top: list[tuple[str, float]] = field(default_factory=list)
    model_ms: float = 0.0

    def as_json(self) -> dict:
        return {"time": round(self.time, 3), "label": self.label, "score": round(float(self.score), 4),
                "top": [[name, round(float(s), 4)] for name, s in self.top]}


@dataclass
class FrameUpdate:
    """Everything the UI needs for one processed frame."""

    frame: Frame
    pose: PoseResult
    prediction: Prediction | None
    pose_ms: float
    latency_ms: float  # capture -> this update
    fps: float


# ----------------------------------------------------------------------------------------------- windows


def mediapipe_window(world: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
    """(T, 33, 3) MediaPipe world landmarks (NaN rows where no pose) -> canonical (3, 60, 25, 2) window.

    The layout layer does the MediaPipe -> NTU-25 mapping, the canonical frame and the resampling by
    timestamps (so dropped frames do not speed the motion up).
    """
    from crossglg.skeleton import window_from_frames

    window = np.asarray(window_from_frames(np.asarray(world, np.float32), MEDIAPIPE_LAYOUT,
                                           timestamps=timestamps, num_frames=WINDOW_FRAMES), np.float32)
    if window.shape != (3, WINDOW_FRAMES, 25, 2):
        raise ValueError(f"window_from_frames returned {window.shape}, expected (3, {WINDOW_FRAMES}, 25, 2)")
    return window


class PoseBuffer:
    """The main person's recent world landmarks with their timestamps (a few seconds' worth)."""

    def __init__(self, keep_seconds: float = 4.0):
        self.keep_seconds = keep_seconds
        self._items: deque[tuple[float, np.ndarray | None]] = deque()

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def append(self, timestamp: float, world: np.ndarray | None) -> None:
        if self._items and timestamp <= self._items[-1][0]:
            self.clear()  # the clock went back: a new source or a looped file
        self._items.append((timestamp, world))
        while self._items and self._items[0][0] < timestamp - self.keep_seconds:
            self._items.popleft()

    def presence(self, seconds: float) -> float:
        """Fraction of the frames of the last ``seconds`` that hold a pose."""
        if not self._items:
            return 0.0
        t_end = self._items[-1][0]
        recent = [w is not None for t, w in self._items if t >= t_end - seconds]
        return sum(recent) / len(recent)

    def coverage(self, seconds: float) -> float:
        """Fraction of the last ``seconds`` spanned by frames holding a pose."""
        if not self._items:
            return 0.0
        t_end = self._items[-1][0]
        ts = [t for t, w in self._items if w is not None and t >= t_end - seconds]
        if len(ts) < 2:
            return 0.0
        frames = [t for t, _ in self._items if t >= t_end - seconds]
        span = min(1.0, (max(ts) - min(ts)) / seconds)
        return span * len(ts) / max(len(frames), 1)

    def window(self, seconds: float) -> np.ndarray | None:
        """The canonical window for the last ``seconds``, or None without enough pose."""
        if not self._items:
            return None
        t_end = self._items[-1][0]
        items = [(t, w) for t, w in self._items if t >= t_end - seconds]
        if not any(w is not None for _, w in items):
            return None
        nan = np.full((33, 3), np.nan, np.float32)
        world = np.stack([nan if w is None else w for _, w in items])
        return mediapipe_window(world, np.array([t for t, _ in items], np.float64))


# ------------------------------------------------------------------------------------------ recognition


class Matcher:
    """Embeds windows and decides against a gallery; the gallery can be swapped while running."""

    def __init__(self, embedder, gallery, settings: Settings):
        self.embedder = embedder
        self.gallery = gallery
        self.settings = settings
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, settings.smoothing))
        self._lock = threading.Lock()

    def set_gallery(self, gallery) -> None:
        with self._lock:
            self.gallery = gallery
            self._recent.clear()

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()

    def __call__(self, window: np.ndarray, t: float) -> Prediction:
        start = time.perf_counter()
        emb = np.asarray(self.embedder.embed(window[None]), np.float32)[0]
        model_ms = (time.perf_counter() - start) * 1000.0
        with self._lock:
            if self._recent.maxlen != max(1, self.settings.smoothing):
                self._recent = deque(self._recent, maxlen=max(1, self.settings.smoothing))
            self._recent.append(emb)
            mean = np.mean(self._recent, axis=0)
            mean /= max(float(np.linalg.norm(mean)), 1e-12)
            gallery = self.gallery
            if gallery is None or len(gallery) == 0:
                return Prediction(time=t, label=UNKNOWN, score=0.0, top=[], model_ms=model_ms)
            decision = gallery.decide(mean, threshold=self.settings.threshold, margin=self.settings.margin)
        top = [(str(name), float(score)) for name, score in list(decision.top)[:3]]
        return Prediction(time=t, label=str(decision.label), score=float(decision.score), top=top,
                          model_ms=model_ms)


class InferenceWorker:
    """Runs the matcher on its own thread. Holds at most one pending window: a newer one replaces it."""

    def __init__(self, matcher: Matcher, on_prediction: Callable[[Prediction], None]):
        self.matcher = matcher
        self.on_prediction = on_prediction
        self._pending: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def submit(self, window: np.ndarray, t: float) -> None:
        try:
            self._pending.get_nowait()
        except queue.Empty:
            pass
        self._pending.put_nowait((window, t))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                window, t = self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.on_prediction(self.matcher(window, t))
            except Exception as exc:  # keep the app alive; the message reaches the status bar
                log.exception("inference failed")
                self.errors.append(f"inference failed: {exc}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


class Recognizer:
    """Pose results in, predictions out: buffering, stride, no-person state, (a)synchronous inference.

    Used for frames from a live source and for replaying stored poses (``crossglg-recognize``).
    """

    def __init__(self, matcher: Matcher | None, settings: Settings, *, asynchronous: bool,
                 on_prediction: Callable[[Prediction], None] | None = None):
        self.settings = settings
        self.matcher = matcher
        self.buffer = PoseBuffer(keep_seconds=max(4.0, 2 * settings.window_seconds))
        self.on_prediction = on_prediction or (lambda p: None)
        self.latest: Prediction | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._worker = InferenceWorker(matcher, self._deliver) if (asynchronous and matcher) else None

    def _deliver(self, prediction: Prediction) -> None:
        with self._lock:
            latest = self.latest
            if latest is not None and latest.label == NO_PERSON and prediction.time < latest.time:
                return  # a stale answer must not overwrite "no person"
            self.latest = prediction
        self.on_prediction(prediction)

    def reset(self) -> None:
        self.buffer.clear()
        self._count = 0
        self.latest = None
        if self.matcher:
            self.matcher.reset()

    def feed(self, timestamp: float, pose: Pose | None) -> Prediction | None:
        """Add one frame's main pose; returns the prediction made now (synchronous mode) if any."""
        self.buffer.append(timestamp, None if pose is None else pose.world)
        self._count += 1
        if self._count % max(1, self.settings.stride) != 0:
            return None
        if self.buffer.presence(self.settings.absent_seconds) < 0.5:
            if self.latest is None or self.latest.label != NO_PERSON:
                if self.matcher:
                    self.matcher.reset()
                self._deliver(Prediction(time=timestamp, label=NO_PERSON, score=0.0))
                return self.latest
            return None
        if self.buffer.coverage(self.settings.window_seconds) < self.settings.min_coverage:
            return None  # a person, but not yet enough of the window: keep the last answer
        if self.matcher is None:
            return None
        window = self.buffer.window(self.settings.window_seconds)
        if window is None:
            return None
        if self._worker is not None:
            self._worker.submit(window, timestamp)
            return None
        prediction = self.matcher(window, timestamp)
        self._deliver(prediction)
        return prediction

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    @property
    def errors(self) -> list[str]:
        return self._worker.errors if self._worker else []


# ------------------------------------------------------------------------------------------- recording


@dataclass
class RecordedExample:
    """Poses captured for a one-shot example; ``world``/``image`` rows are NaN where no pose was found."""

    timestamps: np.ndarray  # (T,)
    world: np.ndarray  # (T, 33, 3)
    image: np.ndarray  # (T, 33, 3)
    visibility: np.ndarray  # (T, 33)
    in_view: np.ndarray  # (T, 33) bool: joint inside the frame
    thumbnail: np.ndarray | None = None  # BGR frame from the middle of the recording

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.world[:, 0, 0])

    def window(self) -> np.ndarray:
        """The canonical window of the whole recording, resampled to 60 frames by time."""
        if not self.present.any():
            raise ValueError("the recording holds no pose")
        return mediapipe_window(self.world, self.timestamps)


@dataclass
class QualityReport:
    ok: bool
    pose_fraction: float
    motion: float  # metres: spread (std) of the most-moving key joint
    missing_joints: list[str]
    message: str


def check_quality(example: RecordedExample, *, min_pose_fraction: float = 0.9,
                  min_motion: float = 0.03) -> QualityReport:
    """The recording gate: enough frames with a pose, enough motion, the key joints in view.

    "In view" means inside the frame (MediaPipe presence and image position), not unoccluded: an elbow
    hidden behind the body in a side view is part of many actions and must not fail the gate. Motion is
    the spread (std, metres) of the most-moving key joint, so a one-handed wave counts in full; slow
    tai chi on the real clips spreads >= 5 cm per 2 s, a still pose stays near landmark jitter.
    """
    n = len(example.timestamps)
    present = example.present
    fraction = float(present.mean()) if n else 0.0
    problems = []
    if n == 0 or fraction < min_pose_fraction:
        problems.append(
            f"a person was found in only {fraction:.0%} of the frames (need {min_pose_fraction:.0%}): "
            "stand where the camera sees you from head to hips, in good light"
        )
    missing: list[str] = []
    motion = 0.0
    if present.any():
        in_view = example.in_view[present]
        for j, name in KEY_JOINTS.items():
            if float(in_view[:, j].mean()) < 0.8:
                missing.append(name)
        if missing:
            problems.append(f"out of view most of the time: {', '.join(missing)}; step back from the camera")
        key = example.world[present][:, list(KEY_JOINTS)]
        motion = float(np.linalg.norm(key.std(axis=0), axis=-1).max()) if len(key) > 1 else 0.0
        if motion < min_motion:
            problems.append(f"too little motion ({motion * 100:.1f} cm, need {min_motion * 100:.0f} cm): "
                            "perform the action while the progress bar runs")
    ok = not problems
    message = "good example" if ok else "; ".join(problems)
    return QualityReport(ok=ok, pose_fraction=fraction, motion=motion, missing_joints=missing,
                         message=message)


class Recording:
    """Collects the main person's poses for ``seconds`` of source time."""

    def __init__(self, seconds: float = 2.0, on_done: Callable[[RecordedExample], None] | None = None):
        self.seconds = seconds
        self.on_done = on_done or (lambda ex: None)
        self._t0: float | None = None
        self._rows: list[tuple[float, Pose | None]] = []
        self._thumb = None
        self.done = False

    def progress(self) -> float:
        if self._t0 is None or not self._rows:
            return 0.0
        return min(1.0, (self._rows[-1][0] - self._t0) / self.seconds)

    def add(self, frame: Frame, pose: Pose | None) -> None:
        if self.done:
            return
        if self._t0 is None:
            self._t0 = frame.timestamp
        if self._rows and frame.timestamp <= self._rows[-1][0]:
            return
        self._rows.append((frame.timestamp, pose))
        if self._thumb is None and frame.timestamp - self._t0 >= self.seconds / 2:
            self._thumb = frame.image.copy()
        if frame.timestamp - self._t0 >= self.seconds:
            self.done = True
            self.on_done(self.example())

    def example(self) -> RecordedExample:
        nan = np.full((33, 3), np.nan, np.float32)
        rows = self._rows
        if not rows:
            empty = np.zeros((0, 33, 3), np.float32)
            return RecordedExample(np.zeros(0), empty, empty.copy(), np.zeros((0, 33), np.float32),
                                   np.zeros((0, 33), bool))
        return RecordedExample(
            timestamps=np.array([t for t, _ in rows], np.float64),
            world=np.stack([p.world if p else nan for _, p in rows]),
            image=np.stack([p.image if p else nan for _, p in rows]),
            visibility=np.stack([p.visibility if p else np.zeros(33, np.float32) for _, p in rows]),
            in_view=np.stack([p.in_view() if p else np.zeros(33, bool) for _, p in rows]),
            thumbnail=self._thumb,
        )


# ----------------------------------------------------------------------------------------- the pipeline


class FpsMeter:
    def __init__(self, span: int = 30):
        self._times: deque[float] = deque(maxlen=span)

    def tick(self, now: float) -> float:
        self._times.append(now)
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)


class LivePipeline:
    """Source + pose + recognizer on a processing thread, reporting through callbacks.

    Callbacks run on the pipeline's threads; a UI must hand them over to its own thread (the Qt app does
    so with signals). ``on_update(FrameUpdate)`` per processed frame, ``on_prediction(Prediction)`` per
    decision, ``on_status(str)`` for source events and errors, ``on_finished()`` at the end of a file.
    """

    def __init__(self, pose: PoseEstimator, matcher: Matcher | None, settings: Settings | None = None, *,
                 on_update=None, on_prediction=None, on_status=None, on_finished=None):
        self.pose = pose
        self.settings = settings or Settings()
        self.matcher = matcher
        self.on_update = on_update or (lambda u: None)
        self.on_status = on_status or (lambda s: None)
        self.on_finished = on_finished or (lambda: None)
        self._on_prediction = on_prediction or (lambda p: None)
        self.recognizer = Recognizer(matcher, self.settings, asynchronous=True,
                                     on_prediction=self._on_prediction)
        self.source: VideoSource | None = None
        self._grabber: LatestFrameGrabber | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.recording: Recording | None = None
        self.dropped_stale = 0  # frames skipped before pose: too old to be shown in time
        self.dropped_late = 0  # frames processed but not shown: older than max_age when done
        self.processed = 0
        self.realtime = False  # True while a live (paced) source runs: late updates are not shown
        self._pose_ms_avg = 0.0
        self._fps = FpsMeter()

    # source control ------------------------------------------------------------------------------------
    def open(self, spec: str | int, *, pace: bool = True) -> VideoSource:
        """Switch to a new source (raises SourceError with a clear message; the old one keeps running)."""
        source = VideoSource(spec, on_status=self.on_status)
        self.stop()
        self.source = source
        self.pose.new_source()
        self.recognizer.reset()
        self._grabber = LatestFrameGrabber(source, pace=pace)
        self.realtime = pace or not source.is_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._grabber, self._stop), name="pipeline",
                                        daemon=True)
        self._thread.start()
        self.on_status(f"playing {source.name}")
        return source

    def stop(self) -> None:
        self._stop.set()
        if self._grabber is not None:
            self._grabber.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._grabber = None
        self._thread = None

    def close(self) -> None:
        self.stop()
        self.recognizer.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_recording(self, seconds: float = 2.0, on_done=None) -> Recording:
        with self._lock:
            self.recording = Recording(seconds, on_done)
            return self.recording

    def cancel_recording(self) -> None:
        with self._lock:
            self.recording = None

    # processing ----------------------------------------------------------------------------------------
    def _run(self, grabber: LatestFrameGrabber, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                frame = grabber.latest(timeout=0.5)
                if frame is None:
                    if grabber.finished.is_set():
                        break
                    continue
                # Skip a frame that cannot be shown in time; a newer one is (nearly) there.
                budget = self.settings.max_age - (self._pose_ms_avg / 1000.0 if self._pose_ms_avg
                                                  < 800.0 * self.settings.max_age else 0.0)
                if time.monotonic() - frame.captured_at > budget:
                    self.dropped_stale += 1
                    continue
                self.process(frame)
        except Exception as exc:
            log.exception("pipeline stopped")
            self.on_status(f"pipeline stopped: {exc}")
        if not stop.is_set():
            self.on_finished()

    def process(self, frame: Frame) -> FrameUpdate:
        """Pose + recording + recognition for one frame. The update reaches ``on_update`` only when it is
        still fresh (``max_age``): a late frame still feeds the recognizer but is not shown."""
        result = self.pose.process(frame.image, frame.timestamp)
        self._pose_ms_avg = result.ms if not self._pose_ms_avg else 0.9 * self._pose_ms_avg + 0.1 * result.ms
        with self._lock:
            recording = self.recording
        if recording is not None:
            recording.add(frame, result.main)
            if recording.done:
                with self._lock:
                    if self.recording is recording:
                        self.recording = None
        self.recognizer.feed(frame.timestamp, result.main)
        self.processed += 1
        now = time.monotonic()
        update = FrameUpdate(frame=frame, pose=result, prediction=self.recognizer.latest, pose_ms=result.ms,
                             latency_ms=(now - frame.captured_at) * 1000.0, fps=self._fps.tick(now))
        if self.realtime and update.latency_ms > 1000.0 * self.settings.max_age:
            self.dropped_late += 1
        else:
            self.on_update(update)
        return update
