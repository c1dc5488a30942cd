"""One-shot protocols: NTU from file names, Kinetics from labels, the Kinect benchmark on real data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crossglg.data.protocols import (
    WIDE_BASE_EXCLUDED,
    WIDE_BASE_SIZES,
    WIDE_SETS,
    NovelSet,
    kinect_oneshot,
    kinetics_oneshot,
    ntu60_oneshot,
    ntu120_oneshot,
    parse_kinect_base,
    reduced_classes,
    spread_order,
    wide_base_order,
)
from crossglg.data.readers import class_names
from crossglg.data.sequence import SkeletonSequence


def _names(setups, performers, actions):
    return [
        Path(f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}.skeleton")
        for s in setups
        for c in (1, 2, 3)
        for p in performers
        for r in (1, 2)
        for a in actions
    ]


def test_ntu120_split_from_names():
    files = _names([1, 18], [8, 9], range(1, 121))
    split = ntu120_oneshot(files)
    assert split.novel_classes == list(range(0, 120, 6)) and len(split.novel_classes) == 20
    assert len(split.base_classes) == 100 and not set(split.base_classes) & set(split.novel_classes)
    assert split.validation_classes == list(range(1, 120, 6))  # A2, A8, ..., A116
    assert [p.name[:20] for p in split.exemplars][:2] == ["S001C003P008R001A001", "S001C003P008R001A007"]
    assert split.exemplars[-1].name.startswith("S018C003P008R001A115") and not split.missing_exemplars
    assert len(split.exemplars) == 20
    per_class = len(files) // 120
    assert len(split.test) == 20 * per_class - 20  # every novel sample except the exemplars
    assert len(split.base) == 100 * per_class
    for count in (20, 40, 60, 80):
        reduced = split.reduced_base_classes(count)
        assert len(set(reduced)) == count and set(reduced) <= set(split.base_classes)
        assert reduced == split.reduced_base_classes(count)
    assert split.reduced_base_classes(20)[:3] == [4, 10, 16]  # A5, A11, A17: bin centres
    assert len(split.reduced_base_classes(80)) == 80
    for count in (20, 40, 60, 80):
        assert not set(split.reduced_base_classes(count)) & set(split.validation_classes)
    assert not set(split.base_files(exclude_validation=True)) & set(split.validation_files())


def test_ntu60_split_and_ignored_names():
    files = _names([1], [8], range(1, 121)) + [Path("notes.txt")]
    split = ntu60_oneshot(files)
    assert split.novel_classes == list(range(0, 60, 6)) and len(split.base_classes) == 50
    assert len(split.exemplars) == 10 and len(split.ignored) == 1 + 60 * 6
    assert split.validation_classes == list(range(1, 60, 6))


def test_ntu_split_of_real_files(data_root):
    split = ntu120_oneshot(data_root)
    names = {p.name for p in split.test}
    assert names == {"S001C001P001R001A001.skeleton"}  # drink water A1 is novel, not an exemplar
    assert len(split.base) == 5 and len(split.missing_exemplars) == 20


def test_reduced_classes_rule():
    assert reduced_classes(list(range(10)), 5) == [1, 3, 5, 7, 9]
    with pytest.raises(ValueError):
        reduced_classes([1, 2], 3)


def test_kinetics_split_is_fixed_by_seed():
    labels = np.repeat(np.arange(400), 3)
    split = kinetics_oneshot(labels, seed=0)
    assert split.base_classes_20 == list(range(2, 383, 20)) and len(split.base_classes_40) == 40
    assert split.novel_classes[:2] == [3, 23] and split.novel_classes[-1] == 383
    assert len(split.support) == 20 and len(split.test) == 40
    assert [labels[i] for i in split.support] == split.novel_classes
    assert kinetics_oneshot(labels, seed=0).support == split.support
    assert kinetics_oneshot(labels, seed=1).support != split.support
    assert len(split.base[20]) == 60 and len(split.base[40]) == 120


def test_kinect_benchmark_on_real_data(data_root):
    bench = kinect_oneshot(data_root)
    assert len(bench.base_class_names) == 12 + 15 and bench.base_labels.max() == 26
    assert len(bench.base) == len(bench.base_labels) > 2000
    assert sorted(bench.novel_sets) == ["florence", "msr_action3d", "utkinect"]
    msr = bench.novel_sets["msr_action3d"]
    assert sorted(set(msr.labels)) == [0, 4, 8, 12, 16]
    assert (
        len(bench.novel_sets["utkinect"].class_names) == 10
        and len(bench.novel_sets["florence"].class_names) == 9
    )
    train, val = bench.split_base()
    assert len(train) + len(val) == len(bench.base) and len(set(bench.base_labels[val])) == 6
    assert len(bench.seeds) >= 10
    for novel in bench.novel_sets.values():
        draws = [novel.draw_exemplars(seed) for seed in bench.seeds]
        for exemplars, queries in draws:
            assert sorted(novel.labels[exemplars]) == sorted(set(novel.labels))
            assert len(set(novel.subjects[exemplars])) == 1
            assert novel.subjects[exemplars[0]] not in set(novel.subjects[queries])
            assert len(exemplars) + len(queries) <= len(novel.samples)
        assert len({tuple(e) for e, _ in draws}) > 1  # the draws differ
    np.testing.assert_array_equal(msr.draw_exemplars(3)[0], msr.draw_exemplars(3)[0])
    small = kinect_oneshot(data_root, base="msrc12")
    assert len(small.base_class_names) == 12 and set(small.base_labels) == set(range(12))
    assert small.validation_classes == [0, 5, 10]


def test_spread_order_prefixes_cover_the_range():
    for n in (1, 2, 7, 45):
        order = spread_order(n)
        assert sorted(order) == list(range(n))
    order = spread_order(45)
    for k in (4, 9, 23):  # every prefix leaves no gap much wider than n / k
        gaps = np.diff(sorted(order[:k]) + [45])
        assert gaps.max() <= 2 * 45 / k + 1


def test_wide_base_excludes_every_novel_action_by_name():
    every = {d: [k - 1 for k in class_names(d)] for d in WIDE_SETS}
    order = wide_base_order(every)
    assert len(order) == WIDE_BASE_SIZES[-1] - 27 == len(set(order))
    names = [class_names(d)[c + 1].lower() for d, c in order]
    for word in (
        "wave",
        "punch",
        "circle",
        "bow",
        "walk",
        "sit",
        "stand up",
        "pick up",
        "throw",
        "carry",
        "push",
        "clap",
        "applaud",
        "drink",
        "phone",
    ):
        assert not [n for n in names if re.search(rf"\b{word}", n)], word
    for dataset, excluded in WIDE_BASE_EXCLUDED.items():
        assert set(excluded) <= set(class_names(dataset)), dataset
    # every prefix draws from every set in proportion: the 23 first new classes hold each set
    assert {d for d, _ in order[:23]} == set(WIDE_SETS)


def test_kinect_base_names():
    assert parse_kinect_base("wide") == ("wide", None, ())
    assert parse_kinect_base("wide:50") == ("wide", 50, ())
    assert parse_kinect_base("wide-precog") == ("wide", None, ("precog",))
    assert parse_kinect_base("wide-gtu3d-precog:40") == ("wide", 40, ("gtu3d", "precog"))
    for bad in ("wide-msrc12", "wide-precog-precog", "msrc12-precog", "msrc12:20", "wide:x", "wider"):
        with pytest.raises(ValueError, match="unknown Kinect base"):
            parse_kinect_base(bad)


def test_wide_base_without_precog_on_real_data(data_root):
    """PRECOG left out of the base keeps its streams novel actions; the other sets' classes keep their
    order, so the base is the wide one with PRECOG's classes taken out."""
    wide = kinect_oneshot(data_root, base="wide", num_seeds=1, on_missing=lambda m: None)
    without = kinect_oneshot(data_root, base="wide-precog", num_seeds=1, on_missing=lambda m: None)
    assert not {s.dataset for s in without.base} & {"precog"}
    assert without.base_keys == [k for k in wide.base_keys if k[0] != "precog"]
    assert len(without.base_keys) == len(wide.base_keys) - 6  # PRECOG's 8 classes less its 2 punches
    assert without.config == f"wide{len(without.base_keys)}-precog"


def test_subjectless_set_draws_exemplars_per_class():
    samples = [SkeletonSequence(np.ones((1, 4, 25, 3)), "ntu25", label=k % 3) for k in range(9)]
    novel = NovelSet("gtu", samples, {0: "a", 1: "b", 2: "c"})
    exemplars, queries = novel.draw_exemplars(0)
    assert sorted(novel.labels[exemplars]) == [0, 1, 2]
    assert sorted([*exemplars, *queries]) == list(range(9))
    assert not set(exemplars) & set(queries)
