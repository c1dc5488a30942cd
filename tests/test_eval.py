"""crossglg-eval and the one-shot metrics: exact numbers on small hand-made embeddings, then the real
benchmark through the CLI (raw 1-NN and a trained checkpoint) with its JSON and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from crossglg.training.metrics import Episode, NovelSet, evaluate_embeddings, more_shots_top1, score_episode

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "train" / "configs" / "kinect_msrc12_msr_infogcn_full.toml"


def test_score_episode_counts_top1_top5_and_confusion():
    # Three classes on three orthogonal axes; query 3 (true class 2) lies nearer class 0's exemplar.
    emb = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0], [0.1, 0.9, 0], [0.8, 0, 0.6]], np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.array([0, 1, 2, 0, 1, 2])
    res = score_episode(emb, labels, Episode(np.array([0, 1, 2]), np.array([3, 4, 5])), 3, ks=(1, 2))
    assert res["top1"] == pytest.approx(2 / 3)
    assert res["top2"] == pytest.approx(1.0)
    assert res["confusion"].tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    # Exemplars listed in another order give the same answer (columns follow the exemplars' labels).
    again = score_episode(emb, labels, Episode(np.array([2, 0, 1]), np.array([3, 4, 5])), 3, ks=(1,))
    assert again["top1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="each of the 3 classes"):
        score_episode(emb, labels, Episode(np.array([0, 3, 2]), np.array([4])), 3)


def test_mean_and_std_over_draws_and_per_class():
    emb = np.eye(4, dtype=np.float32)[[0, 1, 0, 1]]
    labels = np.array([0, 1, 0, 1])
    emb[3] = [1, 0, 0, 0]  # sample 3 (class 1) looks like class 0
    eps = [Episode(np.array([0, 1]), np.array([2, 3])), Episode(np.array([2, 3]), np.array([0, 1]))]
    toy = NovelSet("toy", np.zeros((4, 3, 60, 25, 2)), labels, ["a", "b"], eps)
    res = evaluate_embeddings(emb, toy, ks=(1,))
    # Draw 1 (exemplars 0, 1): query 3 of class b points like a -> 50 %. Draw 2 (exemplars 2, 3 identical):
    # every query ties and the tie goes to the first exemplar (class a) -> query 0 right, query 1 wrong.
    assert res["top1_per_draw"] == [50.0, 50.0]
    assert res["top1_mean"] == 50.0 and res["top1_std"] == 0.0
    assert res["per_class_top1"] == {"a": 100.0, "b": 0.0}


def test_more_shots_ceiling_by_hand():
    # 3 subjects x 2 classes (a along x, b along y); subject 0's "b" sample points mostly like "a".
    rng = np.random.default_rng(0)
    emb = np.array([[1, 0, 0], [0, 1, 0]] * 3, np.float64) + rng.normal(0, 1e-3, (6, 3))
    emb[1] = [1, 0.3, 0]
    labels, subjects = np.array([0, 1] * 3), np.array([0, 0, 1, 1, 2, 2])
    toy = NovelSet("toy", np.zeros((6, 3, 60, 25, 2)), labels, ["a", "b"], [], subjects)
    res = more_shots_top1(emb, toy, shots=(1, 2, 3))
    # Leave one subject out: only the odd sample itself is missed (the true "a"s are nearer to each other).
    assert res["all"] == pytest.approx(100 * 5 / 6)
    assert "3" not in res  # three gallery subjects would leave no query
    assert 50.0 <= res["1"] < 100.0 and res["2"] >= 75.0
    with pytest.raises(ValueError, match="toy: no subject ids"):
        more_shots_top1(emb, NovelSet("toy", toy.windows, labels, ["a", "b"], []))


def test_dropping_empty_body_slots_keeps_embeddings(data_root):
    """Evaluation skips the empty second body; the encoders must give the same embedding either way."""
    from crossglg.embedding import TorchBackend
    from crossglg.models import build_model
    from crossglg.training.config import load_config
    from crossglg.training.data import prepare_data

    cfg = load_config(CONFIG, [f'data.root="{data_root}"', "data.draws=2"])
    windows = prepare_data(cfg).test_sets[0].windows[:6]
    assert not windows[..., 1].any()
    for encoder in ("infogcn", "stgcn"):
        torch.manual_seed(0)
        model = build_model({"encoder": encoder, "num_classes": 5, "width": 0.25, "depth": 3}).eval()
        with torch.no_grad():
            full = model.skeleton_branch()(torch.from_numpy(windows)).numpy()
        trimmed = TorchBackend(model)
        assert trimmed.trim_bodies  # the default: evaluation and the trainer skip empty slots
        np.testing.assert_allclose(trimmed(windows), full, rtol=1e-4, atol=1e-5)


def test_eval_cli_raw_baseline_and_checkpoint(data_root, tmp_path):
    from crossglg.training.config import load_config
    from crossglg.training.experiment import train_experiment
    from train.evaluate import main

    common = [str(CONFIG), "--data-root", str(data_root), "--draws", "3"]
    assert main(common + ["--raw", "--out", str(tmp_path / "raw")]) == 0
    raw = json.loads((tmp_path / "raw" / "eval.json").read_text())
    assert set(raw["sets"]) == {"msr_action3d", "utkinect", "florence"}
    for name, res in raw["sets"].items():
        chance = 100.0 / res["num_classes"]
        assert res["top1_mean"] > chance + 10, name  # coordinates alone beat chance clearly
        assert len(res["top1_per_draw"]) == 3 and res["top5_mean"] >= res["top1_mean"]
        assert len(res["per_class_top1"]) == res["num_classes"]
        assert (tmp_path / "raw" / f"confusion_{name}.png").stat().st_size > 5000
        assert (tmp_path / "raw" / f"tsne_{name}.png").stat().st_size > 5000
        # With every other subject's samples as the gallery, 1-NN must do better than with one exemplar.
        assert res["more_shots_top1"]["all"] > res["top1_mean"] + 5, name

    cfg = load_config(
        CONFIG,
        [
            f'data.root="{data_root}"',
            "model.width=0.125",
            "optim.epochs=1",
            "optim.batch_size=8",
            "train.max_steps_per_epoch=2",
            "train.progress=false",
            "data.draws=3",
            "model.l2g=false",
            "model.g2l=false",
        ],
    )
    train_experiment(cfg, tmp_path / "run", log=lambda *_: None)
    assert (
        main(
            common
            + [
                "--checkpoint",
                str(tmp_path / "run" / "checkpoint"),
                "--out",
                str(tmp_path / "ev"),
                "--no-figures",
            ]
        )
        == 0
    )
    ev = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert ev["checkpoint"].endswith("checkpoint") and not list((tmp_path / "ev").glob("*.png"))
    # The CLI's numbers are the ones the training run recorded for the same checkpoint and draws.
    trained = json.loads((tmp_path / "run" / "results.json").read_text())
    for name in ev["sets"]:
        assert ev["sets"][name]["top1_mean"] == pytest.approx(trained["sets"][name]["top1_mean"])
    assert main(common + ["--checkpoint", str(tmp_path), "--out", str(tmp_path / "x")]) == 2


def test_joint_importance_figure(tmp_path):
    from crossglg.training.plots import plot_joint_importance

    imp = np.full(25, 1 / 25)
    imp[[9, 10, 11]] += 0.2
    path = plot_joint_importance({"wave": imp / imp.sum(), "flat": np.full(25, 1 / 25)}, tmp_path / "j.png")
    assert path.stat().st_size > 5000
    with pytest.raises(ValueError, match="shape"):
        plot_joint_importance({"bad": np.ones(20)}, tmp_path / "k.png")


def test_text_gain_plot_pairs_seeds(tmp_path, capsys):
    """The gain plot reads the wide bases' results.json files and pairs rows by seed."""
    from train import run_ablation

    scores = {("wide", "baseline", 0): 67.0, ("wide", "full", 0): 70.0, ("wide50", "full", 0): 69.0}
    scores |= {("wide", "baseline", 1): 66.0, ("wide", "full", 1): 71.0, ("wide50", "baseline", 0): 68.5}
    for (base, row, seed), top1 in scores.items():
        run = tmp_path / f"kinect_{base}_stgcn_{row}_s{seed}"
        run.mkdir()
        res = {"config": f"kinect_{base}_stgcn_{row}", "seed": seed, "mean_over_sets": {"top1_mean": top1}}
        (run / "results.json").write_text(json.dumps(res))
    png = tmp_path / "gain.png"
    assert run_ablation.main(["--out", str(tmp_path), "--plot-gain", str(png)]) == 0
    assert png.stat().st_size > 5000
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "50 {'baseline': {0: 68.5}, 'full': {0: 69.0}}",
        "92 {'baseline': {0: 67.0, 1: 66.0}, 'full': {0: 70.0, 1: 71.0}}",
    ]
