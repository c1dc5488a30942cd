"""crossglg-train: configs, schedule, determinism, resume, logs and checkpoints on real Kinect windows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from crossglg.training.config import ConfigError, load_config
from crossglg.training.trainer import lr_at

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "train" / "configs"
TINY = [
    "model.width=0.125",
    "model.depth=3",
    "optim.batch_size=8",
    "optim.epochs=2",
    "optim.warmup_epochs=1",
    "train.max_steps_per_epoch=2",
    "train.progress=false",
    "train.threads=1",
    "data.draws=2",
    "train.num_workers=0",
]


def test_every_config_loads_and_inherits():
    from crossglg.training.experiment import make_augmenter

    names = sorted(p.name for p in CONFIGS.glob("*.toml") if not p.name.startswith("_"))
    assert "kinect_msrc12_msr_infogcn_full.toml" in names and "shipped_default.toml" in names
    for name in names:
        cfg = load_config(CONFIGS / name)
        assert cfg["optim"]["lr"] > 0 and cfg["model"]["encoder"] in ("infogcn", "stgcn")
        make_augmenter(cfg)  # every augment key is an Augmenter field
    posture = load_config(CONFIGS / "kinect_msrc12_msr_stgcn_full_noaction_cosine_side_posture.toml")
    assert make_augmenter(posture).posture_prob == 0.5 and posture["model"]["encoder_options"]["side_pooling"]
    full = load_config(CONFIGS / "kinect_msrc12_msr_infogcn_full.toml")
    base = load_config(CONFIGS / "kinect_msrc12_msr_infogcn_baseline.toml")
    assert full["model"]["g2l"] and full["model"]["l2g"]
    assert not base["model"]["g2l"] and not base["model"]["l2g"]
    assert full["optim"] == base["optim"]  # the ablation rows differ only by the flags
    assert full["model"]["alpha_structure"] == base["model"]["alpha_structure"] == 10.0
    paper = load_config(CONFIGS / "paper_recipe.toml")
    assert paper["model"].get("alpha_structure", 0.0) == 0.0  # the paper's losses only
    o = paper["optim"]
    assert (o["lr"], o["batch_size"], o["nesterov"], o["epochs"]) == (0.05, 128, True, 110)


def test_overrides_and_clear_errors(tmp_path):
    cfg = load_config(CONFIGS / "kinect_msrc12_infogcn_full.toml", ["optim.lr=0.1", "model.encoder=stgcn"])
    assert cfg["optim"]["lr"] == 0.1 and cfg["model"]["encoder"] == "stgcn"
    with pytest.raises(ConfigError, match="optim.lr"):
        load_config(None, ["optim.lr=-1"])
    with pytest.raises(ConfigError, match="text.target_smoothing: 1.5"):
        load_config(None, ["text.target_smoothing=1.5"])
    with pytest.raises(ConfigError, match="data.no_action_persons: 3"):
        load_config(None, ["data.no_action_persons=3"])  # a list of MSRC-12 person numbers
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim]\nlr = \n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(bad)
    loop = tmp_path / "loop.toml"
    loop.write_text('inherit = "loop.toml"\n')
    with pytest.raises(ConfigError, match="circular"):
        load_config(loop)


def test_warmup_then_cosine_decay():
    o = load_config(None, ["optim.lr=0.05", "optim.epochs=10", "optim.warmup_epochs=2"])["optim"]
    lrs = [lr_at(s, 10, o) for s in range(100)]
    assert lrs[0] == pytest.approx(0.05 / 20) and lrs[19] == pytest.approx(0.05)
    assert all(a <= b for a, b in zip(lrs[:20], lrs[1:20], strict=False))  # warm-up rises
    assert all(a >= b for a, b in zip(lrs[20:], lrs[21:], strict=False))  # decay falls
    assert lrs[-1] < 0.001
    o_step = load_config(None, ['optim.schedule="step"', "optim.milestones=[5]", "optim.warmup_epochs=0"])
    assert lr_at(4 * 10, 10, o_step["optim"]) == pytest.approx(0.05)
    assert lr_at(5 * 10, 10, o_step["optim"]) == pytest.approx(0.005)


@pytest.fixture(scope="module")
def kinect_cfg(data_root):
    return load_config(CONFIGS / "kinect_msrc12_infogcn_full.toml", TINY + [f'data.root="{data_root}"'])


def _losses(run_dir: Path) -> list[float]:
    with open(run_dir / "metrics.csv") as f:
        return [float(r["loss_total"]) for r in csv.DictReader(f)]


def test_train_writes_logs_and_checkpoint_and_a_seed_fixes_the_run(kinect_cfg, tmp_path):
    from crossglg.checkpoint import load_checkpoint
    from crossglg.training.experiment import train_experiment

    torch.set_num_threads(1)
    a = train_experiment(kinect_cfg, tmp_path / "a", log=lambda *_: None)
    # Same seed, same data: the same loss curve.
    b = train_experiment(kinect_cfg, tmp_path / "b", log=lambda *_: None)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    # Validating only at the end makes the last epoch the selected one.
    end_only = {**kinect_cfg["train"], "eval_every": 99}
    other_seed = train_experiment(
        {**kinect_cfg, "seed": 7, "train": end_only}, tmp_path / "d", log=lambda *_: None
    )
    assert _losses(tmp_path / "d") != _losses(tmp_path / "a")
    assert other_seed["seed"] == 7 and b["seed"] == 0
    assert a["history"][-1]["samples_per_s"] > 0 and a["history"][0]["lr"] > 0

    for name in ("metrics.csv", "config.json", "results.json", "train_state.pt"):
        assert (tmp_path / "a" / name).is_file(), name
    assert list((tmp_path / "a" / "tb").glob("events.out.tfevents.*"))
    row = next(csv.DictReader(open(tmp_path / "a" / "metrics.csv")))
    for term in (
        "loss_ce",
        "loss_ce_cm",
        "loss_calibrate",
        "loss_consistency",
        "loss_structure",
        "val_top1",
        "samples_per_s",
    ):
        assert term in row, term
    ckpt = load_checkpoint(tmp_path / "a" / "checkpoint")
    assert ckpt.config["classes"][0] == "duck"  # MSRC-12 base minus validation classes
    assert ckpt.config["data_manifest"]["protocol"] == "kinect_oneshot"
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert set(results["sets"]) == {"msr_action3d", "utkinect", "florence"}
    assert all(0 <= s["top1_mean"] <= 100 for s in results["sets"].values())
    assert results["last_epoch"]["epoch"] == 2 and set(results["last_epoch"]["sets"]) == set(results["sets"])
    assert other_seed["last_epoch"]["mean_over_sets"] == pytest.approx(other_seed["mean_over_sets"])


def test_resume_continues_the_same_run(kinect_cfg, tmp_path, monkeypatch):
    from crossglg.training.experiment import train_experiment

    torch.set_num_threads(1)
    cfg3 = {**kinect_cfg, "optim": {**kinect_cfg["optim"], "epochs": 3}, "data": {**kinect_cfg["data"]}}
    full = train_experiment(cfg3, tmp_path / "full", log=lambda *_: None)
    # Interrupt a second run right after its epoch-2 state is written (as Ctrl-C would), then resume.
    from crossglg.training.trainer import Trainer

    part, original = tmp_path / "part", Trainer.save_state

    def interrupt_after_epoch_two(self, epoch):
        original(self, epoch)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "save_state", interrupt_after_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_experiment(cfg3, part, log=lambda *_: None)
    monkeypatch.setattr(Trainer, "save_state", original)
    assert len(_losses(part)) == 2
    resumed = train_experiment(cfg3, part, log=lambda *_: None)
    assert _losses(part) == _losses(tmp_path / "full")
    assert resumed["history"][-1]["loss_total"] == full["history"][-1]["loss_total"]
    # A different model config cannot silently continue someone else's state.
    with pytest.raises(RuntimeError, match="cannot resume"):
        train_experiment({**cfg3, "model": {**cfg3["model"], "width": 0.25}}, part, log=lambda *_: None)


def test_ntu_path_on_the_real_raw_files(data_root, tmp_path):
    """The NTU-120 one-shot path end to end on the 6 real .skeleton files (reader denoising included):
    base-class files train, the novel drink-water sample is kept out of training."""
    from crossglg.training.data import prepare_data
    from crossglg.training.experiment import train_experiment

    cfg = load_config(
        CONFIGS / "ntu120_oneshot.toml",
        TINY + [f'data.root="{data_root / "ntu"}"', "optim.epochs=1", "optim.batch_size=4"],
    )
    data = prepare_data(cfg, use_cache=False)
    assert data.train_windows.shape[1:] == (3, 60, 25, 2)
    names = set(data.manifest["train_sources"])
    assert "S001C001P001R001A001.skeleton" not in names  # A1 is a novel class
    assert "S001C003P008R002A058.skeleton" in names  # two-person handshaking is a base class
    two_body = data.train_windows[data.manifest["train_sources"].index("S001C003P008R002A058.skeleton")]
    assert np.any(two_body[..., 1] != 0)  # both actors kept
    assert data.class_names[0] == "brushing teeth"
    out = train_experiment(cfg, tmp_path / "ntu", log=lambda *_: None)
    assert np.isfinite(out["history"][0]["loss_total"])
    assert (tmp_path / "ntu" / "checkpoint" / "model.safetensors").is_file()


def test_no_action_class_is_trained_and_its_windows_kept_with_the_checkpoint(kinect_cfg, tmp_path):
    from crossglg.checkpoint import read_no_action
    from crossglg.oneshot import Embedder
    from crossglg.training.data import no_action_windows, prepare_data
    from crossglg.training.experiment import ship_checkpoint, train_experiment

    torch.set_num_threads(1)
    cfg = {**kinect_cfg, "data": {**kinect_cfg["data"], "no_action_persons": [1], "no_action_per_session": 2}}
    plain, data = prepare_data(kinect_cfg), prepare_data(cfg)
    assert data.class_names == [*plain.class_names, "no action"] and data.class_keys[-1] == ("no_action", 0)
    added = int(np.sum(data.train_labels == len(plain.class_names)))
    assert added == len(data.train_labels) - len(plain.train_labels) == data.manifest["no_action"]["windows"]
    assert added > 20 and data.descriptions[-1].name == "no action"
    train_experiment(cfg, tmp_path / "run", log=lambda *_: None)
    kept = read_no_action(tmp_path / "run" / "checkpoint")
    assert kept is not None and kept.shape == (added, 3, 60, 25, 2)  # every window of the class
    np.testing.assert_array_equal(read_no_action(ship_checkpoint(tmp_path / "run", tmp_path / "ship")), kept)
    embedder = Embedder(tmp_path / "run" / "checkpoint")  # the folder's no-action windows come along
    rest = embedder.no_action_embeddings()
    assert rest is not None and rest.shape == (len(kept), embedder.dim)
    with pytest.raises(FileNotFoundError, match=r"persons \[42\] for data.no_action_persons"):
        no_action_windows({**cfg["data"], "no_action_persons": [42]})


def test_window_dataset_gives_a_mirrored_window_its_twins_label(kinect_cfg):
    from crossglg.training.data import prepare_data
    from crossglg.training.experiment import make_augmenter
    from crossglg.training.trainer import WindowDataset

    data = prepare_data(kinect_cfg)
    windows, augment = data.train_windows[:3], make_augmenter(kinect_cfg)
    # class 0 and 1 are twins ("front right / left kick"); class 2 has a side but no twin
    ds = WindowDataset(windows, np.array([0, 1, 2]), augment, seed=5, mirror_to=np.array([1, 0, -1]))
    plain = WindowDataset(windows, np.array([0, 1, 2]), augment, seed=5)
    seen, kept_side = set(), 0
    for epoch in range(12):
        ds.set_epoch(epoch)
        plain.set_epoch(epoch)
        for i in range(3):
            (x, label), (x_plain, plain_label) = ds[i], plain[i]
            seen.add((i, label))
            assert plain_label == i  # without twins every class keeps its label
            if i < 2:  # the same window as without twins; only the label follows the mirror
                np.testing.assert_array_equal(x.numpy(), x_plain.numpy())
            else:  # never mirrored, with the draws of every other augmentation unchanged
                never = augment.augment(windows[2], np.random.default_rng([5, epoch, 2]), may_mirror=False)
                assert label == 2
                np.testing.assert_array_equal(x.numpy(), never[0])
                kept_side += not np.array_equal(x.numpy(), x_plain.numpy())
    assert {(0, 1), (0, 0), (1, 0), (1, 1)} <= seen and kept_side > 0


def test_window_dataset_augments_reproducibly(kinect_cfg):
    from crossglg.training.data import prepare_data
    from crossglg.training.experiment import make_augmenter
    from crossglg.training.trainer import WindowDataset

    data = prepare_data(kinect_cfg)
    ds = WindowDataset(data.train_windows[:4], data.train_labels[:4], make_augmenter(kinect_cfg), seed=3)
    x0 = ds[1][0].numpy()
    assert np.array_equal(x0, ds[1][0].numpy())  # same (seed, epoch, index) -> same sample
    ds.set_epoch(1)
    assert not np.array_equal(x0, ds[1][0].numpy())  # a new epoch draws new augmentations
    assert not np.array_equal(x0, data.train_windows[1])
