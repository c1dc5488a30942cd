"""``crossglg-live``: the desktop app (PyQt6) over the Qt-free pipeline.

crossglg-live                         # camera 0 if present, else pick a source from the menu
crossglg-live --source clip.mp4       # a file (looped) or a stream URL
crossglg-live --screenshot shot.png --quit-after 8   # offscreen picture for the docs
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PyQt6.QtCore import QSettings

    from crossglg.oneshot import Embedder
    from demo.live import SettingsFile

log = logging.getLogger(__name__)

NO_DISPLAY_HELP = """\
crossglg-live: no display found (DISPLAY / WAYLAND_DISPLAY are not set).
  * On a desktop, run it from a graphical session.
  * On a server, start a virtual display:  sudo apt-get install xvfb libxcb-icccm4 libxcb-keysyms1
      xvfb-run -a crossglg-live --source clip.mp4
  * Without any display (screenshots, tests):
      QT_QPA_PLATFORM=offscreen crossglg-live --source clip.mp4 --screenshot out.png --quit-after 8
  * Without a window at all:  crossglg-recognize --source clip.mp4 --enroll NAME=START-END
"""


XCB_LIBRARIES = ("xcb-cursor", "xcb-icccm", "xcb-keysyms")


def missing_xcb_libraries() -> list[str]:
    """Qt's X11 plugin aborts the process when these system libraries are absent; say so first."""
    import ctypes.util

    return [f"lib{name}" for name in XCB_LIBRARIES if ctypes.util.find_library(name) is None]


def display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True  # the user chose a platform plugin (offscreen, xcb, wayland, ...)
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crossglg-live", description="Learn a new action from one example, live."
    )
    p.add_argument("--source", help="camera index, video file or stream URL (default: camera 0 if present)")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint folder (default: the shipped model)")
    p.add_argument("--backend", default="auto", help="auto | tensorrt | tensorrt-rtx | onnxruntime | torch")
    p.add_argument("--pose-model", type=Path, help="MediaPipe pose_landmarker_*.task (lite / full / heavy)")
    p.add_argument("--gallery", type=Path, help="gallery folder (default: the user data folder)")
    p.add_argument("--no-loop", action="store_true", help="stop at the end of a file instead of looping")
    p.add_argument("--screenshot", type=Path, help="save a PNG of the window before quitting")
    p.add_argument("--quit-after", type=float, default=0.0, help="quit after N seconds (demos, screenshots)")
    p.add_argument(
        "--settings", type=Path, help="settings file (default: settings.json in the user config folder)"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug messages and MediaPipe's own log lines (filtered by default)",
    )
    return p


class App:
    """Everything the window needs, built without showing anything (tests use it directly)."""

    def __init__(
        self,
        *,
        checkpoint: str | Path | None = None,
        backend: str = "auto",
        pose_model: str | Path | None = None,
        gallery_dir: str | os.PathLike | None = None,
        loop_files: bool = True,
        settings_path: str | os.PathLike | None = None,
        embedder: Embedder | None = None,
        backend_name: str | None = None,
        starter: str | os.PathLike | None = "default",
    ) -> None:
        from demo.live import LivePipeline, SettingsFile
        from demo.pose import PoseEstimator
        from demo.runtime import load_embedder
        from demo.store import GalleryStore
        from demo.ui.main_window import MainWindow, PipelineBridge

        if embedder is None:
            embedder, backend_name = load_embedder(checkpoint, backend)
        self.embedder = embedder
        if starter == "default":
            self.store = GalleryStore(embedder, gallery_dir)
        else:
            self.store = GalleryStore(embedder, gallery_dir, starter=starter)
        self.bridge = PipelineBridge()
        self.settings_file = SettingsFile(settings_path)
        notes = []
        if settings_path is None and not self.settings_file.exists():
            with contextlib.suppress(OSError):
                notes.append(import_legacy_settings(self.settings_file))
        settings, problems = self.settings_file.load()
        self.pose = PoseEstimator(pose_model)
        self.pipeline = LivePipeline(
            self.pose,
            embedder,
            self.store.gallery,
            settings,
            on_update=self.bridge.update.emit,
            on_prediction=self.bridge.prediction.emit,
            on_status=self.bridge.status.emit,
            on_finished=self.bridge.finished.emit,
        )
        self.window = MainWindow(
            self.pipeline,
            self.bridge,
            self.store,
            backend_name=backend_name or "?",
            settings_file=self.settings_file,
            loop_files=loop_files,
        )
        for message in [n for n in notes if n] + self.store.messages:
            self.window.show_status(message)
            if "could not be" in message or "unusable" in message:
                self.window.show_error(message)  # data set aside: the user must hear about it
        if problems:  # each names its field; the defaults are in use for those
            self.window.show_error("\n".join(problems))

    def close(self) -> None:
        self.window.close()
        self.pipeline.close()
        self.pose.close()


def import_legacy_settings(settings_file: SettingsFile, qsettings: QSettings | None = None) -> str | None:
    """Versions before the JSON settings kept threshold, stride and mirror with QSettings ("CrossGLG",
    "CrossGLG Live"): carry them over once, so an update loses nothing. Returns what to tell the user."""
    from PyQt6.QtCore import QSettings

    from demo.live import Settings

    q = qsettings if qsettings is not None else QSettings("CrossGLG", "CrossGLG Live")
    keys: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "recognition/threshold": ("threshold", float),
        "recognition/stride": ("stride", int),
        "display/mirror": ("mirror", lambda v: str(v).lower() in ("true", "1")),
    }
    data: dict[str, Any] = {}
    for key, (name, convert) in keys.items():
        if q.contains(key):
            with contextlib.suppress(TypeError, ValueError):
                data[name] = convert(q.value(key))
    if not data:
        return None
    settings, _ = Settings.from_json(data)  # an invalid old value keeps its default
    settings_file.save(settings)
    return f"settings carried over from the previous version into {settings_file.path}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from demo import native_logs

    native_logs.configure(verbose=args.verbose)  # before MediaPipe loads
    if not display_available():
        print(NO_DISPLAY_HELP, file=sys.stderr, end="")
        return 2
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("WAYLAND_DISPLAY")
        and (missing := missing_xcb_libraries())
    ):
        print(
            f"crossglg-live: Qt's X11 support needs {', '.join(missing)}; on Debian/Ubuntu:\n"
            "  sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1",
            file=sys.stderr,
        )
        return 2
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QMessageBox

    from demo.capture import list_cameras
    from demo.runtime import ModelUnavailable

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("CrossGLG Live")
    try:
        app = App(
            checkpoint=args.checkpoint,
            backend=args.backend,
            pose_model=args.pose_model,
            gallery_dir=args.gallery,
            loop_files=not args.no_loop,
            settings_path=args.settings,
        )
    except (ModelUnavailable, FileNotFoundError, ValueError) as exc:
        print(f"crossglg-live: {exc}", file=sys.stderr)
        if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            QMessageBox.critical(None, "CrossGLG Live", str(exc))
        return 4
    window = app.window
    window.show()
    if args.source is not None:
        window.open_source(args.source)
    elif list_cameras():
        window.open_source(list_cameras()[0])
    else:
        window.show_status("no camera found: open a video from the Source menu (Ctrl+O)")
    if args.quit_after > 0:

        def finish() -> None:
            if args.screenshot:
                window.grab().save(str(args.screenshot), "PNG")
                print(f"saved {args.screenshot}")
            app.close()
            qapp.quit()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    elif args.screenshot:
        print("--screenshot needs --quit-after SECONDS", file=sys.stderr)
    code = qapp.exec()
    app.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
