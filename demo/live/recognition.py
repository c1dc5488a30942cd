"""Windows -> decisions: the matcher (embed, smooth, decide against the gallery), the inference thread and
the recognizer (buffering, stride, the "no person" state).

Every decision leaves the recognizer through one callback, ``on_prediction``, exactly once; in
synchronous mode ``feed`` also returns it (``crossglg-recognize`` prints it).
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

from demo.live.settings import Settings
from demo.live.windows import GAP, INVALID, MEDIAPIPE_LAYOUT, REPEAT, RESTART, PoseBuffer
from demo.pose import Pose

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
NO_PERSON = "no person"


@dataclass
class Prediction:
    time: float  # source time (s) of the newest frame in the window
    label: str  # class name, UNKNOWN or NO_PERSON
    score: float
    top: list[tuple[str, float]] = field(default_factory=list)
    model_ms: float = 0.0
    compute_ms: float = 0.0  # synchronous mode: the whole decision (buffer, window, embedding, gallery)
    rest: float | None = None  # cosine to the nearest rest example; at least the best class's: "unknown"

    @property
    def looks_like_rest(self) -> bool:
        """Whether a rest example was at least as close as the best class (why many "unknown"s are)."""
        return self.rest is not None and bool(self.top) and self.rest >= self.top[0][1]

    def as_json(self) -> dict:
        return {
            "time": round(self.time, 3),
            "label": self.label,
            "score": round(float(self.score), 4),
            "top": [[name, round(float(s), 4)] for name, s in self.top],
            "rest": None if self.rest is None else round(float(self.rest), 4),
        }


class Matcher:
    """Embeds windows and decides against a gallery; the gallery can be swapped while running.

    The decision is ``Gallery.decide``'s calibrated open-set rule at the settings' ``threshold`` (None:
    the calibrated level); a ``margin`` above 0 asks for the fixed-cosine rule with that lead instead.
    The label shown changes only when a new decision has held for ``settings.hold`` decisions in a row
    (until then it stays, "unknown" at first), so one stray window does not flash a label.
    The model's own no-action examples (``Embedder.no_action_embeddings``), where it has them, are
    background for every gallery: a window closer to one of them than to any class is "unknown".
    """

    def __init__(self, embedder, gallery, settings: Settings):
        self.embedder = embedder
        self.gallery = gallery
        self.settings = settings
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, settings.smoothing))
        self._shown, self._candidate, self._streak = UNKNOWN, UNKNOWN, 0
        self._lock = threading.Lock()

    def set_gallery(self, gallery) -> None:
        with self._lock:
            self.gallery = gallery
            self._clear()

    def reset(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._recent.clear()
        self._shown, self._candidate, self._streak = UNKNOWN, UNKNOWN, 0

    def _held(self, label: str) -> str:
        """The label to show after this decision (the hysteresis of ``settings.hold``)."""
        self._streak = self._streak + 1 if label == self._candidate else 1
        self._candidate = label
        if self._streak >= max(1, self.settings.hold):
            self._shown = label
        return self._shown

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
            rest = self.embedder.no_action_embeddings()
            if self.settings.margin > 0:
                decision = gallery.decide(
                    mean, threshold=self.settings.threshold, margin=self.settings.margin, background=rest
                )
            else:
                decision = gallery.decide(mean, level=self.settings.threshold, background=rest)
            label = self._held(str(decision.label))
        ranked = [(str(name), float(score)) for name, score in decision.top]
        score = dict(ranked).get(label, float(decision.score))  # the shown class's own similarity
        return Prediction(
            time=t, label=label, score=score, top=ranked[:3], model_ms=model_ms, rest=decision.background
        )


class InferenceWorker:
    """Runs the matcher on its own thread. Holds at most one pending window: a newer one replaces it."""

    def __init__(
        self,
        matcher: Matcher,
        on_prediction: Callable[[Prediction, int], None],
        on_error: Callable[[str], None] | None = None,
    ):
        self.matcher = matcher
        self.on_prediction = on_prediction
        self.on_error = on_error or (lambda text: None)
        self._pending: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def submit(self, window: np.ndarray, t: float, token: int = 0) -> None:
        """``token`` comes back with the prediction (the recognizer drops answers from before a reset)."""
        try:
            self._pending.get_nowait()
        except queue.Empty:
            pass
        self._pending.put_nowait((window, t, token))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                window, t, token = self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.on_prediction(self.matcher(window, t), token)
            except Exception as exc:  # keep the app alive; the message reaches the status bar
                log.exception("inference failed")
                message = f"inference failed: {exc}"
                self.errors.append(message)
                self.on_error(message)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


class Recognizer:
    """Pose results in, predictions out: buffering, stride, no-person state, (a)synchronous inference.

    Used for frames from a live source and for replaying stored poses or skeleton recordings
    (``crossglg-recognize``, :func:`demo.live.replay`); ``layout`` is the skeleton layout of the frames
    given to :meth:`feed_joints` (:meth:`feed` takes MediaPipe poses).
    """

    def __init__(
        self,
        matcher: Matcher | None,
        settings: Settings,
        *,
        asynchronous: bool,
        on_prediction: Callable[[Prediction], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        layout: str = MEDIAPIPE_LAYOUT,
    ):
        self.settings = settings
        self.matcher = matcher
        self.buffer = PoseBuffer(keep_seconds=max(4.0, 2 * settings.window_seconds), layout=layout)
        self.on_prediction = on_prediction or (lambda p: None)
        self.latest: Prediction | None = None
        self._count = 0
        self._generation = 0
        self._lock = threading.Lock()
        self._worker = (
            InferenceWorker(matcher, self._deliver_async, on_error) if (asynchronous and matcher) else None
        )

    def _deliver_async(self, prediction: Prediction, generation: int) -> None:
        if generation == self._generation:  # an answer for a window from before reset() is dropped
            self._deliver(prediction)

    def _deliver(self, prediction: Prediction) -> None:
        with self._lock:
            latest = self.latest
            if latest is not None and latest.label == NO_PERSON and prediction.time < latest.time:
                return  # a stale answer must not overwrite "no person"
            self.latest = prediction
        self.on_prediction(prediction)

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self.buffer.clear()
            self._count = 0
            self.latest = None
        if self.matcher:
            self.matcher.reset()

    def feed(self, timestamp: float, pose: Pose | None) -> Prediction | None:
        """Add one frame's main MediaPipe pose; returns the prediction made now (synchronous mode) if any."""
        return self.feed_joints(timestamp, None if pose is None else pose.world)

    def feed_joints(self, timestamp: float, joints: np.ndarray | None) -> Prediction | None:
        """Add one frame's main-body joints in the recognizer's layout (None: no person); returns the
        prediction made now (synchronous mode) if any."""
        start = time.perf_counter()
        event = self.buffer.append(timestamp, joints)
        if event in (REPEAT, INVALID):
            return None
        if event in (RESTART, GAP) and self.matcher:
            self.matcher.reset()  # no smoothing or held label across the jump: a fresh start
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
            self._worker.submit(window, timestamp, self._generation)
            return None
        prediction = self.matcher(window, timestamp)
        prediction.compute_ms = (time.perf_counter() - start) * 1000.0
        self._deliver(prediction)
        return prediction

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    @property
    def errors(self) -> list[str]:
        return self._worker.errors if self._worker else []
