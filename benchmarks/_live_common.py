"""Shared set-up of the live-pipeline benchmarks: the model, the gallery, the machine description."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crossglg.paths import data_root
from crossglg.training.experiment import cpu_name

REPO = Path(__file__).resolve().parents[1]
DATA = data_root()
CPU_RECIPE = REPO / "train" / "configs" / "_cpu_recipe.toml"


def checkpoint(explicit: str | None, scratch: Path) -> tuple[Path, str]:
    """The given or shipped checkpoint; else an untrained model with the CPU recipe's architecture
    (same inference cost as the trained one, which is all a throughput benchmark needs)."""
    from crossglg.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint

    if explicit:
        return Path(explicit), "given checkpoint"
    if (Path(DEFAULT_CHECKPOINT) / "config.json").is_file():
        return Path(DEFAULT_CHECKPOINT), "shipped default checkpoint"
    import torch

    from crossglg.models import build_model

    model_cfg = tomllib.loads(CPU_RECIPE.read_text())["model"]
    torch.manual_seed(0)
    model = build_model({**model_cfg, "num_classes": 12})
    path = scratch / "untrained_cpu_recipe"
    save_checkpoint(path, model, classes=[f"class {i}" for i in range(12)])
    return path, f"untrained model, architecture of {CPU_RECIPE.name} {model_cfg}"


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every live-pipeline benchmark takes: which clip, model and backend, where to write."""
    parser.add_argument("--clip", type=Path, default=DATA / "videos" / "tai_chi.mp4")
    parser.add_argument("--checkpoint")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--out", type=Path)


@contextmanager
def live_model(args: argparse.Namespace) -> Iterator[tuple]:
    """(embedder, backend name, gallery store seeded with the starter gallery, model description)."""
    import torch

    from demo.runtime import load_embedder
    from demo.store import GalleryStore

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as scratch:
        ckpt, what = checkpoint(args.checkpoint, Path(scratch))
        embedder, backend = load_embedder(ckpt, args.backend)
        yield embedder, backend, GalleryStore(embedder, Path(scratch) / "gallery"), what


def machine() -> str:
    cpu = cpu_name()
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f} at start"
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}{load}"


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; psutil elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        import psutil

        return psutil.Process().memory_info().rss / 1e6
