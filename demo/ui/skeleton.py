"""The one Qt painter of a MediaPipe skeleton, used by the live video and the recording preview."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QColor, QPainter, QPen

from demo.pose import POSE_CONNECTIONS

MIN_VISIBILITY = 0.3  # MediaPipe visibility under which a joint is not drawn (occluded or guessed)


def draw_skeleton(
    p: QPainter,
    image_xy: np.ndarray,
    visibility: np.ndarray,
    target: QRectF,
    color: QColor,
    *,
    mirror: bool = False,
    width: float = 3.0,
    radius: float = 3.5,
) -> int:
    """Draw bones and joints of one pose given in normalised image coordinates (0..1) into ``target``.

    ``image_xy``: (33, >=2), NaN rows draw nothing; ``mirror`` flips x like the mirrored video. Returns
    the number of joints drawn.
    """
    xs = np.asarray(image_xy[:, 0], np.float64)
    ys = np.asarray(image_xy[:, 1], np.float64)
    if mirror:
        xs = 1.0 - xs
    visible = (np.asarray(visibility) >= MIN_VISIBILITY) & np.isfinite(xs) & np.isfinite(ys)
    pts = [
        QPointF(target.x() + x * target.width(), target.y() + y * target.height()) if v else None
        for x, y, v in zip(xs, ys, visible, strict=True)
    ]
    p.save()
    p.setPen(QPen(color, width))
    for a, b in POSE_CONNECTIONS:
        pa, pb = pts[a], pts[b]  # None exactly where the joint is not visible
        if pa is not None and pb is not None:
            p.drawLine(pa, pb)
    p.setBrush(color)
    for pt in pts:
        if pt is not None:
            p.drawEllipse(pt, radius, radius)
    p.restore()
    return int(visible.sum())
