"""ONNX export of the skeleton branch (the only part used at inference) and its parity check.

The text branch exists only to guide training (CrossGLG, ECCV 2024), so the exported graph maps a
batch of canonical windows straight to embeddings. The dynamo exporter is used (the default in
torch >= 2.9); it fixes the batch dimension when the example batch is 1, so we trace with batch 2.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from crossglg.checkpoint import open_model
from crossglg.embedding import TorchBackend, check_windows
from crossglg.io import atomic_write_bytes
from crossglg.skeleton import NTU25
from crossglg.skeleton.window import WINDOW_SHAPE

log = logging.getLogger("engines")

INPUT_NAME = "windows"
OUTPUT_NAME = "embedding"
DEFAULT_OPSET = 18  # the dynamo exporter's own opset; see export_onnx
MAX_EXPORT_BATCH = 4096

FP32_MAX_ABS_DIFF = 1e-4
FP16_MIN_COSINE = 0.999


@contextlib.contextmanager
def _quiet_exporter_logs():
    """The exporter logs every deduplicated initializer at INFO and warns that torchvision ops are not
    registered (we use none); keep users' logs readable. Errors still come through."""
    loggers = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class _Fp16Branch(nn.Module):
    """FP16 weights and arithmetic inside, float32 at the edges, so every backend keeps one interface."""

    def __init__(self, branch: nn.Module):
        super().__init__()
        self.branch = branch.half()

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.branch(windows.half()).float()


def export_onnx(
    checkpoint_or_model: Any,
    out_path: str | os.PathLike,
    *,
    fp16: bool = False,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export the skeleton branch: input `windows` (batch, 3, 60, 25, 2) float32 -> `embedding` (batch, D).

    Metadata props hold the model hash, layout, T, precision and the I/O names so that engines and
    backends can check they were made from the model they are asked to serve. `opset` must be >= 17;
    the default is 18 because the dynamo exporter emits 18 and its down-conversion to 17 fails on
    ReduceMean (axes moved from attribute to input in opset 18).
    """
    if opset < 17:
        raise ValueError(f"opset must be >= 17 (got {opset})")
    source = open_model(checkpoint_or_model)
    frames, layout = source.model_config.get("num_frames"), source.model_config.get("layout")
    if (frames, layout) != (WINDOW_SHAPE[1], NTU25.name):
        raise ValueError(
            f"model {source.model_hash[:12]} ({source.path or 'in memory'}) expects T={frames}, layout "
            f"{layout!r}; engines serve canonical windows {WINDOW_SHAPE} in {NTU25.name!r} "
            "(docs/architecture.md)"
        )
    out_path = Path(out_path)
    branch = copy.deepcopy(source.branch).eval()  # the caller's module keeps its device and flags
    module = _Fp16Branch(branch) if fp16 else branch
    example = torch.zeros((2, *WINDOW_SHAPE), dtype=torch.float32)
    with torch.no_grad():
        embedding_dim = int(module(example).shape[-1])
    batch = torch.export.Dim("batch", min=1, max=MAX_EXPORT_BATCH)
    with warnings.catch_warnings(), torch.no_grad(), _quiet_exporter_logs():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_shapes=({0: batch},),
            dynamo=True,
            verbose=False,
        )
    assert program is not None  # only the legacy exporter (dynamo=False) returns None
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        program.save(str(raw), external_data=False)
        model_proto = onnx.load(str(raw))
    actual_opset = next((o.version for o in model_proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if actual_opset is None or actual_opset < 17:
        raise RuntimeError(f"exporter produced opset {actual_opset} for {out_path}; need >= 17")
    metadata = {
        "crossglg.model_hash": source.model_hash,
        "crossglg.layout": NTU25.name,
        "crossglg.T": str(WINDOW_SHAPE[1]),
        "crossglg.window_shape": json.dumps(list(WINDOW_SHAPE)),
        "crossglg.precision": "fp16" if fp16 else "fp32",
        "crossglg.embedding_dim": str(embedding_dim),
        "crossglg.input": INPUT_NAME,
        "crossglg.output": OUTPUT_NAME,
        "crossglg.opset": str(actual_opset),
        "crossglg.torch": torch.__version__,
        "crossglg.encoder": str(source.model_config.get("encoder", "unknown")),
    }
    del model_proto.metadata_props[:]
    for key, value in metadata.items():
        model_proto.metadata_props.add(key=key, value=value)
    model_proto.producer_name = "crossglg-export"
    onnx.checker.check_model(model_proto)
    buffer = io.BytesIO()
    onnx.save(model_proto, buffer)
    atomic_write_bytes(out_path, buffer.getvalue())
    log.info(
        "exported %s skeleton branch (%s) to %s",
        "FP16" if fp16 else "FP32",
        source.model_hash[:12],
        out_path,
    )
    return out_path


def onnx_metadata(onnx_path: str | os.PathLike) -> dict[str, str]:
    """The `crossglg.*` metadata of an exported file (keys without the prefix); {} for foreign files."""
    model_proto = onnx.load(str(onnx_path), load_external_data=False)
    prefix = "crossglg."
    return {p.key[len(prefix) :]: p.value for p in model_proto.metadata_props if p.key.startswith(prefix)}


@dataclass
class ParityReport:
    precision: str
    batch: int
    max_abs_diff: float
    min_cosine: float
    ok: bool
    limit: str

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"parity {verdict} ({self.precision}, {self.batch} windows): max |diff| {self.max_abs_diff:.3g}, "
            f"min cosine {self.min_cosine:.6f}; limit {self.limit}"
        )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)


def check_parity(
    onnx_path: str | os.PathLike,
    checkpoint_or_model: Any,
    windows: np.ndarray,
    *,
    fp32_max_abs_diff: float = FP32_MAX_ABS_DIFF,
    fp16_min_cosine: float = FP16_MIN_COSINE,
) -> ParityReport:
    """Run the ONNX file in ONNX Runtime (CPU) and the torch skeleton branch on the same windows.

    FP32 graphs must match within `fp32_max_abs_diff`; FP16 graphs are judged by the cosine of
    each embedding to torch's, since one-shot matching compares directions (L2-normalised).
    """
    import onnxruntime as ort

    windows = check_windows(windows, "parity windows")
    source = open_model(checkpoint_or_model)
    meta = onnx_metadata(onnx_path)
    if meta.get("model_hash") and meta["model_hash"] != source.model_hash:
        raise ValueError(
            f"{onnx_path} was exported from model {meta['model_hash'][:12]}, not {source.model_hash[:12]}"
        )
    precision = meta.get("precision", "fp32")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: windows})[0]
    want = TorchBackend(source.branch, model_hash=source.model_hash)(windows)
    max_abs = float(np.abs(got - want).max())
    min_cos = float(_cosines(got, want).min())
    if precision == "fp16":
        ok, limit = min_cos >= fp16_min_cosine, f"cosine >= {fp16_min_cosine}"
    else:
        ok, limit = max_abs <= fp32_max_abs_diff, f"max |diff| <= {fp32_max_abs_diff}"
    return ParityReport(precision, len(windows), max_abs, min_cos, bool(ok), limit)
