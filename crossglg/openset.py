"""Open-set recognition for the one-shot gallery: when to answer "unknown", and what that costs.

A query is labelled with its best gallery class only if a *decision score* reaches an operating point
(``level``); otherwise it is "unknown". The candidate scores (``RULES``) are all computed from the query's
cosine similarities to the class prototypes and, for the relative ones, from the gallery's own
inter-class similarities, so they need nothing beyond what a :class:`crossglg.oneshot.Gallery` holds.

Which rule is the default, and whether "either hand" matching is on, was chosen on the base-class
validation split only and is stored with the measured trade-off curve in ``openset_calibration.json``
beside this module (``python -m crossglg.openset calibrate``; the evidence is in docs/results.md,
"Open-set recognition: a calibrated unknown"). Its level was then chosen on validation streams in which
part of what the person does was never enrolled (``stream-level``, :func:`choose_stream_level`; "The level,
chosen on never-enrolled streams"). ``Gallery.decide`` reads it; :func:`tradeoff` and
:meth:`Calibration.stream_tradeoff` tell a UI what a slider setting is expected to cost.

The evaluation (:func:`evaluate_open_set_protocol`, ``crossglg-eval --open-set``) enrols a subset of each
set's classes from the existing seeded exemplar draws and queries every class with the other subjects'
samples: known accuracy, rejection of never-enrolled actions, AUROC and the whole curve over the level.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("openset_calibration.json")
CALIBRATION_FORMAT = "crossglg-openset-calibration"
RULES = ("cosine", "margin", "ratio", "shifted", "normalised", "nearest")
RULE_HELP = {
    "cosine": "best cosine (absolute)",
    "margin": "best cosine minus the runner-up's",
    "ratio": "1 - (1 - best) / (1 - runner-up): the cosine distances' ratio test",
    "shifted": "best - mu, mu = mean cosine between the gallery's classes",
    "normalised": "(best - mu) / (1 - mu), mu = mean cosine between the gallery's classes",
    "nearest": "(best - nn) / (1 - nn), nn = cosine of the chosen class to its nearest other class",
}
# One level grid for every rule, so curves of different models and sets can be averaged point by point.
LEVELS = np.round(np.linspace(-1.0, 1.0, 201), 4)
LEGACY_THRESHOLD = 0.5  # the fixed cosine of earlier versions (it came from two clips)
DEFAULT_PRIOR = 0.5  # stand-in inter-class cosine for a one-class gallery when no calibration exists


# ------------------------------------------------------------------------------------------ scoring


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_similarities(
    queries: np.ndarray, prototypes: np.ndarray, mirrored: np.ndarray | None = None
) -> np.ndarray:
    """(Q, K) cosine of each unit query to each class prototype. With ``mirrored`` (K, D), the prototypes of
    the exemplars' left-right mirror images, a class scores the better of the two ("either hand"); an
    all-zero row means that class has no mirror."""
    sims = np.asarray(queries, np.float64) @ np.asarray(prototypes, np.float64).T
    if mirrored is not None and len(mirrored):
        has = np.any(np.asarray(mirrored) != 0, axis=1)
        sims = np.where(has[None], np.maximum(sims, np.asarray(queries, np.float64) @ mirrored.T), sims)
    return sims


def gallery_similarities(prototypes: np.ndarray, mirrored: np.ndarray | None = None) -> np.ndarray:
    """(K, K) cosine between the gallery's classes as a query would see them (diagonal NaN)."""
    p = np.asarray(prototypes, np.float64)
    sims = p @ p.T
    if mirrored is not None and len(mirrored):
        m = np.asarray(mirrored, np.float64)
        has = np.any(m != 0, axis=1)
        cross = np.where(has[None], p @ m.T, -np.inf)
        sims = np.maximum(sims, np.maximum(cross, cross.T))
    sims = sims.copy()
    np.fill_diagonal(sims, np.nan)
    return sims


def decision_scores(
    sims: np.ndarray, rule: str, between: np.ndarray | None = None, prior: float = DEFAULT_PRIOR
) -> tuple[np.ndarray, np.ndarray]:
    """(score per query, index of its best class) for ``rule`` from the (Q, K) similarities and the
    gallery's (K, K) inter-class similarities ``between``. A one-class gallery has no runner-up and no
    inter-class cosine: ``prior`` (the calibration's mean inter-class cosine) stands in for both."""
    if rule not in RULES:
        raise ValueError(f"unknown open-set rule {rule!r}; known: {', '.join(RULES)}")
    sims = np.atleast_2d(np.asarray(sims, np.float64))
    q, k = sims.shape
    if k == 0:
        return np.full(q, -np.inf), np.zeros(q, dtype=np.int64)
    best_idx = sims.argmax(axis=1)
    best = sims[np.arange(q), best_idx]
    if rule == "cosine":
        return best, best_idx
    if rule in ("margin", "ratio"):
        second = np.sort(sims, axis=1)[:, -2] if k > 1 else np.full(q, prior)
        if rule == "margin":
            return best - second, best_idx
        return 1.0 - (1.0 - best) / np.maximum(1.0 - second, 1e-6), best_idx
    if k > 1:
        if between is None:
            raise ValueError(f"rule {rule!r} needs the gallery's inter-class similarities")
        between = np.asarray(between, np.float64)
        if rule == "nearest":
            ref = np.nanmax(between, axis=1)[best_idx]
        else:
            ref = np.full(q, float(np.nanmean(between)))
    else:
        ref = np.full(q, prior)
    if rule == "shifted":
        return best - ref, best_idx
    return (best - ref) / np.maximum(1.0 - ref, 1e-3), best_idx


# ------------------------------------------------------------------------------------ calibration


@dataclass(frozen=True)
class Calibration:
    """The default open-set rule and what it was measured to cost (``openset_calibration.json``)."""

    rule: str = "cosine"
    level: float = LEGACY_THRESHOLD
    either_hand: bool = False
    prior: float = DEFAULT_PRIOR
    # either-hand "on"/"off" -> {"levels": [...], "known_accuracy": [...], "rejection": [...]}, validation
    curves: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    # the same curves for models that bring rest examples (a "no action" class), measured with them as
    # background, as the app decides (python -m crossglg.openset rest-curves); empty: not measured
    rest_curves: dict = field(default_factory=dict)

    def tradeoff(
        self, level: float | None = None, either_hand: bool | None = None, rest: bool = False
    ) -> dict[str, Any]:
        """Expected known accuracy and rejection of never-enrolled actions at ``level`` (default: the
        calibrated one), interpolated on the validation curve; None where no curve was measured.
        ``rest``: for a model with rest examples (the rest curves, where measured; ``with_rest`` says
        whether they were)."""
        level = self.level if level is None else float(level)
        hand = self.either_hand if either_hand is None else bool(either_hand)
        with_rest = rest and bool(self.rest_curves)
        curve = (self.rest_curves if with_rest else self.curves).get("on" if hand else "off")
        out: dict[str, Any] = {
            "rule": self.rule,
            "level": level,
            "either_hand": hand,
            "with_rest": with_rest,
            "known_accuracy": None,
            "rejection": None,
        }
        if curve:
            x = np.asarray(curve["levels"], np.float64)
            for key in ("known_accuracy", "rejection"):
                out[key] = float(np.interp(level, x, np.asarray(curve[key], np.float64)))
        return out

    def stream_tradeoff(self, level: float | None = None) -> dict[str, float] | None:
        """What a live user was measured to see at ``level`` on the never-enrolled validation streams
        (models with rest examples, part of the gestures enrolled): ``recall``, the share of enrolled
        gestures named, and ``stray_per_minute``, labels shown during gestures never enrolled. None outside
        the measured levels."""
        table = self.meta.get("stream_level", {}).get("table", [])
        level = self.level if level is None else float(level)
        if not table or not table[0]["level"] <= level <= table[-1]["level"]:
            return None
        x = [row["level"] for row in table]
        return {
            key: float(np.interp(level, x, [row[key] for row in table]))
            for key in ("recall", "stray_per_minute")
        }

    @property
    def level_range(self) -> tuple[float, float]:
        """Levels worth offering on a slider: from accepting almost everything to rejecting almost all."""
        curve = self.curves.get("on" if self.either_hand else "off")
        if not curve:
            return (0.0, 1.0)
        x = np.asarray(curve["levels"])
        rej = np.asarray(curve["rejection"])
        acc = np.asarray(curve["known_accuracy"])
        lo = x[np.flatnonzero(rej > 0.01)[0] - 1] if (rej > 0.01).any() and rej[0] <= 0.01 else x[0]
        hi = x[np.flatnonzero(acc < 0.01)[0]] if (acc < 0.01).any() else x[-1]
        return (float(lo), float(max(hi, lo)))


def calibration_from_dict(data: dict, where: str = "calibration") -> Calibration:
    if data.get("format") != CALIBRATION_FORMAT:
        raise ValueError(f"{where}: field 'format' must be {CALIBRATION_FORMAT!r}")
    if data.get("rule") not in RULES:
        raise ValueError(f"{where}: field 'rule' must be one of {RULES}, got {data.get('rule')!r}")
    for key in ("level", "prior"):
        if not isinstance(data.get(key), int | float) or not math.isfinite(data[key]):
            raise ValueError(f"{where}: field {key!r} must be a finite number")
    if not isinstance(data.get("either_hand"), bool):
        raise ValueError(f"{where}: field 'either_hand' must be true or false")
    for field_name in ("curves", "rest_curves"):
        for name, curve in data.get(field_name, {}).items():
            lengths = {len(curve.get(k, [])) for k in ("levels", "known_accuracy", "rejection")}
            if len(lengths) != 1 or 0 in lengths:
                raise ValueError(
                    f"{where}: {field_name}.{name} needs equally long levels / known_accuracy / rejection"
                )
    return Calibration(
        data["rule"],
        float(data["level"]),
        data["either_hand"],
        float(data["prior"]),
        data.get("curves", {}),
        data.get("meta", {}),
        data.get("rest_curves", {}),
    )


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> Calibration:
    from crossglg.io import read_json_object

    return calibration_from_dict(read_json_object(path), path)


def load_calibration(path: str | Path | None = None) -> Calibration:
    """The shipped calibration (or ``path``); without the file, the legacy rule (cosine >= 0.5)."""
    path = Path(path) if path is not None else CALIBRATION_FILE
    if not path.is_file():
        if path == CALIBRATION_FILE:
            return Calibration()
        raise FileNotFoundError(f"{path}: no open-set calibration file")
    return _load_cached(str(path), path.stat().st_mtime_ns)


def tradeoff(level: float | None = None, either_hand: bool | None = None) -> dict[str, Any]:
    """What the default rule at ``level`` was measured to do on the validation split: ``known_accuracy``
    (enrolled actions labelled correctly) and ``rejection`` (never-enrolled actions answered "unknown"),
    fractions in [0, 1]. For the UI, next to the operating-point slider."""
    return load_calibration().tradeoff(level, either_hand)


# ------------------------------------------------------------------------------------------ metrics


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    values = np.concatenate([pos, neg])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    uniq, inverse = np.unique(values, return_inverse=True)
    ranks = (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse]  # average rank of ties
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@dataclass
class OpenSetScores:
    """Every query of every (exemplar draw x enrolled subset) gallery of one set, pooled."""

    name: str
    known: np.ndarray  # (N,) bool: the query's class was enrolled
    correct: np.ndarray  # (N,) bool: the best enrolled class is the query's class
    scores: dict[str, np.ndarray]  # rule -> (N,) decision score
    galleries: int = 0
    enrolled: int = 0  # classes enrolled per gallery

    def operating_point(self, rule: str, level: float) -> dict[str, float]:
        accept = self.scores[rule] >= level
        return {
            "known_accuracy": float(np.mean(accept[self.known] & self.correct[self.known])),
            "rejection": float(np.mean(~accept[~self.known])),
            "known_wrong_label": float(np.mean(accept[self.known] & ~self.correct[self.known])),
        }

    def curve(self, rule: str, levels: np.ndarray = LEVELS) -> dict[str, list[float]]:
        s = self.scores[rule]
        accept = s[None, :] >= np.asarray(levels)[:, None]
        known_ok = (accept[:, self.known] & self.correct[self.known]).mean(axis=1)
        rejected = (~accept[:, ~self.known]).mean(axis=1)
        return {
            "levels": [float(x) for x in levels],
            "known_accuracy": np.round(known_ok, 5).tolist(),
            "rejection": np.round(rejected, 5).tolist(),
        }

    def auroc(self, rule: str) -> float:
        return auroc(self.scores[rule][self.known], self.scores[rule][~self.known])


def enrolment_subsets(num_classes: int, enrolled: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` distinct sorted class subsets of size ``enrolled`` (all of them when there are no more
    than ``count``), drawn with ``seed``."""
    if not 1 <= enrolled < num_classes:
        raise ValueError(f"enrol between 1 and {num_classes - 1} of {num_classes} classes, not {enrolled}")
    if math.comb(num_classes, enrolled) <= count:
        return [np.array(c) for c in combinations(range(num_classes), enrolled)]
    rng = np.random.default_rng(seed)
    seen: dict[tuple[int, ...], None] = {}
    while len(seen) < count:
        seen.setdefault(tuple(sorted(rng.choice(num_classes, size=enrolled, replace=False).tolist())), None)
    return [np.array(c) for c in seen]


def score_open_set(
    name: str,
    embeddings: np.ndarray,
    labels: np.ndarray,
    episodes: Sequence,
    mirrored: np.ndarray | None = None,
    *,
    fraction: float = 0.5,
    subsets: int = 5,
    prior: float = DEFAULT_PRIOR,
    rules: Sequence[str] = RULES,
    background: np.ndarray | None = None,
) -> OpenSetScores:
    """Open-set scores of one set. Each episode (the NovelSet draw: one exemplar per class from one
    subject, the other subjects' samples as queries) is reused with ``subsets`` enrolled class subsets of
    ceil(fraction * C) classes; every query is scored, enrolled or not. ``mirrored``: embeddings of the
    mirrored windows, row for row, to score "either hand" galleries. ``background``: (N, D) embeddings of
    rest (the model's no-action examples); as in ``Gallery.decide``, a query at least as close to one of
    them as to its best class is "unknown" at every level (its score is -inf)."""
    emb = _unit(embeddings)
    mir = _unit(mirrored) if mirrored is not None else None
    nearest_rest = None
    if background is not None and len(background):
        nearest_rest = (emb @ _unit(background).T).max(axis=1)
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1
    enrolled = min(max(1, math.ceil(fraction * num_classes)), num_classes - 1)
    known: list[np.ndarray] = []
    correct: list[np.ndarray] = []
    scores: dict[str, list[np.ndarray]] = {r: [] for r in rules}
    galleries = 0
    for i, ep in enumerate(episodes):
        ex, queries = np.asarray(ep.exemplars), np.asarray(ep.queries)
        ex_by_class = ex[np.argsort(labels[ex], kind="stable")]
        for chosen in enrolment_subsets(num_classes, enrolled, subsets, seed=i):
            protos = emb[ex_by_class[chosen]]
            mprotos = mir[ex_by_class[chosen]] if mir is not None else None
            sims = class_similarities(emb[queries], protos, mprotos)
            between = gallery_similarities(protos, mprotos)
            vetoed = nearest_rest[queries] >= sims.max(axis=1) if nearest_rest is not None else False
            for rule in rules:
                s, best = decision_scores(sims, rule, between, prior)
                scores[rule].append(np.where(vetoed, -np.inf, s))
            known.append(np.isin(labels[queries], chosen))
            correct.append(chosen[best] == labels[queries])
            galleries += 1
    return OpenSetScores(
        name,
        np.concatenate(known),
        np.concatenate(correct),
        {r: np.concatenate(v) for r, v in scores.items()},
        galleries,
        enrolled,
    )


def mean_inter_class_cosine(sets: Sequence[tuple[np.ndarray, np.ndarray, Sequence]]) -> float:
    """Mean cosine between different classes' exemplars over the draws of (embeddings, labels, episodes):
    the calibration's ``prior`` for a one-class gallery."""
    vals = []
    for embeddings, _labels, episodes in sets:
        emb = _unit(embeddings)
        for ep in episodes:
            between = gallery_similarities(emb[np.asarray(ep.exemplars)])
            vals.append(np.nanmean(between))
    return float(np.mean(vals))


def pool_sets(name: str, sets: Sequence) -> Any:
    """Several one-shot sets (``crossglg.training.metrics.NovelSet``) as one: labels offset, each draw's
    exemplars and queries joined, so a gallery can mix classes of different data sets (the subjects of
    each set still come from that set's own draw)."""
    from crossglg.training.metrics import Episode, NovelSet

    offsets = np.cumsum([0] + [len(s.windows) for s in sets])
    label_offsets = np.cumsum([0] + [len(s.class_names) for s in sets])
    draws = min(len(s.episodes) for s in sets)
    pairs = list(zip(sets, offsets[:-1], strict=True))
    episodes = [
        Episode(
            np.concatenate([s.episodes[j].exemplars + o for s, o in pairs]),
            np.concatenate([s.episodes[j].queries + o for s, o in pairs]),
        )
        for j in range(draws)
    ]
    return NovelSet(
        name,
        np.concatenate([s.windows for s in sets]),
        np.concatenate([s.labels + o for s, o in zip(sets, label_offsets[:-1], strict=True)]),
        [c for s in sets for c in s.class_names],
        episodes,
    )


# --------------------------------------------------------------------------------- the evaluation


def _set_report(sc: OpenSetScores, calibration: Calibration | None, hand: str) -> dict:
    out: dict[str, Any] = {
        "galleries": sc.galleries,
        "enrolled_classes": sc.enrolled,
        "known_queries": int(sc.known.sum()),
        "unknown_queries": int((~sc.known).sum()),
        "closed_set_accuracy": float(np.mean(sc.correct[sc.known])),
        "legacy": sc.operating_point("cosine", LEGACY_THRESHOLD),
        "rules": {},
    }
    for rule in sc.scores:
        out["rules"][rule] = {"auroc": sc.auroc(rule), "curve": sc.curve(rule)}
    if calibration is not None and calibration.rule in sc.scores:
        out["default"] = {
            "rule": calibration.rule,
            "level": calibration.level,
            **sc.operating_point(calibration.rule, calibration.level),
        }
    return out


def evaluate_open_set_protocol(
    cfg: dict,
    checkpoint: Path | None,
    out_dir: Path,
    figures: bool = True,
    fraction: float = 0.5,
    subsets: int = 5,
    no_action: bool = True,
    log=print,
) -> dict:
    """``crossglg-eval --open-set``: every candidate rule, either hand off and on, on the protocol's
    base-class validation sets (each, and pooled) and its novel sets; openset.json and openset.png.
    ``no_action``: the checkpoint's no-action examples, if it has them, are background for every gallery,
    as in the app."""
    import time

    from crossglg.checkpoint import read_checkpoint_config, read_no_action
    from crossglg.skeleton.augment import mirror
    from crossglg.training.data import prepare_data
    from crossglg.training.experiment import embed_fn_for_checkpoint
    from crossglg.training.metrics import raw_window_embeddings

    t0 = time.perf_counter()
    data = prepare_data(cfg, need_train=False)
    embed = raw_window_embeddings if checkpoint is None else embed_fn_for_checkpoint(checkpoint)
    calibration = load_calibration()
    rest_windows = read_no_action(checkpoint) if checkpoint is not None and no_action else None
    rest = embed(rest_windows) if rest_windows is not None else None
    val = list(data.val_sets)
    if len(val) > 1:
        val.append(pool_sets("val_pooled", data.val_sets))
    groups = [("validation", s) for s in val] + [("novel", s) for s in data.test_sets]
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint) if checkpoint else "raw-1nn",
        "config": cfg["name"],
        "model_hash": read_checkpoint_config(checkpoint).get("model_hash") if checkpoint else None,
        "protocol": cfg["data"]["protocol"],
        "enrol_fraction": fraction,
        "subsets_per_draw": subsets,
        "no_action_examples": 0 if rest is None else len(rest),
        "rules": {r: RULE_HELP[r] for r in RULES},
        "legacy_rule": f"cosine >= {LEGACY_THRESHOLD}",
        "calibration_in_use": {
            "rule": calibration.rule,
            "level": calibration.level,
            "either_hand": calibration.either_hand,
            "prior": calibration.prior,
        },
        "sets": {},
    }
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, s in groups:
        if s.name not in cache:
            cache[s.name] = (embed(s.windows), embed(np.stack([mirror(w) for w in s.windows])))
        emb, mir = cache[s.name]
        entry: dict[str, Any] = {"split": split, "num_classes": len(s.class_names), "draws": len(s.episodes)}
        for hand, m in (("off", None), ("on", mir)):
            sc = score_open_set(
                s.name,
                emb,
                s.labels,
                s.episodes,
                m,
                fraction=fraction,
                subsets=subsets,
                prior=calibration.prior,
                background=rest,
            )
            entry[hand] = _set_report(
                sc, calibration if hand == ("on" if calibration.either_hand else "off") else None, hand
            )
        report["sets"][s.name] = entry
        main = entry["on" if calibration.either_hand else "off"]
        d = main.get("default", {})
        leg = main["legacy"]
        log(
            f"{s.name} ({split}, {entry['num_classes']} classes, {main['enrolled_classes']} enrolled): "
            f"AUROC {main['rules'][calibration.rule]['auroc'] * 100:.1f}; default {calibration.rule} >= "
            f"{calibration.level:g}: known {d.get('known_accuracy', 0) * 100:.1f} rejected "
            f"{d.get('rejection', 0) * 100:.1f}; legacy cosine >= 0.5: known "
            f"{leg['known_accuracy'] * 100:.1f} rejected {leg['rejection'] * 100:.1f}"
        )
    report["validation_inter_class_cosine"] = mean_inter_class_cosine(
        [
            (cache[s.name][0], s.labels, s.episodes)
            for split, s in groups
            if split == "validation" and s.name != "val_pooled"
        ]
    )
    report["summary"] = summarise(report)
    report["eval_wall_s"] = time.perf_counter() - t0
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "openset.json", report)
    if figures:
        plot_open_set(report, out_dir / "openset.png")
    return report


def _mean_point(report: dict, split: str, hand: str, key: str) -> dict[str, float]:
    entries = [e[hand][key] for e in report["sets"].values() if e["split"] == split and key in e[hand]]
    return (
        {k: float(np.mean([e[k] for e in entries])) for k in ("known_accuracy", "rejection")}
        if entries
        else {}
    )


def summarise(report: dict) -> dict:
    """Means over the validation sets and over the novel sets: legacy point, default point, AUROC."""
    hand = "on" if report["calibration_in_use"]["either_hand"] else "off"
    rule = report["calibration_in_use"]["rule"]
    out = {}
    for split in ("validation", "novel"):
        sets = [e for e in report["sets"].values() if e["split"] == split]
        if not sets:
            continue
        out[split] = {
            "legacy": _mean_point(report, split, hand, "legacy"),
            "default": _mean_point(report, split, hand, "default"),
            "auroc": {
                h: {r: float(np.mean([e[h]["rules"][r]["auroc"] for e in sets])) for r in sets[0][h]["rules"]}
                for h in ("off", "on")
            },
            "default_rule": rule,
            "either_hand": hand,
        }
    return out


# ------------------------------------------------------------------------------ choosing the rule


def _mean_curve(reports: Sequence[dict], rule: str, hand: str, split: str = "validation") -> dict:
    """Known accuracy and rejection averaged over the sets of ``split`` and over the reports (models)."""
    curves = [
        e[hand]["rules"][rule]["curve"] for r in reports for e in r["sets"].values() if e["split"] == split
    ]
    if not curves:
        raise ValueError(f"no {split} sets in the reports")
    levels = curves[0]["levels"]
    if any(c["levels"] != levels for c in curves):
        raise ValueError("reports were written with different level grids")
    return {
        "levels": levels,
        "known_accuracy": np.round(np.mean([c["known_accuracy"] for c in curves], axis=0), 5).tolist(),
        "rejection": np.round(np.mean([c["rejection"] for c in curves], axis=0), 5).tolist(),
    }


def best_level(curve: dict) -> tuple[float, float]:
    """(level, balanced accuracy) maximising (known accuracy + rejection) / 2; the lowest such level."""
    bal = (np.asarray(curve["known_accuracy"]) + np.asarray(curve["rejection"])) / 2
    i = int(np.argmax(bal))
    return float(curve["levels"][i]), float(bal[i])


def select_calibration(reports: Sequence[dict]) -> dict:
    """The default rule, level and either-hand setting from the *validation* curves of one or more
    models' reports: the combination with the highest balanced accuracy at one level shared by all
    models (a rule whose scale moves between models loses here). Returns the calibration JSON object,
    with the comparison table in ``meta.candidates``."""
    candidates = []
    for hand in ("off", "on"):
        for rule in RULES:
            curve = _mean_curve(reports, rule, hand)
            level, bal = best_level(curve)
            i = curve["levels"].index(level)
            per_model = []
            for r in reports:
                own = _mean_curve([r], rule, hand)
                own_level, own_bal = best_level(own)
                shared = (own["known_accuracy"][i] + own["rejection"][i]) / 2
                per_model.append(
                    {
                        "checkpoint": r["checkpoint"],
                        "own_best_level": own_level,
                        "own_best_balanced": own_bal,
                        "balanced_at_shared_level": shared,
                    }
                )
            candidates.append(
                {
                    "rule": rule,
                    "either_hand": hand == "on",
                    "level": level,
                    "balanced_accuracy": bal,
                    "known_accuracy": curve["known_accuracy"][i],
                    "rejection": curve["rejection"][i],
                    "auroc": float(
                        np.mean(
                            [
                                e[hand]["rules"][rule]["auroc"]
                                for r in reports
                                for e in r["sets"].values()
                                if e["split"] == "validation"
                            ]
                        )
                    ),
                    "per_model": per_model,
                }
            )
    best = max(
        candidates,
        key=lambda c: (round(c["balanced_accuracy"], 6), -RULES.index(c["rule"]), not c["either_hand"]),
    )
    rule, hand = best["rule"], "on" if best["either_hand"] else "off"
    return {
        "format": CALIBRATION_FORMAT,
        "rule": rule,
        "level": best["level"],
        "either_hand": best["either_hand"],
        "prior": float(np.mean([r["validation_inter_class_cosine"] for r in reports])),
        "curves": {h: _mean_curve(reports, rule, h) for h in ("off", "on")},
        "meta": {
            "chosen_on": "base-class validation sets (each, and pooled), mean over sets and models",
            "criterion": "max balanced accuracy (known accuracy + rejection) / 2 at one shared level",
            "reports": [
                {
                    "checkpoint": r["checkpoint"],
                    "model_hash": r.get("model_hash"),
                    "config": r["config"],
                    "enrol_fraction": r["enrol_fraction"],
                    "subsets_per_draw": r["subsets_per_draw"],
                    "no_action_examples": r.get("no_action_examples", 0),  # rest examples as background
                }
                for r in reports
            ],
            "candidates": candidates,
        },
    }


STREAM_LEVEL_TIE = 0.01  # levels whose mean score is this close to the best count as tied


def _level_key(level: float) -> float:
    """Levels as reports write them (0.7 and 0.70000001 are one level)."""
    return round(float(level), 4)


def choose_stream_level(points: Sequence[tuple[str, float, float]], current: float) -> dict:
    """The level chosen from (model, level, score) points of the never-enrolled stream measure
    (``bench_streaming.py --msrc12-enrol K``, score: F1 with labels shown during never-enrolled gestures
    counted as wrong). The best mean over all points wins; a level within ``STREAM_LEVEL_TIE`` of it that
    is higher wins instead (fewer stray labels). It replaces ``current`` only if it beats it on every
    model's own mean, so that one seed alone cannot move the default."""
    by_level: dict[float, dict[str, list[float]]] = {}
    for model, level, score in points:
        by_level.setdefault(_level_key(level), {}).setdefault(model, []).append(float(score))
    models = {m for per_model in by_level.values() for m in per_model}
    table: list[dict[str, Any]] = []
    for level, per_model in sorted(by_level.items()):
        if set(per_model) != models:
            raise ValueError(
                f"level {level:g} was measured for {sorted(per_model)}, not for {sorted(models)}"
            )
        means = {m: float(np.mean(v)) for m, v in sorted(per_model.items())}
        scores = [x for v in per_model.values() for x in v]
        table.append({"level": level, "score": float(np.mean(scores)), "per_model": means})
    best = max(row["score"] for row in table)
    chosen = max(row["level"] for row in table if row["score"] >= best - STREAM_LEVEL_TIE)
    at = {r["level"]: r for r in table}
    base = at.get(_level_key(current))
    if base is None:
        raise ValueError(f"the current level {current:g} was not measured; measured: {sorted(at)}")
    moved = chosen != base["level"] and all(at[chosen]["per_model"][m] > base["per_model"][m] for m in models)
    return {"level": chosen if moved else base["level"], "candidate": chosen, "moved": moved, "table": table}


# ------------------------------------------------------------------------------------------- figure


def plot_open_set(report: dict, path: Path, rules: Sequence[str] | None = None) -> Path:
    """One panel per set: known accuracy against rejection of never-enrolled actions, each candidate rule
    swept over its level; the default operating point (star) and the legacy cosine 0.5 (cross)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from crossglg.io import atomic_open

    cal = report["calibration_in_use"]
    hand = "on" if cal["either_hand"] else "off"
    names = list(report["sets"])
    cols = 3
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.9 * rows), squeeze=False)
    rules = list(rules or RULES)
    for ax, name in zip(axes.flat, names, strict=False):
        entry = report["sets"][name][hand]
        for rule in rules:
            c = entry["rules"][rule]["curve"]
            lw = 2.2 if rule == cal["rule"] else 1.0
            ax.plot(
                np.asarray(c["rejection"]) * 100,
                np.asarray(c["known_accuracy"]) * 100,
                lw=lw,
                label=f"{rule} (AUROC {entry['rules'][rule]['auroc'] * 100:.0f})",
            )
        leg = entry["legacy"]
        ax.plot(leg["rejection"] * 100, leg["known_accuracy"] * 100, "kx", ms=9, mew=2, label="cosine >= 0.5")
        if "default" in entry:
            d = entry["default"]
            ax.plot(
                d["rejection"] * 100,
                d["known_accuracy"] * 100,
                "r*",
                ms=14,
                label=f"default: {d['rule']} >= {d['level']:g}",
            )
        ax.axhline(entry["closed_set_accuracy"] * 100, color="grey", ls=":", lw=1)
        ax.add_patch(plt.Rectangle((80, 85), 20, 15, color="green", alpha=0.08))
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_title(
            f"{name} ({report['sets'][name]['split']}, {entry['enrolled_classes']} of "
            f"{report['sets'][name]['num_classes']} enrolled)",
            fontsize=9,
        )
        ax.set_xlabel("never-enrolled rejected (%)", fontsize=8)
        ax.set_ylabel("enrolled labelled correctly (%)", fontsize=8)
        ax.legend(fontsize=6.5, loc="lower left")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(
        f"Open set: {report['config']}, {report['checkpoint']} (either hand {hand}; "
        "dotted: closed-set ceiling; green: the target region)",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- CLI


def write_json(path: Path, payload: dict) -> Path:
    """Indented JSON with every list of numbers on one line (curves stay readable and small)."""
    from crossglg.io import atomic_write_text

    text = json.dumps(payload, indent=2, ensure_ascii=False)
    text = re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    return atomic_write_text(path, text + "\n")


def _add_rest_curves(reports: list[dict], paths: list[Path], calibration: Path) -> int:
    from crossglg.io import read_json_object

    data = read_json_object(calibration)
    cal = calibration_from_dict(data, str(calibration))
    for report, path in zip(reports, paths, strict=True):
        if not report.get("no_action_examples"):
            print(f"{path}: field 'no_action_examples' is 0: not scored with rest examples", file=sys.stderr)
            return 2
    data["rest_curves"] = {h: _mean_curve(reports, cal.rule, h) for h in ("off", "on")}
    data.setdefault("meta", {})["rest_reports"] = [
        {k: r.get(k) for k in ("checkpoint", "model_hash", "config", "no_action_examples")} for r in reports
    ]
    write_json(calibration, data)
    point = calibration_from_dict(data).tradeoff(rest=True)
    print(
        f"{calibration}: rest curves of {len(reports)} models; at {cal.rule} >= {cal.level:g}: known "
        f"{point['known_accuracy'] * 100:.1f}, rejected {point['rejection'] * 100:.1f}"
    )
    return 0


def _stream_point(report: dict, path: Path) -> dict:
    """What one never-enrolled stream report measured (``bench_streaming.py --msrc12-enrol K``)."""
    from dataclasses import MISSING, fields

    from crossglg.streaming import StreamScore

    msrc = report.get("results", {}).get("msrc12") or {}
    if not msrc.get("never_enrolled"):
        raise ValueError(f"{path}: field 'results.msrc12.never_enrolled' is empty: run with --msrc12-enrol K")
    counts = [f.name for f in fields(StreamScore) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in counts if name not in msrc.get("total", {})]
    if missing:  # the lists added since (latencies, per class, confusions) are not needed here
        raise ValueError(f"{path}: field 'results.msrc12.total.{missing[0]}' is missing")
    total = StreamScore(**{name: msrc["total"][name] for name in counts})
    return {
        "model": report["model_hash"],
        "level": float(report["settings"]["threshold"]),
        "score": total.open_set_f1(msrc["never_enrolled"]["labels"]),
        "recall": total.recall,
        "stray_per_minute": msrc["never_enrolled"]["per_minute"],
        "persons": msrc["persons"],
        "enrolled": msrc["enrolled_per_gallery"],
    }


def _set_stream_level(reports: list[dict], paths: list[Path], calibration: Path) -> int:
    from crossglg.io import read_json_object

    data = read_json_object(calibration)
    cal = calibration_from_dict(data, str(calibration))
    points = [_stream_point(r, p) for r, p in zip(reports, paths, strict=True)]
    current_level = next(  # the open-set curves' choice, so that re-running starts from the same place
        (
            c["level"]
            for c in cal.meta.get("candidates", [])
            if c["rule"] == cal.rule and c["either_hand"] == cal.either_hand
        ),
        data["level"],
    )
    choice = choose_stream_level([(q["model"], q["level"], q["score"]) for q in points], current_level)
    for row in choice["table"]:  # what a user would see at each level, for the Settings dialog
        at = [q for q in points if _level_key(q["level"]) == row["level"]]
        row["recall"] = float(np.mean([q["recall"] for q in at]))
        row["stray_per_minute"] = float(np.mean([q["stray_per_minute"] for q in at]))
    data["level"] = choice["level"]
    data.setdefault("meta", {})["stream_level"] = {
        "criterion": "open-set stream F1 (labels during never-enrolled gestures count as wrong), mean over "
        f"models and galleries; ties within {STREAM_LEVEL_TIE} go to the higher level; the open-set "
        "curves' level is replaced only if beaten on every model",
        "open_set_level": current_level,
        "msrc12_persons": sorted({person for q in points for person in q["persons"]}),
        "enrolled_per_gallery": sorted({q["enrolled"] for q in points}),
        "reports": [
            {"model_hash": r["model_hash"], "model": r["model"], "command": r["command"]} for r in reports
        ],
        **choice,
    }
    write_json(calibration, data)
    for row in choice["table"]:
        own = ", ".join(f"{m[:12]} {v:.3f}" for m, v in row["per_model"].items())
        print(
            f"  level {row['level']:.2f}: mean {row['score']:.3f} ({own}); caught "
            f"{row['recall'] * 100:.0f} %, {row['stray_per_minute']:.1f} stray labels / min"
        )
    print(
        f"{calibration}: level {choice['level']:g} (best {choice['candidate']:g}, moved: {choice['moved']})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m crossglg.openset calibrate REPORT.json [...] --out FILE``: choose the default rule from
    the validation curves of one or more ``crossglg-eval --open-set`` reports and write the calibration.
    ``rest-curves REPORT.json [...]``: add the chosen rule's curves measured with rest examples (reports
    of models with a no-action class) to the calibration, leaving the choice as it is.
    ``stream-level REPORT.json [...]``: set the level from never-enrolled stream reports (what a user
    sees in a stream where part of what they do was never enrolled), the rule and either hand unchanged."""
    p = argparse.ArgumentParser(prog="python -m crossglg.openset", description=main.__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    commands = {  # name -> (what it does, what its reports are)
        "calibrate": (
            "write the calibration JSON from openset.json reports",
            "openset.json of protocol models (never saw the validation classes)",
        ),
        "rest-curves": (
            "add curves measured with rest examples to a calibration",
            "openset.json of models with rest examples",
        ),
        "stream-level": (
            "set the level from never-enrolled stream reports",
            "bench_streaming.py --msrc12-enrol K reports on validation persons, several levels and models",
        ),
    }
    for name, (what, reports_help) in commands.items():
        command = sub.add_parser(name, help=what)
        command.add_argument("reports", nargs="+", type=Path, help=reports_help)
        if name == "calibrate":
            command.add_argument("--out", type=Path, default=CALIBRATION_FILE)
        else:
            command.add_argument("--calibration", type=Path, default=CALIBRATION_FILE)
    args = p.parse_args(argv)
    reports = [json.loads(r.read_text(encoding="utf-8")) for r in args.reports]
    if args.command == "rest-curves":
        return _add_rest_curves(reports, args.reports, args.calibration)
    if args.command == "stream-level":
        try:
            return _set_stream_level(reports, args.reports, args.calibration)
        except ValueError as err:  # a report that cannot choose (names the file and field), no traceback
            print(f"stream-level: {err}", file=sys.stderr)
            return 2
    cal = select_calibration(reports)
    write_json(args.out, cal)
    print(f"{args.out}: rule {cal['rule']} level {cal['level']:g} either hand {cal['either_hand']}")
    for cand in sorted(cal["meta"]["candidates"], key=lambda x: -x["balanced_accuracy"]):
        print(
            f"  {cand['rule']:10s} either hand {'on ' if cand['either_hand'] else 'off'} level "
            f"{cand['level']:+.2f}: balanced {cand['balanced_accuracy'] * 100:.1f} (known "
            f"{cand['known_accuracy'] * 100:.1f}, rejected {cand['rejection'] * 100:.1f}), AUROC "
            f"{cand['auroc'] * 100:.1f}"
        )
    return 0


__all__ = [
    "CALIBRATION_FILE",
    "RULES",
    "Calibration",
    "OpenSetScores",
    "auroc",
    "choose_stream_level",
    "class_similarities",
    "decision_scores",
    "enrolment_subsets",
    "evaluate_open_set_protocol",
    "gallery_similarities",
    "load_calibration",
    "plot_open_set",
    "pool_sets",
    "score_open_set",
    "select_calibration",
    "tradeoff",
]

if __name__ == "__main__":
    sys.exit(main())
