"""The embedding contract: canonical windows (N, 3, 60, 25, 2) float32 in, embeddings (N, D) float32 out.

Everything that embeds goes through these three names, so a window is checked one way and a model is
run in torch one way, whoever asks (one-shot Embedder, the trainer's validation, evaluation, ONNX
parity checks, engines/):

* :func:`check_windows`: the gate for window batches (type, shape, dtype, finiteness).
* :class:`EmbeddingBackend`: what a backend is: callable on windows, knows its ``dim`` and the
  ``model_hash`` galleries are keyed by (engines/ adds ONNX Runtime and TensorRT ones).
* :class:`TorchBackend`: the one torch runner of a model's skeleton branch.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from crossglg.checkpoint import open_model, skeleton_branch_hash
from crossglg.skeleton.window import WINDOW_FRAMES, WINDOW_SHAPE

if TYPE_CHECKING:
    from crossglg.models import CrossGLG, SkeletonBranch

DEFAULT_BATCH = 256


def check_windows(windows: Any, what: str = "windows", *, frames: int = WINDOW_FRAMES) -> np.ndarray:
    """(N, 3, T, 25, 2) or one (3, T, 25, 2) window (T = ``frames``, 60 for canonical windows) -> a
    contiguous float32 (N, ...) batch; errors name the offending batch items."""
    shape = (WINDOW_SHAPE[0], frames, *WINDOW_SHAPE[2:])
    text = f"(N, {', '.join(map(str, shape))})"
    if not isinstance(windows, np.ndarray):
        raise TypeError(f"{what} must be a numpy array {text}; got {type(windows).__name__}")
    arr = windows[None] if windows.ndim == 4 else windows
    if arr.ndim != 5 or tuple(arr.shape[1:]) != shape:
        raise ValueError(f"{what} must have shape {text}; got {windows.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{what} must be float32 (got {arr.dtype})")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr).all(axis=(1, 2, 3, 4))
    if not finite.all():
        bad = np.flatnonzero(~finite).tolist()[:10]
        raise ValueError(f"{what} contain NaN or inf in batch item(s) {bad}")
    return arr


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def drop_absent_bodies(windows: np.ndarray) -> np.ndarray:
    """Drops trailing body slots that are empty in EVERY window of the batch. The encoders give an absent
    body zero weight and encode bodies independently in eval mode, so embeddings are unchanged; the
    single-person public sets (and the live app's windows) then cost half as much to embed."""
    m = windows.shape[-1]
    while m > 1 and not np.any(windows[..., m - 1]):
        m -= 1
    return windows[..., :m]


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode for the block; every submodule's train/eval flag is restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode


def run_batches(
    forward: Callable[[torch.Tensor], torch.Tensor],
    windows: np.ndarray,
    device: str | torch.device,
    batch_size: int = DEFAULT_BATCH,
    trim_bodies: bool = True,
) -> np.ndarray:
    """The one torch inference loop: ``forward`` over chunks of ``windows`` on ``device``, no grad,
    float32 NumPy out. ``windows`` must be non-empty (callers check them first)."""
    outs = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            chunk = windows[start : start + batch_size]
            if trim_bodies:
                chunk = drop_absent_bodies(chunk)
            x = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32)).to(device)
            outs.append(forward(x).float().cpu().numpy())
    return np.concatenate(outs)


@runtime_checkable
class EmbeddingBackend(Protocol):
    """Windows (N, 3, 60, 25, 2) float32 -> raw embeddings (N, ``dim``) float32 (not normalised), from
    the model whose skeleton-branch hash is ``model_hash`` (crossglg.checkpoint.skeleton_branch_hash)."""

    @property
    def dim(self) -> int: ...

    @property
    def model_hash(self) -> str: ...

    def __call__(self, windows: np.ndarray) -> np.ndarray: ...


class TorchBackend:
    """The skeleton branch in torch: eval mode, no grad, batches of ``batch_size``, empty body slots
    dropped (``trim_bodies``, see drop_absent_bodies).

    ``model`` is a CrossGLG model or its SkeletonBranch. It is never moved or changed: ``device=None``
    runs where it lives, another device runs a copy; train/eval flags are restored after each call, so
    a model in the middle of training can be evaluated. Without ``model_hash`` the hash is computed
    from the current weights when asked for.
    """

    name = "torch"

    def __init__(
        self,
        model: CrossGLG | SkeletonBranch,
        *,
        model_hash: str | None = None,
        device: str | torch.device | None = None,
        batch_size: int = DEFAULT_BATCH,
        trim_bodies: bool = True,
    ):
        if not hasattr(model, "skeleton_branch"):
            raise TypeError(
                f"TorchBackend needs a CrossGLG model or its SkeletonBranch, got {type(model).__name__}"
            )
        branch = model.skeleton_branch()
        here = next(branch.parameters()).device
        wanted = torch.device(device) if device is not None else here
        if wanted.type == here.type and wanted.index in (None, here.index):
            wanted = here  # "cuda" is the cuda:i the model already lives on
        else:
            branch = copy.deepcopy(branch).to(wanted)
        self.device = str(wanted)  # a string, like every backend's
        self.branch = branch
        self.dim = int(branch.embed_dim)
        self.frames = int(branch.config.get("num_frames", WINDOW_FRAMES))
        self.batch_size = int(batch_size)
        self.trim_bodies = trim_bodies
        self._model_hash = model_hash

    @classmethod
    def from_checkpoint(cls, checkpoint: str | os.PathLike = "default", **options: Any) -> TorchBackend:
        """A shipped model's name or a checkpoint folder -> its torch runner (weights checked by hash)."""
        source = open_model(checkpoint)
        return cls(source.branch, model_hash=source.model_hash, **options)

    @property
    def model_hash(self) -> str:
        return self._model_hash or skeleton_branch_hash(self.branch)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        batch = check_windows(windows, frames=self.frames)
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        with eval_mode(self.branch):
            return run_batches(self._forward, batch, self.device, self.batch_size, self.trim_bodies)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """One chunk on the device; engines/ overrides it (CUDA graphs)."""
        return self.branch(x)

    def describe(self) -> str:
        threads = f", {torch.get_num_threads()} threads" if self.device == "cpu" else ""
        return f"torch {torch.__version__} eager on {self.device}{threads}; model {self.model_hash[:12]}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


__all__ = [
    "DEFAULT_BATCH",
    "WINDOW_SHAPE",
    "EmbeddingBackend",
    "TorchBackend",
    "check_windows",
    "drop_absent_bodies",
    "eval_mode",
    "l2_normalise",
    "run_batches",
]
