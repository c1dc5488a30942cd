"""Dialogs: the recorded example's preview + name, and the settings editor (saving is the window's job,
through :class:`demo.live.SettingsFile`)."""

from __future__ import annotations

import dataclasses

from PyQt6.QtCore import QRectF, QTimer
from PyQt6.QtGui import QColor, QPainter
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

from crossglg.openset import load_calibration
from demo.live import RecordedExample, Settings
from demo.ui.skeleton import draw_skeleton

PREVIEW_COLOR = QColor(60, 220, 90)


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
        i = self.index % len(self.example.timestamps)
        draw_skeleton(
            p,
            self.example.image[i],
            self.example.visibility[i],
            QRectF(self.rect()),
            PREVIEW_COLOR,
            mirror=self.mirror,
        )
        p.end()


class EnrolDialog(QDialog):
    """Preview of a good recording and the class name: a new class or an existing one."""

    def __init__(
        self, example: RecordedExample, class_names: list[str], quality_text: str, mirror=False, parent=None
    ):
        super().__init__(parent)
        self.setWindowTitle("Save one-shot example")
        self.preview = SkeletonPreview(example, mirror)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(class_names)
        self.name.setCurrentText("")
        line = self.name.lineEdit()
        assert line is not None  # an editable combo box always has its line edit
        line.setPlaceholderText("new class name, or pick one to add this example to it")
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


class SettingsDialog(QDialog):
    """Edits the recognition and display settings; :meth:`settings` gives the edited copy.
    ``rest_examples``: how many rest examples the model brings (the trade-off shown is then the one
    measured with them)."""

    def __init__(self, settings: Settings, parent=None, rest_examples: int = 0):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.original = settings
        self.rest_examples = rest_examples
        self.calibration = load_calibration()
        self.calibrated = QCheckBox(f"Calibrated ({self.calibration.level:.2f}, recommended)")
        self.calibrated.setChecked(settings.threshold is None)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(-1.0, 1.0)  # the ranges Settings accepts, so nothing is clamped
        self.threshold.setSingleStep(0.01)
        self.threshold.setDecimals(2)
        self.threshold.setValue(self.calibration.level if settings.threshold is None else settings.threshold)
        self.threshold.setToolTip("Similarity below which the answer is 'unknown': higher rejects more")
        self.tradeoff = QLabel()
        self.tradeoff.setWordWrap(True)
        self.calibrated.toggled.connect(self._show_tradeoff)
        self.threshold.valueChanged.connect(self._show_tradeoff)
        self._show_tradeoff()
        self.margin = QDoubleSpinBox()
        self.margin.setRange(0.0, 2.0)
        self.margin.setSingleStep(0.05)
        self.margin.setDecimals(2)
        self.margin.setValue(settings.margin)
        self.margin.setToolTip("Lead the best class needs over the second; less is 'unknown'")
        self.stride = QSpinBox()
        self.stride.setRange(1, 1000)
        self.stride.setValue(settings.stride)
        self.stride.setToolTip("Recognise every N processed frames")
        self.smoothing = QSpinBox()
        self.smoothing.setRange(1, 100)
        self.smoothing.setValue(settings.smoothing)
        self.smoothing.setToolTip("Windows averaged per decision: steadier labels, slower to change")
        self.hold = QSpinBox()
        self.hold.setRange(1, 100)
        self.hold.setValue(settings.hold)
        self.hold.setToolTip(
            "Decisions in a row a new label needs before it is shown: fewer stray labels, "
            "each extra one adds a stride of delay"
        )
        self.window_length = QDoubleSpinBox()
        self.window_length.setRange(0.2, 30.0)
        self.window_length.setSingleStep(0.25)
        self.window_length.setDecimals(2)
        self.window_length.setSuffix(" s")
        self.window_length.setValue(settings.window_seconds)
        self.window_length.setToolTip(
            "Time one recognition window covers: shorter labels an action sooner after it ends, "
            "longer suits slow actions"
        )
        self.mirror = QCheckBox("Mirror the video (like a mirror, for a front camera)")
        self.mirror.setChecked(settings.mirror)
        form = QFormLayout(self)
        form.addRow("Unknown &threshold:", self.threshold)
        form.addRow(self.calibrated)
        form.addRow(self.tradeoff)
        form.addRow("Required &margin:", self.margin)
        form.addRow("Recognition &stride (frames):", self.stride)
        form.addRow("S&moothing (windows):", self.smoothing)
        form.addRow("&Hold (decisions):", self.hold)
        form.addRow("&Window:", self.window_length)
        form.addRow(self.mirror)
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _show_tradeoff(self) -> None:
        """The measured cost of the chosen operating point (validation split, docs/results.md)."""
        if self.calibrated.isChecked():
            self.threshold.setValue(self.calibration.level)
        self.threshold.setEnabled(not self.calibrated.isChecked())
        t = self.calibration.tradeoff(float(self.threshold.value()), rest=self.rest_examples > 0)
        if t.get("known_accuracy") is None or t.get("rejection") is None:
            self.tradeoff.setText("No measured trade-off for this level.")
            return
        if t["with_rest"]:
            where = f"held-out classes, with a model's {self.rest_examples} rest examples as here"
        elif self.rest_examples:
            where = f"held-out classes, without this model's {self.rest_examples} rest examples"
        else:
            where = "held-out classes"
        text = (
            f"Measured on {where}: {100 * t['rejection']:.0f} % of actions that were "
            f"never enrolled answered 'unknown'; {100 * t['known_accuracy']:.0f} % of enrolled "
            "actions labelled correctly."
        )
        live = self.calibration.stream_tradeoff(t["level"]) if t["with_rest"] else None
        if live is not None:  # measured on streams with models that bring rest examples
            text += (
                " In live streams where some gestures were never enrolled: "
                f"{100 * live['recall']:.0f} % of enrolled gestures named, "
                f"{live['stray_per_minute']:.1f} stray labels per minute during the others."
            )
        self.tradeoff.setText(text)

    def settings(self) -> Settings:
        """The original settings with the fields shown here replaced (the others are kept as they were)."""
        threshold = None if self.calibrated.isChecked() else float(self.threshold.value())
        return dataclasses.replace(
            self.original,
            threshold=threshold,
            margin=float(self.margin.value()),
            stride=int(self.stride.value()),
            smoothing=int(self.smoothing.value()),
            hold=int(self.hold.value()),
            window_seconds=float(self.window_length.value()),
            mirror=self.mirror.isChecked(),
        )
