"""Deployment of the skeleton branch: ONNX export, TensorRT / TensorRT-RTX engines, runtime backends.

Depends on `crossglg`, never the other way round (docs/architecture.md).
"""

from .backends import (
    AUTO_ORDER,
    Backend,
    OnnxRuntimeBackend,
    TensorRTBackend,
    TorchBackend,
    available_backends,
    load_backend,
)
from .builders import EngineBuildError, FlavourUnavailable, build_engine, inspect_engine
from .export import ParityReport, check_parity, export_onnx, onnx_metadata
from .store import cache_dir

__all__ = [
    "AUTO_ORDER",
    "Backend",
    "EngineBuildError",
    "FlavourUnavailable",
    "OnnxRuntimeBackend",
    "ParityReport",
    "TensorRTBackend",
    "TorchBackend",
    "available_backends",
    "build_engine",
    "cache_dir",
    "check_parity",
    "export_onnx",
    "inspect_engine",
    "load_backend",
    "onnx_metadata",
]
