"""Streaming evaluation: the app's own recogniser on continuous skeleton recordings, scored per event.

    python benchmarks/bench_streaming.py --out streaming.json [--msrc12-per-person K] [--seed 0]
        [--draws N] [--baseline OTHER.json]
        [--threshold LEVEL] [--margin M] [--stride N] [--smoothing N] [--hold N] [--sets precog,msrc12]
        [--part all|val|test] [--msrc12-persons 4,5] [--model DIR] [--no-action model|off]
        [--idle K --idle-from next|same --idle-window whole|end] [--msrc12-enrol K] [--msrc12-examples N]
        [--msrc12-examples-from one|sessions] [--either-hand | --no-either-hand] [--exemplar-from other|own]

Each recording is replayed frame by frame through ``demo.live.replay`` (the app's buffer, 60-frame window,
stride, smoothing and open-set decision, with the app's default Settings unless --stride / --smoothing
say otherwise) with the shipped default model loaded the way ``crossglg-recognize`` loads it, against a
gallery of ONE exemplar per class from ANOTHER subject:

* PRECOG 2016 (``precog/CSV``, 70 recordings with a skeleton): events are the labelled actions
  (``PrecogStream.events``); the gallery of subject s comes from subject s+1 (cyclic): per class one of
  that subject's labelled segments (``read_precog_segments``), chosen with ``--seed``, enrolled as the
  segment (``--precog-exemplar segment``, what ``--enroll START-END`` does) or as the 2 s ending where it
  ends (``window``, what the app's 2 s recording sees).
* MSRC-12 (``msrc12``, one CSV per session, one gesture repeated ~10 times): events are
  [action point - 1.5 s, action point + 0.5 s] (crossglg.data.readers MSRC12_BEFORE_S / AFTER_S); the
  gallery of person p comes from person p+1 (cyclic): per gesture one action point, chosen with
  ``--seed``, cut the same way. ``--msrc12-per-person K`` replays a seeded subset of K sessions per person.
  ``--msrc12-examples N`` enrols N action points of that session per gesture (a user who records the
  gesture N times; the class is their mean), ``--msrc12-examples-from sessions`` in turn from each of
  that person's sessions of the gesture (recorded on different occasions). ``--idle K`` adds K idle
  windows (no-action time) as the background class, as the app's "Record idle".
  ``--msrc12-persons 4,5`` replays only those persons.

``--exemplar-from own`` measures what a user who enrols themselves gets instead: each recording's gallery
comes from the same person's other recordings (PRECOG: another subject's where none of them has the class,
counted as ``examples_from_another_person``; MSRC-12: a session whose gesture that person recorded only once
is left out, listed in ``sessions_without_own_example``), drawn per recording.

A model trained with the "no action" class keeps examples of it (crossglg.checkpoint.NO_ACTION_FILE);
as in the app they are background for every gallery (``--no-action off``: not).

Scoring (crossglg.streaming): a fire is a change of the shown label to a class; it detects an event of
its class when it falls in [start, end + 1 s]; precision / recall / F1 per event, double fires, false
labels per minute of no-action time, and the latency from an event's end to its first correct label in
SOURCE time (the decision carries the time of its newest frame, so stride and smoothing are included),
plus the measured compute time of one decision on this machine. The decision is the app's: the
calibrated open-set rule of ``Gallery.decide`` at its calibrated level, or at ``--threshold`` (0.5
reproduces the fixed cosine threshold of earlier versions); ``--either-hand`` turns mirror matching on
for every gallery (default: the calibrated setting, as a new gallery in the app). Results and their
reading: docs/results.md, "Streaming evaluation".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _live_common import DATA, machine  # noqa: E402

TARGETS = {"latency_p95_s": 0.25, "false_per_minute": 1.0, "f1": 0.8}


@dataclass(frozen=True)
class Setup:
    """What every replay of a run shares: the model, the app's settings, the decision rule."""

    embedder: object
    settings: object
    either_hand: bool | None = None  # None: the calibrated default, as a new gallery in the app


def _gallery(setup: Setup, windows: dict[str, np.ndarray], sources: dict[str, str], idle=()):
    """The exemplars of each class (one window, or a stack of them), added the way the app and
    ``--enroll`` add them; ``idle``: (window, source) pairs enrolled as one background class, as the
    app's "Record idle" does. With either-hand matching on, every exemplar's mirror is embedded too, as
    the app's store and ``crossglg-recognize`` do."""
    from crossglg.oneshot import IDLE, Gallery

    embedder = setup.embedder
    gallery = Gallery(embedder.dim, embedder.model_hash, either_hand=setup.either_hand)
    for name, window in windows.items():
        batch = window if window.ndim == 5 else window[None]
        gallery.add(name, embedder.embed(batch), batch, sources[name])
    for window, source in idle:
        gallery.add(IDLE, embedder.embed(window[None]), window[None], source, background=True)
    if gallery.either_hand:
        gallery.embed_mirrors(embedder)
    return gallery


def _evaluate(segments, events, setup: Setup, gallery) -> tuple:
    from crossglg.streaming import fires, score_stream
    from demo.live import NO_PERSON, replay

    predictions = replay(segments, setup.embedder, gallery, setup.settings)
    times = np.concatenate([s.timestamps for s in segments])
    score = score_stream(
        events, fires((p.time, p.label) for p in predictions), (float(times[0]), float(times[-1]))
    )
    decided = [p for p in predictions if p.label != NO_PERSON]
    return score, predictions, [p.compute_ms for p in decided], [p.model_ms for p in decided]


def _decision_counts(predictions, events, tolerance_s: float = 1.0) -> dict:
    """What the decisions were, by where they fall: inside an event (or its tolerance) and right, wrong
    or unknown (``event_unknown_rest``: of those, the ones where a rest example was at least as close as
    the best class); in no-action time a class (the raw material of false labels) or unknown."""
    from demo.live import NO_PERSON, UNKNOWN

    kinds = "event_right event_wrong event_unknown event_unknown_rest idle_class idle_unknown no_person"
    counts = dict.fromkeys(kinds.split(), 0)
    for p in predictions:
        if p.label == NO_PERSON:
            counts["no_person"] += 1
            continue
        owners = {e.label for e in events if e.start <= p.time <= e.end + tolerance_s}
        if owners:
            key = (
                "event_unknown"
                if p.label == UNKNOWN
                else "event_right"
                if p.label in owners
                else "event_wrong"
            )
            if key == "event_unknown" and p.looks_like_rest:
                counts["event_unknown_rest"] += 1
        else:
            key = "idle_unknown" if p.label == UNKNOWN else "idle_class"
        counts[key] += 1
    return counts


def _part(subjects, part: str) -> set:
    """The subjects replayed: all, or the first ("val") or second ("test") half in sorted order.

    Settings are chosen on "val" and reported on "test"; galleries come from the next subject either way.
    """
    ids = sorted(subjects)
    half = len(ids) // 2
    return set(ids if part == "all" else ids[:half] if part == "val" else ids[half:])


def _add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in b}


# --- PRECOG -----------------------------------------------------------------------------------------------


def _own_rng(rng: np.random.Generator, name: str) -> np.random.Generator:
    """The draws of one replayed recording's own-example gallery: fixed by the run's seed and the file, so
    they do not depend on what else is replayed."""
    return np.random.default_rng([int(rng.bit_generator.seed_seq.entropy), zlib.crc32(name.encode())])


def precog(
    root: Path,
    setup: Setup,
    rng: np.random.Generator,
    exemplar: str,
    part: str,
    log,
    exemplar_from: str = "other",
) -> dict:
    from crossglg.data import EmptySkeletonError
    from crossglg.data.readers import read_precog_segments, read_precog_stream
    from crossglg.streaming import precog_events
    from demo.live import RECORD_SECONDS, cut_window, stream_frames

    streams, skipped = [], []
    for path in sorted((root / "precog" / "CSV").glob("Seq*_*.csv")):
        try:
            streams.append(read_precog_stream(path))
        except EmptySkeletonError as exc:
            skipped.append(str(exc))
    by_subject = defaultdict(list)
    for s in streams:
        by_subject[s.subject].append(s)
    subjects = sorted(by_subject)
    cuts = {st.sequence.source: read_precog_segments(st.sequence.source) for st in streams}
    names = sorted({e.label_name for st in streams for e in st.events})

    def gallery(s: int, draw: np.random.Generator, replayed=None) -> tuple:
        """One segment per class: of the next subject that has it, or (``replayed`` given) of subject s's
        own other recordings, the next subject's where none of them has the class."""
        windows, sources, borrowed = {}, {}, 0
        for name in names:
            for step in range(0 if replayed is not None else 1, len(subjects)):
                other = subjects[(subjects.index(s) + step) % len(subjects)]
                candidates = [
                    (st, seg)
                    for st in sorted(by_subject[other], key=lambda x: x.script)
                    if st is not replayed
                    for seg in cuts[st.sequence.source]
                    if seg.label_name == name
                ]
                if candidates:
                    borrowed += other != s
                    break
            st, seg = candidates[int(draw.integers(len(candidates)))]
            times, frames = stream_frames(st.sequence)
            end = float(seg.timestamps[-1])
            start = float(seg.timestamps[0]) if exemplar == "segment" else end - RECORD_SECONDS
            windows[name] = cut_window(times, frames, st.sequence.layout, start, end)
            sources[name] = f"{Path(st.sequence.source).name}@{start:.2f}-{end:.2f}"
        return _gallery(setup, windows, sources), sources, borrowed

    own = exemplar_from == "own"
    galleries, gallery_info, borrowed = {}, {}, 0
    if not own:
        for s in subjects:  # the gallery of subject s comes from the next subject
            galleries[s], gallery_info[s], _ = gallery(s, rng)
    rows, total, compute, model, counts, seconds = [], None, [], [], {}, 0.0
    replayed = _part(subjects, part)
    for st in (st for st in streams if st.subject in replayed):
        events = precog_events(st)
        if own:  # the person's own examples, from their other recordings
            name = Path(st.sequence.source).name
            g, gallery_info[name], lent = gallery(st.subject, _own_rng(rng, name), replayed=st)
            borrowed += lent
        else:
            g = galleries[st.subject]
        score, predictions, c_ms, m_ms = _evaluate([st.sequence], events, setup, g)
        counts = _add(counts, _decision_counts(predictions, events))
        seconds += st.sequence.num_frames / st.fps
        total = score if total is None else total + score
        compute += c_ms
        model += m_ms
        rows.append(
            {
                "file": Path(st.sequence.source).name,
                "subject": st.subject,
                "seconds": st.sequence.num_frames / st.fps,
                "decisions": len(predictions),
                **score.summary(),
            }
        )
        log(f"precog {rows[-1]['file']}: {score.detected}/{score.events} detected, {score.fires} fires")
    return {
        "recordings": len(rows),
        "subjects": sorted(replayed),
        "skipped": skipped,
        "exemplar": exemplar,
        "exemplar_from": exemplar_from,
        "examples_from_another_person": borrowed,
        "stream_s": seconds,
        "decision_counts": counts,
        "gallery_sources": {str(k): v for k, v in gallery_info.items()},
        "total": total.summary(),
        **_times(compute, model),
        "per_recording": rows,
    }


# --- MSRC-12 ----------------------------------------------------------------------------------------------


def msrc12(
    root: Path,
    setup: Setup,
    rng: np.random.Generator,
    per_person: int,
    part: str,
    log,
    idle: int = 0,
    idle_from: str = "next",
    idle_window: str = "whole",
    only: tuple[int, ...] = (),
    enrol: int = 0,
    examples: int = 1,
    spread: str = "one",
    exemplar_from: str = "other",
) -> dict:
    from crossglg.data.readers import (
        MSRC12_AFTER_S,
        MSRC12_BEFORE_S,
        MSRC_NAME,
        class_names,
        read_msrc12_tags,
    )
    from crossglg.streaming import msrc12_events, read_stream
    from demo.live import RECORD_SECONDS, cut_window, stream_frames

    names = class_names("msrc12")
    before, after = MSRC12_BEFORE_S, MSRC12_AFTER_S
    folder = root / "msrc12"
    sessions = defaultdict(list)  # person -> [(gesture, csv path)]
    missing = []
    for csv in sorted(folder.glob("*.csv")):
        match = MSRC_NAME.search(csv.name)
        if not csv.with_suffix(".tagstream").is_file():
            missing.append(f"{csv.name}: no tagstream")
            continue
        sessions[int(match.group(5))].append((int(match.group(3)), csv))
    missing += [
        f"{t.name}: its CSV is missing"
        for t in sorted(folder.glob("*.tagstream"))
        if not t.with_suffix(".csv").is_file()
    ]
    persons = sorted(sessions)
    chosen = {}
    for p in persons:
        items = sessions[p]
        if per_person and per_person < len(items):
            picks = sorted(rng.choice(len(items), per_person, replace=False).tolist())
            items = [items[i] for i in picks]
        chosen[p] = items

    @cache  # exemplars and idle windows come from the same few sessions of a person: read each once
    def session_frames(csv: Path) -> tuple[np.ndarray, list]:
        return stream_frames(read_stream(csv, "msrc12")[0])

    def exemplar(
        person: int, gesture: int, replayed: Path | None = None, draw: np.random.Generator = rng
    ) -> tuple[np.ndarray, str] | None:
        """The gesture's examples: of the next person that has it, or (``replayed`` given) of the
        person's own other sessions (None where they have none)."""
        if replayed is not None:
            candidates = [csv for g, csv in sessions[person] if g == gesture and csv != replayed]
            if not candidates:
                return None
        else:
            for step in range(1, len(persons)):
                other = persons[(persons.index(person) + step) % len(persons)]
                candidates = [csv for g, csv in sessions[other] if g == gesture]
                if candidates:
                    break
        first = int(draw.integers(len(candidates)))
        # "sessions": round robin over the other person's sessions of the gesture, from the drawn one on
        order = candidates[first:] + candidates[:first] if spread == "sessions" else [candidates[first]]
        windows, sources = [], []
        for i, csv in enumerate(order):
            count = len(range(i, examples, len(order)))
            if not count:
                break
            times, frames = session_frames(csv)
            points = [
                t
                for t, g in read_msrc12_tags(csv.with_suffix(".tagstream"))
                if g == gesture and t - before >= times[0] and t + after <= times[-1]
            ]
            if examples == 1:  # the draw every earlier report made: its galleries stay the same
                picked = [points[int(draw.integers(len(points)))]]
            else:  # several of one session, recorded one after another as a user would
                count = min(count, len(points))
                picked = [points[k] for k in sorted(draw.choice(len(points), count, replace=False).tolist())]
            windows += [cut_window(times, frames, "kinect_v1", t - before, t + after) for t in picked]
            sources += [f"{csv.name}@{t:.2f}" for t in picked]
        return np.stack(windows), ", ".join(sources)

    idle_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])  # gesture draws unchanged
    enrol_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])  # a child of its own

    @cache
    def idle_source(csv: Path) -> tuple[np.ndarray, list, list]:
        times, frames = session_frames(csv)
        events = msrc12_events(read_msrc12_tags(csv.with_suffix(".tagstream")), names)
        return times, frames, sorted(events, key=lambda e: e.start)

    def idle_windows(person: int, replayed: Path) -> list[tuple[np.ndarray, str]]:
        """``idle`` windows, one per session in a seeded order, of the next person (``idle_from``
        "next", like the gestures) or of the same person's other sessions ("same": the app's user
        records their own idle): a whole window of no-action time (``idle_window`` "whole": no event
        overlaps it) or a window ending in no-action time ("end": where the scoring counts a label as
        false, so it may hold the end of a gesture and the return to rest)."""
        other = person if idle_from == "same" else persons[(persons.index(person) + 1) % len(persons)]
        span = RECORD_SECONDS  # what the app records for an idle example
        found = []
        for i in idle_rng.permutation(len(sessions[other])):
            csv = sessions[other][i][1]
            if len(found) == idle or csv == replayed:
                continue
            times, frames, events = idle_source(csv)
            edges = [float(times[0]), *(t for e in events for t in (e.start, e.end)), float(times[-1])]
            if idle_window == "whole":  # (first, last) possible end of the window in each gap
                ends = [(a + span, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]
            else:
                ends = [
                    (max(a + (1.0 if a > times[0] else 0.0), float(times[0]) + span), b)
                    for a, b in zip(edges[::2], edges[1::2], strict=True)
                ]
            stretches = [(a, b) for a, b in ends if b >= a]
            if stretches:
                a, b = stretches[int(idle_rng.integers(len(stretches)))]
                end = float(idle_rng.uniform(a, b))
                try:
                    window = cut_window(times, frames, "kinect_v1", end - span, end)
                except LookupError:  # nobody in view there: not an idle example the app could record
                    continue
                found.append((window, f"{csv.name}@{end:.2f}"))
        return found

    rows, total, compute, model, gallery_info, counts, seconds = [], None, [], [], {}, {}, 0.0
    unenrolled, unenrolled_s = None, 0.0  # sessions of gestures the gallery lacks (enrol > 0)
    replayed = set(only) if only else _part(persons, part)
    own, no_own_example = exemplar_from == "own", []
    for p in persons:  # every person's exemplars are drawn, so each part sees the same galleries
        pairs = {} if own else {names[g]: exemplar(p, g) for g in sorted(names)}
        enrolled = (
            set(enrol_rng.choice(sorted(names), enrol, replace=False).tolist()) if enrol else set(names)
        )
        if p not in replayed:
            continue
        if not own:
            gallery_info[p] = {names[g]: pairs[names[g]][1] for g in sorted(enrolled)}
            windows = {names[g]: pairs[names[g]][0] for g in sorted(enrolled)}
            gallery = _gallery(setup, windows, gallery_info[p])
        for gesture, csv in chosen[p]:
            if own:  # the person's own examples, from their other sessions; none of this one
                draw = _own_rng(rng, csv.name)
                drawn = {names[g]: exemplar(p, g, csv, draw) for g in sorted(enrolled)}
                if any(v is None for v in drawn.values()):
                    no_own_example.append(csv.name)  # the gesture has no other session of this person
                    continue
                windows = {name: v[0] for name, v in drawn.items()}
                gallery_info[csv.name] = {name: v[1] for name, v in drawn.items()}
                gallery = _gallery(setup, windows, gallery_info[csv.name])
            segments = read_stream(csv, "msrc12")
            times, _ = stream_frames(segments[0])
            if gesture not in enrolled:  # every label shown here names an action the user is not doing
                score, _, _, _ = _evaluate(segments, [], setup, gallery)
                unenrolled = score if unenrolled is None else unenrolled + score
                unenrolled_s += float(times[-1] - times[0])
                continue
            background = idle_windows(p, csv) if idle else []  # drawn per session: "same" skips it
            if background:
                gallery = _gallery(setup, windows, gallery_info[csv.name if own else p], background)
            tags = read_msrc12_tags(csv.with_suffix(".tagstream"))
            events = [e for e in msrc12_events(tags, names) if e.end > times[0] and e.start < times[-1]]
            score, predictions, c_ms, m_ms = _evaluate(segments, events, setup, gallery)
            counts = _add(counts, _decision_counts(predictions, events))
            seconds += float(times[-1] - times[0])
            total = score if total is None else total + score
            compute += c_ms
            model += m_ms
            rows.append(
                {
                    "file": csv.name,
                    "person": p,
                    "gesture": names[gesture],
                    "seconds": float(times[-1] - times[0]),
                    "decisions": len(predictions),
                    "events_outside_recording": len(tags) - len(events),
                    "idle_sources": [s for _, s in background],
                    **score.summary(),
                }
            )
            log(f"msrc12 {csv.name}: {score.detected}/{score.events} detected, {score.fires} fires")
    return {
        "sessions": len(rows),
        "persons": sorted(replayed),
        "sessions_available": sum(len(v) for v in sessions.values()),
        "per_person": per_person or "all",
        "idle_exemplars": idle,
        "idle_from": idle_from,
        "idle_window": idle_window,
        "skipped": missing,
        "stream_s": seconds,
        "decision_counts": counts,
        "gallery_sources": {str(k): v for k, v in gallery_info.items()},
        "enrolled_per_gallery": enrol or len(names),
        "examples_per_gesture": examples,
        "examples_from": spread,
        "exemplar_from": exemplar_from,
        "sessions_without_own_example": no_own_example,
        "never_enrolled": None
        if unenrolled is None
        else {
            "seconds": unenrolled_s,
            "labels": unenrolled.fires,
            "per_minute": unenrolled.fires / (unenrolled_s / 60),
            "open_set_f1": total.open_set_f1(unenrolled.fires),
        },
        "total": total.summary(),
        **_times(compute, model),
        "per_recording": rows,
    }


# --- report -----------------------------------------------------------------------------------------------


def _times(compute: list[float], model: list[float]) -> dict:
    c, m = np.asarray(compute), np.asarray(model)
    return {
        "decisions": len(c),
        "compute_ms_p50": float(np.percentile(c, 50)),
        "compute_ms_p95": float(np.percentile(c, 95)),
        "model_ms_p50": float(np.percentile(m, 50)),
        "model_ms_p95": float(np.percentile(m, 95)),
    }


def _most(counts: dict[str, int], n: int = 6) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:n])


def twin_confusions(total: dict) -> int:
    """How many of the wrong names shown during an action were its left-right twin ("front right kick"
    shown for "front left kick"): what an encoder blind to the side gets wrong."""
    from crossglg.skeleton.augment import mirror_labels

    classes = sorted(total["per_class"])
    twins = {
        (c, classes[j])
        for c, j in zip(classes, mirror_labels(classes), strict=True)
        if j >= 0 and classes[j] != c
    }
    return sum(n for pair, n in total["confusions"].items() if tuple(pair.split(" -> ")) in twins)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verdict(result: dict) -> dict:
    t = result["total"]
    p95 = t["latency_p95_s"]
    end_to_end = None if p95 is None else p95 + result["compute_ms_p95"] / 1000.0
    return {
        "latency_p95_s<=0.25": end_to_end is not None and end_to_end <= TARGETS["latency_p95_s"],
        "false_per_minute<=1": t["false_per_minute"] <= TARGETS["false_per_minute"],
        "f1>=0.8": t["f1"] >= TARGETS["f1"],
        "latency_p95_plus_compute_p95_s": end_to_end,
    }


def table(results: dict) -> str:
    head = (
        f"{'data set':<22}{'events':>7}{'P':>7}{'R':>7}{'F1':>7}{'double':>8}{'false/min':>10}{'rest/min':>9}"
        f"{'lat p50':>9}{'lat p95':>9}{'ms p50':>8}{'ms p95':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        t = r["total"]

        def s(v):
            return "-" if v is None else f"{v:.2f}"

        lines.append(
            f"{name:<22}{t['events']:>7}{t['precision']:>7.2f}{t['recall']:>7.2f}{t['f1']:>7.2f}"
            f"{t['double_fires']:>8}{t['false_per_minute']:>10.2f}{t['rest_false_per_minute']:>9.2f}"
            f"{s(t['latency_p50_s']):>9}"
            f"{s(t['latency_p95_s']):>9}{r['compute_ms_p50']:>8.1f}{r['compute_ms_p95']:>8.1f}"
        )
    return "\n".join(lines)


def summary_table(summary: dict) -> str:
    def s(spread: dict) -> str:
        if spread["mean"] is None:
            return "-"
        return f"{spread['mean']:.3f} [{spread['min']:.3f}, {spread['max']:.3f}]"

    lines = [f"over gallery draws {summary['seeds']}: mean [min, max]"]
    for name, per_set in summary["sets"].items():
        lines.append(f"  {name}: " + "; ".join(f"{key} {s(v)}" for key, v in per_set.items()))
    lines.append(f"  mean F1 over the sets: {s(summary['mean_f1'])}")
    return "\n".join(lines)


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def evaluate(args, setup: Setup, seed: int, log) -> dict:
    """Every set of ``args.sets`` replayed with the galleries (and subsets) of one seeded draw."""
    sets, results = args.sets.split(","), {}
    if "precog" in sets:
        kinds = ("segment", "window") if args.precog_exemplar == "both" else (args.precog_exemplar,)
        for kind in kinds:
            t0 = time.perf_counter()
            rng = np.random.default_rng(seed)
            result = precog(args.data, setup, rng, kind, args.part, log, exemplar_from=args.exemplar_from)
            result["wall_s"] = time.perf_counter() - t0
            results[f"precog ({kind})"] = result
    if "msrc12" in sets:
        t0 = time.perf_counter()
        result = msrc12(
            args.data,
            setup,
            np.random.default_rng(seed),
            args.msrc12_per_person,
            args.part,
            log,
            idle=args.idle,
            idle_from=args.idle_from,
            idle_window=args.idle_window,
            only=args.msrc12_persons,
            enrol=args.msrc12_enrol,
            examples=args.msrc12_examples,
            spread=args.msrc12_examples_from,
            exemplar_from=args.exemplar_from,
        )
        result["wall_s"] = time.perf_counter() - t0
        results["msrc12"] = result
    for result in results.values():
        result["verdict"] = verdict(result)
        result["twin_confusions"] = twin_confusions(result["total"])
    return results


def set_f1(result: dict) -> float:
    """A set's event F1; with never-enrolled gestures, its open-set F1 (their labels count as wrong)."""
    never = result.get("never_enrolled")
    return never["open_set_f1"] if never else result["total"]["f1"]


def mean_f1(results: dict) -> float:
    """The mean of :func:`set_f1` over the replayed sets: the figure by which the rounds of
    docs/results.md compare settings and models."""
    return float(np.mean([set_f1(r) for r in results.values()]))


SUMMARISED = ("f1", "precision", "recall", "false_per_minute", "latency_p95_s")


def _spread(values: list) -> dict:
    known = [v for v in values if v is not None]
    return {
        "per_draw": values,
        "mean": float(np.mean(known)) if known else None,
        "min": min(known, default=None),
        "max": max(known, default=None),
    }


def draw_summary(draws: dict[int, dict]) -> dict:
    """Mean and range over gallery draws, per set and of :func:`mean_f1`: one draw's figure moves by as
    much as a lever's effect (eighteenth round), so settings are compared over the same draws."""
    seeds = sorted(draws)
    summary: dict = {"seeds": seeds, "mean_f1": _spread([mean_f1(draws[s]) for s in seeds]), "sets": {}}
    for name in draws[seeds[0]]:
        per_set = {key: _spread([draws[s][name]["total"][key] for s in seeds]) for key in SUMMARISED}
        if draws[seeds[0]][name].get("never_enrolled"):
            per_set["open_set_f1"] = _spread([set_f1(draws[s][name]) for s in seeds])
        summary["sets"][name] = per_set
    return summary


def recording_counts(results: dict) -> dict[str, list[list]]:
    """Per set, [file, events, fires, detecting fires] of each recording (a set's event F1 is their sum's)."""
    return {
        name: [[r["file"], r["events"], r["fires"], r["detected"]] for r in result["per_recording"]]
        for name, result in results.items()
    }


def _f1_of_sums(sums: np.ndarray) -> np.ndarray:
    """(..., 3) summed [events, fires, detecting fires] -> event F1 by StreamScore's own definition."""
    from crossglg.streaming import StreamScore

    flat = [StreamScore(int(e), int(f), int(d), 0, 0, 0, 0.0).f1 for e, f, d in sums.reshape(-1, 3)]
    return np.array(flat).reshape(sums.shape[:-1])


def recording_interval(
    mine: dict[int, dict],
    theirs: dict[int, dict] | None,
    seeds: list[int],
    resamples: int = 2000,
    rng_seed: int = 0,
) -> list[float] | None:
    """95 % interval of the mean F1 (mean over draws and sets), or with ``theirs`` of the difference to it,
    when the recordings are drawn again with replacement, the same ones for both models and every draw that
    replayed them. MSRC-12's gestures are mostly caught or missed a session at a time (twenty-seventh
    round), so a difference well inside this interval can come from which sessions were recorded.
    ``mine`` / ``theirs``: per draw, :func:`recording_counts`; None when either lacks one of ``seeds``."""
    sources = [mine] if theirs is None else [mine, theirs]
    if not seeds or any(s not in src for src in sources for s in seeds):
        return None
    rng = np.random.default_rng(rng_seed)
    total = np.zeros(resamples)
    names = sorted(mine[seeds[0]])
    for name in names:
        if theirs is not None and any(
            sorted(r[0] for r in mine[s][name]) != sorted(r[0] for r in theirs[s][name]) for s in seeds
        ):
            raise ValueError(f"{name}: the two reports replayed different recordings")
        files = sorted({r[0] for s in seeds for r in mine[s][name]})  # draws may replay different subsets
        counts = np.zeros((len(sources) * len(seeds), len(files), 3))  # a recording not replayed counts 0
        for k, rows in enumerate(src[s][name] for src in sources for s in seeds):
            for file, *values in rows:
                counts[k, files.index(file)] = values
        picks = rng.integers(0, len(files), (resamples, len(files)))
        weights = np.stack([np.bincount(p, minlength=len(files)) for p in picks]).astype(float)
        f1 = _f1_of_sums(np.einsum("kn,dnc->kdc", weights, counts)).reshape(resamples, len(sources), -1)
        value = f1[:, 0].mean(axis=1) - (f1[:, 1].mean(axis=1) if theirs is not None else 0.0)
        total += value / len(names)
    return [float(v) for v in np.percentile(total, [2.5, 97.5])]


def own_recordings(results: dict) -> dict[str, list[list]] | None:
    """:func:`recording_counts` of one draw's results; None for open-set replays (their F1 also counts the
    labels given to never-enrolled gestures, which is not a sum over recordings) or results without them."""
    if any(r.get("never_enrolled") or "per_recording" not in r for r in results.values()):
        return None
    return recording_counts(results)


def paired(report: dict, baseline: dict) -> dict:
    """This report's :func:`mean_f1` against a baseline's, draw by draw over the draws both replayed (a
    report without ``draw_summary`` holds one draw: its ``seed``), with :func:`recording_interval`."""

    def by_seed(r: dict) -> dict[int, float]:
        if "draw_summary" in r:
            s = r["draw_summary"]
            return dict(zip(s["seeds"], s["mean_f1"]["per_draw"], strict=True))
        return {r["seed"]: mean_f1(r["results"])}

    if (baseline["part"], sorted(baseline["results"])) != (report["part"], sorted(report["results"])):
        raise ValueError(
            f"the baseline replayed {sorted(baseline['results'])} ({baseline['part']}), this report "
            f"{sorted(report['results'])} ({report['part']}): not comparable"
        )
    mine, theirs = by_seed(report), by_seed(baseline)
    common = sorted(set(mine) & set(theirs))
    if not common:
        raise ValueError(f"no gallery draw in common: {sorted(mine)} vs the baseline's {sorted(theirs)}")
    diffs = [mine[s] - theirs[s] for s in common]

    def recordings(r: dict) -> dict[int, dict]:
        """Per draw, :func:`recording_counts`; none for open-set replays and reports without them."""
        own = own_recordings(r["results"])
        if own is None:
            return {}
        if "draw_recordings" in r:
            return {int(k): v for k, v in r["draw_recordings"].items()}
        return {} if "draw_summary" in r else {r["seed"]: own}  # draws written before draw_recordings: none

    return {
        "baseline": baseline.get("model"),
        "baseline_model_hash": baseline.get("model_hash"),
        "seeds": common,
        "differences": diffs,
        "mean_difference": float(np.mean(diffs)),
        "higher_in": sum(d > 0 for d in diffs),
        "recording_interval_95": recording_interval(recordings(report), recordings(baseline), common),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path)
    p.add_argument("--seed", type=int, default=0, help="exemplar and subset draws")
    p.add_argument(
        "--draws",
        type=_at_least_one,
        default=1,
        help="replay with the gallery draws --seed ... --seed + N - 1 and report their mean and range "
        "(the tables show the first)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        help="a report of another model (same sets and part) to compare with, draw by draw, with the 95 %% "
        "interval of the difference over recordings drawn again",
    )
    p.add_argument("--sets", default="precog,msrc12")
    p.add_argument(
        "--exemplar-from",
        choices=("other", "own"),
        default="other",
        help="examples of another person (the protocol), or the replayed person's own, from their other "
        "recordings (what a user who enrols themselves gets; MSRC-12 sessions whose gesture the person "
        "recorded only once are left out)",
    )
    p.add_argument("--precog-exemplar", choices=("segment", "window", "both"), default="both")
    p.add_argument("--msrc12-per-person", type=int, default=0, help="seeded subset of sessions (0: all)")
    p.add_argument(
        "--part",
        choices=("all", "val", "test"),
        default="all",
        help="subjects replayed: all, or the first (val: choose settings here) or second half (test)",
    )
    p.add_argument("--stride", type=int, help="override the app's default (say so when reporting)")
    p.add_argument("--smoothing", type=int, help="override the app's default (say so when reporting)")
    p.add_argument("--hold", type=int, help="override the app's default (say so when reporting)")
    p.add_argument("--window-seconds", type=float, help="override the app's default (say so when reporting)")
    p.add_argument(
        "--threshold",
        type=float,
        help="operating point of the open-set rule (default: the calibrated level, as in the app; "
        "0.5 is the fixed cosine threshold of earlier versions)",
    )
    p.add_argument(
        "--margin",
        type=float,
        help="the app's Settings.margin: above 0, a label also needs this lead of the best class's cosine "
        "over the runner-up's (the fixed-cosine rule, at --threshold)",
    )
    p.add_argument(
        "--idle",
        type=int,
        default=0,
        help="MSRC-12: enrol this many idle windows (no-action time; whose: --idle-from) as a "
        "background class (PRECOG has no 2 s of no-action time to cut one from)",
    )
    p.add_argument(
        "--idle-from",
        choices=("next", "same"),
        default="next",
        help="idle windows from the gallery's person, or from the replayed person's other sessions",
    )
    p.add_argument(
        "--idle-window",
        choices=("whole", "end"),
        default="whole",
        help="idle windows wholly in no-action time, or only ending there (after a gesture's tolerance)",
    )
    p.add_argument(
        "--msrc12-persons",
        type=lambda text: tuple(int(x) for x in text.split(",")),
        default=(),
        help="MSRC-12: replay only these persons (e.g. 4,5: the validation persons of a model whose "
        "no-action class came from persons 1-3); overrides --part there",
    )
    p.add_argument(
        "--msrc12-enrol",
        type=int,
        default=0,
        help="MSRC-12: enrol only this many gestures per gallery (seeded); the sessions of the others are "
        "scored as labels per minute during actions that were never enrolled (default: all)",
    )
    p.add_argument(
        "--msrc12-examples",
        type=_at_least_one,
        default=1,
        help="MSRC-12: enrol this many action points of the other person's session per gesture (default 1)",
    )
    p.add_argument(
        "--msrc12-examples-from",
        choices=("one", "sessions"),
        default="one",
        help="MSRC-12: the examples come from one session of the other person (recorded one after "
        "another) or in turn from each of their sessions of the gesture (recorded on another occasion)",
    )
    p.add_argument(
        "--no-action",
        choices=("model", "off"),
        default="model",
        help="the model's no-action examples as background (as in the app), or not",
    )
    p.add_argument(
        "--either-hand",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="every exemplar also matches its left-right mirror (default: the calibrated setting)",
    )
    p.add_argument("--model", help="model folder or shipped name (default: the shipped default)")
    p.add_argument("--backend", default="auto")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    baseline = None
    if args.baseline:  # read before the replay, which takes minutes
        try:
            baseline = json.loads(args.baseline.read_text())
        except (OSError, ValueError) as err:
            p.error(f"--baseline {args.baseline}: {err}")
        if baseline.get("part") != args.part:
            p.error(f"--baseline {args.baseline} replayed part {baseline.get('part')!r}, not {args.part!r}")

    from crossglg.checkpoint import DEFAULT_CHECKPOINT
    from demo.live import Settings
    from demo.runtime import load_embedder

    def log(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    keys = ("stride", "smoothing", "hold", "window_seconds", "threshold", "margin")
    overrides = {k: getattr(args, k) for k in keys}
    settings = replace(Settings(), **{k: v for k, v in overrides.items() if v is not None})  # else the app's
    embedder, backend = load_embedder(args.model, args.backend)  # as crossglg-recognize loads it
    if args.no_action == "off":
        embedder.no_action = None
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "python": platform.python_version(),
        "backend": backend,
        "model": args.model or str(DEFAULT_CHECKPOINT),
        "model_hash": embedder.model_hash,
        "no_action_examples": 0 if embedder.no_action is None else len(embedder.no_action),
        "settings": settings.to_json(),
        "app_default_settings": Settings().to_json(),
        "seed": args.seed,
        "part": args.part,
        "targets": TARGETS,
        "results": {},
    }
    from crossglg.openset import CALIBRATION_FILE, load_calibration

    cal = load_calibration()  # the operating point Gallery.decide used (it can be re-calibrated)
    report["calibration"] = {
        "rule": cal.rule,
        "level": cal.level,
        "either_hand": cal.either_hand,
        "file": str(CALIBRATION_FILE),
        "sha256": _sha256(CALIBRATION_FILE),
    }
    report["either_hand"] = cal.either_hand if args.either_hand is None else args.either_hand
    setup = Setup(embedder, settings, report["either_hand"])
    started = time.perf_counter()
    draws = {}
    for seed in range(args.seed, args.seed + args.draws):
        draws[seed] = evaluate(args, setup, seed, log)
        if args.draws > 1:
            log(f"draw {seed}: mean F1 {mean_f1(draws[seed]):.3f}")
    report["results"] = draws[args.seed]
    own = {seed: own_recordings(res) for seed, res in draws.items()}  # None for open-set replays
    if args.draws > 1:
        report["draws"] = {str(seed): {n: r["total"] for n, r in res.items()} for seed, res in draws.items()}
        report["draw_recordings"] = {str(seed): counts for seed, counts in own.items()}
        report["draw_summary"] = draw_summary(draws)
    report["recording_interval_95"] = (
        recording_interval(own, None, sorted(own)) if all(v is not None for v in own.values()) else None
    )
    report["wall_s"] = time.perf_counter() - started
    report["load_average_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(table(report["results"]))
    for name, result in report["results"].items():
        caught = ", ".join(f"{c} {d}/{n}" for c, (n, d) in result["total"]["per_class"].items())
        print(f"{name}: caught per class: {caught}")
        n = result["decision_counts"]
        print(
            f"{name}: decisions inside actions: {n['event_right']} right, {n['event_wrong']} wrong, "
            f"{n['event_unknown']} unknown ({n['event_unknown_rest']} with a rest example at least as "
            "close as the best class)"
        )
        total = result["total"]
        if total["confusions"]:
            print(
                f"{name}: named instead (performed -> shown): {_most(total['confusions'])}; the performed "
                f"action's left-right twin {result['twin_confusions']} of {sum(total['confusions'].values())}"
            )
        if total["onset_labels"]:
            print(
                f"{name}: in no-action time, within 1 s before an action starts (next -> shown): "
                + _most(total["onset_labels"])
            )
        if total["rest_labels"]:
            print(f"{name}: in the rest of the no-action time (shown): {_most(total['rest_labels'])}")
        if result.get("never_enrolled"):
            ne = result["never_enrolled"]
            print(
                f"{name}: {ne['labels']} labels in {ne['seconds']:.0f} s of never-enrolled gestures: "
                f"{ne['per_minute']:.1f} / min; F1 with them counted as wrong labels {ne['open_set_f1']:.3f}"
            )
        print(f"{name}: targets {json.dumps(result['verdict'])}")
    if "draw_summary" in report:
        print(summary_table(report["draw_summary"]))
    if report["recording_interval_95"] is not None:
        low, high = report["recording_interval_95"]
        mean = np.mean([mean_f1(res) for res in draws.values()])
        print(f"mean F1 over the sets {mean:.3f}; 95 % over recordings drawn again {low:.3f} to {high:.3f}")
    status = 0
    if baseline is not None:
        try:
            pr = report["paired"] = paired(report, baseline)
        except ValueError as err:  # the replay is still written
            print(f"--baseline {args.baseline}: {err}", file=sys.stderr)
            status = 1
        else:
            diffs = ", ".join(f"{d:+.3f}" for d in pr["differences"])
            interval = pr["recording_interval_95"]
            print(
                f"against {pr['baseline']} ({pr['baseline_model_hash']}), draws {pr['seeds']}: mean F1 "
                f"difference {pr['mean_difference']:+.3f} ({diffs}); higher in {pr['higher_in']} of "
                f"{len(pr['seeds'])}"
                + (
                    ""
                    if interval is None
                    else f"; 95 % over recordings {interval[0]:+.3f} to {interval[1]:+.3f}"
                )
            )
    print(f"machine: {report['machine']}; backend {backend}; {report['wall_s']:.0f} s")
    if args.out:
        from crossglg.io import atomic_write_json

        atomic_write_json(args.out, report)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
