"""Where engines and exported graphs live, how they are written, and what machine they are for.

Built artifacts are specific to one model, one runtime version and (for TensorRT) one GPU, so every
file name carries a key; a manifest beside each engine lets a later run tell a fresh engine from a
stale or foreign one without trusting the file name alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossglg.paths import CACHE_ENV, cache_root

log = logging.getLogger("engines")

_PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """The engine cache: `cache_root("engines")` when `$CROSSGLG_CACHE` is set, else `engines/cache/` in a
    writable source checkout, else the per-user cache (`~/.cache/crossglg/engines` on Linux) for installed
    copies, whose site-packages folder is usually read-only and shared."""
    if (
        not os.environ.get(CACHE_ENV)
        and (_PACKAGE_DIR.parent / "pyproject.toml").is_file()
        and os.access(_PACKAGE_DIR, os.W_OK)
    ):
        path = _PACKAGE_DIR / "cache"
    else:
        path = cache_root("engines")
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_json(path: Path) -> dict[str, Any] | None:
    """A manifest, or None when it is missing or unreadable (then the artifact is treated as stale)."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: tuple[int, int]

    @property
    def sm(self) -> str:
        return f"sm{self.compute_capability[0]}{self.compute_capability[1]}"

    @property
    def slug(self) -> str:
        safe = "".join(ch if ch.isalnum() else "_" for ch in self.name).strip("_")
        return f"{self.sm}-{safe}"


def detect_gpu() -> GpuInfo | None:
    """The first CUDA GPU as seen by torch, else by nvidia-smi; None on a CPU-only machine."""
    try:
        import torch

        if torch.cuda.is_available():
            return GpuInfo(torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
    except Exception as err:  # a broken CUDA install must not stop CPU inference
        log.debug("torch could not query CUDA: %s", err)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = (
            subprocess.run(
                [smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            .stdout.strip()
            .splitlines()
        )
        name, cap = (part.strip() for part in out[0].split(","))
        major, minor = cap.split(".")
        return GpuInfo(name, (int(major), int(minor)))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as err:
        log.debug("nvidia-smi gave no usable answer: %s", err)
        return None


def torch_cuda_ready() -> tuple[bool, str]:
    """TensorRT buffers and streams are handled through torch, so its CUDA build is needed at run time."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.backends.cuda.is_built():
        return False, f"torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU visible (torch.cuda.is_available() is False)"
    return True, f"CUDA GPU: {torch.cuda.get_device_name(0)}"
