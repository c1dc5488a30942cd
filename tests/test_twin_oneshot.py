"""The twin one-shot benchmark: which held-out sided classes it finds, and how it counts."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def wide_split(data_root):
    from crossglg.data.protocols import kinect_oneshot

    return kinect_oneshot(data_root, base="wide", num_seeds=1, on_missing=lambda m: None)


def test_twin_sets_pair_held_out_sided_classes_with_their_trained_twins(wide_split, load_benchmark):
    bench = load_benchmark("bench_twin_oneshot")
    sets = bench.twin_sets(wide_split)
    assert {d: pairs for d, (_, _, pairs) in sets.items()} == {
        "gtu3d": {"right-handed shaking": "left-handed shaking"},
        "precog": {"side right kick": "side left kick"},
    }
    members, names, _ = sets["precog"]
    assert sorted(names.values()) == ["side left kick", "side right kick"]  # PRECOG's only held-out class
    assert {s.dataset for s in members} == {"precog"} and {s.label for s in members} == set(names)


def test_score_counts_right_answers_and_the_twin_apart(wide_split, load_benchmark):
    """Side-blind embeddings (a held-out class's queries lie on its twin) are named as the twin every time;
    embeddings that keep the side are right every time."""
    from crossglg.data.protocols import NovelSet
    from crossglg.training.data import window_set

    bench = load_benchmark("bench_twin_oneshot")
    members, names, pairs = bench.twin_sets(wide_split)["gtu3d"]
    novel = window_set("gtu3d", NovelSet("gtu3d", members, names), 60, [0, 1])
    code = {n: k for k, n in enumerate(novel.class_names)}
    sided = np.eye(len(names), dtype=np.float32)[novel.labels]
    result = bench.score(sided, novel, pairs)
    assert result["top1"] == 100.0
    assert result["held_out_sided"]["right-handed shaking"]["named_as_twin"] == 0.0
    held = novel.labels == code["right-handed shaking"]
    # each held-out sample: the twin's direction plus a little of its own (so no two tie), the exemplar too
    blind = np.hstack([sided, 0.1 * np.eye(len(sided), dtype=np.float32) * held[:, None]])
    blind[held, : len(names)] = np.eye(len(names), dtype=np.float32)[code["left-handed shaking"]]
    r = bench.score(blind, novel, pairs)["held_out_sided"]["right-handed shaking"]
    assert (r["top1"], r["named_as_twin"]) == (0.0, 100.0)
    assert r["queries"] == 2 * (int(held.sum()) - 1)  # each draw takes one sample as the exemplar
