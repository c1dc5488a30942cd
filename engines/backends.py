"""Runtime backends behind one call: windows (N, 3, 60, 25, 2) float32 -> embeddings (N, D) float32.

Every backend here is a crossglg.embedding.EmbeddingBackend (``dim``, ``model_hash``, callable) and
checks windows with crossglg's check_windows. Torch runs crossglg's own TorchBackend (TunedTorchBackend
only adds a private copy, a thread count and CUDA graphs); ONNX Runtime and TensorRT run exported graphs.

`auto` walks the backends from usually-fastest to always-available and takes the first that loads:
TensorRT, TensorRT-RTX, ONNX Runtime on CUDA, torch on CUDA, ONNX Runtime on CPU, torch on CPU.
ONNX Runtime beats torch eager on CPU for this GCN (no Python per layer, fused Conv+BN), see
docs/performance.md; on a GPU, torch's cuDNN path beats ONNX Runtime's CPU provider by far.
"""

from __future__ import annotations

import copy
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossglg.checkpoint import ModelSource, open_model
from crossglg.embedding import TorchBackend, check_windows
from crossglg.io import atomic_write_bytes

from .builders import (
    RTX_CAPABILITIES,
    EngineBuildError,
    FlavourUnavailable,
    build_engine,
    load_flavour,
    manifest_path,
)
from .export import INPUT_NAME, OUTPUT_NAME, export_onnx, onnx_metadata
from .store import cache_dir, detect_gpu, read_json, torch_cuda_ready

log = logging.getLogger("engines")

KINDS = ("auto", "tensorrt", "tensorrt-rtx", "onnxruntime", "torch")
AUTO_ORDER = ("tensorrt", "tensorrt-rtx", "onnxruntime-cuda", "torch-cuda", "onnxruntime-cpu", "torch-cpu")


def physical_cores() -> int:
    """Intra-op threads: one per physical core; hyper-threads only add contention for this workload."""
    try:
        import psutil

        count = psutil.cpu_count(logical=False)
        if count:
            return int(count)
    except ImportError:
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _graph_identity(metadata: dict[str, str], where: Path) -> tuple[int, str]:
    """(dim, model_hash) from an exported graph's crossglg metadata: what makes it an EmbeddingBackend."""
    try:
        return int(metadata["embedding_dim"]), metadata["model_hash"]
    except (KeyError, ValueError):
        raise ValueError(
            f"{where}: no crossglg metadata (embedding_dim, model_hash); export it with export_onnx"
        ) from None


class EngineBackend(ABC):
    """An exported graph run by an inference engine (ONNX Runtime, TensorRT); `name` is the family,
    `device` where it runs, `dim` and `model_hash` come from the graph's metadata."""

    name: str = "engine"
    device: str = "cpu"
    dim: int
    model_hash: str

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        batch = check_windows(windows)
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self._run(batch)

    @abstractmethod
    def _run(self, windows: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def describe(self) -> str: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class TunedTorchBackend(TorchBackend):
    """crossglg's TorchBackend for deployment: its own copy of the branch on `device` (two backends
    never share or move the caller's module), optionally a CPU thread count and CUDA graphs."""

    def __init__(
        self,
        model: Any,
        device: str = "cpu",
        *,
        cuda_graphs: bool = False,
        model_hash: str | None = None,
        threads: int | None = None,
    ):
        if cuda_graphs and not str(device).startswith("cuda"):
            raise ValueError("CUDA graphs need a CUDA device")
        branch = copy.deepcopy(model.skeleton_branch()).to(device).eval()
        super().__init__(branch, model_hash=model_hash, device=device)
        self.cuda_graphs = cuda_graphs
        self.threads = threads  # None: torch's process-wide setting
        self._graphs: dict[tuple[int, ...], tuple[Any, Any, Any]] = {}

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        previous = torch.get_num_threads()
        if self.threads and self.threads != previous:
            torch.set_num_threads(self.threads)
        try:
            return super().__call__(windows)
        finally:
            if self.threads and self.threads != previous:
                torch.set_num_threads(previous)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.cuda_graphs:
            return self.branch(x)
        graph, static_in, static_out = self._graph_for(tuple(x.shape))
        static_in.copy_(x, non_blocking=False)
        graph.replay()
        return static_out

    def _graph_for(self, shape: tuple[int, ...]):
        """Capture once per input shape: replay skips per-kernel launch cost, which dominates at batch 1."""
        if shape not in self._graphs:
            static_in = torch.zeros(shape, device=self.device)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.no_grad():
                for _ in range(3):
                    self.branch(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.no_grad():
                static_out = self.branch(static_in)
            self._graphs[shape] = (graph, static_in, static_out)
        return self._graphs[shape]

    def describe(self) -> str:
        count = self.threads or torch.get_num_threads()
        threads = f", {count} threads" if self.device == "cpu" else ""
        graphs = ", CUDA graphs" if self.cuda_graphs else ""
        return (
            f"torch {torch.__version__} eager on {self.device}{threads}{graphs}; model {self.model_hash[:12]}"
        )


class OnnxRuntimeBackend(EngineBackend):
    """ONNX Runtime with the settings that matter on a small CPU: full graph optimisation (Conv+BN
    folding, constant folding), one intra-op thread per physical core, sequential execution, and no
    busy-waiting between parallel regions: the live app shares the CPU with pose estimation, and on a
    busy 2-core machine spinning threads doubled the 2-thread latency (docs/performance.md)."""

    name = "onnxruntime"

    def __init__(
        self,
        onnx_path: str | os.PathLike,
        device: str = "cpu",
        *,
        threads: int | None = None,
        spin: bool = False,
    ):
        import onnxruntime as ort

        self._ort = ort
        self.onnx_path = Path(onnx_path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or physical_cores()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.spin = spin
        self.threads = options.intra_op_num_threads
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeError(
                    f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (install onnxruntime-gpu)"
                )
            index = int(device.split(":")[1]) if ":" in device else 0
            providers: list[Any] = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=providers)
        active = self.session.get_providers()[0]
        if device.startswith("cuda") and active != "CUDAExecutionProvider":
            raise RuntimeError(f"onnxruntime fell back to {active}; the CUDA provider did not load")
        self.provider = active
        self.device = device if device.startswith("cuda") else "cpu"
        self.metadata = onnx_metadata(self.onnx_path)
        self.dim, self.model_hash = _graph_identity(self.metadata, self.onnx_path)

    def _run(self, windows: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: windows})[0].astype(np.float32, copy=False)

    def describe(self) -> str:
        return (
            f"onnxruntime {self._ort.__version__} {self.provider} ({self.threads} threads, graph opt all, "
            f"sequential, spin {'on' if self.spin else 'off'}) {self.metadata.get('precision', '?')} "
            f"{self.onnx_path.name}; "
            f"model {self.model_hash[:12]}"
        )


class TensorRTBackend(EngineBackend):
    """A TensorRT or TensorRT-RTX engine; device buffers and the stream come from torch's CUDA build
    so no extra CUDA binding is needed. Batches above the profile's max are run in chunks."""

    def __init__(self, engine_path: str | os.PathLike, device: str = "cuda:0"):
        ready, why = torch_cuda_ready()
        if not ready:
            raise RuntimeError(f"TensorRT execution needs torch with CUDA: {why}")
        self.engine_path = Path(engine_path)
        manifest = read_json(manifest_path(self.engine_path))
        if manifest is None:
            raise EngineBuildError(f"no manifest beside {self.engine_path}; rebuild with build_engine")
        self.manifest = manifest
        self.dim, self.model_hash = _graph_identity(manifest.get("onnx_metadata", {}), self.engine_path)
        flavour = load_flavour(manifest["key"]["flavour"])
        self.name = flavour.name
        self.device = str(torch.device(device))
        self.max_batch = int(manifest["key"]["max_batch"])
        trt = flavour.module
        self._trt = trt
        torch.cuda.set_device(self.device)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self._logger)
        self.engine = self.runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if self.engine is None:
            raise EngineBuildError(f"{flavour.name} could not deserialize {self.engine_path} (see [TRT] log)")
        self._runtime_cache: Any | None = None  # TensorRT-RTX only: its runtime cache, once made
        self._shapes_seen: set[int] = set()
        self.runtime_cache_path = Path(str(self.engine_path) + f".{detect_gpu_slug()}.runtime-cache")
        if self.name == "tensorrt-rtx":
            self.context = self._context_with_runtime_cache()
        else:
            self.context = self.engine.create_execution_context()
        if self.context is None:
            raise EngineBuildError(
                f"{flavour.name} could not create an execution context for {self.engine_path}"
            )
        self.output_dtype = self._torch_dtype(self.engine.get_tensor_dtype(OUTPUT_NAME))
        self.input_dtype = self._torch_dtype(self.engine.get_tensor_dtype(INPUT_NAME))
        self.stream = torch.cuda.Stream(device=self.device)

    def _context_with_runtime_cache(self):
        """TensorRT-RTX compiles kernels just in time on the GPU; its runtime cache keeps them across
        runs (the blob is validated against GPU, driver and version, and rejected on mismatch)."""
        config = self.engine.create_runtime_config()
        cache = config.create_runtime_cache()
        if self.runtime_cache_path.is_file():
            if cache.deserialize(self.runtime_cache_path.read_bytes()):
                log.info("loaded TensorRT-RTX runtime cache %s", self.runtime_cache_path.name)
            else:
                log.info(
                    "TensorRT-RTX runtime cache %s does not match this GPU/driver; recompiling",
                    self.runtime_cache_path.name,
                )
        config.set_runtime_cache(cache)
        self._runtime_cache = cache
        return self.engine.create_execution_context(config)

    def _save_runtime_cache(self) -> None:
        assert self._runtime_cache is not None  # only called once the cache exists
        try:
            atomic_write_bytes(self.runtime_cache_path, bytes(self._runtime_cache.serialize()))
        except OSError as err:  # a read-only cache folder costs start-up time, not correctness
            log.warning("could not save TensorRT-RTX runtime cache %s: %s", self.runtime_cache_path, err)

    def _torch_dtype(self, trt_dtype: Any):
        trt = self._trt
        table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
        if trt_dtype not in table:
            raise EngineBuildError(f"{self.engine_path}: unsupported I/O dtype {trt_dtype}")
        return table[trt_dtype]

    def _run_chunk(self, chunk: np.ndarray) -> np.ndarray:
        with torch.cuda.stream(self.stream):
            x = torch.from_numpy(chunk).to(self.device, non_blocking=True).to(self.input_dtype)
            if not self.context.set_input_shape(INPUT_NAME, tuple(x.shape)):
                raise RuntimeError(
                    f"{self.name}: batch {len(chunk)} is outside the engine profile 1..{self.max_batch}"
                )
            out_shape = tuple(int(d) for d in self.context.get_tensor_shape(OUTPUT_NAME))
            y = torch.empty(out_shape, dtype=self.output_dtype, device=self.device)
            self.context.set_tensor_address(INPUT_NAME, x.data_ptr())
            self.context.set_tensor_address(OUTPUT_NAME, y.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError(f"{self.name}: execute_async_v3 failed for {self.engine_path}")
        self.stream.synchronize()
        if self._runtime_cache is not None and len(chunk) not in self._shapes_seen:
            self._shapes_seen.add(len(chunk))  # a new shape may have compiled new kernels
            self._save_runtime_cache()
        return y.float().cpu().numpy()

    def _run(self, windows: np.ndarray) -> np.ndarray:
        parts = [
            self._run_chunk(windows[i : i + self.max_batch]) for i in range(0, len(windows), self.max_batch)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def describe(self) -> str:
        key = self.manifest["key"]
        return (
            f"{self.name} {key['version']} engine {key['precision']} batch 1..{key['max_batch']} "
            f"on {self.device} "
            f"({self.engine_path.name})"
        )


def detect_gpu_slug() -> str:
    gpu = detect_gpu()
    return gpu.slug if gpu is not None else "nogpu"


# -- availability and choice -------------------------------------------------------------------


def available_backends() -> list[tuple[str, bool, str]]:
    """Every backend in auto order with whether it can run here and why (or why not)."""
    rows: list[tuple[str, bool, str]] = []
    cuda_ok, cuda_why = torch_cuda_ready()
    gpu = detect_gpu() if cuda_ok else None
    for name in ("tensorrt", "tensorrt-rtx"):
        try:
            flavour = load_flavour(name)
        except FlavourUnavailable as err:
            rows.append((name, False, str(err)))
            continue
        if not cuda_ok:
            rows.append((name, False, f"{name} {flavour.version} installed, but {cuda_why}"))
        elif name == "tensorrt-rtx" and gpu is not None and gpu.compute_capability not in RTX_CAPABILITIES:
            rows.append(
                (
                    name,
                    False,
                    f"TensorRT-RTX targets consumer RTX GPUs (cc 7.5-12.x), not {gpu.name} ({gpu.sm})",
                )
            )
        else:
            rows.append((name, True, f"{name} {flavour.version} on {gpu.name if gpu else 'GPU'}"))
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        if "CUDAExecutionProvider" not in providers:
            rows.append(
                (
                    "onnxruntime-cuda",
                    False,
                    f"onnxruntime {ort.__version__} has no CUDA provider ({providers})",
                )
            )
        elif not cuda_ok:
            rows.append(("onnxruntime-cuda", False, f"CUDA provider present but {cuda_why}"))
        else:
            rows.append(("onnxruntime-cuda", True, f"onnxruntime {ort.__version__} CUDAExecutionProvider"))
        ort_cpu = ("onnxruntime-cpu", True, f"onnxruntime {ort.__version__} CPUExecutionProvider")
    except ImportError as err:
        rows.append(("onnxruntime-cuda", False, f"onnxruntime not importable ({err})"))
        ort_cpu = ("onnxruntime-cpu", False, f"onnxruntime not importable ({err})")
    rows.append(("torch-cuda", cuda_ok, cuda_why))
    rows.append(ort_cpu)
    rows.append(("torch-cpu", True, "always available"))
    return rows


SHIPPED_ONNX = "skeleton_branch-{precision}.onnx"  # optional, beside a checkpoint's config.json


def cached_onnx(source: ModelSource, *, fp16: bool) -> Path:
    """The exported graph for this model: one shipped beside the checkpoint (crossglg-export
    --beside-checkpoint) if its hash matches, else the cache's, else a fresh export (seconds to a
    minute with the dynamo exporter, so it is done once per model hash and precision). Only the
    export loads the torch model."""
    precision = "fp16" if fp16 else "fp32"
    if source.path is not None:
        shipped = source.path / SHIPPED_ONNX.format(precision=precision)
        if shipped.is_file():
            try:
                meta = onnx_metadata(shipped)
            except Exception:  # damaged: fall through to the cache
                meta = {}
            if meta.get("model_hash") == source.model_hash and meta.get("precision") == precision:
                return shipped
            log.info("ignoring %s: exported from another model or precision", shipped)
    path = cache_dir() / "onnx" / f"{source.model_hash[:16]}-{precision}.onnx"
    if path.is_file():
        try:
            meta = onnx_metadata(path)
        except Exception:  # damaged file: export again
            meta = {}
        if meta.get("model_hash") == source.model_hash and meta.get("precision") == precision:
            return path
        log.info("cached ONNX %s is stale or unreadable; exporting again", path)
    return export_onnx(source, path, fp16=fp16)


def _make(entry: str, source: ModelSource, max_batch: int, device: str | None = None):
    if entry in ("tensorrt", "tensorrt-rtx"):
        onnx_path = cached_onnx(source, fp16=True)
        engine = build_engine(onnx_path, flavour=entry, fp16=True, max_batch=max_batch)
        try:
            return TensorRTBackend(engine, device if device and device.startswith("cuda") else "cuda:0")
        except EngineBuildError as err:  # e.g. built by another library build: rebuild once
            log.warning("%s; rebuilding", err)
            rebuilt = build_engine(onnx_path, flavour=entry, fp16=True, max_batch=max_batch, force=True)
            return TensorRTBackend(rebuilt, device if device and device.startswith("cuda") else "cuda:0")
    family, kind_device = entry.rsplit("-", 1)
    # Keep an explicit index ("cuda:1") when the caller gave one of the same kind.
    target = device if device and device.startswith(kind_device) else kind_device
    if family == "onnxruntime":
        return OnnxRuntimeBackend(cached_onnx(source, fp16=False), target)
    return TunedTorchBackend(source.branch, target, model_hash=source.model_hash)


def load_backend(
    checkpoint: Any = "default", kind: str = "auto", device: str | None = None, *, max_batch: int = 8
) -> EngineBackend | TunedTorchBackend:
    """A ready EmbeddingBackend for `checkpoint`: a shipped model's name ("default", "full"), a
    checkpoint folder, a Checkpoint, a CrossGLG model / SkeletonBranch or a ModelSource. A folder is
    opened once; its weights are read only if torch runs or an ONNX has to be exported.

    `kind="auto"` tries AUTO_ORDER and logs (logger "engines") the one chosen and why each other was
    skipped; a named kind fails loudly instead of silently running something else. `device` is
    "cpu" or "cuda[:i]"; None means CUDA where available.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown backend kind {kind!r}; choose from {', '.join(KINDS)}")
    source = open_model(checkpoint)
    table = {name: (ok, why) for name, ok, why in available_backends()}
    if kind != "auto":
        if kind in ("tensorrt", "tensorrt-rtx"):
            entry = kind
        else:
            cuda_ok = table["torch-cuda"][0]
            wanted = device or (
                "cuda" if cuda_ok and (kind == "torch" or table["onnxruntime-cuda"][0]) else "cpu"
            )
            entry = f"{kind}-{'cuda' if wanted.startswith('cuda') else 'cpu'}"
        ok, why = table[entry]
        if not ok:
            raise RuntimeError(f"backend {entry} is not available: {why}")
        backend = _make(entry, source, max_batch, device)
        log.info("backend %s: %s", entry, backend.describe())
        return backend

    skipped: list[str] = []
    for entry in AUTO_ORDER:
        ok, why = table[entry]
        if device is not None and not entry.endswith(
            ("cpu" if device == "cpu" else "cuda", "tensorrt", "-rtx")
        ):
            ok, why = False, f"device={device} requested"
        if device == "cpu" and entry in ("tensorrt", "tensorrt-rtx"):
            ok, why = False, "device=cpu requested"
        if not ok:
            skipped.append(f"{entry}: {why}")
            continue
        try:
            backend = _make(entry, source, max_batch, device)
        except Exception as err:  # a failed build or load falls back to the next backend
            skipped.append(f"{entry}: failed to load ({err})")
            log.warning("backend %s failed, falling back: %s", entry, err)
            continue
        log.info("auto backend: %s -- %s", entry, backend.describe())
        for line in skipped:
            log.info("  skipped %s", line)
        return backend
    raise RuntimeError("no backend could be loaded:\n  " + "\n  ".join(skipped))
