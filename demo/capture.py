"""Video sources: webcam index, video file or stream URL, with reconnection for live cameras.

A live source must never make the app lag: :class:`LatestFrameGrabber` reads on its own thread and keeps
only the newest frame, so a slow consumer skips frames instead of falling behind.
"""

from __future__ import annotations

import glob
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class SourceError(RuntimeError):
    """A source could not be opened or read; the message says which and why."""


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8 (H, W, 3)
    timestamp: float  # seconds: media time for files, time.monotonic() at capture for live sources
    captured_at: float  # time.monotonic() when the frame left the source (for latency)
    index: int
    loop: int = 0  # how many times a looping file has started over before this frame


def parse_source(spec: str | int) -> str | int:
    """'0' -> camera 0; URLs and paths stay strings. Raises SourceError for a missing file."""
    if isinstance(spec, int):
        return spec
    text = str(spec).strip()
    if text.isdigit():
        return int(text)
    if _URL.match(text):
        return text
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(f"video file not found: {path}")
    if not path.is_file():
        raise SourceError(f"not a video file: {path}")
    return str(path)


def describe_source(spec: str | int) -> str:
    if isinstance(spec, int):
        return f"camera {spec}"
    if _URL.match(spec):
        return f"stream {spec}"
    return f"file {Path(spec).name}"


def list_cameras(max_index: int = 8) -> list[int]:
    """Camera indices that exist. On Linux from /dev/video*, elsewhere by probing (slow, avoided)."""
    nodes = sorted(glob.glob("/dev/video*"))
    if sys.platform.startswith("linux"):
        return sorted({int(m.group(1)) for n in nodes if (m := re.search(r"video(\d+)$", n))})[:max_index]
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            found.append(i)
        cap.release()
    return found


class VideoSource:
    """One opened source. Files report media timestamps; live sources report monotonic capture time.

    ``read()`` returns None at the end of a file, unless ``loop``: then the file starts over and its clock
    keeps counting (frame ``index`` / fps), so time never runs backwards and a recording or a window can
    span the loop; ``Frame.loop`` says which pass a frame belongs to. For a camera or stream a failed read
    triggers reconnection attempts (``reconnect_seconds`` apart, forever until :meth:`close`), reported
    through ``on_status`` so the UI can say "camera lost, reconnecting".
    """

    def __init__(
        self,
        spec: str | int,
        *,
        reconnect_seconds: float = 1.0,
        on_status: Callable[[str], None] | None = None,
        loop: bool = False,
    ) -> None:
        self.spec = parse_source(spec)
        self.name = describe_source(self.spec)
        self.is_file = isinstance(self.spec, str) and not _URL.match(self.spec)
        self.loop = loop and self.is_file
        self.loops = 0
        self.reconnect_seconds = reconnect_seconds
        self.on_status = on_status or (lambda text: None)
        self._closed = threading.Event()
        self._index = 0
        self._pass_frames = 0  # frames read in the current pass over a looping file
        self._cap = self._open()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.is_file else 0

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            if isinstance(self.spec, int):
                raise SourceError(
                    f"camera {self.spec} is not available (not connected, or in use by another app)"
                )
            raise SourceError(f"cannot open {self.name}: not a readable video (or an unsupported codec)")
        return cap

    def read(self) -> Frame | None:
        while not self._closed.is_set():
            ok, image = self._cap.read()
            now = time.monotonic()
            if ok and image is not None:
                if self.is_file:
                    ts = self._index / self.fps
                else:
                    ts = now
                frame = Frame(image=image, timestamp=ts, captured_at=now, index=self._index, loop=self.loops)
                self._index += 1
                self._pass_frames += 1
                return frame
            if self.is_file:
                if not self.loop or self._pass_frames == 0:  # a pass without frames would spin forever
                    return None
                self._restart_file()
                continue
            self._reconnect()
        return None

    def _restart_file(self) -> None:
        self._cap.release()
        self._cap = self._open()
        self.loops += 1
        self._pass_frames = 0

    def _reconnect(self) -> None:
        self._cap.release()
        attempt = 0
        while not self._closed.is_set():
            attempt += 1
            self.on_status(f"{self.name} lost; reconnecting (attempt {attempt})")
            log.warning("%s lost; reconnecting (attempt %d)", self.name, attempt)
            if self._closed.wait(self.reconnect_seconds):
                return
            cap = cv2.VideoCapture(self.spec)
            if cap.isOpened():
                self._cap = cap
                self.on_status(f"{self.name} reconnected")
                return
            cap.release()

    def interrupt(self) -> None:
        """Make a pending or future ``read()`` return None (safe from another thread)."""
        self._closed.set()

    def close(self) -> None:
        self._closed.set()
        self._cap.release()


class LatestFrameGrabber:
    """Reads a source on a thread; ``latest()`` hands out only the newest unseen frame.

    With ``pace=True`` a file is played at its own frame rate (as a camera would deliver it); otherwise
    frames come as fast as they decode. ``finished`` is set at the end of a file.
    """

    def __init__(self, source: VideoSource, *, pace: bool = True) -> None:
        self.source = source
        self.pace = pace and source.is_file
        self.finished = threading.Event()
        self.dropped = 0
        self._frame: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            frame = self.source.read()
            if frame is None:
                break
            if self.pace:
                delay = start + frame.timestamp - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                frame.captured_at = time.monotonic()
            with self._cond:
                if self._frame is not None:
                    self.dropped += 1
                self._frame = frame
                self._cond.notify_all()
        self.finished.set()
        with self._cond:
            self._cond.notify_all()

    def latest(self, timeout: float = 0.5) -> Frame | None:
        """The newest frame not yet handed out; None on timeout or when the source has ended."""
        with self._cond:
            if self._frame is None and not self.finished.is_set():
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def stop(self) -> None:
        self._stop.set()
        self.source.interrupt()  # ends a reconnect loop; the capture is released after the thread
        self._thread.join(timeout=2.0)
        self.source.close()
