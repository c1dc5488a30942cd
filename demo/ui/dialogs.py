"""Dialogs: the recorded example's preview + name, and the settings (kept with QSettings)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QSettings, QTimer
from PyQt6.QtGui import QColor, QPainter, QPen
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from demo.pipeline import RecordedExample, Settings
from demo.pose import POSE_CONNECTIONS


class SkeletonPreview(QWidget):
    """Loops the recorded skeleton (image coordinates) so the user sees what will be enrolled."""

    def __init__(self, example: RecordedExample, mirror: bool = False, parent=None):
        super().__init__(parent)
        self.example = example
        self.mirror = mirror
        self.setMinimumSize(320, 240)
        self.setAccessibleName("recording preview")
        self.index = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._next)
        self.timer.start(33)

    def _next(self) -> None:
        n = len(self.example.timestamps)
        self.index = (self.index + 1) % max(n, 1)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(20, 20, 24))
        if len(self.example.timestamps) == 0:
            p.end()
            return
        pts = self.example.image[self.index]
        vis = self.example.visibility[self.index]
        if not np.isnan(pts[0, 0]):
            xs = 1.0 - pts[:, 0] if self.mirror else pts[:, 0]
            q = [QPointF(x * self.width(), y * self.height()) for x, y in zip(xs, pts[:, 1], strict=True)]
            p.setPen(QPen(QColor(60, 220, 90), 3))
            for a, b in POSE_CONNECTIONS:
                if vis[a] >= 0.3 and vis[b] >= 0.3:
                    p.drawLine(q[a], q[b])
        p.end()


class EnrolDialog(QDialog):
    """Preview of a good recording and the class name: a new class or an existing one."""

    def __init__(self, example: RecordedExample, class_names: list[str], quality_text: str, mirror=False,
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle("Save one-shot example")
        self.preview = SkeletonPreview(example, mirror)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(class_names)
        self.name.setCurrentText("")
        self.name.lineEdit().setPlaceholderText("new class name, or pick one to add this example to it")
        self.name.setAccessibleName("class name")
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Save | std.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(std.Save)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c33")
        form = QFormLayout()
        form.addRow("&Name:", self.name)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(QLabel(quality_text))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.name.setFocus()

    def chosen_name(self) -> str:
        return self.name.currentText().strip()

    def _accept(self) -> None:
        if not self.chosen_name():
            self.error.setText("Type a name for this action.")
            return
        self.accept()


class SettingsStore:
    """Settings kept between runs with QSettings (organisation "CrossGLG", application "CrossGLG Live")."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings("CrossGLG", "CrossGLG Live")

    def load(self) -> tuple[Settings, bool]:
        s = Settings()
        s.threshold = float(self.q.value("recognition/threshold", s.threshold))
        s.stride = int(self.q.value("recognition/stride", s.stride))
        mirror = str(self.q.value("display/mirror", "true")).lower() in ("true", "1")
        return s, mirror

    def save(self, settings: Settings, mirror: bool) -> None:
        self.q.setValue("recognition/threshold", float(settings.threshold))
        self.q.setValue("recognition/stride", int(settings.stride))
        self.q.setValue("display/mirror", bool(mirror))
        self.q.sync()


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, mirror: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(settings.threshold)
        self.threshold.setToolTip("Cosine similarity below which the answer is 'unknown'")
        self.stride = QSpinBox()
        self.stride.setRange(1, 30)
        self.stride.setValue(settings.stride)
        self.stride.setToolTip("Recognise every N processed frames")
        self.mirror = QCheckBox("Mirror the video (like a mirror, for a front camera)")
        self.mirror.setChecked(mirror)
        form = QFormLayout(self)
        form.addRow("Unknown &threshold:", self.threshold)
        form.addRow("Recognition &stride (frames):", self.stride)
        form.addRow(self.mirror)
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def apply_to(self, settings: Settings) -> bool:
        settings.threshold = float(self.threshold.value())
        settings.stride = int(self.stride.value())
        return self.mirror.isChecked()
