"""One-shot recognition: embed canonical windows, keep a gallery of named classes, decide open-set.

The Embedder owns no inference code: it L2-normalises what an EmbeddingBackend (crossglg.embedding)
returns; torch by default, ONNX Runtime or TensorRT from engines/. The Gallery stores embeddings *and*
the canonical windows they came from, so a gallery can be re-embedded when the model changes
(``model_hash`` tells when).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.embedding import EmbeddingBackend, TorchBackend, check_windows, l2_normalise
from crossglg.io import atomic_open, atomic_write_json, read_json_object
from crossglg.skeleton.window import WINDOW_SHAPE

UNKNOWN = "unknown"
IDLE = "idle"  # the background class the app's "Record idle" and crossglg-recognize --enroll-idle fill
GALLERY_FORMAT = "crossglg-gallery"
GALLERY_VERSION = 1
GALLERY_FILE = "gallery.json"


class GalleryError(ValueError):
    """A gallery directory that cannot be read; the message names the file and field."""


class Embedder:
    """Canonical windows -> L2-normalised float32 embeddings.

    ``source``: an EmbeddingBackend (used as is: ``engines.load_backend(...)``, a TorchBackend), a
    CrossGLG model (torch, where it lives), or a shipped model's name / checkpoint folder (torch on
    the CPU); None is the shipped default model.

    ``no_action``: windows of no-action time the model was trained on (crossglg.checkpoint.read_no_action;
    read from the folder when ``source`` is one); :meth:`no_action_embeddings` makes them background for
    every gallery decision of the live recogniser.
    """

    def __init__(self, source: Any = None, no_action: np.ndarray | None = None):
        from crossglg.checkpoint import read_no_action, resolve_checkpoint

        if source is None:
            source = "default"
        if isinstance(source, str | os.PathLike):
            if no_action is None:
                no_action = read_no_action(resolve_checkpoint(source))
            source = TorchBackend.from_checkpoint(source)
        elif hasattr(source, "skeleton_branch"):
            source = TorchBackend(source)
        if not isinstance(source, EmbeddingBackend):
            raise TypeError(
                "Embedder needs an EmbeddingBackend (callable with dim and model_hash), a CrossGLG model, "
                f"a shipped model name or a checkpoint folder; got {type(source).__name__}"
            )
        self.backend: EmbeddingBackend = source
        self.no_action = None if no_action is None else check_windows(no_action, "no-action windows")
        self._no_action_embeddings: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.backend.dim)

    @property
    def model_hash(self) -> str:
        return self.backend.model_hash

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

    def no_action_embeddings(self) -> np.ndarray | None:
        """(N, D) embeddings of :attr:`no_action` (computed once), or None without them."""
        if self.no_action is None:
            return None
        if self._no_action_embeddings is None:
            self._no_action_embeddings = self.embed(self.no_action)
        return self._no_action_embeddings


@dataclass
class Decision:
    label: str  # a class name or "unknown"
    score: float  # cosine similarity to the best prototype (-1.0 for an empty gallery)
    top: list[tuple[str, float]] = field(default_factory=list)
    rule: str = "cosine"  # the open-set rule that decided (crossglg.openset.RULES)
    level: float | None = None  # its operating point: known iff rule_score >= level
    rule_score: float | None = None  # the rule's score for the best class
    background: float | None = None  # cosine to the nearest background exemplar (None: the gallery has none)

    @property
    def known(self) -> bool:
        return self.label != UNKNOWN


@dataclass
class _Exemplar:
    embedding: np.ndarray  # (D,) unit length
    window: np.ndarray | None  # (3, 60, 25, 2) or None
    source: str | None
    mirrored: np.ndarray | None = None  # (D,) unit embedding of the left-right mirrored window, or None


class Gallery:
    """Named classes, each with one or more exemplar embeddings; prototype = mean of the normalised
    exemplars. ``model_hash`` records which skeleton branch produced the embeddings.

    ``either_hand``: a class also matches the left-right mirror of its exemplars (a left-handed wave
    matches a right-handed example); None takes the calibrated default (crossglg.openset). It needs the
    mirrored embeddings: pass ``mirrored=`` to :meth:`add` or call :meth:`embed_mirrors` once after
    adding exemplars; exemplars without one match as recorded.

    Background classes (``add(..., background=True)``: the user standing, fidgeting, stepping between
    actions) are never a label: when a query is at least as close to a background exemplar as to the best
    class, the decision is "unknown". Background is matched exemplar by exemplar, not by its mean, because
    "doing nothing" comes in many shapes.
    """

    def __init__(
        self, dim: int | None = None, model_hash: str | None = None, either_hand: bool | None = None
    ):
        from crossglg.openset import load_calibration

        self.dim = dim
        self.model_hash = model_hash
        self.either_hand = load_calibration().either_hand if either_hand is None else bool(either_hand)
        self._classes: dict[str, list[_Exemplar]] = {}
        self._background: set[str] = set()

    # ----- editing
    def add(
        self,
        name: str,
        embeddings: np.ndarray,
        windows: np.ndarray | None = None,
        source: str | Sequence[str | None] | None = None,
        mirrored: np.ndarray | None = None,
        background: bool | None = None,
    ) -> None:
        """Add exemplars (one (D,) or (n, D)) to class ``name`` (created if new); ``mirrored``: the
        embeddings of their mirrored windows, row for row (see :meth:`embed_mirrors`); ``background``:
        the class is background, never a label (None: as the class already is, or not)."""
        name = _check_name(name)
        if background is not None and name in self._classes and background != (name in self._background):
            kind = "a background" if name in self._background else "an action"
            raise ValueError(f"class {name!r} is {kind} class; add its exemplars as such")
        emb = self._check_embeddings(embeddings, name)
        if self.dim is None:
            self.dim = emb.shape[1]
        if emb.shape[1] != self.dim:
            raise ValueError(f"embeddings for {name!r} are {emb.shape[1]}-d, the gallery is {self.dim}-d")
        mirrors: list[np.ndarray | None] = [None] * len(emb)
        if mirrored is not None:
            mir = self._check_embeddings(mirrored, f"mirrored {name}")
            if mir.shape != emb.shape:
                raise ValueError(f"mirrored embeddings for {name!r} are {mir.shape}, expected {emb.shape}")
            mirrors = list(l2_normalise(mir))
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
        if background:
            self._background.add(name)
        for e, w, s, m in zip(l2_normalise(emb), wins, sources, mirrors, strict=True):
            items.append(_Exemplar(e, w, s, m))

    def embed_mirrors(self, embedder: Embedder) -> int:
        """Embed the left-right mirror of every stored window that has no mirrored embedding yet (for
        either-hand matching); returns how many were embedded. Cheap to call after every edit."""
        from crossglg.skeleton.augment import mirror

        if self.model_hash and embedder.model_hash != self.model_hash:
            raise ValueError(
                f"the gallery was embedded by model {self.model_hash[:12]}, the embedder is "
                f"{embedder.model_hash[:12]}: reembed() the gallery instead"
            )
        todo = [
            (e, e.window)
            for items in self._classes.values()
            for e in items
            if e.mirrored is None and e.window is not None
        ]
        if todo:
            mirrored = embedder.embed(np.stack([mirror(w) for _, w in todo]))
            if mirrored.shape[1] != self.dim:
                raise ValueError(f"embedder gives {mirrored.shape[1]}-d embeddings, gallery {self.dim}-d")
            for (e, _), m in zip(todo, mirrored, strict=True):
                e.mirrored = m
        return len(todo)

    def remove(self, name: str, index: int | None = None) -> None:
        """Remove a whole class, or only its exemplar ``index``."""
        items = self._get(name)
        if index is not None:
            if not -len(items) <= index < len(items):
                raise IndexError(f"class {name!r} has {len(items)} exemplars, no index {index}")
            del items[index]
        if index is None or not items:  # the whole class, or its last exemplar
            del self._classes[name]
            self._background.discard(name)

    def rename(self, old: str, new: str) -> None:
        self._get(old)
        new = _check_name(new)
        if new in self._classes and new != old:
            raise ValueError(f"class {new!r} already exists")
        self._classes = {(new if k == old else k): v for k, v in self._classes.items()}
        if old in self._background:
            self._background = (self._background - {old}) | {new}

    # ----- reading
    @property
    def classes(self) -> list[str]:
        return list(self._classes)

    @property
    def background_classes(self) -> list[str]:
        """The background classes, in insertion order (they are in :attr:`classes` too)."""
        return [name for name in self._classes if name in self._background]

    def is_background(self, name: str) -> bool:
        self._get(name)
        return name in self._background

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
        """Action class names and (K, D) unit-length prototypes (mean of normalised exemplars,
        renormalised); background classes are not prototypes (:meth:`background_score`)."""
        names = self._actions()
        if not names:
            return [], np.zeros((0, self.dim or 0), np.float32)
        protos = np.stack([self.embeddings(n).mean(axis=0) for n in names])
        return names, l2_normalise(protos)

    def mirrored_prototypes(self) -> np.ndarray:
        """(K, D) prototypes of the mirrored exemplars, classes in :attr:`classes` order; a zero row for a
        class none of whose exemplars has a mirrored embedding."""
        rows = []
        for name in self._actions():
            mirrors = [e.mirrored for e in self._classes[name] if e.mirrored is not None]
            rows.append(np.mean(mirrors, axis=0) if mirrors else np.zeros(self.dim or 0, np.float32))
        if not rows:
            return np.zeros((0, self.dim or 0), np.float32)
        rows_arr = np.stack(rows).astype(np.float32)
        has = np.any(rows_arr != 0, axis=1)
        rows_arr[has] = l2_normalise(rows_arr[has])
        return rows_arr

    def similarities(self, embedding: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(action class names, (K,) cosine of one embedding to each, (K, K) cosine between them); with
        either-hand matching on, a class scores the better of itself and its mirror image."""
        from crossglg.openset import class_similarities, gallery_similarities

        names, protos = self.prototypes()
        if not names:
            return [], np.zeros(0), np.zeros((0, 0))
        query = self._query(embedding)
        mirrored = self.mirrored_prototypes() if self.either_hand else None
        sims = class_similarities(query[None], protos, mirrored)[0]
        return names, sims, gallery_similarities(protos, mirrored)

    def background_score(self, embedding: np.ndarray, extra: np.ndarray | None = None) -> float | None:
        """Cosine of one embedding to its nearest background exemplar (or, with either-hand matching,
        that exemplar's mirror) or row of ``extra`` ((N, D) unit embeddings, e.g. the model's own
        no-action examples); None when there are none."""
        items = [e for name in self._background for e in self._classes[name]]
        rows = [e.embedding for e in items]
        if self.either_hand:
            rows += [e.mirrored for e in items if e.mirrored is not None]
        blocks = [np.stack(rows)] if rows else []
        if extra is not None:  # kept as one block: it is the same (N, D) array at every decision
            blocks.append(self._check_embeddings(extra, "background"))
        if not blocks:
            return None
        return float(np.max(np.concatenate(blocks) @ self._query(embedding)))

    def rank(self, embedding: np.ndarray, k: int | None = None) -> list[tuple[str, float]]:
        """Action classes by cosine similarity to one embedding, best first (all classes if k is None)."""
        names, scores, _ = self.similarities(embedding)
        order = np.argsort(-scores, kind="stable")[: k if k is not None else len(names)]
        return [(names[i], float(scores[i])) for i in order]

    def decide(
        self,
        embedding: np.ndarray,
        threshold: float | None = None,
        margin: float | None = None,
        k: int = 5,
        *,
        level: float | None = None,
        background: np.ndarray | None = None,
    ) -> Decision:
        """Open-set decision; ``top`` holds the k best classes for display either way.

        With no arguments the calibrated rule of crossglg.openset decides at its calibrated level (chosen
        on validation data: docs/results.md, "Open-set recognition"); ``level`` moves that operating
        point (higher: more "unknown"; :meth:`tradeoff` tells what a level costs). ``threshold`` /
        ``margin`` instead apply the fixed-cosine rule of earlier versions (best cosine >= threshold,
        default 0.5, and a lead over the runner-up >= margin, default 0). Either way the answer is
        "unknown" when a background exemplar, or a row of ``background`` ((N, D) unit embeddings the
        gallery does not keep, e.g. :meth:`Embedder.no_action_embeddings`), is at least as close as the
        best class.
        """
        from crossglg.openset import LEGACY_THRESHOLD, decision_scores, load_calibration

        names, sims, between = self.similarities(embedding)
        order = np.argsort(-sims, kind="stable")
        top = [(names[i], float(sims[i])) for i in order[:k]]
        nearest_background = self.background_score(embedding, background)
        if not names:
            return Decision(UNKNOWN, -1.0, [], background=nearest_background)
        best_name, best = names[order[0]], float(sims[order[0]])
        if nearest_background is not None and nearest_background >= best:
            best_name = UNKNOWN
        if threshold is not None or margin is not None:
            if level is not None:
                raise ValueError("give either level (the calibrated rule) or threshold/margin (fixed cosine)")
            threshold = LEGACY_THRESHOLD if threshold is None else float(threshold)
            runner_up = float(sims[order[1]]) if len(names) > 1 else -1.0
            ok = best >= threshold and best - runner_up >= (margin or 0.0)
            return Decision(
                best_name if ok else UNKNOWN, best, top, "cosine", threshold, best, nearest_background
            )
        cal = load_calibration()
        level = cal.level if level is None else float(level)
        score, _ = decision_scores(sims[None], cal.rule, between, cal.prior)
        value = float(score[0])
        label = best_name if value >= level else UNKNOWN
        return Decision(label, best, top, cal.rule, level, value, nearest_background)

    def tradeoff(self, level: float | None = None) -> dict[str, Any]:
        """What the calibrated rule at ``level`` (default: the calibrated level) was measured to do on the
        validation split with this gallery's either-hand setting: {"known_accuracy", "rejection", ...},
        fractions of enrolled actions labelled correctly and of never-enrolled actions rejected."""
        from crossglg.openset import load_calibration

        return load_calibration().tradeoff(level, self.either_hand)

    def reembed(self, embedder: Embedder) -> Gallery:
        """A new gallery with every exemplar (and its mirror) re-embedded from its stored window."""
        out = Gallery(embedder.dim, embedder.model_hash, either_hand=self.either_hand)
        for name, items in self._classes.items():
            windows = [e.window for e in items if e.window is not None]
            if len(windows) < len(items):
                raise ValueError(f"class {name!r} has exemplars without stored windows; cannot re-embed")
            wins = np.stack(windows)
            sources = [e.source for e in items]
            out.add(name, embedder.embed(wins), wins, sources, background=name in self._background)
        out.embed_mirrors(embedder)
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
        has_mirror = [e.mirrored is not None for _, e in all_items]
        win = np.zeros((len(all_items), *WINDOW_SHAPE), np.float32)
        mir = np.zeros((len(all_items), dim), np.float32)  # zero rows: no mirrored embedding
        for i, (_, e) in enumerate(all_items):
            if e.window is not None:
                win[i] = e.window
            if e.mirrored is not None:
                mir[i] = e.mirrored
        files = {"embeddings": f"gallery-{tag}-embeddings.npy", "windows": f"gallery-{tag}-windows.npy"}
        if any(has_mirror):
            files["mirrored"] = f"gallery-{tag}-mirrored.npy"
            _atomic_save_npy(directory / files["mirrored"], mir)
        _atomic_save_npy(directory / files["embeddings"], emb.astype(np.float32))
        _atomic_save_npy(directory / files["windows"], win)
        meta = {
            "format": GALLERY_FORMAT,
            "format_version": GALLERY_VERSION,
            "dim": self.dim,
            "model_hash": self.model_hash,
            # optional fields (older readers ignore them, older galleries lack them): either-hand
            # matching, "files.mirrored" + "has_mirror" for the mirrored exemplars' embeddings, and
            # "background" on a background class (an older reader would take it for an action)
            "either_hand": self.either_hand,
            "files": files,
            "classes": [
                {
                    "name": name,
                    **({"background": True} if name in self._background else {}),
                    "exemplars": [
                        {
                            "row": row,
                            "source": e.source,
                            "has_window": has_window[row],
                            "has_mirror": has_mirror[row],
                        }
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
        if "mirrored" in files and not isinstance(files["mirrored"], str):
            raise GalleryError(f"{path}: field 'files.mirrored' must be a file name")
        for key in [k for k in ("embeddings", "windows", "mirrored") if k in files]:
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
        mir = None
        if "mirrored" in files:
            mir = _load_npy(directory / files["mirrored"], path, "files.mirrored")
            if mir.shape != emb.shape:
                raise GalleryError(
                    f"{directory / files['mirrored']}: shape {mir.shape}, expected {emb.shape}"
                )
        if not isinstance(meta.get("classes"), list):
            raise GalleryError(f"{path}: field 'classes' must be a list")
        either_hand = meta.get("either_hand")  # absent in older galleries: the calibrated default
        if either_hand is not None and not isinstance(either_hand, bool):
            raise GalleryError(f"{path}: field 'either_hand' must be true or false")
        gallery = cls(dim, meta.get("model_hash"), either_hand=either_hand)
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
            background = entry.get("background", False)
            if not isinstance(background, bool):
                raise GalleryError(f"{where}: field 'background' must be true or false")
            for ei, ex in enumerate(exemplars):
                row = ex.get("row") if isinstance(ex, dict) else None
                if not isinstance(row, int) or not 0 <= row < len(emb) or row in used:
                    raise GalleryError(f"{where}.exemplars[{ei}]: field 'row' invalid or reused: {row!r}")
                used.add(row)
                source = ex.get("source")
                if source is not None and not isinstance(source, str):
                    raise GalleryError(f"{where}.exemplars[{ei}]: field 'source' must be a string or null")
                mirrored = mir[row] if mir is not None and ex.get("has_mirror") else None
                try:
                    window = win[row] if ex.get("has_window") else None
                    gallery.add(entry["name"], emb[row], window, source, mirrored, background)
                except ValueError as err:
                    raise GalleryError(f"{where}.exemplars[{ei}]: {err}") from err
        return gallery

    # ----- helpers
    @staticmethod
    def _check_embeddings(embeddings: np.ndarray, name: str) -> np.ndarray:
        emb = np.asarray(embeddings, dtype=np.float32)
        emb = emb[None] if emb.ndim == 1 else emb
        if emb.ndim != 2 or len(emb) == 0:
            raise ValueError(f"embeddings for {name!r} must be (D,) or (n, D) with n >= 1, got {emb.shape}")
        if not np.isfinite(emb).all() or (np.linalg.norm(emb, axis=1) == 0).any():
            raise ValueError(f"embeddings for {name!r} contain NaN/inf or zero vectors")
        return emb

    def _actions(self) -> list[str]:
        return [name for name in self._classes if name not in self._background]

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
    "IDLE",
    "Decision",
    "Embedder",
    "Gallery",
    "GalleryError",
]
