"""The PyQt6 app, offscreen: plays a real clip with poses drawn, records + enrols through the UI with the
keyboard, survives a restart, reports bad sources, ends every recording with the controls usable again,
keeps settings, and explains a missing display."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")

from PyQt6 import sip  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402
from test_demo_support import checkpoint_for_tests, cut_clip  # noqa: E402

from demo.app import App, main  # noqa: E402
from demo.live import Settings  # noqa: E402
from demo.runtime import load_embedder  # noqa: E402


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return load_embedder(checkpoint_for_tests(tmp_path_factory.mktemp("model")), "auto")


@pytest.fixture
def make_app(qtbot, embedder, tmp_path):
    apps = []

    def make(**kwargs):
        emb, name = embedder
        kwargs.setdefault("gallery_dir", tmp_path / "gallery")
        kwargs.setdefault("settings_path", tmp_path / "settings.json")
        app = App(embedder=emb, backend_name=name, **kwargs)
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
    rest = app.embedder.no_action  # the shipped model brings its own rest examples, and the bar says so
    assert (f"{len(rest)} rest examples" in window.status_backend.text()) == (rest is not None)
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


def ready_to_record(make_app, qtbot, data_root):
    """An app without the starter gallery, playing tai_chi.mp4, focused, with a 1-step fast countdown."""
    app = make_app(starter=None)
    window = app.window
    window.countdown_steps = 1
    window.countdown_timer.setInterval(50)
    assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
    qtbot.waitUntil(lambda: window.frames_shown >= 5, timeout=30000)
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    return app


def test_keyboard_recording_enrols_a_class_that_is_then_recognised(make_app, qtbot, data_root, tmp_path):
    app = ready_to_record(make_app, qtbot, data_root)
    window = app.window
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


def test_idle_recording_is_saved_as_background_without_a_name(make_app, qtbot, data_root):
    """I records an idle example: no motion gate, no name dialog; it is listed and never shown as a label."""
    app = ready_to_record(make_app, qtbot, data_root)
    window = app.window
    qtbot.keyClick(window, Qt.Key.Key_I)
    assert not window.record_button.isEnabled() and not window.idle_button.isEnabled()
    qtbot.waitUntil(lambda: "idle" in app.store.gallery, timeout=30000)
    assert app.store.gallery.background_classes == ["idle"] and window.enrol_dialog is None
    assert window.gallery_panel.list.item(0).text() == "idle  (1 example)  [idle: never shown]"
    assert window.status_message.text() == "saved idle example 1: never shown as a label"
    assert window.record_button.isEnabled() and window.idle_button.isEnabled()
    window.pipeline.settings.threshold = -1.0  # every decision would name a class if there were one
    qtbot.waitUntil(lambda: window.video.prediction is not None, timeout=30000)
    assert window.video.prediction.label == "unknown"


def test_either_hand_matching_is_a_gallery_menu_option_kept_in_the_gallery(make_app, tmp_path):
    app = make_app()
    action = app.window.either_hand_action
    assert action.isCheckable() and action.isChecked() == app.store.gallery.either_hand
    action.trigger()
    assert app.store.gallery.either_hand == action.isChecked()
    saved = json.loads((tmp_path / "gallery" / "gallery.json").read_text())
    assert saved["either_hand"] == action.isChecked() and "mirrored" in json.dumps(saved)


def test_escape_cancels_the_countdown(make_app, qtbot, data_root):
    window = make_app(starter=None).window
    assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.countdown_timer.isActive() and window.video.banner == "3"
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.countdown_timer.isActive() and window.video.banner == ""
    assert window.pipeline.recording_status() is None
    assert window.status_message.text() == "recording cancelled"
    assert window.record_button.isEnabled()


def test_settings_are_kept_between_runs(make_app, qtbot, tmp_path):
    window = make_app(starter=None).window
    mirror = window.video.mirror
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_M)  # mirror toggle from the keyboard, saved at once
    assert window.video.mirror is (not mirror)
    assert make_app(starter=None).window.video.mirror is (not mirror)

    # Every field is kept (the dialog's result goes through apply_settings).
    chosen = Settings(
        threshold=0.7,
        margin=0.05,
        stride=4,
        smoothing=2,
        hold=4,
        window_seconds=2.5,
        max_age=0.2,
        min_coverage=0.5,
        absent_seconds=0.75,
        mirror=mirror,
    )
    assert all(getattr(chosen, f) != getattr(Settings(), f) for f in vars(chosen) if f != "mirror")
    window.apply_settings(chosen)
    assert window.pipeline.settings == chosen and window.video.mirror is mirror
    again = make_app(starter=None).window
    assert again.pipeline.settings == chosen

    # A bad field is named, the others kept.
    (tmp_path / "settings.json").write_text('{"threshold": 0.7, "stride": "fast", "colour": "red"}')
    bad = make_app(starter=None).window
    assert bad.pipeline.settings.threshold == 0.7 and bad.pipeline.settings.stride == Settings().stride
    assert "'stride' must be a whole number from 1 to 1000, got 'fast'" in bad.last_error
    assert "unknown setting 'colour' ignored" in bad.last_error


@pytest.fixture(scope="module")
def short_clip(data_root, tmp_path_factory):
    """1.5 s of tai_chi.mp4: a 2 s recording always crosses the end of the file."""
    return cut_clip(data_root / "videos" / "tai_chi.mp4", tmp_path_factory.mktemp("clips") / "short.mp4", 45)


def record_with_keyboard(window, qtbot) -> None:
    window.countdown_steps = 1
    window.countdown_timer.setInterval(50)
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.recording_active and not window.record_button.isEnabled()


def test_a_recording_across_the_end_of_a_looping_file_completes(make_app, qtbot, short_clip):
    """The reported freeze (progress bar stuck at ~60 % when the file looped): now the recording runs on
    across the loop, the gate notes the jump and the Record button is usable again."""
    window = make_app(starter=None).window
    assert window.open_source(str(short_clip))
    qtbot.waitUntil(lambda: window.frames_shown >= 3, timeout=30000)
    record_with_keyboard(window, qtbot)
    qtbot.waitUntil(lambda: window.video.progress is not None and window.video.progress > 0, timeout=30000)
    qtbot.waitUntil(lambda: window.last_quality is not None, timeout=30000)
    assert window.last_quality.ok, window.last_quality.message
    assert "the video jumped" in window.last_quality.message
    assert window.last_example.breaks >= 1
    assert window.record_button.isEnabled() and window.video.progress is None
    assert window.enrol_dialog is not None and window.enrol_dialog.isVisible()
    window.enrol_dialog.reject()


def test_source_switch_and_end_of_file_cancel_with_a_message(make_app, qtbot, data_root, short_clip):
    window = make_app(starter=None).window
    assert window.open_source(str(data_root / "videos" / "tai_chi.mp4"))
    qtbot.waitUntil(lambda: window.frames_shown >= 3, timeout=30000)
    record_with_keyboard(window, qtbot)
    qtbot.waitUntil(lambda: window.pipeline.recording_status() is not None, timeout=10000)
    assert window.open_source(str(data_root / "videos" / "clean_and_jerk.mp4"))
    qtbot.waitUntil(
        lambda: window.status_message.text() == "recording cancelled: source changed", timeout=10000
    )
    assert window.record_button.isEnabled() and window.video.progress is None
    assert window.message_box.isVisible() and "Press R to try again" in window.message_box.text()
    assert window.pipeline.recording_status() is None
    box = window.message_box
    qtbot.keyClick(box, Qt.Key.Key_Return)  # the user dismisses the message
    qtbot.waitUntil(lambda: sip.isdeleted(box) or not box.isVisible(), timeout=5000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.countdown_steps = 3
    qtbot.keyClick(window, Qt.Key.Key_R)  # usable again: a new countdown starts
    assert window.countdown_timer.isActive() and window.video.banner == "3"
    qtbot.keyClick(window, Qt.Key.Key_Escape)

    once = make_app(starter=None, loop_files=False).window  # --no-loop: the file ends mid-recording
    assert once.open_source(str(short_clip))
    qtbot.waitUntil(lambda: once.frames_shown >= 1, timeout=30000)
    record_with_keyboard(once, qtbot)
    qtbot.waitUntil(lambda: not once.recording_active, timeout=30000)
    assert once.status_message.text() == "recording cancelled: the video ended"
    assert once.record_button.isEnabled() and once.last_quality is None


def test_no_display_prints_help_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "no display found" in err and "xvfb-run" in err and "QT_QPA_PLATFORM=offscreen" in err


def test_settings_dialog_shows_the_measured_tradeoff_of_the_operating_point(qtbot):
    """The calibrated level is the default; moving it off shows what the new level was measured to cost."""
    from crossglg.openset import load_calibration
    from demo.ui.dialogs import SettingsDialog

    calibration = load_calibration()
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert dialog.calibrated.isChecked() and not dialog.threshold.isEnabled()
    assert dialog.threshold.value() == pytest.approx(calibration.level, abs=0.005)
    assert dialog.settings().threshold is None
    calibrated_text = dialog.tradeoff.text()
    assert "%" in calibrated_text
    dialog.calibrated.setChecked(False)
    low, _ = calibration.level_range
    dialog.threshold.setValue(round(low, 2))
    assert dialog.settings().threshold == pytest.approx(round(low, 2))
    assert dialog.tradeoff.text() != calibrated_text  # a more permissive level rejects fewer


def test_settings_dialog_shows_the_tradeoff_measured_with_the_models_rest_examples(qtbot):
    from crossglg.openset import load_calibration
    from demo.ui.dialogs import SettingsDialog

    calibration = load_calibration()
    assert calibration.rest_curves, "the shipped calibration measures models with rest examples too"
    plain, rest = SettingsDialog(Settings()), SettingsDialog(Settings(), rest_examples=64)
    qtbot.addWidget(plain)
    qtbot.addWidget(rest)
    assert "rest examples" not in plain.tradeoff.text()
    assert "64 rest examples as here" in rest.tradeoff.text()
    point = calibration.tradeoff(rest=True)
    assert f"{100 * point['known_accuracy']:.0f} % of enrolled" in rest.tradeoff.text()
    # and what a live user sees, from the streams the level was chosen on (models with rest examples)
    live = calibration.stream_tradeoff()
    assert live is not None and "stray labels per minute" not in plain.tradeoff.text()
    assert f"{live['stray_per_minute']:.1f} stray labels per minute" in rest.tradeoff.text()
    rest.calibrated.setChecked(False)
    rest.threshold.setValue(0.9)  # beyond the measured streams: the clip trade-off only
    assert "rest examples as here" in rest.tradeoff.text() and "stray labels" not in rest.tradeoff.text()


def test_settings_dialog_edits_the_recognition_settings_and_keeps_the_rest(qtbot):
    from demo.ui.dialogs import SettingsDialog

    before = Settings(max_age=0.3, window_seconds=1.5)
    dialog = SettingsDialog(before)
    qtbot.addWidget(dialog)
    assert dialog.window_length.value() == 1.5 and dialog.hold.value() == before.hold
    dialog.window_length.setValue(40.0)  # clamped to the range Settings accepts
    dialog.hold.setValue(3)
    dialog.stride.setValue(2)
    dialog.mirror.setChecked(not before.mirror)
    after = dialog.settings()
    assert (after.window_seconds, after.hold, after.stride, after.mirror) == (30.0, 3, 2, not before.mirror)
    assert after.max_age == 0.3  # a field the dialog does not show
    assert Settings.from_json(after.to_json()) == (after, [])


def test_an_unknown_that_looks_like_rest_says_so(qtbot, tmp_path):
    """The headline names why an "unknown" is one when a rest example was at least as close as the best
    class; a class, "no person" and an unknown without a close rest example are shown as they are."""
    from demo.live import NO_PERSON, UNKNOWN, Prediction
    from demo.ui.video_view import VideoView, headline

    rest_like = Prediction(1.0, UNKNOWN, 0.6, [("punch", 0.6), ("kick", 0.5)], rest=0.7)
    assert headline(rest_like) == "unknown · looks like rest"
    assert headline(Prediction(1.0, UNKNOWN, 0.5, [("punch", 0.5)], rest=0.3)) == UNKNOWN
    assert headline(Prediction(1.0, UNKNOWN, 0.5, [("punch", 0.5)])) == UNKNOWN
    assert headline(Prediction(1.0, "punch", 0.9, [("punch", 0.9)], rest=0.95)) == "punch"  # held label
    assert headline(Prediction(1.0, NO_PERSON, 0.0, rest=0.9)) == NO_PERSON
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show_prediction(rest_like)
    image = view.grab().toImage()
    assert image.save(str(tmp_path / "label.png"))
    empty = image.pixelColor(630, 470)
    assert image.pixelColor(330, 20) != empty  # the box grew past its usual 300 px to hold the whole headline
