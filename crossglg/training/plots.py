"""Figures for evaluation reports: confusion matrix, t-SNE embedding map, JID importance on the skeleton.

matplotlib runs with the non-interactive Agg backend; files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossglg.io import atomic_open


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 120) -> Path:
    path = Path(path)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    return path


def plot_confusion(confusion: np.ndarray, class_names: list[str], path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows: true class, columns: predicted), counts summed over draws."""
    plt = _pyplot()
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    n = len(class_names)
    size = max(4.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if frac[i, j] >= 0.005:
                    ax.text(
                        j,
                        i,
                        f"{100 * frac[i, j]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black",
                    )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title or "one-shot confusion (% of row)")
    path = _save(fig, path)
    plt.close(fig)
    return path


def tsne_map(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = len(embeddings)
    perplexity = float(min(30, max(2, (n - 1) // 3)))
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine"
    ).fit_transform(np.asarray(embeddings, dtype=np.float32))


def plot_embedding_map(
    embeddings: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    path: Path,
    title: str = "",
    seed: int = 0,
) -> Path:
    """t-SNE of (query) embeddings coloured by class: tight, separate clusters = good one-shot geometry."""
    plt = _pyplot()
    xy = tsne_map(embeddings, seed)
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab20" if len(class_names) > 10 else "tab10")
    for c, name in enumerate(class_names):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=14, color=cmap(c % cmap.N), label=name, alpha=0.85)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title or "t-SNE of query embeddings")
    path = _save(fig, path)
    plt.close(fig)
    return path


# A fixed front-view T-pose of the NTU-25 skeleton (x = subject's left, y = up), metres, for drawing only.
_NTU25_TPOSE = np.array(
    [
        [0.0, 0.0],
        [0.0, 0.28],
        [0.0, 0.62],
        [0.0, 0.75],  # spine base, spine mid, neck, head
        [0.18, 0.52],
        [0.42, 0.52],
        [0.64, 0.52],
        [0.72, 0.52],  # left shoulder, elbow, wrist, hand
        [-0.18, 0.52],
        [-0.42, 0.52],
        [-0.64, 0.52],
        [-0.72, 0.52],  # right shoulder .. hand
        [0.1, -0.02],
        [0.12, -0.45],
        [0.13, -0.85],
        [0.18, -0.9],  # left hip, knee, ankle, foot
        [-0.1, -0.02],
        [-0.12, -0.45],
        [-0.13, -0.85],
        [-0.18, -0.9],  # right hip .. foot
        [0.0, 0.52],
        [0.8, 0.52],
        [0.7, 0.58],
        [-0.8, 0.52],
        [-0.7, 0.58],  # spine sh., hand tips, thumbs
    ]
)


def plot_joint_importance(importances: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    """One front-view skeleton per class, each joint's dot sized and coloured by its JID importance.

    Front view, as when facing the person: the subject's left (+x in the canonical frame) appears on the
    viewer's right.
    """
    from crossglg.skeleton import NTU25

    plt = _pyplot()
    n = len(importances)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.6), squeeze=False)
    xy = _NTU25_TPOSE
    vmax = max(float(np.max(v)) for v in importances.values())
    for ax, (name, imp) in zip(axes[0], importances.items(), strict=True):
        imp = np.asarray(imp, dtype=np.float64)
        if imp.shape != (25,):
            raise ValueError(f"importance for {name!r} must have shape (25,), got {imp.shape}")
        for child, parent in NTU25.bones:
            ax.plot(*xy[[child, parent]].T, color="0.6", lw=1.5, zorder=1)
        sc = ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=20 + 900 * imp / vmax,
            c=imp,
            cmap="inferno_r",
            vmin=0,
            vmax=vmax,
            edgecolors="k",
            linewidths=0.4,
            zorder=2,
        )
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.colorbar(sc, ax=list(axes[0]), fraction=0.02, pad=0.02, label="JID importance")
    if title:
        fig.suptitle(title, fontsize=10)
    path = _save(fig, path)
    plt.close(fig)
    return path


def plot_text_gain(points: dict[int, dict[str, dict[int, float]]], path: Path, title: str = "") -> Path:
    """The text's gain against the size of the base vocabulary (the shape of the paper's Table A1).

    ``points``: base classes -> row ("baseline" | "full") -> seed -> novel-set mean top-1. Left: both
    rows (mean over seeds, bar = range); right: full minus baseline for each seed both rows have, and
    their mean.
    """
    plt = _pyplot()
    sizes = sorted(points)
    fig, (ax_abs, ax_gain) = plt.subplots(1, 2, figsize=(9, 3.6))
    for row, label, marker in (("baseline", "baseline (no text)", "s"), ("full", "full CrossGLG", "o")):
        xs = [n for n in sizes if points[n].get(row)]
        vals = [np.array(list(points[n][row].values())) for n in xs]
        means = np.array([v.mean() for v in vals])
        spread = np.array([means - [v.min() for v in vals], [v.max() for v in vals] - means])
        ax_abs.errorbar(xs, means, yerr=spread, marker=marker, capsize=3, label=label)
    gain_x, gain_mean = [], []
    for n in sizes:
        full, base = points[n].get("full", {}), points[n].get("baseline", {})
        gains = [full[s] - base[s] for s in sorted(set(full) & set(base))]
        if gains:
            ax_gain.scatter([n] * len(gains), gains, color="0.5", s=12, zorder=2)
            gain_x.append(n)
            gain_mean.append(float(np.mean(gains)))
    ax_gain.plot(gain_x, gain_mean, "o-", color="C1", zorder=3, label="mean over seeds")
    ax_gain.axhline(0, color="k", lw=0.8)
    ax_abs.set_ylabel("novel-set mean top-1 (%)")
    ax_gain.set_ylabel("full - baseline (points)")
    ax_abs.legend(fontsize=8)
    ax_gain.legend(fontsize=8)
    for ax in (ax_abs, ax_gain):
        ax.set_xlabel("base classes")
        ax.set_xticks(sizes)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    path = _save(fig, path)
    plt.close(fig)
    return path
