"""The embedding contract: one window gate, one torch runner, and every way of embedding (torch runner,
shipped ONNX graph, engines' backends, the trainer's validation) giving the same numbers on real windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossglg.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, open_model, skeleton_branch_hash
from crossglg.embedding import (
    EmbeddingBackend,
    TorchBackend,
    check_windows,
    drop_absent_bodies,
)
from crossglg.models import build_model
from crossglg.skeleton.window import WINDOW_SHAPE

torch.set_num_threads(1)  # 2 threads on a shared 2-core box thrash badly
SMALL = {"num_classes": 3, "width": 0.25, "depth": 3}


@pytest.fixture(scope="module")
def ntu_windows(data_root):
    """The real NTU RGB+D samples: five single-person actions and one two-person action (A058)."""
    from crossglg.data import load_dataset
    from crossglg.skeleton import make_window

    windows = np.stack([make_window(s) for s in load_dataset("ntu", data_root)]).astype(np.float32)
    assert windows.shape[1:] == WINDOW_SHAPE
    assert windows[..., 1].any() and not windows[..., 1].any(axis=(1, 2, 3)).all()
    return windows


def test_check_windows_is_the_one_gate():
    one = np.zeros(WINDOW_SHAPE, np.float64)
    batch = check_windows(one)
    assert batch.shape == (1, *WINDOW_SHAPE) and batch.dtype == np.float32 and batch.flags.c_contiguous
    assert check_windows(np.zeros((0, *WINDOW_SHAPE), np.float32)).shape == (0, *WINDOW_SHAPE)
    assert check_windows(np.zeros((2, 3, 30, 25, 2), np.float32), frames=30).shape[2] == 30
    with pytest.raises(ValueError, match=r"clips must have shape \(N, 3, 60, 25, 2\); got \(2, 3, 30,"):
        check_windows(np.zeros((2, 3, 30, 25, 2), np.float32), "clips")
    with pytest.raises(TypeError, match="float32"):
        check_windows(np.zeros((1, *WINDOW_SHAPE), np.int32))
    with pytest.raises(TypeError, match="numpy array"):
        check_windows([np.zeros(WINDOW_SHAPE)])
    bad = np.zeros((4, *WINDOW_SHAPE), np.float32)
    bad[1, 0, 0, 0, 0], bad[3, 2, 5, 7, 1] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in batch item\(s\) \[1, 3\]"):
        check_windows(bad)


def test_drop_absent_bodies_only_drops_slots_empty_everywhere():
    w = np.zeros((2, *WINDOW_SHAPE), np.float32)
    w[:, 0, :, :, 0] = 1.0
    assert drop_absent_bodies(w).shape[-1] == 1
    w[1, 0, 3, 4, 1] = 0.5  # one window has a second body: nothing may be dropped
    assert drop_absent_bodies(w).shape[-1] == 2


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_runner_trims_batches_and_restores_flags_without_changing_embeddings(encoder, ntu_windows):
    torch.manual_seed(0)
    model = build_model({**SMALL, "encoder": encoder}).train()
    with torch.no_grad():
        want = model.skeleton_branch().eval()(torch.from_numpy(ntu_windows)).numpy()
    model.train()
    runner = TorchBackend(model, batch_size=4)
    assert isinstance(runner, EmbeddingBackend) and runner.dim == model.embed_dim
    single = ~ntu_windows[..., 1].any(axis=(1, 2, 3))  # batches of these have body 2 dropped
    np.testing.assert_allclose(runner(ntu_windows[single]), want[single], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(runner(ntu_windows), want, rtol=1e-4, atol=1e-5)
    untrimmed = TorchBackend(model, trim_bodies=False, batch_size=1)
    np.testing.assert_allclose(untrimmed(ntu_windows), want, rtol=1e-4, atol=1e-5)
    assert all(m.training for m in model.modules()), "the runner left the caller's model in eval mode"
    assert runner.branch.encoder is model.encoder, "same device: the runner must not copy the model"
    assert runner(ntu_windows[:0]).shape == (0, model.embed_dim)


def test_runner_hash_is_the_checkpoint_hash_and_follows_the_weights():
    torch.manual_seed(0)
    model = build_model(SMALL).eval()
    runner = TorchBackend(model)
    assert runner.model_hash == skeleton_branch_hash(model) == skeleton_branch_hash(model.skeleton_branch())
    with torch.no_grad():
        model.classifier.weight.add_(1.0)  # not part of the embedding: same hash
    assert runner.model_hash == skeleton_branch_hash(model)
    before = runner.model_hash
    with torch.no_grad():
        next(model.encoder.parameters()).add_(1.0)
    assert runner.model_hash != before
    assert TorchBackend(model, model_hash="given").model_hash == "given"
    with pytest.raises(TypeError, match="CrossGLG model or its SkeletonBranch"):
        TorchBackend(torch.nn.Linear(3, 3))


def test_every_path_embeds_the_default_model_alike_on_real_windows(ntu_windows, tmp_path):
    """The torch runner, the ONNX graph shipped beside the default checkpoint (exported by an earlier
    version of this code), engines' ONNX Runtime and torch backends and the trainer's validation
    embedding: the same (N, D) numbers to 1e-5 on the six real NTU windows."""
    from crossglg.training.config import load_config
    from crossglg.training.trainer import Trainer, WindowDataset
    from engines import OnnxRuntimeBackend, load_backend

    if not (DEFAULT_CHECKPOINT / "config.json").is_file():
        pytest.skip("no shipped default checkpoint")
    source = open_model("default")
    runner = TorchBackend(source.branch, model_hash=source.model_hash)
    want = runner(ntu_windows)
    assert want.shape == (6, source.dim) and np.linalg.norm(want, axis=1).min() > 1e-3
    shipped = OnnxRuntimeBackend(DEFAULT_CHECKPOINT / "skeleton_branch-fp32.onnx")
    assert (shipped.model_hash, shipped.dim) == (source.model_hash, source.dim)
    engines_torch = load_backend(source, "torch", "cpu")
    cfg = load_config(None, ["train.device='cpu'", "train.threads=1"])
    model = load_checkpoint(DEFAULT_CHECKPOINT).model  # the whole CrossGLG, as the trainer holds it
    trainer = Trainer(cfg, model, WindowDataset(ntu_windows, np.zeros(6, np.int64)), None, tmp_path)
    for name, got in [
        ("shipped ONNX", shipped(ntu_windows)),
        ("engines torch", engines_torch(ntu_windows)),
        ("trainer", trainer.embed(ntu_windows)),
        ("runner, batch 1", TorchBackend(source.branch, batch_size=1)(ntu_windows)),
    ]:
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0, err_msg=name)
