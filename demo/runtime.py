"""Loading the model for the live tools: checkpoint -> Embedder with the engines' fastest backend."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crossglg.oneshot import Embedder

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No usable checkpoint; the message says where it looked and how to get one."""


def default_checkpoint() -> Path:
    from crossglg.checkpoint import DEFAULT_CHECKPOINT

    return Path(DEFAULT_CHECKPOINT)


def load_embedder(checkpoint: str | Path | None = None, backend: str = "auto") -> tuple[Embedder, str]:
    """Returns ``(Embedder, backend name)``; ``checkpoint`` is a folder or a shipped model's name
    (None: ``default``).

    The engines package picks TensorRT / ONNX Runtime / torch (``backend="auto"``); where it cannot be
    imported crossglg's torch backend is used, and the log says so.
    """
    from crossglg.checkpoint import CheckpointError, read_no_action, resolve_checkpoint
    from crossglg.embedding import TorchBackend
    from crossglg.oneshot import Embedder

    try:
        path = resolve_checkpoint(checkpoint or "default")
    except CheckpointError as exc:
        raise ModelUnavailable(f"{exc}; train one (crossglg-train) or pass --checkpoint DIR") from exc
    try:
        try:
            from engines import load_backend
        except ImportError as exc:
            log.warning("engines package unavailable (%s): using crossglg's torch CPU backend", exc)
            return Embedder(TorchBackend.from_checkpoint(path), read_no_action(path)), "torch-cpu (fallback)"
        engine = load_backend(path, backend)
        return Embedder(engine, read_no_action(path)), f"{engine.name} {engine.device}".strip()
    except (CheckpointError, ValueError, OSError) as exc:
        raise ModelUnavailable(f"cannot load the model at {path}: {exc}") from exc
