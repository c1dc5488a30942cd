"""The starter gallery: a few everyday actions so a first run shows labels before anything is recorded.

Built from public skeleton data (UTKinect-Action3D, Xia et al. 2012; NTU RGB+D, Shahroudy et al. 2016)
converted to canonical windows by the layout layer. Every exemplar's source starts with ``starter:`` so
the app marks these classes and can remove them in one go. The embeddings stored with it come from the
model given at build time; the app re-embeds them from the stored windows whenever its model differs.

    python -m demo.starter --data ../shared/data [--checkpoint DIR] [--out resources/starter_gallery]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crossglg.paths import data_root
from demo.store import STARTER_GALLERY, STARTER_PREFIX

if TYPE_CHECKING:
    from crossglg.oneshot import Embedder

# UTKinect action -> starter class name; two performers each (subjects chosen by index, first found).
UTKINECT_CLASSES = {
    "wave hands": "wave",
    "clap hands": "clap",
    "sit down": "sit down",
    "stand up": "stand up",
    "pick up": "pick up",
}
EXAMPLES_PER_CLASS = 2


def starter_windows(data_root: Path) -> list[tuple[str, np.ndarray, str]]:
    """(class name, canonical window, source) for every starter exemplar."""
    from crossglg.data import load_dataset, read_file
    from crossglg.skeleton import make_window

    out: list[tuple[str, np.ndarray, str]] = []
    counts: dict[str, int] = {}
    for seq in load_dataset("utkinect", data_root):
        name = UTKINECT_CLASSES.get(seq.label_name)
        if name is None or counts.get(name, 0) >= EXAMPLES_PER_CLASS:
            continue
        counts[name] = counts.get(name, 0) + 1
        recording = seq.meta.get("recording", "")
        start, end = seq.meta.get("frames", (0, 0))
        out.append((name, make_window(seq), f"{STARTER_PREFIX}utkinect/{recording}/{start}-{end}"))
    drink = read_file(data_root / "ntu" / "S001C001P001R001A001.skeleton")
    out.append(("drink", make_window(drink), f"{STARTER_PREFIX}ntu/S001C001P001R001A001"))
    return out


def build_starter(data_root: Path, embedder: Embedder, out: Path = STARTER_GALLERY) -> Path:
    from crossglg.oneshot import Gallery

    gallery = Gallery(embedder.dim, embedder.model_hash)
    for name, window, source in starter_windows(data_root):
        gallery.add(name, embedder.embed(window[None]), window[None], source)
    return gallery.save(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the starter gallery from the public data sets.")
    parser.add_argument("--data", type=Path, default=data_root())
    parser.add_argument("--checkpoint", type=Path, help="model whose embeddings to store (default: shipped)")
    parser.add_argument("--out", type=Path, default=STARTER_GALLERY)
    args = parser.parse_args(argv)
    from demo.runtime import load_embedder

    embedder, _ = load_embedder(args.checkpoint, "auto")
    path = build_starter(args.data, embedder, args.out)
    from crossglg.oneshot import Gallery

    print(f"wrote {path}: {Gallery.load(path).counts()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
