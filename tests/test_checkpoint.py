"""Checkpoints: round trip, atomic save, and clear errors on every kind of mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from crossglg.checkpoint import (
    DEFAULT_CHECKPOINT,
    MODELS_DIR,
    NO_ACTION_FILE,
    CheckpointError,
    load_checkpoint,
    open_model,
    read_checkpoint_config,
    read_no_action,
    resolve_checkpoint,
    save_checkpoint,
    skeleton_branch_hash,
)
from crossglg.models import build_model

torch.set_num_threads(1)  # 2 threads on a shared 2-core box thrash badly
CONFIG = {"encoder": "infogcn", "num_classes": 3, "width": 0.25, "depth": 3}
CLASSES = ["wave", "clap", "bow"]


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(CONFIG).eval()
    path = save_checkpoint(
        tmp_path / "ckpt",
        model,
        classes=CLASSES,
        data_manifest={"dataset": "msrc12", "files": 3},
        metrics={"top1": 0.5},
    )
    return model, path


def test_round_trip_restores_weights_config_and_embeddings(saved):
    model, path = saved
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    ckpt = load_checkpoint(path)
    assert ckpt.classes == CLASSES
    assert ckpt.config["data_manifest"] == {"dataset": "msrc12", "files": 3}
    assert ckpt.config["metrics"] == {"top1": 0.5}
    assert ckpt.model_hash == skeleton_branch_hash(model) == skeleton_branch_hash(ckpt.model)
    assert not ckpt.model.training
    x = torch.randn(2, 3, 60, 25, 2)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model.skeleton_branch()(x), model.skeleton_branch()(x))


def test_a_cosine_classifier_round_trips_with_its_scale(tmp_path):
    """A checkpoint of the cosine recipe (no classifier bias) loads with the same logits."""
    torch.manual_seed(0)
    config = {**CONFIG, "classifier": "cosine", "cosine_scale": 12.0, "cosine_margin": 0.2}
    model = build_model(config).eval()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "cos", model, classes=CLASSES))
    assert ckpt.config["model"]["classifier"] == "cosine" and ckpt.model.classifier.scale == 12.0
    x = torch.randn(2, 3, 60, 25, 2)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(x)["logits"], model(x)["logits"])


def test_hash_ignores_the_classifier_but_not_the_branch(saved):
    model, _ = saved
    before = skeleton_branch_hash(model)
    with torch.no_grad():
        model.classifier.weight.add_(1.0)
    assert skeleton_branch_hash(model) == before
    with torch.no_grad():
        model.jid.position.add_(1.0)
    assert skeleton_branch_hash(model) != before


def test_resave_is_atomic_and_keeps_foreign_files(saved):
    model, path = saved
    (path / "notes.txt").write_text("kept")
    save_checkpoint(path, model, classes=["a", "b", "c"])
    assert (path / "notes.txt").read_text() == "kept"
    assert load_checkpoint(path).classes == ["a", "b", "c"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_no_action_windows_round_trip_and_bad_files_are_named(saved, tmp_path):
    model, path = saved
    assert read_no_action(path) is None  # a model trained without the class
    windows = np.random.default_rng(0).normal(size=(4, 3, 60, 25, 2)).astype(np.float32)
    path = save_checkpoint(tmp_path / "rest", model, classes=CLASSES, no_action=windows)
    np.testing.assert_array_equal(read_no_action(path), windows)
    one_body = windows.copy()
    one_body[..., 1] = 0  # one person in every window: the empty second body is not stored ...
    path = save_checkpoint(tmp_path / "rest", model, classes=CLASSES, no_action=one_body)
    assert np.load(path / NO_ACTION_FILE).shape == (4, 3, 60, 25, 1)
    np.testing.assert_array_equal(read_no_action(path), one_body)  # ... and comes back as zeros
    np.save(path / NO_ACTION_FILE, windows[:, :, :, :20])
    with pytest.raises(CheckpointError, match="no_action.npy: shape"):
        read_no_action(path)
    np.save(path / NO_ACTION_FILE, np.full((1, 3, 60, 25, 2), np.nan, np.float32))
    with pytest.raises(CheckpointError, match="no_action.npy: NaN"):
        read_no_action(path)
    (path / NO_ACTION_FILE).write_bytes(b"not an array")
    with pytest.raises(CheckpointError, match="no_action.npy: not a readable"):
        read_no_action(path)


def test_save_rejects_wrong_class_count(tmp_path):
    with pytest.raises(ValueError, match="2 class names"):
        save_checkpoint(tmp_path / "x", build_model(CONFIG), classes=["a", "b"])
    assert not (tmp_path / "x").exists()


def _edit_config(path, **changes):
    cfg = json.loads((path / "config.json").read_text())
    cfg.update(changes)
    (path / "config.json").write_text(json.dumps(cfg))


def test_missing_files_and_bad_json_are_named(saved, tmp_path):
    _, path = saved
    with pytest.raises(CheckpointError, match="not a directory"):
        load_checkpoint(tmp_path / "nowhere")
    (path / "model.safetensors").rename(tmp_path / "moved")
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        load_checkpoint(path)
    (path / "config.json").write_text('{"format": "crossglg-checkpoint",\n  oops}')
    with pytest.raises(CheckpointError, match=r"config.json: invalid JSON at line 2"):
        read_checkpoint_config(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 99}, "format_version"),
        ({"classes": ["a", "b"]}, "'classes' has 2 names"),
        ({"num_frames": 30}, "'num_frames'=30 disagrees"),
        ({"model_hash": 5}, "'model_hash' missing or not a str"),
    ],
)
def test_config_field_errors_name_the_field(saved, changes, message):
    _, path = saved
    _edit_config(path, **changes)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_weight_mismatches_name_the_key(saved):
    _, path = saved
    weights = path / "model.safetensors"
    state = load_file(str(weights))
    # A config that builds a different architecture: shapes no longer fit.
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["width"] = 0.5
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"model.safetensors: key '.*' has shape"):
        load_checkpoint(path)
    cfg["model"]["width"] = 0.25
    (path / "config.json").write_text(json.dumps(cfg))
    extra = dict(state, stray=torch.zeros(1))
    save_file(extra, str(weights))
    with pytest.raises(CheckpointError, match="unexpected key 'stray'"):
        load_checkpoint(path)
    missing = {k: v for k, v in state.items() if k != "classifier.bias"}
    save_file(missing, str(weights))
    with pytest.raises(CheckpointError, match="missing key 'classifier.bias'"):
        load_checkpoint(path)
    tampered = dict(state)
    tampered["jid.position"] = tampered["jid.position"] + 1
    save_file(tampered, str(weights))
    with pytest.raises(CheckpointError, match="does not match 'model_hash'"):
        load_checkpoint(path)
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read safetensors"):
        load_checkpoint(path)


def test_bad_model_config_is_reported(saved):
    _, path = saved
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["encoder"] = "nonexistent"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="field 'model' does not build"):
        load_checkpoint(path)


SHIPPED = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "resources" / "models").iterdir()
    if (p / "config.json").is_file()
)


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_models_load_match_their_hash_and_stay_small(folder):
    """Every model under resources/models: <= 10 MB, its weights are the ones its config names, and it
    embeds a window into unit-length rows (the default and the full-width GPU model alike)."""
    from crossglg.oneshot import Embedder

    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size <= 10_000_000, f"{folder.name} is {size / 1e6:.1f} MB"
    ckpt = load_checkpoint(folder)
    assert skeleton_branch_hash(ckpt.model) == read_checkpoint_config(folder)["model_hash"]
    # every class of every data set it was trained on (default: all eight; full-width: the four public)
    from crossglg.data.readers import class_names

    manifest = read_checkpoint_config(folder)["data_manifest"]
    rest = ["no action"] if "no_action" in manifest else []  # trained with data.no_action_persons
    expected = [f"{d}: {name}" for d in manifest["datasets"] for name in class_names(d).values()]
    assert ckpt.classes == expected + rest
    assert (read_no_action(folder) is not None) == bool(rest)
    torch.manual_seed(0)
    emb = Embedder(str(folder)).embed(torch.randn(2, 3, 60, 25, 2).numpy())
    assert emb.shape[0] == 2 and torch.allclose(torch.from_numpy(emb).norm(dim=1), torch.ones(2), atol=1e-5)


def test_shipped_models_resolve_by_name_and_folders_by_path(saved, tmp_path):
    _, path = saved
    assert resolve_checkpoint(path) == path and resolve_checkpoint(str(path)) == path
    for name in ("default", "full"):
        if (MODELS_DIR / f"crossglg_{name}" / "config.json").is_file():
            assert resolve_checkpoint(name) == MODELS_DIR / f"crossglg_{name}"
    assert DEFAULT_CHECKPOINT == MODELS_DIR / "crossglg_default"
    with pytest.raises(CheckpointError, match=r"no model checkpoint at .*nowhere.*default, full"):
        resolve_checkpoint(tmp_path / "nowhere")


def test_open_model_reads_the_config_once_and_the_weights_only_when_asked(saved):
    model, path = saved
    (path / "model.safetensors").rename(path / "moved.safetensors")
    source = open_model(path)  # identity from config.json alone
    assert (source.model_hash, source.dim) == (skeleton_branch_hash(model), model.embed_dim)
    assert source.path == path
    assert source.model_config["encoder"] == "infogcn" and not source.loaded
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        _ = source.branch
    (path / "moved.safetensors").rename(path / "model.safetensors")
    x = torch.randn(2, 3, 60, 25, 2)
    with torch.no_grad():
        torch.testing.assert_close(source.branch(x), model.skeleton_branch()(x))
    assert source.loaded and not source.branch.training
    assert open_model(source) is source
    in_memory = open_model(model)
    assert in_memory.path is None and in_memory.model_hash == source.model_hash and in_memory.loaded
    assert open_model(load_checkpoint(path)).model_hash == source.model_hash
    with pytest.raises(TypeError, match="expected a model name"):
        open_model(42)
