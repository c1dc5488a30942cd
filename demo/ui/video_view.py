"""The video panel: frame, skeleton overlay, live label (name, similarity bar, top-3), countdown/progress."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from demo.live import NO_PERSON, UNKNOWN, FrameUpdate, Prediction
from demo.pose import Pose
from demo.ui.skeleton import draw_skeleton

MAIN_COLOR = QColor(60, 220, 90)
OTHER_COLOR = QColor(170, 170, 170)


def bgr_to_qimage(image: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    h, w = rgb.shape[:2]
    # PyQt6 takes any buffer here, the stubs only bytes; wrapping rgb without a copy is safe because
    # .copy() detaches the image from it before rgb goes away.
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # type: ignore[call-overload]


def headline(pred: Prediction) -> str:
    """The label as shown; an "unknown" says when it is because the window looks like rest, so a user whose
    action is missed knows the model saw them standing still rather than doing something it does not know."""
    if pred.label == UNKNOWN and pred.looks_like_rest:
        return f"{UNKNOWN} · looks like rest"
    return pred.label


class VideoView(QWidget):
    """Paints the newest frame; knows nothing about where frames come from."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(480, 360)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("video")
        self.mirror = False
        self.image: QImage | None = None
        self.main_pose: Pose | None = None
        self.other_poses: list[Pose] = []
        self.prediction: Prediction | None = None
        self.banner = ""  # big centred text: countdown digits or a message
        self.progress: float | None = None  # recording progress 0..1
        self.poses_drawn = 0  # frames painted with a skeleton (tests and diagnostics)
        self.placeholder = "No video: choose a camera or open a file from the Source menu"

    def show_update(self, update: FrameUpdate) -> None:
        self.image = bgr_to_qimage(update.frame.image)
        self.main_pose = update.pose.main
        self.other_poses = update.pose.others
        self.update()

    def show_prediction(self, prediction: Prediction) -> None:
        self.prediction = prediction
        self.update()

    def clear(self, message: str | None = None) -> None:
        self.image, self.main_pose, self.other_poses, self.prediction = None, None, [], None
        if message:
            self.placeholder = message
        self.update()

    # painting ------------------------------------------------------------------------------------------
    def _target_rect(self) -> QRectF:
        if self.image is None:
            return QRectF(self.rect())
        iw, ih = self.image.width(), self.image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(20, 20, 24))
        target = self._target_rect()
        if self.image is None:
            p.setPen(QColor(200, 200, 200))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        else:
            image = self.image.mirrored(True, False) if self.mirror else self.image
            p.drawImage(target, image)
            for pose in self.other_poses:
                draw_skeleton(p, pose.image, pose.visibility, target, OTHER_COLOR, mirror=self.mirror)
            if self.main_pose is not None:
                pose = self.main_pose
                draw_skeleton(p, pose.image, pose.visibility, target, MAIN_COLOR, mirror=self.mirror)
                self.poses_drawn += 1
        self._draw_label(p)
        self._draw_banner(p)
        p.end()

    def _draw_label(self, p: QPainter) -> None:
        pred = self.prediction
        if pred is None:
            return
        title = QFont(self.font())
        title.setPointSize(16)
        title.setBold(True)
        text = headline(pred)
        width = max(300, QFontMetrics(title).horizontalAdvance(text) + 24)
        box = QRectF(12, 12, width, 40 + 20 * len(pred.top[:3]) + 16)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 170))
        p.drawRoundedRect(box, 8, 8)
        p.setFont(title)
        colour = QColor(255, 255, 255) if pred.label not in (UNKNOWN, NO_PERSON) else QColor(255, 200, 90)
        p.setPen(colour)
        p.drawText(
            QRectF(box.x() + 10, box.y() + 4, box.width() - 20, 28),
            Qt.AlignmentFlag.AlignVCenter,
            text,
        )
        bar = QRectF(box.x() + 10, box.y() + 36, box.width() - 20, 8)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(80, 80, 80))
        p.drawRect(bar)
        p.setBrush(MAIN_COLOR)
        p.drawRect(QRectF(bar.x(), bar.y(), bar.width() * max(0.0, min(1.0, pred.score)), bar.height()))
        small = QFont(self.font())
        small.setPointSize(10)
        p.setFont(small)
        p.setPen(QColor(220, 220, 220))
        for i, (name, score) in enumerate(pred.top[:3]):
            p.drawText(
                QRectF(box.x() + 10, box.y() + 48 + 20 * i, box.width() - 20, 20),
                Qt.AlignmentFlag.AlignVCenter,
                f"{i + 1}. {name}  {score:.2f}",
            )

    def _draw_banner(self, p: QPainter) -> None:
        if self.banner:
            font = QFont(self.font())
            font.setPointSize(48 if len(self.banner) <= 2 else 18)
            font.setBold(True)
            p.setFont(font)
            p.setPen(QColor(255, 255, 255))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.banner)
        if self.progress is not None:
            bar = QRectF(40, self.height() - 40, self.width() - 80, 14)
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(bar)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(230, 60, 60))
            p.drawRect(QRectF(bar.x(), bar.y(), bar.width() * self.progress, bar.height()))
