"""Shared helpers for the demo tests: a model checkpoint and cached pose tracks of the real clips.

Pose estimation costs ~20-40 ms a frame on CPU, so each clip is run once per test session (cached here)
and only as many frames as the tests need.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

TINY_MODEL = {"num_classes": 4, "width": 0.25, "depth": 3}


def checkpoint_for_tests(tmp_dir: Path) -> Path:
    """The shipped default checkpoint when present, else a small freshly built one saved in ``tmp_dir``."""
    from crossglg.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint

    if (Path(DEFAULT_CHECKPOINT) / "config.json").is_file():
        return Path(DEFAULT_CHECKPOINT)
    import torch

    from crossglg.models import build_model

    torch.manual_seed(0)
    model = build_model(TINY_MODEL)
    path = tmp_dir / "tiny_checkpoint"
    save_checkpoint(path, model, classes=["a", "b", "c", "d"])
    return path


@functools.lru_cache(maxsize=8)
def clip_poses(path: str, max_frames: int = 0, unmirror: bool = False, keep_frames: bool = False):
    """(timestamps, [Pose | None], [Frame] if keep_frames else []) of a clip, computed once per session."""
    import cv2

    from demo.capture import VideoSource
    from demo.pose import PoseEstimator

    source = VideoSource(path)
    times, poses, frames = [], [], []
    with PoseEstimator() as estimator:
        while (frame := source.read()) is not None:
            image = cv2.flip(frame.image, 1) if unmirror else frame.image
            poses.append(estimator.process(image, frame.timestamp).main)
            times.append(frame.timestamp)
            if keep_frames:
                frames.append(frame)
            if max_frames and len(times) >= max_frames:
                break
    source.close()
    return np.array(times), poses, frames


def tai_chi_poses(data_root: Path):
    """The first 100 frames of tai_chi.mp4 (one person, full body) with poses: shared by many tests."""
    return clip_poses(str(data_root / "videos" / "tai_chi.mp4"), 100, keep_frames=True)


def cut_clip(source: Path, out: Path, frames: int) -> Path:
    """The first ``frames`` frames of a real clip, re-encoded (mp4v) at its frame rate: a short file whose
    end and loop come within one 2 s recording."""
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    written = 0
    while written < frames:
        ok, image = cap.read()
        if not ok:
            break
        writer.write(image)
        written += 1
    writer.release()
    cap.release()
    assert written == frames, f"{source} has only {written} frames"
    return out


def test_support_checkpoint_loads(tmp_path):
    """The checkpoint the other demo tests use can be loaded and embeds a window to a unit vector."""
    from demo.runtime import load_embedder

    embedder, backend = load_embedder(checkpoint_for_tests(tmp_path), "auto")
    emb = embedder.embed(np.zeros((1, 3, 60, 25, 2), np.float32))
    assert emb.shape == (1, embedder.dim)
    assert abs(float(np.linalg.norm(emb)) - 1.0) < 1e-4
    assert backend
