"""Small layers shared by the encoders and the CrossGLG heads.

Everything here is traced by ``torch.onnx.export``: shapes come from tensors, masks are arithmetic
(no data-dependent Python branches), so the skeleton branch exports with a dynamic batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crossglg.skeleton import get_layout


def scaled(channels: int, width: float, multiple: int = 8) -> int:
    """Channel count times ``width``, rounded to a multiple of 8 so attention heads divide evenly."""
    return max(multiple, int(round(channels * width / multiple)) * multiple)


def fold_bodies(x: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V, M) -> (N*M, C, T, V): each body is encoded as its own sample, as in ST-GCN/InfoGCN."""
    n, c, t, v, m = x.shape
    return x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)


def body_weights(x: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V, M) -> (N, M) averaging weights over the bodies that are present.

    A missing body is all zeros (canonical window contract); it gets weight 0 so it cannot dilute
    the real one. If no body is present the weights are all 0 and the result is a zero feature.
    """
    present = (x.abs().sum(dim=(1, 2, 3)) > 0).to(x.dtype)
    return present / present.sum(dim=1, keepdim=True).clamp(min=1.0)


def merge_bodies(feats: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(N*M, C, T', V) features and (N, M) weights -> (N, C, T', V) weighted mean over bodies."""
    nm, c, t, v = feats.shape
    m = weights.shape[1]
    feats = feats.reshape(-1, m, c, t, v)
    return (feats * weights[:, :, None, None, None]).sum(dim=1)


def ancestor_offsets(layout: str, k: int = 1, root: str = "spine mid") -> np.ndarray:
    """(V, V) matrix R with (R @ joints)[j] = joint j minus its k-th ancestor.

    The tree is re-rooted at ``root`` (InfoGCN roots NTU at spine mid). Ancestors stop at the root;
    the root itself keeps its absolute position so global translation is not thrown away.
    """
    lay = get_layout(layout)
    if k < 1:
        raise ValueError(f"ancestor k must be >= 1, got {k}")
    root_index = lay.index(root) if root in lay.joints else lay.parents.index(-1)
    # Re-root: reverse the parent links on the path from the old root to the new one.
    parents = list(lay.parents)
    path = [root_index]
    while parents[path[-1]] != -1:
        path.append(parents[path[-1]])
    for child, parent in zip(path[:-1], path[1:], strict=True):
        parents[parent] = child
    parents[root_index] = -1
    v = lay.num_joints
    r = np.eye(v, dtype=np.float32)
    for j in range(v):
        if j == root_index:
            continue
        a = j
        for _ in range(k):
            if parents[a] == -1:
                break
            a = parents[a]
        r[j, a] -= 1.0
    return r


def graph_partitions(layout: str) -> np.ndarray:
    """(3, V, V) ST-GCN spatial partitions: self, inward (towards the root), outward; degree-normalised."""
    lay = get_layout(layout)
    v = lay.num_joints
    inward = np.zeros((v, v), dtype=np.float32)
    for child, parent in lay.bones:
        inward[child, parent] = 1.0  # child gathers from its parent
    outward = inward.T.copy()

    def normalise(a: np.ndarray) -> np.ndarray:
        degree = a.sum(axis=1, keepdims=True)
        return np.divide(a, degree, out=np.zeros_like(a), where=degree > 0)

    return np.stack([np.eye(v, dtype=np.float32), normalise(inward), normalise(outward)])


class TemporalConv(nn.Module):
    """Conv over time only (kernel (k, 1)) with 'same' padding for its dilation, then BatchNorm."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1
    ):
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            (kernel_size, 1),
            stride=(stride, 1),
            padding=(pad, 0),
            dilation=(dilation, 1),
        )
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class TemporalMaxPool(nn.Module):
    """Max over 3 neighbouring frames (padding 1, like MaxPool2d((3, 1), padding=(1, 0))).

    Written as the max of three shifted slices: same result, but the eager CPU max-pool kernel costs
    about 1 ms per call at batch 1 here while this costs a few microseconds; exports to plain ONNX ops.
    """

    def __init__(self, stride: int = 1):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        padded = F.pad(x, (0, 0, 1, 1), value=float("-inf"))
        out = torch.maximum(torch.maximum(padded[:, :, :t], padded[:, :, 1 : t + 1]), padded[:, :, 2 : t + 2])
        return out[:, :, :: self.stride] if self.stride > 1 else out


class MultiScaleTemporalConv(nn.Module):
    """Parallel temporal branches (dilated convs, max-pool, 1x1) concatenated, as in InfoGCN/MS-G3D.

    Several receptive fields at the cost of one: each branch carries out_channels / branches.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 1, dilations=(1, 2)
    ):
        super().__init__()
        n_branches = len(dilations) + 2
        if out_channels % n_branches:
            raise ValueError(f"out_channels {out_channels} must divide into {n_branches} temporal branches")
        bc = out_channels // n_branches

        def entry() -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(in_channels, bc, 1), nn.BatchNorm2d(bc), nn.ReLU(inplace=True))

        self.branches = nn.ModuleList(
            [nn.Sequential(entry(), TemporalConv(bc, bc, kernel_size, stride, d)) for d in dilations]
        )
        self.branches.append(nn.Sequential(entry(), TemporalMaxPool(stride), nn.BatchNorm2d(bc)))
        self.branches.append(
            nn.Sequential(nn.Conv2d(in_channels, bc, 1, stride=(stride, 1)), nn.BatchNorm2d(bc))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def residual_path(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1x1 conv + BN so the sum is well defined."""
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)), nn.BatchNorm2d(out_channels)
    )


def stage_plan(
    base: int, width: float, depth: int | None, blocks_per_stage: int = 3
) -> list[tuple[int, int]]:
    """(channels, stride) per block: three stages at base, 2*base (stride 2), 4*base (stride 2).

    ``depth`` (None = 3 * blocks_per_stage) trims blocks evenly across stages for cheap CPU recipes.
    """
    total = 3 * blocks_per_stage if depth is None else int(depth)
    if total < 3:
        raise ValueError(f"depth must be >= 3 (one block per stage), got {depth}")
    per_stage = [total // 3 + (1 if i < total % 3 else 0) for i in range(3)]
    plan = []
    for stage, count in enumerate(per_stage):
        channels = scaled(base * 2**stage, width)
        for i in range(count):
            plan.append((channels, 2 if (stage > 0 and i == 0) else 1))
    return plan
