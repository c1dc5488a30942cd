"""The main window: video + live label, gallery panel, source menu, recording flow, status bar.

The pipeline's callbacks arrive on its threads; :class:`PipelineBridge` turns them into Qt signals so every
widget is touched only on the GUI thread. The window talks to the pipeline only through its public face
(``open``, ``set_gallery``, ``update_settings``, ``start_recording`` / ``cancel_recording`` /
``recording_status``); a recording in progress is followed by polling ``recording_status()``, which also
enforces its deadline, so the progress bar can never freeze.
"""

from __future__ import annotations

import logging
import threading
from typing import TypeVar

from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crossglg.oneshot import IDLE
from demo.capture import SourceError, list_cameras
from demo.live import (
    RECORD_SECONDS,
    LivePipeline,
    Prediction,
    QualityReport,
    RecordedExample,
    SettingsFile,
    check_quality,
)
from demo.live.recording import CANCELLED_PREFIX
from demo.ui.dialogs import EnrolDialog, SettingsDialog
from demo.ui.gallery_panel import GalleryPanel
from demo.ui.video_view import VideoView

log = logging.getLogger(__name__)
COUNTDOWN = 3
RECORD_POLL_MS = 50  # progress bar refresh while recording

_T = TypeVar("_T")


def _made(obj: _T | None) -> _T:
    """``obj`` from a Qt accessor or factory that PyQt6's stubs type as Optional but that never gives None
    here (the main window creates its status and menu bars on first use; addMenu/addAction return the
    new item)."""
    assert obj is not None, "Qt returned no object"
    return obj


class PipelineBridge(QObject):
    update = pyqtSignal(object)
    prediction = pyqtSignal(object)
    status = pyqtSignal(str)
    finished = pyqtSignal()
    recorded = pyqtSignal(int, object)  # recording number, RecordedExample
    recording_cancelled = pyqtSignal(int, str)  # recording number, message
    source_opened = pyqtSignal(object, str)
    source_failed = pyqtSignal(str)


class MainWindow(QMainWindow):
    """``pipeline`` is a :class:`LivePipeline` whose callbacks emit ``bridge``'s signals (demo.app.App).

    The settings are the pipeline's; ``settings_file`` (owned by the app) keeps them, None: not kept.
    """

    def __init__(
        self,
        pipeline: LivePipeline,
        bridge: PipelineBridge,
        store,
        *,
        backend_name: str,
        settings_file: SettingsFile | None = None,
        loop_files: bool = True,
    ):
        super().__init__()
        self.setWindowTitle("CrossGLG Live")
        self.pipeline = pipeline
        self.bridge = bridge
        self.store = store
        self.backend_name = backend_name
        self.loop_files = loop_files
        self.settings_file = settings_file
        self.source_spec = None
        self.last_error = ""
        self.frames_shown = 0
        self.last_example: RecordedExample | None = None
        self.last_quality: QualityReport | None = None
        self.recording_active = False  # from the countdown until the recording is done or cancelled
        self.recording_idle = False  # the recording in progress is an idle (background) example
        self.closing = False
        self._countdown = 0
        self._model_ms = 0.0
        self._recording_number = 0  # an answer for an earlier recording is ignored

        self.video = VideoView()
        self.video.mirror = self.pipeline.settings.mirror
        self.gallery_panel = GalleryPanel(store)
        self.gallery_panel.changed.connect(self._gallery_changed)
        self.record_button = QPushButton("● &Record one-shot example  (R)")
        self.record_button.setToolTip("3-2-1 countdown, then 2 seconds of recording")
        self.record_button.clicked.connect(self.start_countdown)
        self.idle_button = QPushButton("Record &idle  (I)")
        self.idle_button.setToolTip(
            "2 seconds of you standing or moving between actions: never shown as a label, it makes "
            "'unknown' likelier when you do nothing (record a few, in different idle poses)"
        )
        self.idle_button.clicked.connect(self.start_idle_countdown)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.video, 1)
        row = QHBoxLayout()
        row.addWidget(self.record_button, 3)
        row.addWidget(self.idle_button, 1)
        lv.addLayout(row)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.gallery_panel)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([820, 280])
        self.setCentralWidget(splitter)

        self.status_source = QLabel("no source")
        self.status_backend = QLabel(f"backend: {backend_name}")
        rest = store.embedder.no_action
        self.rest_examples = 0 if rest is None else len(rest)
        if self.rest_examples:  # the model's own "no action" examples answer "unknown" for every gallery
            self.status_backend.setText(f"backend: {backend_name}, {self.rest_examples} rest examples")
            self.status_backend.setToolTip(
                "The model brings examples of people doing nothing in particular; a moment that looks "
                "more like them than like any action is 'unknown'."
            )
        self.status_perf = QLabel("")
        self.status_message = QLabel("")
        status_bar = _made(self.statusBar())
        for w in (self.status_source, self.status_backend, self.status_perf):
            status_bar.addPermanentWidget(w)
        status_bar.addWidget(self.status_message, 1)

        self._build_menus()
        self.record_shortcut = QAction("Record one-shot example", self)
        self.record_shortcut.setShortcuts([QKeySequence("R"), QKeySequence("Ctrl+R")])
        self.record_shortcut.triggered.connect(self.start_countdown)
        self.addAction(self.record_shortcut)
        self.idle_shortcut = QAction("Record idle example", self)
        self.idle_shortcut.setShortcut(QKeySequence("I"))
        self.idle_shortcut.triggered.connect(self.start_idle_countdown)
        self.addAction(self.idle_shortcut)
        self.cancel_shortcut = QAction("Cancel recording", self)
        self.cancel_shortcut.setShortcut(QKeySequence("Escape"))
        self.cancel_shortcut.triggered.connect(self.cancel_recording)
        self.addAction(self.cancel_shortcut)

        bridge.update.connect(self._on_update)
        bridge.prediction.connect(self._on_prediction)
        bridge.status.connect(self.show_status)
        bridge.finished.connect(self._on_finished)
        bridge.recorded.connect(self._on_recorded)
        bridge.recording_cancelled.connect(self._on_recording_cancelled)
        bridge.source_opened.connect(self._source_opened)
        bridge.source_failed.connect(self.show_error)
        self.countdown_steps = COUNTDOWN
        self.record_seconds = RECORD_SECONDS
        self.message_box: QMessageBox | None = None
        self.enrol_dialog: EnrolDialog | None = None
        self.countdown_timer = QTimer(self)
        self.countdown_timer.setInterval(1000)
        self.countdown_timer.timeout.connect(self._tick_countdown)
        self.record_timer = QTimer(self)
        self.record_timer.setInterval(RECORD_POLL_MS)
        self.record_timer.timeout.connect(self._poll_recording)
        self.resize(1100, 640)

    # menus ---------------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        menu_bar = _made(self.menuBar())
        self.source_menu = _made(menu_bar.addMenu("&Source"))
        self.source_menu.aboutToShow.connect(self._fill_source_menu)
        self._fill_source_menu()
        gallery = _made(menu_bar.addMenu("&Gallery"))
        gallery.addAction("&Export…", self.gallery_panel.export_gallery)
        gallery.addAction("&Import…", self.gallery_panel.import_gallery)
        gallery.addAction("Remove &starter examples", self.gallery_panel.remove_starter)
        either = _made(gallery.addAction("Match &either hand"))
        either.setCheckable(True)
        either.setChecked(self.store.gallery.either_hand)
        either.setToolTip(
            "An example also matches its left-right mirror: a left-handed wave matches a right-handed one"
        )
        either.toggled.connect(self.gallery_panel.set_either_hand)
        self.either_hand_action = either
        settings = _made(menu_bar.addMenu("Se&ttings"))
        act = _made(settings.addAction("&Preferences…", self.edit_settings))
        act.setShortcut(QKeySequence("Ctrl+,"))
        mirror = _made(settings.addAction("&Mirror video"))
        mirror.setCheckable(True)
        mirror.setChecked(self.video.mirror)
        mirror.setShortcut(QKeySequence("M"))
        mirror.toggled.connect(self.set_mirror)
        self.mirror_action = mirror
        self.addAction(mirror)  # shortcut active in the whole window, not only while the menu exists

    def _fill_source_menu(self) -> None:
        self.source_menu.clear()
        cams = list_cameras()
        for index in cams:
            self.source_menu.addAction(f"Camera {index}", lambda i=index: self.open_source(i))
        if not cams:
            none = _made(self.source_menu.addAction("(no camera found)"))
            none.setEnabled(False)
        self.source_menu.addSeparator()
        open_file = _made(self.source_menu.addAction("Open &file…", self.open_file_dialog))
        open_file.setShortcut(QKeySequence("Ctrl+O"))
        self.source_menu.addAction("Open s&tream URL…", self.open_url_dialog)
        self.source_menu.addSeparator()
        save = _made(self.source_menu.addAction("&Save pose session…", self.save_session_dialog))
        save.setShortcut(QKeySequence("Ctrl+S"))
        save.setToolTip(
            "the poses of the current source (up to the last 10 minutes), to replay with "
            "crossglg-recognize --skeleton"
        )
        self.source_menu.addSeparator()
        _made(self.source_menu.addAction("&Quit", self.close)).setShortcut(QKeySequence("Ctrl+Q"))

    # sources -------------------------------------------------------------------------------------------
    def open_source(self, spec) -> bool:
        """Open a camera index, file or URL; a failure is shown, never raised.

        A network stream can take many seconds to answer, so it is opened on a thread (the window stays
        responsive; the result arrives through the bridge) and this returns True at once.
        """
        if isinstance(spec, str) and "://" in spec and not spec.startswith("file://"):
            self.show_status(f"connecting to {spec}…")
            threading.Thread(target=self._open_in_background, args=(spec,), daemon=True).start()
            return True
        try:
            source = self.pipeline.open(spec, loop=self.loop_files)
        except (SourceError, OSError) as exc:
            self.show_error(str(exc))
            return False
        self._source_opened(spec, source.name)
        return True

    def _open_in_background(self, spec) -> None:
        try:
            source = self.pipeline.open(spec, loop=self.loop_files)
        except (SourceError, OSError) as exc:
            self.bridge.source_failed.emit(str(exc))
            return
        self.bridge.source_opened.emit(spec, source.name)

    def _source_opened(self, spec, name: str) -> None:
        self.source_spec = spec
        self.status_source.setText(name)
        self.video.clear()

    def open_file_dialog(self) -> None:
        kinds = "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", "", kinds)
        if path:
            self.open_source(path)

    def open_url_dialog(self) -> None:
        url, ok = QInputDialog.getText(self, "Open stream", "Stream URL (rtsp://, http://…):")
        if ok and url.strip():
            self.open_source(url.strip())

    def save_session_dialog(self) -> None:
        if not self.pipeline.session_frames:
            self.show_error("No poses to save yet: open a camera or a video first (Source menu).")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the pose session", "session.npz", "Pose sessions (*.npz)"
        )
        if path:
            self.save_session(path)

    def save_session(self, path: str) -> bool:
        """Save the current source's poses (``LivePipeline.save_session``) to ``path`` (.npz added)."""
        if not path.lower().endswith(".npz"):
            path += ".npz"
        try:
            saved = self.pipeline.save_session(path)
        except (OSError, ValueError) as exc:
            self.show_error(f"could not save the pose session to {path}: {exc}")
            return False
        self.show_status(f"saved {saved.seconds:.1f} s of poses ({saved.frames} frames) to {saved.path}")
        return True

    def _on_finished(self) -> None:
        self.show_status("end of video")  # a looping file never ends: the pipeline starts it over itself

    # live updates --------------------------------------------------------------------------------------
    def _on_update(self, update) -> None:
        self.frames_shown += 1
        self.video.show_update(update)
        self.status_perf.setText(
            f"{update.fps:4.1f} FPS | pose {update.pose_ms:4.0f} ms | model {self._model_ms:4.0f} ms | "
            f"latency {update.latency_ms:4.0f} ms"
        )

    def _on_prediction(self, prediction: Prediction) -> None:
        if prediction.model_ms:
            self._model_ms = prediction.model_ms
        self.video.show_prediction(prediction)

    def show_status(self, text: str) -> None:
        self.status_message.setText(text)

    def show_error(self, text: str) -> None:
        """Status bar + video placeholder + a non-modal box: the video keeps running behind it."""
        self.last_error = text
        self.status_message.setText(text)
        if not self.pipeline.running:
            self.video.clear(text)
        self._notify(QMessageBox.Icon.Warning, text)

    def _notify(self, icon, text: str) -> None:
        box = QMessageBox(icon, "CrossGLG Live", text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message_box = box

    def set_mirror(self, on: bool) -> None:
        self.video.mirror = on
        if self.pipeline.settings.mirror != on:
            self.pipeline.settings.mirror = on
            self.save_settings()
        self.video.update()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.pipeline.settings, self, rest_examples=self.rest_examples)
        if dialog.exec():
            self.apply_settings(dialog.settings())

    def apply_settings(self, settings) -> None:
        """Use and keep new settings (the dialog's result)."""
        self.pipeline.update_settings(settings)
        self.mirror_action.setChecked(settings.mirror)
        self.set_mirror(settings.mirror)
        self.save_settings()

    def save_settings(self) -> bool:
        if self.settings_file is None:
            return True
        try:
            self.settings_file.save(self.pipeline.settings)
        except OSError as exc:
            self.show_error(f"could not save the settings to {self.settings_file.path}: {exc}")
            return False
        return True

    def _gallery_changed(self) -> None:
        self.pipeline.set_gallery(self.store.gallery)

    # recording -----------------------------------------------------------------------------------------
    def start_countdown(self) -> None:
        self._countdown_for(idle=False)

    def start_idle_countdown(self) -> None:
        self._countdown_for(idle=True)

    def _countdown_for(self, idle: bool) -> None:
        if not self.pipeline.running:
            self.show_error("Open a camera or a video first (Source menu).")
            return
        if self.recording_active:
            return
        self.recording_idle = idle
        self._set_recording_active(True)
        self._countdown = self.countdown_steps
        self.video.banner = str(self._countdown)
        self.video.update()
        self.countdown_timer.start()

    def _tick_countdown(self) -> None:
        self._countdown -= 1
        if self._countdown > 0:
            self.video.banner = str(self._countdown)
        else:
            self.countdown_timer.stop()
            self.video.banner = ""
            self.start_recording()
        self.video.update()

    def cancel_recording(self) -> None:
        """Esc: stops the countdown or the recording ("recording cancelled")."""
        if self.countdown_timer.isActive():
            self.countdown_timer.stop()
            self._end_recording_ui()
            self.show_status(CANCELLED_PREFIX)
        elif self.recording_active:
            self.pipeline.cancel_recording()  # the cancellation comes back through the bridge

    def start_recording(self) -> None:
        self._set_recording_active(True)
        if not self.pipeline.running:
            self._on_recording_cancelled(self._recording_number, f"{CANCELLED_PREFIX}: no video is playing")
            return
        self.video.progress = 0.0
        self.show_status(
            "recording idle (do nothing in particular)…" if self.recording_idle else "recording…"
        )
        self._recording_number += 1
        number = self._recording_number
        self.pipeline.start_recording(
            self.record_seconds,
            on_done=lambda example: self.bridge.recorded.emit(number, example),
            on_cancelled=lambda message: self.bridge.recording_cancelled.emit(number, message),
        )
        self.record_timer.start()

    def _poll_recording(self) -> None:
        status = self.pipeline.recording_status()  # also ends a recording whose time is up
        if status is not None:
            self.video.progress = status.progress
            self.video.update()

    def _retry_key(self) -> str:
        return "I" if self.recording_idle else "R"

    def _set_recording_active(self, active: bool) -> None:
        self.recording_active = active
        self.record_button.setEnabled(not active)
        self.idle_button.setEnabled(not active)

    def _end_recording_ui(self) -> None:
        self.record_timer.stop()
        self._set_recording_active(False)
        self.video.banner = ""
        self.video.progress = None
        self.video.update()

    def _on_recording_cancelled(self, number: int, message: str) -> None:
        if number != self._recording_number:
            return
        self._end_recording_ui()
        self.show_status(message)
        if message != CANCELLED_PREFIX and not self.closing:  # not the user's Esc: say what happened
            self._notify(
                QMessageBox.Icon.Information,
                f"{message[0].upper()}{message[1:]}. Press {self._retry_key()} to try again.",
            )

    def _on_recorded(self, number: int, example: RecordedExample) -> None:
        if number != self._recording_number:
            return
        self._end_recording_ui()
        self.last_example = example
        # an idle example may be still: only the person-in-view part of the gate applies
        gate = {"min_motion": 0.0} if self.recording_idle else {}
        self.last_quality = report = check_quality(example, **gate)
        if not report.ok:
            self.show_status(f"recording rejected: {report.message}")
            self._notify(
                QMessageBox.Icon.Information,
                f"This recording can't be used: {report.message}. Press {self._retry_key()} to try again.",
            )
            return
        if self.recording_idle:
            self.enrol(IDLE, example, background=True)
            return
        self.ask_name_and_enrol(example, report.message)

    def ask_name_and_enrol(self, example: RecordedExample, quality_text: str) -> None:
        """Non-modal: the video keeps playing while the user names the example."""
        dialog = EnrolDialog(
            example,
            [c.name for c in self.store.classes() if not c.background],
            quality_text,
            self.video.mirror,
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.enrol(dialog.chosen_name(), example))
        self.enrol_dialog = dialog
        dialog.open()

    def enrol(self, name: str, example: RecordedExample, *, background: bool = False) -> None:
        try:
            self.store.add_example(name, example.window(), background=background)
        except (ValueError, OSError) as exc:
            self.show_error(f"could not save the example: {exc}")
            return
        self.gallery_panel.refresh()
        self._gallery_changed()
        if background:
            count = self.store.gallery.counts()[name]
            self.show_status(f"saved idle example {count}: never shown as a label")
        else:
            self.show_status(f"saved an example of “{name}”")

    def closeEvent(self, event) -> None:  # noqa: N802
        self.closing = True
        self.countdown_timer.stop()
        self.record_timer.stop()
        self.pipeline.close()
        super().closeEvent(event)
