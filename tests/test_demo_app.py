"""The PyQt6 app, offscreen: plays a real clip with poses drawn, records + enrols through the UI with the
keyboard, survives a restart, reports bad sources, keeps settings, and explains a missing display."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PyQt6.QtCore import QSettings, Qt  # noqa: E402
from test_demo_support import checkpoint_for_tests  # noqa: E402

from demo.app import App, main  # noqa: E402
from demo.runtime import load_embedder  # noqa: E402
from demo.ui.dialogs import SettingsStore  # noqa: E402


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return load_embedder(checkpoint_for_tests(tmp_path_factory.mktemp("model")), "auto")


@pytest.fixture
def make_app(qtbot, embedder, tmp_path):
    apps = []

    def make(**kwargs):
        emb, name = embedder
        settings = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        kwargs.setdefault("gallery_dir", tmp_path / "gallery")
        app = App(embedder=emb, backend_name=name, settings_store=settings, **kwargs)
        qtbot.addWidget(app.window)
        app.window.show()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def test_window_plays_a_clip_with_poses_and_labels(make_app, qtbot, data_root):
    app = make_app()  # first run: the starter gallery gives labels before anything is recorded
    window = app.window
    assert app.store.has_starter()
    assert window.gallery_panel.list.count() == len(app.store.classes())
    assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
    qtbot.waitUntil(lambda: window.video.poses_drawn >= 10, timeout=30000)
    qtbot.waitUntil(lambda: window.video.prediction is not None, timeout=30000)
    assert window.video.prediction.label in set(app.store.gallery.classes) | {"unknown"}
    assert "FPS" in window.status_perf.text() and "latency" in window.status_perf.text()
    assert window.status_source.text() == "file tai_chi.mp4"
    assert window.status_backend.text().startswith("backend: ")
    image = window.grab().toImage()
    assert image.width() > 400 and not image.isNull()


def test_bad_path_and_absent_camera_give_a_message_not_a_crash(make_app, qtbot, tmp_path):
    window = make_app(starter=None).window
    assert not window.open_source(str(tmp_path / "missing.mp4"))
    assert "video file not found" in window.last_error
    assert window.message_box is not None and window.message_box.isVisible()
    assert not window.open_source(57)
    assert "camera 57 is not available" in window.last_error
    assert "camera 57" in window.status_message.text()
    window.start_countdown()  # recording without a source explains itself too
    assert "Open a camera or a video first" in window.last_error
    # A stream is opened on a thread (a slow server must not freeze the window); the failure still shows.
    assert window.open_source("http://127.0.0.1:9/none.mp4")
    qtbot.waitUntil(lambda: "cannot open stream http://127.0.0.1:9/" in window.last_error, timeout=20000)


def test_keyboard_recording_enrols_a_class_that_is_then_recognised(make_app, qtbot, data_root, tmp_path):
    app = make_app(starter=None)
    window = app.window
    window.countdown_steps = 1
    window.countdown_timer.setInterval(50)
    assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
    qtbot.waitUntil(lambda: window.frames_shown >= 5, timeout=30000)
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_R)  # the shortcut starts the countdown
    qtbot.waitUntil(lambda: window.last_quality is not None, timeout=30000)
    assert window.last_quality.ok, window.last_quality.message
    qtbot.waitUntil(lambda: window.enrol_dialog is not None, timeout=30000)
    assert window.last_quality.ok and window.last_quality.pose_fraction >= 0.9
    dialog = window.enrol_dialog
    dialog.name.setCurrentText("tai chi")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # Enter saves
    qtbot.waitUntil(lambda: "tai chi" in app.store.gallery, timeout=5000)
    assert app.store.gallery.counts() == {"tai chi": 1}
    assert window.gallery_panel.list.item(0).text().startswith("tai chi  (1 example)")
    # The live matcher got the new gallery: with one class and no threshold every decision names it (that
    # the replayed segment itself is recognised among several classes is test_demo_pipeline's job).
    window.pipeline.settings.threshold = -1.0
    qtbot.waitUntil(lambda: getattr(window.video.prediction, "label", None) == "tai chi", timeout=30000)

    # The gallery survives a restart of the app.
    app.close()
    again = make_app(starter=None)
    assert again.store.gallery.counts() == {"tai chi": 1}
    assert again.window.gallery_panel.list.count() == 1


def test_escape_cancels_the_countdown(make_app, qtbot, data_root):
    window = make_app(starter=None).window
    assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.countdown_timer.isActive() and window.video.banner == "3"
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.countdown_timer.isActive() and window.video.banner == ""
    assert window.pipeline.recording is None
    assert window.status_message.text() == "recording cancelled"


def test_settings_are_kept_between_runs(make_app, qtbot):
    window = make_app(starter=None).window
    mirror = window.video.mirror
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_M)  # mirror toggle from the keyboard
    assert window.video.mirror is (not mirror)
    window.pipeline.settings.threshold = 0.7
    window.pipeline.settings.stride = 4
    window.settings_store.save(window.pipeline.settings, window.video.mirror)
    again = make_app(starter=None).window
    assert again.video.mirror is (not mirror)
    assert again.pipeline.settings.threshold == pytest.approx(0.7)
    assert again.pipeline.settings.stride == 4


def test_no_display_prints_help_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "no display found" in err and "xvfb-run" in err and "QT_QPA_PLATFORM=offscreen" in err
