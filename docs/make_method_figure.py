"""Draw docs/method_branches.png: the two CrossGLG branches as implemented in crossglg/models.

.venv/bin/python docs/make_method_figure.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

SKELETON = "#dbe9f6"
TEXT = "#fbe3c8"
SHARED = "#e2f0d9"
LOSS = "#f4d4d4"


def box(ax, x, y, w, h, label, color):
    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="#333")
    )
    ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=8.5)
    return (x, y, w, h)


def arrow(ax, a, b, style="-|>", dashed=False):
    (ax0, ay0, aw, ah), (bx0, by0, bw, bh) = a, b
    start = (ax0 + aw, ay0 + ah / 2) if bx0 > ax0 + aw else (ax0 + aw / 2, ay0 if by0 < ay0 else ay0 + ah)
    end = (bx0, by0 + bh / 2) if bx0 > ax0 + aw else (bx0 + bw / 2, by0 + bh if by0 < ay0 else by0)
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, lw=1, ls="--" if dashed else "-")
    )


def main() -> Path:
    fig, ax = plt.subplots(figsize=(12, 5.2))
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 5.2)
    ax.axis("off")
    win = box(ax, 0.1, 3.6, 1.5, 0.8, "window\n(N,3,60,25,2)", SKELETON)
    enc = box(ax, 2.0, 3.6, 1.7, 0.8, "encoder\n(InfoGCN | ST-GCN)\nbodies masked-mean", SKELETON)
    jid = box(ax, 4.1, 3.6, 1.6, 0.8, "JID: importance\nπ (N,25)\nF·(25π)", SKELETON)
    pool = box(ax, 6.1, 3.6, 1.3, 0.8, "pool over\nT', V", SKELETON)
    head = box(ax, 7.8, 3.6, 1.6, 0.8, "head (shared)\nz = μ (eval)", SHARED)
    cls = box(ax, 9.8, 3.6, 1.3, 0.8, "classifier W_c\n(shared)", SHARED)
    emb = box(ax, 7.8, 4.55, 1.6, 0.5, "one-shot embedding", SKELETON)
    for a, b in ((win, enc), (enc, jid), (jid, pool), (pool, head), (head, cls)):
        arrow(ax, a, b)
    arrow(ax, head, emb)
    ax.text(0.1, 5.0, "Skeleton branch (training and inference, no text)", fontsize=10, weight="bold")

    gtxt = box(ax, 0.1, 1.6, 1.7, 0.8, "LLM global text\n(key parts **bold**)", TEXT)
    lex = box(ax, 2.2, 1.6, 1.6, 0.8, "lexicon:\nparts → joints\ntarget τ (25)", TEXT)
    jtxt = box(ax, 0.1, 0.3, 1.7, 0.8, "LLM joint texts\n(25 per class)", TEXT)
    st = box(ax, 2.2, 0.3, 1.6, 0.8, "frozen sentence\nencoder (MiniLM)", TEXT)
    l2g = box(ax, 4.6, 0.9, 2.0, 1.0, "L2G cross-attention\nQ = text (1+25)\nK, V = joint feats", TEXT)
    cm = box(ax, 7.8, 0.9, 1.6, 1.0, "head (shared)\n→ z_cm", SHARED)
    clscm = box(ax, 9.8, 0.9, 1.3, 1.0, "classifier W_c\n→ y_cm", SHARED)
    for a, b in ((gtxt, lex), (jtxt, st), (st, l2g), (l2g, cm), (cm, clscm)):
        arrow(ax, a, b)
    ax.add_patch(FancyArrowPatch((5.5, 3.6), (5.8, 1.9), arrowstyle="-|>", mutation_scale=10, lw=1))
    ax.add_patch(FancyArrowPatch((1.6, 1.6), (2.3, 1.1), arrowstyle="-|>", mutation_scale=10, lw=1))
    ax.text(5.8, 2.7, "re-weighted\njoint features", fontsize=7.5)
    ax.text(0.1, 2.6, "Cross-modal branch (training only)", fontsize=10, weight="bold")

    box(ax, 4.15, 2.45, 1.3, 0.5, "L_calibrate\nKL(τ ‖ π)", LOSS)
    ax.add_patch(FancyArrowPatch((3.8, 2.2), (4.15, 2.6), arrowstyle="-|>", mutation_scale=10, lw=1, ls="--"))
    ax.add_patch(FancyArrowPatch((4.8, 3.6), (4.8, 2.95), arrowstyle="-|>", mutation_scale=10, lw=1, ls="--"))
    box(ax, 9.45, 2.4, 2.0, 0.7, "L_c = KL(sg(y_cm) ‖ y_s)\nCE(y_s) + CE(y_cm)", LOSS)
    ax.add_patch(
        FancyArrowPatch((10.45, 3.6), (10.45, 3.1), arrowstyle="-|>", mutation_scale=10, lw=1, ls="--")
    )
    ax.add_patch(
        FancyArrowPatch((10.45, 1.9), (10.45, 2.4), arrowstyle="-|>", mutation_scale=10, lw=1, ls="--")
    )
    out = Path(__file__).with_name("method_branches.png")
    fig.savefig(out, dpi=130, bbox_inches="tight")
    return out


if __name__ == "__main__":
    print(main())
