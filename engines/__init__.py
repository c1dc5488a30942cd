"""Deployment of the skeleton branch: ONNX export, TensorRT / TensorRT-RTX engines, runtime backends.

Depends on `crossglg`, never the other way round (docs/architecture.md). Every backend here is a
`crossglg.embedding.EmbeddingBackend`.
"""

from .backends import (
    AUTO_ORDER,
    SHIPPED_ONNX,
    EngineBackend,
    OnnxRuntimeBackend,
    TensorRTBackend,
    TunedTorchBackend,
    available_backends,
    cached_onnx,
    load_backend,
)
from .builders import EngineBuildError, FlavourUnavailable, build_engine, inspect_engine, manifest_path
from .export import ParityReport, check_parity, export_onnx, onnx_metadata
from .store import cache_dir

__all__ = [
    "AUTO_ORDER",
    "SHIPPED_ONNX",
    "EngineBackend",
    "EngineBuildError",
    "FlavourUnavailable",
    "OnnxRuntimeBackend",
    "ParityReport",
    "TensorRTBackend",
    "TunedTorchBackend",
    "available_backends",
    "build_engine",
    "cache_dir",
    "cached_onnx",
    "check_parity",
    "export_onnx",
    "inspect_engine",
    "load_backend",
    "manifest_path",
    "onnx_metadata",
]
