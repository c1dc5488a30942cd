"""CrossGLG models: encoder registry, the CrossGLG dual-branch model and its config.

``build_model(config)`` is the only constructor other packages use; the config is plain data
(JSON/TOML-able) so it can be stored beside the weights in a checkpoint.
"""

from __future__ import annotations

import inspect
from typing import Any

from crossglg.models import infogcn as _infogcn  # noqa: F401  (registers "infogcn")
from crossglg.models import stgcn as _stgcn  # noqa: F401  (registers "stgcn")
from crossglg.models.crossglg import (
    CosineClassifier,
    CrossGLG,
    JointImportance,
    LocalToGlobal,
    SkeletonBranch,
    TextFeatures,
)
from crossglg.models.registry import Encoder, get_encoder, list_encoders, register_encoder

# Defaults reproduce the paper's setting: InfoGCN at full width, both CrossGLG modules on,
# alpha1 = 0.5 (L_calibrate), alpha2 = 0.2 (L_c); InfoGCN's own IB weights 0.1 / 1e-4, smoothing 0.1.
DEFAULT_CONFIG: dict[str, Any] = {
    "encoder": "infogcn",
    "num_classes": None,  # required
    "num_joints": 25,
    "num_person": 2,  # bodies encoded; 1 = main body only (the live app: half the cost)
    "num_frames": 60,
    "in_channels": 3,
    "layout": "ntu25",
    "width": 1.0,
    "depth": None,  # None = the encoder's full depth (InfoGCN: 9 blocks)
    "embed_dim": None,  # None = the encoder's last channel count
    "text_dim": 384,
    "g2l": True,
    "l2g": True,
    "l2g_heads": 4,
    "alpha_calibrate": 0.5,
    "alpha_consistency": 0.2,
    "consistency_temperature": 1.0,
    "alpha_mmd": 0.1,
    "alpha_z_mean": 1e-4,
    "label_smoothing": 0.1,
    "alpha_structure": 0.0,  # ours: keep raw-coordinate sample relations (models/losses.py)
    "dropout": 0.0,
    # ours: "cosine" trains the classes apart by angle, as the gallery compares them (crossglg.py)
    "classifier": "linear",
    "cosine_scale": 16.0,
    "cosine_margin": 0.0,  # CosFace margin on the true class's cosine (classifier "cosine" only)
    "encoder_options": {},  # encoder-specific keyword arguments, e.g. {"ancestor_k": 2}
}


def normalise_config(config: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and reject unknown keys or bad values, naming the offending key."""
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(f"unknown model config key(s) {unknown}; known: {sorted(DEFAULT_CONFIG)}")
    cfg = {**DEFAULT_CONFIG, **config}
    cfg["encoder_options"] = dict(cfg["encoder_options"] or {})
    if cfg["num_classes"] is None or int(cfg["num_classes"]) < 1:
        raise ValueError(f"model config 'num_classes' must be a positive int, got {cfg['num_classes']!r}")
    _check_encoder_options(cfg["encoder"], cfg["encoder_options"])
    for key in (
        "num_classes",
        "num_joints",
        "num_person",
        "num_frames",
        "in_channels",
        "text_dim",
        "l2g_heads",
    ):
        if int(cfg[key]) != cfg[key] or cfg[key] < 1:
            raise ValueError(f"model config {key!r} must be a positive int, got {cfg[key]!r}")
        cfg[key] = int(cfg[key])
    if cfg["num_person"] > 2:
        raise ValueError(
            f"model config 'num_person' must be 1 or 2 (windows hold 2 bodies), got {cfg['num_person']}"
        )
    if not 0 < float(cfg["width"]) <= 4:
        raise ValueError(f"model config 'width' must be in (0, 4], got {cfg['width']!r}")
    cfg["width"] = float(cfg["width"])
    for key in ("g2l", "l2g"):
        if not isinstance(cfg[key], bool):
            raise ValueError(f"model config {key!r} must be true/false, got {cfg[key]!r}")
    if cfg["classifier"] not in ("linear", "cosine"):
        raise ValueError(f"model config 'classifier' must be 'linear' or 'cosine', got {cfg['classifier']!r}")
    if not isinstance(cfg["cosine_scale"], int | float) or cfg["cosine_scale"] <= 0:
        raise ValueError(
            f"model config 'cosine_scale' must be a positive number, got {cfg['cosine_scale']!r}"
        )
    if not isinstance(cfg["cosine_margin"], int | float) or not 0 <= cfg["cosine_margin"] < 1:
        raise ValueError(f"model config 'cosine_margin' must be in [0, 1), got {cfg['cosine_margin']!r}")
    if cfg["cosine_margin"] and cfg["classifier"] != "cosine":
        raise ValueError("model config 'cosine_margin' needs classifier = 'cosine'")
    return cfg


# What build_model passes to every encoder; encoder_options may only add the encoder's own keywords.
COMMON_ENCODER_ARGS = (
    "num_joints",
    "num_person",
    "in_channels",
    "width",
    "depth",
    "embed_dim",
    "layout",
    "dropout",
    "num_classes",
)


def _check_encoder_options(name: str, options: dict[str, Any]) -> None:
    """Unknown encoder names and options fail here, naming the key (encoders take no ``**kwargs``)."""
    factory = get_encoder(name)
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # a registered factory that takes anything is trusted to check its own options
    taken = set(params) - {"self"}
    unknown = sorted(set(options) - (taken - set(COMMON_ENCODER_ARGS)))
    if unknown:
        own = sorted(taken - set(COMMON_ENCODER_ARGS))
        raise ValueError(
            f"model config 'encoder_options' key(s) {unknown} not taken by encoder {name!r}; "
            f"its own options: {own} (the common ones are set at the top level)"
        )


def build_model(config: dict[str, Any]) -> CrossGLG:
    """Config dict -> CrossGLG. ``g2l=False, l2g=False`` is the plain encoder baseline (ablation)."""
    cfg = normalise_config(config)
    factory = get_encoder(cfg["encoder"])
    encoder = factory(**{key: cfg[key] for key in COMMON_ENCODER_ARGS}, **cfg["encoder_options"])
    return CrossGLG(encoder, cfg)


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "COMMON_ENCODER_ARGS",
    "CosineClassifier",
    "DEFAULT_CONFIG",
    "CrossGLG",
    "Encoder",
    "JointImportance",
    "LocalToGlobal",
    "SkeletonBranch",
    "TextFeatures",
    "build_model",
    "count_parameters",
    "get_encoder",
    "list_encoders",
    "normalise_config",
    "register_encoder",
]
