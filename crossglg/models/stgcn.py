"""A light ST-GCN-style encoder (Yan et al., AAAI 2018 family) on the fixed skeleton graph.

A different family from InfoGCN on purpose: the adjacency is the physical bone graph (three
partitions: self, towards the root, away from it) with a learned per-edge importance, not
attention. Six blocks (64, 64, 128/s2, 128, 128/s2, 128) keep it cheaper than InfoGCN; the
embedding head is a single linear layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crossglg.models.layers import (
    TemporalConv,
    body_weights,
    fold_bodies,
    graph_partitions,
    merge_bodies,
    residual_path,
    scaled,
)
from crossglg.models.registry import Encoder, register_encoder
from crossglg.skeleton import get_layout


class GraphConv(nn.Module):
    partitions: torch.Tensor  # a buffer

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor):
        super().__init__()
        # own storage per block: safetensors refuses tensors that share memory
        self.register_buffer("partitions", partitions.clone())
        self.edge_importance = nn.Parameter(torch.ones_like(partitions))
        self.conv = nn.Conv2d(in_channels, out_channels * partitions.shape[0], 1)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        y = self.conv(x).reshape(n, -1, self.out_channels, t, v)  # (N, K, C, T, V)
        return torch.einsum("nkctu,kvu->nctv", y, self.partitions * self.edge_importance)


class STGCNBlock(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, partitions: torch.Tensor, stride: int, kernel: int
    ):
        super().__init__()
        self.graph = GraphConv(in_channels, out_channels, partitions)
        self.bn = nn.BatchNorm2d(out_channels)
        self.temporal = TemporalConv(out_channels, out_channels, kernel, stride)
        self.residual = residual_path(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.temporal(F.relu(self.bn(self.graph(x))))
        return F.relu(y + self.residual(x))


def frame_displacement(x: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V, M) -> each frame's displacement from the one before; zero on the first frame and
    wherever a joint is absent (all zero) on either side, as a joint or body that appears or vanishes is
    not a movement. The window's origin (the spine base in its first frame) counts as absent there, which
    drops one step of one joint."""
    present = (x != 0).any(dim=1, keepdim=True)
    step = (x[:, :, 1:] - x[:, :, :-1]) * (present[:, :, 1:] & present[:, :, :-1])
    return torch.cat([torch.zeros_like(x[:, :, :1]), step], dim=2)


def zero_map(channels: int) -> nn.Linear:
    """A pooling term's learned map, zero at the start, so training starts from the plain mean."""
    layer = nn.Linear(channels, channels, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


@register_encoder("stgcn")
class STGCN(Encoder):
    PLAN = ((64, 1), (64, 1), (128, 2), (128, 1), (128, 2), (128, 1))
    left_joints: torch.Tensor  # buffers, with side_pooling only
    right_joints: torch.Tensor

    def __init__(
        self,
        *,
        num_joints: int = 25,
        num_person: int = 2,
        in_channels: int = 3,
        width: float = 1.0,
        depth: int | None = None,
        embed_dim: int | None = None,
        layout: str = "ntu25",
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        num_classes: int | None = None,  # part of every encoder's signature; ST-GCN has no class prior
        motion: bool = False,
        side_pooling: bool = False,
        peak_pooling: bool = False,
        activity_pooling: bool = False,
    ):
        super().__init__()
        self.num_person = num_person
        # motion: each joint's frame-to-frame displacement as extra input channels, computed here so
        # that windows, exports and engines are unchanged. A one-handed shake or the first frames of a
        # gesture are small in position and large in displacement.
        self.motion = bool(motion)
        in_channels *= 2 if self.motion else 1
        partitions = torch.from_numpy(graph_partitions(layout))
        if partitions.shape[-1] != num_joints:
            raise ValueError(f"layout {layout!r} has {partitions.shape[-1]} joints, config says {num_joints}")
        plan = self.PLAN if depth is None else self.PLAN[: int(depth)]
        if not plan:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.input_bn = nn.BatchNorm1d(num_joints * in_channels)
        blocks, channels = [], in_channels
        for out, stride in plan:
            out = scaled(out, width)
            blocks.append(STGCNBlock(channels, out, partitions, stride, temporal_kernel))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = channels
        self.embed_dim = embed_dim or channels
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(channels, self.embed_dim)
        # side_pooling: the mean over all joints keeps which side moved only as far as the channels encode
        # it (left- and right-sided twins were confused on the streams), so the difference of the left and
        # right joints' means enters too, through a map that starts at zero (training starts from the mean).
        self.side: nn.Linear | None = None
        if side_pooling:
            pairs = get_layout(layout).left_right
            if not pairs:
                raise ValueError(f"side_pooling: layout {layout!r} has no left/right joint pairs")
            self.register_buffer("left_joints", torch.tensor([a for a, _ in pairs]), persistent=False)
            self.register_buffer("right_joints", torch.tensor([b for _, b in pairs]), persistent=False)
            self.side = zero_map(channels)
        # peak_pooling: the mean over time dilutes a brief extreme (how high a kick reaches), so each joint's
        # maximum over time, averaged over joints, enters too, through a map that starts at zero.
        self.peak: nn.Linear | None = None
        if peak_pooling:
            self.peak = zero_map(channels)
        # activity_pooling: a punch moves a few joints for half a second, and the mean over all joints places
        # it near standing still, so the largest spread over time of any joint enters too, through a map
        # that starts at zero.
        self.activity: nn.Linear | None = None
        if activity_pooling:
            self.activity = zero_map(channels)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x[..., : self.num_person]  # num_person=1: only the main body, half the cost
        weights = body_weights(x)
        if self.motion:
            x = torch.cat([x, frame_displacement(x)], dim=1)
        x = fold_bodies(x)
        nm, c, t, v = x.shape
        x = (
            self.input_bn(x.permute(0, 3, 1, 2).reshape(nm, v * c, t))
            .reshape(nm, v, c, t)
            .permute(0, 2, 3, 1)
        )
        return merge_bodies(self.blocks(x), weights), weights

    def pool(self, feats: torch.Tensor) -> torch.Tensor:
        pooled = feats.mean(dim=(2, 3))
        if self.side is not None:
            left = feats.index_select(3, self.left_joints).mean(dim=(2, 3))
            right = feats.index_select(3, self.right_joints).mean(dim=(2, 3))
            pooled = pooled + self.side(left - right)
        if self.peak is not None:
            pooled = pooled + self.peak(feats.amax(dim=2).mean(dim=2))
        if self.activity is not None:
            spread = (feats.var(dim=2, correction=0) + 1e-6).sqrt()  # a still joint: no sqrt(0) gradient
            pooled = pooled + self.activity(spread.amax(dim=2))
        return pooled

    def head(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"embedding": self.project(self.dropout(pooled))}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats, _ = self.features(x)
        out = self.head(self.pool(feats))
        out["joint_feats"] = feats
        return out

    def extra_losses(self, out: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}
