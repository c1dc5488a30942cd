"""One-shot recognition: embed canonical windows, keep a gallery of named classes, decide open-set.

The Embedder owns no inference code of its own beyond a torch default: any callable
``np.ndarray (N, 3, 60, 25, 2) -> np.ndarray (N, D)`` can be its backend (engines/ supplies ONNX
Runtime and TensorRT ones). The Gallery stores embeddings *and* the canonical windows they came from,
so a gallery can be re-embedded when the model changes (``model_hash`` tells when).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, read_checkpoint_config
from crossglg.io import atomic_open, atomic_write_json, read_json_object

WINDOW_SHAPE = (3, 60, 25, 2)
UNKNOWN = "unknown"
GALLERY_FORMAT = "crossglg-gallery"
GALLERY_VERSION = 1
GALLERY_FILE = "gallery.json"

Backend = Callable[[np.ndarray], np.ndarray]


class GalleryError(ValueError):
    """A gallery directory that cannot be read; the message names the file and field."""


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def check_windows(windows: np.ndarray, what: str = "windows") -> np.ndarray:
    """Accept (N, 3, 60, 25, 2) or one (3, 60, 25, 2) window; return a float32 (N, ...) batch."""
    arr = np.asarray(windows)
    if arr.ndim == 4:
        arr = arr[None]
    if arr.ndim != 5 or tuple(arr.shape[1:]) != WINDOW_SHAPE:
        raise ValueError(f"{what} must have shape (N, {', '.join(map(str, WINDOW_SHAPE))}), got {arr.shape}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return arr


class TorchBackend:
    """The skeleton branch in torch: eval mode, no grad, fixed-size batches.

    Runs on the device the model already lives on (the model is never moved), and restores each
    module's train/eval flag afterwards, so a model in the middle of training can be evaluated.
    """

    def __init__(self, model: Any, batch_size: int = 64):
        import torch

        self._torch = torch
        self.branch = model.skeleton_branch()
        self.batch_size = batch_size
        self.device = next(self.branch.parameters()).device

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        torch = self._torch
        modes = [(m, m.training) for m in self.branch.modules()]
        self.branch.eval()
        outs = []
        try:
            with torch.inference_mode():
                for start in range(0, len(windows), self.batch_size):
                    chunk = torch.from_numpy(np.ascontiguousarray(windows[start : start + self.batch_size]))
                    outs.append(self.branch(chunk.to(self.device)).float().cpu().numpy())
        finally:
            for module, mode in modes:
                module.training = mode
        return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


class Embedder:
    """Checkpoint (or model) -> L2-normalised float32 embeddings of canonical windows.

    ``model_or_checkpoint``: a CrossGLG model, a checkpoint directory, or None for DEFAULT_CHECKPOINT.
    ``backend``: None for torch on CPU, or a callable (N, 3, 60, 25, 2) -> (N, D). With a backend and
    a checkpoint path only ``config.json`` is read (no torch model is built).
    """

    def __init__(self, model_or_checkpoint: Any = None, backend: Backend | None = None, batch_size: int = 64):
        from crossglg.checkpoint import skeleton_branch_hash

        source = DEFAULT_CHECKPOINT if model_or_checkpoint is None else model_or_checkpoint
        self.model = None
        if isinstance(source, str | os.PathLike):
            self.checkpoint_path: Path | None = Path(source)
            if backend is None:
                ckpt = load_checkpoint(source)
                self.model, self.config = ckpt.model, ckpt.config
            else:
                self.config = read_checkpoint_config(source)
            self.model_hash: str = self.config["model_hash"]
            self.classes: list[str] = list(self.config["classes"])
            self.dim: int = int(self.config["embed_dim"])
        else:
            if not hasattr(source, "skeleton_branch"):
                raise TypeError(
                    f"Embedder needs a CrossGLG model or a checkpoint path, got {type(source).__name__}"
                )
            self.checkpoint_path = None
            self.model = source
            self.config = {"model": dict(source.config), "classes": []}
            self.model_hash = skeleton_branch_hash(source)
            self.classes = []
            self.dim = int(source.embed_dim)
        self.backend: Backend = backend if backend is not None else TorchBackend(self.model, batch_size)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(N, 3, 60, 25, 2) or one (3, 60, 25, 2) window -> (N, D) unit-length float32 rows."""
        batch = check_windows(windows)
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        raw = np.asarray(self.backend(batch), dtype=np.float32)
        if raw.shape != (len(batch), self.dim):
            raise ValueError(
                f"embedding backend returned shape {raw.shape}, expected {(len(batch), self.dim)}"
            )
        if not np.isfinite(raw).all():
            raise ValueError("embedding backend returned NaN or infinite values")
        return l2_normalise(raw)

    __call__ = embed


@dataclass
class Decision:
    label: str  # a class name or "unknown"
    score: float  # cosine similarity to the best prototype (-1.0 for an empty gallery)
    top: list[tuple[str, float]] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.label != UNKNOWN


@dataclass
class _Exemplar:
    embedding: np.ndarray  # (D,) unit length
    window: np.ndarray | None  # (3, 60, 25, 2) or None
    source: str | None


class Gallery:
    """Named classes, each with one or more exemplar embeddings; prototype = mean of the normalised
    exemplars. ``model_hash`` records which skeleton branch produced the embeddings."""

    def __init__(self, dim: int | None = None, model_hash: str | None = None):
        self.dim = dim
        self.model_hash = model_hash
        self._classes: dict[str, list[_Exemplar]] = {}

    # ----- editing
    def add(
        self,
        name: str,
        embeddings: np.ndarray,
        windows: np.ndarray | None = None,
        source: str | Sequence[str | None] | None = None,
    ) -> None:
        """Add exemplars (one (D,) or (n, D)) to class ``name`` (created if new)."""
        name = _check_name(name)
        emb = np.asarray(embeddings, dtype=np.float32)
        emb = emb[None] if emb.ndim == 1 else emb
        if emb.ndim != 2 or len(emb) == 0:
            raise ValueError(f"embeddings for {name!r} must be (D,) or (n, D) with n >= 1, got {emb.shape}")
        if self.dim is None:
            self.dim = emb.shape[1]
        if emb.shape[1] != self.dim:
            raise ValueError(f"embeddings for {name!r} are {emb.shape[1]}-d, the gallery is {self.dim}-d")
        if not np.isfinite(emb).all() or (np.linalg.norm(emb, axis=1) == 0).any():
            raise ValueError(f"embeddings for {name!r} contain NaN/inf or zero vectors")
        wins: list[np.ndarray | None] = [None] * len(emb)
        if windows is not None:
            batch = check_windows(windows, f"windows for {name!r}")
            if len(batch) != len(emb):
                raise ValueError(f"{len(batch)} windows for {len(emb)} embeddings of {name!r}")
            wins = list(batch.copy())
        if source is None or isinstance(source, str):
            sources = [source] * len(emb)
        else:
            sources = list(source)
            if len(sources) != len(emb):
                raise ValueError(f"{len(sources)} sources for {len(emb)} embeddings of {name!r}")
        items = self._classes.setdefault(name, [])
        for e, w, s in zip(l2_normalise(emb), wins, sources, strict=True):
            items.append(_Exemplar(e, w, s))

    def remove(self, name: str, index: int | None = None) -> None:
        """Remove a whole class, or only its exemplar ``index``."""
        items = self._get(name)
        if index is None:
            del self._classes[name]
            return
        if not -len(items) <= index < len(items):
            raise IndexError(f"class {name!r} has {len(items)} exemplars, no index {index}")
        del items[index]
        if not items:
            del self._classes[name]

    def rename(self, old: str, new: str) -> None:
        self._get(old)
        new = _check_name(new)
        if new in self._classes and new != old:
            raise ValueError(f"class {new!r} already exists")
        self._classes = {(new if k == old else k): v for k, v in self._classes.items()}

    # ----- reading
    @property
    def classes(self) -> list[str]:
        return list(self._classes)

    def counts(self) -> dict[str, int]:
        """Class name -> number of exemplars, in insertion order."""
        return {name: len(items) for name, items in self._classes.items()}

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def embeddings(self, name: str) -> np.ndarray:
        return np.stack([e.embedding for e in self._get(name)])

    def windows(self, name: str) -> list[np.ndarray | None]:
        return [e.window for e in self._get(name)]

    def sources(self, name: str) -> list[str | None]:
        return [e.source for e in self._get(name)]

    def prototypes(self) -> tuple[list[str], np.ndarray]:
        """Class names and (K, D) unit-length prototypes (mean of normalised exemplars, renormalised)."""
        names = self.classes
        if not names:
            return [], np.zeros((0, self.dim or 0), np.float32)
        protos = np.stack([self.embeddings(n).mean(axis=0) for n in names])
        return names, l2_normalise(protos)

    def rank(self, embedding: np.ndarray, k: int | None = None) -> list[tuple[str, float]]:
        """Classes by cosine similarity to one embedding, best first (all classes if k is None)."""
        names, protos = self.prototypes()
        if not names:
            return []
        query = self._query(embedding)
        scores = protos @ query
        order = np.argsort(-scores, kind="stable")[: k if k is not None else len(names)]
        return [(names[i], float(scores[i])) for i in order]

    def decide(
        self, embedding: np.ndarray, threshold: float = 0.5, margin: float = 0.0, k: int = 5
    ) -> Decision:
        """Open-set decision: the best class if its cosine >= threshold and it beats the runner-up
        by >= margin; otherwise "unknown". ``top`` holds the k best for display either way."""
        top = self.rank(embedding, max(k, 2))
        if not top:
            return Decision(UNKNOWN, -1.0, [])
        best_name, best = top[0]
        runner_up = top[1][1] if len(top) > 1 else -1.0
        label = best_name if best >= threshold and best - runner_up >= margin else UNKNOWN
        return Decision(label, best, top[:k])

    def reembed(self, embedder: Embedder) -> Gallery:
        """A new gallery with every exemplar re-embedded from its stored window by ``embedder``."""
        out = Gallery(embedder.dim, embedder.model_hash)
        for name, items in self._classes.items():
            if any(e.window is None for e in items):
                raise ValueError(f"class {name!r} has exemplars without stored windows; cannot re-embed")
            wins = np.stack([e.window for e in items])
            out.add(name, embedder.embed(wins), wins, [e.source for e in items])
        return out

    # ----- persistence
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``gallery.json`` + versioned ``gallery-<id>-embeddings.npy`` / ``-windows.npy``.

        Arrays are written first under a fresh name, then the JSON that references them replaces the
        old one atomically, then unreferenced old arrays are deleted; other files in the directory are
        left alone (the app keeps its own files beside the gallery).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:10]
        all_items = [(name, e) for name, items in self._classes.items() for e in items]
        dim = self.dim or 0
        emb = np.stack([e.embedding for _, e in all_items]) if all_items else np.zeros((0, dim), np.float32)
        has_window = [e.window is not None for _, e in all_items]
        win = np.zeros((len(all_items), *WINDOW_SHAPE), np.float32)
        for i, (_, e) in enumerate(all_items):
            if e.window is not None:
                win[i] = e.window
        files = {"embeddings": f"gallery-{tag}-embeddings.npy", "windows": f"gallery-{tag}-windows.npy"}
        _atomic_save_npy(directory / files["embeddings"], emb.astype(np.float32))
        _atomic_save_npy(directory / files["windows"], win)
        meta = {
            "format": GALLERY_FORMAT,
            "format_version": GALLERY_VERSION,
            "dim": self.dim,
            "model_hash": self.model_hash,
            "files": files,
            "classes": [
                {
                    "name": name,
                    "exemplars": [
                        {"row": row, "source": e.source, "has_window": has_window[row]}
                        for row, (n2, e) in enumerate(all_items)
                        if n2 == name
                    ],
                }
                for name in self._classes
            ],
        }
        atomic_write_json(directory / GALLERY_FILE, meta)
        for old in directory.glob("gallery-*-*.npy"):
            if old.name not in files.values():
                old.unlink(missing_ok=True)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Gallery:
        directory = Path(directory)
        path = directory / GALLERY_FILE
        if not path.is_file():
            raise GalleryError(f"gallery {directory}: missing {GALLERY_FILE}")
        meta = read_json_object(path, GalleryError)
        if meta.get("format") != GALLERY_FORMAT:
            raise GalleryError(f"{path}: field 'format' must be {GALLERY_FORMAT!r}")
        if meta.get("format_version") != GALLERY_VERSION:
            raise GalleryError(
                f"{path}: field 'format_version' is {meta.get('format_version')!r}, expected 1"
            )
        files = meta.get("files")
        if not isinstance(files, dict) or not all(
            isinstance(files.get(k), str) for k in ("embeddings", "windows")
        ):
            raise GalleryError(f"{path}: field 'files' must name 'embeddings' and 'windows' arrays")
        for key in ("embeddings", "windows"):
            if Path(files[key]).name != files[key]:
                raise GalleryError(
                    f"{path}: field 'files.{key}' must be a plain file name, got {files[key]!r}"
                )
        emb = _load_npy(directory / files["embeddings"], path, "files.embeddings")
        win = _load_npy(directory / files["windows"], path, "files.windows")
        dim = meta.get("dim")
        if emb.ndim != 2 or (dim is not None and emb.shape[1] != dim):
            raise GalleryError(
                f"{directory / files['embeddings']}: shape {emb.shape} does not match field 'dim'={dim}"
            )
        if win.shape != (len(emb), *WINDOW_SHAPE):
            raise GalleryError(
                f"{directory / files['windows']}: shape {win.shape}, expected {(len(emb), *WINDOW_SHAPE)}"
            )
        if not isinstance(meta.get("classes"), list):
            raise GalleryError(f"{path}: field 'classes' must be a list")
        gallery = cls(dim, meta.get("model_hash"))
        used: set[int] = set()
        for ci, entry in enumerate(meta["classes"]):
            where = f"{path}: classes[{ci}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise GalleryError(f"{where}: field 'name' missing or not a string")
            exemplars = entry.get("exemplars")
            if not isinstance(exemplars, list) or not exemplars:
                raise GalleryError(f"{where} ({entry['name']!r}): field 'exemplars' must be a non-empty list")
            if entry["name"] in gallery:
                raise GalleryError(f"{where}: duplicate class name {entry['name']!r}")
            for ei, ex in enumerate(exemplars):
                row = ex.get("row") if isinstance(ex, dict) else None
                if not isinstance(row, int) or not 0 <= row < len(emb) or row in used:
                    raise GalleryError(f"{where}.exemplars[{ei}]: field 'row' invalid or reused: {row!r}")
                used.add(row)
                source = ex.get("source")
                if source is not None and not isinstance(source, str):
                    raise GalleryError(f"{where}.exemplars[{ei}]: field 'source' must be a string or null")
                try:
                    gallery.add(entry["name"], emb[row], win[row] if ex.get("has_window") else None, source)
                except ValueError as err:
                    raise GalleryError(f"{where}.exemplars[{ei}]: {err}") from err
        return gallery

    # ----- helpers
    def _get(self, name: str) -> list[_Exemplar]:
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(f"no class {name!r} in the gallery; classes: {self.classes}") from None

    def _query(self, embedding: np.ndarray) -> np.ndarray:
        q = np.asarray(embedding, dtype=np.float32)
        if q.ndim == 2 and len(q) == 1:
            q = q[0]
        if q.shape != (self.dim,):
            raise ValueError(f"query embedding must be ({self.dim},), got {q.shape}")
        return l2_normalise(q)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"class name must be a non-empty string, got {name!r}")
    if name.strip() == UNKNOWN:
        raise ValueError(f"{UNKNOWN!r} is reserved for the open-set decision")
    return name.strip()


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_open(path) as fh:
        np.save(fh, array, allow_pickle=False)


def _load_npy(path: Path, meta_path: Path, field_name: str) -> np.ndarray:
    if not path.is_file():
        raise GalleryError(f"{meta_path}: field {field_name!r} names {path.name}, which does not exist")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise GalleryError(f"{path}: cannot read as a .npy array: {err}") from err
    if arr.dtype != np.float32:
        raise GalleryError(f"{path}: dtype {arr.dtype}, expected float32")
    return arr


__all__ = [
    "UNKNOWN",
    "Backend",
    "Decision",
    "Embedder",
    "Gallery",
    "GalleryError",
    "TorchBackend",
    "l2_normalise",
]
