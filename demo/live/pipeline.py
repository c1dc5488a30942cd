"""The live pipeline: source -> pose -> recording and recognition, on its own threads.

    source -> LatestFrameGrabber -> PoseEstimator (main person) -> PoseBuffer (timestamps)
           -> every ``stride`` frames: 60-frame window -> InferenceWorker (thread) -> smoothed decision

Live sources never queue: the grabber keeps only the newest frame, a frame that cannot be processed within
``max_age`` (100 ms) of its capture is skipped, and one that finished later is not shown (it still feeds
recognition), so nothing shown is older than 100 ms.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, fields

from demo.capture import Frame, LatestFrameGrabber, VideoSource
from demo.live.recognition import Matcher, Recognizer
from demo.live.recording import RECORD_SECONDS, RECORDING, Recording, RecordingStatus
from demo.live.session import SavedSession, SessionRecorder
from demo.live.settings import Settings
from demo.live.windows import GAP, INVALID, REPEAT, RESTART
from demo.pose import PoseEstimator, PoseResult

log = logging.getLogger(__name__)

# What the user is told, once per source, when its timestamps misbehave (see PoseBuffer).
STREAM_EVENT_MESSAGES = {
    RESTART: "the source's clock went back: recognition restarted",
    GAP: "the video paused for over {gap:g} s: recognition restarted",
    REPEAT: "the source repeats timestamps: duplicate frames are skipped",
    INVALID: "the source sends frames without a valid timestamp: they are skipped",
}


@dataclass
class FrameUpdate:
    """What the UI shows for one processed frame (decisions arrive separately, through on_prediction)."""

    frame: Frame
    pose: PoseResult
    pose_ms: float
    latency_ms: float  # capture -> this update
    fps: float


class FpsMeter:
    def __init__(self, span: int = 30):
        self._times: deque[float] = deque(maxlen=span)

    def tick(self, now: float) -> float:
        self._times.append(now)
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)


class LivePipeline:
    """Source + pose + recording + recognizer on a processing thread, reporting through callbacks.

    Callbacks run on the pipeline's threads; a UI must hand them over to its own thread (the Qt app does
    so with signals): ``on_update(FrameUpdate)`` per frame shown, ``on_prediction(Prediction)`` once per
    decision (the only channel for decisions), ``on_status(str)`` for source events and errors,
    ``on_finished()`` at the end of a file that does not loop. ``embedder=None`` runs without recognition.
    """

    def __init__(
        self,
        pose: PoseEstimator,
        embedder=None,
        gallery=None,
        settings: Settings | None = None,
        *,
        on_update=None,
        on_prediction=None,
        on_status=None,
        on_finished=None,
    ):
        self._pose = pose
        self.settings = settings or Settings()
        self.on_update = on_update or (lambda u: None)
        self.on_status = on_status or (lambda s: None)
        self.on_finished = on_finished or (lambda: None)
        self._matcher = Matcher(embedder, gallery, self.settings) if embedder is not None else None
        self._recognizer = Recognizer(
            self._matcher,
            self.settings,
            asynchronous=True,
            on_prediction=on_prediction,
            on_error=self.on_status,
        )
        self._source: VideoSource | None = None
        self._grabber: LatestFrameGrabber | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._recording: Recording | None = None
        self._loop = 0
        self._reported: set[str] = set()
        self._events_before: dict[str, int] = dict(self._recognizer.buffer.events)
        self._session = SessionRecorder()  # the poses fed to the recognizer, for "Save session"
        self.dropped_stale = 0  # frames skipped before pose: too old to be shown in time
        self.dropped_late = 0  # frames processed but not shown: older than max_age when done
        self.processed = 0
        self.realtime = False  # True while a live (paced) source runs: late updates are not shown
        self._pose_ms_avg = 0.0
        self._fps = FpsMeter()

    # configuration -------------------------------------------------------------------------------------
    def set_gallery(self, gallery) -> None:
        """Recognise against another gallery from the next decision on (thread-safe)."""
        if self._matcher is not None:
            self._matcher.set_gallery(gallery)

    def update_settings(self, settings: Settings) -> None:
        """Copy every field into the settings the running threads read (each field is replaced whole)."""
        for f in fields(Settings):
            setattr(self.settings, f.name, getattr(settings, f.name))

    # source control ------------------------------------------------------------------------------------
    def open(
        self, spec: str | int, *, pace: bool = True, loop: bool = False, reconnect_seconds: float = 1.0
    ) -> VideoSource:
        """Switch to a new source (raises SourceError with a clear message; the old one keeps running).

        ``loop``: a file starts over at its end, its clock continuing (recordings span the loop).
        ``reconnect_seconds``: pause between attempts to reopen a camera or stream that dropped. A
        recording in progress is cancelled: "recording cancelled: source changed".
        """
        source = VideoSource(spec, on_status=self.on_status, loop=loop, reconnect_seconds=reconnect_seconds)
        recording = self._take_recording()
        self._halt()
        self._source = source
        self._pose.new_source()
        self._recognizer.reset()
        self._session.clear(source.name)
        self._loop = 0
        self._reported = set()
        self._events_before = dict(self._recognizer.buffer.events)
        self._grabber = LatestFrameGrabber(source, pace=pace)
        self.realtime = pace or not source.is_file
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._grabber, self._stop), name="pipeline", daemon=True
        )
        self._thread.start()
        self.on_status(f"playing {source.name}")
        if recording is not None:
            recording.cancel("source changed")
        return source

    def _halt(self) -> None:
        self._stop.set()
        if self._grabber is not None:
            self._grabber.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._grabber = None
        self._thread = None

    def stop(self) -> None:
        """Stop the source; a recording in progress is cancelled ("the video was stopped")."""
        recording = self._take_recording()
        self._halt()
        if recording is not None:
            recording.cancel("the video was stopped")

    def close(self) -> None:
        self.stop()
        self._recognizer.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # recording -----------------------------------------------------------------------------------------
    def start_recording(
        self, seconds: float = RECORD_SECONDS, *, on_done=None, on_cancelled=None, grace: float = 3.0
    ) -> RecordingStatus:
        """Record ``seconds`` of the main person. Exactly one of ``on_done(RecordedExample)`` or
        ``on_cancelled(message)`` follows (on a pipeline thread, or on the thread that called
        :meth:`recording_status` or :meth:`cancel_recording`), at the latest ``seconds + grace`` s of
        wall-clock time from now."""
        recording = Recording(seconds, on_done, on_cancelled=on_cancelled, grace=grace)
        with self._lock:
            previous, self._recording = self._recording, recording
        if previous is not None:
            previous.cancel("a new recording started")
        return recording.status()

    def cancel_recording(self, reason: str | None = None) -> bool:
        """Cancel the recording in progress, if any ("recording cancelled[: reason]")."""
        recording = self._take_recording()
        return recording.cancel(reason) if recording is not None else False

    def recording_status(self) -> RecordingStatus | None:
        """A snapshot of the recording in progress, or None; safe from any thread. Also enforces the
        recording's deadline, so a UI polling this sees every recording end even if frames stop."""
        with self._lock:
            recording = self._recording
        if recording is None:
            return None
        recording.expire()
        status = recording.status()
        if status.state != RECORDING:
            self._forget(recording)
            return None
        return status

    def _take_recording(self) -> Recording | None:
        with self._lock:
            recording, self._recording = self._recording, None
        return recording

    def _forget(self, recording: Recording) -> None:
        with self._lock:
            if self._recording is recording:
                self._recording = None

    # pose session --------------------------------------------------------------------------------------
    def save_session(self, path) -> SavedSession:
        """Save the current source's poses as fed to the recognizer (the last ``SESSION_MAX_FRAMES``) to a
        pose session ``.npz`` that ``crossglg-recognize --skeleton`` replays; atomic. Raises ValueError
        (no frames yet, not .npz) or OSError. Safe from any thread."""
        return self._session.save(path)

    @property
    def session_frames(self) -> int:
        return len(self._session)

    # processing ----------------------------------------------------------------------------------------
    def _run(self, grabber: LatestFrameGrabber, stop: threading.Event) -> None:
        ended = "the video ended"
        try:
            while not stop.is_set():
                self.recording_status()  # the deadline holds while no frame comes (a camera reconnecting)
                frame = grabber.latest(timeout=0.25)
                if frame is None:
                    if grabber.finished.is_set():
                        break
                    continue
                # Skip a frame that cannot be shown in time; a newer one is (nearly) there.
                budget = self.settings.max_age - (
                    self._pose_ms_avg / 1000.0 if self._pose_ms_avg < 800.0 * self.settings.max_age else 0.0
                )
                if time.monotonic() - frame.captured_at > budget:
                    self.dropped_stale += 1
                    continue
                self.process(frame)
        except Exception as exc:
            log.exception("pipeline stopped")
            ended = f"pipeline stopped: {exc}"
            self.on_status(ended)
        if not stop.is_set():
            recording = self._take_recording()
            self.on_finished()
            if recording is not None:  # after on_finished, so that a UI shows this reason last
                recording.cancel(ended)

    def process(self, frame: Frame) -> FrameUpdate:
        """Pose + recording + recognition for one frame. The update reaches ``on_update`` only when it is
        still fresh (``max_age``): a late frame still feeds the recognizer but is not shown."""
        result = self._pose.process(frame.image, frame.timestamp)
        self._pose_ms_avg = result.ms if not self._pose_ms_avg else 0.9 * self._pose_ms_avg + 0.1 * result.ms
        with self._lock:
            recording = self._recording
        if recording is not None:
            recording.add(frame, result.main)
            if recording.finished:
                self._forget(recording)
        restart = frame.loop != self._loop
        if restart:  # a looping file started over: a window must not span the seam
            self._loop = frame.loop
            self._recognizer.reset()
        self._session.add(frame.timestamp, result.main, restart=restart)
        self._recognizer.feed(frame.timestamp, result.main)
        self._report_stream_events()
        self.processed += 1
        now = time.monotonic()
        update = FrameUpdate(
            frame=frame,
            pose=result,
            pose_ms=result.ms,
            latency_ms=(now - frame.captured_at) * 1000.0,
            fps=self._fps.tick(now),
        )
        if self.realtime and update.latency_ms > 1000.0 * self.settings.max_age:
            self.dropped_late += 1
        else:
            self.on_update(update)
        return update

    def _report_stream_events(self) -> None:
        buffer = self._recognizer.buffer
        for event, count in buffer.events.items():
            if count > self._events_before.get(event, 0) and event not in self._reported:
                self._reported.add(event)
                message = STREAM_EVENT_MESSAGES[event].format(gap=buffer.max_gap)
                log.warning("%s", message)
                self.on_status(message)
