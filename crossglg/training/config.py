"""Experiment configs: one TOML file per experiment, optionally inheriting from another (pyskl-style).

A config is a plain nested dict so that it can be written back verbatim into run folders and checkpoints.
``inherit = "other.toml"`` (relative to the file) merges that file first; ``--set a.b=value`` overrides
from the command line use TOML value syntax (``--set optim.lr=0.1 --set model.g2l=false``).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "name": "experiment",
    "seed": 0,
    "data": {
        # kinect_oneshot | all_public | ntu120_oneshot | ntu60_oneshot
        "protocol": "kinect_oneshot",
        # kinect_oneshot: "msrc12+msr" | "msrc12" | "wide" | "wide:N" | "wide-precog" (PRECOG left out);
        # ntu: number of base classes; all_public: "all" (the four public sets) | "wide" (and the wide sets)
        "base": "msrc12+msr",
        "root": "../shared/data",
        "num_frames": 60,
        "draws": 10,  # seeded exemplar draws per novel set
        "train_bodies": 2,  # 1: train on the main body only (the public Kinect sets are single-person)
        "prepared": "",  # path of a frozen prepared-data .npz (crossglg.training.data.freeze_data)
        # a "no action" training class cut from the no-action time of these MSRC-12 persons' sessions
        # (per session this many stretches); [] leaves it out
        "no_action_persons": [],
        "no_action_per_session": 4,
    },
    # twin_labels: a mirrored window of a sided class takes its twin's label ("front right kick" ->
    # "front left kick"), and a sided class without a twin is never mirrored (augment.mirror_labels);
    # false: every mirrored window keeps its label, as every model before 2026-12-04 was trained.
    # Other keys go to crossglg.skeleton.augment.Augmenter(**kwargs).
    "augment": {"enabled": True, "twin_labels": True},
    "model": {
        "encoder": "infogcn",
        "width": 1.0,
        "g2l": True,
        "l2g": True,
    },
    # target_smoothing: the share of each JID target spread evenly over all joints (lexicon.joint_targets)
    "text": {"encoder": "all-MiniLM-L6-v2", "target_smoothing": 0.1},
    "optim": {
        # The paper's InfoGCN recipe: SGD + Nesterov, lr 0.05, batch 128, warm-up then decay.
        "lr": 0.05,
        "batch_size": 128,
        "epochs": 110,
        "warmup_epochs": 5,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
        "schedule": "cosine",  # cosine | step
        "milestones": [90, 100],  # epochs, for schedule = "step"
        "gamma": 0.1,
        "min_lr": 0.0,
    },
    "train": {
        "device": "auto",  # auto: CUDA when present, else CPU
        "amp": "auto",  # auto: mixed precision on CUDA only
        "num_workers": 0,
        "threads": 0,  # torch CPU threads; 0 leaves torch's default
        "max_steps_per_epoch": 0,  # 0 = full epoch; small values for smoke tests
        "select_metric": "val_top1",  # which validation number picks the best epoch
        "eval_every": 1,
        "progress": True,
    },
}


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the file and key."""


def deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'inherit' chain {' -> '.join(map(str, seen + (path,)))}")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    parent = raw.pop("inherit", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: 'inherit' must be a file name string, got {parent!r}")
    return deep_merge(_read_toml(path.parent / parent, seen + (path,)), raw)


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, value_text = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text  # bare words are strings: --set model.encoder=stgcn
    return key.strip().split("."), value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """Defaults <- config file (with inheritance) <- ``section.key=value`` overrides, then validated."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        cfg = deep_merge(cfg, _read_toml(Path(path)))
        cfg.setdefault("config_file", str(path))
    for item in overrides or []:
        keys, value = parse_override(item)
        node = cfg
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a section")
        node[keys[-1]] = value
    validate_config(cfg)
    return cfg


def validate_config(cfg: dict) -> None:
    where = cfg.get("config_file", "<config>")
    for section in ("data", "model", "optim", "train", "augment", "text"):
        if not isinstance(cfg.get(section), dict):
            raise ConfigError(f"{where}: section [{section}] must be a table")
    o = cfg["optim"]
    checks = [
        ("optim.lr", o["lr"], lambda v: isinstance(v, int | float) and v > 0),
        ("optim.batch_size", o["batch_size"], lambda v: isinstance(v, int) and v > 0),
        ("optim.epochs", o["epochs"], lambda v: isinstance(v, int) and v > 0),
        ("optim.warmup_epochs", o["warmup_epochs"], lambda v: isinstance(v, int | float) and v >= 0),
        ("optim.schedule", o["schedule"], lambda v: v in ("cosine", "step")),
        ("seed", cfg["seed"], lambda v: isinstance(v, int)),
        ("train.device", cfg["train"]["device"], lambda v: isinstance(v, str)),
        ("train.amp", cfg["train"]["amp"], lambda v: v in ("auto", True, False)),
        (
            "text.target_smoothing",
            cfg["text"]["target_smoothing"],
            lambda v: isinstance(v, int | float) and 0 <= v <= 1,
        ),
        (
            "data.no_action_persons",
            cfg["data"]["no_action_persons"],
            lambda v: isinstance(v, list) and all(isinstance(p, int) and p > 0 for p in v),
        ),
        (
            "data.no_action_per_session",
            cfg["data"]["no_action_per_session"],
            lambda v: isinstance(v, int) and v > 0,
        ),
        ("augment.twin_labels", cfg["augment"]["twin_labels"], lambda v: isinstance(v, bool)),
        (
            "data.protocol",
            cfg["data"]["protocol"],
            lambda v: v in ("kinect_oneshot", "all_public", "ntu120_oneshot", "ntu60_oneshot"),
        ),
    ]
    for key, value, ok in checks:
        if not ok(value):
            raise ConfigError(f"{where}: invalid value for {key}: {value!r}")
