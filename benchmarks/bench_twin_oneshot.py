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


def score(embeddings: np.ndarray, novel, pairs: dict[str, str], draws: int) -> dict:
    """Cosine 1-NN over ``draws`` exemplar draws: per held-out sided class its top-1 and twin share (%)."""
    labels = novel.labels
    names = novel.class_names
    hits = {c: [0, 0, 0] for c in pairs}  # right, named as the twin, queries
    correct = total = 0
    for seed in range(draws):
        exemplars, queries = novel.draw_exemplars(seed)
        nearest = labels[exemplars][(embeddings[queries] @ embeddings[exemplars].T).argmax(axis=1)]
        correct += int(np.sum(nearest == labels[queries]))
        total += len(queries)
        for truth, shown in zip(labels[queries], nearest, strict=True):
            name = names[int(truth)]
            if name in pairs:
                hits[name][0] += int(shown == truth)
                hits[name][1] += int(names[int(shown)] == pairs[name])
                hits[name][2] += 1
    return {
        "classes": sorted(names.values()),
        "top1": 100.0 * correct / total,
        "held_out_sided": {
            c: {"twin": pairs[c], "top1": 100.0 * r / n, "named_as_twin": 100.0 * t / n, "queries": n}
            for c, (r, t, n) in hits.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    from crossglg.data.protocols import NovelSet, kinect_oneshot
    from crossglg.io import atomic_write_json
    from crossglg.oneshot import Embedder
    from crossglg.skeleton import make_window
    from crossglg.training.metrics import raw_window_embeddings

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
        novel = NovelSet(dataset, members, label_names)
        windows = np.stack([make_window(s, T=60) for s in members]).astype(np.float32)
        result = score(embed(windows), novel, pairs, args.draws)
        report["sets"][dataset] = result
        print(f"{dataset}: {len(result['classes'])} classes, 1-NN top-1 {result['top1']:.1f} %")
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
