"""One-shot metrics: cosine 1-NN of queries to one exemplar per novel class, over seeded exemplar draws.

Everything here works on embeddings (any (N, D) array), so the learned encoder and the raw-coordinate
baseline are scored by exactly the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossglg.embedding import l2_normalise


@dataclass
class Episode:
    """One exemplar draw: indices into the novel set's samples."""

    exemplars: np.ndarray  # (C,) one sample index per novel class, ordered like NovelSet.class_names
    queries: np.ndarray  # (Q,) sample indices scored against the exemplars


@dataclass
class NovelSet:
    """A set of novel classes scored on its own (e.g. MSR Action3D 1/5/9/13/17, UTKinect, Florence)."""

    name: str
    windows: np.ndarray  # (N, 3, T, 25, 2) float32
    labels: np.ndarray  # (N,) int, 0..C-1 within this set
    class_names: list[str]
    episodes: list[Episode]
    subjects: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def raw_window_embeddings(windows: np.ndarray) -> np.ndarray:
    """The no-learning baseline: flattened normalised windows, L2-normalised (cosine 1-NN on coordinates)."""
    windows = np.asarray(windows, dtype=np.float32)
    return l2_normalise(windows.reshape(len(windows), -1))


def score_episode(
    emb: np.ndarray, labels: np.ndarray, episode: Episode, num_classes: int, ks: Sequence[int] = (1, 5)
) -> dict:
    """Top-k accuracies, per-class hits and the confusion matrix for one draw (embeddings L2-normalised)."""
    ex_labels = labels[episode.exemplars]
    if sorted(ex_labels.tolist()) != list(range(num_classes)):
        raise ValueError(
            f"episode exemplars must cover each of the {num_classes} classes once, got {ex_labels}"
        )
    sim = emb[episode.queries] @ emb[episode.exemplars].T  # (Q, C) columns in exemplar order
    order = np.argsort(-sim, axis=1, kind="stable")
    ranked = ex_labels[order]  # class ids, best first
    truth = labels[episode.queries]
    result: dict[str, Any] = {}
    for k in ks:
        result[f"top{k}"] = float(np.mean((ranked[:, : min(k, num_classes)] == truth[:, None]).any(axis=1)))
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (truth, ranked[:, 0]), 1)
    result["confusion"] = confusion
    return result


def evaluate_embeddings(emb: np.ndarray, novel: NovelSet, ks: Sequence[int] = (1, 5)) -> dict:
    """Mean ± std of top-k over the set's exemplar draws, per-class top-1 and the summed confusion matrix."""
    emb = l2_normalise(emb)
    c = len(novel.class_names)
    per_draw = [score_episode(emb, novel.labels, ep, c, ks) for ep in novel.episodes]
    confusion = sum(d["confusion"] for d in per_draw)
    out: dict = {
        "set": novel.name,
        "num_classes": c,
        "draws": len(per_draw),
        "num_queries": int(np.mean([len(ep.queries) for ep in novel.episodes])),
    }
    for k in ks:
        vals = np.array([d[f"top{k}"] for d in per_draw]) * 100.0
        out[f"top{k}_mean"] = float(vals.mean())
        out[f"top{k}_std"] = float(vals.std())
        out[f"top{k}_per_draw"] = [round(float(v), 4) for v in vals]
    row_totals = confusion.sum(axis=1)
    out["per_class_top1"] = {
        name: (float(100.0 * confusion[i, i] / row_totals[i]) if row_totals[i] else None)
        for i, name in enumerate(novel.class_names)
    }
    out["confusion"] = confusion.tolist()
    return out


def more_shots_top1(
    emb: np.ndarray, novel: NovelSet, shots: Sequence[int] = (2, 3, 5), draws: int = 20
) -> dict[str, float]:
    """What the same embedding does with more labelled examples: the one-shot number's ceiling.

    ``"<k>"``: k gallery subjects drawn at random (seeds 0..draws-1), one sample per class each, the
    other subjects' samples are queries. ``"all"``: leave one subject out, every sample of the other
    subjects is the gallery. Cosine 1-NN throughout; top-1 in %. Needs the set's subject ids.
    """
    if novel.subjects is None:
        raise ValueError(f"{novel.name}: no subject ids, so no subject-wise gallery can be drawn")
    emb, labels, subjects = l2_normalise(emb), novel.labels, np.asarray(novel.subjects)
    classes = np.unique(labels)
    complete = [u for u in np.unique(subjects) if np.isin(classes, labels[subjects == u]).all()]
    out: dict[str, float] = {}
    for k in shots:
        if k >= len(complete):
            continue  # no subject left to query
        accs = []
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            chosen = rng.permutation(complete)[:k]
            gallery = np.array(
                [rng.choice(np.flatnonzero((subjects == u) & (labels == c))) for u in chosen for c in classes]
            )
            queries = np.flatnonzero(~np.isin(subjects, chosen))
            nearest = (emb[queries] @ emb[gallery].T).argmax(axis=1)
            accs.append(np.mean(labels[gallery][nearest] == labels[queries]))
        out[str(k)] = float(100.0 * np.mean(accs))
    hits = 0
    for i in range(0, len(emb), 1024):  # query blocks: an N x N matrix is gigabytes on NTU-120
        sim = emb[i : i + 1024] @ emb.T
        sim[subjects[i : i + 1024, None] == subjects[None, :]] = -np.inf
        hits += int(np.sum(labels[sim.argmax(axis=1)] == labels[i : i + 1024]))
    out["all"] = float(100.0 * hits / len(emb))
    return out


def evaluate_sets(
    embed: Callable[[np.ndarray], np.ndarray], sets: Sequence[NovelSet], ks: Sequence[int] = (1, 5)
) -> dict:
    """Scores every novel set with one embedding function; adds the mean over sets (the headline number)."""
    results = {s.name: evaluate_embeddings(embed(s.windows), s, ks) for s in sets}
    summary = {f"top{k}_mean": float(np.mean([r[f"top{k}_mean"] for r in results.values()])) for k in ks}
    return {"sets": results, "mean_over_sets": summary}
