"""Loading the model for the live tools: checkpoint -> Embedder with the engines' fastest backend."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No usable checkpoint; the message says where it looked and how to get one."""


def default_checkpoint() -> Path:
    from crossglg.checkpoint import DEFAULT_CHECKPOINT

    return Path(DEFAULT_CHECKPOINT)


def load_embedder(checkpoint: str | Path | None = None, backend: str = "auto"):
    """Returns ``(Embedder, backend name)``.

    The engines package picks TensorRT / ONNX Runtime / torch (``backend="auto"``); where it cannot be
    imported the Embedder's own torch backend is used, and the log says so.
    """
    from crossglg.checkpoint import CheckpointError
    from crossglg.oneshot import Embedder

    path = Path(checkpoint) if checkpoint else default_checkpoint()
    if not (path / "config.json").is_file():
        raise ModelUnavailable(
            f"no model checkpoint at {path}: train one (crossglg-train) or pass --checkpoint DIR"
        )
    try:
        try:
            from engines import load_backend
        except ImportError as exc:
            log.warning("engines package unavailable (%s): using the Embedder's torch CPU backend", exc)
            return Embedder(path), "torch-cpu (fallback)"
        engine = load_backend(path, backend)
        name = getattr(engine, "name", type(engine).__name__)
        device = getattr(engine, "device", "")
        return Embedder(path, backend=engine), f"{name} {device}".strip()
    except (CheckpointError, ValueError, OSError) as exc:
        raise ModelUnavailable(f"cannot load the model at {path}: {exc}") from exc
