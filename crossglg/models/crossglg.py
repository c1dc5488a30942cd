"""CrossGLG heads on top of any registered encoder: JID (global-to-local), L2G (local-to-global),
the dual branch with a shared classifier, and the training loss.

Skeleton branch (kept for inference, text-free):
    encoder features F (N, C, T', V) -> JID importance w (N, V) -> F * (V w) -> pool -> head -> z
Cross-modal branch (training only): joint-level text of the sample's class attends over the joint
features of the same sample; the result goes through the same head and classifier.
See docs/method.md for the equations and which parts are the paper's and which are ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crossglg.models.losses import calibration_loss, classification_loss, consistency_loss, structure_loss
from crossglg.models.registry import Encoder


@dataclass(init=False)
class TextFeatures:
    """Per-class text features: global (K, Dt), joint-level (K, V, Dt), JID targets (K, V).

    Takes tensors or arrays; stores float32 tensors."""

    global_feats: torch.Tensor
    joint_feats: torch.Tensor
    joint_targets: torch.Tensor

    def __init__(
        self,
        global_feats: torch.Tensor | np.ndarray,
        joint_feats: torch.Tensor | np.ndarray,
        joint_targets: torch.Tensor | np.ndarray,
    ) -> None:
        self.global_feats = _float_tensor(global_feats)
        self.joint_feats = _float_tensor(joint_feats)
        self.joint_targets = _float_tensor(joint_targets)
        k = self.global_feats.shape[0]
        if self.global_feats.ndim != 2:
            raise ValueError(
                f"TextFeatures.global_feats must be (K, Dt), got {tuple(self.global_feats.shape)}"
            )
        if self.joint_feats.ndim != 3 or self.joint_feats.shape[0] != k:
            raise ValueError(
                f"TextFeatures.joint_feats must be (K={k}, V, Dt), got {tuple(self.joint_feats.shape)}"
            )
        if self.joint_feats.shape[2] != self.global_feats.shape[1]:
            raise ValueError("TextFeatures: global_feats and joint_feats have different text widths")
        if tuple(self.joint_targets.shape) != tuple(self.joint_feats.shape[:2]):
            raise ValueError(
                f"TextFeatures.joint_targets must be (K, V)={tuple(self.joint_feats.shape[:2])}, "
                f"got {tuple(self.joint_targets.shape)}"
            )
        if not torch.isfinite(self.joint_targets).all() or (self.joint_targets < 0).any():
            raise ValueError("TextFeatures.joint_targets must be finite and non-negative")

    @property
    def num_classes(self) -> int:
        return self.global_feats.shape[0]

    def to(self, device: torch.device | str) -> TextFeatures:
        return TextFeatures(
            self.global_feats.to(device), self.joint_feats.to(device), self.joint_targets.to(device)
        )


def _float_tensor(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    return value.float() if torch.is_tensor(value) else torch.as_tensor(np.asarray(value, dtype=np.float32))


class JointImportance(nn.Module):
    """JID: a per-joint importance distribution (N, V) from the skeleton's own joint features."""

    def __init__(self, channels: int, num_joints: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or max(8, channels // 4)
        self.position = nn.Parameter(torch.zeros(1, num_joints, channels))
        self.score = nn.Sequential(
            nn.LayerNorm(channels), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        tokens = feats.mean(dim=2).transpose(1, 2) + self.position  # (N, V, C)
        return torch.softmax(self.score(tokens).squeeze(-1), dim=-1)


def reweight_joints(feats: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Scale joint features by V * importance: uniform importance leaves them unchanged."""
    return feats * (importance * importance.shape[1])[:, None, None, :]


class LocalToGlobal(nn.Module):
    """Non-local cross-attention: every text token (global + V joint descriptions) attends over every
    skeleton joint token; the queries come from text, keys and values from the skeleton, so the
    summary handed to the classifier is a mixture of skeleton values (limits label leakage). It returns
    that summary's term, added to the pooled skeleton features, and the attention."""

    def __init__(
        self, channels: int, text_dim: int, num_joints: int, heads: int = 4, width: int | None = None
    ):
        super().__init__()
        width = width or channels // 2  # half width keeps the added parameters near the paper's +0.1M
        if width % heads:
            raise ValueError(f"L2G: attention width {width} not divisible by {heads} heads")
        self.heads, self.width = heads, width
        self.position = nn.Parameter(torch.zeros(1, num_joints, channels))
        self.norm = nn.LayerNorm(channels)
        self.query = nn.Linear(text_dim, width)
        self.key = nn.Linear(channels, width)
        self.value = nn.Linear(channels, width)
        self.out = nn.Linear(width, channels)

    def forward(
        self, feats: torch.Tensor, joint_text: torch.Tensor, global_text: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n, _, _, v = feats.shape
        h, d = self.heads, self.width // self.heads
        tokens = self.norm(feats.mean(dim=2).transpose(1, 2) + self.position)  # (N, V, C)
        text = torch.cat([global_text[:, None], joint_text], dim=1)  # (N, 1+V, Dt)
        q = self.query(text).reshape(n, -1, h, d).transpose(1, 2)  # (N, H, Q, d)
        k = self.key(tokens).reshape(n, v, h, d).transpose(1, 2)
        val = self.value(tokens).reshape(n, v, h, d).transpose(1, 2)
        attn = torch.softmax(q @ k.transpose(-1, -2) * d**-0.5, dim=-1)  # (N, H, Q, V)
        mixed = (attn @ val).transpose(1, 2).reshape(n, -1, self.width).mean(dim=1)  # (N, width)
        return self.out(mixed), attn.mean(dim=1)


class CosineClassifier(nn.Module):
    """Logits = scale * cos(embedding, class weight), bias-free.

    Ours (docs/method.md, "Classifier"): the gallery compares embeddings by cosine, so training the
    classes apart by angle trains the geometry inference uses; a linear layer can also separate them by
    length and bias, which the cosine then throws away (Chen et al., ICLR 2019, "A Closer Look at
    Few-shot Classification", Baseline++)."""

    def __init__(self, dim: int, num_classes: int, scale: float):
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.randn(num_classes, dim) * dim**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()


class SkeletonBranch(nn.Module):
    """The text-free inference path: (N, 3, T, V, M) -> (N, D) embedding (not normalised).

    Shares its modules with the CrossGLG model it came from (no copy), and carries that model's config
    (a plain attribute, not weights) so that runners and exporters know T, layout and D without it."""

    def __init__(self, encoder: Encoder, jid: nn.Module | None, config: dict):
        super().__init__()
        self.encoder = encoder
        self.jid = jid
        self.config = config

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    def skeleton_branch(self) -> SkeletonBranch:
        """Itself: a branch is accepted wherever a CrossGLG model is (hash, runner, export)."""
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, _ = self.encoder.features(x)
        if self.jid is not None:
            feats = reweight_joints(feats, self.jid(feats))
        return self.encoder.head(self.encoder.pool(feats))["embedding"]


class CrossGLG(nn.Module):
    def __init__(self, encoder: Encoder, config: dict):
        super().__init__()
        self.config = dict(config)
        self.encoder = encoder
        v, c = config["num_joints"], encoder.feature_dim
        self.jid = JointImportance(c, v) if config["g2l"] else None
        self.l2g = (
            LocalToGlobal(c, config["text_dim"], v, heads=config["l2g_heads"]) if config["l2g"] else None
        )
        self.classifier: nn.Module = (
            CosineClassifier(encoder.embed_dim, config["num_classes"], config["cosine_scale"])
            if config["classifier"] == "cosine"
            else nn.Linear(encoder.embed_dim, config["num_classes"])
        )

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    def skeleton_branch(self) -> SkeletonBranch:
        return SkeletonBranch(self.encoder, self.jid, self.config)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, text: TextFeatures | None = None
    ) -> dict[str, torch.Tensor]:
        """Skeleton branch always; the cross-modal branch too when L2G is on and labels + text are given."""
        if x.ndim != 5 or x.shape[1] != self.config["in_channels"] or x.shape[3] != self.config["num_joints"]:
            raise ValueError(
                f"expected input (N, {self.config['in_channels']}, T, {self.config['num_joints']}, M), "
                f"got {tuple(x.shape)}"
            )
        feats, body_weights = self.encoder.features(x)
        out: dict[str, torch.Tensor] = {"body_weights": body_weights}
        if self.jid is not None:
            importance = self.jid(feats)
            feats = reweight_joints(feats, importance)
            out["importance"] = importance
        pooled = self.encoder.pool(feats)
        out.update(self.encoder.head(pooled))
        out["logits"] = self.classifier(out["embedding"])
        if self.training and self.config["alpha_structure"] > 0:
            out["input"] = x
        if self.l2g is not None and text is not None and labels is not None:
            _check_text(text, labels, self.config["text_dim"])
            mixed, attention = self.l2g(feats, text.joint_feats[labels], text.global_feats[labels])
            cross = self.encoder.head(pooled + mixed)
            out["embedding_cm"] = cross["embedding"]
            out["logits_cm"] = self.classifier(cross["embedding"])
            out["l2g_attention"] = attention
        return out

    def loss(
        self, out: dict[str, torch.Tensor], labels: torch.Tensor, text: TextFeatures | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """total = CE(skeleton) + CE(cross-modal) + a_cal L_calibrate + a_c L_c + encoder terms."""
        cfg = self.config
        # CosFace's additive margin (Wang et al., CVPR 2018) on the true class's cosine, in logit units
        margin = cfg["cosine_margin"] * cfg["cosine_scale"] if cfg["classifier"] == "cosine" else 0.0
        weighted: dict[str, tuple[float, torch.Tensor]] = {
            "ce": (1.0, classification_loss(out["logits"], labels, cfg["label_smoothing"], margin))
        }
        if "logits_cm" in out:
            weighted["ce_cm"] = (
                1.0,
                classification_loss(out["logits_cm"], labels, cfg["label_smoothing"], margin),
            )
            weighted["consistency"] = (
                cfg["alpha_consistency"],
                consistency_loss(out["logits"], out["logits_cm"], cfg["consistency_temperature"]),
            )
        if "importance" in out and text is not None:
            _check_text(text, labels, None)
            weighted["calibrate"] = (
                cfg["alpha_calibrate"],
                calibration_loss(out["importance"], text.joint_targets[labels]),
            )
        if "input" in out:
            # on the embedding inference uses (InfoGCN: the mean, not the noisy training sample)
            anchored = out.get("mu", out["embedding"])
            weighted["structure"] = (cfg["alpha_structure"], structure_loss(anchored, out["input"]))
        encoder_weights = {"mmd": cfg["alpha_mmd"], "z_mean_norm": cfg["alpha_z_mean"]}
        for name, value in self.encoder.extra_losses(out, labels).items():
            weighted[name] = (encoder_weights.get(name, 1.0), value)
        total = sum(w * value for w, value in weighted.values())
        assert isinstance(total, torch.Tensor)  # never the empty sum's 0: "ce" is always a term
        terms = {name: float(value.detach()) for name, (_, value) in weighted.items()}
        terms["total"] = float(total.detach())
        return total, terms


def _check_text(text: TextFeatures, labels: torch.Tensor, text_dim: int | None) -> None:
    if not isinstance(text, TextFeatures):
        raise TypeError(f"text must be crossglg.models.TextFeatures, got {type(text).__name__}")
    if int(labels.max()) >= text.num_classes:
        raise ValueError(f"label {int(labels.max())} has no text features (only {text.num_classes} classes)")
    if text_dim is not None and text.global_feats.shape[1] != text_dim:
        raise ValueError(
            f"text features are {text.global_feats.shape[1]}-d but the model expects text_dim={text_dim}"
        )


__all__ = [
    "CosineClassifier",
    "CrossGLG",
    "JointImportance",
    "LocalToGlobal",
    "SkeletonBranch",
    "TextFeatures",
]
