"""One-shot learning of a new sided action whose left-right twin is a base class.

    python benchmarks/bench_twin_oneshot.py --model RUN/checkpoint|raw [--base wide] [--draws 10] [--out J]

A user who enrols "right-handed shaking" next to a model that was trained on "left-handed shaking" needs
the embedding to keep the side. The wide Kinect one-shot base (``--base``, the model's training base)
holds some sided classes out for validation while their twins train (``mirror_labels`` pairs them by
name). Per data set that has such a class: the gallery is its validation classes plus the trained twins
of the held-out sided ones, one exemplar each drawn by the protocol's rule (one subject, ``--draws``
seeds); the queries are the other subjects' samples of those classes. Printed and recorded: per-class
top-1 of the held-out sided classes and how often each is named as its twin, and the set's top-1.
``--model raw``: cosine 1-NN on the windows' coordinates, which keep the side by construction.
Validation classes only: the novel sets and the test subjects are not touched.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _live_common import DATA, machine  # noqa: E402


def twin_sets(split) -> dict[str, tuple[list, dict[int, str], dict[str, str]]]:
    """data set -> (its samples of the gallery classes, {label: name}, {held-out class: trained twin})."""
    from crossglg.skeleton.augment import mirror_labels

    names = split.base_class_names
    held = set(split.validation_classes)
    twins = mirror_labels(names)
    held_twins = {c: int(twins[c]) for c in held if twins[c] >= 0 and twins[c] != c and twins[c] not in held}
    out = {}
    for dataset in sorted({split.base_keys[c][0] for c in held_twins}):
        classes = {c for c in held | set(held_twins.values()) if split.base_keys[c][0] == dataset}
        members = [s for s, lab in zip(split.base, split.base_labels, strict=True) if int(lab) in classes]
        label_names = {split.base_keys[c][1]: names[c] for c in classes}
        pairs = {names[c]: names[t] for c, t in held_twins.items() if split.base_keys[c][0] == dataset}
        out[dataset] = (members, label_names, pairs)
    return out


def score(embeddings: np.ndarray, novel, pairs: dict[str, str]) -> dict:
    """The project's one-shot scoring (``evaluate_embeddings``: cosine 1-NN over the set's exemplar draws)
    of ``novel`` (a window set, ``crossglg.training.data.window_set``), plus for each held-out sided class
    its top-1 and how often it was named as its twin (%), from the summed confusion matrix."""
    from crossglg.training import evaluate_embeddings

    result = evaluate_embeddings(embeddings, novel, ks=(1,))
    confusion = np.asarray(result["confusion"])
    index = {name: i for i, name in enumerate(novel.class_names)}
    held_out = {}
    for name, twin in pairs.items():
        row = confusion[index[name]]
        n = int(row.sum())
        held_out[name] = {
            "twin": twin,
            "top1": 100.0 * row[index[name]] / n,
            "named_as_twin": 100.0 * row[index[twin]] / n,
            "queries": n,
        }
    return {"classes": list(novel.class_names), "top1": result["top1_mean"], "held_out_sided": held_out}


def main(argv: list[str] | None = None) -> int:
    from crossglg.data.protocols import NovelSet, kinect_oneshot
    from crossglg.io import atomic_write_json
    from crossglg.oneshot import Embedder
    from crossglg.training import raw_window_embeddings
    from crossglg.training.data import window_set

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint folder trained on --base, or raw")
    ap.add_argument("--base", default="wide", help="the Kinect one-shot base the model was trained on")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    split = kinect_oneshot(DATA, base=args.base, on_missing=lambda m: None)
    sets = twin_sets(split)
    if not sets:
        print(f"{args.base}: no held-out sided class has a trained twin", file=sys.stderr)
        return 1
    if args.model == "raw":
        embed, model_hash = raw_window_embeddings, "raw"
    else:
        embedder = Embedder(args.model)
        embed, model_hash = embedder.embed, embedder.model_hash
    report: dict = {
        "command": " ".join(["bench_twin_oneshot.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "model_hash": model_hash,
        "base": args.base,
        "draws": args.draws,
        "sets": {},
    }
    for dataset, (members, label_names, pairs) in sets.items():
        novel = window_set(dataset, NovelSet(dataset, members, label_names), 60, list(range(args.draws)))
        result = score(embed(novel.windows), novel, pairs)
        report["sets"][dataset] = result
        print(f"{dataset}: {len(result['classes'])} classes, top-1 {result['top1']:.1f} % (mean of draws)")
        for name, r in result["held_out_sided"].items():
            print(
                f"  {name} (twin {r['twin']} trained): top-1 {r['top1']:.1f} %, named as the twin "
                f"{r['named_as_twin']:.1f} % of {r['queries']} queries"
            )
    report["wall_s"] = time.perf_counter() - started
    if args.out:
        atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
