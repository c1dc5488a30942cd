"""``crossglg-data``: look at a skeleton file, or a whole data set folder, the way the library sees it.

crossglg-data inspect PATH [--json] [--dataset NAME]
crossglg-data render PATH --out FILE.gif|png [--index K] [--fps 15]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.data import DATASETS, EmptySkeletonError, SkeletonFormatError, load_dataset, read_file
from crossglg.data.datasets import dataset_folder, skip_report
from crossglg.skeleton import NTU25, normalize, select_actors, to_ntu25


def _sequences(path: Path) -> list:
    got = read_file(path)
    return got if isinstance(got, list) else [got]


def describe(seq) -> dict:
    converted = to_ntu25(seq)
    duration = None
    if seq.timestamps is not None:
        duration = float(seq.timestamps[-1] - seq.timestamps[0])
    return {
        "source": seq.source,
        "dataset": seq.dataset,
        "layout": seq.layout,
        "frames": seq.num_frames,
        "bodies": seq.num_bodies,
        "frames_with_body": [int(p.sum()) for p in converted.present],
        "label": seq.label,
        "label_name": seq.label_name,
        "subject": seq.subject,
        "duration_s": duration,
        "synthesised_joints": converted.synthesised_joints,
        "measured_joints": int(converted.measured.sum()),
        "main_actors": select_actors(converted),
        "meta": {k: v for k, v in seq.meta.items() if isinstance(v, (str, int, float, bool))},
    }


def folder_datasets(folder: Path, name: str | None = None) -> list[str]:
    """The data sets a folder holds: itself (named like one, e.g. ``nw_ucla``) or its subfolders."""
    if name:
        if name not in DATASETS:
            raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
        return [name]
    if folder.resolve().name in DATASETS:
        return [folder.resolve().name]
    found = [d for d in DATASETS if (folder / d).is_dir()]
    if not found:
        raise ValueError(
            f"{folder}: not a data set folder (named one of {', '.join(DATASETS)} or holding "
            "such folders); pass --dataset NAME"
        )
    return found


def summarise(name: str, folder: Path) -> dict:
    """Counts of one data set as ``load_dataset`` delivers it: sequences, skips by reason, classes,
    subjects, frames per sequence and the load time."""
    skipped: list = []
    start = time.perf_counter()
    samples = load_dataset(name, folder, on_missing=skipped.append)
    seconds = time.perf_counter() - start
    frames = np.array([s.num_frames for s in samples])
    per_class = Counter((s.label, s.label_name) for s in samples)
    subjects = sorted({s.subject for s in samples})
    return {
        "dataset": name,
        "folder": str(dataset_folder(folder, name)),
        "sequences": len(samples),
        "skipped": len(skipped),
        "skipped_by_reason": dict(Counter(getattr(r, "reason", "other") for r in skipped)),
        "skipped_sources": [getattr(r, "source", str(r)) for r in skipped],
        "classes": len(per_class),
        "per_class": {f"{label} {class_name}": n for (label, class_name), n in sorted(per_class.items())},
        "subjects": len([s for s in subjects if s >= 0]),
        "subject_ids": subjects,
        "frames_min_median_max": [int(frames.min()), float(np.median(frames)), int(frames.max())],
        "load_seconds": round(seconds, 2),
    }


def cmd_inspect_folder(args) -> int:
    folder = Path(args.path)
    names = folder_datasets(folder, args.dataset)
    summaries = [summarise(name, folder) for name in names]
    if args.json:
        print(json.dumps(summaries if len(summaries) > 1 else summaries[0], indent=2))
        return 0
    for summary in summaries:
        print(f"=== {summary['dataset']} ({summary['folder']})")
        print(f"{'sequences':>18}: {summary['sequences']}")
        reasons = ", ".join(f"{n} {reason}" for reason, n in summary["skipped_by_reason"].items())
        print(f"{'skipped':>18}: {summary['skipped']}" + (f" ({reasons})" if reasons else ""))
        for source in summary["skipped_sources"]:
            print(f"{'':>20}{source}")
        print(f"{'classes':>18}: {summary['classes']}")
        for key, n in summary["per_class"].items():
            print(f"{'':>20}{n:5d}  {key}")
        ids = summary["subject_ids"]
        listed = " (no subject ids)" if ids == [-1] else f" {ids}"
        print(f"{'subjects':>18}: {summary['subjects']}{listed}")
        print(
            f"{'frames':>18}: min {summary['frames_min_median_max'][0]}, median "
            f"{summary['frames_min_median_max'][1]:g}, max {summary['frames_min_median_max'][2]}"
        )
        print(f"{'load time':>18}: {summary['load_seconds']} s")
    return 0


def cmd_inspect(args) -> int:
    path = Path(args.path)
    if path.is_dir():
        return cmd_inspect_folder(args)
    try:
        sequences = _sequences(path)
    except EmptySkeletonError as err:  # well-formed, but nothing a data set would keep: say why
        report = skip_report(err)
        row: dict[str, Any] = {
            "source": str(path),
            "sequences": 0,
            "skipped": 1,
            "reason": report.reason,
            "message": str(err),
        }
        if args.json:
            print(json.dumps(row, indent=2))
        else:
            for key, value in row.items():
                print(f"{key:>18}: {value}")
        return 0
    rows = [describe(s) for s in sequences]
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
        return 0
    for k, row in enumerate(rows):
        if len(rows) > 1:
            print(f"--- window {k} of {len(rows)}")
        for key, value in row.items():
            if key == "synthesised_joints":
                value = ", ".join(value) or "none"
            print(f"{key:>18}: {value}")
    return 0


SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", "centre": "0.3"}


def _side(name: str) -> str:
    return name.split()[0] if name.split()[0] in ("left", "right") else "centre"


def canonical_frames(seq) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M, T, 25, 3) canonical joints of the main actor(s) at the source frame rate, present, measured."""
    converted = to_ntu25(seq)
    actors = select_actors(converted)
    present = converted.present[actors]
    return normalize(converted.joints[actors], present), present, converted.measured


VIEWS = (("front (x: subject's left, y: up)", 0), ("side (z: facing, y: up)", 2))


class SkeletonPlot:
    """Front and side views of NTU-25 bodies whose artists are made once and moved per frame (fast GIFs)."""

    def __init__(self, axes, num_bodies: int, measured: np.ndarray, limits):
        from matplotlib.collections import LineCollection

        colours = [SIDE_COLOURS[_side(NTU25.joints[child])] for child, _ in NTU25.bones]
        joint_colours = [SIDE_COLOURS[_side(n)] for n in NTU25.joints]
        faces = [c if measured[j] else "white" for j, c in enumerate(joint_colours)]
        self.artists = []
        for ax, (label, horizontal) in zip(axes, VIEWS, strict=True):
            ax.set_xlim(*limits[horizontal])
            ax.set_ylim(*limits[1])
            ax.set_aspect("equal")
            ax.set_title(label, fontsize=8)
            ax.tick_params(labelsize=6)
            for m in range(num_bodies):
                alpha = 1.0 if m == 0 else 0.5
                bones = ax.add_collection(LineCollection([], colors=colours, linewidths=1.5, alpha=alpha))
                dots = ax.scatter(
                    np.zeros(25),
                    np.zeros(25),
                    s=12,
                    edgecolors=joint_colours,
                    facecolors=faces,
                    linewidths=1,
                    zorder=3,
                    alpha=alpha,
                )
                self.artists.append((horizontal, m, bones, dots))

    def update(self, joints: np.ndarray, present: np.ndarray) -> None:
        """joints (M, 25, 3) of one frame; absent bodies are hidden."""
        for horizontal, m, bones, dots in self.artists:
            xy = joints[m][:, [horizontal, 1]]
            bones.set_segments([xy[[child, parent]] for child, parent in NTU25.bones])
            dots.set_offsets(xy)
            bones.set_visible(bool(present[m]))
            dots.set_visible(bool(present[m]))


def render(seq, out: Path, *, fps: float = 15.0, max_frames: int = 45, panels: int = 6) -> Path:
    """GIF: the sequence (up to ``max_frames`` evenly spaced frames); PNG: ``panels`` frames in a row,
    front view over side view. Blue = left, red = right; hollow markers are synthesised joints."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    joints, present, measured = canonical_frames(seq)
    seen = joints[present]
    lo, hi = seen.min(axis=(0, 1)) - 0.1, seen.max(axis=(0, 1)) + 0.1
    limits = list(zip(lo, hi, strict=True))
    title = f"{Path(seq.source).name}: {seq.label_name or 'unlabelled'} ({seq.layout} -> ntu25)"
    frames = np.flatnonzero(present[0])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    if out.suffix.lower() == ".png":
        chosen = frames[np.linspace(0, len(frames) - 1, panels).round().astype(int)]
        fig, grid = plt.subplots(2, panels, figsize=(2.2 * panels, 5.2), squeeze=False)
        for k, t in enumerate(chosen):
            SkeletonPlot(grid[:, k], len(joints), measured, limits).update(joints[:, t], present[:, t])
            grid[0, k].set_title(f"frame {t}", fontsize=8)
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(tmp, dpi=90)
    elif out.suffix.lower() == ".gif":
        from matplotlib.animation import FuncAnimation, PillowWriter

        count = min(max_frames, len(frames))
        chosen = frames[np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))]
        fig, axes = plt.subplots(1, 2, figsize=(6, 4.4))
        fig.subplots_adjust(top=0.82, bottom=0.06, wspace=0.3)
        plot = SkeletonPlot(axes, len(joints), measured, limits)
        caption = fig.suptitle(title, fontsize=9)

        def update(t):
            plot.update(joints[:, t], present[:, t])
            caption.set_text(f"{title}\nframe {t}")

        writer = PillowWriter(fps=fps)  # type: ignore[arg-type]  # matplotlib's stub says int; floats work
        FuncAnimation(fig, update, frames=chosen).save(tmp, writer=writer, dpi=80)
    else:
        raise ValueError(f"{out}: output must end in .gif or .png")
    plt.close(fig)
    tmp.replace(out)
    return out


def cmd_render(args) -> int:
    sequences = _sequences(Path(args.path))
    if not 0 <= args.index < len(sequences):
        raise ValueError(f"{args.path}: --index {args.index} out of range (0-{len(sequences) - 1})")
    out = render(sequences[args.index], Path(args.out), fps=args.fps)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossglg-data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser(
        "inspect",
        help="a file: layout, frames, bodies, label, synthesised joints; a data set folder: "
        "sequences, skips by reason, classes, subjects",
    )
    inspect.add_argument(
        "path",
        help="a skeleton file, a data set folder (e.g. ../shared/data/nw_ucla) or "
        "the folder holding data sets",
    )
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.add_argument("--dataset", help="the data set a folder holds, where its name does not say")
    inspect.set_defaults(run=cmd_inspect)
    draw = sub.add_parser("render", help="draw the skeleton sequence to a GIF or PNG")
    draw.add_argument("path")
    draw.add_argument("--out", required=True, help="FILE.gif (animation) or FILE.png (frame strip)")
    draw.add_argument("--index", type=int, default=0, help="which window of a multi-window file (MSRC-12)")
    draw.add_argument("--fps", type=float, default=15.0)
    draw.set_defaults(run=cmd_render)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (SkeletonFormatError, FileNotFoundError, ValueError) as err:
        print(f"crossglg-data: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
