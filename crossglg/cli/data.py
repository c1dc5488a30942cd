"""``crossglg-data``: look at a skeleton file the way the library sees it.

    crossglg-data inspect PATH [--json]
    crossglg-data render PATH --out FILE.gif|png [--index K] [--fps 15]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from crossglg.data import SkeletonFormatError, read_file
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
    }


def cmd_inspect(args) -> int:
    rows = [describe(s) for s in _sequences(Path(args.path))]
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
                dots = ax.scatter(np.zeros(25), np.zeros(25), s=12, edgecolors=joint_colours,
                                  facecolors=faces, linewidths=1, zorder=3, alpha=alpha)
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

        FuncAnimation(fig, update, frames=chosen).save(tmp, writer=PillowWriter(fps=fps), dpi=80)
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
    inspect = sub.add_parser("inspect", help="layout, frames, bodies, label, synthesised joints")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
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
