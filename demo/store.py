"""The app's gallery store: a :class:`crossglg.oneshot.Gallery` kept in the user data folder.

What it adds to the library's Gallery (whose JSON + .npy format it uses unchanged):

* a home: ``platformdirs.user_data_dir("crossglg-live")/gallery``;
* the model hash check: a gallery embedded by another model is re-embedded from its stored windows;
* quarantine: a gallery that cannot be read is moved to ``quarantine/<time>/`` and reported, never
  silently dropped or overwritten;
* the starter gallery (``resources/starter_gallery``) copied in on first run; its exemplars carry the
  source prefix ``starter:`` so they stay recognisable and removable;
* import (merge, refusing bad folders with the reason) and export.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.oneshot import GALLERY_FILE, Embedder, Gallery, GalleryError
from crossglg.paths import resource_path

log = logging.getLogger(__name__)

APP_NAME = "crossglg-live"
STARTER_GALLERY = resource_path("starter_gallery")
STARTER_PREFIX = "starter:"


def default_gallery_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "gallery"


@dataclass
class ClassInfo:
    name: str
    count: int
    starter: bool
    background: bool = False  # never a label: see crossglg.oneshot.Gallery


class GalleryStore:
    """Load / edit / save the user's gallery. Every edit is saved at once (atomically, by Gallery.save).

    ``messages`` collects what the user should be told (re-embedding, quarantined files).
    """

    def __init__(
        self,
        embedder: Embedder,
        directory: str | os.PathLike | None = None,
        *,
        starter: str | os.PathLike | None = STARTER_GALLERY,
    ) -> None:
        self.embedder = embedder
        self.directory = Path(directory) if directory else default_gallery_dir()
        self.starter = Path(starter) if starter else None
        self.messages: list[str] = []
        self.gallery = self._load()

    # loading ------------------------------------------------------------------------------------------
    def _load(self) -> Gallery:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.directory / GALLERY_FILE).exists():
            return self._first_run()
        try:
            gallery = Gallery.load(self.directory)
        except GalleryError as exc:
            return self._set_aside(f"the gallery could not be read ({exc})")
        try:
            return self._match_model(gallery)
        except ValueError as exc:  # e.g. exemplars stored without windows cannot follow a new model
            return self._set_aside(f"the gallery could not be re-embedded for this model ({exc})")

    def _set_aside(self, reason: str) -> Gallery:
        where = self.quarantine()
        self._tell(f"{reason}; its files were moved to {where} and a new gallery started")
        gallery = self._empty()
        self._save(gallery)
        return gallery

    def _first_run(self) -> Gallery:
        if self.starter is not None and (self.starter / GALLERY_FILE).is_file():
            try:
                starter = Gallery.load(self.starter)
                gallery = self._match_model(starter, quiet=True)
                self._save(gallery)
                self._tell(
                    f"started with the starter gallery ({len(gallery)} everyday actions, "
                    "marked [starter]; remove them from the Gallery menu)"
                )
                return gallery
            except (GalleryError, ValueError) as exc:
                self._tell(f"the starter gallery at {self.starter} is unusable: {exc}")
        return self._empty()

    def _empty(self) -> Gallery:
        return Gallery(self.embedder.dim, self.embedder.model_hash)

    def _match_model(self, gallery: Gallery, quiet: bool = False) -> Gallery:
        if gallery.model_hash == self.embedder.model_hash and gallery.dim == self.embedder.dim:
            if gallery.either_hand and gallery.embed_mirrors(self.embedder):
                self._save(gallery)  # a file marked either-hand whose mirrors were never embedded
            return gallery
        n = sum(gallery.counts().values())
        fresh = gallery.reembed(self.embedder)
        if not quiet:
            self._tell(f"the model changed: re-embedded {n} examples of {len(gallery)} classes")
        self._save(fresh)
        return fresh

    def quarantine(self) -> Path:
        """Move every gallery file aside into ``quarantine/<UTC time>/``; returns that folder."""
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.directory / "quarantine" / stamp
        target.mkdir(parents=True, exist_ok=True)
        for entry in self.directory.iterdir():
            if entry.name.startswith("gallery") or entry.name.startswith(".gallery"):
                os.replace(entry, target / entry.name)
        return target

    def _tell(self, text: str) -> None:
        log.warning("gallery: %s", text)
        self.messages.append(text)

    def _save(self, gallery: Gallery | None = None) -> None:
        """Save atomically; with either-hand matching on, every exemplar's mirror is embedded first, so
        that a new or imported example matches the other hand as the others do."""
        gallery = gallery if gallery is not None else self.gallery
        if gallery.either_hand:
            gallery.embed_mirrors(self.embedder)
        gallery.save(self.directory)

    # reading ------------------------------------------------------------------------------------------
    def classes(self) -> list[ClassInfo]:
        return [
            ClassInfo(
                name,
                count,
                all((s or "").startswith(STARTER_PREFIX) for s in self.gallery.sources(name)),
                self.gallery.is_background(name),
            )
            for name, count in self.gallery.counts().items()
        ]

    def has_starter(self) -> bool:
        return any(c.starter for c in self.classes())

    # editing ------------------------------------------------------------------------------------------
    def add_example(
        self, name: str, window: np.ndarray, source: str | None = None, *, background: bool = False
    ) -> None:
        """Embed one canonical window and add it to class ``name`` (new or existing); ``background``:
        an idle example, never shown as a label."""
        window = np.asarray(window, np.float32)
        embedding = self.embedder.embed(window[None])
        stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self.gallery.add(name, embedding, window[None], source or f"recorded {stamp}", background=background)
        self._save()

    def set_either_hand(self, on: bool) -> None:
        """Turn either-hand matching on or off for this gallery (the file records it)."""
        self.gallery.either_hand = bool(on)
        self._save()

    def rename(self, old: str, new: str) -> None:
        self.gallery.rename(old, new)
        self._save()

    def remove(self, name: str) -> None:
        self.gallery.remove(name)
        self._save()

    def remove_starter(self) -> int:
        starters = [c.name for c in self.classes() if c.starter]
        for name in starters:
            self.gallery.remove(name)
        self._save()
        return len(starters)

    def export(self, directory: str | os.PathLike) -> Path:
        """Write the gallery to ``directory`` (new or empty), for another machine or a backup."""
        directory = Path(directory)
        if directory.exists() and any(directory.iterdir()):
            raise ValueError(f"export folder {directory} is not empty; choose a new or empty folder")
        return self.gallery.save(directory)

    def import_gallery(self, directory: str | os.PathLike) -> list[str]:
        """Merge another gallery folder into this one (exemplars of a same-named class are added to it).

        Refuses, with the reason and nothing changed, a folder that is not a readable gallery or that has
        examples without stored windows (they could not be re-embedded for this model).
        """
        directory = Path(directory)
        try:
            incoming = Gallery.load(directory)
        except GalleryError as exc:
            raise ValueError(f"cannot import {directory}: {exc}") from exc
        for name in incoming.classes:
            if any(w is None for w in incoming.windows(name)):
                raise ValueError(
                    f"cannot import {directory}: class {name!r} has examples without stored "
                    "skeleton windows, so they cannot be re-embedded for this model"
                )
        merged = Gallery(self.gallery.dim, self.gallery.model_hash, either_hand=self.gallery.either_hand)
        for name in self.gallery.classes:
            merged.add(
                name,
                self.gallery.embeddings(name),
                _stacked_windows(self.gallery, name),
                self.gallery.sources(name),
                background=self.gallery.is_background(name),
            )
        for name in incoming.classes:
            windows = _stacked_windows(incoming, name)
            assert windows is not None  # a class with a missing window was refused above
            embeddings = self.embedder.embed(windows)
            background = incoming.is_background(name)
            merged.add(name, embeddings, windows, incoming.sources(name), background=background)
        self.gallery = merged
        self._save()
        return incoming.classes


def _stacked_windows(gallery: Gallery, name: str) -> np.ndarray | None:
    """The class's stored windows stacked (K, ...), or None when an example was kept without its window."""
    windows = gallery.windows(name)
    present = [w for w in windows if w is not None]
    return np.stack(present) if len(present) == len(windows) else None
