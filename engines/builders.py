"""One builder over TensorRT (10.x, 11.x) and TensorRT-RTX, with a keyed on-disk engine cache.

API differences that matter here (checked against the installed bindings' docstrings):
* TensorRT 10 has `BuilderFlag.FP16`: an FP32 ONNX is built with FP16 kernels allowed.
* TensorRT 11 and TensorRT-RTX are strongly typed: precision comes from the ONNX itself, so FP16
  needs the FP16 export (`export_onnx(..., fp16=True)`).
* TensorRT-RTX builds ahead of time without a GPU (for a list of compute capabilities) and finishes
  just in time on the GPU; its timing-cache calls are no-ops, so we skip them there.
* TensorRT proper needs a GPU to build; its engine only runs on the GPU model it was built for.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from crossglg.io import atomic_write_bytes, atomic_write_json
from crossglg.skeleton.window import WINDOW_SHAPE

from .export import INPUT_NAME, onnx_metadata
from .store import GpuInfo, cache_dir, detect_gpu, file_sha256, read_json

log = logging.getLogger("engines")

FLAVOURS = ("tensorrt", "tensorrt-rtx")
_MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}
MANIFEST_VERSION = 1

# TensorRT-RTX targets consumer RTX GPUs; these are the capabilities its builder accepts by name.
RTX_CAPABILITIES = {
    (7, 5): "SM75",
    (8, 0): "SM80",
    (8, 6): "SM86",
    (8, 9): "SM89",
    (12, 0): "SM120",
    (12, 1): "SM121",
}
# Ahead-of-time targets when no GPU is present: Turing to Blackwell consumer cards. Turing (SM75) is
# left out of FP32 engines: TensorRT-RTX 1.7 refuses FP32 GEMMs (our einsums) there ("FP32 GEMM is not
# supported"), measured on this project's model.
RTX_PORTABLE_TARGETS = {
    "fp16": ((7, 5), (8, 0), (8, 6), (8, 9), (12, 0)),
    "fp32": ((8, 0), (8, 6), (8, 9), (12, 0)),
}


class EngineBuildError(RuntimeError):
    """A build that could not produce an engine; the message says which flavour, file and why."""


class FlavourUnavailable(EngineBuildError):
    """The runtime library (or the GPU it needs) is absent on this machine."""


@dataclass(frozen=True)
class Flavour:
    name: str
    module: ModuleType
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def strongly_typed(self) -> bool:
        """TensorRT 11 and every TensorRT-RTX take precision from the network, not from builder flags."""
        return self.name == "tensorrt-rtx" or self.major >= 11


def load_flavour(name: str) -> Flavour:
    if name not in _MODULES:
        raise ValueError(f"unknown engine flavour {name!r}; choose from {', '.join(FLAVOURS)}")
    try:
        module = importlib.import_module(_MODULES[name])
        version = str(module.__version__)
    except Exception as err:  # the PyPI `tensorrt` stub raises odd errors without NVIDIA's index
        hint = (
            "pip install tensorrt-rtx"
            if name == "tensorrt-rtx"
            else "full TensorRT comes from NVIDIA's index"
        )
        raise FlavourUnavailable(
            f"{name}: python module {_MODULES[name]!r} not importable ({err}); {hint}"
        ) from err
    return Flavour(name, module, version)


def flavour_status(name: str, gpu: GpuInfo | None) -> tuple[bool, str]:
    """Whether this flavour can *build* here, and why not."""
    try:
        flavour = load_flavour(name)
    except FlavourUnavailable as err:
        return False, str(err)
    if name == "tensorrt-rtx":
        if gpu is not None and gpu.compute_capability not in RTX_CAPABILITIES:
            return False, (
                f"TensorRT-RTX {flavour.version} does not target {gpu.name} ({gpu.sm}); "
                "it supports consumer RTX GPUs (compute capability 7.5 to 12.x)"
            )
        where = f"for {gpu.name}" if gpu else "ahead of time (no GPU: portable engine)"
        return True, f"TensorRT-RTX {flavour.version} builds {where}"
    if gpu is None:
        return False, f"TensorRT {flavour.version} needs a CUDA GPU to build and none is visible"
    return True, f"TensorRT {flavour.version} on {gpu.name}"


def _target(
    flavour: Flavour, gpu: GpuInfo | None, precision: str
) -> tuple[str, list[tuple[int, int]] | None]:
    """The hardware key part and, for TensorRT-RTX, the compute capabilities to compile for."""
    if flavour.name == "tensorrt-rtx":
        if gpu is None:
            caps = list(RTX_PORTABLE_TARGETS[precision])
            return "portable-" + "-".join(f"sm{a}{b}" for a, b in caps), caps
        return gpu.slug, [gpu.compute_capability]
    assert gpu is not None
    return gpu.slug, None


def engine_key(
    onnx_path: Path, flavour: Flavour, gpu: GpuInfo | None, precision: str, max_batch: int
) -> dict:
    target, _ = _target(flavour, gpu, precision)
    return {
        "manifest_version": MANIFEST_VERSION,
        "onnx_sha256": file_sha256(onnx_path),
        "flavour": flavour.name,
        "version": flavour.version,
        "target": target,
        "precision": precision,
        "max_batch": int(max_batch),
    }


def engine_path_for(key: dict, root: Path | None = None) -> Path:
    root = Path(root) if root is not None else cache_dir()
    name = (
        f"{key['onnx_sha256'][:16]}-{key['precision']}-b{key['max_batch']}-{key['version']}-{key['target']}"
        ".engine"
    )
    return root / key["flavour"] / name


def manifest_path(engine_path: Path) -> Path:
    return Path(str(engine_path) + ".json")


def engine_is_current(engine_path: Path, key: dict) -> tuple[bool, str]:
    """An engine counts only if its manifest matches the requested key and the bytes are the ones built."""
    if not engine_path.is_file():
        return False, "no engine yet"
    manifest = read_json(manifest_path(engine_path))
    if manifest is None:
        return False, "manifest missing or unreadable"
    for field, wanted in key.items():
        if manifest.get("key", {}).get(field) != wanted:
            return False, f"stale: {field} is {manifest.get('key', {}).get(field)!r}, want {wanted!r}"
    if manifest.get("engine_sha256") != file_sha256(engine_path):
        return False, "engine bytes differ from the manifest (foreign or damaged file)"
    return True, "cached"


def _precision_of(onnx_path: Path) -> str:
    meta = onnx_metadata(onnx_path)
    if "precision" in meta:
        return meta["precision"]
    import onnx

    model_proto = onnx.load(str(onnx_path), load_external_data=False)
    kinds = {init.data_type for init in model_proto.graph.initializer}
    return "fp16" if onnx.TensorProto.FLOAT16 in kinds else "fp32"


def _describe_tensor(tensor: Any) -> dict:
    return {
        "name": tensor.name,
        "shape": [int(d) for d in tensor.shape],
        "dtype": str(tensor.dtype).split(".")[-1],
    }


def build_engine(
    onnx_path: str | os.PathLike,
    *,
    flavour: str = "auto",
    fp16: bool = True,
    max_batch: int = 8,
    cache_root: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Build (or reuse) an engine for `onnx_path`; returns the `.engine` path, a manifest sits beside it.

    The cache key is ONNX sha256 + flavour + library version + GPU (name, compute capability; or the
    portable TensorRT-RTX target list) + precision + max batch. Anything that does not match, or whose
    bytes changed, is rebuilt. `flavour="auto"` tries TensorRT, then TensorRT-RTX.
    """
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {onnx_path}")
    if not 1 <= int(max_batch) <= 4096:
        raise ValueError(f"max_batch must be in 1..4096 (got {max_batch})")
    gpu = detect_gpu()
    if flavour == "auto":
        reasons = []
        for name in FLAVOURS:
            ok, why = flavour_status(name, gpu)
            if ok:
                try:
                    return build_engine(
                        onnx_path,
                        flavour=name,
                        fp16=fp16,
                        max_batch=max_batch,
                        cache_root=cache_root,
                        force=force,
                    )
                except EngineBuildError as err:
                    why = str(err)
            reasons.append(f"{name}: {why}")
            log.info("engine flavour %s skipped: %s", name, why)
        raise EngineBuildError("no engine flavour could build here:\n  " + "\n  ".join(reasons))

    ok, why = flavour_status(flavour, gpu)
    if not ok:
        raise FlavourUnavailable(why)
    chosen = load_flavour(flavour)
    try:
        onnx_precision = _precision_of(onnx_path)
    except Exception as err:  # protobuf raises DecodeError, onnx raises its own errors
        raise EngineBuildError(f"{onnx_path} is not a readable ONNX model: {err}") from err
    if chosen.strongly_typed:
        if fp16 and onnx_precision != "fp16":
            raise EngineBuildError(
                f"{chosen.name} {chosen.version} is strongly typed: FP16 comes from an FP16 ONNX, but "
                f"{onnx_path} is {onnx_precision}. Export with export_onnx(..., fp16=True) or pass "
                "fp16=False."
            )
        precision = onnx_precision
    else:
        precision = "fp16" if fp16 else onnx_precision

    key = engine_key(onnx_path, chosen, gpu, precision, max_batch)
    engine_path = engine_path_for(key, Path(cache_root) if cache_root is not None else None)
    current, why = engine_is_current(engine_path, key)
    if current and not force:
        log.info("engine cache hit: %s", engine_path)
        return engine_path
    log.info("building %s engine (%s): %s", chosen.name, "forced" if force else why, engine_path.name)
    started = time.perf_counter()
    serialized, io_info = _build_serialized(chosen, onnx_path, gpu, precision, max_batch, engine_path.parent)
    seconds = time.perf_counter() - started
    atomic_write_bytes(engine_path, serialized)
    atomic_write_json(
        manifest_path(engine_path),
        {
            "key": key,
            "engine_sha256": file_sha256(engine_path),
            "onnx_path": str(onnx_path.resolve()),
            "onnx_metadata": onnx_metadata(onnx_path),
            "gpu": None
            if gpu is None
            else {"name": gpu.name, "compute_capability": list(gpu.compute_capability)},
            "io": io_info,
            "profile": {
                "min": [1, *WINDOW_SHAPE],
                "opt": [1, *WINDOW_SHAPE],
                "max": [max_batch, *WINDOW_SHAPE],
            },
            "build_seconds": round(seconds, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    log.info("built %s in %.2f s (%d bytes)", engine_path, seconds, len(serialized))
    return engine_path


def _recording_logger(trt: ModuleType) -> Any:
    """A TensorRT logger that forwards to logging and keeps the errors, so a failed build can say why."""

    logger_base: Any = trt.ILogger  # from a module known only at run time

    class RecordingLogger(logger_base):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity <= trt.ILogger.Severity.ERROR:
                self.errors.append(msg)
                log.error("[%s] %s", trt.__name__, msg)
            elif severity <= trt.ILogger.Severity.WARNING:
                log.warning("[%s] %s", trt.__name__, msg)
            else:
                log.debug("[%s] %s", trt.__name__, msg)

    return RecordingLogger()


def _build_serialized(
    flavour: Flavour, onnx_path: Path, gpu: GpuInfo | None, precision: str, max_batch: int, folder: Path
) -> tuple[bytes, dict]:
    trt = flavour.module
    logger = _recording_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT >= 10 and RTX
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"{flavour.name} could not parse {onnx_path}: {errors or 'no detail given'}")
    io_info: dict[str, Any] = {
        "inputs": [_describe_tensor(network.get_input(i)) for i in range(network.num_inputs)],
        "outputs": [_describe_tensor(network.get_output(i)) for i in range(network.num_outputs)],
        "source": f"{flavour.name} network parsed from the ONNX before build",
    }
    input_names = [t["name"] for t in io_info["inputs"]]
    if input_names != [INPUT_NAME]:
        raise EngineBuildError(f"{onnx_path}: expected one input {INPUT_NAME!r}, found {input_names}")

    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    one = (1, *WINDOW_SHAPE)
    profile.set_shape(INPUT_NAME, one, one, (max_batch, *WINDOW_SHAPE))
    config.add_optimization_profile(profile)

    timing_cache_path = None
    if flavour.name == "tensorrt":
        if precision == "fp16" and not flavour.strongly_typed:
            config.set_flag(trt.BuilderFlag.FP16)
        timing_cache_path = folder / f"timing-{flavour.version}-{_target(flavour, gpu, precision)[0]}.cache"
        blob = timing_cache_path.read_bytes() if timing_cache_path.is_file() else b""
        timing_cache = config.create_timing_cache(blob)
        config.set_timing_cache(timing_cache, ignore_mismatch=True)
    else:
        _, caps = _target(flavour, gpu, precision)
        assert caps is not None  # TensorRT-RTX always names its compute capabilities
        config.num_compute_capabilities = len(caps)
        for index, cap in enumerate(caps):
            if not config.set_compute_capability(
                getattr(trt.ComputeCapability, RTX_CAPABILITIES[cap]), index
            ):
                raise EngineBuildError(f"TensorRT-RTX refused compute capability {cap}")

    try:
        serialized = builder.build_serialized_network(network, config)
    except Exception as err:
        raise EngineBuildError(
            f"{flavour.name} {flavour.version} failed to build {onnx_path}: {err}"
        ) from err
    if serialized is None:
        detail = "; ".join(logger.errors) or "no error was logged"
        raise EngineBuildError(f"{flavour.name} {flavour.version} could not build {onnx_path}: {detail}")
    if timing_cache_path is not None:
        atomic_write_bytes(timing_cache_path, bytes(config.get_timing_cache().serialize()))
    return bytes(serialized), io_info


def inspect_engine(engine_path: str | os.PathLike) -> dict:
    """I/O tensors of an engine. With a usable GPU the engine itself is deserialized and asked;
    without one (TensorRT cannot deserialize on CPU) the build-time record of the parsed network is
    returned, marked by `source`."""
    engine_path = Path(engine_path)
    manifest = read_json(manifest_path(engine_path))
    if manifest is None:
        raise FileNotFoundError(f"no manifest beside {engine_path}; rebuild it with build_engine")
    info = dict(manifest["io"])
    try:
        from .store import torch_cuda_ready

        ready, _ = torch_cuda_ready()
        if not ready:
            return info
        flavour = load_flavour(manifest["key"]["flavour"])
        trt = flavour.module
        runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
        engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            return info
        tensors = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            tensors.append(
                {
                    "name": name,
                    "mode": str(engine.get_tensor_mode(name)).split(".")[-1],
                    "shape": [int(d) for d in engine.get_tensor_shape(name)],
                    "dtype": str(engine.get_tensor_dtype(name)).split(".")[-1],
                }
            )
        return {
            "inputs": [t for t in tensors if t["mode"] == "INPUT"],
            "outputs": [t for t in tensors if t["mode"] == "OUTPUT"],
            "source": f"deserialized {flavour.name} engine",
        }
    except FlavourUnavailable:
        return info
