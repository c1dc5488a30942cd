"""InfoGCN encoder (Chi et al., CVPR 2022), written from the paper's description.

Input: each joint relative to its k-th ancestor on the tree rooted at spine mid, embedded by
Linear(3 -> 64) plus a learned per-joint embedding, BatchNorm. Nine blocks (64, 64, 64, 128/s2, 128,
128, 256/s2, 256, 256), each a self-attention graph conv (3 heads, query/key width in/8, attention
times a learnable topology initialised to identity) + multi-scale temporal conv + residual.
Head: pooled features -> ReLU(Linear) -> (mu, log-variance) -> z; the information-bottleneck
training terms are in :meth:`InfoGCN.extra_losses`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crossglg.models.layers import (
    MultiScaleTemporalConv,
    ancestor_offsets,
    body_weights,
    fold_bodies,
    merge_bodies,
    residual_path,
    scaled,
    stage_plan,
)
from crossglg.models.registry import Encoder, register_encoder


class JointAttention(nn.Module):
    """Per-sample joint-to-joint attention (N, H, V, V) from time-averaged joint features."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.key_width = max(1, channels // 8)
        self.norm = nn.LayerNorm(channels)
        self.to_qk = nn.Linear(channels, 2 * heads * self.key_width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        y = self.norm(x.mean(dim=2).transpose(1, 2))  # (N, V, C)
        q, k = self.to_qk(y).reshape(n, v, 2, self.heads, self.key_width).permute(2, 0, 3, 1, 4)
        return torch.softmax(q @ k.transpose(-1, -2) * self.key_width**-0.5, dim=-1)


class SelfAttentionGraphConv(nn.Module):
    """Graph conv whose adjacency is attention x learnable topology, one 1x1 conv per head (fused)."""

    def __init__(self, in_channels: int, out_channels: int, num_joints: int, heads: int = 3):
        super().__init__()
        self.attention = JointAttention(in_channels, heads)
        self.topology = nn.Parameter(torch.eye(num_joints).repeat(heads, 1, 1))
        self.mix = nn.Conv2d(heads * in_channels, out_channels, 1)  # == sum of per-head 1x1 convs
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = residual_path(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        adjacency = self.attention(x) * self.topology  # (N, H, V, V)
        gathered = torch.einsum("nhvu,nctu->nhctv", adjacency, x).reshape(n, -1, t, v)
        return F.relu(self.bn(self.mix(gathered)) + self.down(x))


class EncodingBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_joints: int, stride: int, heads: int):
        super().__init__()
        self.graph = SelfAttentionGraphConv(in_channels, out_channels, num_joints, heads)
        self.temporal = MultiScaleTemporalConv(out_channels, out_channels, kernel_size=5, stride=stride)
        self.residual = residual_path(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.temporal(self.graph(x)) + self.residual(x))


@register_encoder("infogcn")
class InfoGCN(Encoder):
    to_relative: torch.Tensor  # buffers
    class_prior: torch.Tensor

    def __init__(
        self,
        *,
        num_joints: int = 25,
        num_person: int = 2,
        in_channels: int = 3,
        width: float = 1.0,
        depth: int | None = None,
        embed_dim: int | None = None,
        heads: int = 3,
        ancestor_k: int = 1,
        layout: str = "ntu25",
        dropout: float = 0.0,
        num_classes: int | None = None,
        mmd_prior_gain: float = 3.0,
    ):
        super().__init__()
        self.num_person = num_person
        base = scaled(64, width)
        self.register_buffer("to_relative", torch.from_numpy(ancestor_offsets(layout, ancestor_k)))
        self.joint_embedding = nn.Linear(in_channels, base)
        self.position_embedding = nn.Parameter(torch.randn(1, num_joints, base) * 0.02)
        self.input_bn = nn.BatchNorm1d(num_joints * base)
        blocks, channels = [], base
        for out_channels, stride in stage_plan(64, width, depth):
            blocks.append(EncodingBlock(channels, out_channels, num_joints, stride, heads))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = channels
        self.embed_dim = embed_dim or channels
        self.fc = nn.Linear(channels, channels)
        self.dropout = nn.Dropout(dropout)
        self.fc_mu = nn.Linear(channels, self.embed_dim)
        self.fc_logvar = nn.Linear(channels, self.embed_dim)
        # Fixed class prior for the MMD term: orthogonal rows, never trained (a buffer, saved with weights).
        prior = torch.empty(max(num_classes or 1, 1), self.embed_dim)
        nn.init.orthogonal_(prior, gain=mmd_prior_gain)
        self.register_buffer("class_prior", prior)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, T, V, M) -> joint features (N, C', T', V) averaged over present bodies, weights (N, M)."""
        x = x[..., : self.num_person]  # num_person=1: only the main body, half the cost
        weights = body_weights(x)
        x = fold_bodies(x)  # (NM, C, T, V)
        nm, c, t, v = x.shape
        x = torch.einsum("vu,nctu->ntvc", self.to_relative, x)
        x = self.joint_embedding(x) + self.position_embedding  # (NM, T, V, base)
        x = self.input_bn(x.reshape(nm, t, -1).transpose(1, 2)).reshape(nm, v, -1, t).permute(0, 2, 3, 1)
        x = self.blocks(x)
        return merge_bodies(x, weights), weights

    def head(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = self.dropout(F.relu(self.fc(pooled)))
        mu, logvar = self.fc_mu(hidden), self.fc_logvar(hidden)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return {"embedding": z, "mu": mu, "logvar": logvar}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats, _ = self.features(x)
        out = self.head(self.pool(feats))
        out["joint_feats"] = feats
        return out

    def extra_losses(self, out: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Information-bottleneck terms: MMD of batch class means of z to the fixed prior, and the
        norm of the batch-mean z (keeps the latent centred)."""
        z = out["embedding"]
        if labels.max() >= self.class_prior.shape[0]:
            raise ValueError(
                f"label {int(labels.max())} >= {self.class_prior.shape[0]} classes of the MMD prior"
            )
        one_hot = F.one_hot(labels, self.class_prior.shape[0]).to(z.dtype)  # (N, K)
        counts = one_hot.sum(dim=0)
        present = counts > 0
        class_means = (one_hot.t() @ z)[present] / counts[present, None]
        mmd = F.mse_loss(class_means, self.class_prior[present])
        return {"mmd": mmd, "z_mean_norm": z.mean(dim=0).norm()}
