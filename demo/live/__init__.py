"""The live recognition pipeline, free of Qt so the app and ``crossglg-recognize`` share every step.

Public face (everything else in the submodules is internal to the package):

* :class:`LivePipeline`: ``open(spec, pace=, loop=)``, ``stop()``, ``close()``, ``set_gallery(g)``,
  ``update_settings(s)``, ``start_recording(seconds, on_done=, on_cancelled=)``, ``cancel_recording()``,
  ``recording_status()`` (a snapshot, safe from the GUI thread); decisions reach the caller through
  one callback, ``on_prediction``.
* :class:`Settings` and :class:`SettingsFile` (JSON, every field, problems reported by field name).
* Recording: ``RECORD_SECONDS`` (an example's length); results: :class:`RecordedExample`,
  :func:`check_quality` -> :class:`QualityReport`, :class:`RecordingStatus`.
* The headless path (``crossglg-recognize``): :class:`Recognizer` over a :class:`Matcher`, fed stored
  poses frame by frame, and :func:`mediapipe_window` to cut an enrolment segment.
* Recorded streams through the same recogniser: :func:`replay` (any layout the readers deliver),
  :func:`cut_window` (an enrolment segment of such a stream), :func:`stream_frames`.
* Pose sessions: :class:`SessionRecorder` (``LivePipeline.save_session``), written by
  ``crossglg.streaming.write_pose_session``, read back by ``crossglg.data.read_file``.

Modules: ``windows`` (pose buffer, canonical windows), ``recognition`` (matcher, inference thread,
recognizer), ``recording`` (recording, quality gate), ``pipeline`` (the threads), ``settings``,
``replay`` (recorded streams), ``session`` (saving the live stream).
"""

from demo.live.pipeline import FrameUpdate, LivePipeline
from demo.live.recognition import NO_PERSON, UNKNOWN, Matcher, Prediction, Recognizer
from demo.live.recording import (
    RECORD_SECONDS,
    QualityReport,
    RecordedExample,
    RecordingStatus,
    check_quality,
)
from demo.live.replay import cut_window, replay, stream_frames
from demo.live.session import SavedSession, SessionRecorder
from demo.live.settings import Settings, SettingsFile
from demo.live.windows import mediapipe_window

__all__ = [
    "NO_PERSON",
    "RECORD_SECONDS",
    "UNKNOWN",
    "FrameUpdate",
    "LivePipeline",
    "Matcher",
    "Prediction",
    "QualityReport",
    "RecordedExample",
    "Recognizer",
    "RecordingStatus",
    "SavedSession",
    "SessionRecorder",
    "Settings",
    "SettingsFile",
    "check_quality",
    "cut_window",
    "mediapipe_window",
    "replay",
    "stream_frames",
]
