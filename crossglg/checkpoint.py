"""Checkpoints: a directory with ``model.safetensors`` (weights) and ``config.json`` (everything needed
to rebuild and trust the model: model config, class names, layout, window length, data manifest,
metrics and a hash of the skeleton-branch weights).

No pickle anywhere: weights go through safetensors, metadata through JSON. Saving is atomic (a
temporary directory renamed into place), so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from crossglg.io import read_json_object
from crossglg.paths import resource_path
from crossglg.skeleton.window import WINDOW_BODIES

if TYPE_CHECKING:
    from crossglg.models import CrossGLG, SkeletonBranch

FORMAT = "crossglg-checkpoint"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# Windows of no-action time the model was trained on as its own class (data.no_action_persons): at run
# time they are background for every gallery, so standing or resting between actions is "unknown".
# All of them are kept (a subset of 64 left more stray labels on the validation streams, docs/results.md
# "Rest windows kept"); bodies that are zero in every window are not stored.
NO_ACTION_FILE = "no_action.npy"
# The one place that locates the shipped models (switching to importlib.resources changes this line).
MODELS_DIR = resource_path("models")
SHIPPED_MODELS = {"default": "crossglg_default", "full": "crossglg_full"}  # name -> folder in MODELS_DIR
DEFAULT_CHECKPOINT = MODELS_DIR / SHIPPED_MODELS["default"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the field or key."""


@dataclass
class Checkpoint:
    model: CrossGLG  # in eval mode
    config: dict[str, Any]
    path: Path

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @property
    def model_hash(self) -> str:
        return self.config["model_hash"]


def resolve_checkpoint(name_or_path: str | os.PathLike = "default") -> Path:
    """A shipped model's name (``default``, ``full``) or a folder -> the checkpoint folder.

    Names win over same-named relative folders (pass ``./default`` for those). Raises CheckpointError
    naming the folder when it holds no ``config.json``, so every CLI fails the same way.
    """
    text = os.fspath(name_or_path)
    path = MODELS_DIR / SHIPPED_MODELS[text] if text in SHIPPED_MODELS else Path(text)
    if not (path / CONFIG_FILE).is_file():
        raise CheckpointError(
            f"no model checkpoint at {path} (expected {path / CONFIG_FILE}); shipped models by name: "
            f"{', '.join(SHIPPED_MODELS)}"
        )
    return path


def skeleton_branch_hash(model: CrossGLG | SkeletonBranch) -> str:
    """The model hash: sha256 over the skeleton branch's tensors (names, dtypes, shapes, bytes) in
    sorted order. ``model`` is a CrossGLG model or its SkeletonBranch (same hash).

    Only the branch used for one-shot embeddings counts: a gallery built with one model stays valid
    for another whose skeleton branch is bit-identical (e.g. only the classifier changed).
    """
    digest = hashlib.sha256()
    state = model.skeleton_branch().state_dict()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``target``; on success it replaces ``target``.

    Files already in ``target`` that the writer did not produce are carried over, so other tools'
    files living there survive a re-save. On error the temporary directory is removed and
    ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            if not target.is_dir():
                raise FileExistsError(f"{target} exists and is not a directory")
            for entry in target.iterdir():
                if not (tmp / entry.name).exists():
                    os.replace(entry, tmp / entry.name)
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_checkpoint(
    directory: str | os.PathLike,
    model: CrossGLG,
    *,
    classes: list[str],
    data_manifest: Any = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    no_action: np.ndarray | None = None,
) -> Path:
    """Write ``model`` (a CrossGLG from build_model) and its metadata to ``directory`` atomically;
    ``no_action``: (N, 3, T, 25, M) windows of no-action time for :data:`NO_ACTION_FILE`, or None."""
    from safetensors.torch import save_file

    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "encoder" not in config:
        raise TypeError("save_checkpoint needs a CrossGLG model built by crossglg.models.build_model")
    classes = [str(c) for c in classes]
    if len(classes) != config["num_classes"]:
        raise ValueError(
            f"{len(classes)} class names given but the model has {config['num_classes']} classes"
        )
    if len(set(classes)) != len(classes):
        raise ValueError("class names must be unique")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": config,
        "classes": classes,
        "layout": config["layout"],
        "num_frames": config["num_frames"],
        "embed_dim": int(model.embed_dim),
        "model_hash": skeleton_branch_hash(model),
        "data_manifest": data_manifest,
        "metrics": metrics or {},
        "extra": extra or {},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
    }
    try:
        text = json.dumps(meta, indent=2, sort_keys=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint metadata is not JSON-serialisable: {err}") from err
    state = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        save_file(
            state, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT, "model_hash": meta["model_hash"]}
        )
        (tmp / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
        if no_action is not None:
            windows = np.asarray(no_action, np.float32)
            used = np.flatnonzero(windows.any(axis=(0, 1, 2, 3)))
            bodies = int(used[-1]) + 1 if len(used) else 1
            np.save(tmp / NO_ACTION_FILE, np.ascontiguousarray(windows[..., :bodies]), allow_pickle=False)
    return directory


def read_no_action(directory: str | os.PathLike) -> np.ndarray | None:
    """The checkpoint's no-action windows (N, 3, T, 25, M) float32, with M at least the window's bodies
    (unused ones are stored trimmed), or None when it has none (a model trained without the class). A file
    that is not such an array raises CheckpointError naming it."""
    path = Path(directory) / NO_ACTION_FILE
    if not path.is_file():
        return None
    try:
        windows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable .npy array ({err})") from None
    if windows.ndim != 5 or windows.shape[1] != 3 or windows.shape[3] != 25 or len(windows) == 0:
        raise CheckpointError(f"{path}: shape {windows.shape}, expected (N, 3, T, 25, M) with N >= 1")
    if not np.isfinite(windows).all():
        raise CheckpointError(f"{path}: NaN or infinite values")
    missing = max(0, WINDOW_BODIES - windows.shape[4])
    return np.pad(windows.astype(np.float32, copy=False), [(0, 0)] * 4 + [(0, missing)])


def read_checkpoint_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and validate ``config.json`` only: enough for a backend that brings its own engine."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint {directory} is not a directory")
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint {directory}: missing {CONFIG_FILE}")
    config = read_json_object(path, CheckpointError)
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: field 'format' is {config.get('format')!r}, expected {FORMAT!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: field 'format_version' is {config.get('format_version')!r}; this crossglg reads "
            f"version {FORMAT_VERSION}"
        )
    required = {
        "model": dict,
        "classes": list,
        "layout": str,
        "num_frames": int,
        "model_hash": str,
        "embed_dim": int,
    }
    for key, kind in required.items():
        if not isinstance(config.get(key), kind):
            raise CheckpointError(f"{path}: field {key!r} missing or not a {kind.__name__}")
    if not all(isinstance(c, str) for c in config["classes"]):
        raise CheckpointError(f"{path}: field 'classes' must be a list of strings")
    if len(config["classes"]) != config["model"].get("num_classes"):
        raise CheckpointError(
            f"{path}: field 'classes' has {len(config['classes'])} names but model.num_classes is "
            f"{config['model'].get('num_classes')}"
        )
    for key in ("layout", "num_frames"):
        if config["model"].get(key) != config[key]:
            raise CheckpointError(f"{path}: field {key!r}={config[key]!r} disagrees with model.{key}")
    return config


def load_checkpoint(directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from ``config.json`` and load ``model.safetensors`` strictly.

    Every mismatch (missing/unexpected key, shape, hash) raises CheckpointError naming the file and key.
    """
    directory = Path(directory)
    return _load_weights(directory, read_checkpoint_config(directory), map_location)


def _load_weights(directory: Path, config: dict[str, Any], map_location: str | torch.device) -> Checkpoint:
    """The model of an already validated ``config``, with its weights checked key by key and by hash."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from crossglg.models import build_model

    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    try:
        model = build_model(config["model"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{config_path}: field 'model' does not build a model: {err}") from err
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint {directory}: missing {WEIGHTS_FILE}")
    try:
        state = load_file(str(weights_path), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights_path}: cannot read safetensors: {err}") from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        raise CheckpointError(
            f"{weights_path}: missing key {missing[0]!r} ({len(missing)} missing) for {config_path}"
        )
    if unexpected:
        raise CheckpointError(
            f"{weights_path}: unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected) "
            f"for {config_path}"
        )
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{weights_path}: key {name!r} has shape {tuple(state[name].shape)}, "
                f"{config_path} builds {tuple(tensor.shape)}"
            )
    model.load_state_dict(state, strict=True)
    model.to(map_location).eval()
    actual = skeleton_branch_hash(model)
    if actual != config["model_hash"]:
        raise CheckpointError(
            f"{weights_path}: skeleton-branch weights hash {actual[:12]}... does not match "
            f"'model_hash' {config['model_hash'][:12]}... in {config_path} (corrupted or mixed files)"
        )
    if model.embed_dim != config["embed_dim"]:
        raise CheckpointError(
            f"{config_path}: field 'embed_dim'={config['embed_dim']} but model gives {model.embed_dim}"
        )
    return Checkpoint(model=model, config=config, path=directory)


class ModelSource:
    """A model to embed with, opened once: its identity (hash, embedding size, model config, folder) is
    known from ``config.json`` alone; the weights are loaded only when ``branch`` is first asked for
    (a torch run, an ONNX export), so serving a shipped ONNX never builds the torch model."""

    def __init__(
        self,
        *,
        model_config: dict[str, Any],
        model_hash: str,
        dim: int,
        path: Path | None = None,
        branch: SkeletonBranch | None = None,
        checkpoint_config: dict[str, Any] | None = None,
    ):
        if branch is None and (path is None or checkpoint_config is None):
            raise ValueError("a ModelSource needs a branch, or a checkpoint folder and its config to load it")
        self.model_config = model_config
        self.model_hash = model_hash
        self.dim = dim
        self.path = path
        self._checkpoint_config = checkpoint_config
        self._branch = branch

    @property
    def loaded(self) -> bool:
        return self._branch is not None

    @property
    def branch(self) -> SkeletonBranch:
        """The SkeletonBranch in eval mode on the CPU (loaded from the checkpoint on first use)."""
        if self._branch is None:
            # __init__ refuses a source with neither a branch nor a folder and its config
            assert self.path is not None and self._checkpoint_config is not None
            model = _load_weights(self.path, self._checkpoint_config, "cpu").model
            self._branch = model.skeleton_branch().eval()
        return self._branch

    def __repr__(self) -> str:
        where = self.path or "in-memory model"
        return f"<ModelSource {self.model_hash[:12]} D={self.dim} {where}{' loaded' if self.loaded else ''}>"


def open_model(source: Any = "default") -> ModelSource:
    """A shipped model's name, a checkpoint folder, a Checkpoint, a CrossGLG model or its SkeletonBranch
    (or a ModelSource, returned as is) -> ModelSource. A folder is read once (``config.json`` only)."""
    if isinstance(source, ModelSource):
        return source
    if isinstance(source, Checkpoint):
        return ModelSource(
            model_config=dict(source.config["model"]),
            model_hash=source.model_hash,
            dim=int(source.config["embed_dim"]),
            path=source.path,
            branch=source.model.skeleton_branch().eval(),
        )
    if isinstance(source, str | os.PathLike):
        path = resolve_checkpoint(source)
        config = read_checkpoint_config(path)
        return ModelSource(
            model_config=dict(config["model"]),
            model_hash=config["model_hash"],
            dim=int(config["embed_dim"]),
            path=path,
            checkpoint_config=config,
        )
    if isinstance(source, nn.Module) and hasattr(source, "skeleton_branch"):
        branch = cast("CrossGLG | SkeletonBranch", source).skeleton_branch()  # duck-typed, as checked
        return ModelSource(
            model_config=dict(branch.config),
            model_hash=skeleton_branch_hash(branch),
            dim=int(branch.embed_dim),
            branch=branch,
        )
    raise TypeError(
        "expected a model name, a checkpoint folder, a Checkpoint or a CrossGLG model / SkeletonBranch; "
        f"got {type(source).__name__}"
    )


__all__ = [
    "DEFAULT_CHECKPOINT",
    "MODELS_DIR",
    "SHIPPED_MODELS",
    "Checkpoint",
    "CheckpointError",
    "ModelSource",
    "atomic_directory",
    "load_checkpoint",
    "open_model",
    "read_checkpoint_config",
    "resolve_checkpoint",
    "save_checkpoint",
    "skeleton_branch_hash",
]
